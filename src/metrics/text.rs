//! The NLP variants of insertion/deletion and Sensitivity-N (spec §6.2–6.3), on one sentence's
//! word embeddings [T,E] and its per-word scores [T]. The model enters as `logit(emb [N,T,E]) →
//! [N]` (for the DeepLSTM: `run_to` + `classify` with every length T), so the functions serve any
//! text model. Scores of the target: σ(logit) for target 1, 1 − σ(logit) for target 0.
//!
//! Insertion/deletion (original): words in order of score, `words_per_step` (2) a step, only the
//! top `top_fraction` (0.4) of the words; deletion zeroes their embeddings, insertion writes them
//! into an all-zero sentence; `batch` (32) snapshots per forward; AUC with dx = 1/len. As in the
//! vision metric, every snapshot is scored on its own (the original shares one live tensor).
//! Sensitivity-N: n = int(f·T) for f = 0.1 … 1.0, `num_masks` (100) random word sets per n, the
//! logit drop (sign-flipped for target 0) against the summed scores, Pearson per n; the model in
//! eval mode (the original leaves dropout on); an undefined correlation is 0, reported.
//!
//! Registered as `TextInsertionDeletion` and `TextSensitivityN` for `tools/eval` on a text work
//! dir (`--metric text_insertion_deletion text_sensitivity_n`).
use super::{auc, pearson, EvalSample, Metric, SampleResult};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Target scores of a batch of embedded sentences, in forward batches of `batch`.
fn target_scores(
    logit: &dyn Fn(&Tensor) -> Result<Tensor>,
    embs: &Tensor,
    target: i64,
    batch: i64,
) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    let n = embs.size()[0];
    let mut start = 0;
    while start < n {
        let len = batch.max(1).min(n - start);
        let l = tch::no_grad(|| logit(&embs.narrow(0, start, len)))?
            .view(-1)
            .sigmoid()
            .to_kind(Kind::Double)
            .to_device(tch::Device::Cpu);
        let p = if target == 1 { l } else { 1.0 - l };
        out.extend(super::perturb::to_vec(&p)?);
        start += len;
    }
    Ok(out)
}

/// Word order by descending score, ties to the earlier word.
fn order(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// (insertion curve, deletion curve) of one sentence.
pub fn insertion_deletion(
    logit: &dyn Fn(&Tensor) -> Result<Tensor>,
    emb: &Tensor,
    scores: &[f64],
    target: i64,
    words_per_step: usize,
    top_fraction: f64,
    batch: i64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let t = scores.len();
    let top = ((top_fraction * t as f64) as usize).max(1).min(t);
    let steps = top.div_ceil(words_per_step.max(1));
    let ranked = order(scores);
    // masks[k][w] = 1 when word w is among the first (k+1)·words_per_step ranked
    let mut m = vec![0f32; steps * t];
    for k in 0..steps {
        for &w in ranked.iter().take(((k + 1) * words_per_step).min(top)) {
            m[k * t + w] = 1.0;
        }
    }
    let taken = Tensor::from_slice(&m).view([steps as i64, t as i64, 1]).to_device(emb.device());
    let x = emb.unsqueeze(0);
    let deletion = target_scores(logit, &(&x * (taken.ones_like() - &taken)), target, batch)?;
    let insertion = target_scores(logit, &(&x * &taken), target, batch)?;
    Ok((insertion, deletion))
}

/// AUCs (insertion, deletion) of the curves above.
pub fn insertion_deletion_auc(curves: &(Vec<f64>, Vec<f64>)) -> (f64, f64) {
    (auc(&curves.0), auc(&curves.1))
}

/// (n, Pearson correlation) per word-set size.
pub type NCorrelations = Vec<(usize, f64)>;

/// [(n, correlation)] for n = int(f·T), f = 0.1, 0.2, … 1.0 (n ≥ 1, repeated n dropped), and the
/// n at which the correlation was undefined (counted 0).
pub fn sensitivity_n(
    logit: &dyn Fn(&Tensor) -> Result<Tensor>,
    emb: &Tensor,
    scores: &[f64],
    target: i64,
    num_masks: usize,
    seed: u64,
    batch: i64,
) -> Result<(NCorrelations, Vec<usize>)> {
    let t = scores.len();
    let sign = if target == 1 { 1.0 } else { -1.0 };
    let clean = sign * tch::no_grad(|| logit(&emb.unsqueeze(0)))?.double_value(&[0]);
    let mut rng = SplitMix::new(seed);
    let mut ns: Vec<usize> = (1..=10).map(|i| ((i as f64 / 10.0) * t as f64) as usize).filter(|&n| n >= 1).collect();
    ns.dedup();
    let (mut out, mut undefined) = (Vec::new(), Vec::new());
    for n in ns {
        let mut m = vec![0f32; num_masks * t];
        for row in m.chunks_mut(t) {
            let mut idx: Vec<usize> = (0..t).collect();
            for i in 0..n {
                let j = i + rng.below((t - i) as u64) as usize;
                idx.swap(i, j);
                row[idx[i]] = 1.0;
            }
        }
        let attr: Vec<f64> = m.chunks(t).map(|row| row.iter().zip(scores).map(|(&a, s)| a as f64 * s).sum()).collect();
        let masks = Tensor::from_slice(&m).view([num_masks as i64, t as i64, 1]).to_device(emb.device());
        let embs = emb.unsqueeze(0) * (masks.ones_like() - masks);
        let mut drops = Vec::with_capacity(num_masks);
        let mut start = 0;
        while start < num_masks as i64 {
            let len = batch.max(1).min(num_masks as i64 - start);
            let l = tch::no_grad(|| logit(&embs.narrow(0, start, len)))?.view(-1);
            drops.extend(super::perturb::to_vec(&l)?.into_iter().map(|v| clean - sign * v));
            start += len;
        }
        let c = pearson(&attr, &drops).unwrap_or_else(|| {
            undefined.push(n);
            0.0
        });
        out.push((n, c));
    }
    Ok((out, undefined))
}

/// The target's logit of a two-class text classifier on embedded sentences [N,T,E] → [N]: the
/// difference of its two logits, the original's single logit (DeepLstm answers [0, l]).
fn two_class_logit(model: &dyn Classifier) -> impl Fn(&Tensor) -> Result<Tensor> + '_ {
    |emb: &Tensor| {
        let out = model.forward(emb);
        Ok(out.select(1, 1) - out.select(1, 0))
    }
}

