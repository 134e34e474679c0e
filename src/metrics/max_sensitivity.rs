//! Max-sensitivity (Yeh et al. 2019, Captum's `sensitivity_max`): the largest relative change of
//! the explanation under small input perturbations, max_j ‖φ(x + δ_j) − φ(x)‖_F / ‖φ(x)‖_F with
//! δ_j ~ U(−r, r) per element (normalised-image space). φ(x) is explained again rather than read
//! from the work dir, so both sides carry the same rounding. A zero map scores 0 (Captum guards
//! the division the same way) with a warning.
use super::{EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaxSensitivityParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Captum: 0.02 (Quantus: 0.2).
    pub perturb_radius: f64,
    /// Captum: 10 (Quantus: 200).
    pub n_perturb_samples: usize,
    pub seed: u64,
}

impl Default for MaxSensitivityParams {
    fn default() -> Self {
        MaxSensitivityParams { type_: "MaxSensitivity".into(), perturb_radius: 0.02, n_perturb_samples: 10, seed: 2021 }
    }
}

pub struct MaxSensitivity {
    p: MaxSensitivityParams,
}

impl Metric for MaxSensitivity {
    fn needs_explainer(&self) -> bool {
        true
    }
    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let ex = s.explainer()?;
        let base = ex.explain(model, s.sample)?.to_kind(Kind::Double);
        let norm = base.norm().double_value(&[]);
        let mut r = SampleResult::default();
        tch::manual_seed(crate::rng::sample_seed(self.p.seed, &s.sample.name));
        let deltas: Vec<Tensor> = (0..self.p.n_perturb_samples)
            .map(|_| (s.sample.input.rand_like() * 2.0 - 1.0) * self.p.perturb_radius)
            .collect();
        let mut worst = 0f64;
        for d in deltas {
            let mut moved = s.sample.clone_shallow();
            moved.input = &s.sample.input + d;
            let diff = (ex.explain(model, &moved)?.to_kind(Kind::Double) - &base).norm().double_value(&[]);
            worst = worst.max(diff);
        }
        let v = if norm > 0.0 {
            worst / norm
        } else {
            r.warnings.push("zero map: max-sensitivity counted as 0".into());
            0.0
        };
        r.values.push(("max_sensitivity".into(), v));
        Ok(r)
    }
}

impl Build<MetricKind> for MaxSensitivity {
    type Params = MaxSensitivityParams;
    fn validate(p: &Self::Params) -> crate::config::Checked {
        use crate::config::validate::*;
        at_least("n_perturb_samples", p.n_perturb_samples as i64, 1)?;
        positive("perturb_radius", p.perturb_radius)
    }
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(MaxSensitivity { p }))
    }
}
crate::register!(MetricKind, MaxSensitivity);
