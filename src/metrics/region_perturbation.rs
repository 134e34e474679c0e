//! Region perturbation / degradation (Samek et al. 2017; the IBA paper's MoRF/LeRF, spec §6.5):
//! tiles of `tile_size` ranked by their summed heat are set to 0 (normalised space) cumulatively,
//! most relevant first (MoRF) and least relevant first (LeRF); the curve is the target's softmax
//! minus the unperturbed one. Values: `morf_auc`, `lerf_auc` (trapezoid, dx = 1/len) and
//! `lerf_minus_morf` (larger is better: removing what the map calls relevant hurts more).
use super::perturb::{ranks, scores, Score};
use super::{auc, EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionPerturbationParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Tile side in pixels (the IBA paper: 8 and 14).
    pub tile_size: i64,
    /// Tiles removed in all, 0 = every tile (Quantus: 100).
    pub max_steps: i64,
    pub batch_size: i64,
}

impl Default for RegionPerturbationParams {
    fn default() -> Self {
        RegionPerturbationParams { type_: "RegionPerturbation".into(), tile_size: 8, max_steps: 0, batch_size: 64 }
    }
}

pub struct RegionPerturbation {
    p: RegionPerturbationParams,
}

/// Target softmax after removing (setting to 0) the first 1..=steps tiles of side `t` in the order
/// of `tile_rank` [th,tw] (0 = first), in forward batches of `batch`.
pub(super) fn tile_curve(
    model: &dyn Classifier,
    x: &Tensor,
    tile_rank: &Tensor,
    t: i64,
    steps: i64,
    batch: i64,
    target: i64,
) -> Result<Vec<f64>> {
    let (h, w) = (x.size()[1], x.size()[2]);
    let rank = tile_rank.to_device(x.device());
    scores(model, steps, batch, target, Score::Softmax, |a, b| {
        let k = Tensor::arange_start(a + 1, b + 1, (Kind::Int64, x.device())).view([-1, 1, 1]);
        let gone = rank.unsqueeze(0).lt_tensor(&k).to_kind(Kind::Float).unsqueeze(1); // [n,1,th,tw]
        let gone = gone
            .repeat_interleave_self_int(t, 2, None)
            .repeat_interleave_self_int(t, 3, None)
            .narrow(2, 0, h)
            .narrow(3, 0, w);
        x.unsqueeze(0) * (gone.ones_like() - gone)
    })
}

/// Ranks (0 = most heat) of the map's tiles of side `t` by their summed heat, [th,tw].
pub(super) fn tile_ranks(map: &Tensor, t: i64) -> Tensor {
    let (h, w) = (map.size()[0], map.size()[1]);
    let (th, tw) = ((h + t - 1) / t, (w + t - 1) / t);
    let padded = map.to_kind(Kind::Double).constant_pad_nd([0, tw * t - w, 0, th * t - h]);
    ranks(&padded.view([th, t, tw, t]).sum_dim_intlist([1, 3].as_slice(), false, Kind::Double))
}

impl Metric for RegionPerturbation {
    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let x = s.sample.input.to_device(s.device);
        let (t, batch) = (self.p.tile_size, self.p.batch_size);
        let morf_rank = tile_ranks(s.map, t);
        let n = morf_rank.numel() as i64;
        let steps = if self.p.max_steps > 0 { self.p.max_steps.min(n) } else { n };
        let clean = scores(model, 1, 1, s.target, Score::Softmax, |_, _| x.unsqueeze(0))?[0];
        let lerf_rank = morf_rank.full_like(n - 1) - &morf_rank;
        let rel = |v: Vec<f64>| v.into_iter().map(|p| p - clean).collect::<Vec<_>>();
        let morf = rel(tile_curve(model, &x, &morf_rank, t, steps, batch, s.target)?);
        let lerf = rel(tile_curve(model, &x, &lerf_rank, t, steps, batch, s.target)?);
        let (m, l) = (auc(&morf), auc(&lerf));
        let mut r = SampleResult {
            values: vec![("morf_auc".into(), m), ("lerf_auc".into(), l), ("lerf_minus_morf".into(), l - m)],
            ..Default::default()
        };
        r.curves = vec![("morf".into(), morf), ("lerf".into(), lerf)];
        Ok(r)
    }
}

impl Build<MetricKind> for RegionPerturbation {
    type Params = RegionPerturbationParams;
    fn validate(p: &Self::Params) -> crate::config::Checked {
        use crate::config::validate::*;
        at_least("tile_size", p.tile_size, 1)?;
        at_least("batch_size", p.batch_size, 1)
    }
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(RegionPerturbation { p }))
    }
}
crate::register!(MetricKind, RegionPerturbation);
