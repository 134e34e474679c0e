//! `--cfg-options a.b.c=value`: one figment provider per item, named after the item so that an
//! error caused by an override points at it rather than at a file.
use crate::error::{Error, Result};
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

/// One parsed override.
pub struct CfgOption {
    item: String,
    data: Dict,
}

impl CfgOption {
    /// Parses `a.b.c=value`. The value is a TOML literal (`20`, `1e-3`, `true`, `"x"`, `[1, 2]`,
    /// `{k = 1}`); a bare word such as `cuda:0` is taken as a string.
    pub fn parse(item: &str) -> Result<Self> {
        let bad = |why: &str| Error::BadOverride { item: item.into(), why: why.into() };
        let (key, raw) = item.split_once('=').ok_or_else(|| bad("expected key=value"))?;
        let key = key.trim();
        if key.is_empty()
            || key.split('.').any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
        {
            return Err(bad("the key must be dotted names such as attributor.beta"));
        }
        if key.split('.').any(|p| p == "_base_") {
            return Err(bad("`_base_` is read from config files only: put it in the config"));
        }
        let value = parse_value(raw.trim()).map_err(|e| bad(&e))?;
        let mut data = Dict::new();
        let parts: Vec<&str> = key.split('.').collect();
        let mut nested = value;
        for p in parts[1..].iter().rev() {
            let mut d = Dict::new();
            d.insert((*p).to_string(), nested);
            nested = Value::from(d);
        }
        data.insert(parts[0].to_string(), nested);
        Ok(CfgOption { item: item.into(), data })
    }
}

impl CfgOption {
    /// The values, for `_delete_` handling before they are merged.
    pub(crate) fn data_mut(&mut self) -> &mut Dict {
        &mut self.data
    }
}

fn parse_value(raw: &str) -> std::result::Result<Value, String> {
    if raw.is_empty() {
        return Err("empty value".into());
    }
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(t) => {
            let v = t.get("v").cloned().ok_or("no value")?;
            Value::serialize(v).map_err(|e| e.to_string())
        }
        Err(e) => {
            let bare = raw.chars().all(|c| c.is_alphanumeric() || "_-:./".contains(c));
            // a number TOML cannot hold (e.g. beyond 64-bit integers) is not a word
            let numeric = raw.trim_start_matches(['-', '+']).chars().next().is_some_and(|c| c.is_ascii_digit())
                && raw.chars().all(|c| c.is_ascii_digit() || "+-._eE".contains(c));
            if numeric {
                Err(format!("not a number TOML can hold: {}", e.message()))
            } else if bare {
                Ok(Value::from(raw.to_string()))
            } else {
                Err(format!("not a TOML value: {}", e.message()))
            }
        }
    }
}

impl Provider for CfgOption {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("--cfg-options {}", self.item))
    }
    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}
