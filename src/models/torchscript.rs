//! Bring-your-own model without writing Rust: two TorchScript files, the network up to the cut
//! layer (`head`) and the rest (`tail`), made from any `nn.Module` with `torch.jit.trace` (README,
//! "Your own model"). Gradients reach the input through both; the layers are opaque, so methods
//! that rewrite the backward rule of ReLUs (guided backprop, DeconvNet) cannot run on it.
use super::Classifier;
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, ModelKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::{CModule, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TorchScriptParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// TorchScript file: input [N,C,H,W] → output of `layer`.
    pub head: PathBuf,
    /// TorchScript file: output of `layer` → logits [N,classes].
    pub tail: PathBuf,
    /// The name of the cut, as attributors refer to it (e.g. `features.17`).
    pub layer: String,
    pub num_classes: i64,
}

impl Default for TorchScriptParams {
    fn default() -> Self {
        TorchScriptParams {
            type_: "TorchScript".into(),
            head: PathBuf::new(),
            tail: PathBuf::new(),
            layer: "features.17".into(),
            num_classes: 1000,
        }
    }
}

pub struct TorchScript {
    head: CModule,
    tail: CModule,
    layer: String,
    num_classes: i64,
}

fn load(path: &PathBuf, what: &str, device: tch::Device) -> Result<CModule> {
    if !path.is_file() {
        return Err(Error::file(
            path,
            format!("TorchScript {what} not found (README: \"Your own model\" shows how to make it)"),
        ));
    }
    let mut m = CModule::load_on_device(path, device)
        .map_err(|e| Error::file(path, format!("not a TorchScript module: {}", crate::error::libtorch_message(&e))))?;
    m.set_eval();
    // the weights are constants for attribution: no gradient is accumulated into them
    for (_, p) in m.named_parameters().map_err(|e| Error::file(path, e.to_string()))? {
        let _ = p.set_requires_grad(false);
    }
    Ok(m)
}

impl TorchScript {
    pub fn new(p: &TorchScriptParams, device: tch::Device) -> Result<Self> {
        Ok(TorchScript {
            head: load(&p.head, "head", device)?,
            tail: load(&p.tail, "tail", device)?,
            layer: p.layer.clone(),
            num_classes: p.num_classes,
        })
    }

    fn run(m: &CModule, x: &Tensor, path: &str) -> Result<Tensor> {
        m.forward_ts(&[x])
            .map_err(|e| Error::Model(format!("TorchScript {path}: {}", crate::error::libtorch_message(&e))))
    }
}

impl Classifier for TorchScript {
    fn modality(&self) -> Modality {
        Modality::Image
    }
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let z = Self::run(&self.head, x, "head").expect("the head runs on valid input");
        Self::run(&self.tail, &z, "tail").expect("the tail runs on the head's output")
    }
    fn layer_names(&self) -> Vec<String> {
        vec![self.layer.clone()]
    }
    fn features(&self, x: &Tensor, layer: &str) -> Result<Tensor> {
        self.check_layer(layer)?;
        Self::run(&self.head, x, "head")
    }
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor> {
        self.check_layer(layer)?;
        // A traced tail often starts with torchvision's in-place ReLU: on the caller's tensor it
        // would fail for a leaf that requires grad, and silently rectify the caller's feature map
        // otherwise (spec §10.3). A differentiable copy keeps both intact.
        Self::run(&self.tail, &z.copy(), "tail")
    }
    fn num_classes(&self) -> i64 {
        self.num_classes
    }
}

impl Build<ModelKind> for TorchScript {
    type Params = TorchScriptParams;
    fn build(p: TorchScriptParams, cx: &BuildCtx) -> Result<Box<dyn Classifier>> {
        Ok(Box::new(TorchScript::new(&p, cx.device)?))
    }
}
crate::register!(ModelKind, TorchScript);
