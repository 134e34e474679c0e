//! Classifiers that can be cut in two at a named layer. tch has no forward hooks, so instead of
//! hooking `features.17` as the Python original does, a model runs "up to and including" a layer
//! ([`Classifier::features`]) and "from after it" ([`Classifier::head`]); `head(features(x)) == forward(x)`.
pub mod deep_lstm;
mod folded_conv;
pub mod senn;
mod torchscript;
mod vgg;
pub mod vibi_nets;
pub mod weights;

pub use deep_lstm::{DeepLstm, DeepLstmParams};
pub use senn::{Senn, SennParams};
pub use torchscript::{TorchScript, TorchScriptParams};
pub use vgg::{CfgItem, Vgg, VggParams};
pub use vibi_nets::{VibiResNet, VibiResNetParams};

use crate::error::{Error, Result};
use crate::modality::Modality;
use tch::{nn, Tensor};

/// The readout name of a model's output: the logits [N,classes], which [`Classifier::features_many`]
/// gives beside named layers (the Readout Bottleneck reads them, IBA's `classifier` readout).
pub const LOGITS: &str = "logits";

/// One step of a model seen as a chain, for methods that change the backward rule of ReLUs
/// (guided backprop, DeconvNet): tch has no backward hooks, so they walk the chain themselves.
pub enum Stage<'a> {
    /// max(x, 0); `in_features` is false for the classifier's ReLUs.
    Relu { in_features: bool },
    /// Any other layer, in eval mode.
    Op(Box<dyn Fn(&Tensor) -> Tensor + 'a>),
}

impl Stage<'_> {
    pub fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Stage::Relu { .. } => x.relu(),
            Stage::Op(f) => f(x),
        }
    }
}

/// A model that can be cut at a named layer: what every model offers. Everything else a method
/// may need is a capability the model may offer (`stages`, `macs`, `randomise`, `token_embedding`,
/// `var_store_mut`); a method asks for it and fails at config check with "model X cannot do Y".
pub trait Classifier: Send {
    /// What the model reads, so that methods, metrics and writers treat its inputs and maps alike.
    fn modality(&self) -> Modality;
    /// Model input (see [`Classifier::embed`]) → [N,classes] logits. `train` turns on dropout and
    /// batch-norm updates.
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor;
    fn num_classes(&self) -> i64;
    /// Names of the layers the model can be cut at, torchvision naming (`features.17`).
    fn layer_names(&self) -> Vec<String>;
    /// Model input → output of `layer` (eval mode).
    fn features(&self, x: &Tensor, layer: &str) -> Result<Tensor>;
    /// Output of `layer` → [N,classes] logits (eval mode).
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor>;

    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_t(x, false)
    }
    /// The outputs of several layers for one input (eval mode), in the order asked; [`LOGITS`]
    /// names the model's output. Models that can do it in one pass override this; the default runs
    /// the model up to each layer.
    fn features_many(&self, x: &Tensor, layers: &[&str]) -> Result<Vec<Tensor>> {
        one_by_one(self, x, layers)
    }
    /// What [`Classifier::features_many`] can give: every layer and [`LOGITS`].
    fn readout_names(&self) -> Vec<String> {
        self.layer_names().into_iter().chain([LOGITS.to_string()]).collect()
    }
    /// Fails at config check when `layer` is no readout the model can give, listing those it can.
    fn check_readout(&self, layer: &str) -> Result<()> {
        let names = self.readout_names();
        if names.iter().any(|n| n == layer) {
            Ok(())
        } else {
            Err(Error::Model(format!("no readout layer `{layer}`; this model gives: {}", names.join(", "))))
        }
    }
    /// Fails at build time, not mid-run, when `layer` does not exist.
    fn check_layer(&self, layer: &str) -> Result<()> {
        let names = self.layer_names();
        if names.iter().any(|n| n == layer) {
            Ok(())
        } else {
            Err(Error::Model(format!("no layer `{layer}` to cut at; available: {}", names.join(", "))))
        }
    }
    /// The model's input made from a sample's raw input: the identity, unless the model embeds
    /// token ids ([`Classifier::token_embedding`]), the space its attributions live in.
    fn embed(&self, raw: &Tensor) -> Result<Tensor> {
        match self.token_embedding() {
            Some(e) => e.embed(raw),
            None => Ok(raw.shallow_clone()),
        }
    }

    /// Capability: the parameters, for training, saving and freezing.
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        None
    }
    /// Capability: the model as a chain of stages (guided backprop, DeconvNet).
    fn stages(&self) -> Option<&dyn Stages> {
        None
    }
    /// Capability: multiply-accumulate counts (the benchmark's FLOPs).
    fn mac_counter(&self) -> Option<&dyn Macs> {
        None
    }
    /// Capability: cascading randomisation of the weights (the sanity check).
    fn randomise(&mut self) -> Option<&mut dyn Randomise> {
        None
    }
    /// Capability: token ids → word embeddings (text models).
    fn token_embedding(&self) -> Option<&dyn TokenEmbedding> {
        None
    }
    /// Capability: the model's own explanation (self-explaining models: SENN).
    fn self_explaining(&self) -> Option<&dyn SelfExplaining> {
        None
    }
    /// Stops weight gradients: attribution optimises masks only.
    fn freeze(&mut self) {
        if let Some(vs) = self.var_store_mut() {
            vs.freeze();
        }
    }
}

