//! InputIBA's WGAN stage (spec §3.3): fit an input-space mask whose noisy images, seen at the
//! bottleneck layer, are distributed like the feature bottleneck's output. The "generator" is no
//! network: a mask logit θ_G over the input (initialised from the feature-IBA map in bits per pixel),
//! plus per-channel noise mean μ_G and std σ_G. The critic is the original's conv/MLP on the feature
//! map, trained as a Wasserstein critic with weight clipping; RMSprop for both sides.
use super::critic::{self, CriticKernels, CriticNet, CriticTraining};
use super::gan_stop::{GanStop, Settling};
use crate::attributors::{Curves, SampleCurves, Streams};
use crate::config::Checked;
use crate::error::Error;
use crate::error::Result;
use crate::modality::Modality;
use crate::models::Classifier;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WganParams {
    /// Size of the synthetic "real" dataset, split into sub-datasets of `sub_dataset_size`, each
    /// with its own noise N(μ_k, s_k²), μ_k ~ U(−2, 2), s_k ~ U(0, 5).
    pub dataset_size: i64,
    pub sub_dataset_size: i64,
    /// Critic learning rate (RMSprop).
    pub lr: f64,
    /// Generator learning rates of μ_G, σ_G and θ_G (hard-coded in the original).
    pub lr_mean: f64,
    pub lr_std: f64,
    pub lr_mask: f64,
    pub batch_size: i64,
    /// Every critic parameter is clamped to ±weight_clip after each critic step.
    pub weight_clip: f64,
    pub epochs: usize,
    /// The generator steps when the iteration index within the epoch is a multiple of this.
    pub critic_iter: usize,
    /// Mask of the "real" samples: "capacity" (the original: the raw KL in nats, not bounded to
    /// [0, 1]; spec §10.1) or "lambda" (the bottleneck's σ(α), as the paper describes).
    pub real_mask: RealMask,
    /// Compare feature maps after a ReLU (the original's effective behaviour: torchvision's
    /// in-place ReLU rectifies the hooked map; spec §10.3) or at the layer itself.
    pub post_relu: bool,
    /// Draw the "real" set's noise once per GAN (the original's text GAN) instead of on every
    /// access (its vision GAN).
    pub static_real: bool,
    /// End a sample's GAN once its mask has settled, `epochs` being then the most it trains
    /// (`[gan.stop]`; absent, the default: the original's fixed `epochs`). See [`GanStop`].
    pub stop: Option<GanStop>,
    /// How the vision critic is computed: "auto" (the default: "gemm" on the CPU, "convolution"
    /// on a GPU), "convolution" (libtorch's, under autograd, as the original) or "gemm" (matrix
    /// products over the valid kernel taps, gradients by hand; equal up to float rounding).
    pub critic_kernels: CriticKernels,
}

impl WganParams {
    /// Every value that would make a meaningless GAN is refused; `epochs = 0` is a legitimate
    /// choice (no GAN training: θ_G stays at the feature map, μ_G = 0, σ_G = 1).
    pub fn validate(&self) -> Checked {
        use crate::config::validate::{at_least, non_negative, positive};
        at_least("dataset_size", self.dataset_size, 1)?;
        at_least("sub_dataset_size", self.sub_dataset_size, 1)?;
        at_least("batch_size", self.batch_size, 1)?;
        at_least("critic_iter", self.critic_iter as i64, 1)?;
        positive("lr", self.lr)?;
        positive("lr_mean", self.lr_mean)?;
        positive("lr_std", self.lr_std)?;
        positive("lr_mask", self.lr_mask)?;
        non_negative("weight_clip", self.weight_clip)?;
        self.stop.as_ref().map_or(Ok(()), GanStop::validate)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RealMask {
    #[default]
    Capacity,
    Lambda,
}

impl Default for WganParams {
    fn default() -> Self {
        WganParams {
            dataset_size: 200,
            sub_dataset_size: 20,
            lr: 5e-5,
            lr_mean: 0.1,
            lr_std: 0.05,
            lr_mask: 0.003,
            batch_size: 32,
            weight_clip: 0.01,
            epochs: 20,
            critic_iter: 5,
            real_mask: RealMask::Capacity,
            post_relu: true,
            static_real: false,
            stop: None,
            critic_kernels: CriticKernels::Auto,
        }
    }
}

/// The learnable input masks and noise statistics, one set per sample.
pub struct Generator {
    /// θ_G [N,C,H,W]; μ_G and σ_G [N,C,1,1].
    pub theta: Tensor,
    pub mean: Tensor,
    pub std: Tensor,
}

impl Generator {
    /// x [N,C,H,W], z [N,B,C,H,W] → noisy images σ(θ)·x + (1 − σ(θ))·(σ_G z + μ_G), [N·B,C,H,W].
    fn images(&self, x: &Tensor, z: &Tensor) -> Tensor {
        let m = self.theta.sigmoid().unsqueeze(1);
        let noise = z * self.std.unsqueeze(1) + self.mean.unsqueeze(1);
        (&m * x.unsqueeze(1) + (m.ones_like() - &m) * noise).flatten(0, 1)
    }
}

/// What the GAN stage needs of N samples.
pub struct GanInput<'a> {
    pub model: &'a dyn Classifier,
    pub layer: &'a str,
    /// [N,C,H,W] normalised images.
    pub x: &'a Tensor,
    /// Feature-IBA capacity [N,C',h,w] (nats) and the bottleneck's λ [N,C',h,w].
    pub capacity: &'a Tensor,
    pub lambda: &'a Tensor,
    /// θ_G's initial values, shaped as x: the feature-IBA map broadcast over the channels (images:
    /// bits per pixel) or over the embedding (text: nats per token).
    pub theta_init: &'a Tensor,
    /// The samples' names, for errors.
    pub names: &'a [&'a str],
}

