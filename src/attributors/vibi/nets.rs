//! VIBI's two trained networks (spec peers §1.3): the explainer, input → chunk logits on a grid,
//! and the approximator, which must give the black box's output from the chosen chunks alone.
//! One VarStore, so that one Adam trains both, as the seed does.
use crate::error::{Error, Result};
use crate::models::vibi_nets::{arch_widths, ResNetBody, Unet};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// The explainer's architecture (`--explainer_type`).
#[derive(Clone, Copy, Debug, serde::Deserialize, serde::Serialize, PartialEq, Eq)]
pub enum ExplainerKind {
    Unet,
    #[serde(rename = "ResNet_2x")]
    ResNet2x,
    #[serde(rename = "ResNet_4x")]
    ResNet4x,
    #[serde(rename = "ResNet_8x")]
    ResNet8x,
}

/// The seed's widths for `kind` on MNIST-sized (28²) or CIFAR-sized (32²) inputs; ResNet_8x on
/// MNIST does not exist in the seed (nor here: 28 is not divisible by 8).
pub fn explainer_widths(kind: ExplainerKind, side: i64) -> Result<Vec<i64>> {
    let rep = |parts: &[(i64, usize)]| parts.iter().flat_map(|&(w, n)| vec![w; n]).collect::<Vec<_>>();
    Ok(match (kind, side) {
        (ExplainerKind::Unet, 28) => vec![64, 128, 256],
        (ExplainerKind::ResNet2x, 28) => vec![64; 10],
        (ExplainerKind::ResNet4x, 28) => rep(&[(64, 2), (128, 3), (256, 4)]),
        (ExplainerKind::Unet, 32) => vec![64, 128, 256, 512],
        (ExplainerKind::ResNet2x, 32) => rep(&[(64, 4), (128, 5)]),
        (ExplainerKind::ResNet4x, 32) => rep(&[(64, 3), (128, 4), (256, 5)]),
        (ExplainerKind::ResNet8x, 32) => rep(&[(64, 2), (128, 2), (256, 2), (512, 2)]),
        (k, s) => {
            return Err(Error::ConfigMsg(format!(
                "attributor.explainer = {k:?}: the seed defines it for 28×28 (MNIST) and 32×32 (CIFAR) inputs, \
                 not {s}×{s}; give attributor.explainer_widths"
            )))
        }
    })
}

enum Explainer {
    Unet(Box<Unet>),
    ResNet(Box<ResNetBody>),
}

pub struct VibiNets {
    pub vs: nn::VarStore,
    explainer: Explainer,
    approximator: (ResNetBody, nn::Linear),
    /// C_x: one mask for all colours (1) or one per colour (3).
    pub channels: i64,
    /// The chunk grid [h, w] and the input's [H, W].
    pub grid: [i64; 2],
    pub size: [i64; 2],
}

impl VibiNets {
    /// Networks for inputs [C,H,W] = `input` and `classes` outputs; the explainer of `kind`
    /// (or `widths`), the approximator `approximator` ("resnet18", or widths). Initial weights from
    /// libtorch's generator.
    pub fn new(
        input: [i64; 3],
        classes: i64,
        kind: ExplainerKind,
        widths: &[i64],
        approximator: &[i64],
        channels: i64,
        device: tch::Device,
    ) -> Result<Self> {
        let [c, h, w] = input;
        let widths = if widths.is_empty() { explainer_widths(kind, h)? } else { widths.to_vec() };
        let approximator = if approximator.is_empty() { arch_widths("resnet18")? } else { approximator.to_vec() };
        let vs = nn::VarStore::new(device);
        let explainer = match kind {
            ExplainerKind::Unet => {
                Explainer::Unet(Box::new(Unet::new(&(vs.root() / "explainer"), c, &widths, channels)))
            }
            _ => {
                let chain: Vec<i64> = widths.iter().copied().chain([channels]).collect();
                Explainer::ResNet(Box::new(ResNetBody::new(&(vs.root() / "explainer"), c, &chain)))
            }
        };
        let body = ResNetBody::new(&(vs.root() / "approximator"), c, &approximator);
        let fc = nn::linear(
            vs.root() / "approximator" / "fc",
            *approximator.last().expect("widths"),
            classes,
            Default::default(),
        );
        let mut nets = VibiNets { vs, explainer, approximator: (body, fc), channels, grid: [0, 0], size: [h, w] };
        let probe = tch::no_grad(|| nets.chunk_logits(&Tensor::zeros([1, c, h, w], (Kind::Float, device)), false));
        let s = probe.size();
        nets.grid = [s[2], s[3]];
        if h % s[2] != 0 || w % s[3] != 0 {
            return Err(Error::ConfigMsg(format!(
                "the explainer's {}×{} grid does not tile the {h}×{w} input",
                s[2], s[3]
            )));
        }
        Ok(nets)
    }

    /// Chunks F = C_x·h·w.
    pub fn chunks(&self) -> i64 {
        self.channels * self.grid[0] * self.grid[1]
    }

    /// x [B,C,H,W] → chunk logits [B,C_x,h,w] (the ResNet explainers end in a ReLU, quirk V3).
    pub fn chunk_logits(&self, x: &Tensor, train: bool) -> Tensor {
        match &self.explainer {
            Explainer::Unet(u) => u.forward_t(x, train),
            Explainer::ResNet(r) => r.forward_to(x, r.len(), train),
        }
    }

    /// Approximator logits of inputs [M,C,H,W] → [M,classes].
    pub fn approximate(&self, t: &Tensor, train: bool) -> Tensor {
        let (body, fc) = &self.approximator;
        fc.forward(&body.forward_to(t, body.len(), train).mean_dim(&[2i64, 3][..], false, Kind::Float))
    }

    /// Named parameters in a fixed order.
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}
