//! What `tools/train` does, in three phases, one file each: [`Run`] loads and checks a config and
//! builds its components (here); `prepare` makes what the config asks for and is missing (the
//! synthetic data, the review corpus, the classifier's weights); `attribute` fits the attributor
//! and explains every sample of the attribution split, skipping samples whose outputs exist, and
//! writes maps, TensorBoard events and a summary; `jobs` runs that as N shard processes.
mod attribute;
mod config;
mod eval_config;
mod jobs;
mod prepare;
mod senn;
mod senn_sweep;

pub use attribute::{Shard, Summary, CHECKPOINTS, FIT_EVENTS};
pub use config::{DataConfig, RunConfig};
pub use eval_config::{EvalConfig, RoarConfig};
pub use jobs::{threads_per_job, JobCommand};
pub use senn_sweep::{SennSweepConfig, SweepPoint};

use crate::attributors::Attributor;
use crate::data::{Dataset, Split, Splits};
use crate::error::{Error, Result};
use crate::models::Classifier;
use crate::registry::{self, AttributorKind, BuildCtx, DatasetKind, ModelKind};
use figment::Figment;
use std::path::{Path, PathBuf};

/// The datasets of the splits a method declared ([`crate::attributors::Attributor::splits`]).
pub struct LoadedSplits(Vec<(Split, Box<dyn Dataset>, String)>);

impl LoadedSplits {
    pub fn view(&self) -> Splits<'_> {
        let splits = Splits::new(self.0.iter().map(|(s, d, _)| (*s, d.as_ref())).collect());
        self.0.iter().fold(splits, |v, (s, _, id)| v.with_identity(*s, id.clone()))
    }
}

/// A loaded, validated config and the device it runs on.
pub struct Run {
    pub fig: Figment,
    pub cfg: RunConfig,
    pub device: tch::Device,
}

