//! Classifiers that can be cut in two at a named layer. tch has no forward hooks, so instead of
//! hooking `features.17` as the Python original does, a model runs "up to and including" a layer
//! ([`Classifier::features`]) and "from after it" ([`Classifier::head`]); `head(features(x)) == forward(x)`.
pub mod deep_lstm;
mod torchscript;
mod vgg;
pub mod weights;

pub use deep_lstm::{DeepLstm, DeepLstmParams};
pub use torchscript::{TorchScript, TorchScriptParams};
pub use vgg::{CfgItem, Vgg, VggParams};

use crate::error::{Error, Result};
use tch::{nn, Tensor};

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

pub trait Classifier: Send {
    /// [N,C,H,W] input → [N,classes] logits. `train` turns on dropout and batch-norm updates.
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor;
    /// Names of the layers the model can be cut at, torchvision naming (`features.17`).
    fn layer_names(&self) -> Vec<String>;
    /// [N,C,H,W] input → output of `layer` (eval mode).
    fn features(&self, x: &Tensor, layer: &str) -> Result<Tensor>;
    /// Output of `layer` → [N,classes] logits (eval mode).
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor>;
    fn num_classes(&self) -> i64;
    /// The parameters, for training and for freezing; `None` for models whose weights are opaque.
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore>;

    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_t(x, false)
    }
    /// The model's input made from a sample's raw input: images pass as they are; a text model
    /// embeds token ids [N,T] into [N,T,E], the space its attributions live in.
    fn embed(&self, raw: &Tensor) -> Result<Tensor> {
        Ok(raw.shallow_clone())
    }
    /// Whether inputs and hidden outputs are sequences [N,T,·] of varying length T (text): the
    /// estimator then pools over steps, one value per unit of the last dimension.
    fn sequence_features(&self) -> bool {
        false
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
    /// The model as a chain of stages whose composition is `forward` in eval mode; `None` when the
    /// layers are opaque (TorchScript).
    fn stages(&self) -> Option<Vec<Stage<'_>>> {
        None
    }
    /// Multiply-accumulates of the convolutions and linear layers for one [C,H,W] input: up to and
    /// including `layer`, and after it (for the benchmark's FLOP counts); `None` where unknown.
    fn macs(&self, _input: [i64; 3], _layer: &str) -> Option<[f64; 2]> {
        None
    }
    /// Cascading randomisation (Adebayo et al. 2018, InputIBA's sanity check, spec §6.1): re-draws
    /// the weights of every conv and linear layer from the output back to and including `layer`
    /// (convs Xavier-uniform, linears N(0, 0.05²), biases 0; other layers untouched), from
    /// libtorch's generator.
    fn randomise_from(&mut self, layer: &str) -> Result<()> {
        Err(Error::Model(format!("this model type cannot randomise its layers (asked from `{layer}`)")))
    }
    /// Stops weight gradients: attribution optimises masks only.
    fn freeze(&mut self) {
        if let Some(vs) = self.var_store_mut() {
            vs.freeze();
        }
    }
}
