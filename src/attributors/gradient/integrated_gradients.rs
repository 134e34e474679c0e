//! Integrated Gradients (Sundararajan et al. 2017): (x − x′) ⊙ ∫₀¹ ∂s/∂x(x′ + α(x − x′)) dα, with
//! Captum's quadrature rules, a choice of baseline x′, the path points evaluated in internal batches,
//! and the completeness error |Σ attributions − (s(x) − s(x′))| / |s(x) − s(x′)| reported per image.
use super::common::{grad_method, grad_params, input_gradients, per_sample_noise, target_scores};
use super::{sample_dims, GradMethod, GradOutput, Quadrature, Rule};
use crate::attributors::GaussianSmoothing;
use crate::error::Result;
use crate::modality::Modality;
use crate::models::Classifier;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// The reference input x′.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Zeros in normalised space (Captum's default).
    #[default]
    Zeros,
    /// The image blurred with a Gaussian of `blur_sigma` pixels.
    Blurred,
    /// Uniform noise over each image's value range, seeded per image.
    Uniform,
}

grad_params! {
    /// Config of [`IntegratedGradients`].
    IntegratedGradientsParams = "IntegratedGradients" {
        /// Points on the path (Captum: 50).
        steps: usize = 50,
        /// gauss_legendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid.
        method: Rule = Rule::GaussLegendre,
        baseline: Baseline = Baseline::Zeros,
        /// σ in pixels of the blurred baseline.
        blur_sigma: f64 = 5.0,
        /// Path points (images × steps) per forward/backward pass.
        internal_batch_size: usize = 64,
        /// Multiply by (x − x′), as the paper and Captum do. False reproduces WhiteBox's quirk (the
        /// bare path-averaged gradient).
        multiply_by_inputs: bool = true,
    }
}

impl IntegratedGradients {
    fn baseline(&self, x: &Tensor, seeds: &[i64]) -> Tensor {
        match self.p.baseline {
            Baseline::Zeros => x.zeros_like(),
            Baseline::Blurred => GaussianSmoothing::new(self.p.blur_sigma, x.size()[1], x.device()).apply(x),
            Baseline::Uniform => {
                let size = x.size();
                let u = per_sample_noise(seeds, 3, || Tensor::rand(&size[1..], (Kind::Float, tch::Device::Cpu)))
                    .to_device(x.device());
                let lo = x.amin(sample_dims(x), true);
                let hi = x.amax(sample_dims(x), true);
                &lo + u * (hi - &lo)
            }
        }
    }
}

grad_method! {
    /// Integrated Gradients.
    IntegratedGradients(IntegratedGradientsParams),
    check = |p| {
        use crate::config::validate::{at_least, positive};
        at_least("steps", p.steps as i64, 1)?;
        at_least("internal_batch_size", p.internal_batch_size as i64, 1)?;
        positive("blur_sigma", p.blur_sigma)
    }
}

impl GradMethod for IntegratedGradients {
    fn modalities(&self) -> &'static [Modality] {
        if self.p.baseline == Baseline::Blurred {
            &[Modality::Image]
        } else {
            &[Modality::Image, Modality::Tokens]
        }
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, seeds: &[i64]) -> Result<GradOutput> {
        let n = x.size()[0];
        let base = self.baseline(x, seeds);
        let diff = x - &base;
        let q = Quadrature::new(self.p.method, self.p.steps);
        let per_pass = (self.p.internal_batch_size as i64 / n).max(1) as usize;
        let mut total = x.zeros_like();
        for (alphas, weights) in q.alphas.chunks(per_pass).zip(q.weights.chunks(per_pass)) {
            let m = alphas.len() as i64;
            let points: Vec<Tensor> = alphas.iter().map(|&a| &base + &diff * a).collect();
            let (g, _) = input_gradients(model, &Tensor::cat(&points, 0), &targets.repeat([m]), self.common.score)?;
            let mut shape = vec![m];
            shape.extend(x.size());
            let ones: Vec<i64> = shape.iter().enumerate().map(|(k, &d)| if k == 0 { d } else { 1 }).collect();
            let w = Tensor::from_slice(weights).to_kind(Kind::Float).to_device(x.device()).view(ones.as_slice());
            total += (g.view(shape.as_slice()) * w).sum_dim_intlist(0, false, Kind::Float);
        }
        let attr = if self.p.multiply_by_inputs { &diff * total } else { total };
        let delta = tch::no_grad(|| {
            target_scores(&model.forward(x), targets, self.common.score)
                - target_scores(&model.forward(&base), targets, self.common.score)
        });
        let sum = attr.sum_dim_intlist(sample_dims(&attr), false, Kind::Float);
        let err = (&sum - &delta).abs() / delta.abs().clamp_min(1e-12);
        Ok(GradOutput { maps: attr, scalars: vec![("ig/completeness_error".into(), err)] })
    }
}
