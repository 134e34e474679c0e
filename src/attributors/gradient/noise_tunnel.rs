//! SmoothGrad (Smilkov et al. 2017), SmoothGrad-Squared and VarGrad (Adebayo et al. 2018) as a
//! wrapper around any gradient method, like Captum's NoiseTunnel: the base method's maps over
//! `samples` noisy copies x + ε, ε ~ N(0, (noise_level · (max x − min x))²), reduced by their mean,
//! mean of squares, or variance E[a²] − E[a]².
use super::common::{grad_params, per_sample_noise};
use super::sample_dims;
use super::{
    Common, DeconvNet, DeconvNetParams, GradCam, GradCamParams, GradMethod, GradOutput, GuidedBackprop,
    GuidedBackpropParams, GuidedGradCam, GuidedGradCamParams, InputXGradient, InputXGradientParams,
    IntegratedGradients, IntegratedGradientsParams, Saliency, SaliencyParams, Score, WithCommon,
};
use crate::error::Result;
use crate::modality::Modality;
use crate::models::Classifier;
use crate::registry::{AttributorKind, Build, BuildCtx};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelKind {
    #[default]
    Smoothgrad,
    SmoothgradSq,
    Vargrad,
}

/// The wrapped method's table (`[attributor.base]`, with its own `type`). Its target, score,
/// batch and output fields are ignored: the tunnel's apply.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type")]
pub enum BaseMethod {
    Saliency(SaliencyParams),
    InputXGradient(InputXGradientParams),
    IntegratedGradients(IntegratedGradientsParams),
    GuidedBackprop(GuidedBackpropParams),
    DeconvNet(DeconvNetParams),
    GradCam(GradCamParams),
    GuidedGradCam(GuidedGradCamParams),
}

impl BaseMethod {
    fn build(&self, score: Score) -> Box<dyn GradMethod> {
        macro_rules! with_score {
            ($p:expr, $m:ident) => {{
                let mut p = $p.clone();
                p.score = score;
                Box::new($m::from_params(p)) as Box<dyn GradMethod>
            }};
        }
        match self {
            BaseMethod::Saliency(p) => with_score!(p, Saliency),
            BaseMethod::InputXGradient(p) => with_score!(p, InputXGradient),
            BaseMethod::IntegratedGradients(p) => with_score!(p, IntegratedGradients),
            BaseMethod::GuidedBackprop(p) => with_score!(p, GuidedBackprop),
            BaseMethod::DeconvNet(p) => with_score!(p, DeconvNet),
            BaseMethod::GradCam(p) => with_score!(p, GradCam),
            BaseMethod::GuidedGradCam(p) => with_score!(p, GuidedGradCam),
        }
    }
}

grad_params! {
    /// Config of [`NoiseTunnel`].
    NoiseTunnelParams = "NoiseTunnel" {
        /// smoothgrad, smoothgrad_sq or vargrad.
        kind: TunnelKind = TunnelKind::Smoothgrad,
        /// Noisy copies per image (SmoothGrad paper: 50).
        samples: usize = 50,
        /// Noise std as a fraction of each image's value range (SmoothGrad paper: 0.1–0.2).
        noise_level: f64 = 0.15,
        base: BaseMethod = BaseMethod::Saliency(SaliencyParams::default()),
        /// Images per call of the base method: the noisy copies of the batch go through it
        /// together (as Captum's NoiseTunnel expands its input), this many at most.
        internal_batch_size: usize = 64,
    }
}

/// SmoothGrad, SmoothGrad² or VarGrad around a base method.
pub struct NoiseTunnel {
    p: NoiseTunnelParams,
    common: Common,
    base: Box<dyn GradMethod>,
}

impl NoiseTunnel {
    pub fn from_params(p: NoiseTunnelParams) -> Self {
        NoiseTunnel { common: p.common(), base: p.base.build(p.score), p }
    }
}

impl WithCommon for NoiseTunnel {
    fn common(&self) -> &Common {
        &self.common
    }
}

impl GradMethod for NoiseTunnel {
    fn check_model(&self, model: &dyn Classifier) -> Result<()> {
        self.base.check_model(model)
    }
    fn modalities(&self) -> &'static [Modality] {
        self.base.modalities()
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, seeds: &[i64]) -> Result<GradOutput> {
        let size = x.size();
        let n = size[0] as usize;
        let range = x.amax(sample_dims(x), true) - x.amin(sample_dims(x), true);
        let std = range * self.p.noise_level;
        // whole copies of the batch per base call; copy d's noise is the same whichever call it is in
        let per_call = (self.p.internal_batch_size / n).max(1);
        let (mut sum, mut sq): (Option<Tensor>, Option<Tensor>) = (None, None);
        for first in (0..self.p.samples).step_by(per_call) {
            let copies: Vec<Tensor> = (first..(first + per_call).min(self.p.samples))
                .map(|d| {
                    let noise = per_sample_noise(seeds, 1000 + d as i64, || {
                        Tensor::randn(&size[1..], (Kind::Float, tch::Device::Cpu))
                    });
                    x + noise.to_device(x.device()) * &std
                })
                .collect();
            let k = copies.len();
            let all_seeds: Vec<i64> = seeds.iter().copied().cycle().take(k * n).collect();
            let maps =
                self.base.compute(model, &Tensor::cat(&copies, 0), &targets.repeat([k as i64]), &all_seeds)?.maps;
            // accumulated copy by copy, in order, as one call per copy would
            for j in 0..k {
                let a = maps.narrow(0, (j * n) as i64, n as i64);
                sq = Some(match sq {
                    Some(s) => s + a.square(),
                    None => a.square(),
                });
                sum = Some(match sum {
                    Some(s) => s + a,
                    None => a,
                });
            }
        }
        let k = self.p.samples as f64;
        let mean = sum.expect("samples ≥ 1") / k;
        let mean_sq = sq.expect("samples ≥ 1") / k;
        Ok(match self.p.kind {
            TunnelKind::Smoothgrad => mean,
            TunnelKind::SmoothgradSq => mean_sq,
            TunnelKind::Vargrad => mean_sq - mean.square(),
        }
        .into())
    }
}

impl Build<AttributorKind> for NoiseTunnel {
    type Params = NoiseTunnelParams;
    fn validate(p: &NoiseTunnelParams) -> crate::config::Checked {
        use crate::config::validate::{at_least, non_negative};
        at_least("batch_size", p.batch_size as i64, 1)?;
        crate::config::validate::inside("out_dir", &p.out_dir)?;
        at_least("samples", p.samples as i64, 1)?;
        at_least("internal_batch_size", p.internal_batch_size as i64, 1)?;
        non_negative("noise_level", p.noise_level)
    }
    fn build(p: NoiseTunnelParams, _cx: &BuildCtx) -> Result<Box<dyn crate::attributors::Attributor>> {
        Ok(Box::new(NoiseTunnel::from_params(p)))
    }
}
crate::register!(AttributorKind, NoiseTunnel);