/// The sentence's word embeddings [T,E] and its per-word scores (the map's row mean: the
/// original averages the 50×T strip over its rows).
fn sentence(model: &dyn Classifier, s: &EvalSample) -> Result<(Tensor, Vec<f64>)> {
    if model.num_classes() != 2 {
        return Err(Error::ConfigMsg(format!(
            "the text metrics need a two-class (sentiment) model; this one has {} classes",
            model.num_classes()
        )));
    }
    let emb = model.embed(&s.sample.input.to_device(s.device).unsqueeze(0))?.squeeze_dim(0);
    let scores = super::perturb::to_vec(&s.map.mean_dim(0, false, Kind::Double))?;
    Ok((emb, scores))
}

/// `ys` read at `points` evenly spaced places from its start to its end (linear interpolation),
/// so that curves of sentences of different lengths can be averaged.
fn resample(ys: &[f64], points: usize) -> Vec<f64> {
    if ys.len() < 2 || points < 2 {
        return vec![ys.first().copied().unwrap_or(0.0); points.max(1)];
    }
    (0..points)
        .map(|i| {
            let at = i as f64 * (ys.len() - 1) as f64 / (points - 1) as f64;
            let (k, frac) = (at.floor() as usize, at.fract());
            ys[k] + (ys[(k + 1).min(ys.len() - 1)] - ys[k]) * frac
        })
        .collect()
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextInsertionDeletionParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Words replaced per step (the original: 2).
    pub words_per_step: usize,
    /// Only this top share of the words is inserted or deleted (the original: 0.4).
    pub top_fraction: f64,
    /// Perturbed sentences per forward (the original: 32).
    pub batch_size: i64,
    /// The mean curves in `metrics.json` and the plots: each sentence's curve resampled at this
    /// many points (sentences differ in length); the AUCs use the curves as they are.
    pub curve_points: usize,
}

impl Default for TextInsertionDeletionParams {
    fn default() -> Self {
        TextInsertionDeletionParams {
            type_: "TextInsertionDeletion".into(),
            words_per_step: 2,
            top_fraction: 0.4,
            batch_size: 32,
            curve_points: 20,
        }
    }
}

/// Insertion/deletion on text (the module's first half), as a registered metric.
pub struct TextInsertionDeletion {
    p: TextInsertionDeletionParams,
}

