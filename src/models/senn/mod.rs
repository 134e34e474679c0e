//! Self-explaining neural networks (Alvarez-Melis & Jaakkola 2018; the seed AmanDaVinci/SENN with
//! its DiSENN, spec peers §2): f(x) = g(θ(x)₁h(x)₁, …, θ(x)_K h(x)_K) with concepts h from a
//! conceptizer, relevances θ from a parameterizer and the sum aggregator, logits_c = Σ_k θ_kc h_k
//! (§2.2). The output is log_softmax of that, as the seed's; it is also a valid logit vector, so
//! every method that explains a classifier explains a SENN too. The explanation is (h, θ).
pub mod concepts;
pub mod relevances;

use super::{weights, Classifier};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, ModelKind};
use concepts::{Conceptizer, Concepts};
use relevances::Parameterizer;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::{nn, Kind, Tensor};

/// `[model]` of `type = "Senn"`: the seed's config keys for the networks, with its MNIST defaults.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SennParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// `IdentityConceptizer` (tabular), `ConvConceptizer` (images) or `VaeConceptizer` (DiSENN).
    pub conceptizer: String,
    /// `LinearParameterizer` (tabular) or `ConvParameterizer` (images).
    pub parameterizer: String,
    /// `SumAggregator`, the seed's only one.
    pub aggregator: String,
    /// K; with the identity conceptizer, the number of input features.
    pub num_concepts: i64,
    pub num_classes: i64,
    /// Always 1 in the seed (ScalarMapping, quirk S1).
    pub concept_dim: i64,
    /// Side of the square images (28).
    pub image_size: i64,
    /// Parameterizer channel sizes, the first the input's channels (ConvParameterizer).
    pub cl_sizes: Vec<i64>,
    /// Parameterizer layer sizes; the last is K·C (both parameterizers).
    pub hidden_sizes: Vec<i64>,
    pub dropout: f64,
    /// `.safetensors` of this architecture; "random" for random weights.
    pub weights: String,
}

impl Default for SennParams {
    fn default() -> Self {
        SennParams {
            type_: "Senn".into(),
            conceptizer: "ConvConceptizer".into(),
            parameterizer: "ConvParameterizer".into(),
            aggregator: "SumAggregator".into(),
            num_concepts: 5,
            num_classes: 10,
            concept_dim: 1,
            image_size: 28,
            cl_sizes: vec![1, 10, 20],
            hidden_sizes: vec![320, 50],
            dropout: 0.5,
            weights: String::new(),
        }
    }
}

/// One forward pass with everything the losses and explanations read.
pub struct SennOut {
    /// log_softmax(Σ_k θ_kc h_k) [B,C].
    pub log_probs: Tensor,
    /// Concepts [B,K], relevances [B,K,C].
    pub h: Tensor,
    pub theta: Tensor,
    pub concepts: Concepts,
}

pub struct Senn {
    pub vs: nn::VarStore,
    conceptizer: Box<dyn Conceptizer>,
    parameterizer: Box<dyn Parameterizer>,
    modality: Modality,
    num_classes: i64,
}

impl Senn {
    /// The networks of `p` (initial weights from libtorch's generator), with `p.weights` loaded.
    pub fn new(p: &SennParams, device: tch::Device) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let (k, c) = (p.num_concepts, p.num_classes);
        let root = vs.root();
        let (conceptizer, modality): (Box<dyn Conceptizer>, _) = match p.conceptizer.as_str() {
            "IdentityConceptizer" => (Box::new(concepts::Identity), Modality::Tabular),
            "ConvConceptizer" => {
                (Box::new(concepts::Conv::new(&(&root / "conceptizer"), p.cl_sizes[0], k)), Modality::Image)
            }
            _ => (Box::new(concepts::Vae::new(&(&root / "conceptizer"), p.image_size, k)), Modality::Image),
        };
        let parameterizer: Box<dyn Parameterizer> = match p.parameterizer.as_str() {
            "LinearParameterizer" => {
                Box::new(relevances::Linear::new(&(&root / "parameterizer"), &p.hidden_sizes, p.dropout, k, c))
            }
            _ => Box::new(relevances::Conv::new(
                &(&root / "parameterizer"),
                &p.cl_sizes,
                &p.hidden_sizes,
                p.dropout,
                k,
                c,
            )),
        };
        let mut m = Senn { vs, conceptizer, parameterizer, modality, num_classes: c };
        if !p.weights.is_empty() {
            weights::load(&mut m.vs, &PathBuf::from(&p.weights))?;
        }
        Ok(m)
    }

    /// h, θ, the aggregate and the conceptizer's reconstruction (§2.2).
    pub fn parts(&self, x: &Tensor, train: bool) -> SennOut {
        let concepts = self.conceptizer.concepts(x, train);
        let theta = self.parameterizer.relevances(x, train);
        let h = concepts.h.shallow_clone();
        let logits = theta.transpose(1, 2).matmul(&h.unsqueeze(-1)).squeeze_dim(-1);
        SennOut { log_probs: logits.log_softmax(-1, Kind::Float), h, theta, concepts }
    }

    /// The conceptizer's decoder (DiSENN's traversals, the conv autoencoder's prototypes).
    pub fn decode(&self, z: &Tensor) -> Option<Tensor> {
        self.conceptizer.decode(z)
    }
}

