//! InputIBA's input bottleneck (Zhang et al., NeurIPS 2021; spec §3.4): a per-channel input mask
//! λ = smooth(σ(α_I)), z = λx + (1−λ)ε with ε ~ N(μ, σ²) (normalised-image space: N(0, 1)), and the
//! information term measured against the GAN prior: KL(p(z|x) ‖ the bottleneck with mask m·λ),
//! so pixels the GAN mask m admits pass for free and only those it suppressed are charged.
use crate::attributors::bottleneck::NoisyCopies;
use crate::attributors::{Curves, GaussianSmoothing, SampleCurves, Streams};
use crate::config::Checked;
use crate::error::Result;
use crate::modality::Modality;
use crate::models::Classifier;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Guards the divisions by (1 − m·λ) as m, λ → 1 (spec §10.15).
const EPS: f64 = 1e-6;

/// Per-element KL( N(λx + (1−λ)μ, ((1−λ)σ)²) ‖ N(mλx + (1−mλ)μ, ((1−mλ)σ)²) ) in nats.
/// m = 0 gives IBA's KL against N(μ, σ²); m = 1 gives 0.
pub fn input_capacity(x: &Tensor, lambda: &Tensor, m: &Tensor, mean: f64, std: f64) -> Tensor {
    let one_m_l = (lambda.ones_like() - m * lambda).clamp_min(EPS);
    let r = (m.ones_like() - m) * (x - mean) / (&one_m_l * std);
    let mu_z = lambda * r;
    let var_z = ((lambda.ones_like() - lambda) / &one_m_l).square().clamp_min(EPS * EPS);
    (var_z.log() + 1.0 - mu_z.square() - var_z) * -0.5
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputBottleneckParams {
    /// Weight of the information term (vision: 20, text: 30).
    pub beta: f64,
    pub opt_steps: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Noisy copies per step.
    pub batch_size: i64,
    pub initial_alpha: f64,
    /// σ of the Gaussian smoothing of λ during optimisation (pixels; 0 = none).
    pub sigma: f64,
    /// Mean and std of the noise ε in normalised-image space (original: 0 and 1).
    pub input_mean: f64,
    pub input_std: f64,
    /// Save the smoothed mask instead of the original's unsmoothed σ(α_I) (spec §10.4).
    pub smoothed_output: bool,
}

impl InputBottleneckParams {
    pub fn validate(&self) -> Checked {
        use crate::config::validate::{at_least, finite, non_negative, positive};
        at_least("opt_steps", self.opt_steps as i64, 1)?;
        at_least("batch_size", self.batch_size, 1)?;
        positive("lr", self.lr)?;
        non_negative("beta", self.beta)?;
        finite("initial_alpha", self.initial_alpha)?;
        non_negative("sigma", self.sigma)?;
        finite("input_mean", self.input_mean)?;
        positive("input_std", self.input_std)
    }
}

impl Default for InputBottleneckParams {
    fn default() -> Self {
        InputBottleneckParams {
            beta: 20.0,
            opt_steps: 60,
            lr: 1.0,
            batch_size: 10,
            initial_alpha: 5.0,
            sigma: 1.0,
            input_mean: 0.0,
            input_std: 1.0,
            smoothed_output: false,
        }
    }
}

/// Optimises one α_I per sample: x [N,C,H,W] (images) or [N,T,E] (word embeddings), classes
/// `targets`, GAN masks `m` shaped as x, all N in one batch of N·B noisy copies (the summed loss
/// gives each α_I its own gradient; Adam is element-wise; noise from stream k). Returns the input
/// masks — [N,H,W], the channel mean of σ(α_I); text: [N,T], the mean over the embedding (spec
/// §4.5) — and each sample's loss curves.
pub fn optimise(
    model: &dyn Classifier,
    x: &Tensor,
    targets: &[i64],
    m: &Tensor,
    p: &InputBottleneckParams,
    names: &[&str],
    streams: &mut Streams,
) -> Result<(Tensor, Vec<Curves>)> {
    p.validate().map_err(|e| crate::error::Error::ConfigMsg(format!("input_iba.{}: {}", e.field, e.why)))?;
    let size = x.size();
    let n = size[0];
    if p.sigma > 0.0 && size.len() != 4 {
        return Err(crate::error::Error::ConfigMsg(
            "input_iba.sigma > 0 smooths images only; text uses 0 (the original's)".into(),
        ));
    }
    let alpha = Tensor::full(&size, p.initial_alpha, (Kind::Float, x.device())).set_requires_grad(true);
    let mut opt = tch::COptimizer::adam(p.lr, 0.9, 0.999, 0.0, 1e-8, false)?;
    opt.add_parameters(&alpha, 0)?;
    let smooth = (p.sigma > 0.0).then(|| GaussianSmoothing::new(p.sigma, size[1], x.device()));
    let copies = NoisyCopies::new(&size[1..], p.batch_size, targets, x.device());
    let (x, m) = (x.unsqueeze(1), m.unsqueeze(1));
    let mut curves = SampleCurves::new(&["input_iba/loss", "input_iba/cls_loss", "input_iba/info_loss"], n as usize);
    for step in 0..p.opt_steps {
        opt.zero_grad()?;
        let lambda = copies.lambda(&alpha, smooth.as_ref());
        let eps = streams.randn(&copies.each, x.device()) * p.input_std + p.input_mean;
        let z = &lambda * &x + (lambda.ones_like() - &lambda) * eps;
        let cls = copies.class_loss(&model.forward(&z.reshape(&copies.flat)));
        let info =
            input_capacity(&x, &lambda, &m, p.input_mean, p.input_std).view([n, -1]).mean_dim(1, false, Kind::Float);
        let loss = &cls + &info * p.beta;
        curves.push(&[&loss, &cls, &info], names, |v| format!("input IBA loss is {v} at step {step}"))?;
        loss.sum(Kind::Float).backward();
        opt.step()?;
    }
    let lam = alpha.detach().sigmoid();
    let lam = match (&smooth, p.smoothed_output) {
        (Some(s), true) => s.apply(&lam),
        _ => lam,
    };
    let reduce = if model.modality() == Modality::Tokens { -1 } else { 1 };
    Ok((lam.mean_dim(reduce, false, Kind::Float), curves.into_curves()))
}
