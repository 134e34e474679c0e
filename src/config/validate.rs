//! Range checks on parameter tables, the same code at `print_config`, `train`, `eval` and `bench`
//! time: the registry runs a component's [`crate::registry::Build::validate`] whenever it checks or
//! builds the table, and a method with nested tables (InputIBA's `feat_iba`, `gan`, `input_iba`)
//! validates each with the nested table's own checks, under its key. A failed check names the full
//! key and the file (or `--cfg-options` item) that set the value, before any work starts.
use crate::error::Error;
use figment::Figment;

/// A value out of range: the field's path inside the table (`lr`, `gan.batch_size`) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub field: String,
    pub why: String,
}

pub type Checked = std::result::Result<(), Invalid>;

impl Invalid {
    pub fn new(field: &str, why: impl Into<String>) -> Self {
        Invalid { field: field.into(), why: why.into() }
    }
    /// The same finding one table further out (`lr` → `feat_iba.lr`).
    pub fn under(self, table: &str) -> Self {
        Invalid { field: format!("{table}.{}", self.field), why: self.why }
    }
    /// The error for the table at `key` (`table`: that table, focused): the full key, the source
    /// of its value, the reason.
    pub fn at(self, table: &Figment, key: &str) -> Error {
        let full = if key.is_empty() { self.field.clone() } else { format!("{key}.{}", self.field) };
        let source = table
            .find_metadata(&self.field)
            .map(|m| m.source.as_ref().map(|s| s.to_string()).unwrap_or_else(|| m.name.to_string()));
        let from = source.map(|s| format!(" (set in {s})")).unwrap_or_else(|| " (its default)".into());
        Error::ConfigMsg(format!("config key `{full}`{from}: {}", self.why))
    }
}

/// A positive finite number (learning rates, standard deviations).
pub fn positive(field: &str, v: f64) -> Checked {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Invalid::new(field, format!("must be a positive number, got {v}")))
    }
}

/// A finite number ≥ 0 (weights of loss terms, smoothing widths).
pub fn non_negative(field: &str, v: f64) -> Checked {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Invalid::new(field, format!("must be a number ≥ 0, got {v}")))
    }
}

/// Any finite number (not NaN, not ±inf).
pub fn finite(field: &str, v: f64) -> Checked {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Invalid::new(field, format!("must be a finite number, got {v}")))
    }
}

/// A finite number in [lo, hi] (probabilities, fractions, thresholds).
pub fn within(field: &str, v: f64, lo: f64, hi: f64) -> Checked {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Invalid::new(field, format!("must lie in [{lo}, {hi}], got {v}")))
    }
}

/// A count of at least `lo` (steps, batch sizes, samples).
pub fn at_least(field: &str, v: i64, lo: i64) -> Checked {
    if v >= lo {
        Ok(())
    } else {
        Err(Invalid::new(field, format!("must be at least {lo}, got {v}")))
    }
}

/// A folder inside the work dir: relative, without `..`, not empty.
pub fn inside(field: &str, path: &str) -> Checked {
    let p = std::path::Path::new(path);
    let escapes = p.components().any(|c| !matches!(c, std::path::Component::Normal(_)));
    if path.is_empty() || escapes {
        Err(Invalid::new(field, format!("must be a folder inside the work dir (relative, no `..`), got `{path}`")))
    } else {
        Ok(())
    }
}

/// Adam's β₁, β₂ in [0, 1) and ε > 0.
pub fn adam(betas_field: &str, betas: [f64; 2], eps_field: &str, eps: f64) -> Checked {
    if !betas.iter().all(|b| b.is_finite() && (0.0..1.0).contains(b)) {
        return Err(Invalid::new(betas_field, format!("each of Adam's betas must lie in [0, 1), got {betas:?}")));
    }
    positive(eps_field, eps)
}

/// One of the named choices (a split, a mode).
pub fn one_of(field: &str, v: &str, choices: &[&str]) -> Checked {
    if choices.contains(&v) {
        Ok(())
    } else {
        Err(Invalid::new(field, format!("`{v}`: expected one of {choices:?}")))
    }
}
