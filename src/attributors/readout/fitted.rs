//! The Readout Bottleneck's maths once its estimators have run (spec §2.1): α from the readouts,
//! then the Per-Sample Bottleneck's formula on the bottleneck layer (sigmoid, smoothing, noise, KL),
//! the training loss and the capacity a map is made of.
use super::network::{normalised, ReadoutNet, ReadoutStats};
use super::ReadoutParams;
use crate::attributors::bottleneck::{capacity, noisy_features, GaussianSmoothing};
use crate::attributors::Welford;
use crate::error::{Error, Result};
use crate::fitting::{Batch, Step, Trainable};
use crate::models::Classifier;
use tch::{Kind, Tensor};

/// The bottleneck layer's prior (spec §1.4).
struct Prior {
    mean: Tensor,
    std: Tensor,
    active: Tensor,
}

pub struct Readout {
    p: ReadoutParams,
    /// Every layer the forward pass reads: the readouts, then the bottleneck if it is none of them.
    layers: Vec<String>,
    /// Position of the bottleneck layer in `layers`.
    at: usize,
    estimators: Vec<Welford>,
    stats: Vec<ReadoutStats>,
    prior: Prior,
    smooth: Option<GaussianSmoothing>,
    pub net: ReadoutNet,
}

/// The layers one forward pass reads for `p`, and where the bottleneck sits among them.
pub fn layers(p: &ReadoutParams) -> (Vec<String>, usize) {
    let mut layers = p.readouts.clone();
    let at = match layers.iter().position(|l| *l == p.layer) {
        Some(k) => k,
        None => {
            layers.push(p.layer.clone());
            layers.len() - 1
        }
    };
    (layers, at)
}

impl Readout {
    /// Builds the network for the estimators' shapes (one per layer of [`layers`]); its initial
    /// weights come from libtorch's generator.
    pub fn new(p: &ReadoutParams, estimators: Vec<Welford>, device: tch::Device) -> Result<Self> {
        let (layers, at) = layers(p);
        if estimators.len() != layers.len() {
            return Err(Error::Fit(format!("{} estimators for {} layers", estimators.len(), layers.len())));
        }
        let stats = estimators[..p.readouts.len()]
            .iter()
            .map(|e| {
                Ok(ReadoutStats {
                    mean: e.mean()?.to_device(device),
                    std: e.std()?.clamp_min(p.min_std).to_device(device),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let b = &estimators[at];
        let prior = Prior {
            mean: b.mean()?.to_device(device),
            std: b.std()?.clamp_min(p.min_std).to_device(device),
            active: b.active_neurons(p.active_neurons_threshold)?.to_device(device),
        };
        let shape = prior.mean.size();
        if shape.len() != 3 {
            return Err(Error::ConfigMsg(format!(
                "attributor.layer = `{}` gives {shape:?} per sample; the bottleneck needs a [C,H,W] feature map",
                p.layer
            )));
        }
        let f_in: i64 = stats.iter().map(|s| s.mean.size()[0]).sum();
        let net = ReadoutNet::new(f_in, shape[0], p.architecture, p.initial_alpha, p.alpha_clamp, device);
        let smooth = (p.sigma > 0.0).then(|| GaussianSmoothing::new(p.sigma, shape[0], device));
        Ok(Readout { p: p.clone(), layers, at, estimators, stats, prior, smooth, net })
    }

    /// The estimators as checkpoint tensors (`<layer>/m`, …).
    pub fn estimator_state(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for (l, e) in self.layers.iter().zip(&self.estimators) {
            out.extend(e.named()?.into_iter().map(|(n, t)| (format!("{l}/{n}"), t)));
        }
        Ok(out)
    }

    /// The bottleneck layer's output R and λ = smooth(σ(α)) for a batch of model inputs.
    pub fn lambda(&self, model: &dyn Classifier, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let asked: Vec<&str> = self.layers.iter().map(String::as_str).collect();
        let outs = tch::no_grad(|| model.features_many(x, &asked))?;
        for ((o, s), l) in outs.iter().zip(&self.stats).zip(&self.layers) {
            if o.size()[1..] != s.mean.size()[..] {
                return Err(Error::Model(format!(
                    "readout `{l}` gives {:?} per sample, the estimators were made for {:?} (another input size?)",
                    &o.size()[1..],
                    s.mean.size()
                )));
            }
        }
        let r = outs[self.at].shallow_clone();
        let size = [r.size()[2], r.size()[3]];
        let alpha = self.net.alpha(&normalised(&outs[..self.stats.len()], &self.stats, self.p.normalise), size);
        let lambda = alpha.sigmoid();
        let lambda = match &self.smooth {
            Some(s) => s.apply(&lambda),
            None => lambda,
        };
        Ok((r, lambda))
    }

    /// Per-element capacity [B,C,H,W] in nats, active-masked (spec §1.5).
    pub fn capacity(&self, r: &Tensor, lambda: &Tensor) -> Tensor {
        capacity(&((r - &self.prior.mean) / &self.prior.std), lambda) * &self.prior.active
    }

    /// Cross-entropy of each sample's own class: logits [B,classes], classes [B] → [B]. A gather
    /// (the notebook's `[:, target]` builds a B×B matrix, spec §2.1).
    pub fn class_loss(logits: &Tensor, classes: &Tensor) -> Tensor {
        -logits.log_softmax(-1, Kind::Float).gather(1, &classes.unsqueeze(1), false).squeeze_dim(1)
    }
}

impl Trainable for Readout {
    fn parameters(&self) -> Vec<(String, Tensor)> {
        self.net.parameters()
    }

    /// CE of the labels through the noised bottleneck + β · mean capacity (spec §2.1).
    fn losses(&self, model: &dyn Classifier, b: &Batch, _at: Step) -> Result<Vec<(&'static str, Tensor)>> {
        let (x, y) = (model.embed(&b.x)?, &b.y);
        let (r, lambda) = self.lambda(model, &x)?;
        let mut z =
            noisy_features(&r, &lambda, &r.randn_like(), &self.prior.mean, &self.prior.std) * &self.prior.active;
        if self.p.relu {
            z = z.relu();
        }
        let cls = Self::class_loss(&model.head(&z, &self.p.layer)?, y).mean(Kind::Float);
        let info = self.capacity(&r, &lambda).mean(Kind::Float);
        let loss = &cls + &info * self.p.beta;
        Ok(vec![("loss", loss), ("cls_loss", cls), ("info_loss", info)])
    }

    fn extra_state(&self) -> Result<Vec<(String, Tensor)>> {
        self.estimator_state()
    }
}
