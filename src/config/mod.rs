//! TOML configs merged with figment: the `_base_` chain (depth-first, tables merge, arrays replace),
//! then the file itself, then `--cfg-options a.b.c=value` items, each value parsed as a TOML literal.
//! Every value keeps its provenance, so an error names the file or the override that set it.
mod overrides;
mod root;

pub use overrides::CfgOption;
pub use root::{DataConfig, OutputConfig, RunConfig};

use crate::error::{Error, Result};
use figment::providers::{Format, Toml};
use figment::Figment;
use std::path::{Path, PathBuf};

/// Loads `path` with its `_base_` chain and applies the overrides in order.
pub fn load(path: &Path, overrides: &[String]) -> Result<Figment> {
    if !path.is_file() {
        return Err(Error::file(path, "config file not found"));
    }
    let mut fig = with_bases(Figment::new(), path, &mut Vec::new())?;
    for item in overrides {
        fig = fig.merge(CfgOption::parse(item)?);
    }
    Ok(fig)
}

fn with_bases(fig: Figment, path: &Path, stack: &mut Vec<PathBuf>) -> Result<Figment> {
    let canon = path.canonicalize().map_err(|e| Error::io(path, e))?;
    if stack.contains(&canon) {
        let chain: Vec<String> = stack.iter().chain([&canon]).map(|p| p.display().to_string()).collect();
        return Err(Error::BaseCycle(chain.join(" -> ")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| Error::file(path, format!("invalid TOML: {e}")))?;
    let bases = match table.get("_base_") {
        None => Vec::new(),
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::file(path, "`_base_` must be an array of file paths (strings)"))?,
        Some(_) => return Err(Error::file(path, "`_base_` must be an array of file paths (strings)")),
    };
    stack.push(canon);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut fig = fig;
    for b in bases {
        let bp = dir.join(&b);
        if !bp.is_file() {
            return Err(Error::file(path, format!("`_base_` entry `{b}` not found (looked for {})", bp.display())));
        }
        fig = with_bases(fig, &bp, stack)?;
    }
    stack.pop();
    Ok(fig.merge(Toml::file_exact(path)))
}

/// The fully resolved config as TOML (without `_base_`), so that it re-runs as is.
pub fn resolved_toml(fig: &Figment) -> Result<String> {
    let mut v: toml::Table = fig.extract().map_err(|e| Error::config("<root>", e))?;
    v.remove("_base_");
    toml::to_string_pretty(&v).map_err(|e| Error::ConfigMsg(format!("cannot write resolved config: {e}")))
}

/// Extracts a typed section; a missing section yields its defaults.
pub fn section<T: serde::de::DeserializeOwned + Default>(fig: &Figment, key: &str) -> Result<T> {
    if fig.find_value(key).is_err() {
        return Ok(T::default());
    }
    fig.extract_inner(key).map_err(|e| Error::config(key, e))
}
