//! Relevance mass and rank accuracy (Arras et al. 2021), the IBA paper's bounding-box metric:
//! `mass` = Σ|a| inside the target's box / Σ|a|; `rank` = the share of the K highest pixels that
//! lie in the box, K = the box's pixel count; `mass_vs_uniform` = mass / the box's area share
//! (1 = no better than a uniform map). Images whose box exceeds `max_roi_area` are skipped (the
//! IBA paper: 0.33).
use super::perturb::ranks;
use super::{target_roi, EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};
use tch::Kind;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelevanceMassParams {
    #[serde(rename = "type")]
    pub type_: String,
    pub max_roi_area: f64,
}

impl Default for RelevanceMassParams {
    fn default() -> Self {
        RelevanceMassParams { type_: "RelevanceMass".into(), max_roi_area: 1.0 }
    }
}

pub struct RelevanceMass {
    p: RelevanceMassParams,
}

impl Metric for RelevanceMass {
    fn evaluate(&mut self, _model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let mut r = SampleResult::default();
        let Some((roi, area)) = target_roi(s, &mut r, self.p.max_roi_area) else { return Ok(r) };
        let a = s.map.to_kind(Kind::Double).abs();
        let total = a.sum(Kind::Double).double_value(&[]);
        let mass = if total > 0.0 {
            (&a * &roi).sum(Kind::Double).double_value(&[]) / total
        } else {
            r.warnings.push("all-zero map: mass counted as the box's area share (a uniform map's)".into());
            area
        };
        let k = roi.sum(Kind::Double).double_value(&[]);
        let top = ranks(&a).lt(k as i64).to_kind(Kind::Double);
        let rank = (top * &roi).sum(Kind::Double).double_value(&[]) / k.max(1.0);
        r.values = vec![
            ("mass".into(), mass),
            ("mass_vs_uniform".into(), mass / area.max(f64::MIN_POSITIVE)),
            ("rank".into(), rank),
        ];
        Ok(r)
    }
}

impl Build<MetricKind> for RelevanceMass {
    type Params = RelevanceMassParams;
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(RelevanceMass { p }))
    }
}
crate::register!(MetricKind, RelevanceMass);
