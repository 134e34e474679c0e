//! The networks of the VIBI re-implementation (willisk/VIBI `models.py`; spec peers §1.3): its own
//! "resnet18"/"resnet34" (every block a 3×3 + 1×1 pair, stride 2 exactly where the width grows;
//! not torchvision's), used as the black box and the approximator, and, headless, as the
//! explainers ResNet_2x/4x/8x; and its Unet explainer. The black box is a registered
//! [`Classifier`] (`type = "VibiResNet"`) that `tools/train_classifier` trains.
use super::{weights, Classifier};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, ModelKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, bias: bool) -> nn::Conv2D {
    let cfg = nn::ConvConfig { stride, padding: k / 2, bias, ..Default::default() };
    nn::conv2d(p, cin, cout, k, cfg)
}

/// Conv3×3(stride) → BN → ReLU → Conv1×1 → BN, no trailing ReLU.
pub struct ConvBlock {
    c1: nn::Conv2D,
    b1: nn::BatchNorm,
    c2: nn::Conv2D,
    b2: nn::BatchNorm,
}

impl ConvBlock {
    pub fn new(p: &nn::Path, cin: i64, cout: i64, stride: i64) -> Self {
        ConvBlock {
            c1: conv(p / "0", cin, cout, 3, stride, false),
            b1: nn::batch_norm2d(p / "1", cout, Default::default()),
            c2: conv(p / "3", cout, cout, 1, 1, false),
            b2: nn::batch_norm2d(p / "4", cout, Default::default()),
        }
    }
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.b1.forward_t(&self.c1.forward(x), train).relu();
        self.b2.forward_t(&self.c2.forward(&h), train)
    }
}

/// ReLU(block(x) + skip(x)); stride 2 when the width grows, the skip a strided 1×1 conv + BN
/// unless the shape is kept.
pub struct ResBlock {
    block: ConvBlock,
    skip: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl ResBlock {
    pub fn new(p: &nn::Path, cin: i64, cout: i64) -> Self {
        let stride = if cin >= cout { 1 } else { 2 };
        let skip = (stride != 1 || cin != cout).then(|| {
            (
                conv(p / "skip" / "0", cin, cout, 1, stride, false),
                nn::batch_norm2d(p / "skip" / "1", cout, Default::default()),
            )
        });
        ResBlock { block: ConvBlock::new(&(p / "block"), cin, cout, stride), skip }
    }
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let skip = match &self.skip {
            Some((c, b)) => b.forward_t(&c.forward(x), train),
            None => x.shallow_clone(),
        };
        (self.block.forward_t(x, train) + skip).relu()
    }
}

/// Expand (Conv1×1 → BN) then one [`ResBlock`] per consecutive pair of `[f0] + widths`. Headless
/// (an explainer) when the last width is the output's channels; else [`VibiResNet`] adds the head.
pub struct ResNetBody {
    expand: (nn::Conv2D, nn::BatchNorm),
    blocks: Vec<ResBlock>,
}

impl ResNetBody {
    pub fn new(p: &nn::Path, in_channels: i64, widths: &[i64]) -> Self {
        let f0 = widths[0];
        let expand = (
            conv(p / "expand" / "0", in_channels, f0, 1, 1, false),
            nn::batch_norm2d(p / "expand" / "1", f0, Default::default()),
        );
        let chain: Vec<i64> = std::iter::once(f0).chain(widths.iter().copied()).collect();
        let blocks =
            chain.windows(2).enumerate().map(|(k, w)| ResBlock::new(&(p / "blocks" / k), w[0], w[1])).collect();
        ResNetBody { expand, blocks }
    }
    pub fn len(&self) -> usize {
        self.blocks.len()
    }
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
    /// Input → output of block `upto - 1` (`upto = 0`: of the expand layer).
    pub fn forward_to(&self, x: &Tensor, upto: usize, train: bool) -> Tensor {
        let h = self.expand.1.forward_t(&self.expand.0.forward(x), train);
        self.forward_from(&h, 0, upto, train)
    }
    /// Blocks `from..to` on `h`.
    pub fn forward_from(&self, h: &Tensor, from: usize, to: usize, train: bool) -> Tensor {
        self.blocks[from..to].iter().fold(h.shallow_clone(), |h, b| b.forward_t(&h, train))
    }
}

/// The seed's Unet explainer: conv-block expand, strided conv-block downs with skips, bilinear ×2
/// ups (align_corners = false) concatenated with the skips, conv blocks, a 1×1 head with bias.
pub struct Unet {
    expand: ConvBlock,
    downs: Vec<ConvBlock>,
    ups: Vec<ConvBlock>,
    head: nn::Conv2D,
}