/// The model as a chain of stages whose composition is `forward` in eval mode.
pub trait Stages {
    fn chain(&self) -> Vec<Stage<'_>>;
}

/// Multiply-accumulates of the convolutions and linear layers for one [C,H,W] input: up to and
/// including `layer`, and after it; `None` where the layer is unknown.
pub trait Macs {
    fn macs(&self, input: [i64; 3], layer: &str) -> Option<[f64; 2]>;
}

/// Cascading randomisation (Adebayo et al. 2018, InputIBA's sanity check, spec §6.1).
pub trait Randomise {
    /// Re-draws the weights of every conv and linear layer from the output back to and including
    /// `layer` (convs Xavier-uniform, linears N(0, 0.05²), biases 0; other layers untouched), from
    /// libtorch's generator.
    fn randomise_from(&mut self, layer: &str) -> Result<()>;
}

/// Token ids [N,T] → word embeddings [N,T,E], the input space of a text model.
pub trait TokenEmbedding {
    fn embed(&self, ids: &Tensor) -> Result<Tensor>;
}

/// Each asked layer's output from its own pass up to it, the logits from a full forward: what
/// [`Classifier::features_many`] does for a model without a one-pass way.
/// A model that explains itself as concepts and their relevances (SENN, §2.2 of spec peers).
pub trait SelfExplaining {
    /// Concepts h [B,K] and relevances θ [B,K,C] of inputs x (eval mode).
    fn concepts_and_relevances(&self, x: &Tensor) -> (Tensor, Tensor);
    /// Whether the concepts are a posterior's mean (DiSENN's β-VAE), so that
    /// [`SelfExplaining::posterior`] and [`SelfExplaining::decode`] give its traversals.
    fn variational(&self) -> bool {
        false
    }
    /// The posterior's mean and log-variance [B,K] each (eval mode); `None` when not variational.
    fn posterior(&self, _x: &Tensor) -> Option<(Tensor, Tensor)> {
        None
    }
    /// The conceptizer's decoder: concepts [B,K] → inputs; `None` without one.
    fn decode(&self, _z: &Tensor) -> Option<Tensor> {
        None
    }
    /// The weights of the conceptizer's last convolution [K,C,kh,kw], one filter per concept (the
    /// seed's "filter" representation); `None` without one.
    fn concept_filters(&self) -> Option<Tensor> {
        None
    }
}

pub fn one_by_one<M: Classifier + ?Sized>(model: &M, x: &Tensor, layers: &[&str]) -> Result<Vec<Tensor>> {
    layers.iter().map(|&l| if l == LOGITS { Ok(model.forward(x)) } else { model.features(x, l) }).collect()
}

/// "model cannot …" at config check, for a method that asks for a capability the model lacks.
pub fn lacks(what: &str) -> Error {
    Error::Model(format!("this model type cannot {what}"))
}
