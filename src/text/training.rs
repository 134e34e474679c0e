//! Training a DeepLSTM from scratch (the text quickstart's classifier): padded batches with their
//! lengths, BCE on the single logit, Adam; test accuracy after each epoch.
use super::PAD;
use crate::error::{Error, Result};
use crate::models::DeepLstm;
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use tch::nn::OptimizerConfig;
use tch::Tensor;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextTrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
}

impl TextTrainConfig {
    pub fn validate(&self) -> crate::config::Checked {
        use crate::config::validate::{at_least, positive};
        at_least("epochs", self.epochs as i64, 1)?;
        at_least("batch_size", self.batch_size as i64, 1)?;
        positive("lr", self.lr)
    }
}

impl Default for TextTrainConfig {
    fn default() -> Self {
        TextTrainConfig { epochs: 5, batch_size: 32, lr: 2e-3 }
    }
}

/// Token ids of several sentences → ([T,B] padded with `<pad>`, lengths [B]).
pub fn pad_batch(sentences: &[&[i64]], device: tch::Device) -> (Tensor, Tensor) {
    let t = sentences.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
    let mut flat = vec![PAD; t * sentences.len()];
    for (b, s) in sentences.iter().enumerate() {
        for (i, &tok) in s.iter().enumerate() {
            flat[i * sentences.len() + b] = tok;
        }
    }
    let lengths: Vec<i64> = sentences.iter().map(|s| s.len().max(1) as i64).collect();
    (Tensor::from_slice(&flat).view([t as i64, sentences.len() as i64]).to_device(device), Tensor::from_slice(&lengths))
}

/// Share of `data` (ids, label) that the model gets right (logit > 0 ↔ positive).
pub fn accuracy(model: &DeepLstm, data: &[(Vec<i64>, i64)], batch: usize, device: tch::Device) -> Result<f64> {
    let mut right = 0usize;
    for chunk in data.chunks(batch.max(1)) {
        let (x, len) = pad_batch(&chunk.iter().map(|(s, _)| s.as_slice()).collect::<Vec<_>>(), device);
        let logits = tch::no_grad(|| model.logits(&x, &len))?.view(-1).to_device(tch::Device::Cpu);
        right += chunk
            .iter()
            .enumerate()
            .filter(|(i, (_, y))| (logits.double_value(&[*i as i64]) > 0.0) == (*y == 1))
            .count();
    }
    Ok(right as f64 / data.len().max(1) as f64)
}

/// Trains `model` on `train`; returns the test accuracy after each epoch.
pub fn train(
    model: &mut DeepLstm,
    train: &[(Vec<i64>, i64)],
    test: &[(Vec<i64>, i64)],
    cfg: &TextTrainConfig,
    seed: u64,
    device: tch::Device,
) -> Result<Vec<f64>> {
    tch::manual_seed(seed as i64 ^ 0x7e47);
    let vs = crate::models::Classifier::var_store_mut(model).expect("DeepLstm has a VarStore");
    let mut opt = tch::nn::Adam::default().build(vs, cfg.lr)?;
    let mut rng = SplitMix::new(seed);
    let mut accs = Vec::new();
    for epoch in 0..cfg.epochs {
        let mut order: Vec<usize> = (0..train.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut total = 0.0;
        for chunk in order.chunks(cfg.batch_size.max(1)) {
            let (x, len) = pad_batch(&chunk.iter().map(|&i| train[i].0.as_slice()).collect::<Vec<_>>(), device);
            let y = Tensor::from_slice(&chunk.iter().map(|&i| train[i].1 as f32).collect::<Vec<_>>())
                .view([-1, 1])
                .to_device(device);
            let out = model.run_to(&model.embed_seq(&x), 4, true);
            let loss = model.classify(&out, &len, true).binary_cross_entropy_with_logits::<Tensor>(
                &y,
                None,
                None,
                tch::Reduction::Mean,
            );
            let v = loss.double_value(&[]);
            if !v.is_finite() {
                return Err(Error::Model(format!("text classifier loss is {v} in epoch {epoch}")));
            }
            total += v * chunk.len() as f64;
            opt.backward_step(&loss);
        }
        let acc = accuracy(model, test, cfg.batch_size, device)?;
        log::info!("epoch {}: train loss {:.4}, test accuracy {acc:.3}", epoch + 1, total / train.len().max(1) as f64);
        accs.push(acc);
    }
    Ok(accs)
}
