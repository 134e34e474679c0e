//! A self-explaining model's own explanation (SENN, spec peers §2.2 and §2.8): the relevances
//! θ_{k,c}(x) of the explained class c, and the contributions θ_{k,c}(x)·h_k(x) whose sum is the
//! class's logit. For tabular SENNs (identity conceptizer) the concepts are the features, so both
//! are one score per feature, written as the tabular maps every writer and plot reads.
use super::{Attribution, AttributionCtx, Attributor, MapSpec, PngScale, Reduce, Target};
use crate::data::Sample;
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::models::Classifier;
use crate::registry::{AttributorKind, Build, BuildCtx};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelfExplanationParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// The class explained: "predicted" (the seed's plots), "label" or a class index.
    pub target: Target,
}

impl Default for SelfExplanationParams {
    fn default() -> Self {
        SelfExplanationParams { type_: "SelfExplanation".into(), target: Target::Predicted }
    }
}

pub const RELEVANCE: &str = "senn_relevance";
pub const CONTRIBUTION: &str = "senn_contribution";

pub struct SelfExplanation {
    p: SelfExplanationParams,
}

impl Attributor for SelfExplanation {
    fn check(&self, model: &dyn Classifier) -> Result<()> {
        if model.self_explaining().is_none() {
            return Err(Error::ConfigMsg(
                "attributor SelfExplanation: the model does not explain itself (use a Senn model)".into(),
            ));
        }
        if model.modality() != Modality::Tabular {
            return Err(Error::ConfigMsg(
                "attributor SelfExplanation: per-feature explanations need a tabular SENN (identity conceptizer); \
                 the concept explanations of image SENNs are not written yet"
                    .into(),
            ));
        }
        self.p.target.check(model)
    }
    fn outputs(&self) -> Vec<MapSpec> {
        [RELEVANCE, CONTRIBUTION]
            .map(|d| MapSpec { dir: d.into(), scale: PngScale::MaxNormalised, reduce: Reduce::Sum })
            .to_vec()
    }
    fn attribute(&mut self, model: &dyn Classifier, s: &Sample, cx: &AttributionCtx) -> Result<Attribution> {
        let explainer = model.self_explaining().ok_or_else(|| Error::Model("not a self-explaining model".into()))?;
        let x = s.input.to_device(cx.device);
        let class = self.p.target.resolve(model, &x, s.target)?;
        let (h, theta) = explainer.concepts_and_relevances(&x.unsqueeze(0));
        let relevance = theta.get(0).select(1, class); // [K]
        let contribution = &relevance * h.get(0);
        let cpu = |t: &tch::Tensor| t.view([1, -1]).to_device(tch::Device::Cpu);
        Ok(Attribution::single(RELEVANCE, cpu(&relevance), Default::default())
            .with_map(CONTRIBUTION, cpu(&contribution))
            .for_target(class))
    }
}

impl Build<AttributorKind> for SelfExplanation {
    type Params = SelfExplanationParams;
    fn validate(_p: &SelfExplanationParams) -> crate::config::Checked {
        Ok(())
    }
    fn build(p: SelfExplanationParams, _cx: &BuildCtx) -> Result<Box<dyn Attributor>> {
        Ok(Box::new(SelfExplanation { p }))
    }
}
crate::register!(AttributorKind, SelfExplanation);
