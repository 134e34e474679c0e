//! A fitted explainer's costs (`tools/bench` on a `ReadoutBottleneck` or `Vibi` config):
//! training per epoch and per step, and attribution (explanation) images per second one at a time
//! and in the config's batches, the figure to hold against per-sample methods.
use super::random_inputs;
use crate::attributors::{AttributionCtx, Attributor, Split, Splits};
use crate::data::{Dataset, Sample};
use crate::error::Result;
use crate::registry::{self, AttributorKind, BuildCtx};
use crate::run::Run;
use std::time::Instant;

#[derive(Debug, serde::Serialize)]
pub struct FittedReport {
    pub device: String,
    pub threads: i32,
    /// Train images given to the fit, those an epoch trains on (VIBI holds `valid_fraction` back
    /// to pick the best epoch), and the batch size.
    pub train_images: usize,
    pub epoch_images: usize,
    pub train_batch_size: usize,
    /// One epoch (the second of two, so the estimators, VIBI's targets and its warm-up are not in
    /// it).
    pub seconds_per_epoch: f64,
    pub seconds_per_step: f64,
    pub attribution_images: usize,
    pub images_per_s_single: f64,
    pub images_per_s_batched: f64,
    pub batch_size: usize,
}

/// Trains the config's explainer for one and for two epochs on the first `n_train` train
/// images (the difference is one epoch), then times attribution on `n_images` attribution images
/// (random images of side `random` for both when given).
pub fn run_fitted(run: &Run, n_train: usize, n_images: usize, random: Option<i64>) -> Result<FittedReport> {
    let mut model = run.model()?;
    model.freeze();
    // random images of the attribution side where the data is not here (VGG16 at 224²)
    let train = match random {
        Some(side) => random_inputs(run, model.as_ref(), n_train, side),
        None => run.dataset("train")?,
    };
    let n_train = n_train.min(train.len());
    let subset = First { data: train, n: n_train };
    let cx = AttributionCtx { device: run.device, seed: run.cfg.seed, ..Default::default() };
    let readout = run.fig.extract_inner::<String>("attributor.type").is_ok_and(|t| t == "ReadoutBottleneck");
    let build = |epochs: usize| -> Result<Box<dyn Attributor>> {
        let mut fig = run.fig.clone().merge(("attributor.fit.epochs", epochs));
        if readout {
            fig = fig.merge(("attributor.n_samples", n_train)); // the estimators on the same images
        }
        let attr = registry::build::<AttributorKind>(
            &fig,
            "attributor",
            &BuildCtx { device: run.device, load_weights: true },
        )?;
        attr.check(model.as_ref())?;
        Ok(attr)
    };
    let fitted = |epochs: usize| -> Result<(Box<dyn Attributor>, f64)> {
        let mut attr = build(epochs)?;
        let t = Instant::now();
        attr.fit(model.as_ref(), &Splits::one(Split::Train, &subset), &cx)?;
        Ok((attr, t.elapsed().as_secs_f64()))
    };
    let (_, one) = fitted(1)?;
    let (mut attr, two) = fitted(2)?;
    let train_batch_size: usize = run.fig.extract_inner("attributor.fit.batch_size").unwrap_or(32);
    let epoch = (two - one).max(0.0);
    let held_back = match readout {
        true => 0.0,
        false => run
            .fig
            .extract_inner("attributor.valid_fraction")
            .unwrap_or(crate::attributors::vibi::VibiParams::default().valid_fraction),
    };
    let epoch_images = n_train - (n_train as f64 * held_back).round() as usize;
    let data: Box<dyn Dataset> = match random {
        Some(side) => random_inputs(run, model.as_ref(), n_images, side),
        None => run.dataset("attribution")?,
    };
    let samples = (0..n_images.min(data.len())).map(|i| data.get(i)).collect::<Result<Vec<Sample>>>()?;
    attr.attribute(model.as_ref(), &samples[0], &cx)?; // warm-up
    let t = Instant::now();
    for s in &samples {
        attr.attribute(model.as_ref(), s, &cx)?;
    }
    let single = samples.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for chunk in samples.chunks(attr.batch_size()) {
        attr.attribute_batch(model.as_ref(), chunk, &cx)?;
    }
    let batched = samples.len() as f64 / t.elapsed().as_secs_f64();
    Ok(FittedReport {
        device: format!("{:?}", run.device),
        threads: tch::get_num_threads(),
        train_images: n_train,
        train_batch_size,
        seconds_per_epoch: epoch,
        epoch_images,
        seconds_per_step: epoch / epoch_images.div_ceil(train_batch_size) as f64,
        attribution_images: samples.len(),
        images_per_s_single: single,
        images_per_s_batched: batched,
        batch_size: attr.batch_size(),
    })
}

/// The first `n` samples of a split.
struct First {
    data: Box<dyn Dataset>,
    n: usize,
}

impl Dataset for First {
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, i: usize) -> Result<Sample> {
        self.data.get(i)
    }
    fn name(&self, i: usize) -> String {
        self.data.name(i)
    }
    fn class_names(&self) -> &[String] {
        self.data.class_names()
    }
    fn transform(&self) -> &crate::data::ImageTransform {
        self.data.transform()
    }
    fn modality(&self) -> crate::modality::Modality {
        self.data.modality()
    }
}