impl Unet {
    pub fn new(p: &nn::Path, in_channels: i64, d: &[i64], out: i64) -> Self {
        let downs = d.windows(2).enumerate().map(|(k, w)| ConvBlock::new(&(p / "down" / k), w[0], w[1], 2)).collect();
        let ups =
            d.windows(2).enumerate().map(|(k, w)| ConvBlock::new(&(p / "up" / k), w[0] + w[1], w[0], 1)).collect();
        Unet {
            expand: ConvBlock::new(&(p / "expand"), in_channels, d[0], 1),
            downs,
            ups,
            head: conv(p / "head", d[0], out, 1, 1, true),
        }
    }
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = self.expand.forward_t(x, train);
        let mut skips = Vec::new();
        for down in &self.downs {
            skips.push(h.shallow_clone());
            h = down.forward_t(&h, train);
        }
        for (up, skip) in self.ups.iter().zip(skips).rev() {
            let s = skip.size();
            let u = h.upsample_bilinear2d([s[2], s[3]], false, None, None);
            h = up.forward_t(&Tensor::cat(&[u, skip], 1), train);
        }
        self.head.forward(&h)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VibiResNetParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// `resnet18` or `resnet34` (the seed's widths), unless `widths` is given.
    pub arch: String,
    /// The blocks' widths; overrides `arch`.
    pub widths: Vec<i64>,
    pub in_channels: i64,
    pub num_classes: i64,
    /// `.safetensors` of this architecture; "random" for random weights.
    pub weights: String,
}

impl Default for VibiResNetParams {
    fn default() -> Self {
        VibiResNetParams {
            type_: "VibiResNet".into(),
            arch: "resnet18".into(),
            widths: Vec::new(),
            in_channels: 1,
            num_classes: 10,
            weights: String::new(),
        }
    }
}

/// The seed's widths of `arch`.
pub fn arch_widths(arch: &str) -> Result<Vec<i64>> {
    match arch {
        "resnet18" => Ok(vec![64, 64, 128, 128, 256, 256, 512, 512]),
        "resnet34" => Ok([vec![64; 3], vec![128; 4], vec![256; 6], vec![512; 3]].concat()),
        other => {
            Err(Error::Model(format!("VibiResNet arch `{other}`: expected resnet18 or resnet34, or give `widths`")))
        }
    }
}

/// The black box and approximator: [`ResNetBody`], global average pooling, a linear head. Cut
/// points `blocks.k` (after block k).
pub struct VibiResNet {
    vs: nn::VarStore,
    body: ResNetBody,
    fc: nn::Linear,
    num_classes: i64,
}

impl VibiResNet {
    pub fn new(p: &VibiResNetParams, device: tch::Device) -> Result<Self> {
        let widths = if p.widths.is_empty() { arch_widths(&p.arch)? } else { p.widths.clone() };
        let vs = nn::VarStore::new(device);
        let body = ResNetBody::new(&vs.root(), p.in_channels, &widths);
        let fc = nn::linear(vs.root() / "fc", *widths.last().expect("widths"), p.num_classes, Default::default());
        let mut m = VibiResNet { vs, body, fc, num_classes: p.num_classes };
        if !p.weights.is_empty() {
            weights::load(&mut m.vs, &PathBuf::from(&p.weights))?;
        }
        Ok(m)
    }

    fn block_index(&self, layer: &str) -> Result<usize> {
        layer.strip_prefix("blocks.").and_then(|k| k.parse::<usize>().ok()).filter(|&k| k < self.body.len()).ok_or_else(
            || {
                Error::Model(format!(
                    "no layer `{layer}` to cut at; available: blocks.0 … blocks.{}",
                    self.body.len() - 1
                ))
            },
        )
    }

    fn run_head(&self, h: &Tensor) -> Tensor {
        self.fc.forward(&h.mean_dim(&[2i64, 3][..], false, tch::Kind::Float))
    }
}

impl Classifier for VibiResNet {
    fn modality(&self) -> Modality {
        Modality::Image
    }
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.run_head(&self.body.forward_to(x, self.body.len(), train))
    }
    fn num_classes(&self) -> i64 {
        self.num_classes
    }
    fn layer_names(&self) -> Vec<String> {
        (0..self.body.len()).map(|k| format!("blocks.{k}")).collect()
    }
    fn features(&self, x: &Tensor, layer: &str) -> Result<Tensor> {
        Ok(self.body.forward_to(x, self.block_index(layer)? + 1, false))
    }
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor> {
        let k = self.block_index(layer)?;
        Ok(self.run_head(&self.body.forward_from(z, k + 1, self.body.len(), false)))
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        Some(&mut self.vs)
    }
}

impl Build<ModelKind> for VibiResNet {
    type Params = VibiResNetParams;
    fn validate(p: &VibiResNetParams) -> crate::config::Checked {
        use crate::config::validate::at_least;
        at_least("in_channels", p.in_channels, 1)?;
        at_least("num_classes", p.num_classes, 1)?;
        p.widths.iter().try_for_each(|&w| at_least("widths", w, 1))
    }
    fn build(p: VibiResNetParams, cx: &BuildCtx) -> Result<Box<dyn Classifier>> {
        let hint = "train it with tools/train_classifier for a config that has [train_classifier]";
        let p = VibiResNetParams { weights: weights::to_load(&p.weights, cx.load_weights, hint)?, ..p };
        Ok(Box::new(VibiResNet::new(&p, cx.device)?))
    }
}
crate::register!(ModelKind, VibiResNet);
