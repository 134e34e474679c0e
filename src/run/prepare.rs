//! The config's preparation steps: data it generates and a classifier it trains when they are not
//! there yet. Several processes (shards) may start at once: one makes the data and weights, the
//! others wait for its lock and then find them there.
use super::Run;
use crate::data::synthetic;
use crate::error::{Error, Result};
use crate::io::lock::FileLock;
use crate::registry::{self, ModelKind};

impl Run {
    /// Generates the synthetic data and trains the classifier where the config asks for it and
    /// they do not exist yet.
    pub fn prepare(&self) -> Result<()> {
        // several processes (shards) may start at once: one makes the data and weights, the
        // others wait for it and then find them there. What is there already is not locked, so
        // data and weights may sit in read-only folders.
        if let Some(s) = self.cfg.synthetic.as_ref().filter(|s| !synthetic::is_current(s)) {
            let _lock = FileLock::acquire(&s.root.with_extension("lock"))?;
            if synthetic::ensure(s)? {
                log::info!("generated the synthetic dataset in {}", s.root.display());
            }
        }
        if let Some(d) = self.cfg.digits.as_ref().filter(|d| !crate::data::digits::is_current(d)) {
            let _lock = FileLock::acquire(&d.root.with_extension("lock"))?;
            if crate::data::digits::ensure(d)? {
                log::info!("generated the digits in {}", d.root.display());
            }
        }
        if let Some(c) = self.cfg.compas.as_ref().filter(|c| !crate::data::compas_gen::is_current(c)) {
            let _lock = FileLock::acquire(&c.path.with_extension("lock"))?;
            if crate::data::compas_gen::ensure(c)? {
                log::info!("generated a COMPAS file with a planted rule in {}", c.path.display());
            }
        }
        if let Some(r) = self.cfg.reviews.as_ref().filter(|r| !crate::text::reviews::is_current(r)) {
            let _lock = FileLock::acquire(&r.root.with_extension("lock"))?;
            if crate::text::reviews::ensure(r)? {
                log::info!("generated the review corpus in {}", r.root.display());
            }
        }
        let missing = self.weights_path().filter(|w| !w.is_file());
        if let (Some(t), Some(w)) = (&self.cfg.train_text_classifier, &missing) {
            let _lock = FileLock::acquire(&w.with_extension("lock"))?;
            crate::text::prepare::ensure(&self.fig, t, self.cfg.seed, self.device)?;
        }
        if let (Some(_), Some(w)) = (&self.cfg.train_senn, &missing) {
            let _lock = FileLock::acquire(&w.with_extension("lock"))?;
            if !w.is_file() {
                log::warn!(
                    "model.weights = {}: no such file, so the SENN is trained and saved there ([train_senn]); \
                     if you meant an existing file, stop and correct the path",
                    w.display()
                );
                self.train_senn()?;
            }
        }
        if let (Some(_), Some(w)) = (&self.cfg.train_classifier, &missing) {
            let _lock = FileLock::acquire(&w.with_extension("lock"))?;
            if !w.is_file() {
                log::warn!(
                    "model.weights = {}: no such file, so a new classifier is trained and saved there \
                     ([train_classifier]); if you meant an existing file, stop and correct the path",
                    w.display()
                );
                self.train_classifier()?;
            }
        }
        Ok(())
    }

    /// Trains `[model]` from scratch on `data.train`, reports `data.test` accuracy, saves `model.weights`.
    pub fn train_classifier(&self) -> Result<f64> {
        let tc = self
            .cfg
            .train_classifier
            .as_ref()
            .ok_or_else(|| Error::ConfigMsg("no [train_classifier] table in the config".into()))?;
        let out = self.weights_path().ok_or_else(|| {
            Error::ConfigMsg("`model.weights` must name the file to save the trained weights to".into())
        })?;
        tch::manual_seed(self.cfg.seed as i64); // the initial weights too
        let mut model = registry::build::<ModelKind>(&self.fig, "model", &self.ctx(false))?;
        let (train, test) = (self.dataset("train")?, self.dataset("test")?);
        let acc =
            crate::training::train(model.as_mut(), train.as_ref(), test.as_ref(), tc, self.cfg.seed, self.device)?;
        let last = acc.last().copied().unwrap_or(0.0);
        crate::training::save_weights(model.as_mut(), &out)?;
        let report = serde_json::json!({ "test_accuracy": last, "accuracy_per_epoch": acc, "train_classifier": tc, "seed": self.cfg.seed });
        let side = out.with_extension("json");
        crate::io::atomic::write(&side, serde_json::to_string_pretty(&report).expect("json").as_bytes())?;
        log::info!("saved {} (test accuracy {:.3}; report {})", out.display(), last, side.display());
        Ok(last)
    }
}
