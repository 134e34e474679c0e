//! A self-explaining model's own explanation (SENN, spec peers §2.2 and §2.8). Per sample: the
//! concepts h(x), the relevances θ_{k,c}(x) of the explained class c, and the contributions
//! θ_{k,c}(x)·h_k(x), whose sum is the class's logit, each one score per concept (bars and JSON);
//! for DiSENN, the concept traversals (decoder sweeps). Over `[data.test]`: the test accuracy; for
//! images, the prototypes of each concept (from the test split, or `prototypes_split = "train"`)
//! and its encoder filters. For tabular SENNs the
//! concepts are the features, so the bars carry the features' names.
mod prototypes;
pub mod traversal;

use super::{Attribution, AttributionCtx, Attributor, FitReport, Layout, MapSpec, PngScale, Reduce, Target};
use crate::data::{Sample, Split, Splits};
use crate::error::{Error, Result};
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
    /// The concepts' names in the bars and JSON (the seed's `concept_names`); empty: a tabular
    /// dataset's feature names, else C1…CK.
    pub concept_names: Vec<String>,
    /// Samples shown per concept: those with the highest activation h_k, and those with the
    /// highest contrast h_k − Σ_{j≠k} h_j (the seed's `highest_activations`/`highest_contrast`).
    pub num_prototypes: usize,
    /// Where the prototypes are drawn from: "test" (`[data.test]`, the seed's) or "train".
    pub prototypes_split: String,
    /// DiSENN's traversals (needs the β-VAE conceptizer): per sample a grid of decoded concept
    /// vectors, one row per concept swept over `traversal_steps` values.
    pub traversals: bool,
    /// Values per concept (the seed's `num_prototypes` of `explain`, 20).
    pub traversal_steps: i64,
    /// The sweep covers the central 1 − 2·(0.5 − r) = 2r of the posterior's probability, r < 0.5.
    pub traversal_range: f64,
    /// The sweep runs over ±Φ⁻¹(0.5 − r; μ_d, σ_d), centred on 0 as the seed does (quirk S7);
    /// true: over μ_d ± Φ⁻¹(0.5 + r)·σ_d, centred on the posterior's mean.
    pub traversal_centred_on_mean: bool,
    /// Test samples per batch while the figures are computed.
    pub batch_size: usize,
}

impl Default for SelfExplanationParams {
    fn default() -> Self {
        SelfExplanationParams {
            type_: "SelfExplanation".into(),
            target: Target::Predicted,
            concept_names: Vec::new(),
            num_prototypes: 9,
            prototypes_split: "test".into(),
            traversals: false,
            traversal_steps: 20,
            traversal_range: 0.45,
            traversal_centred_on_mean: false,
            batch_size: 256,
        }
    }
}

pub const RELEVANCE: &str = "senn_relevance";
pub const CONTRIBUTION: &str = "senn_contribution";
pub const CONCEPTS: &str = "senn_concepts";
pub const TRAVERSALS: &str = "disenn_traversals";

pub struct SelfExplanation {
    p: SelfExplanationParams,
    report: FitReport,
}

impl Attributor for SelfExplanation {
    fn check(&self, model: &dyn Classifier) -> Result<()> {
        let explainer = model.self_explaining().ok_or_else(|| {
            Error::ConfigMsg("attributor SelfExplanation: the model does not explain itself (use a Senn model)".into())
        })?;
        if self.p.traversals && !explainer.variational() {
            return Err(Error::ConfigMsg(
                "attributor SelfExplanation: `traversals = true` needs DiSENN's β-VAE conceptizer (VaeConceptizer)"
                    .into(),
            ));
        }
        self.p.target.check(model)
    }
    fn optional_splits(&self) -> Vec<Split> {
        vec![Split::Test, self.prototype_split()]
    }
    fn fit(&mut self, model: &dyn Classifier, data: &Splits, cx: &AttributionCtx) -> Result<()> {
        let test = data.get(Split::Test).ok();
        if test.is_none() {
            log::info!("SelfExplanation: no [data.test], so no test accuracy");
        }
        let source = data.get(self.prototype_split()).ok();
        if source.is_none() {
            log::info!("SelfExplanation: no [data.{}], so no prototypes", self.p.prototypes_split);
        }
        self.report = prototypes::report(model, test, source, &self.p, cx.device)?;
        Ok(())
    }
    fn fit_report(&self) -> FitReport {
        self.report.shallow_clone()
    }
    fn outputs(&self) -> Vec<MapSpec> {
        let concepts = |d: &str| MapSpec {
            dir: d.into(),
            scale: PngScale::MaxNormalised,
            reduce: Reduce::Sum,
            layout: Layout::Concepts { names: self.p.concept_names.clone() },
        };
        let mut v = vec![concepts(RELEVANCE), concepts(CONTRIBUTION), concepts(CONCEPTS)];
        if self.p.traversals {
            v.push(MapSpec { layout: Layout::Picture, ..MapSpec::input(TRAVERSALS, PngScale::Raw, Reduce::Sum) });
        }
        v
    }
    fn attribute(&mut self, model: &dyn Classifier, s: &Sample, cx: &AttributionCtx) -> Result<Attribution> {
        let explainer = model.self_explaining().ok_or_else(|| Error::Model("not a self-explaining model".into()))?;
        let x = s.input.to_device(cx.device).unsqueeze(0);
        let class = self.p.target.resolve(model, &s.input.to_device(cx.device), s.target)?;
        let (h, theta) = explainer.concepts_and_relevances(&x);
        let relevance = theta.get(0).select(1, class); // [K]
        let contribution = &relevance * h.get(0);
        let cpu = |t: &tch::Tensor| t.view([1, -1]).to_device(tch::Device::Cpu);
        let mut a = Attribution::single(RELEVANCE, cpu(&relevance), Default::default())
            .with_map(CONTRIBUTION, cpu(&contribution))
            .with_map(CONCEPTS, cpu(&h.get(0)))
            .for_target(class);
        if self.p.traversals {
            let seed = crate::rng::sample_seed(cx.seed, &s.name) as u64;
            a = a.with_map(TRAVERSALS, traversal::picture(explainer, &x, &self.p, seed)?);
        }
        Ok(a)
    }
}

impl SelfExplanation {
    fn prototype_split(&self) -> Split {
        if self.p.prototypes_split == "train" {
            Split::Train
        } else {
            Split::Test
        }
    }
}

impl Build<AttributorKind> for SelfExplanation {
    type Params = SelfExplanationParams;
    fn validate(p: &SelfExplanationParams) -> crate::config::Checked {
        use crate::config::validate::{at_least, one_of, within};
        one_of("prototypes_split", &p.prototypes_split, &["test", "train"])?;
        at_least("num_prototypes", p.num_prototypes as i64, 1)?;
        at_least("traversal_steps", p.traversal_steps, 2)?;
        at_least("batch_size", p.batch_size as i64, 1)?;
        within("traversal_range", p.traversal_range, 1e-6, 0.5 - 1e-6)
    }
    fn build(p: SelfExplanationParams, _cx: &BuildCtx) -> Result<Box<dyn Attributor>> {
        Ok(Box::new(SelfExplanation { p, report: FitReport::default() }))
    }
}
crate::register!(AttributorKind, SelfExplanation);
