//! Selectivity (Montavon et al. 2018, as Quantus computes it): 8×8 patches removed (set to 0,
//! normalised space) in descending order of summed heat; the curve is the target's softmax from
//! the unperturbed image on; `auc` (trapezoid, dx = 1/len) is smaller for a better map.
use super::perturb::{scores, Score};
use super::region_perturbation::{tile_curve, tile_ranks};
use super::{auc, EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectivityParams {
    #[serde(rename = "type")]
    pub type_: String,
    pub patch_size: i64,
    /// Patches removed in all, 0 = every patch.
    pub max_steps: i64,
    pub batch_size: i64,
}

impl Default for SelectivityParams {
    fn default() -> Self {
        SelectivityParams { type_: "Selectivity".into(), patch_size: 8, max_steps: 0, batch_size: 64 }
    }
}

pub struct Selectivity {
    p: SelectivityParams,
}

impl Metric for Selectivity {
    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let x = s.sample.input.to_device(s.device);
        let rank = tile_ranks(s.map, self.p.patch_size);
        let n = rank.numel() as i64;
        let steps = if self.p.max_steps > 0 { self.p.max_steps.min(n) } else { n };
        let mut curve = scores(model, 1, 1, s.target, Score::Softmax, |_, _| x.unsqueeze(0))?;
        curve.extend(tile_curve(model, &x, &rank, self.p.patch_size, steps, self.p.batch_size, s.target)?);
        Ok(SampleResult {
            values: vec![("auc".into(), auc(&curve))],
            curves: vec![("selectivity".into(), curve)],
            warnings: vec![],
        })
    }
}

impl Build<MetricKind> for Selectivity {
    type Params = SelectivityParams;
    fn validate(p: &Self::Params) -> crate::config::Checked {
        use crate::config::validate::*;
        at_least("patch_size", p.patch_size, 1)?;
        at_least("batch_size", p.batch_size, 1)
    }
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(Selectivity { p }))
    }
}
crate::register!(MetricKind, Selectivity);
