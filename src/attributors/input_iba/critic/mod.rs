//! InputIBA's Wasserstein critics (spec §3.3, §4.4) and how they train: N samples' critics at once,
//! one RMSprop step on −mean D(real) + mean D(fake) per sample, then every parameter clamped.
//!
//! Two ways to compute the vision critic: [`ConvCritic`], the original's layers under autograd
//! (libtorch's convolutions: cuDNN on a GPU), and [`GemmCritic`], the same function with its
//! gradients written out by hand as matrix products over only the kernel taps that land inside
//! the map (on the CPU, where the convolution kernels are slow on these 8×8 → 2×2 maps).
mod conv;
mod flat_rmsprop;
mod gemm;
mod sequence;
mod taps;

pub use conv::ConvCritic;
pub use gemm::GemmCritic;
pub use sequence::SequenceCritic;

use crate::attributors::Streams;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Convolutions (in, out, kernel, stride, padding) per copy, for C feature channels.
fn convs(c: i64) -> [(i64, i64, i64, i64, i64); 3] {
    [(c, 2 * c, 4, 2, 1), (2 * c, 4 * c, 4, 2, 1), (4 * c, c, 3, 1, 1)]
}

/// The MLP's widths for a [C,h,w] map: the flattened last conv, 512, 256, 1.
fn mlp_dims(c: i64, h: i64, w: i64) -> [i64; 4] {
    [c * (h / 4) * (w / 4), 512, 256, 1]
}

/// LeakyReLU(0.2).
fn leaky(x: &Tensor) -> Tensor {
    x.maximum(&(x * 0.2))
}

/// PyTorch's default init of conv and linear layers: weight and bias ~ U(±1/√fan_in)
/// (`kaiming_uniform_(a=√5)`); BN γ = 1, β = 0.
fn default_init(shape: &[i64], fan_in: i64, device: Device) -> Tensor {
    let b = 1.0 / (fan_in as f64).sqrt();
    Tensor::empty(shape, (Kind::Float, device)).uniform_(-b, b)
}

/// One critic copy's initial (weight, bias) pairs in PyTorch's layouts: the convolutions'
/// ([out,in,k,k], [out]), then the linear layers' ([out,in], [1,out]).
type CopyInit = (Vec<[Tensor; 2]>, Vec<[Tensor; 2]>);

/// Copy k's initial parameters, drawn from stream k in the original's order, whichever way the
/// critic is then computed (so both give the same critic).
fn draw_copies(c: i64, h: i64, w: i64, device: Device, streams: &mut Streams) -> Vec<CopyInit> {
    let dims = mlp_dims(c, h, w);
    (0..streams.len())
        .map(|k| {
            streams.seeded(k, || {
                let conv = convs(c)
                    .iter()
                    .map(|&(i, o, kk, _, _)| {
                        [default_init(&[o, i, kk, kk], i * kk * kk, device), default_init(&[o], i * kk * kk, device)]
                    })
                    .collect();
                let fc = dims
                    .windows(2)
                    .map(|d| [default_init(&[d[1], d[0]], d[0], device), default_init(&[1, d[1]], d[0], device)])
                    .collect();
                (conv, fc)
            })
        })
        .collect()
}

/// How the vision critic is computed. Both are the original's network; they differ by float
/// rounding (tests/critic.rs bounds it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticKernels {
    /// `gemm` on the CPU, `convolution` on a GPU.
    #[default]
    Auto,
    /// libtorch's convolutions under autograd, as the original.
    Convolution,
    /// Hand-written forward and backward as matrix products over the valid taps ([`GemmCritic`]).
    Gemm,
}

/// The RMSprop step and clipping of the critic (the original's WGAN: RMSprop(lr), α 0.99, ε 1e-8).
#[derive(Clone, Copy, Debug)]
pub struct CriticTraining {
    pub lr: f64,
    pub clip: f64,
}

pub const RMSPROP_ALPHA: f64 = 0.99;
pub const RMSPROP_EPS: f64 = 1e-8;

