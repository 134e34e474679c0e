//! Insertion and deletion (spec §6.2; Petsiuk et al. 2018, as InputIBA evaluates): pixels in order
//! of heat, `pixel_batch_size` per step, all channels. Deletion writes 0 (normalised space, the
//! mean colour) into the image; insertion writes the image's pixels into a blurred copy. The curve
//! is the target's softmax after each step; its AUC (trapezoid, dx = 1/len) is `del_auc`/`ins_auc`.
//!
//! Fixed against the original: every step is scored on its own snapshot (the original's perturber
//! returns its live tensor, so a forward batch of 80 saw only the batch's last state, and its curves
//! were staircases). Kept for comparability, and switchable: the blur kernel `int(2σ−1)` (9 px for
//! σ 5) and the curve without its unperturbed start.
use super::perturb::{gaussian_blur, ranks, scores, Score};
use super::{auc, EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InsertionDeletionParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Pixels perturbed per step (the original: 10).
    pub pixel_batch_size: i64,
    /// σ of the insertion's blurred start (original 5; its tutorial uses 15).
    pub sigma: f64,
    /// Blur kernel size; 0 = the original's int(2σ − 1).
    pub kernel_size: i64,
    /// Perturbed images per forward (original: up to 80).
    pub batch_size: i64,
    /// Put the unperturbed start on the curve (the original leaves it off).
    pub include_start: bool,
}

impl Default for InsertionDeletionParams {
    fn default() -> Self {
        InsertionDeletionParams {
            type_: "InsertionDeletion".into(),
            pixel_batch_size: 10,
            sigma: 5.0,
            kernel_size: 0,
            batch_size: 80,
            include_start: false,
        }
    }
}

pub struct InsertionDeletion {
    p: InsertionDeletionParams,
}

impl InsertionDeletion {
    pub fn new(p: InsertionDeletionParams) -> Self {
        InsertionDeletion { p }
    }

    /// The curve of one direction: `start` with the first k·p ranked pixels taken from `fill`.
    fn curve(
        &self,
        model: &dyn Classifier,
        start: &Tensor,
        fill: &Tensor,
        rank: &Tensor,
        target: i64,
    ) -> Result<Vec<f64>> {
        let hw = rank.numel() as i64;
        let steps = (hw + self.p.pixel_batch_size - 1) / self.p.pixel_batch_size;
        let first = if self.p.include_start { 0 } else { 1 };
        let rank = rank.to_device(start.device()).unsqueeze(0);
        scores(model, steps + 1 - first, self.p.batch_size, target, Score::Softmax, |a, b| {
            let k = Tensor::arange_start(a + first, b + first, (Kind::Int64, start.device())).view([-1, 1, 1])
                * self.p.pixel_batch_size;
            let taken = rank.lt_tensor(&k).unsqueeze(1).to_kind(Kind::Float); // [n,1,H,W]
            start.unsqueeze(0) * (taken.ones_like() - &taken) + fill.unsqueeze(0) * taken
        })
    }
}

impl Metric for InsertionDeletion {
    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let x = s.sample.input.to_device(s.device);
        let rank = ranks(s.map);
        let kernel = if self.p.kernel_size > 0 { self.p.kernel_size } else { (2.0 * self.p.sigma - 1.0) as i64 };
        let blurred = gaussian_blur(&x, kernel, self.p.sigma);
        let deletion = self.curve(model, &x, &x.zeros_like(), &rank, s.target)?;
        let insertion = self.curve(model, &blurred, &x, &rank, s.target)?;
        let mut r = SampleResult::default();
        if s.map.max().double_value(&[]) == s.map.min().double_value(&[]) {
            r.warnings.push("constant map: pixels taken in raster order".into());
        }
        r.values = vec![("ins_auc".into(), auc(&insertion)), ("del_auc".into(), auc(&deletion))];
        r.curves = vec![("insertion".into(), insertion), ("deletion".into(), deletion)];
        Ok(r)
    }
}

impl Build<MetricKind> for InsertionDeletion {
    type Params = InsertionDeletionParams;
    fn validate(p: &Self::Params) -> crate::config::Checked {
        use crate::config::validate::*;
        at_least("pixel_batch_size", p.pixel_batch_size, 1)?;
        at_least("batch_size", p.batch_size, 1)?;
        positive("sigma", p.sigma)
    }
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(InsertionDeletion::new(p)))
    }
}
crate::register!(MetricKind, InsertionDeletion);
