//! VIBI's training set (spec peers §1.2): the black box's softmax probabilities over the whole
//! train split, computed once (eval mode, no gradient) and cached in the run's state folder, then
//! split 90/10 by a seeded permutation into the part the explainer trains on and the part that
//! picks the best epoch. The seed uses `random_split(…, generator.manual_seed(1))`; libtorch's
//! `randperm` after `manual_seed(1)` draws the same permutation, so the split is the seed's.
use crate::attributors::AttributionCtx;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::fitting::{Batch, Rows};
use crate::models::Classifier;
use tch::{Kind, Tensor};

/// The black box's probabilities [N, classes] over `data` (on the CPU): from the state folder
/// when a run with the same model and split made them, else computed and saved there.
pub(super) fn cached_or_run(
    model: &dyn Classifier,
    data: &dyn Dataset,
    identity: &str,
    batch: usize,
    cx: &AttributionCtx,
) -> Result<Tensor> {
    refuse_random_reads(data)?;
    let names: Vec<String> = (0..data.len()).map(|i| data.name(i)).collect();
    let source = format!("{}|{identity}|{}|{}", cx.model_digest, data.len(), names.join("/"));
    let path =
        cx.state_dir.as_ref().map(|d| d.join(format!("vibi_targets_{}.safetensors", crate::io::digest::text(&source))));
    if let Some(p) = path.as_ref().filter(|p| p.is_file()) {
        let named = Tensor::read_safetensors(p).map_err(|e| Error::file(p, e.to_string()))?;
        let probs = named.into_iter().find(|(n, _)| n == "probs").map(|(_, t)| t);
        match probs {
            Some(t) if t.size() == [data.len() as i64, model.num_classes()] => {
                log::info!("vibi: the black box's targets from {}", p.display());
                return Ok(t);
            }
            _ => return Err(Error::file(p, "not the black box's targets for this split; delete it")),
        }
    }
    let probs = run(model, data, batch, cx.device)?;
    if let Some(p) = &path {
        crate::io::atomic::with_temp(p, |tmp| {
            Tensor::write_safetensors(&[("probs", &probs)], tmp).map_err(|e| Error::file(p, e.to_string()))
        })?;
    }
    Ok(probs)
}

/// One eval-mode pass of the black box over `data`, in order.
fn run(model: &dyn Classifier, data: &dyn Dataset, batch: usize, device: tch::Device) -> Result<Tensor> {
    let bar = crate::logging::progress(data.len() as u64, "vibi targets");
    let all = Rows::all(data);
    let mut parts = Vec::new();
    for at in all.batches(batch) {
        let b = Batch::load(&all, &at, device)?;
        parts.push(tch::no_grad(|| model.forward(&b.x).softmax(-1, Kind::Float)).to_device(tch::Device::Cpu));
        bar.inc(at.len() as u64);
    }
    bar.finish_and_clear();
    Ok(Tensor::cat(&parts, 0))
}

/// The targets are one per image, so a split that gives another image on each read (random
/// augmentation) would pair images with another version's probabilities.
fn refuse_random_reads(data: &dyn Dataset) -> Result<()> {
    if data.is_empty() {
        return Err(Error::Fit("the train split holds no samples".into()));
    }
    if !data.get(0)?.input.equal(&data.get(0)?.input) {
        return Err(Error::ConfigMsg(format!(
            "data.train gives another image each time it reads `{}` (augmentation?): VIBI computes the black \
             box's targets once per image, as the seed does; turn the augmentation off (data.train.augment = false)",
            data.name(0)
        )));
    }
    Ok(())
}

/// The seed's 90/10 split of `n` rows: (train rows, validation rows), from a permutation drawn
/// after `manual_seed(seed)`; the caller's generator state is left as libtorch leaves it.
pub(super) fn split(n: usize, valid_fraction: f64, seed: i64) -> (Vec<usize>, Vec<usize>) {
    tch::manual_seed(seed);
    let perm: Vec<i64> = Vec::try_from(Tensor::randperm(n as i64, (Kind::Int64, tch::Device::Cpu))).expect("int64");
    let n_valid = ((n as f64 * valid_fraction).round() as usize).min(n.saturating_sub(1));
    let rows: Vec<usize> = perm.into_iter().map(|i| i as usize).collect();
    let (train, valid) = rows.split_at(n - n_valid);
    (train.to_vec(), valid.to_vec())
}
