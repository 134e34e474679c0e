//! InputIBA's WGAN stage (spec §3.3): fit an input-space mask whose noisy images, seen at the
//! bottleneck layer, are distributed like the feature bottleneck's output. The "generator" is no
//! network: a mask logit θ_G over the input (initialised from the feature-IBA map in bits per pixel),
//! plus per-channel noise mean μ_G and std σ_G. The critic is the original's conv/MLP on the feature
//! map, trained as a Wasserstein critic with weight clipping; RMSprop for both sides.
use crate::attributors::Curves;
use crate::error::{Error, Result};
use crate::models::Classifier;
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT, OptimizerConfig};
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

/// The original's `VisionDiscriminator` on a [C,h,w] feature map (BatchNorm in training mode).
pub struct Critic {
    pub vs: nn::VarStore,
    net: nn::SequentialT,
}

impl Critic {
    pub fn new(c: i64, h: i64, w: i64, device: tch::Device) -> Self {
        let vs = nn::VarStore::new(device);
        let p = vs.root();
        let conv = |i, o, k, s, pad, name: &str| nn::conv2d(&p / name, i, o, k, nn::ConvConfig { stride: s, padding: pad, ..Default::default() });
        // LeakyReLU(0.2)
        let leaky = |x: &Tensor| x.maximum(&(x * 0.2));
        let net = nn::seq_t()
            .add(conv(c, 2 * c, 4, 2, 1, "conv1"))
            .add(nn::batch_norm2d(&p / "bn1", 2 * c, Default::default()))
            .add_fn(leaky)
            .add(conv(2 * c, 4 * c, 4, 2, 1, "conv2"))
            .add(nn::batch_norm2d(&p / "bn2", 4 * c, Default::default()))
            .add_fn(leaky)
            .add(conv(4 * c, c, 3, 1, 1, "conv3"))
            .add(nn::batch_norm2d(&p / "bn3", c, Default::default()))
            .add_fn(leaky)
            .add_fn(|x| x.flatten(1, -1))
            .add(nn::linear(&p / "fc1", c * (h / 4) * (w / 4), 512, Default::default()))
            .add_fn(leaky)
            .add(nn::linear(&p / "fc2", 512, 256, Default::default()))
            .add_fn(leaky)
            .add(nn::linear(&p / "fc3", 256, 1, Default::default()));
        Critic { vs, net }
    }

    /// [B,C,h,w] → [B,1], batch norm in training mode as in the original.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.net.forward_t(x, true)
    }

    pub fn num_parameters(&self) -> i64 {
        self.vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }

    /// Clamps every trainable parameter to ±c (exposed for tests of the clipping).
    pub fn clip_for_tests(&self, c: f64) {
        self.clip(c)
    }

    fn clip(&self, c: f64) {
        tch::no_grad(|| {
            for mut v in self.vs.trainable_variables() {
                let _ = v.clamp_(-c, c);
            }
        });
    }
}

/// The learnable input mask and noise statistics.
pub struct Generator {
    pub theta: Tensor,
    pub mean: Tensor,
    pub std: Tensor,
}

impl Generator {
    /// z [B,C,H,W] → noisy images σ(θ)·x + (1 − σ(θ))·(σ_G z + μ_G).
    fn images(&self, x: &Tensor, z: &Tensor) -> Tensor {
        let m = self.theta.sigmoid();
        let noise = z * &self.std + &self.mean;
        &m * x + (m.ones_like() - &m) * noise
    }
}

/// What the GAN stage needs of one sample.
pub struct GanInput<'a> {
    pub model: &'a dyn Classifier,
    pub layer: &'a str,
    /// [1,C,H,W] normalised image.
    pub x: &'a Tensor,
    /// Feature-IBA capacity [C',h,w] (nats) and the bottleneck's λ [C',h,w].
    pub capacity: &'a Tensor,
    pub lambda: &'a Tensor,
    /// Feature-IBA map in bits per pixel [H,W]: θ_G's initial value.
    pub feat_bits: &'a Tensor,
}