impl Run {
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let fig = crate::config::load(path, overrides)?;
        let cfg: RunConfig = fig.extract().map_err(|e| Error::config("<root>", e))?;
        let device = crate::runtime::parse_device(&cfg.device)?;
        cfg.precision.check(device)?;
        let run = Run { fig, cfg, device };
        run.validate()?;
        Ok(run)
    }

    /// This config with `items` (`a.b=value`, as `--cfg-options`) merged over it, checked again.
    pub fn with_options(&self, items: &[String]) -> Result<Self> {
        let fig = items
            .iter()
            .try_fold(self.fig.clone(), |f, item| Ok::<_, Error>(f.merge(crate::config::CfgOption::parse(item)?)))?;
        let cfg: RunConfig = fig.extract().map_err(|e| Error::config("<root>", e))?;
        let run = Run { fig, cfg, device: self.device };
        run.validate()?;
        Ok(run)
    }

    /// Checks every component table of the config (types registered, parameters parse) without
    /// touching data or weights, so a typo fails before any work starts.
    pub fn validate(&self) -> Result<()> {
        registry::check::<ModelKind>(&self.fig, "model")?;
        let d = &self.cfg.data;
        let roles = [
            ("estimation", &d.estimation),
            ("attribution", &d.attribution),
            ("train", &d.train),
            ("test", &d.test),
            ("validation", &d.validation),
        ];
        for (role, table) in roles {
            if table.is_some() {
                registry::check::<DatasetKind>(&self.fig, &format!("data.{role}"))?;
            }
        }
        if self.cfg.attributor.is_some() {
            registry::check::<AttributorKind>(&self.fig, "attributor")?;
        }
        let at = |key: &'static str| move |e: crate::config::Invalid| e.at(&self.fig.focus(key), key);
        if let Some(t) = &self.cfg.train_classifier {
            t.validate().map_err(at("train_classifier"))?;
        }
        if let Some(t) = &self.cfg.train_text_classifier {
            t.validate().map_err(at("train_text_classifier"))?;
        }
        if let Some(t) = &self.cfg.train_senn {
            t.validate().map_err(at("train_senn"))?;
        }
        let o = &self.cfg.output;
        crate::config::validate::one_of("colormap", &o.colormap, &crate::output::heatmap::COLORMAPS)
            .and_then(|_| crate::config::validate::at_least("heatmap_min_side", o.heatmap_min_side as i64, 1))
            .map_err(at("output"))?;
        if let Some(t) = &self.cfg.senn_sweep {
            t.validate().map_err(at("senn_sweep"))?;
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
        self.fig
            .extract_inner::<String>("model.weights")
            .ok()
            .filter(|s| !s.is_empty() && s != crate::models::weights::RANDOM)
            .map(PathBuf::from)
    }
    /// Checks that the attributor can run on the model (layers, capabilities, target classes)
    /// before any file is written: with the model's random initial weights, so nothing but the
    /// config (and a TorchScript model's files) is read.
    pub fn check_attributor(&self) -> Result<()> {
        if self.cfg.attributor.is_none() {
            return Ok(());
        }
        let model = registry::build::<ModelKind>(&self.fig, "model", &self.ctx(false))?;
        self.attributor()?.check(model.as_ref())
    }
    /// The config's `[attributor]`, built.
    pub fn attributor(&self) -> Result<Box<dyn Attributor>> {
        registry::build::<AttributorKind>(&self.fig, "attributor", &self.ctx(true))
    }
    /// Loads the splits a method asks for (a missing table is an error naming it) and those it
    /// can use (`[Attributor::optional_splits]`) where the config has them.
    pub fn splits(&self, attr: &dyn Attributor) -> Result<LoadedSplits> {
        let optional = attr.optional_splits().into_iter().filter(|s| self.fig.find_value(&s.key()).is_ok());
        let mut loaded = Vec::new();
        for split in attr.splits().into_iter().chain(optional) {
            if self.fig.find_value(&split.key()).is_err() {
                return Err(Error::ConfigMsg(format!(
                    "the attributor needs the split `[{}]`: add that table to the config",
                    split.key()
                )));
            }
            let table = registry::resolve::<DatasetKind>(&self.fig, &split.key())?;
            let data = self.dataset(split.name()).map_err(|e| match e {
                Error::File { path, why } => {
                    Error::File { path, why: format!("{why} (the split `[{}]`)", split.key()) }
                }
                Error::Io { path, source } => {
                    Error::File { path, why: format!("{source} (the split `[{}]`)", split.key()) }
                }
                other => other,
            })?;
            loaded.push((split, data, crate::io::digest::text(&table.to_string())));
        }
        Ok(LoadedSplits(loaded))
    }
    /// What identifies the model for cached state: its config table with every default, and the
    /// content of its weights file (so a file replaced in place is another model).
    pub fn model_digest(&self) -> Result<String> {
        let table = registry::resolve::<ModelKind>(&self.fig, "model")?.to_string();
        let weights = match self.weights_path().filter(|w| w.is_file()) {
            Some(w) => crate::io::digest::file(&w)?,
            None => "no-weights-file".into(),
        };
        Ok(format!("{}-{weights}", crate::io::digest::text(&table)))
    }
    /// The whole config as the run reads it: the top level, and each component table with every
    /// default of its component filled in (`print_config --defaults`; the shipped-config test).
    pub fn resolved_values(&self) -> Result<serde_json::Value> {
        let json = |e: serde_json::Error| Error::ConfigMsg(format!("cannot serialise the config: {e}"));
        let mut v = serde_json::to_value(&self.cfg).map_err(json)?;
        v["model"] = registry::resolve::<ModelKind>(&self.fig, "model")?;
        if self.cfg.attributor.is_some() {
            v["attributor"] = registry::resolve::<AttributorKind>(&self.fig, "attributor")?;
        }
        for role in ["estimation", "attribution", "train", "test", "validation"] {
            if v["data"][role].is_object() {
                v["data"][role] = registry::resolve::<DatasetKind>(&self.fig, &format!("data.{role}"))?;
            }
        }
        for label in self.cfg.eval.iter().flat_map(|e| e.metrics.keys()) {
            let key = format!("eval.metrics.{label}");
            v["eval"]["metrics"][label] = registry::resolve::<crate::registry::MetricKind>(&self.fig, &key)?;
        }
        Ok(v)
    }
}
