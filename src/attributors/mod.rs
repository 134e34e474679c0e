//! Attribution methods behind one trait. Each method is one file and one `register!` line; the
//! pipeline (`crate::pipeline`) runs `fit` once, then `attribute` per sample, and writes the maps.
pub(crate) mod bottleneck;
pub(crate) mod feature_iba;
pub mod gradient;
pub mod input_iba;
mod sample_curves;
mod streams;
pub mod welford;
pub mod welford_nlp;

pub use bottleneck::{capacity, noisy_features, saliency_bits, GaussianSmoothing};
pub use feature_iba::{FeatureIba, FeatureIbaParams};
pub use sample_curves::SampleCurves;
pub use streams::Streams;
pub use welford::Welford;
pub use welford_nlp::OriginalNlpWelford;

use crate::data::{Dataset, Sample};
use crate::error::Result;
use crate::models::Classifier;
use crate::output::maps::PngScale;
use std::path::PathBuf;
use tch::Tensor;

/// Where and how one kind of map is written (e.g. `feat_masks/`, max-normalised PNG).
#[derive(Clone, Debug)]
pub struct MapSpec {
    pub dir: String,
    pub scale: PngScale,
    /// How a [C,H,W] map becomes [H,W] for the PNG and the overlay (the `.npy` keeps all channels).
    pub reduce: Reduce,
}

/// Channel reduction of a [C,H,W] attribution for display and evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduce {
    Sum,
    #[default]
    SumAbs,
    MaxAbs,
}

impl Reduce {
    /// [C,H,W] → [H,W]; an [H,W] map is returned as it is.
    pub fn apply(self, map: &Tensor) -> Tensor {
        if map.dim() == 2 {
            return map.shallow_clone();
        }
        match self {
            Reduce::Sum => map.sum_dim_intlist(0, false, tch::Kind::Float),
            Reduce::SumAbs => map.abs().sum_dim_intlist(0, false, tch::Kind::Float),
            Reduce::MaxAbs => map.abs().amax([0], false),
        }
    }
}

/// Named series for TensorBoard: (tag, value per optimisation step), e.g. ("feat_iba/loss", [...]).
pub type Curves = Vec<(String, Vec<f64>)>;

/// One sample's result: one map per [`MapSpec`] ([H,W], or [C,H,W] with the input's H×W), and
/// curves (per optimisation step, or single values) for TensorBoard.
pub struct Attribution {
    pub maps: Vec<Tensor>,
    pub curves: Curves,
}

/// What a method may use while it runs.
pub struct RunCtx {
    pub device: tch::Device,
    pub seed: u64,
    /// Folder for cached state (e.g. the estimator), so a re-run skips finished work.
    pub state_dir: Option<PathBuf>,
}

pub trait Attributor {
    /// Fails at build time when the method cannot run on `model` (e.g. an unknown layer).
    fn check(&self, model: &dyn Classifier) -> Result<()>;
    /// Whether [`Attributor::fit`] reads the estimation split; only then is it loaded.
    fn needs_estimation(&self) -> bool {
        false
    }
    /// Per-dataset state (the estimator's mean/std), from the estimation split when
    /// [`Attributor::needs_estimation`]. Default: none.
    fn fit(&mut self, _model: &dyn Classifier, _data: Option<&dyn Dataset>, _cx: &RunCtx) -> Result<()> {
        Ok(())
    }
    /// The maps this method writes, in the order of [`Attribution::maps`].
    fn outputs(&self) -> Vec<MapSpec>;
    fn attribute(&mut self, model: &dyn Classifier, sample: &Sample, cx: &RunCtx) -> Result<Attribution>;
    /// Samples per call of [`Attributor::attribute_batch`] (the config's `batch_size` for batched methods).
    fn batch_size(&self) -> usize {
        1
    }
    /// The sanity check's attribution (spec §6.1): stages from `stage` on run on `randomised`,
    /// earlier ones on `original` (InputIBA: "gan" or "input_iba"; "all" and single-stage methods:
    /// everything on `randomised`).
    fn attribute_randomised(
        &mut self,
        _original: &dyn Classifier,
        randomised: &dyn Classifier,
        sample: &Sample,
        _stage: &str,
        cx: &RunCtx,
    ) -> Result<Attribution> {
        self.attribute(randomised, sample, cx)
    }
    /// Several samples at once; the result for each equals its single-sample attribution.
    fn attribute_batch(&mut self, model: &dyn Classifier, samples: &[Sample], cx: &RunCtx) -> Result<Vec<Attribution>> {
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
    /// The class to explain for `image` [C,H,W] whose label is `label`.
    pub fn resolve(self, model: &dyn Classifier, image: &Tensor, label: i64) -> i64 {
        match self {
            Target::Label => label,
            Target::Class(c) => c,
            Target::Predicted => {
                tch::no_grad(|| model.forward(&image.unsqueeze(0)).argmax(-1, false).int64_value(&[0]))
            }
        }
    }

    /// Classes for a batch [N,C,H,W] with labels `labels`, as a [N] int64 tensor on the batch's device.
    pub fn resolve_batch(self, model: &dyn Classifier, x: &Tensor, labels: &[i64]) -> Tensor {
        let t = match self {
            Target::Label => Tensor::from_slice(labels),
            Target::Class(c) => Tensor::from_slice(&vec![c; labels.len()]),
            Target::Predicted => return tch::no_grad(|| model.forward(x).argmax(-1, false)),
        };
        t.to_device(x.device())
    }
}

/// A per-sample seed, so results do not depend on the order or resumption of a run.
pub fn sample_seed(seed: u64, name: &str) -> i64 {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    ((h ^ seed) >> 1) as i64
}
