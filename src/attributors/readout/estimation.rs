//! The Readout Bottleneck's estimators (spec §2.1): a Welford estimator on every readout layer and
//! on the bottleneck, all fed by one forward pass per batch of the classifier, over the first
//! `n_samples` of the train split (IBA's notebook: 10,000 ImageNet train images). Cached in the
//! run's state folder under a key of everything the estimate depends on.
use super::ReadoutParams;
use crate::attributors::{AttributionCtx, Welford};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::models::Classifier;
use tch::Tensor;

/// One estimator per layer of `layers`, in that order: reloaded from `cx.state_dir` when there,
/// else computed (and saved there). `identity` says which data `data` is.
pub(super) fn cached_or_run(
    model: &dyn Classifier,
    data: &dyn Dataset,
    identity: &str,
    layers: &[String],
    p: &ReadoutParams,
    cx: &AttributionCtx,
) -> Result<Vec<Welford>> {
    let n = p.n_samples.min(data.len());
    let names: Vec<String> = (0..n).map(|i| data.name(i)).collect();
    let source = format!("{}|{identity}|{}|{}|{}", cx.model_digest, data.len(), names.join("/"), layers.join(","));
    let key = format!("readout_estimators_n{}_{}", n, crate::io::digest::text(&source));
    let dir = cx.state_dir.as_ref().map(|d| d.join(key));
    if let Some(d) = dir.as_ref().filter(|d| d.join("done").is_file()) {
        log::info!("readout estimators: reusing {}", d.display());
        return layers.iter().map(|l| Welford::load(&d.join(format!("{l}.safetensors")), cx.device)).collect();
    }
    let est = run(model, data, layers, n, p.estimation_batch_size, cx.device)?;
    if let Some(d) = &dir {
        for (l, e) in layers.iter().zip(&est) {
            e.save(&d.join(format!("{l}.safetensors")))?;
        }
        crate::io::atomic::write(&d.join("done"), b"")?;
    }
    Ok(est)
}

fn run(
    model: &dyn Classifier,
    data: &dyn Dataset,
    layers: &[String],
    n: usize,
    batch: usize,
    device: tch::Device,
) -> Result<Vec<Welford>> {
    if n < 2 {
        return Err(Error::Data(format!("the readout estimators need at least 2 samples; the train split has {n}")));
    }
    let asked: Vec<&str> = layers.iter().map(String::as_str).collect();
    let mut est: Vec<Welford> = layers.iter().map(|_| Welford::new()).collect();
    let bar = crate::logging::progress(n as u64, "estimation");
    for start in (0..n).step_by(batch.max(1)) {
        let end = (start + batch.max(1)).min(n);
        let inputs = (start..end).map(|i| data.get(i).map(|s| s.input)).collect::<Result<Vec<_>>>()?;
        let x = model.embed(&Tensor::stack(&inputs, 0).to_device(device))?;
        let outs = tch::no_grad(|| model.features_many(&x, &asked))?;
        for (e, o) in est.iter_mut().zip(&outs) {
            e.update(o);
        }
        bar.inc((end - start) as u64);
    }
    bar.finish_and_clear();
    log::info!("readout estimators: {n} samples at {}", layers.join(", "));
    Ok(est)
}
