//! Attribution methods behind one trait. Each method is one file and one `register!` line; the run
//! (`tools/train`) loads the splits a method declares, runs `fit` once, then `attribute` per
//! sample, and writes the maps.
pub(crate) mod bottleneck;
pub(crate) mod feature_iba;
pub mod gradient;
pub mod grid;
pub mod input_iba;
pub mod khot;
pub mod readout;
mod sample_curves;
pub mod self_explanation;
mod streams;
pub mod vibi;
pub mod welford;
pub mod welford_nlp;

pub use bottleneck::{capacity, noisy_features, resize_mirror, saliency_bits, GaussianSmoothing};
pub use feature_iba::{FeatureIba, FeatureIbaParams};
pub use readout::{ReadoutBottleneck, ReadoutParams};
pub use sample_curves::SampleCurves;
pub use streams::Streams;
pub use welford::Welford;
pub use welford_nlp::OriginalNlpWelford;

pub use crate::data::{Split, Splits};
pub use crate::explanation::{Attribution, Curves, Layout, MapSpec, PngScale, Reduce};

use crate::data::Sample;
use crate::error::{Error, Result};
use crate::models::Classifier;
use std::path::PathBuf;
use tch::Tensor;

/// What a method may use while it fits and attributes (the run phase; building from the config has
/// [`crate::registry::BuildCtx`]).
pub struct AttributionCtx {
    pub device: tch::Device,
    pub seed: u64,
    /// Folder for cached state (e.g. the estimator), so a re-run skips finished work.
    pub state_dir: Option<PathBuf>,
    /// Digest of the model (its config table and weights file): part of every cache key, so state
    /// computed with other weights is never reused. Empty where nothing is cached.
    pub model_digest: String,
    /// Folder for a trained explainer's checkpoints (`<work-dir>/checkpoints/`); `None`: trained
    /// without checkpoints (tests, benchmarks).
    pub checkpoint_dir: Option<PathBuf>,
    /// Where training curves go (`tools/train`: the work dir's TensorBoard run `fit/`).
    pub scalars: Option<std::sync::Arc<std::sync::Mutex<dyn crate::logging::ScalarLog>>>,
}

impl Default for AttributionCtx {
    /// CPU, seed 0, nothing cached, no checkpoints, no curves.
    fn default() -> Self {
        AttributionCtx {
            device: tch::Device::Cpu,
            seed: 0,
            state_dir: None,
            model_digest: String::new(),
            checkpoint_dir: None,
            scalars: None,
        }
    }
}

/// What fitting measured: `figures` go to `metrics.json`'s `fit` section, `pictures` (RGB [3,H,W]
/// in [0,1]) to `<work-dir>/figures/<name>.png`, `tables` to `<work-dir>/figures/<name>.json`.
#[derive(Default)]
pub struct FitReport {
    pub figures: std::collections::BTreeMap<String, f64>,
    pub pictures: Vec<(String, Tensor)>,
    pub tables: Vec<(String, serde_json::Value)>,
}

impl FitReport {
    /// A copy sharing the pictures' storage.
    pub fn shallow_clone(&self) -> Self {
        FitReport {
            figures: self.figures.clone(),
            pictures: self.pictures.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect(),
            tables: self.tables.clone(),
        }
    }
}

pub trait Attributor {
    /// Fails at build time when the method cannot run on `model` (e.g. an unknown layer).
    fn check(&self, model: &dyn Classifier) -> Result<()>;
    /// The splits [`Attributor::fit`] reads (the estimation split for IBA's estimator; train and
    /// validation for a method trained on a dataset); only these are loaded. Default: none.
    fn splits(&self) -> Vec<Split> {
        Vec::new()
    }
    /// Splits [`Attributor::fit`] reads when the config has them (a trained explainer's
    /// validation split); loaded where present, skipped where not. Default: none.
    fn optional_splits(&self) -> Vec<Split> {
        Vec::new()
    }
    /// Per-dataset state (the estimator's mean/std, trained weights) from the declared splits.
    /// Default: none.
    fn fit(&mut self, _model: &dyn Classifier, _data: &Splits, _cx: &AttributionCtx) -> Result<()> {
        Ok(())
    }
    /// What the last [`Attributor::fit`] measured, for the researcher. Default: nothing.
    fn fit_report(&self) -> FitReport {
        FitReport::default()
    }
    /// The maps this method writes; each [`Attribution`] holds one map under each spec's `dir`.
    fn outputs(&self) -> Vec<MapSpec>;
    /// The folder of the method's explanation proper, the one `tools/eval` scores by default.
    /// Default: the first output.
    fn main_output(&self) -> String {
        self.outputs().first().map(|s| s.dir.clone()).unwrap_or_default()
    }
    fn attribute(&mut self, model: &dyn Classifier, sample: &Sample, cx: &AttributionCtx) -> Result<Attribution>;
    /// Samples per call of [`Attributor::attribute_batch`] (the config's `batch_size` for batched methods).
    fn batch_size(&self) -> usize {
        1
    }
    /// The method's stages in order, named, for the sanity check's stage-wise randomisation (spec
    /// §6.1); empty for single-stage methods.
    fn stages(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// The sanity check's attribution: the stages from `stage` on (one of [`Attributor::stages`],
    /// or "all") run on `randomised`, earlier ones on `original`. Single-stage methods run wholly
    /// on `randomised`, whatever `stage` says.
    fn attribute_randomised(
        &mut self,
        _original: &dyn Classifier,
        randomised: &dyn Classifier,
        sample: &Sample,
        _stage: &str,
        cx: &AttributionCtx,
    ) -> Result<Attribution> {
        self.attribute(randomised, sample, cx)
    }
    /// Several samples at once; the result for each equals its single-sample attribution.
    fn attribute_batch(
        &mut self,
        model: &dyn Classifier,
        samples: &[Sample],
        cx: &AttributionCtx,
    ) -> Result<Vec<Attribution>> {
        samples.iter().map(|s| self.attribute(model, s, cx)).collect()
    }
}

/// Which class a sample is explained for: `"label"` (the dataset's, the original's behaviour),
/// `"predicted"` (the model's top-1) or a class index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    #[default]
    Label,
    Predicted,
    Class(i64),
}

