//! Trains a classifier from a config (`[model]`, `[data.train]`, `[data.test]`,
//! `[train_classifier]`), for the quickstart and for small datasets of the user's. With noise
//! augmentation: a share of the training images is blended with N(0,1) noise in normalised space,
//! so that the classifier does not read pure noise as a class; otherwise every noise-based
//! explanation (IBA, InputIBA, SmoothGrad) lights up the background.
pub mod senn;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::models::Classifier;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::OptimizerConfig;
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TrainClassifierConfig {
    pub epochs: usize,
    pub batch_size: i64,
    /// Adam learning rate.
    pub lr: f64,
    pub weight_decay: f64,
    /// Fraction of training images blended with noise.
    pub noise_prob: f64,
    /// Blend weight t ~ U(0, noise_max_blend): x ← (1−t)·x + t·n, n ~ N(0, 1).
    pub noise_max_blend: f64,
    /// Fraction of each batch replaced by pure N(0,1) noise with a uniform target: the
    /// classifier learns that noise carries no class.
    pub noise_uniform_prob: f64,
    /// Fraction of training images whose background (outside their boxes; needs `with_bbox`) is
    /// blended with N(0,1) noise, weight ~ U(0, 1): the class must come from the object.
    pub background_noise_prob: f64,
}

impl TrainClassifierConfig {
    /// `epochs = 0` would save untrained weights as if they were a classifier.
    pub fn validate(&self) -> crate::config::Checked {
        use crate::config::validate::{at_least, non_negative, positive, within};
        at_least("epochs", self.epochs as i64, 1)?;
        at_least("batch_size", self.batch_size, 1)?;
        positive("lr", self.lr)?;
        non_negative("weight_decay", self.weight_decay)?;
        within("noise_prob", self.noise_prob, 0.0, 1.0)?;
        within("noise_max_blend", self.noise_max_blend, 0.0, 1.0)?;
        within("noise_uniform_prob", self.noise_uniform_prob, 0.0, 1.0)?;
        within("background_noise_prob", self.background_noise_prob, 0.0, 1.0)
    }
}

impl Default for TrainClassifierConfig {
    fn default() -> Self {
        TrainClassifierConfig {
            epochs: 6,
            batch_size: 32,
            lr: 1e-3,
            weight_decay: 0.0,
            noise_prob: 0.5,
            noise_max_blend: 0.5,
            noise_uniform_prob: 0.1,
            background_noise_prob: 0.0,
        }
    }
}

/// A (small) dataset in memory.
pub struct InMemory {
    /// [N,3,H,W] normalised images.
    pub x: Tensor,
    /// [N] labels.
    pub y: Tensor,
    /// [N,1,H,W]: 1 inside the sample's boxes, 0 outside; all ones for samples without boxes.
    pub foreground: Tensor,
}

