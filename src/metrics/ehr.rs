//! Effective Heat Ratio (InputIBA, spec §6.4): keep heat ≥ `base_threshold` as the points of
//! interest; for quantiles q = 0, 0.1, …, 1 of their heat, threshold t_q = min(quantile, 0.99·max),
//! and take the share of the region B_q = {heat ≥ t_q} that lies in the ROI (weighted by heat, or
//! counted); EHR = the trapezoid area of that ratio over q. The ROI is the target's boxes.
//!
//! Fixed against the original: an empty set of points of interest (a map below the threshold
//! everywhere) crashes the original's `np.quantile`; here it scores 0 with a warning.
use super::{target_roi, EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EhrParams {
    #[serde(rename = "type")]
    pub type_: String,
    pub base_threshold: f64,
    /// Number of quantiles from 0 to 1 (original: 11).
    pub quantiles: usize,
    /// Weight the region by heat (the tool's `--weight`; its default is off, the tutorial's on).
    pub weight_by_heat: bool,
    /// Skip images whose ROI covers more than this share of the image (original: 0.33).
    pub max_roi_area: f64,
}

impl Default for EhrParams {
    fn default() -> Self {
        EhrParams { type_: "Ehr".into(), base_threshold: 0.1, quantiles: 11, weight_by_heat: false, max_roi_area: 0.33 }
    }
}

pub struct Ehr {
    p: EhrParams,
}

/// Linear-interpolation quantile (numpy's default) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// EHR of `heat` [H,W] (in [0,1]; divided by 255 when its max exceeds 1) against `roi` [H,W] 0/1;
/// `None` when no point reaches `base_threshold`.
pub fn effective_heat_ratio(heat: &Tensor, roi: &Tensor, p: &EhrParams) -> Option<f64> {
    let mut heat = heat.to_kind(Kind::Double).to_device(tch::Device::Cpu);
    if heat.max().double_value(&[]) > 1.0 {
        heat = heat / 255.0;
    }
    let heat = heat.where_scalarother(&heat.ge(p.base_threshold), 0.0);
    let h: Vec<f64> = Vec::try_from(heat.flatten(0, -1)).ok()?;
    let r: Vec<f64> = Vec::try_from(roi.to_kind(Kind::Double).flatten(0, -1)).ok()?;
    let mut poi: Vec<f64> = h.iter().copied().filter(|&v| v >= p.base_threshold).collect();
    if poi.is_empty() {
        return None;
    }
    poi.sort_by(f64::total_cmp);
    let max = h.iter().copied().fold(0.0, f64::max);
    let nq = p.quantiles.max(2);
    let ratios: Vec<f64> = (0..nq)
        .map(|i| {
            let t = quantile(&poi, i as f64 / (nq - 1) as f64).min(0.99 * max);
            let (mut inside, mut count) = (0.0, 0.0);
            for (v, roi) in h.iter().zip(&r) {
                if *v >= t {
                    count += 1.0;
                    inside += if p.weight_by_heat { v * roi } else { *roi };
                }
            }
            inside / (count + 1e-8)
        })
        .collect();
    let dq = 1.0 / (nq - 1) as f64;
    Some(ratios.windows(2).map(|w| (w[0] + w[1]) * 0.5 * dq).sum())
}

impl Metric for Ehr {
    fn evaluate(&mut self, _model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let mut r = SampleResult::default();
        let Some((roi, _)) = target_roi(s, &mut r, self.p.max_roi_area) else { return Ok(r) };
        let v = effective_heat_ratio(s.map, &roi, &self.p).unwrap_or_else(|| {
            r.warnings.push(format!("no heat reaches base_threshold {}: EHR 0", self.p.base_threshold));
            0.0
        });
        r.values.push(("ehr".into(), v));
        Ok(r)
    }
}

impl Build<MetricKind> for Ehr {
    type Params = EhrParams;
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(Ehr { p }))
    }
}
crate::register!(MetricKind, Ehr);
