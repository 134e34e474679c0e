//! What a SENN shows beside its per-sample explanations (spec peers §2.8): the test accuracy, and
//! for images the seed's concept representations: per concept the `num_prototypes` images (of the
//! test split, as the seed, or of the train split) with the highest activation h_k ("activation"),
//! those with the highest h_k − Σ_{j≠k} h_j ("contrast"), and the last encoder convolution's
//! filters ("filter").
use super::SelfExplanationParams;
use crate::attributors::{grid, FitReport};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::fitting::{Batch, Rows};
use crate::modality::Modality;
use crate::models::Classifier;
use tch::{Kind, Tensor};

/// Tiles of a prototype grid are enlarged to at least this many pixels a side.
const TILE: i64 = 42;

/// The test accuracy of `model` on `test`, and for image models the prototypes from `source`.
pub(super) fn report(
    model: &dyn Classifier,
    test: Option<&dyn Dataset>,
    source: Option<&dyn Dataset>,
    p: &SelfExplanationParams,
    device: tch::Device,
) -> Result<FitReport> {
    let mut report = FitReport::default();
    let mut test_h = None;
    if let Some(test) = test {
        let (h, right) = concepts(model, test, p.batch_size, device)?;
        report.figures.insert("test_accuracy".into(), right as f64 / test.len() as f64);
        report.figures.insert("test_samples".into(), test.len() as f64);
        test_h = Some(h);
    }
    let Some(source) = source.filter(|_| model.modality() == Modality::Image) else {
        return Ok(report);
    };
    // prototypes from the test split reuse its concepts
    let h = match (test, test_h) {
        (Some(t), Some(h)) if std::ptr::addr_eq(t, source) => h,
        _ => concepts(model, source, p.batch_size, device)?.0,
    }; // [N,K]
    let n = (p.num_prototypes as i64).min(h.size()[0]);
    let contrast = &h * 2.0 - h.sum_dim_intlist(1, true, Kind::Float); // h_k − Σ_{j≠k} h_j
    let mut names = serde_json::Map::new();
    for (kind, scores) in [("activation", &h), ("contrast", &contrast)] {
        let (_, top) = scores.topk(n, 0, true, true); // [n,K]
        let (picture, chosen) = concept_rows(source, &top.transpose(0, 1))?;
        report.pictures.push((format!("senn_prototypes_{kind}"), picture));
        names.insert(kind.into(), serde_json::json!(chosen));
    }
    report.tables.push(("senn_prototypes".into(), serde_json::Value::Object(names)));
    if let Some(w) = model.self_explaining().and_then(|e| e.concept_filters()) {
        report.pictures.push(("senn_concept_filters".into(), filters(&w)));
    }
    Ok(report)
}

/// The concepts h [N,K] of every sample of `data` (eval mode, on the CPU) and how many of them
/// the model classifies right.
fn concepts(model: &dyn Classifier, data: &dyn Dataset, batch: usize, device: tch::Device) -> Result<(Tensor, i64)> {
    let explainer = model.self_explaining().ok_or_else(|| Error::Model("not a self-explaining model".into()))?;
    let all = Rows::all(data);
    if all.is_empty() {
        return Err(Error::Data("SelfExplanation: the split for its figures is empty".into()));
    }
    let (mut h, mut right) = (Vec::new(), 0i64);
    for at in all.batches(batch) {
        let b = Batch::load(&all, &at, device)?;
        let (hb, _) = explainer.concepts_and_relevances(&b.x);
        let pred = tch::no_grad(|| model.forward(&b.x)).argmax(-1, false);
        right += pred.eq_tensor(&b.y).sum(Kind::Int64).int64_value(&[]);
        h.push(hb.to_device(tch::Device::Cpu));
    }
    Ok((Tensor::cat(&h, 0), right))
}

/// One row per concept of the test images at `rows` [K,n] (denormalised), and their names.
fn concept_rows(test: &dyn Dataset, rows: &Tensor) -> Result<(Tensor, Vec<Vec<String>>)> {
    let (k, n) = (rows.size()[0], rows.size()[1]);
    let (mut tiles, mut names) = (Vec::new(), Vec::new());
    for c in 0..k {
        let mut concept = Vec::new();
        for j in 0..n {
            let i = rows.int64_value(&[c, j]) as usize;
            let s = test.get(i)?;
            tiles.push(test.transform().denormalize(&s.input.to_device(tch::Device::Cpu)));
            concept.push(s.name);
        }
        names.push(concept);
    }
    let tiles = grid::enlarge(&Tensor::stack(&tiles, 0), TILE);
    Ok((grid::tile(&tiles, n), names))
}

/// Filters [K,C,kh,kw] as K rows of C tiles, each concept's filters min–max scaled together.
fn filters(w: &Tensor) -> Tensor {
    let w = w.to_device(tch::Device::Cpu).to_kind(Kind::Float);
    let c = w.size()[1];
    let lo = w.amin(&[1i64, 2, 3][..], true);
    let hi = w.amax(&[1i64, 2, 3][..], true);
    let scaled = (&w - &lo) / (hi - &lo).clamp_min(1e-12);
    let tiles = scaled.flatten(0, 1).unsqueeze(1); // [K·C,1,kh,kw]
    grid::tile(&grid::enlarge(&tiles, TILE), c)
}
