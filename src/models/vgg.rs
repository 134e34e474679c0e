//! The VGG family (Simonyan & Zisserman 2015) with torchvision's parameter names, so that
//! `features.17` and the keys of a converted torchvision `state_dict` mean the same thing here.
//! The layer list is torchvision's `cfg` (`[64, "M", 128, ...]`), so a small VGG-style net for small
//! images is the same code as VGG16.
use super::folded_conv::{channels_last, Folded, BN_EPS};
use super::{weights, Classifier, Macs, Randomise, Stage, Stages};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, ModelKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// One entry of a torchvision VGG `cfg` list: a conv width or `"M"` (2×2 max-pool).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum CfgItem {
    Conv(i64),
    Pool(String),
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VggParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// torchvision architecture (`vgg11`, `vgg13`, `vgg16`, `vgg19`); used when `cfg` is empty.
    pub arch: String,
    /// Explicit layer list, torchvision `cfg` style; overrides `arch`.
    pub cfg: Vec<CfgItem>,
    /// BatchNorm after every conv (torchvision's `vgg16_bn` naming).
    pub batch_norm: bool,
    pub in_channels: i64,
    /// Output size of the adaptive average pool before the classifier.
    pub avgpool: [i64; 2],
    /// Hidden widths of the classifier (torchvision: 4096, 4096).
    pub classifier: Vec<i64>,
    pub num_classes: i64,
    pub dropout: f64,
    /// `.safetensors` (or tch `.ot`) file with torchvision's keys; empty = random init.
    pub weights: String,
}

impl Default for VggParams {
    fn default() -> Self {
        VggParams {
            type_: "Vgg".into(),
            arch: "vgg16".into(),
            cfg: Vec::new(),
            batch_norm: false,
            in_channels: 3,
            avgpool: [7, 7],
            classifier: vec![4096, 4096],
            num_classes: 1000,
            dropout: 0.5,
            weights: String::new(),
        }
    }
}

/// torchvision's `cfgs` A, B, D, E.
fn arch_cfg(arch: &str) -> Result<Vec<CfgItem>> {
    use CfgItem::{Conv as C, Pool};
    let m = || Pool("M".into());
    let blocks: &[&[i64]] = match arch {
        "vgg11" => &[&[64], &[128], &[256, 256], &[512, 512], &[512, 512]],
        "vgg13" => &[&[64, 64], &[128, 128], &[256, 256], &[512, 512], &[512, 512]],
        "vgg16" => &[&[64, 64], &[128, 128], &[256, 256, 256], &[512, 512, 512], &[512, 512, 512]],
        "vgg19" => &[&[64, 64], &[128, 128], &[256; 4], &[512; 4], &[512; 4]],
        other => {
            return Err(Error::Model(format!("unknown VGG arch `{other}` (vgg11, vgg13, vgg16, vgg19, or give `cfg`)")))
        }
    };
    Ok(blocks.iter().flat_map(|b| b.iter().map(|&c| C(c)).chain([m()])).collect())
}

enum Layer {
    Conv(nn::Conv2D),
    Norm(nn::BatchNorm),
    Relu,
    Pool,
}

pub struct Vgg {
    vs: nn::VarStore,
    features: Vec<Layer>,
    /// Per feature layer, once frozen: the conv and its batch norm folded (a conv followed by a
    /// batch norm), used wherever both run in eval mode and the conv's own output is not asked for.
    /// One pass over the activations fewer each way, and a frozen model's whole answer to
    /// Integrated Gradients, SmoothGrad, InputIBA: values equal up to float rounding.
    folded: Vec<Option<Folded>>,
    avgpool: [i64; 2],
    classifier: Vec<nn::Linear>,
    dropout: f64,
    num_classes: i64,
}

