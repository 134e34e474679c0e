//! The run's attributor as an [`Explain`] for the metrics that explain again: built from the
//! config's `[attributor]`, fitted once on the original model (reusing the work dir's cached
//! estimator, as the original never re-estimates), and its map for `eval.maps` reduced and scaled
//! exactly as `tools/eval` reads the stored maps.
use super::MapFormat;
use crate::attributors::{AttributionCtx, Attributor, MapSpec};
use crate::data::Sample;
use crate::error::{Error, Result};
use crate::metrics::Explain;
use crate::models::Classifier;
use crate::output::maps::to_u8;
use crate::output::workdir::WorkDir;
use crate::registry::{self, AttributorKind, BuildCtx};
use crate::run::Run;
use std::cell::RefCell;
use tch::{Kind, Tensor};

pub struct RunExplainer<'a> {
    run: &'a Run,
    attr: RefCell<Box<dyn Attributor>>,
    spec: MapSpec,
    format: MapFormat,
    cx: AttributionCtx,
}

impl<'a> RunExplainer<'a> {
    pub fn new(run: &'a Run, wd: &WorkDir, model: &dyn Classifier, maps: &str, format: MapFormat) -> Result<Self> {
        let mut attr = registry::build::<AttributorKind>(
            &run.fig,
            "attributor",
            &BuildCtx { device: run.device, load_weights: true },
        )?;
        attr.check(model)?;
        let outputs = attr.outputs();
        let spec = outputs.iter().find(|o| o.dir == maps).cloned().ok_or_else(|| {
            Error::ConfigMsg(format!(
                "the attributor writes {:?}, not `{maps}` (eval.maps)",
                outputs.iter().map(|o| o.dir.as_str()).collect::<Vec<_>>()
            ))
        })?;
        let splits = run.splits(attr.as_ref())?;
        let cx = AttributionCtx {
            device: run.device,
            seed: run.cfg.seed,
            state_dir: Some(wd.path("state")),
            model_digest: run.model_digest()?,
            // a trained explainer attributes with the weights `tools/train` trained
            checkpoint_dir: Some(wd.path(crate::run::CHECKPOINTS)),
            ..Default::default()
        };
        attr.fit(model, &splits.view(), &cx)?;
        Ok(RunExplainer { run, attr: RefCell::new(attr), spec, format, cx })
    }
}

impl RunExplainer<'_> {
    /// The evaluated map of an attribution, as `tools/eval` reads it from disk.
    fn as_read(&self, a: crate::attributors::Attribution) -> Result<Tensor> {
        let map = a.map(&self.spec.dir)?.to_device(tch::Device::Cpu);
        Ok(match self.format {
            MapFormat::Png => to_u8(&self.spec.reduce.apply(&map), self.spec.scale).to_kind(Kind::Float) / 255.0,
            MapFormat::Npy if map.dim() == 3 => map.mean_dim(0, false, Kind::Float),
            MapFormat::Npy => map,
        })
    }
}

impl Explain for RunExplainer<'_> {
    fn explain(&self, model: &dyn Classifier, sample: &Sample) -> Result<Tensor> {
        let a = self.attr.borrow_mut().attribute(model, sample, &self.cx)?;
        self.as_read(a)
    }
    fn explain_randomised(
        &self,
        original: &dyn Classifier,
        randomised: &dyn Classifier,
        sample: &Sample,
        stage: &str,
    ) -> Result<Tensor> {
        let a = self.attr.borrow_mut().attribute_randomised(original, randomised, sample, stage, &self.cx)?;
        self.as_read(a)
    }
    fn fresh_model(&self) -> Result<Box<dyn Classifier>> {
        let mut m = self.run.model()?;
        m.freeze();
        Ok(m)
    }
}
