//! Loading named weights (`.safetensors`, or tch's `.ot`) into a VarStore with errors that name the
//! tensor: a file converted from the wrong architecture must fail loudly, not half-load.
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{nn::VarStore, Tensor};

/// Keys that PyTorch state dicts carry but that hold no learned value for inference.
const IGNORED_SUFFIXES: &[&str] = &["num_batches_tracked"];

/// Copies every tensor of `path` into the variable of the same name; every variable must be present
/// with the same shape, and the file may hold no other tensors.
pub fn load(vs: &mut VarStore, path: &Path) -> Result<()> {
    let err = |why: String| Error::Weights { path: path.into(), why };
    if !path.is_file() {
        return Err(err("file not found".into()));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let named = match ext {
        "safetensors" => Tensor::read_safetensors(path),
        "ot" => Tensor::load_multi(path),
        _ => return Err(err(format!("unknown weight format `.{ext}` (expected .safetensors or .ot)"))),
    }
    .map_err(|e| err(format!("cannot read: {e}")))?;
    let mut file: HashMap<String, Tensor> =
        named.into_iter().filter(|(k, _)| !IGNORED_SUFFIXES.iter().any(|s| k.ends_with(s))).collect();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let missing: Vec<&str> = vars.iter().filter(|(k, _)| !file.contains_key(k)).map(|(k, _)| k.as_str()).collect();
    if !missing.is_empty() {
        return Err(err(format!("missing tensors {missing:?} (the file has {:?})", sorted_keys(&file))));
    }
    let wrong: Vec<String> = vars
        .iter()
        .filter(|(k, v)| file[k].size() != v.size())
        .map(|(k, v)| format!("`{k}` has shape {:?}, the model expects {:?}", file[k].size(), v.size()))
        .collect();
    if !wrong.is_empty() {
        return Err(err(format!("shape mismatch: {}", wrong.join("; "))));
    }
    tch::no_grad(|| {
        for (name, mut var) in vars {
            let src = file.remove(&name).expect("checked above");
            var.copy_(&src.to_kind(var.kind()).to_device(var.device()));
        }
    });
    if !file.is_empty() {
        return Err(err(format!("unexpected tensors {:?}: the file is for another architecture", sorted_keys(&file))));
    }
    Ok(())
}

fn sorted_keys(m: &HashMap<String, Tensor>) -> Vec<&str> {
    let mut k: Vec<&str> = m.keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

/// What `weights = "random"` says: random initial weights, on purpose (benchmarks, sanity checks).
pub const RANDOM: &str = "random";

/// The weights file a model built now loads: empty for random weights (while training from
/// scratch, or `weights = "random"`). An empty name is refused, since silently random weights
/// would explain a network that was never trained; so is a file that is not there (`hint` says
/// where to get one).
pub fn to_load(weights: &str, load: bool, hint: &str) -> Result<String> {
    if !load || weights == RANDOM {
        return Ok(String::new());
    }
    if weights.is_empty() {
        return Err(Error::Weights {
            path: PathBuf::new(),
            why: format!("model.weights is empty: name the weights file ({hint}), or write weights = \"random\" for random weights"),
        });
    }
    if !std::path::Path::new(weights).is_file() {
        return Err(Error::Weights { path: weights.into(), why: format!("file not found. {hint}") });
    }
    Ok(weights.to_string())
}
