//! InputIBA's WGAN stage (spec §3.3): fit an input-space mask whose noisy images, seen at the
//! bottleneck layer, are distributed like the feature bottleneck's output. The "generator" is no
//! network: a mask logit θ_G over the input (initialised from the feature-IBA map in bits per pixel),
//! plus per-channel noise mean μ_G and std σ_G. The critic is the original's conv/MLP on the feature
//! map, trained as a Wasserstein critic with weight clipping; RMSprop for both sides.
use super::Critic;
use crate::attributors::{Curves, SampleCurves, Streams};
use crate::error::Result;
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
    /// Feature-IBA maps in bits per pixel [N,H,W]: θ_G's initial values.
    pub feat_bits: &'a Tensor,
    /// The samples' names, for errors.
    pub names: &'a [&'a str],
}

/// The trained GANs: σ(θ_G) [N,C,H,W], each sample's critic and generator losses, and the
/// critics (for inspection).
pub struct GanResult {
    pub masks: Tensor,
    pub curves: Vec<Curves>,
    pub critic: Critic,
}

/// [N,B,C,h,w] → the critics' layout [B, N·C, h, w].
fn side_by_side(t: &Tensor) -> Tensor {
    let s = t.size();
    t.transpose(0, 1).reshape([s[1], s[0] * s[2], s[3], s[4]])
}

/// Trains one GAN per sample, all in one batch; sample k's randomness comes from stream k alone,
/// so its mask is the one it gets when trained by itself.
pub fn train(g: &GanInput, p: &WganParams, streams: &mut Streams) -> Result<GanResult> {
    let n = streams.len() as i64;
    let dev = g.x.device();
    let features = |x: &Tensor| -> Result<Tensor> {
        let f = g.model.features(x, g.layer)?;
        let f = if p.post_relu { f.relu() } else { f };
        let s = f.size();
        Ok(f.view([n, -1, s[1], s[2], s[3]]))
    };
    let clean = tch::no_grad(|| g.model.features(g.x, g.layer))?; // [N,C',h,w]
    let clean = if p.post_relu { clean.relu() } else { clean }.unsqueeze(1);
    let mask = match p.real_mask {
        RealMask::Capacity => g.capacity,
        RealMask::Lambda => g.lambda,
    }
    .unsqueeze(1);
    let (c, h, w) = (clean.size()[2], clean.size()[3], clean.size()[4]);
    let critic = Critic::new(c, h, w, dev, streams);
    let mut opt_d = tch::COptimizer::rms_prop(p.lr, 0.99, 1e-8, 0.0, 0.0, false)?;
    for v in critic.parameters() {
        opt_d.add_parameters(v, 0)?;
    }
    let size = g.x.size();
    let gen = Generator {
        theta: g.feat_bits.unsqueeze(1).expand(&size, false).contiguous().set_requires_grad(true),
        mean: Tensor::zeros([n, size[1], 1, 1], (Kind::Float, dev)).set_requires_grad(true),
        std: Tensor::ones([n, size[1], 1, 1], (Kind::Float, dev)).set_requires_grad(true),
    };
    let mut opt_g = tch::COptimizer::rms_prop(p.lr_mean, 0.99, 1e-8, 0.0, 0.0, false)?;
    opt_g.add_parameters(&gen.mean, 0)?;
    opt_g.add_parameters(&gen.std, 1)?;
    opt_g.add_parameters(&gen.theta, 2)?;
    opt_g.set_learning_rate_group(1, p.lr_std)?;
    opt_g.set_learning_rate_group(2, p.lr_mask)?;
    // per sub-dataset noise N(μ_k, s_k²), drawn once per GAN
    let sub = p.sub_dataset_size.max(1);
    let subsets = (p.dataset_size + sub - 1) / sub;
    let stats: Vec<Vec<(f32, f32)>> = (0..n as usize).map(|k| (0..subsets).map(|_| (streams.host(k).range(-2.0, 2.0) as f32, streams.host(k).range(0.0, 5.0) as f32)).collect()).collect();
    let mut d_curves = SampleCurves::new(&["gan/critic_loss"], n as usize);
    let mut g_curves = SampleCurves::new(&["gan/generator_loss"], n as usize);
    let bs = p.batch_size.max(1) as usize;
    for epoch in 0..p.epochs {
        let perms = streams.permutations(p.dataset_size.max(0) as usize);
        for (i, start) in (0..p.dataset_size.max(0) as usize).step_by(bs).enumerate() {
            let end = (start + bs).min(p.dataset_size as usize);
            let b = (end - start) as i64;
            let pick = |f: fn(&(f32, f32)) -> f32| -> Tensor {
                let v: Vec<f32> = perms.iter().zip(&stats).flat_map(|(perm, st)| perm[start..end].iter().map(|&j| f(&st[j / sub as usize])).collect::<Vec<_>>()).collect();
                Tensor::from_slice(&v).view([n, b, 1, 1, 1]).to_device(dev)
            };
            let noise = streams.randn(&[b, c, h, w], dev) * pick(|s| s.1) + pick(|s| s.0);
            let real = side_by_side(&(&mask * &clean + (mask.ones_like() - &mask) * noise));
            let z = streams.randn(&[b, size[1], size[2], size[3]], dev);
            let fake = tch::no_grad(|| features(&gen.images(g.x, &z)))?;
            opt_d.zero_grad()?;
            let loss_d = -critic.forward(&real).mean_dim(1, false, Kind::Float) + critic.forward(&side_by_side(&fake)).mean_dim(1, false, Kind::Float);
            loss_d.sum(Kind::Float).backward();
            opt_d.step()?;
            critic.clip(p.weight_clip);
            d_curves.push(&[&loss_d], g.names, |v| format!("WGAN stage: critic loss is {v} at epoch {epoch}, iteration {i}"))?;
            if i % p.critic_iter.max(1) == 0 {
                opt_g.zero_grad()?;
                let loss_g = -critic.forward(&side_by_side(&features(&gen.images(g.x, &z))?)).mean_dim(1, false, Kind::Float);
                loss_g.sum(Kind::Float).backward();
                opt_g.step()?;
                g_curves.push(&[&loss_g], g.names, |v| format!("WGAN stage: generator loss is {v} at epoch {epoch}, iteration {i}"))?;
            }
        }
    }
    let curves = d_curves.into_curves().into_iter().zip(g_curves.into_curves()).map(|(d, g)| d.into_iter().chain(g).collect()).collect();
    Ok(GanResult { masks: gen.theta.detach().sigmoid(), curves, critic })
}
