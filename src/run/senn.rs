//! `[train_senn]`: a SENN `[model]` trained on `data.train` (the best epoch on `data.validation`),
//! scored on `data.test`, saved to `model.weights` with a report beside it; checkpoints in
//! `<weights>.checkpoints/`, so a killed training resumes.
use super::Run;
use crate::error::{Error, Result};
use crate::fitting::{Batch, Rows};
use crate::models::senn::{Senn, SennParams};
use crate::models::Classifier;

impl Run {
    /// Trains the config's SENN; returns its test accuracy.
    pub fn train_senn(&self) -> Result<f64> {
        let tc = self
            .cfg
            .train_senn
            .as_ref()
            .ok_or_else(|| Error::ConfigMsg("no [train_senn] table in the config".into()))?;
        let out = self.weights_path().ok_or_else(|| {
            Error::ConfigMsg("`model.weights` must name the file to save the trained weights to".into())
        })?;
        let p: SennParams = self.fig.extract_inner("model").map_err(|e| Error::ConfigMsg(format!("model: {e}")))?;
        if p.type_ != "Senn" {
            return Err(Error::ConfigMsg(format!("[train_senn] trains a SENN; model.type is {}", p.type_)));
        }
        tch::manual_seed(tc.manual_seed as i64); // the initial weights
        let mut net = Senn::new(&SennParams { weights: String::new(), ..p.clone() }, self.device)?;
        let (train, test) = (self.dataset("train")?, self.dataset("test")?);
        let validation = self.cfg.data.validation.as_ref().map(|_| self.dataset("validation")).transpose()?;
        let key = self.senn_key(&p, train.as_ref())?;
        let dir = out.with_extension("checkpoints");
        let run = crate::training::senn::Run {
            cfg: tc,
            key: key.clone(),
            dir: Some(dir.clone()),
            device: self.device,
            scalars: Some(std::sync::Arc::new(std::sync::Mutex::new(crate::output::LazyEventWriter::new(
                &dir.join("events"),
            )))),
        };
        let valid_acc = run.train(&net, train.as_ref(), validation.as_deref())?;
        let acc = accuracy(&net, test.as_ref(), tc.batch_size, self.device)?;
        crate::training::save_weights(&mut net, &out)?;
        let report = serde_json::json!({
            "test_accuracy": acc,
            "validation_accuracy_of_the_epochs_trained_now": valid_acc,
            "train_senn": tc,
            "key": trained_key(&key, tc),
        });
        let side = out.with_extension("json");
        crate::io::atomic::write(&side, serde_json::to_string_pretty(&report).expect("json").as_bytes())?;
        log::info!("saved {} (test accuracy {acc:.4}; report {})", out.display(), side.display());
        Ok(acc)
    }

    /// What the weights depend on besides `[train_senn]`: the model's table, the train split's
    /// table, its size and its samples' names.
    fn senn_key(&self, p: &SennParams, train: &dyn crate::data::Dataset) -> Result<String> {
        let model_table = serde_json::to_string(&SennParams { weights: String::new(), ..p.clone() }).expect("json");
        let table = crate::registry::resolve::<crate::registry::DatasetKind>(&self.fig, "data.train")?;
        let names: Vec<String> = (0..train.len()).map(|i| train.name(i)).collect();
        Ok(format!(
            "{model_table}|{}|{}|{}",
            crate::io::digest::text(&table.to_string()),
            train.len(),
            crate::io::digest::text(&names.join("/"))
        ))
    }

    /// Whether `model.weights` holds weights trained under this config (its report's key); the
    /// report's test accuracy is not reused, as `data.test` is not in that key.
    pub fn senn_trained(&self) -> Result<bool> {
        let (Some(tc), Some(out)) = (self.cfg.train_senn.as_ref(), self.weights_path()) else {
            return Ok(false);
        };
        let side = out.with_extension("json");
        if !out.is_file() || !side.is_file() {
            return Ok(false);
        }
        let p: SennParams = self.fig.extract_inner("model").map_err(|e| Error::ConfigMsg(format!("model: {e}")))?;
        let key = trained_key(&self.senn_key(&p, self.dataset("train")?.as_ref())?, tc);
        let bytes = std::fs::read(&side).map_err(|e| Error::io(&side, e))?;
        let report: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::file(&side, format!("not a SENN report: {e}")))?;
        Ok(report["key"].as_str() == Some(key.as_str()))
    }
}

/// The digest of everything trained weights depend on: `key` and the settings but the log's.
fn trained_key(key: &str, tc: &crate::training::senn::TrainSennConfig) -> String {
    let settings = crate::training::senn::TrainSennConfig { print_freq: 0, ..tc.clone() };
    crate::io::digest::text(&format!("{key}|{}", serde_json::to_string(&settings).expect("json")))
}

/// Top-1 accuracy on `data` in eval mode, in batches.
pub(super) fn accuracy(
    net: &dyn Classifier,
    data: &dyn crate::data::Dataset,
    batch: usize,
    device: tch::Device,
) -> Result<f64> {
    let mut right = 0i64;
    let all = Rows::all(data);
    for at in all.batches(batch) {
        let b = Batch::load(&all, &at, device)?;
        let pred = tch::no_grad(|| net.forward(&b.x)).argmax(-1, false);
        right += pred.eq_tensor(&b.y).sum(tch::Kind::Int64).int64_value(&[]);
    }
    Ok(right as f64 / data.len().max(1) as f64)
}