impl Classifier for Senn {
    fn modality(&self) -> Modality {
        self.modality
    }
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.parts(x, train).log_probs
    }
    fn num_classes(&self) -> i64 {
        self.num_classes
    }
    /// "input": the one cut, so methods that need a layer see the whole model as its head.
    fn layer_names(&self) -> Vec<String> {
        vec!["input".into()]
    }
    fn features(&self, x: &Tensor, layer: &str) -> Result<Tensor> {
        self.check_layer(layer)?;
        Ok(x.shallow_clone())
    }
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor> {
        self.check_layer(layer)?;
        Ok(self.forward(z))
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        Some(&mut self.vs)
    }
    fn self_explaining(&self) -> Option<&dyn super::SelfExplaining> {
        Some(self)
    }
}

impl super::SelfExplaining for Senn {
    fn concepts_and_relevances(&self, x: &Tensor) -> (Tensor, Tensor) {
        let out = tch::no_grad(|| self.parts(x, false));
        (out.h, out.theta)
    }
    fn variational(&self) -> bool {
        self.conceptizer.variational()
    }
    fn posterior(&self, x: &Tensor) -> Option<(Tensor, Tensor)> {
        tch::no_grad(|| self.conceptizer.concepts(x, false)).vae
    }
    fn decode(&self, z: &Tensor) -> Option<Tensor> {
        tch::no_grad(|| self.conceptizer.decode(z))
    }
    fn concept_filters(&self) -> Option<Tensor> {
        self.conceptizer.filters()
    }
}

impl Build<ModelKind> for Senn {
    type Params = SennParams;
    fn validate(p: &SennParams) -> crate::config::Checked {
        use crate::config::validate::{at_least, one_of, within};
        use crate::config::Invalid;
        one_of("conceptizer", &p.conceptizer, &["IdentityConceptizer", "ConvConceptizer", "VaeConceptizer"])?;
        one_of("parameterizer", &p.parameterizer, &["LinearParameterizer", "ConvParameterizer"])?;
        one_of("aggregator", &p.aggregator, &["SumAggregator"])?;
        at_least("num_concepts", p.num_concepts, 1)?;
        at_least("num_classes", p.num_classes, 1)?;
        at_least("concept_dim", p.concept_dim, 1)?;
        if p.concept_dim != 1 {
            return Err(Invalid::new("concept_dim", "only 1 (the seed's ScalarMapping, quirk S1)"));
        }
        within("dropout", p.dropout, 0.0, 1.0)?;
        p.hidden_sizes.iter().chain(&p.cl_sizes).try_for_each(|&s| at_least("hidden_sizes", s, 1))?;
        if p.hidden_sizes.last() != Some(&(p.num_concepts * p.num_classes)) {
            return Err(Invalid::new(
                "hidden_sizes",
                format!(
                    "{:?}: the last size must be num_concepts × num_classes = {}",
                    p.hidden_sizes,
                    p.num_concepts * p.num_classes
                ),
            ));
        }
        match (p.conceptizer.as_str(), p.parameterizer.as_str()) {
            ("IdentityConceptizer", _) if p.hidden_sizes[0] != p.num_concepts => Err(Invalid::new(
                "hidden_sizes",
                "with the IdentityConceptizer the concepts are the features: hidden_sizes[0] = num_concepts",
            )),
            (_, "ConvParameterizer")
                if p.cl_sizes.len() != 3 || p.image_size != 28 || p.hidden_sizes[0] != p.cl_sizes[2] * 16 =>
            {
                Err(Invalid::new(
                    "cl_sizes",
                    "the ConvParameterizer is the seed's 28×28 network: cl_sizes [C, c1, c2] (two 5×5 convs \
                     and pools, 28 → 4) and hidden_sizes starting at c2·16",
                ))
            }
            ("ConvConceptizer", _) if p.image_size != 28 || p.cl_sizes.is_empty() => {
                Err(Invalid::new("image_size", "the ConvConceptizer is the seed's 28×28 network"))
            }
            _ => Ok(()),
        }
    }
    fn build(p: SennParams, cx: &BuildCtx) -> Result<Box<dyn Classifier>> {
        let hint = "train it with tools/train for a config that has [train_senn]";
        let p = SennParams { weights: weights::to_load(&p.weights, cx.load_weights, hint)?, ..p };
        Ok(Box::new(Senn::new(&p, cx.device).map_err(|e| Error::Model(format!("SENN: {e}")))?))
    }
}
crate::register!(ModelKind, Senn);
