//! Effective Heat Ratio (InputIBA, spec §6.4): keep heat ≥ `base_threshold` as the points of
//! interest; for quantiles q = 0, 0.1, …, 1 of their heat, threshold t_q = min(quantile, 0.99·max),
//! and take the share of the region B_q = {heat ≥ t_q} that lies in the ROI (weighted by heat, or
//! counted); EHR = the trapezoid area of that ratio over q. The ROI is the target's boxes, or a
//! binary mask per image (`roi = "masks"`, the original's `--roi masks`).
//!
//! Fixed against the original: an empty set of points of interest (a map below the threshold
//! everywhere) crashes the original's `np.quantile`; here it scores 0 with a warning.
use super::{target_roi_with, EvalSample, Metric, SampleResult};
use crate::error::{Error, Result};
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
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
    /// `boxes`: the target's ground-truth boxes; `masks`: binary masks (the original's `--roi masks`).
    pub roi: Roi,
    /// Boxes include their xmax/ymax pixel (VOC's convention). False (default): the original's
    /// `mask[y1:y2, x1:x2]`, one row and column fewer.
    pub inclusive_box_end: bool,
    /// With `roi = "masks"`: a folder of `<name>.png`, non-zero = the region of interest, any size
    /// (resized to the map's by nearest neighbour).
    pub mask_dir: PathBuf,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Roi {
    #[default]
    Boxes,
    Masks,
}

impl Default for EhrParams {
    fn default() -> Self {
        EhrParams {
            type_: "Ehr".into(),
            base_threshold: 0.1,
            quantiles: 11,
            weight_by_heat: false,
            max_roi_area: 0.33,
            roi: Roi::Boxes,
            inclusive_box_end: false,
            mask_dir: PathBuf::new(),
        }
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
        heat /= 255.0;
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

impl Ehr {
    /// The sample's ROI mask [H,W] 0/1 at the map's size; `None` (with a warning) when it covers
    /// more than `max_roi_area`.
    fn mask_roi(&self, s: &EvalSample, r: &mut SampleResult) -> Result<Option<Tensor>> {
        let path = self.p.mask_dir.join(format!("{}.png", s.sample.name));
        if !path.is_file() {
            return Err(Error::file(&path, "no ROI mask for this sample: put `<name>.png` (non-zero = region of interest) in the metric's mask_dir"));
        }
        let img =
            image::open(&path).map_err(|e| Error::file(&path, format!("not a readable PNG mask: {e}")))?.to_luma8();
        let (w, h) = img.dimensions();
        let (mh, mw) = (s.map.size()[0], s.map.size()[1]);
        let roi = Tensor::from_slice(img.as_raw())
            .view([1, 1, h as i64, w as i64])
            .gt(0)
            .to_kind(Kind::Float)
            .upsample_nearest2d([mh, mw], None, None)
            .view([mh, mw])
            .to_kind(Kind::Double);
        let area = roi.mean(Kind::Double).double_value(&[]);
        if area > self.p.max_roi_area {
            r.warnings.push(format!(
                "mask covers {:.0}% of the image (> {:.0}%): skipped",
                area * 100.0,
                self.p.max_roi_area * 100.0
            ));
            return Ok(None);
        }
        Ok(Some(roi))
    }
}

impl Metric for Ehr {
    fn evaluate(&mut self, _model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let mut r = SampleResult::default();
        let roi = match self.p.roi {
            Roi::Boxes => target_roi_with(s, &mut r, self.p.max_roi_area, self.p.inclusive_box_end).map(|(roi, _)| roi),
            Roi::Masks => self.mask_roi(s, &mut r)?,
        };
        let Some(roi) = roi else { return Ok(r) };
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
        if p.roi == Roi::Masks && !p.mask_dir.is_dir() {
            return Err(Error::ConfigMsg(format!(
                "Ehr: roi = \"masks\" needs mask_dir, a folder of <name>.png masks; `{}` is not one",
                p.mask_dir.display()
            )));
        }
        Ok(Box::new(Ehr { p }))
    }
}
crate::register!(MetricKind, Ehr);