/// A Wasserstein critic of N samples' feature maps at once, trained with weight clipping.
pub trait CriticNet {
    /// One critic update on real and fake [N,B,…] (sample k's batch is x[k]): the losses
    /// −mean D(real) + mean D(fake), [N]; their sum weighted by `weight` [N] (None: all 1) is
    /// what RMSprop descends, then every parameter (BN's γ and β included, as the original) is
    /// clamped to ±clip.
    fn train_step(&mut self, real: &Tensor, fake: &Tensor, weight: Option<&Tensor>) -> Result<Tensor>;
    /// The generator's losses −mean D(fake), [N]; the gradient of their weighted sum is sent back
    /// through `fake`'s autograd graph (the critic's parameters take none: the next critic step
    /// starts from zero gradients anyway).
    fn generator_backward(&mut self, fake: &Tensor, weight: Option<&Tensor>) -> Result<Tensor>;
    /// Scores [N,B] of x [N,B,…], without gradients (for inspection and tests).
    fn score(&self, x: &Tensor) -> Tensor;
    fn parameters(&self) -> Vec<Tensor>;
    /// The largest |parameter| (to check the clipping).
    fn max_abs_parameter(&self) -> f64 {
        self.parameters().iter().map(|t| t.abs().max().double_value(&[])).fold(0.0, f64::max)
    }
}

/// A critic network whose gradients autograd computes.
pub trait Scorer {
    /// x [N,B,…] → scores [N,B], differentiable.
    fn score(&self, x: &Tensor) -> Tensor;
    fn parameters(&self) -> Vec<Tensor>;
}

/// Σ_k w_k loss_k, or Σ_k loss_k.
fn weighted_sum(loss: &Tensor, weight: Option<&Tensor>) -> Tensor {
    match weight {
        Some(w) => (loss * w).sum(Kind::Float),
        None => loss.sum(Kind::Float),
    }
}

/// A [`Scorer`] trained by autograd and libtorch's RMSprop, as the original trains its critic.
pub struct Autograd<S: Scorer> {
    net: S,
    opt: tch::COptimizer,
    clip: f64,
}

impl<S: Scorer> Autograd<S> {
    pub fn new(net: S, t: CriticTraining) -> Result<Self> {
        let mut opt = tch::COptimizer::rms_prop(t.lr, RMSPROP_ALPHA, RMSPROP_EPS, 0.0, 0.0, false)?;
        for v in net.parameters() {
            opt.add_parameters(&v, 0)?;
        }
        Ok(Autograd { net, opt, clip: t.clip })
    }
}

impl<S: Scorer> CriticNet for Autograd<S> {
    fn train_step(&mut self, real: &Tensor, fake: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
        self.opt.zero_grad()?;
        let loss = -self.net.score(real).mean_dim(1, false, Kind::Float)
            + self.net.score(fake).mean_dim(1, false, Kind::Float);
        weighted_sum(&loss, weight).backward();
        self.opt.step()?;
        tch::no_grad(|| {
            for v in self.net.parameters() {
                let _ = v.shallow_clone().clamp_(-self.clip, self.clip);
            }
        });
        Ok(loss.detach())
    }

    fn generator_backward(&mut self, fake: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
        let params = self.net.parameters();
        for v in &params {
            let _ = v.set_requires_grad(false);
        }
        let loss = -self.net.score(fake).mean_dim(1, false, Kind::Float);
        weighted_sum(&loss, weight).backward();
        for v in &params {
            let _ = v.set_requires_grad(true);
        }
        Ok(loss.detach())
    }

    fn score(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.net.score(x))
    }

    fn parameters(&self) -> Vec<Tensor> {
        self.net.parameters()
    }
}

/// The vision critic for [C,h,w] maps of `streams.len()` samples, computed as `kernels` says.
pub fn vision(
    c: i64,
    h: i64,
    w: i64,
    device: Device,
    streams: &mut Streams,
    kernels: CriticKernels,
    t: CriticTraining,
) -> Result<Box<dyn CriticNet>> {
    let gemm = match kernels {
        CriticKernels::Auto => device == Device::Cpu,
        CriticKernels::Convolution => false,
        CriticKernels::Gemm => true,
    };
    Ok(if gemm {
        Box::new(GemmCritic::new(c, h, w, device, streams, t))
    } else {
        Box::new(Autograd::new(ConvCritic::new(c, h, w, device, streams), t)?)
    })
}

/// The text critic (one sentence at a time).
pub fn sequence(h: i64, device: Device, streams: &mut Streams, t: CriticTraining) -> Result<Box<dyn CriticNet>> {
    Ok(Box::new(Autograd::new(SequenceCritic::new(h, device, streams), t)?))
}