/// Trains the GAN for one sample; returns σ(θ_G) [1,C,H,W], and the critic and generator losses.
pub fn train(g: &GanInput, p: &WganParams, seed: u64) -> Result<(Tensor, Curves)> {
    let features = |x: &Tensor| -> Result<Tensor> {
        let f = g.model.features(x, g.layer)?;
        Ok(if p.post_relu { f.relu() } else { f })
    };
    let clean = tch::no_grad(|| features(g.x))?; // [1,C',h,w]
    let mask = match p.real_mask {
        RealMask::Capacity => g.capacity.unsqueeze(0),
        RealMask::Lambda => g.lambda.unsqueeze(0),
    };
    let (c, h, w) = (clean.size()[1], clean.size()[2], clean.size()[3]);
    let critic = Critic::new(c, h, w, g.x.device());
    let mut opt_d = nn::RmsProp::default().build(&critic.vs, p.lr)?;
    let size = g.x.size();
    let gen = Generator {
        theta: g.feat_bits.view([1, 1, size[2], size[3]]).expand(&size, false).contiguous().set_requires_grad(true),
        mean: Tensor::zeros([1, size[1], 1, 1], (Kind::Float, g.x.device())).set_requires_grad(true),
        std: Tensor::ones([1, size[1], 1, 1], (Kind::Float, g.x.device())).set_requires_grad(true),
    };
    let mut opt_g = tch::COptimizer::rms_prop(p.lr_mean, 0.99, 1e-8, 0.0, 0.0, false)?;
    opt_g.add_parameters(&gen.mean, 0)?;
    opt_g.add_parameters(&gen.std, 1)?;
    opt_g.add_parameters(&gen.theta, 2)?;
    opt_g.set_learning_rate_group(1, p.lr_std)?;
    opt_g.set_learning_rate_group(2, p.lr_mask)?;
    // per sub-dataset noise, drawn once per GAN
    let mut rng = SplitMix::new(seed);
    let subsets = (p.dataset_size + p.sub_dataset_size - 1) / p.sub_dataset_size.max(1);
    let noise_stats: Vec<(f64, f64)> = (0..subsets).map(|_| (rng.range(-2.0, 2.0), rng.range(0.0, 5.0))).collect();
    let (mut d_losses, mut g_losses) = (Vec::new(), Vec::new());
    let finite = |v: f64, what: &str, epoch: usize, i: usize| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::Model(format!("{what} loss is {v} at epoch {epoch}, iteration {i}")))
        }
    };
    for epoch in 0..p.epochs {
        let perm = Tensor::randperm(p.dataset_size, (Kind::Int64, tch::Device::Cpu));
        let idx: Vec<i64> = Vec::<i64>::try_from(&perm).map_err(|e| Error::Model(e.to_string()))?;
        for (i, chunk) in idx.chunks(p.batch_size.max(1) as usize).enumerate() {
            let b = chunk.len() as i64;
            let (mu, s): (Vec<f32>, Vec<f32>) = chunk.iter().map(|&k| noise_stats[(k / p.sub_dataset_size.max(1)) as usize]).map(|(m, s)| (m as f32, s as f32)).unzip();
            let mu = Tensor::from_slice(&mu).view([b, 1, 1, 1]).to_device(g.x.device());
            let s = Tensor::from_slice(&s).view([b, 1, 1, 1]).to_device(g.x.device());
            let noise = Tensor::randn([b, c, h, w], (Kind::Float, g.x.device())) * s + mu;
            let real = &mask * &clean + (mask.ones_like() - &mask) * noise;
            let z = Tensor::randn([b, size[1], size[2], size[3]], (Kind::Float, g.x.device()));
            let fake = tch::no_grad(|| features(&gen.images(g.x, &z)))?;
            opt_d.zero_grad();
            let loss_d = -critic.forward(&real).mean(Kind::Float) + critic.forward(&fake).mean(Kind::Float);
            loss_d.backward();
            opt_d.step();
            critic.clip(p.weight_clip);
            d_losses.push(finite(loss_d.double_value(&[]), "critic", epoch, i)?);
            if i % p.critic_iter.max(1) == 0 {
                opt_g.zero_grad()?;
                let loss_g = -critic.forward(&features(&gen.images(g.x, &z))?).mean(Kind::Float);
                loss_g.backward();
                opt_g.step()?;
                g_losses.push(finite(loss_g.double_value(&[]), "generator", epoch, i)?);
            }
        }
    }
    Ok((gen.theta.detach().sigmoid(), vec![("gan/critic_loss".into(), d_losses), ("gan/generator_loss".into(), g_losses)]))
}