impl Vgg {
    pub fn new(p: &VggParams, device: tch::Device) -> Result<Self> {
        let cfg = if p.cfg.is_empty() { arch_cfg(&p.arch)? } else { p.cfg.clone() };
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let (f, c) = (&root / "features", &root / "classifier");
        // torchvision's init: kaiming-normal (fan_out, relu) convs, N(0, 0.01) linears, zero biases.
        let conv_cfg = nn::ConvConfig {
            padding: 1,
            ws_init: nn::Init::Kaiming {
                dist: nn::init::NormalOrUniform::Normal,
                fan: nn::init::FanInOut::FanOut,
                non_linearity: nn::init::NonLinearity::ReLU,
            },
            bs_init: nn::Init::Const(0.),
            ..Default::default()
        };
        let mut features = Vec::new();
        let mut ch = p.in_channels;
        for item in &cfg {
            match item {
                CfgItem::Pool(s) if s == "M" => features.push(Layer::Pool),
                CfgItem::Pool(s) => return Err(Error::Model(format!("VGG cfg item `{s}`: expected a width or \"M\""))),
                CfgItem::Conv(w) => {
                    features.push(Layer::Conv(nn::conv2d(&f / features.len(), ch, *w, 3, conv_cfg)));
                    if p.batch_norm {
                        let bn = nn::BatchNormConfig { eps: BN_EPS, ..Default::default() };
                        features.push(Layer::Norm(nn::batch_norm2d(&f / features.len(), *w, bn)));
                    }
                    features.push(Layer::Relu);
                    ch = *w;
                }
            }
        }
        let lin_cfg = nn::LinearConfig {
            ws_init: nn::Init::Randn { mean: 0., stdev: 0.01 },
            bs_init: Some(nn::Init::Const(0.)),
            bias: true,
        };
        let mut widths = vec![ch * p.avgpool[0] * p.avgpool[1]];
        widths.extend(&p.classifier);
        widths.push(p.num_classes);
        let classifier =
            widths.windows(2).enumerate().map(|(i, w)| nn::linear(&c / (3 * i), w[0], w[1], lin_cfg)).collect();
        let mut vgg = Vgg {
            vs,
            features,
            folded: Vec::new(),
            avgpool: p.avgpool,
            classifier,
            dropout: p.dropout,
            num_classes: p.num_classes,
        };
        if !p.weights.is_empty() {
            weights::load(&mut vgg.vs, &PathBuf::from(&p.weights))?;
        }
        Ok(vgg)
    }

    fn layer_index(&self, layer: &str) -> Result<usize> {
        layer
            .strip_prefix("features.")
            .and_then(|k| k.parse::<usize>().ok())
            .filter(|&k| k < self.features.len())
            .ok_or_else(|| {
                Error::Model(format!(
                    "no layer `{layer}` to cut at; available: features.0 … features.{}",
                    self.features.len() - 1
                ))
            })
    }

    /// Runs `features[from..to]`.
    fn run_features(&self, x: &Tensor, from: usize, to: usize, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        let mut k = from;
        while k < to {
            (h, k) = self.step(&h, k, to, train);
        }
        h
    }

    /// Layer k's output and the next layer's index: k and k + 1 at once when they are a conv and
    /// its batch norm, both below `to`, in eval mode and folded.
    fn step(&self, h: &Tensor, k: usize, to: usize, train: bool) -> (Tensor, usize) {
        if let (false, true, Some(Some(f))) = (train, k + 1 < to, self.folded.get(k)) {
            return (f.forward(h), k + 2);
        }
        let out = match &self.features[k] {
            Layer::Conv(c) => c.forward(h),
            Layer::Norm(b) => b.forward_t(h, train),
            Layer::Relu => h.relu(),
            Layer::Pool => h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false),
        };
        (out, k + 1)
    }

    /// Each conv's batch norm folded into it (none without batch norm).
    fn fold(&mut self) {
        let nhwc = self.vs.device() == tch::Device::Cpu;
        let pairs = self.features.iter().zip(self.features.iter().skip(1));
        self.folded = pairs
            .map(|pair| match pair {
                (Layer::Conv(c), Layer::Norm(b)) => Some(Folded::new(c, b, nhwc)),
                _ => None,
            })
            .chain([None])
            .collect();
    }

    /// [N,C,h,w] output of the last feature layer → [N,classes].
    fn run_head(&self, h: &Tensor, train: bool) -> Tensor {
        let mut h = h.adaptive_avg_pool2d(self.avgpool).flatten(1, -1);
        let last = self.classifier.len() - 1;
        for (i, lin) in self.classifier.iter().enumerate() {
            h = lin.forward(&h);
            if i < last {
                h = h.relu().dropout(self.dropout, train);
            }
        }
        h
    }
}

