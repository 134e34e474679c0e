//! Infidelity (Yeh et al. 2019, Captum's `infidelity`): E_I[(Iᵀφ − (f(x) − f(x − I)))²] over
//! random perturbations I, f the target's logit. The maps are per pixel, so I is drawn per pixel
//! and shared by the channels: then Iᵀφ equals the dot product with the per-channel attribution
//! whenever the map is its channel sum. With `normalize`, φ is first scaled by the least-squares
//! β* = E[Iᵀφ·Δf] / E[(Iᵀφ)²] (Captum's `normalize=True`), which makes the score scale-free.
use super::perturb::{scores, to_vec, Score};
use super::{EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InfidelityParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Perturbations per image (Captum: 10).
    pub n_perturb_samples: i64,
    /// σ of the Gaussian perturbation in normalised-image space (Captum's example: 0.003).
    pub noise_std: f64,
    pub normalize: bool,
    pub batch_size: i64,
    pub seed: u64,
}

impl Default for InfidelityParams {
    fn default() -> Self {
        InfidelityParams {
            type_: "Infidelity".into(),
            n_perturb_samples: 10,
            noise_std: 0.003,
            normalize: false,
            batch_size: 64,
            seed: 2021,
        }
    }
}

pub struct Infidelity {
    p: InfidelityParams,
}

impl Metric for Infidelity {
    fn evaluate(&mut self, model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let x = s.sample.input.to_device(s.device);
        let (h, w) = (x.size()[1], x.size()[2]);
        let n = self.p.n_perturb_samples;
        tch::manual_seed(crate::rng::sample_seed(self.p.seed, &s.sample.name));
        let noise = Tensor::randn([n, 1, h, w], (Kind::Float, tch::Device::Cpu)) * self.p.noise_std;
        let dot = to_vec(&(noise.squeeze_dim(1).to_kind(Kind::Double) * s.map.to_kind(Kind::Double)).sum_dim_intlist(
            [1, 2].as_slice(),
            false,
            Kind::Double,
        ))?;
        let clean = scores(model, 1, 1, s.target, Score::Logit, |_, _| x.unsqueeze(0))?[0];
        let nd = noise.to_device(s.device);
        let perturbed = scores(model, n, self.p.batch_size, s.target, Score::Logit, |a, b| {
            x.unsqueeze(0) - nd.narrow(0, a, b - a)
        })?;
        let delta: Vec<f64> = perturbed.iter().map(|p| clean - p).collect();
        let beta = if self.p.normalize {
            let den: f64 = dot.iter().map(|d| d * d).sum();
            if den > 0.0 {
                dot.iter().zip(&delta).map(|(d, f)| d * f).sum::<f64>() / den
            } else {
                0.0
            }
        } else {
            1.0
        };
        let v = dot.iter().zip(&delta).map(|(d, f)| (beta * d - f).powi(2)).sum::<f64>() / n as f64;
        Ok(SampleResult { values: vec![("infidelity".into(), v)], ..Default::default() })
    }
}

impl Build<MetricKind> for Infidelity {
    type Params = InfidelityParams;
    fn validate(p: &Self::Params) -> crate::config::Checked {
        use crate::config::validate::*;
        at_least("n_perturb_samples", p.n_perturb_samples, 1)?;
        at_least("batch_size", p.batch_size, 1)?;
        positive("noise_std", p.noise_std)
    }
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(Infidelity { p }))
    }
}
crate::register!(MetricKind, Infidelity);
