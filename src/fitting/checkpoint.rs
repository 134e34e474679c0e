//! A trained explainer's checkpoint: one `.safetensors` file holding the parameters
//! (`param/<name>`), the optimiser's state (`adam/…`), what else the explainer needs to attribute
//! (`extra/…`, e.g. the estimators' statistics, so that a checkpoint alone explains), and where
//! training stood (`meta/epoch`, `meta/step`, `meta/best`, and `meta/key`: a digest of everything
//! the weights depend on, so a checkpoint is never resumed under other settings). Written
//! atomically; `epoch_NNNN.safetensors` per epoch and `best.safetensors`.
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// The best checkpoint's file name.
pub const BEST: &str = "best.safetensors";

/// Where training stood at the end of an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Epochs finished.
    pub epoch: usize,
    /// Optimiser steps taken.
    pub step: i64,
    /// The lowest epoch figure so far (validation loss, or training loss without validation).
    pub best: f64,
}

/// The file of epoch `epoch` (1-based) in `dir`.
pub fn epoch_file(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("epoch_{epoch:04}.safetensors"))
}

/// Writes `tensors` (already named `param/…`, `adam/…`, `extra/…`) with the progress and the key.
pub fn save(path: &Path, key: &str, at: Progress, tensors: &[(String, Tensor)]) -> Result<()> {
    let meta = [
        ("meta/epoch".to_string(), Tensor::from_slice(&[at.epoch as i64])),
        ("meta/step".to_string(), Tensor::from_slice(&[at.step])),
        ("meta/best".to_string(), Tensor::from_slice(&[at.best])),
        ("meta/key".to_string(), Tensor::from_slice(key.as_bytes())),
    ];
    let cpu: Vec<(String, Tensor)> =
        tensors.iter().map(|(n, t)| (n.clone(), t.detach().to_device(tch::Device::Cpu).contiguous())).collect();
    let all: Vec<(&str, &Tensor)> = meta.iter().chain(&cpu).map(|(n, t)| (n.as_str(), t)).collect();
    crate::io::atomic::with_temp(path, |tmp| {
        Tensor::write_safetensors(&all, tmp).map_err(|e| Error::file(path, crate::error::libtorch_message(&e)))
    })
}

/// A checkpoint read back.
pub struct Loaded {
    pub path: PathBuf,
    pub key: String,
    pub at: Progress,
    tensors: Vec<(String, Tensor)>,
}

impl Loaded {
    pub fn read(path: &Path, device: tch::Device) -> Result<Self> {
        let tensors = Tensor::read_safetensors(path)
            .map_err(|e| Error::file(path, format!("not a checkpoint: {}", crate::error::libtorch_message(&e))))?;
        let mut c = Loaded {
            path: path.to_path_buf(),
            key: String::new(),
            at: Progress { epoch: 0, step: 0, best: f64::INFINITY },
            tensors: tensors.into_iter().map(|(n, t)| (n, t.to_device(device))).collect(),
        };
        let key = c.get("meta/key")?;
        c.key = String::from_utf8(Vec::<u8>::try_from(&key.to_kind(tch::Kind::Uint8)).unwrap_or_default())
            .map_err(|_| Error::file(path, "meta/key is not text"))?;
        c.at = Progress {
            epoch: c.get("meta/epoch")?.int64_value(&[0]) as usize,
            step: c.get("meta/step")?.int64_value(&[0]),
            best: c.get("meta/best")?.double_value(&[0]),
        };
        Ok(c)
    }

    /// The tensor `name`, or an error naming it and the file.
    pub fn get(&self, name: &str) -> Result<Tensor> {
        self.tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.shallow_clone())
            .ok_or_else(|| Error::file(&self.path, format!("no tensor `{name}` (a checkpoint of another explainer?)")))
    }

    /// Names starting with `prefix`, prefix removed.
    pub fn names(&self, prefix: &str) -> Vec<String> {
        self.tensors.iter().filter_map(|(n, _)| n.strip_prefix(prefix).map(str::to_string)).collect()
    }

    /// Refuses a checkpoint trained under other settings than `key` says.
    pub fn check_key(&self, key: &str) -> Result<()> {
        if self.key == key {
            return Ok(());
        }
        Err(Error::file(
            &self.path,
            "this checkpoint was trained with another model, data or settings than the config asks for; \
             use a new --work-dir, or pass --overwrite-config to start over (the old outputs move to superseded/)",
        ))
    }
}

/// The newest `epoch_NNNN.safetensors` in `dir`.
pub fn latest(dir: &Path) -> Option<PathBuf> {
    epochs(dir).into_iter().max_by_key(|(e, _)| *e).map(|(_, p)| p)
}

/// Removes all but the newest `keep` epoch checkpoints (`best` stays).
pub fn prune(dir: &Path, keep: usize) {
    let mut all = epochs(dir);
    all.sort_by_key(|(e, _)| std::cmp::Reverse(*e));
    for (_, p) in all.into_iter().skip(keep.max(1)) {
        if let Err(e) = std::fs::remove_file(&p) {
            log::warn!("cannot remove old checkpoint {}: {e}", p.display());
        }
    }
}

fn epochs(dir: &Path) -> Vec<(usize, PathBuf)> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let n = name.strip_prefix("epoch_")?.strip_suffix(".safetensors")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect()
}
