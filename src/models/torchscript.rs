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
    /// One TorchScript file, input [N,C,H,W] → logits: enough for the methods that need no layer
    /// (the gradient family but Grad-CAM); leave `head` and `tail` empty then.
    pub model: PathBuf,
    /// TorchScript file: input [N,C,H,W] → output of `layer`.
    pub head: PathBuf,
    /// TorchScript file: output of `layer` → logits [N,classes].
    pub tail: PathBuf,
    /// The name of the cut, as attributors refer to it (e.g. `features.17`).
    pub layer: String,
    pub num_classes: i64,
    /// Optional TorchScript file: input → a tuple of several layers' outputs, one pass for the
    /// Readout Bottleneck (README, "Your own model"); empty = none.
    pub readouts: PathBuf,
    /// The names of the tuple's elements, in order (`logits` for the model's output).
    pub readout_layers: Vec<String>,
}

impl Default for TorchScriptParams {
    fn default() -> Self {
        TorchScriptParams {
            type_: "TorchScript".into(),
            model: PathBuf::new(),
            head: PathBuf::new(),
            tail: PathBuf::new(),
            layer: "features.17".into(),
            num_classes: 1000,
            readouts: PathBuf::new(),
            readout_layers: Vec::new(),
        }
    }
}

pub struct TorchScript {
    halves: Halves,
    layer: String,
    num_classes: i64,
    readouts: Option<(CModule, Vec<String>)>,
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

/// The model as two files cut at `layer`, or as one file that cannot be cut.
enum Halves {
    Cut { head: CModule, tail: CModule },
    Whole(CModule),
}

impl TorchScript {
    pub fn new(p: &TorchScriptParams, device: tch::Device) -> Result<Self> {
        let halves = if p.model.as_os_str().is_empty() {
            Halves::Cut { head: load(&p.head, "head", device)?, tail: load(&p.tail, "tail", device)? }
        } else {
            Halves::Whole(load(&p.model, "model", device)?)
        };
        Ok(TorchScript {
            halves,
            layer: p.layer.clone(),
            num_classes: p.num_classes,
            readouts: match p.readouts.as_os_str().is_empty() {
                true => None,
                false => Some((load(&p.readouts, "readouts", device)?, p.readout_layers.clone())),
            },
        })
    }

    /// The readouts module's tuple, checked against `readout_layers`.
    fn run_readouts(m: &CModule, names: &[String], x: &Tensor) -> Result<Vec<Tensor>> {
        let bad = |why: String| Error::Model(format!("TorchScript readouts: {why}"));
        let out = m
            .forward_is(&[tch::IValue::Tensor(x.shallow_clone())])
            .map_err(|e| bad(crate::error::libtorch_message(&e)))?;
        let items = match out {
            tch::IValue::Tuple(items) | tch::IValue::GenericList(items) => items,
            tch::IValue::Tensor(t) => vec![tch::IValue::Tensor(t)],
            other => return Err(bad(format!("returned {other:?}, not a tuple of tensors"))),
        };
        if items.len() != names.len() {
            return Err(bad(format!("returned {} tensors, but readout_layers names {}", items.len(), names.len())));
        }
        items
            .into_iter()
            .zip(names)
            .map(|(v, n)| match v {
                tch::IValue::Tensor(t) => Ok(t),
                _ => Err(bad(format!("the element for `{n}` is not a tensor"))),
            })
            .collect()
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
        match &self.halves {
            Halves::Whole(m) => Self::run(m, x, "model").expect("the model runs on valid input"),
            Halves::Cut { head, tail } => {
                let z = Self::run(head, x, "head").expect("the head runs on valid input");
                Self::run(tail, &z, "tail").expect("the tail runs on the head's output")
            }
        }
    }
    fn layer_names(&self) -> Vec<String> {
        match self.halves {
            Halves::Whole(_) => Vec::new(),
            Halves::Cut { .. } => vec![self.layer.clone()],
        }
    }
    fn check_layer(&self, layer: &str) -> Result<()> {
        match self.halves {
            Halves::Whole(_) => Err(Error::Model(format!(
                "a TorchScript `model` (one file) cannot be cut at `{layer}`: give `head` and `tail` (README, \
                 \"Your own model\") for the methods that need a layer"
            ))),
            Halves::Cut { .. } if layer == self.layer => Ok(()),
            Halves::Cut { .. } => Err(Error::Model(format!("no layer `{layer}` to cut at; available: {}", self.layer))),
        }
    }
    fn features(&self, x: &Tensor, layer: &str) -> Result<Tensor> {
        self.check_layer(layer)?;
        match &self.halves {
            Halves::Cut { head, .. } => Self::run(head, x, "head"),
            Halves::Whole(_) => unreachable!("check_layer refuses a whole model"),
        }
    }
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor> {
        self.check_layer(layer)?;
        // A traced tail often starts with torchvision's in-place ReLU: on the caller's tensor it
        // would fail for a leaf that requires grad, and silently rectify the caller's feature map
        // otherwise (spec §10.3). A differentiable copy keeps both intact.
        match &self.halves {
            Halves::Cut { tail, .. } => Self::run(tail, &z.copy(), "tail"),
            Halves::Whole(_) => unreachable!("check_layer refuses a whole model"),
        }
    }
    fn num_classes(&self) -> i64 {
        self.num_classes
    }
    fn readout_names(&self) -> Vec<String> {
        let extra = self.readouts.iter().flat_map(|(_, names)| names.iter().cloned());
        self.layer_names().into_iter().chain([super::LOGITS.to_string()]).chain(extra).collect()
    }
    /// One call of the readouts module when it gives every asked layer; else the cut layer and the
    /// logits from the two halves.
    fn features_many(&self, x: &Tensor, layers: &[&str]) -> Result<Vec<Tensor>> {
        if let Some((m, names)) =
            self.readouts.as_ref().filter(|(_, n)| layers.iter().all(|l| n.iter().any(|k| k == l)))
        {
            let all = Self::run_readouts(m, names, x)?;
            return Ok(layers
                .iter()
                .map(|l| all[names.iter().position(|k| k == l).expect("checked above")].shallow_clone())
                .collect());
        }
        super::one_by_one(self, x, layers)
    }
}

impl Build<ModelKind> for TorchScript {
    type Params = TorchScriptParams;
    fn validate(p: &TorchScriptParams) -> crate::config::Checked {
        let [whole, head, tail] = [&p.model, &p.head, &p.tail].map(|f| !f.as_os_str().is_empty());
        if whole && (head || tail) {
            return Err(crate::config::Invalid::new(
                "model",
                "give either `model` (one file) or `head` and `tail`, not both",
            ));
        }
        if !(whole || head && tail) {
            return Err(crate::config::Invalid::new(
                "head",
                "give `model` (one TorchScript file, input → logits) or both `head` and `tail` (cut at `layer`)",
            ));
        }
        Ok(())
    }
    fn build(p: TorchScriptParams, cx: &BuildCtx) -> Result<Box<dyn Classifier>> {
        Ok(Box::new(TorchScript::new(&p, cx.device)?))
    }
}
crate::register!(ModelKind, TorchScript);
