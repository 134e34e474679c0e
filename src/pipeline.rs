//! What `tools/train` does: prepare (generate the synthetic data, train the classifier, when the
//! config asks for them and they are missing), build the components from the config, fit the
//! attributor on the estimation split, then attribute every sample of the attribution split,
//! skipping samples whose outputs exist, and write maps, TensorBoard events and a summary.
use crate::attributors::RunCtx;
use crate::config::{self, RunConfig};
use crate::data::{synthetic, Dataset};
use crate::error::{Error, Result};
use crate::models::Classifier;
use crate::output::lock::FileLock;
use crate::output::{MapSink, WorkDir};
use crate::registry::{self, AttributorKind, BuildCtx, DatasetKind, ModelKind};
use figment::Figment;
use std::path::{Path, PathBuf};

/// A loaded, validated config and the device it runs on.
pub struct Run {
    pub fig: Figment,
    pub cfg: RunConfig,
    pub device: tch::Device,
}

/// One of `count` disjoint parts of the attribution split (`tools/train --shard index/count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// `i/n` with 0 ≤ i < n (Slurm's `$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or("expected i/n, e.g. 0/4")?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|e| e.to_string())?,
            n.trim().parse::<usize>().map_err(|e| e.to_string())?,
        );
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 ≤ i < n"));
        }
        Ok(Shard { index, count })
    }
}

/// What an attribution run did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub attributed: usize,
    pub skipped: usize,
    /// (sample, error) of samples that failed; the run went on without them.
    pub failed: Vec<(String, String)>,
}

