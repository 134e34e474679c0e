//! Saliency (Simonyan et al. 2014): the gradient of the target score with respect to the input,
//! signed or absolute; and Input × Gradient (Shrikumar et al. 2016): x ⊙ ∂s/∂x.
use super::common::{grad_method, grad_params, input_gradients};
use super::{GradMethod, GradOutput};
use crate::error::Result;
use crate::modality::Modality;
use crate::models::Classifier;
use tch::Tensor;

grad_params! {
    /// Config of [`Saliency`].
    SaliencyParams = "Saliency" {
        /// |∂s/∂x| (Captum's default) instead of the signed gradient.
        abs: bool = true,
    }
}

grad_method! {
    /// Saliency: the (absolute) input gradient.
    Saliency(SaliencyParams)
}

impl GradMethod for Saliency {
    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Image, Modality::Tokens]
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        let (g, _) = input_gradients(model, x, targets, self.common.score)?;
        Ok(if self.p.abs { g.abs() } else { g }.into())
    }
}

grad_params! {
    /// Config of [`InputXGradient`].
    InputXGradientParams = "InputXGradient" {}
}

grad_method! {
    /// Input × Gradient.
    InputXGradient(InputXGradientParams)
}

impl GradMethod for InputXGradient {
    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Image, Modality::Tokens]
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        let (g, _) = input_gradients(model, x, targets, self.common.score)?;
        Ok((x * g).into())
    }
}
