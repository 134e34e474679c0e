//! Saliency (Simonyan et al. 2014): the gradient of the target score with respect to the input,
//! signed or absolute; and Input × Gradient (Shrikumar et al. 2016): x ⊙ ∂s/∂x.
use super::common::{grad_params, input_gradients};
use super::{Common, GradMethod, GradOutput};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{AttributorKind, Build, BuildCtx};
use tch::Tensor;

grad_params! {
    /// Config of [`Saliency`].
    SaliencyParams = "Saliency" {
        /// |∂s/∂x| (Captum's default) instead of the signed gradient.
        abs: bool = true,
    }
}

pub struct Saliency {
    p: SaliencyParams,
    common: Common,
}

impl Saliency {
    pub fn from_params(p: SaliencyParams) -> Self {
        Saliency { common: p.common(), p }
    }
}

impl GradMethod for Saliency {
    fn common(&self) -> &Common {
        &self.common
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        let (g, _) = input_gradients(model, x, targets, self.common.score)?;
        Ok(if self.p.abs { g.abs() } else { g }.into())
    }
}

impl Build<AttributorKind> for Saliency {
    type Params = SaliencyParams;
    fn build(p: SaliencyParams, _cx: &BuildCtx) -> Result<Box<dyn crate::attributors::Attributor>> {
        Ok(Box::new(Saliency::from_params(p)))
    }
}
crate::register!(AttributorKind, Saliency);

grad_params! {
    /// Config of [`InputXGradient`].
    InputXGradientParams = "InputXGradient" {}
}

pub struct InputXGradient {
    common: Common,
}

impl InputXGradient {
    pub fn from_params(p: InputXGradientParams) -> Self {
        InputXGradient { common: p.common() }
    }
}

impl GradMethod for InputXGradient {
    fn common(&self) -> &Common {
        &self.common
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        let (g, _) = input_gradients(model, x, targets, self.common.score)?;
        Ok((x * g).into())
    }
}

impl Build<AttributorKind> for InputXGradient {
    type Params = InputXGradientParams;
    fn build(p: InputXGradientParams, _cx: &BuildCtx) -> Result<Box<dyn crate::attributors::Attributor>> {
        Ok(Box::new(InputXGradient::from_params(p)))
    }
}
crate::register!(AttributorKind, InputXGradient);