pub fn load_all(data: &dyn Dataset, what: &str) -> Result<InMemory> {
    let bar = crate::logging::progress(data.len() as u64, what);
    let (mut xs, mut ys, mut fg) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..data.len() {
        let s = data.get(i)?;
        fg.push(crate::data::box_mask(&s.boxes, s.input.size()[1], s.input.size()[2]).unsqueeze(0));
        xs.push(s.input);
        ys.push(s.target);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(InMemory { x: Tensor::stack(&xs, 0), y: Tensor::from_slice(&ys), foreground: Tensor::stack(&fg, 0) })
}

/// Top-1 accuracy of `model` on (x, y), in eval mode and batches.
pub fn accuracy(model: &dyn Classifier, x: &Tensor, y: &Tensor, batch: i64, device: tch::Device) -> f64 {
    let n = x.size()[0];
    let mut correct = 0i64;
    tch::no_grad(|| {
        for start in (0..n).step_by(batch as usize) {
            let len = batch.min(n - start);
            let pred =
                model.forward(&x.narrow(0, start, len).to_device(device)).argmax(-1, false).to_device(tch::Device::Cpu);
            correct += pred.eq_tensor(&y.narrow(0, start, len)).sum(Kind::Int64).int64_value(&[]);
        }
    });
    correct as f64 / n.max(1) as f64
}

/// Trains `model` in place; returns the test accuracy after each epoch.
pub fn train(
    model: &mut dyn Classifier,
    train: &dyn Dataset,
    test: &dyn Dataset,
    cfg: &TrainClassifierConfig,
    seed: u64,
    device: tch::Device,
) -> Result<Vec<f64>> {
    tch::manual_seed(seed as i64 ^ 0x5eed);
    let tr = load_all(train, "train data")?;
    let te = load_all(test, "test data")?;
    let vs = model.var_store_mut().ok_or_else(|| Error::Model("this model type cannot be trained here".into()))?;
    let mut opt = tch::nn::Adam { wd: cfg.weight_decay, ..Default::default() }.build(vs, cfg.lr)?;
    let n = tr.x.size()[0];
    let mut history = Vec::new();
    for epoch in 0..cfg.epochs {
        let perm = Tensor::randperm(n, (Kind::Int64, tch::Device::Cpu));
        let bar = crate::logging::progress(n as u64, &format!("epoch {}", epoch + 1)).without_lines();
        let mut loss_sum = 0.0;
        for start in (0..n).step_by(cfg.batch_size as usize) {
            let len = cfg.batch_size.min(n - start);
            let idx = perm.narrow(0, start, len);
            let (x, q) = augment(
                &tr.x.index_select(0, &idx),
                &tr.y.index_select(0, &idx),
                &tr.foreground.index_select(0, &idx),
                model.num_classes(),
                cfg,
            );
            let logp = model.forward_t(&x.to_device(device), true).log_softmax(-1, Kind::Float);
            let loss = -(logp * q.to_device(device)).sum_dim_intlist(-1, false, Kind::Float).mean(Kind::Float);
            opt.backward_step(&loss);
            loss_sum += loss.double_value(&[]) * len as f64;
            bar.inc(len as u64);
        }
        bar.finish_and_clear();
        let acc = accuracy(model, &te.x, &te.y, 256, device);
        log::info!("epoch {}: train loss {:.4}, test accuracy {:.3}", epoch + 1, loss_sum / n as f64, acc);
        history.push(acc);
    }
    Ok(history)
}

/// Noise augmentation in normalised space: blends a random share of the batch with N(0,1) noise,
/// another share only outside the object boxes, and replaces a third share by pure noise with a
/// uniform target. Returns (images, target distributions [B,classes]).
fn augment(x: &Tensor, y: &Tensor, fg: &Tensor, classes: i64, cfg: &TrainClassifierConfig) -> (Tensor, Tensor) {
    let b = x.size()[0];
    let coin = |p: f64| Tensor::rand([b, 1, 1, 1], (Kind::Float, x.device())).lt(p).to_kind(Kind::Float);
    let bg_t =
        Tensor::rand([b, 1, 1, 1], (Kind::Float, x.device())) * coin(cfg.background_noise_prob) * (fg.ones_like() - fg);
    let x = &(x * (bg_t.ones_like() - &bg_t) + x.randn_like() * &bg_t);
    let t = Tensor::rand([b, 1, 1, 1], (Kind::Float, x.device())) * cfg.noise_max_blend * coin(cfg.noise_prob);
    let pure = coin(cfg.noise_uniform_prob);
    let t = &pure + (pure.ones_like() - &pure) * t;
    let xs = x * (t.ones_like() - &t) + x.randn_like() * &t;
    let onehot = y.one_hot(classes).to_kind(Kind::Float);
    let pure = pure.view([b, 1]);
    let q = &onehot * (pure.ones_like() - &pure) + pure / classes as f64;
    (xs, q)
}

/// Saves the weights atomically as `.safetensors` (or `.ot`).
pub fn save_weights(model: &mut dyn Classifier, path: &Path) -> Result<()> {
    let vs = model.var_store_mut().ok_or_else(|| Error::Model("this model type has no weights to save".into()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("safetensors").to_string();
    crate::io::atomic::with_temp(path, |tmp| {
        let tmp_ext = tmp.with_extension(&ext);
        vs.save(&tmp_ext).map_err(|e| Error::file(path, e.to_string()))?;
        std::fs::rename(&tmp_ext, tmp).map_err(|e| Error::io(tmp, e))
    })
}
