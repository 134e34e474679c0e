//! mmcv's `_delete_ = true`: a table so marked replaces what was set at its path before it (by the
//! files it inherits, their `_base_` chains, or earlier `--cfg-options`) instead of merging with
//! it, so that switching `type` does not drag the old component's keys along.
use figment::value::{Dict, Value};

pub const KEY: &str = "_delete_";

/// Removes every `_delete_` key from `dict` and its sub-tables; returns the table paths where it
/// was `true`, or the path of one that is not a boolean.
pub fn take(dict: &mut Dict) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    walk(dict, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn walk(dict: &mut Dict, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) -> std::result::Result<(), String> {
    match dict.remove(KEY) {
        None | Some(Value::Bool(_, false)) => {}
        Some(Value::Bool(_, true)) => out.push(here.clone()),
        Some(_) => return Err(format!("`{KEY}` in [{}] must be true or false", here.join("."))),
    }
    for (k, v) in dict.iter_mut() {
        if let Value::Dict(_, d) = v {
            here.push(k.clone());
            walk(d, here, out)?;
            here.pop();
        }
    }
    Ok(())
}

/// Removes the value at `path` (a table path; empty: everything) from `dict`.
pub fn remove(dict: &mut Dict, path: &[String]) {
    match path {
        [] => dict.clear(),
        [last] => {
            dict.remove(last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Dict(_, d)) = dict.get_mut(first) {
                remove(d, rest);
            }
        }
    }
}
