//! Cascading model randomisation (Adebayo et al. 2018; InputIBA's sanity check, spec §6.1): for
//! each layer L of `layers`, reload the model, re-draw every conv/linear layer from the output
//! back to L, explain again, and compare with the map of the work dir by SSIM (both as 8-bit
//! maps). A map that depends on the model falls well below 1 as the cascade deepens. `"none"` in
//! the list re-explains without randomising (1 for deterministic methods: the baseline).
//!
//! `stage` picks which part of a multi-stage attribution sees the randomised model: InputIBA's
//! original default is "input_iba" (feature IBA and GAN on the original model, only the input
//! bottleneck on the randomised one); "gan" randomises from the GAN on; "all" runs everything on
//! it. Single-stage methods always run wholly on the randomised model.
use super::ssim::ssim;
use super::{EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SanityCheckParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Cascade stops, output side first (the original's list for VGG16).
    pub layers: Vec<String>,
    /// Seeds the re-drawn weights (the same for every sample).
    pub seed: i64,
    /// "input_iba" (the original's), "gan" or "all".
    pub stage: String,
}

impl Default for SanityCheckParams {
    fn default() -> Self {
        let layers = [
            "classifier.6",
            "classifier.0",
            "features.28",
            "features.24",
            "features.21",
            "features.17",
            "features.12",
            "features.7",
        ];
        SanityCheckParams {
            type_: "SanityCheck".into(),
            layers: layers.iter().map(|s| s.to_string()).collect(),
            seed: 2021,
            stage: "input_iba".into(),
        }
    }
}

pub struct SanityCheck {
    p: SanityCheckParams,
}

/// A [H,W] map in [0,1] (or 0…255) → 0…255 as the PNGs hold it.
fn as_u8_scale(m: &tch::Tensor) -> tch::Tensor {
    let m = m.to_kind(tch::Kind::Double);
    if m.max().double_value(&[]) > 1.0 {
        m
    } else {
        (m * 255.0).floor()
    }
}

impl Metric for SanityCheck {
    fn needs_explainer(&self) -> bool {
        true
    }
    fn evaluate(&mut self, original: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let ex = s.explainer()?;
        let reference = as_u8_scale(s.map);
        let mut r = SampleResult::default();
        let mut curve = Vec::new();
        for layer in &self.p.layers {
            let mut model = ex.fresh_model()?;
            if layer != "none" {
                tch::manual_seed(self.p.seed);
                model.randomise().ok_or_else(|| crate::models::lacks("randomise its layers"))?.randomise_from(layer)?;
            }
            let v = ssim(
                &reference,
                &as_u8_scale(&ex.explain_randomised(original, model.as_ref(), s.sample, &self.p.stage)?),
            );
            r.values.push((format!("ssim@{layer}"), v));
            curve.push(v);
        }
        r.curves.push(("ssim".into(), curve));
        Ok(r)
    }
}

impl Build<MetricKind> for SanityCheck {
    type Params = SanityCheckParams;
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(SanityCheck { p }))
    }
}
crate::register!(MetricKind, SanityCheck);