impl Run {
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let fig = config::load(path, overrides)?;
        let cfg: RunConfig = fig.extract().map_err(|e| Error::config("<root>", e))?;
        let device = crate::runtime::parse_device(&cfg.device)?;
        cfg.precision.check(device)?;
        let run = Run { fig, cfg, device };
        run.validate()?;
        Ok(run)
    }

    /// Checks every component table of the config (types registered, parameters parse) without
    /// touching data or weights, so a typo fails before any work starts.
    pub fn validate(&self) -> Result<()> {
        registry::check::<ModelKind>(&self.fig, "model")?;
        let d = &self.cfg.data;
        for (role, table) in
            [("estimation", &d.estimation), ("attribution", &d.attribution), ("train", &d.train), ("test", &d.test)]
        {
            if table.is_some() {
                registry::check::<DatasetKind>(&self.fig, &format!("data.{role}"))?;
            }
        }
        if self.cfg.attributor.is_some() {
            registry::check::<AttributorKind>(&self.fig, "attributor")?;
        }
        for label in self.cfg.eval.iter().flat_map(|e| e.metrics.keys()) {
            registry::check::<crate::registry::MetricKind>(&self.fig, &format!("eval.metrics.{label}"))?;
        }
        Ok(())
    }

    fn ctx(&self, load_weights: bool) -> BuildCtx {
        BuildCtx { device: self.device, load_weights }
    }

    pub fn model(&self) -> Result<Box<dyn Classifier>> {
        registry::build::<ModelKind>(&self.fig, "model", &self.ctx(true))
    }

    pub fn dataset(&self, role: &str) -> Result<Box<dyn Dataset>> {
        registry::build::<DatasetKind>(&self.fig, &format!("data.{role}"), &self.ctx(true))
    }

    /// `model.weights`, if the model table names a file.
    pub fn weights_path(&self) -> Option<PathBuf> {
        self.fig.extract_inner::<String>("model.weights").ok().filter(|s| !s.is_empty()).map(PathBuf::from)
    }

    /// Generates the synthetic data and trains the classifier where the config asks for it and
    /// they do not exist yet.
    pub fn prepare(&self) -> Result<()> {
        // several processes (shards) may start at once: one makes the data and weights, the
        // others wait for it and then find them there
        if let Some(s) = &self.cfg.synthetic {
            let _lock = FileLock::acquire(&s.root.with_extension("lock"))?;
            if synthetic::ensure(s)? {
                log::info!("generated the synthetic dataset in {}", s.root.display());
            }
        }
        if let Some(r) = &self.cfg.reviews {
            let _lock = FileLock::acquire(&r.root.with_extension("lock"))?;
            if crate::text::reviews::ensure(r)? {
                log::info!("generated the review corpus in {}", r.root.display());
            }
        }
        if let (Some(t), Some(w)) = (&self.cfg.train_text_classifier, self.weights_path()) {
            let _lock = FileLock::acquire(&w.with_extension("lock"))?;
            crate::text::prepare::ensure(&self.fig, t, self.cfg.seed, self.device)?;
        }
        if let (Some(_), Some(w)) = (&self.cfg.train_classifier, self.weights_path()) {
            let _lock = FileLock::acquire(&w.with_extension("lock"))?;
            if !w.is_file() {
                log::info!("no weights at {}: training the classifier ([train_classifier])", w.display());
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
        crate::output::atomic::write(&side, serde_json::to_string_pretty(&report).expect("json").as_bytes())?;
        log::info!("saved {} (test accuracy {:.3}; report {})", out.display(), last, side.display());
        Ok(last)
    }

    /// Records a failed sample and goes on, or stops with `output.fail_fast`.
    fn failed(&self, summary: &mut Summary, name: String, e: Error) -> Result<()> {
        if self.cfg.output.fail_fast {
            return Err(e);
        }
        log::error!("{e}; going on with the next sample");
        summary.failed.push((name, e.to_string()));
        Ok(())
    }

    /// The attribution run into `wd`; with `shard = Some(Shard { index, count })` only the samples
    /// whose position k in the attribution split has k mod count = index.
    pub fn attribute(&self, wd: &WorkDir, shard: Option<Shard>) -> Result<Summary> {
        let mut model = self.model()?;
        model.freeze();
        let mut attr = registry::build::<AttributorKind>(&self.fig, "attributor", &self.ctx(true))?;
        attr.check(model.as_ref())?;
        let estimation = if attr.needs_estimation() { Some(self.dataset("estimation")?) } else { None };
        let data = self.dataset("attribution")?;
        let cx = RunCtx { device: self.device, seed: self.cfg.seed, state_dir: Some(wd.path("state")) };
        attr.fit(model.as_ref(), estimation.as_deref(), &cx)?;
        let precision = self.cfg.precision;
        precision.apply()?;
        let mut sink = MapSink::new(wd, self.cfg.output.clone(), attr.outputs(), data.is_text())?;
        let mut summary = Summary::default();
        let mine: Vec<usize> = (0..data.len()).filter(|&i| shard.is_none_or(|s| i % s.count == s.index)).collect();
        let pending: Vec<usize> = mine.iter().copied().filter(|&i| !sink.is_done(&data.name(i))).collect();
        summary.skipped = mine.len() - pending.len();
        let bar = crate::logging::progress(mine.len() as u64, "attribution");
        bar.inc(summary.skipped as u64);
        for chunk in pending.chunks(attr.batch_size().max(1)) {
            let mut samples = Vec::new();
            for &i in chunk {
                match data.get(i) {
                    Ok(s) => samples.push((i, s)),
                    Err(e) => self.failed(&mut summary, data.name(i), e)?,
                }
            }
            let batch: Vec<_> = samples.iter().map(|(_, s)| s.clone_shallow()).collect();
            match precision.run(|| attr.attribute_batch(model.as_ref(), &batch, &cx)) {
                Ok(results) => {
                    for ((i, s), a) in samples.iter().zip(results) {
                        sink.write(*i, s, &a, data.as_ref())?;
                        summary.attributed += 1;
                    }
                }
                // one bad sample must not take its batch with it: redo the batch one by one
                Err(_) if samples.len() > 1 => {
                    for (i, s) in &samples {
                        match precision.run(|| attr.attribute(model.as_ref(), s, &cx)) {
                            Ok(a) => {
                                sink.write(*i, s, &a, data.as_ref())?;
                                summary.attributed += 1;
                            }
                            Err(e) => self.failed(&mut summary, s.name.clone(), e)?,
                        }
                    }
                }
                Err(e) => {
                    self.failed(&mut summary, samples.first().map(|(_, s)| s.name.clone()).unwrap_or_default(), e)?
                }
            }
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        sink.finish()?;
        let file = match shard {
            Some(s) => format!("summary.shard-{}-of-{}.json", s.index, s.count),
            None => "summary.json".into(),
        };
        crate::output::atomic::write(
            &wd.path(&file),
            serde_json::to_string_pretty(&summary).expect("json").as_bytes(),
        )?;
        Ok(summary)
    }
}
