//! Attribution methods behind one trait. Each method is one file and one `register!` line; the
//! pipeline (`crate::pipeline`) runs `fit` once, then `attribute` per sample, and writes the maps.
mod bottleneck;
mod feature_iba;
pub mod welford;

pub use bottleneck::{capacity, noisy_features, saliency_bits, GaussianSmoothing};
pub use feature_iba::{FeatureIba, FeatureIbaParams};
pub use welford::Welford;

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
}

/// One sample's result: one [H,W] map per [`MapSpec`], and loss curves for TensorBoard.
pub struct Attribution {
    pub maps: Vec<Tensor>,
    /// (tag, value per optimisation step), e.g. ("feat_iba/loss", [...]).
    pub curves: Vec<(String, Vec<f64>)>,
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
    /// Per-dataset state (the estimator's mean/std). Default: none.
    fn fit(&mut self, _model: &dyn Classifier, _data: &dyn Dataset, _cx: &RunCtx) -> Result<()> {
        Ok(())
    }
    /// The maps this method writes, in the order of [`Attribution::maps`].
    fn outputs(&self) -> Vec<MapSpec>;
    fn attribute(&mut self, model: &dyn Classifier, sample: &Sample, cx: &RunCtx) -> Result<Attribution>;
}

/// Which class a sample is explained for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The dataset's label (the original's behaviour).
    #[default]
    Label,
    /// The model's top-1 prediction.
    Predicted,
}

impl Target {
    /// The class to explain for `image` [C,H,W] whose label is `label`.
    pub fn resolve(self, model: &dyn Classifier, image: &Tensor, label: i64) -> i64 {
        match self {
            Target::Label => label,
            Target::Predicted => tch::no_grad(|| model.forward(&image.unsqueeze(0)).argmax(-1, false).int64_value(&[0])),
        }
    }
}

/// A per-sample seed, so results do not depend on the order or resumption of a run.
pub fn sample_seed(seed: u64, name: &str) -> i64 {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    ((h ^ seed) >> 1) as i64
}
