//! Grad-CAM (Selvaraju et al. 2017) on a named layer: w_k = mean over positions of ∂s/∂A_k,
//! cam = ReLU(Σ_k w_k A_k), upsampled to the input. Guided Grad-CAM multiplies guided backprop by it.
//! Works on any model that can be cut at the layer (native or TorchScript halves).
use super::common::{grad_method, grad_params, target_scores};
use super::guided::{relu_rule_backward, ReluRule};
use super::{Common, GradMethod, GradOutput};
use crate::error::{Error, Result};
use crate::models::Classifier;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    #[default]
    Bilinear,
    Nearest,
}

/// [N,1,h,w] Grad-CAM at `layer` for x [N,C,H,W], before upsampling.
fn cam(model: &dyn Classifier, x: &Tensor, targets: &Tensor, c: &Common, layer: &str, relu: bool) -> Result<Tensor> {
    let a = tch::no_grad(|| model.features(x, layer))?.detach().set_requires_grad(true);
    let scores = target_scores(&model.head(&a, layer)?, targets, c.score);
    let g = Tensor::run_backward(&[&scores.sum(Kind::Float)], &[&a], false, false).remove(0);
    if a.dim() != 4 {
        return Err(Error::Model(format!("Grad-CAM needs a [N,C,h,w] activation at `{layer}`, got {:?}", a.size())));
    }
    let w = g.mean_dim([2, 3].as_slice(), true, Kind::Float);
    let m = (w * a.detach()).sum_dim_intlist(1, true, Kind::Float);
    Ok(if relu { m.relu() } else { m })
}

fn upsample(m: &Tensor, size: &[i64], how: Interpolation) -> Tensor {
    let (h, w) = (size[2], size[3]);
    match how {
        Interpolation::Bilinear => m.upsample_bilinear2d([h, w], false, None, None),
        Interpolation::Nearest => m.upsample_nearest2d([h, w], None, None),
    }
}

grad_params! {
    /// Config of [`GradCam`].
    GradCamParams = "GradCam" {
        /// Layer whose activation is weighted (VGG16: `features.29`, the last conv's ReLU).
        layer: String = "features.29".into(),
        /// Keep only positive evidence (Grad-CAM paper, pytorch-grad-cam); Captum's default is false.
        relu: bool = true,
        /// Upsampling to the input size.
        interpolation: Interpolation = Interpolation::Bilinear,
    }
}

grad_method! {
    /// Grad-CAM.
    GradCam(GradCamParams)
}

impl GradMethod for GradCam {
    fn check_model(&self, model: &dyn Classifier) -> Result<()> {
        model.check_layer(&self.p.layer)
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        let m = cam(model, x, targets, &self.common, &self.p.layer, self.p.relu)?;
        Ok(upsample(&m, &x.size(), self.p.interpolation).into())
    }
}

grad_params! {
    /// Config of [`GuidedGradCam`].
    GuidedGradCamParams = "GuidedGradCam" {
        layer: String = "features.29".into(),
        relu: bool = true,
        /// Captum upsamples the CAM with nearest neighbours here.
        interpolation: Interpolation = Interpolation::Nearest,
        /// Guided backprop's rule on the `features` ReLUs only.
        features_only: bool = false,
    }
}

grad_method! {
    /// Guided Grad-CAM.
    GuidedGradCam(GuidedGradCamParams)
}

impl GradMethod for GuidedGradCam {
    fn check_model(&self, model: &dyn Classifier) -> Result<()> {
        model.check_layer(&self.p.layer)?;
        model
            .stages()
            .map(|_| ())
            .ok_or_else(|| Error::Model("GuidedGradCam needs a model that exposes its layers (e.g. Vgg)".into()))
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        let m = upsample(
            &cam(model, x, targets, &self.common, &self.p.layer, self.p.relu)?,
            &x.size(),
            self.p.interpolation,
        );
        let gb = relu_rule_backward(model, x, targets, self.common.score, ReluRule::Guided, self.p.features_only)?;
        Ok((gb * m).into())
    }
}