impl Stages for Vgg {
    fn chain(&self) -> Vec<Stage<'_>> {
        let mut st: Vec<Stage<'_>> = Vec::new();
        for layer in &self.features {
            st.push(match layer {
                Layer::Relu => Stage::Relu { in_features: true },
                _ => Stage::Op(Box::new(move |x: &Tensor| match layer {
                    Layer::Conv(c) => c.forward(x),
                    Layer::Norm(b) => b.forward_t(x, false),
                    _ => x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false),
                })),
            });
        }
        let pool = self.avgpool;
        st.push(Stage::Op(Box::new(move |x: &Tensor| x.adaptive_avg_pool2d(pool).flatten(1, -1))));
        let last = self.classifier.len() - 1;
        for (i, lin) in self.classifier.iter().enumerate() {
            st.push(Stage::Op(Box::new(move |x: &Tensor| lin.forward(x))));
            if i < last {
                st.push(Stage::Relu { in_features: false });
            }
        }
        st
    }
}

impl Macs for Vgg {
    fn macs(&self, input: [i64; 3], layer: &str) -> Option<[f64; 2]> {
        let cut = self.layer_index(layer).ok()?;
        let (mut out, [_, mut h, mut w]) = ([0f64; 2], input);
        for (k, l) in self.features.iter().enumerate() {
            match l {
                Layer::Conv(c) => {
                    let s = c.ws.size(); // [out, in, 3, 3], padding 1, stride 1
                    out[usize::from(k > cut)] += (s[0] * s[1] * s[2] * s[3] * h * w) as f64;
                }
                Layer::Pool => (h, w) = (h / 2, w / 2),
                _ => {}
            }
        }
        out[1] += self.classifier.iter().map(|l| l.ws.numel() as f64).sum::<f64>();
        Some(out)
    }
}

impl Randomise for Vgg {
    fn randomise_from(&mut self, layer: &str) -> Result<()> {
        // torchvision order: features.0 … features.N, then classifier.0, .3, .6
        let from = match layer.strip_prefix("classifier.").and_then(|k| k.parse::<usize>().ok()) {
            Some(k) if k % 3 == 0 && k / 3 < self.classifier.len() => self.features.len() + k / 3,
            Some(_) => {
                return Err(Error::Model(format!(
                    "no linear layer `{layer}`: classifier.0, .3, … up to classifier.{}",
                    3 * (self.classifier.len() - 1)
                )))
            }
            None => self.layer_index(layer)?,
        };
        tch::no_grad(|| {
            for (k, l) in self.features.iter_mut().enumerate().filter(|(k, _)| *k >= from) {
                if let Layer::Conv(c) = l {
                    let s = c.ws.size();
                    let bound = (6.0 / ((s[0] + s[1]) * s[2] * s[3]) as f64).sqrt();
                    let _ = c.ws.uniform_(-bound, bound);
                    if let Some(b) = c.bs.as_mut() {
                        let _ = b.zero_();
                    }
                    log::debug!("randomised features.{k}");
                }
            }
            for (i, lin) in self.classifier.iter_mut().enumerate().filter(|(i, _)| self.features.len() + i >= from) {
                let _ = lin.ws.normal_(0.0, 0.05);
                if let Some(b) = lin.bs.as_mut() {
                    let _ = b.zero_();
                }
                log::debug!("randomised classifier.{}", 3 * i);
            }
        });
        if !self.folded.is_empty() {
            self.fold();
        }
        Ok(())
    }
}