/// The trained GANs: σ(θ_G) shaped as x, each sample's critic and generator losses, and the
/// critics (for inspection).
pub struct GanResult {
    pub masks: Tensor,
    pub curves: Vec<Curves>,
    pub critic: Box<dyn CriticNet>,
}

/// Trains one GAN per sample, all in one batch; sample k's randomness comes from stream k alone,
/// so its mask is the one it gets when trained by itself.
pub fn train(g: &GanInput, p: &WganParams, streams: &mut Streams) -> Result<GanResult> {
    p.validate().map_err(|e| Error::ConfigMsg(format!("gan.{}: {}", e.field, e.why)))?;
    let n = streams.len() as i64;
    let dev = g.x.device();
    // feature maps [N·B,…] → [N,B,…]
    let features = |x: &Tensor| -> Result<Tensor> {
        let f = g.model.features(x, g.layer)?;
        let f = if p.post_relu { f.relu() } else { f };
        let shape: Vec<i64> = [n, -1].into_iter().chain(f.size()[1..].iter().copied()).collect();
        Ok(f.view(shape.as_slice()))
    };
    let clean = tch::no_grad(|| g.model.features(g.x, g.layer))?; // [N,C',h,w] or [N,T,H]
    let clean = if p.post_relu { clean.relu() } else { clean }.unsqueeze(1);
    let mask = match p.real_mask {
        RealMask::Capacity => g.capacity,
        RealMask::Lambda => g.lambda,
    }
    .unsqueeze(1);
    let fshape = clean.size()[2..].to_vec();
    let training = CriticTraining { lr: p.lr, clip: p.weight_clip };
    let mut critic: Box<dyn CriticNet> = if g.model.modality() == Modality::Tokens {
        if n != 1 {
            return Err(Error::ConfigMsg("text: one sentence at a time (samples_per_batch = 1)".into()));
        }
        critic::sequence(fshape[1], dev, streams, training)?
    } else {
        critic::vision(fshape[0], fshape[1], fshape[2], dev, streams, p.critic_kernels, training)?
    };
    let size = g.x.size();
    // μ_G, σ_G: per channel for images [N,C,1,1], per token for text [N,T,1]
    let stat: Vec<i64> = size.iter().enumerate().map(|(i, &d)| if i < 2 { d } else { 1 }).collect();
    let gen = Generator {
        theta: g.theta_init.contiguous().set_requires_grad(true),
        mean: Tensor::zeros(stat.as_slice(), (Kind::Float, dev)).set_requires_grad(true),
        std: Tensor::ones(stat.as_slice(), (Kind::Float, dev)).set_requires_grad(true),
    };
    let mut opt_g = tch::COptimizer::rms_prop(p.lr_mean, 0.99, 1e-8, 0.0, 0.0, false)?;
    opt_g.add_parameters(&gen.mean, 0)?;
    opt_g.add_parameters(&gen.std, 1)?;
    opt_g.add_parameters(&gen.theta, 2)?;
    opt_g.set_learning_rate_group(1, p.lr_std)?;
    opt_g.set_learning_rate_group(2, p.lr_mask)?;
    // per sub-dataset noise N(μ_k, s_k²), drawn once per GAN
    let sub = p.sub_dataset_size;
    let subsets = (p.dataset_size + sub - 1) / sub;
    let stats: Vec<Vec<(f32, f32)>> = (0..n as usize)
        .map(|k| {
            (0..subsets)
                .map(|_| (streams.host(k).range(-2.0, 2.0) as f32, streams.host(k).range(0.0, 5.0) as f32))
                .collect()
        })
        .collect();
    let mut d_curves = SampleCurves::new(&["gan/critic_loss"], n as usize);
    let mut g_curves = SampleCurves::new(&["gan/generator_loss"], n as usize);
    let bs = p.batch_size as usize;
    let ones = vec![1i64; fshape.len()]; // per-item scalars broadcast over a feature map
                                         // the original's text GAN: the whole real set's noise, drawn once (N(0,1); scaled per item)
    let fixed = p.static_real.then(|| streams.randn(&[&[p.dataset_size][..], &fshape[..]].concat(), dev));
    let mut settling = p.stop.clone().map(|rule| Settling::new(rule, &gen.theta.detach().sigmoid()));
    let mut ran = 0;
    for epoch in 0..p.epochs {
        // a stopped sample's losses weigh 0: no gradient, so RMSprop leaves its parameters be
        let weight = settling.as_ref().map(|s| s.active(dev));
        let perms = streams.permutations(p.dataset_size as usize);
        for (i, start) in (0..p.dataset_size as usize).step_by(bs).enumerate() {
            let end = (start + bs).min(p.dataset_size as usize);
            let b = (end - start) as i64;
            let pick = |f: fn(&(f32, f32)) -> f32| -> Tensor {
                let v: Vec<f32> = perms
                    .iter()
                    .zip(&stats)
                    .flat_map(|(perm, st)| {
                        perm[start..end].iter().map(|&j| f(&st[j / sub as usize])).collect::<Vec<_>>()
                    })
                    .collect();
                Tensor::from_slice(&v).view([&[n, b][..], &ones[..]].concat().as_slice()).to_device(dev)
            };
            let draw = match &fixed {
                Some(all) => {
                    let rows = |k: usize| {
                        Tensor::from_slice(&perms[k][start..end].iter().map(|&j| j as i64).collect::<Vec<_>>())
                            .to_device(dev)
                    };
                    Tensor::stack(
                        &(0..n as usize).map(|k| all.get(k as i64).index_select(0, &rows(k))).collect::<Vec<_>>(),
                        0,
                    )
                }
                None => streams.randn(&[&[b][..], &fshape[..]].concat(), dev),
            };
            let noise = draw * pick(|s| s.1) + pick(|s| s.0);
            let real = &mask * &clean + (mask.ones_like() - &mask) * noise;
            let z = streams.randn(
                &size[1..].iter().fold(vec![b], |mut v, &d| {
                    v.push(d);
                    v
                }),
                dev,
            );
            // θ_G does not change in the critic's step and the generator's sees the same noise, so
            // one pass to the layer serves both
            let generator_step = i % p.critic_iter == 0;
            let fake_g = if generator_step { Some(features(&gen.images(g.x, &z))?) } else { None };
            let fake = match &fake_g {
                Some(f) => f.detach(),
                None => tch::no_grad(|| features(&gen.images(g.x, &z)))?,
            };
            let loss_d = critic.train_step(&real, &fake, weight.as_ref())?;
            d_curves.push(&[&loss_d], g.names, |v| {
                format!("WGAN stage: critic loss is {v} at epoch {epoch}, iteration {i}")
            })?;
            if let Some(fake_g) = fake_g {
                opt_g.zero_grad()?;
                let loss_g = critic.generator_backward(&fake_g, weight.as_ref())?;
                opt_g.step()?;
                g_curves.push(&[&loss_g], g.names, |v| {
                    format!("WGAN stage: generator loss is {v} at epoch {epoch}, iteration {i}")
                })?;
            }
        }
        ran = epoch + 1;
        if let Some(s) = settling.as_mut() {
            s.after_epoch(epoch, &gen.theta.detach().sigmoid(), streams, &mut [&mut d_curves, &mut g_curves])?;
            if s.all_stopped() {
                break;
            }
        }
    }
    let epochs_run = settling.map(|s| s.finish(streams, ran));
    let curves = d_curves
        .into_curves()
        .into_iter()
        .zip(g_curves.into_curves())
        .enumerate()
        .map(|(k, (d, g))| {
            let epochs = epochs_run.as_ref().map(|e| ("gan/epochs".to_string(), vec![e[k] as f64]));
            d.into_iter().chain(g).chain(epochs).collect()
        })
        .collect();
    Ok(GanResult { masks: gen.theta.detach().sigmoid(), curves, critic })
}
