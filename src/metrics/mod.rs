//! Evaluation metrics of attribution maps, one file each behind [`Metric`], registered like the
//! other components (`[eval.metrics.<label>] type = "InsertionDeletion"`). `tools/eval` runs them
//! over a finished work dir (the `evaluation` module); each returns per-sample values and curves, and
//! the run aggregates them into `metrics.json`.
mod ehr;
mod infidelity;
mod insertion_deletion;
pub mod lipschitz;
mod max_sensitivity;
pub mod perturb;
mod pointing_game;
mod region_perturbation;
mod relevance_mass;
mod sanity_check;
mod selectivity;
mod sensitivity_n;
pub mod ssim;
pub mod text;

pub use ehr::{effective_heat_ratio, Ehr, EhrParams, Roi};
pub use infidelity::Infidelity;
pub use insertion_deletion::InsertionDeletion;
pub use max_sensitivity::MaxSensitivity;
pub use pointing_game::PointingGame;
pub use region_perturbation::RegionPerturbation;
pub use relevance_mass::RelevanceMass;
pub use sanity_check::SanityCheck;
pub use selectivity::Selectivity;
pub use sensitivity_n::SensitivityN;
pub use text::{TextInsertionDeletion, TextSensitivityN};

use crate::data::Sample;
use crate::error::Result;
use crate::modality::Modality;
use crate::models::Classifier;
use tch::Tensor;

/// One sample as a metric sees it.
pub struct EvalSample<'a> {
    pub sample: &'a Sample,
    /// The attribution map [H,W] (float; PNG maps as u8/255), on the CPU; text: [1,T].
    pub map: &'a Tensor,
    /// The class the map explains.
    pub target: i64,
    pub device: tch::Device,
    /// The run's attributor, for metrics that explain again ([`Metric::needs_explainer`]).
    pub explainer: Option<&'a dyn Explain>,
}

/// Attribution on demand, for the metrics that explain again: the sanity check (on randomised
/// models) and max-sensitivity (on perturbed inputs).
pub trait Explain {
    /// The map [H,W] of `sample` under `model`, reduced and scaled as the evaluated maps are.
    fn explain(&self, model: &dyn Classifier, sample: &Sample) -> Result<Tensor>;
    /// A fresh copy of the model, its weights reloaded (to randomise).
    fn fresh_model(&self) -> Result<Box<dyn Classifier>>;
    /// The map with the attribution's stages from `stage` on run on `randomised` (see
    /// `Attributor::attribute_randomised`); default: everything on `randomised`.
    fn explain_randomised(
        &self,
        _original: &dyn Classifier,
        randomised: &dyn Classifier,
        sample: &Sample,
        _stage: &str,
    ) -> Result<Tensor> {
        self.explain(randomised, sample)
    }
}

impl EvalSample<'_> {
    pub fn explainer(&self) -> Result<&dyn Explain> {
        self.explainer.ok_or_else(|| {
            crate::error::Error::ConfigMsg("this metric explains again and needs the run's [attributor]".into())
        })
    }
}

/// A metric's result for one sample: named values (`ins_auc`), curves (averaged across samples for
/// the plots) and warnings (a constant map, an empty box: the value is defined and documented, and
/// the user is told). A value left out (e.g. an image whose box is too large) is not counted.
#[derive(Default, Debug, Clone)]
pub struct SampleResult {
    pub values: Vec<(String, f64)>,
    pub curves: Vec<(String, Vec<f64>)>,
    pub warnings: Vec<String>,
}

pub trait Metric {
    /// The inputs the metric reads (a text metric: a sentence's per-word scores [1,T] and a text
    /// model); each metric serves one.
    fn modality(&self) -> Modality {
        Modality::Image
    }
    /// Whether [`EvalSample::explainer`] must be given.
    fn needs_explainer(&self) -> bool {
        false
    }
    /// The x values of a curve (e.g. the n of Sensitivity-N), if not evenly spaced steps.
    fn curve_x(&self, _curve: &str) -> Option<Vec<f64>> {
        None
    }
    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult>;
}

/// Area under a curve sampled at evenly spaced steps: the trapezoid rule with dx = 1/len (the
/// original's `auc`, so curves of different lengths are comparable).
pub fn auc(ys: &[f64]) -> f64 {
    if ys.len() < 2 {
        return ys.first().copied().unwrap_or(0.0);
    }
    let dx = 1.0 / ys.len() as f64;
    ys.windows(2).map(|w| (w[0] + w[1]) * 0.5 * dx).sum()
}

/// Pearson correlation; `None` when either side is constant (the original returns NaN there).
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// The target's boxes as a 0/1 [H,W] mask of the map's size, and its share of the image; `None`
/// (with a warning in `r`) when the sample has no box or the box covers more than `max_area`.
pub fn target_roi(s: &EvalSample, r: &mut SampleResult, max_area: f64) -> Option<(Tensor, f64)> {
    target_roi_with(s, r, max_area, true)
}

/// As [`target_roi`], with the boxes' end pixel in or out (see `data::box_mask_with`).
pub fn target_roi_with(
    s: &EvalSample,
    r: &mut SampleResult,
    max_area: f64,
    inclusive_end: bool,
) -> Option<(Tensor, f64)> {
    if s.sample.boxes.is_empty() {
        r.warnings.push("no ground-truth box: skipped".into());
        return None;
    }
    let roi = crate::data::box_mask_with(&s.sample.boxes, s.map.size()[0], s.map.size()[1], inclusive_end)
        .to_kind(tch::Kind::Double);
    let area = roi.mean(tch::Kind::Double).double_value(&[]);
    if area > max_area {
        r.warnings.push(format!("box covers {:.0}% of the image (> {:.0}%): skipped", area * 100.0, max_area * 100.0));
        return None;
    }
    Some((roi, area))
}