impl Classifier for Vgg {
    fn modality(&self) -> Modality {
        Modality::Image
    }
    fn stages(&self) -> Option<&dyn Stages> {
        Some(self)
    }
    fn mac_counter(&self) -> Option<&dyn Macs> {
        Some(self)
    }
    fn randomise(&mut self) -> Option<&mut dyn Randomise> {
        Some(self)
    }
    /// One pass through the features, keeping each asked layer's output.
    fn features_many(&self, x: &Tensor, layers: &[&str]) -> Result<Vec<Tensor>> {
        // the logits sit one past the last feature layer
        let logits = self.features.len();
        let idx = layers
            .iter()
            .map(|&l| if l == super::LOGITS { Ok(logits) } else { self.layer_index(l) })
            .collect::<Result<Vec<_>>>()?;
        let mut wanted = idx.clone();
        wanted.sort_unstable();
        wanted.dedup();
        // from one asked layer to the next, so that a conv whose output is asked for runs unfolded
        let (mut h, mut pos, mut at) = (x.shallow_clone(), 0, std::collections::HashMap::new());
        for &k in &wanted {
            h = if k == logits {
                self.run_head(&self.run_features(&h, pos, logits, false), false)
            } else {
                self.run_features(&h, pos, k + 1, false)
            };
            pos = k + 1;
            at.insert(k, h.shallow_clone());
        }
        Ok(idx.iter().map(|k| at[k].contiguous()).collect())
    }
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.run_head(&self.run_features(x, 0, self.features.len(), train), train)
    }
    fn layer_names(&self) -> Vec<String> {
        (0..self.features.len()).map(|k| format!("features.{k}")).collect()
    }
    fn check_layer(&self, layer: &str) -> Result<()> {
        self.layer_index(layer).map(|_| ())
    }
    fn features(&self, x: &Tensor, layer: &str) -> Result<Tensor> {
        let k = self.layer_index(layer)?;
        Ok(self.run_features(x, 0, k + 1, false).contiguous())
    }
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor> {
        let k = self.layer_index(layer)?;
        Ok(self.run_head(&self.run_features(z, k + 1, self.features.len(), false), false))
    }
    fn num_classes(&self) -> i64 {
        self.num_classes
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        // whoever asks may change the weights: the folded copies would be stale
        self.folded.clear();
        Some(&mut self.vs)
    }
    /// Stops weight gradients and, on the CPU, lays the convolution weights out channels-last:
    /// oneDNN then runs the convolutions in NHWC, on these cores a forward pass 1.5–2.8× faster
    /// (docs/benchmarks.md); values equal up to float rounding (another summation order). Inside
    /// the activations are NHWC; what leaves the model (features, logits) is plain NCHW.
    fn freeze(&mut self) {
        self.vs.freeze();
        if self.vs.device() == tch::Device::Cpu {
            tch::no_grad(|| {
                for (_, mut w) in self.vs.variables() {
                    if w.dim() == 4 {
                        w.set_data(&channels_last(&w));
                    }
                }
            });
        }
        self.fold();
    }
}

impl Build<ModelKind> for Vgg {
    type Params = VggParams;
    fn validate(p: &VggParams) -> crate::config::Checked {
        use crate::config::validate::{at_least, within};
        within("dropout", p.dropout, 0.0, 1.0)?;
        at_least("num_classes", p.num_classes, 1)?;
        at_least("in_channels", p.in_channels, 1)?;
        p.avgpool.iter().try_for_each(|&v| at_least("avgpool", v, 1))?;
        p.classifier.iter().try_for_each(|&v| at_least("classifier", v, 1))?;
        p.cfg.iter().try_for_each(|c| match c {
            CfgItem::Conv(w) => at_least("cfg", *w, 1),
            CfgItem::Pool(_) => Ok(()),
        })
    }
    fn build(p: VggParams, cx: &BuildCtx) -> Result<Box<dyn Classifier>> {
        let hint = "put the converted weights there (README: \"Pretrained weights\"), or train them with \
                    tools/train_classifier for a config that has [train_classifier]";
        let p = VggParams { weights: weights::to_load(&p.weights, cx.load_weights, hint)?, ..p };
        Ok(Box::new(Vgg::new(&p, cx.device)?))
    }
}
crate::register!(ModelKind, Vgg);