impl Metric for TextInsertionDeletion {
    fn modality(&self) -> Modality {
        Modality::Tokens
    }
    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let (emb, scores) = sentence(model, s)?;
        let curves = insertion_deletion(
            &two_class_logit(model),
            &emb,
            &scores,
            s.target,
            self.p.words_per_step,
            self.p.top_fraction,
            self.p.batch_size,
        )?;
        let (ins, del) = insertion_deletion_auc(&curves);
        let mut r = SampleResult::default();
        if scores.iter().all(|&v| v == scores[0]) {
            r.warnings.push("constant map: words taken in reading order".into());
        }
        r.values = vec![("ins_auc".into(), ins), ("del_auc".into(), del)];
        r.curves = vec![
            ("insertion".into(), resample(&curves.0, self.p.curve_points)),
            ("deletion".into(), resample(&curves.1, self.p.curve_points)),
        ];
        Ok(r)
    }
}

impl Build<MetricKind> for TextInsertionDeletion {
    type Params = TextInsertionDeletionParams;
    fn validate(p: &Self::Params) -> crate::config::Checked {
        use crate::config::validate::*;
        at_least("words_per_step", p.words_per_step as i64, 1)?;
        at_least("batch_size", p.batch_size, 1)?;
        at_least("curve_points", p.curve_points as i64, 2)?;
        positive("top_fraction", p.top_fraction)?;
        within("top_fraction", p.top_fraction, 0.0, 1.0)
    }
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(TextInsertionDeletion { p }))
    }
}
crate::register!(MetricKind, TextInsertionDeletion);

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextSensitivityNParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Random word sets per n (the original: 100).
    pub num_masks: usize,
    pub batch_size: i64,
    /// Seeds the word sets, mixed with the sentence's name.
    pub seed: u64,
}

impl Default for TextSensitivityNParams {
    fn default() -> Self {
        TextSensitivityNParams { type_: "TextSensitivityN".into(), num_masks: 100, batch_size: 100, seed: 2021 }
    }
}

/// Sensitivity-N on text (the module's second half), as a registered metric. Values `corr@0.1` …
/// `corr@1.0` by the fraction of the sentence's words in a set (undefined ones 0, as the image
/// metric), and `corr_mean` over the defined ones. At 1.0 every set is the whole sentence, so the
/// correlation is always undefined there (the original's mean is NaN); it stays on the curve as 0.
pub struct TextSensitivityN {
    p: TextSensitivityNParams,
}

/// The original's fractions 0.1, 0.2, … 1.0.
fn fractions() -> Vec<f64> {
    (1..=10).map(|i| i as f64 / 10.0).collect()
}

impl Metric for TextSensitivityN {
    fn modality(&self) -> Modality {
        Modality::Tokens
    }
    fn curve_x(&self, _curve: &str) -> Option<Vec<f64>> {
        Some(fractions())
    }
    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let (emb, scores) = sentence(model, s)?;
        let seed = crate::rng::sample_seed(self.p.seed, &s.sample.name) as u64;
        let (by_n, undefined) =
            sensitivity_n(&two_class_logit(model), &emb, &scores, s.target, self.p.num_masks, seed, self.p.batch_size)?;
        let t = scores.len();
        let mut r = SampleResult::default();
        // a short sentence repeats an n across fractions; n = 0 (fewer than 10 words) has no value
        let found: Vec<(usize, f64)> = fractions()
            .iter()
            .filter_map(|f| by_n.iter().find(|(n, _)| *n == (f * t as f64) as usize).copied())
            .collect();
        let curve: Vec<f64> = found.iter().map(|(_, c)| *c).collect();
        for (f, c) in fractions().iter().zip(&curve) {
            r.values.push((format!("corr@{f:.1}"), *c));
        }
        let defined: Vec<f64> = found.iter().filter(|(n, _)| !undefined.contains(n)).map(|(_, c)| *c).collect();
        if !defined.is_empty() {
            r.values.push(("corr_mean".into(), defined.iter().sum::<f64>() / defined.len() as f64));
        }
        if curve.len() == fractions().len() {
            r.curves = vec![("sensitivity_n".into(), curve)];
        } else {
            r.warnings.push(format!("{t} words: no word set for the smallest fractions, left out of the mean curve"));
        }
        let unexpected: Vec<usize> = undefined.iter().copied().filter(|&n| n != t).collect();
        if !unexpected.is_empty() {
            r.warnings.push(format!(
                "correlation undefined (constant summed scores or logit drops) at n = {unexpected:?}: counted 0"
            ));
        }
        Ok(r)
    }
}

impl Build<MetricKind> for TextSensitivityN {
    type Params = TextSensitivityNParams;
    fn validate(p: &Self::Params) -> crate::config::Checked {
        use crate::config::validate::*;
        at_least("num_masks", p.num_masks as i64, 2)?;
        at_least("batch_size", p.batch_size, 1)
    }
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(TextSensitivityN { p }))
    }
}
crate::register!(MetricKind, TextSensitivityN);
