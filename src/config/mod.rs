//! TOML configs merged with figment: the `_base_` chain (depth-first, tables merge, arrays replace;
//! a `_base_` inside a table merges its files at that table), then the file itself, then
//! `--cfg-options a.b.c=value` items, each value parsed as a TOML literal. A table with
//! `_delete_ = true` (mmcv's convention) replaces what came before it at its path instead of
//! merging with it.
//! Every value keeps its provenance, so an error names the file or the override that set it.
mod overrides;
pub(crate) mod replace;
pub mod validate;

pub use overrides::CfgOption;
pub use validate::{Checked, Invalid};

use crate::error::{Error, Result};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use std::path::{Path, PathBuf};

/// Loads `path` with its `_base_` chain and applies the overrides in order.
pub fn load(path: &Path, overrides: &[String]) -> Result<Figment> {
    if !path.is_file() {
        return Err(Error::file(path, "config file not found"));
    }
    let mut layers = Vec::new();
    with_bases(&mut layers, path, &[], &mut Vec::new())?;
    for item in overrides {
        let mut o = CfgOption::parse(item)?;
        let deleted = replace::take(o.data_mut()).map_err(|why| Error::BadOverride { item: item.clone(), why })?;
        let n = layers.len();
        replaced(&mut layers, &deleted, &[(0, n, Vec::new())]);
        layers.push(Layer::Option(o));
    }
    Ok(layers.into_iter().fold(Figment::new(), |fig, l| match l {
        Layer::File(f) => fig.merge(f),
        Layer::Option(o) => fig.merge(o),
    }))
}

/// One source of values, in merge order: a file (at its table path) or an override.
enum Layer {
    File(TomlAt),
    Option(CfgOption),
}

impl Layer {
    fn data_mut(&mut self) -> &mut Dict {
        match self {
            Layer::File(f) => &mut f.data,
            Layer::Option(o) => o.data_mut(),
        }
    }
}

/// Removes each of the `deleted` table paths from the layers in `ranges` ((from, to, the table
/// path a range of bases was declared at)), except from bases declared inside that table.
fn replaced(layers: &mut [Layer], deleted: &[Vec<String>], ranges: &[(usize, usize, Vec<String>)]) {
    for d in deleted {
        for (from, to, inner) in ranges {
            if inner.len() > d.len() && inner.starts_with(d) || inner == d && !inner.is_empty() {
                continue; // the table's own `_base_` files are what it is made of
            }
            for l in &mut layers[*from..*to] {
                replace::remove(l.data_mut(), d);
            }
        }
    }
}

/// Merges `path` into `fig` at the table path `at` (empty: the root). A `_base_` list in any table
/// of the file, the top level or a nested one, merges those files at that table first (in order:
/// the top level's, then the nested tables' in document order), then the file itself, whose own
/// values win. So one `_base_/feature_iba.toml` can serve `[attributor]` in one config and
/// `[attributor.feat_iba]` in another.
fn with_bases(layers: &mut Vec<Layer>, path: &Path, at: &[String], stack: &mut Vec<PathBuf>) -> Result<()> {
    let canon = path.canonicalize().map_err(|e| Error::io(path, e))?;
    if stack.contains(&canon) {
        let chain: Vec<String> = stack.iter().chain([&canon]).map(|p| p.display().to_string()).collect();
        return Err(Error::BaseCycle(chain.join(" -> ")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| Error::file(path, format!("invalid TOML: {e}")))?;
    let mut bases = Vec::new();
    take_bases(&mut table, &mut Vec::new(), path, &mut bases)?;
    stack.push(canon);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut ranges = vec![(0, layers.len(), Vec::new())];
    for (inner, b) in bases {
        let bp = dir.join(&b);
        if !bp.is_file() {
            return Err(Error::file(path, format!("`_base_` entry `{b}` not found (looked for {})", bp.display())));
        }
        let there: Vec<String> = at.iter().chain(&inner).cloned().collect();
        let from = layers.len();
        with_bases(layers, &bp, &there, stack)?;
        ranges.push((from, layers.len(), there));
    }
    stack.pop();
    let mut file = TomlAt::new(path, at, table)?;
    let deleted = replace::take(&mut file.data).map_err(|why| Error::file(path, why))?;
    replaced(layers, &deleted, &ranges);
    layers.push(Layer::File(file));
    Ok(())
}

/// Removes every `_base_` key from `table` and its sub-tables, collecting (table path, file) in
/// merge order: this table's bases first, then its sub-tables' in document order.
fn take_bases(
    table: &mut toml::Table,
    here: &mut Vec<String>,
    path: &Path,
    out: &mut Vec<(Vec<String>, String)>,
) -> Result<()> {
    let bad = || {
        let at = if here.is_empty() { String::new() } else { format!(" (in [{}])", here.join(".")) };
        Error::file(path, format!("`_base_`{at} must be an array of file paths (strings)"))
    };
    match table.remove("_base_") {
        None => {}
        Some(toml::Value::Array(a)) => {
            for v in a {
                out.push((here.clone(), v.as_str().ok_or_else(bad)?.to_owned()));
            }
        }
        Some(_) => return Err(bad()),
    }
    for (k, v) in table.iter_mut() {
        if let toml::Value::Table(t) = v {
            here.push(k.clone());
            take_bases(t, here, path, out)?;
            here.pop();
        }
    }
    Ok(())
}

/// One file's values (its `_base_` keys removed) placed at a table path, with the file as their
/// source, so that errors name it as they name a plain TOML file.
struct TomlAt {
    path: PathBuf,
    data: Dict,
}

impl TomlAt {
    fn new(path: &Path, at: &[String], table: toml::Table) -> Result<Self> {
        let value = Value::serialize(table).map_err(|e| Error::file(path, format!("invalid TOML: {e}")))?;
        let nested = at.iter().rev().fold(value, |v, k| Value::from(Dict::from([(k.clone(), v)])));
        let data = nested.into_dict().ok_or_else(|| Error::file(path, "a config file must hold a table"))?;
        Ok(TomlAt { path: path.to_path_buf(), data })
    }
}

impl Provider for TomlAt {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", self.path.as_path())
    }
    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

/// The fully resolved config as TOML (without `_base_`), so that it re-runs as is.
pub fn resolved_toml(fig: &Figment) -> Result<String> {
    let mut v: toml::Table = fig.extract().map_err(|e| Error::config("<root>", e))?;
    v.remove("_base_");
    toml::to_string_pretty(&v).map_err(|e| Error::ConfigMsg(format!("cannot write resolved config: {e}")))
}

/// A resolved config (as JSON values) written as TOML; absent optional values are left out.
pub fn values_toml(v: &serde_json::Value) -> Result<String> {
    fn strip(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                m.iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k.clone(), strip(x))).collect()
            }
            serde_json::Value::Array(a) => a.iter().map(strip).collect(),
            other => other.clone(),
        }
    }
    let t = toml::Value::try_from(strip(v)).map_err(|e| Error::ConfigMsg(format!("cannot write the config: {e}")))?;
    toml::to_string_pretty(&t).map_err(|e| Error::ConfigMsg(format!("cannot write the config: {e}")))
}

/// Extracts a typed section; a missing section yields its defaults.
pub fn section<T: serde::de::DeserializeOwned + Default>(fig: &Figment, key: &str) -> Result<T> {
    if fig.find_value(key).is_err() {
        return Ok(T::default());
    }
    fig.extract_inner(key).map_err(|e| Error::config(key, e))
}
