//! The estimator of feature IBA (spec §3.1): per-element mean, std and activity of the bottleneck
//! layer over the estimation split, cached in the run's state folder under a key of everything the
//! estimate depends on, and shared by the shards of one run.
use super::FeatureIbaParams;
use crate::attributors::{AttributionCtx, OriginalNlpWelford, Welford};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::models::Classifier;
use std::path::Path;
use tch::Tensor;

/// The estimate for `p` on `data`: reloaded from `cx.state_dir` when there, else computed (and
/// saved there). `identity` says which data `data` is beyond its samples' names.
pub(super) fn cached_or_run(
    model: &dyn Classifier,
    data: &dyn Dataset,
    identity: &str,
    p: &FeatureIbaParams,
    cx: &AttributionCtx,
) -> Result<Welford> {
    // keyed by everything that decides the estimate (the model's weights, the estimation split
    // and the samples read from it, the settings), so nothing stale is ever reused
    let names: Vec<String> = (0..samples_read(p, data.len())).map(|i| data.name(i)).collect();
    let source = format!("{}|{identity}|{}|{}", cx.model_digest, data.len(), names.join("/"));
    let key = format!(
        "estimator_{}_n{}_b{}{}{}_{}.safetensors",
        p.layer,
        p.n_samples,
        p.estimation_batch_size,
        if p.estimation_overshoot { "_overshoot" } else { "" },
        if p.original_nlp_estimator { "_original_nlp" } else { "" },
        crate::io::digest::text(&source)
    );
    let cache = cx.state_dir.as_ref().map(|d| d.join(key));
    // shards of one run share the estimate: one computes it, the others wait and reuse it
    let _lock = cache.as_ref().map(|c| crate::io::lock::FileLock::acquire(&c.with_extension("lock"))).transpose()?;
    match cache.as_ref().filter(|c| c.is_file()) {
        Some(c) => {
            log::info!("estimator: reusing {}", c.display());
            let est = Welford::load(c, cx.device)?;
            check_shape(model, data, p, &est, c, cx.device)?;
            Ok(est)
        }
        None => {
            let est = run(model, data, p, cx.device)?;
            if let Some(c) = &cache {
                est.save(c)?;
            }
            Ok(est)
        }
    }
}

/// The most samples the estimator reads from a split of `len` (the original's break test reads one
/// batch more than `n_samples`).
fn samples_read(p: &FeatureIbaParams, len: usize) -> usize {
    let bs = p.estimation_batch_size.max(1);
    if p.estimation_overshoot { p.n_samples + bs } else { p.n_samples }.min(len)
}

/// A cached estimate must fit the layer it is used at: one forward of the first sample says what
/// the layer gives (text: one value per hidden unit, pooled over the steps).
fn check_shape(
    model: &dyn Classifier,
    data: &dyn Dataset,
    p: &FeatureIbaParams,
    est: &Welford,
    file: &Path,
    device: tch::Device,
) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let x = data.get(0)?.input.to_device(device).unsqueeze(0);
    let f = tch::no_grad(|| model.features(&model.embed(&x)?, &p.layer))?.size();
    let want = if model.modality().is_sequence() { f[f.len() - 1..].to_vec() } else { f[1..].to_vec() };
    let have = est.mean()?.size();
    if have != want {
        return Err(Error::file(
            file,
            format!("a cached estimate of shape {have:?}, but `{}` gives {want:?}: delete the file", p.layer),
        ));
    }
    Ok(())
}

/// Welford over the layer's output for the first `n_samples` of `data` (spec §3.1).
fn run(model: &dyn Classifier, data: &dyn Dataset, p: &FeatureIbaParams, device: tch::Device) -> Result<Welford> {
    let mut est = Welford::new();
    let mut original = p.original_nlp_estimator.then(OriginalNlpWelford::new);
    let bs = p.estimation_batch_size.max(1);
    let bar = crate::logging::progress(samples_read(p, data.len()) as u64, "estimation");
    let mut i = 0;
    // samples (images or sentences) seen; for text the estimator itself counts tokens
    let mut done = 0usize;
    while i < data.len() {
        if (p.estimation_overshoot && done > p.n_samples) || (!p.estimation_overshoot && done >= p.n_samples) {
            break;
        }
        let end = if p.estimation_overshoot {
            (i + bs).min(data.len())
        } else {
            (i + bs).min(data.len()).min(i + p.n_samples - done)
        };
        let imgs = (i..end).map(|k| data.get(k).map(|s| s.input.to_device(device))).collect::<Result<Vec<_>>>()?;
        let features = |x: &Tensor| tch::no_grad(|| model.features(&model.embed(x)?, &p.layer));
        if let Some(original) = original.as_mut() {
            original.update(
                &imgs
                    .iter()
                    .map(|im| features(&im.unsqueeze(0)).map(|f| f.squeeze_dim(0)))
                    .collect::<Result<Vec<_>>>()?,
            )?;
        } else if model.modality() == Modality::Tokens {
            // sentences differ in length: per sentence, every step one observation of [H]
            for im in &imgs {
                est.update(&features(&im.unsqueeze(0))?.flatten(0, 1));
            }
        } else {
            est.update(&features(&Tensor::stack(&imgs, 0))?);
        }
        bar.inc((end - i) as u64);
        done += end - i;
        i = end;
    }
    bar.finish_and_clear();
    if let Some(original) = original {
        est = original.into_welford(device);
    }
    if done < p.n_samples {
        log::warn!("estimation used {done} samples, fewer than n_samples = {} (the dataset is smaller)", p.n_samples);
    }
    log::info!("estimator: {done} samples ({} observations) at {}", est.n_samples(), p.layer);
    Ok(est)
}
