//! Sensitivity-N (Ancona et al. 2018; spec §6.3): for each n, random masks of n pixels (the same
//! masks for every image); per image the Pearson correlation, over the masks, between the heat under
//! the mask and the drop of the target's logit when those pixels are set to 0 (normalised space, all
//! channels). Values `corr@n` per image; the aggregate is their mean per n.
//!
//! Fixed against the original: the model is in eval mode (the original leaves VGG's dropout on);
//! `log_n_max` is clamped to log10(H·W), the real limit (the original checks it against ln(H·W)
//! and crashes above log10); a correlation that is undefined because the summed heat (or the logit
//! drop) is constant over the masks, e.g. for a uniform map, is 0 with a warning instead of NaN.
use super::perturb::{scores, to_vec, Score};
use super::{pearson, EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensitivityNParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// n runs over unique(int(logspace(0, log_n_max, int(log_n_max / 0.1)))) (original: 4.5).
    pub log_n_max: f64,
    /// Masks per n (original: 100).
    pub num_masks: usize,
    pub batch_size: i64,
    /// Seeds the masks (shared by all images).
    pub seed: u64,
}

impl Default for SensitivityNParams {
    fn default() -> Self {
        SensitivityNParams { type_: "SensitivityN".into(), log_n_max: 4.5, num_masks: 100, batch_size: 100, seed: 2021 }
    }
}

pub struct SensitivityN {
    p: SensitivityNParams,
    masks: Option<MaskSet>,
}

/// The masks for one image size: n values and, per n, [num_masks, H·W] of 0/1.
struct MaskSet {
    size: [i64; 2],
    ns: Vec<i64>,
    sets: Vec<Tensor>,
}

/// The original's n values for an image of `hw` pixels, with log_n_max clamped to log10(hw).
pub fn n_values(log_n_max: f64, hw: i64) -> Vec<i64> {
    let top = log_n_max.min((hw as f64).log10());
    let count = (top / 0.1) as i64;
    let mut v: Vec<i64> = (0..count.max(1))
        .map(|i| if count <= 1 { 1.0 } else { 10f64.powf(top * i as f64 / (count - 1) as f64) } as i64)
        .collect();
    v.dedup();
    v
}

/// `count` masks of n of `hw` pixels each, without replacement within a mask.
fn random_masks(rng: &mut SplitMix, n: i64, hw: i64, count: usize) -> Tensor {
    let hw = hw as usize;
    let mut m = vec![0f32; count * hw];
    let mut idx: Vec<usize> = (0..hw).collect();
    for row in m.chunks_mut(hw) {
        for i in 0..(n as usize).min(hw) {
            let j = i + rng.below((hw - i) as u64) as usize;
            idx.swap(i, j);
            row[idx[i]] = 1.0;
        }
    }
    Tensor::from_slice(&m).view([count as i64, hw as i64])
}

impl SensitivityN {
    fn mask_set(&mut self, h: i64, w: i64) -> &MaskSet {
        if self.masks.as_ref().is_none_or(|m| m.size != [h, w]) {
            let ns = n_values(self.p.log_n_max, h * w);
            let mut rng = SplitMix::new(self.p.seed);
            let sets = ns.iter().map(|&n| random_masks(&mut rng, n, h * w, self.p.num_masks)).collect();
            self.masks = Some(MaskSet { size: [h, w], ns, sets });
        }
        self.masks.as_ref().expect("set above")
    }
}

impl Metric for SensitivityN {
    fn curve_x(&self, _curve: &str) -> Option<Vec<f64>> {
        self.masks.as_ref().map(|m| m.ns.iter().map(|&n| n as f64).collect())
    }

    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let x = s.sample.input.to_device(s.device);
        let (h, w) = (x.size()[1], x.size()[2]);
        let batch = self.p.batch_size;
        let heat = s.map.to_kind(Kind::Double).reshape([h * w, 1]);
        let clean = scores(model, 1, 1, s.target, Score::Logit, |_, _| x.unsqueeze(0))?[0];
        let set = self.mask_set(h, w);
        let mut r = SampleResult::default();
        let mut curve = Vec::new();
        let mut undefined = Vec::new();
        for (n, masks) in set.ns.iter().zip(&set.sets) {
            let attr = to_vec(&masks.to_kind(Kind::Double).matmul(&heat))?;
            let md = masks.to_device(s.device);
            let out = scores(model, masks.size()[0], batch, s.target, Score::Logit, |a, b| {
                let keep = md.narrow(0, a, b - a).view([b - a, 1, h, w]).ones_like()
                    - md.narrow(0, a, b - a).view([b - a, 1, h, w]);
                x.unsqueeze(0) * keep
            })?;
            let drop: Vec<f64> = out.iter().map(|v| clean - v).collect();
            let c = pearson(&attr, &drop).unwrap_or_else(|| {
                undefined.push(*n);
                0.0
            });
            r.values.push((format!("corr@{n}"), c));
            curve.push(c);
        }
        if !undefined.is_empty() {
            r.warnings.push(format!(
                "correlation undefined (constant heat or score over the masks) at n = {undefined:?}: counted as 0"
            ));
        }
        r.values.push(("mean_corr".into(), curve.iter().sum::<f64>() / curve.len().max(1) as f64));
        r.curves.push(("sensitivity_n".into(), curve));
        Ok(r)
    }
}

impl Build<MetricKind> for SensitivityN {
    type Params = SensitivityNParams;
    fn validate(p: &Self::Params) -> crate::config::Checked {
        use crate::config::validate::*;
        at_least("num_masks", p.num_masks as i64, 2)?;
        at_least("batch_size", p.batch_size, 1)?;
        non_negative("log_n_max", p.log_n_max)
    }
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(SensitivityN { p, masks: None }))
    }
}
crate::register!(MetricKind, SensitivityN);
