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
use super::{auc, pearson};
use crate::error::Result;
use crate::rng::SplitMix;
use tch::{Kind, Tensor};

/// Target scores of a batch of embedded sentences, in forward batches of `batch`.
fn target_scores(logit: &dyn Fn(&Tensor) -> Result<Tensor>, embs: &Tensor, target: i64, batch: i64) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    let n = embs.size()[0];
    let mut start = 0;
    while start < n {
        let len = batch.max(1).min(n - start);
        let l = tch::no_grad(|| logit(&embs.narrow(0, start, len)))?.view(-1).sigmoid().to_kind(Kind::Double).to_device(tch::Device::Cpu);
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
pub fn insertion_deletion(logit: &dyn Fn(&Tensor) -> Result<Tensor>, emb: &Tensor, scores: &[f64], target: i64, words_per_step: usize, top_fraction: f64, batch: i64) -> Result<(Vec<f64>, Vec<f64>)> {
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

/// [(n, correlation)] for n = int(f·T), f = 0.1, 0.2, … 1.0 (n ≥ 1, repeated n dropped), and the
/// n at which the correlation was undefined (counted 0).
pub fn sensitivity_n(logit: &dyn Fn(&Tensor) -> Result<Tensor>, emb: &Tensor, scores: &[f64], target: i64, num_masks: usize, seed: u64, batch: i64) -> Result<(Vec<(usize, f64)>, Vec<usize>)> {
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
