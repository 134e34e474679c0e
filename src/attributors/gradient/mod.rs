//! The gradient family of attribution methods (saliency, input × gradient, integrated gradients,
//! SmoothGrad / SG² / VarGrad, guided backprop, DeconvNet, Grad-CAM, guided Grad-CAM) and the
//! perturbation baselines (occlusion, random). Each method computes a batch [N,C,H,W] → [N,C',H,W]
//! behind [`GradMethod`]; one blanket impl turns every method into an [`Attributor`], so batching,
//! targets, seeds and output specs are written once. The `.npy` keeps the raw, signed map.
mod common;
mod grad_cam;
mod guided;
mod integrated_gradients;
mod noise_tunnel;
mod occlusion;
mod quadrature;
mod saliency;

pub use common::{input_gradients, Common, Score};
pub use grad_cam::{GradCam, GradCamParams, GuidedGradCam, GuidedGradCamParams, Interpolation};
pub use guided::{relu_rule_backward, DeconvNet, DeconvNetParams, GuidedBackprop, GuidedBackpropParams, ReluRule};
pub use integrated_gradients::{Baseline, IntegratedGradients, IntegratedGradientsParams};
pub use noise_tunnel::{BaseMethod, NoiseTunnel, NoiseTunnelParams, TunnelKind};
pub use occlusion::{Occlusion, OcclusionParams, RandomMap, RandomMapParams};
pub use quadrature::{Quadrature, Rule};
pub use saliency::{InputXGradient, InputXGradientParams, Saliency, SaliencyParams};

use super::{sample_seed, Attribution, AttributionCtx, Attributor, MapSpec};
use crate::data::Sample;
use crate::error::{Error, Result};
use crate::explanation::PngScale;
use crate::modality::Modality;
use crate::models::Classifier;
use tch::Tensor;

/// What a method returns for a batch: maps [N,C',H,W] and per-sample scalars for TensorBoard.
pub struct GradOutput {
    pub maps: Tensor,
    /// (tag, [N] values), e.g. ("ig/completeness_error", ...).
    pub scalars: Vec<(String, Tensor)>,
}

impl From<Tensor> for GradOutput {
    fn from(maps: Tensor) -> Self {
        GradOutput { maps, scalars: Vec::new() }
    }
}

/// Access to a method's shared settings ([`Common`]); implemented by the `grad_method!` macro.
pub trait WithCommon {
    fn common(&self) -> &Common;
}

pub trait GradMethod: WithCommon {
    /// Fails at config load when the method cannot run on `model`.
    fn check_model(&self, _model: &dyn Classifier) -> Result<()> {
        Ok(())
    }
    /// The inputs the method works on. Methods that work on any input shape also serve a text
    /// model's word embeddings [N,T,E]; those that need image axes (blur, patches, ReLU chains,
    /// conv layers) serve images only.
    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Image]
    }
    /// x [N,C,H,W] (on the model's device), targets [N] int64, one seed per sample (noise drawn
    /// for sample i depends on seeds[i] only, so a batch equals its singles).
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, seeds: &[i64]) -> Result<GradOutput>;
}

impl<M: GradMethod> Attributor for M {
    fn check(&self, model: &dyn Classifier) -> Result<()> {
        if !self.modalities().contains(&model.modality()) {
            return Err(Error::ConfigMsg(format!("attributor: this method does not read {} inputs; on a text model use Saliency, InputXGradient, IntegratedGradients (baseline zeros or uniform) or a NoiseTunnel around one of them", model.modality())));
        }
        self.common().target.check(model)?;
        self.check_model(model)
    }
    fn outputs(&self) -> Vec<MapSpec> {
        let c = self.common();
        vec![MapSpec::input(&c.out_dir, PngScale::MaxNormalised, c.reduce)]
    }
    fn batch_size(&self) -> usize {
        self.common().batch_size.max(1)
    }
    fn attribute(&mut self, model: &dyn Classifier, s: &Sample, cx: &AttributionCtx) -> Result<Attribution> {
        let mut v = self.attribute_batch(model, std::slice::from_ref(s), cx)?;
        v.pop().ok_or_else(|| Error::Attribution { sample: s.name.clone(), why: "no result".into() })
    }
    fn attribute_batch(
        &mut self,
        model: &dyn Classifier,
        samples: &[Sample],
        cx: &AttributionCtx,
    ) -> Result<Vec<Attribution>> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        if model.modality() == Modality::Tokens {
            return samples.iter().map(|s| attribute_text(self, model, s, cx)).collect();
        }
        let images: Vec<Tensor> = samples.iter().map(|s| s.input.shallow_clone()).collect();
        let x = Tensor::stack(&images, 0).to_device(cx.device);
        let labels: Vec<i64> = samples.iter().map(|s| s.target).collect();
        let targets = self.common().target.resolve_batch(model, &x, &labels)?;
        let seeds: Vec<i64> = samples.iter().map(|s| sample_seed(cx.seed, &s.name)).collect();
        let out = self.compute(model, &x, &targets, &seeds)?;
        let names = || samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        if !bool::try_from(out.maps.isfinite().all()).unwrap_or(false) {
            return Err(Error::Attribution { sample: names(), why: "the attribution has NaN or Inf values".into() });
        }
        let maps = out.maps.to_device(tch::Device::Cpu);
        Ok((0..samples.len() as i64)
            .map(|i| {
                let curves = out.scalars.iter().map(|(tag, v)| (tag.clone(), vec![v.double_value(&[i])])).collect();
                Attribution::single(&self.common().out_dir, maps.get(i), curves).for_target(targets.int64_value(&[i]))
            })
            .collect())
    }
}

/// A text sample: the method runs on its word embeddings [1,T,E] (sentences differ in length, so
/// one at a time), and each token's score is the embedding dimensions' reduction (`reduce`), [1,T].
fn attribute_text<M: GradMethod + ?Sized>(
    m: &M,
    model: &dyn Classifier,
    s: &Sample,
    cx: &AttributionCtx,
) -> Result<Attribution> {
    let x = model.embed(&s.input.to_device(cx.device).unsqueeze(0))?.detach();
    let targets = m.common().target.resolve_batch(model, &x, &[s.target])?;
    let out = m.compute(model, &x, &targets, &[sample_seed(cx.seed, &s.name)])?;
    if !bool::try_from(out.maps.isfinite().all()).unwrap_or(false) {
        return Err(Error::Attribution { sample: s.name.clone(), why: "the attribution has NaN or Inf values".into() });
    }
    // [1,T,E] → [E,1,T], reduced over E
    let map = m.common().reduce.apply(&out.maps.permute([2, 0, 1])).to_device(tch::Device::Cpu);
    let curves = out.scalars.iter().map(|(tag, v)| (tag.clone(), vec![v.double_value(&[0])])).collect();
    Ok(Attribution::single(&m.common().out_dir, map, curves).for_target(targets.int64_value(&[0])))
}

/// Every dimension but the batch's, for per-sample sums and ranges of any input shape.
fn sample_dims(x: &Tensor) -> Vec<i64> {
    (1..x.dim() as i64).collect()
}