impl<'de> serde::Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Index(i64),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Index(i) if i >= 0 => Ok(Target::Class(i)),
            Raw::Name(n) if n == "label" => Ok(Target::Label),
            Raw::Name(n) if n == "predicted" => Ok(Target::Predicted),
            _ => Err(serde::de::Error::custom("expected \"label\", \"predicted\" or a class index ≥ 0")),
        }
    }
}

impl serde::Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Target::Label => s.serialize_str("label"),
            Target::Predicted => s.serialize_str("predicted"),
            Target::Class(i) => s.serialize_i64(*i),
        }
    }
}

impl Target {
    /// Fails at config check when a fixed class is not one of the model's.
    pub fn check(self, model: &dyn Classifier) -> Result<()> {
        match self {
            Target::Class(c) if c >= model.num_classes() => Err(Error::ConfigMsg(format!(
                "attributor target = {c}: the model has {} classes (0 … {})",
                model.num_classes(),
                model.num_classes() - 1
            ))),
            _ => Ok(()),
        }
    }

    /// The class to explain for `image` [C,H,W] whose label is `label`; a label the model has no
    /// class for is an error naming it, not an index out of range deep in libtorch.
    pub fn resolve(self, model: &dyn Classifier, image: &Tensor, label: i64) -> Result<i64> {
        let c = match self {
            Target::Label if label == crate::data::UNLABELLED => return Err(unlabelled()),
            Target::Label => label,
            Target::Class(c) => c,
            Target::Predicted => {
                tch::no_grad(|| model.forward(&image.unsqueeze(0)).argmax(-1, false).int64_value(&[0]))
            }
        };
        in_range(model, c)
    }

    /// Classes for a batch [N,C,H,W] with labels `labels`, as a [N] int64 tensor on the batch's device.
    pub fn resolve_batch(self, model: &dyn Classifier, x: &Tensor, labels: &[i64]) -> Result<Tensor> {
        let t = match self {
            Target::Label if labels.contains(&crate::data::UNLABELLED) => return Err(unlabelled()),
            Target::Label => {
                Tensor::from_slice(&labels.iter().map(|&l| in_range(model, l)).collect::<Result<Vec<_>>>()?)
            }
            Target::Class(c) => Tensor::from_slice(&vec![in_range(model, c)?; labels.len()]),
            Target::Predicted => return Ok(tch::no_grad(|| model.forward(x).argmax(-1, false))),
        };
        Ok(t.to_device(x.device()))
    }
}

fn unlabelled() -> Error {
    Error::ConfigMsg(
        "the sample has no label (a folder of images without class folders): set the attributor's \
         target = \"predicted\" or a class index"
            .into(),
    )
}

fn in_range(model: &dyn Classifier, class: i64) -> Result<i64> {
    if (0..model.num_classes()).contains(&class) {
        Ok(class)
    } else {
        Err(Error::Model(format!("class {class} to explain, but the model has {} classes", model.num_classes())))
    }
}

pub use crate::rng::sample_seed;

/// The position of `stage` among `stages` ("all": 0), or an error listing the stages.
pub fn stage_index(stages: &[&str], stage: &str) -> Result<usize> {
    if stage == "all" {
        return Ok(0);
    }
    stages
        .iter()
        .position(|s| *s == stage)
        .ok_or_else(|| Error::ConfigMsg(format!("sanity-check stage `{stage}`: expected \"all\" or one of {stages:?}")))
}
