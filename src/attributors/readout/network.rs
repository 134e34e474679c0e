//! The readout network of IBA's Readout Bottleneck (spec §2.1): the readouts normalised by their
//! estimators, brought to the bottleneck's size and concatenated, then three 1×1 convolutions to
//! one α per bottleneck element. The last convolution starts near zero with bias `initial_alpha`, so
//! at initialisation α ≈ 5 everywhere: λ = σ(5) ≈ 0.993, the bottleneck lets nearly everything
//! through and training starts from the identity.
use super::{Architecture, Normalise};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// A readout's statistics as the network uses them.
pub struct ReadoutStats {
    pub mean: Tensor,
    /// max(std, min_std): IBA's fix of the NaN of a zero-variance element (IBA #19, #41).
    pub std: Tensor,
}

pub struct ReadoutNet {
    vs: nn::VarStore,
    convs: [nn::Conv2D; 3],
    clamp: f64,
}

impl ReadoutNet {
    /// `f_in`: channels of all readouts together (a readout of D values counts D); `f_out`: the
    /// bottleneck's channels. Draws the initial weights from libtorch's generator.
    pub fn new(f_in: i64, f_out: i64, arch: Architecture, initial_alpha: f64, clamp: f64, device: tch::Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let hidden = match arch {
            Architecture::B => 2 * f_out,
            Architecture::A => (f_out / 4).max(1),
        };
        let widths = [f_in, (f_in / 2).max(1), hidden, f_out];
        let conv =
            |k: usize| nn::conv2d(&root / format!("conv{}", k + 1), widths[k], widths[k + 1], 1, Default::default());
        let convs = [conv(0), conv(1), conv(2)];
        tch::no_grad(|| {
            let mut last = convs[2].ws.shallow_clone();
            let _ = last.g_mul_scalar_(1e-3);
            if let Some(b) = convs[2].bs.as_ref() {
                let _ = b.shallow_clone().fill_(initial_alpha);
            }
        });
        ReadoutNet { vs, convs, clamp }
    }

    /// Named parameters in a fixed order (the checkpoint's names).
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Concatenated normalised readouts [B,F_in,h,w] ([`readout_input`]) → α [B,F_out,h,w],
    /// clamped to ±clamp: the network as the spec writes it.
    pub fn alpha_of_input(&self, input: &Tensor) -> Tensor {
        self.rest(&self.convs[0].forward(input))
    }

    /// The same α from the normalised readouts without building the concatenated input. The first
    /// convolution is linear, and so are the broadcast of a logits vector and the bilinear resize
    /// (its weights sum to 1), so conv₁(resize(r)) = resize(W·r) + b: each readout is multiplied by
    /// its block of conv₁'s weights at its own resolution (a logits vector once per image, not at
    /// every position; VGG16's features.28 at 14×14, not 56×56), then resized and summed. For
    /// VGG16 at 224² that is 2.7 instead of 10 GMACs an image, and no [B, 2536, 56, 56] tensor.
    pub fn alpha(&self, normalised: &[Tensor], size: [i64; 2]) -> Tensor {
        let w = &self.convs[0].ws; // [F1, F_in, 1, 1]
        let f1 = w.size()[0];
        let mut offset = 0;
        let mut sum: Option<Tensor> = None;
        for r in normalised {
            let c = r.size()[1];
            let wk = w.narrow(1, offset, c);
            offset += c;
            let y = if r.dim() == 2 {
                r.matmul(&wk.view([f1, c]).tr()).view([r.size()[0], f1, 1, 1])
            } else {
                let y = r.conv2d(&wk, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1);
                if y.size()[2..] == size {
                    y
                } else {
                    y.upsample_bilinear2d(size, true, None, None)
                }
            };
            sum = Some(match sum {
                Some(s) => s + y,
                None => y,
            });
        }
        let b = self.convs[0].bs.as_ref().map(|b| b.view([1, f1, 1, 1]));
        let h = sum.expect("at least one readout");
        let h = match b {
            Some(b) => h + b,
            None => h,
        };
        // a spatial readout may be absent (only logits): the sum is then [B,F1,1,1]
        let h = h.expand([h.size()[0], f1, size[0], size[1]], false);
        self.rest(&h)
    }

    /// ReLU, conv₂, ReLU, conv₃, clamp.
    fn rest(&self, conv1_out: &Tensor) -> Tensor {
        let h = self.convs[1].forward(&conv1_out.relu()).relu();
        self.convs[2].forward(&h).clamp(-self.clamp, self.clamp)
    }
}

/// Each readout normalised by its statistics (spec §2.1): (r − mean)/std or r/std.
pub fn normalised(readouts: &[Tensor], stats: &[ReadoutStats], normalise: Normalise) -> Vec<Tensor> {
    readouts
        .iter()
        .zip(stats)
        .map(|(r, s)| {
            let r = r.to_kind(Kind::Float);
            match normalise {
                Normalise::MeanStd => (&r - &s.mean) / &s.std,
                Normalise::Std => &r / &s.std,
            }
        })
        .collect()
}

/// The network's input (spec §2.1): each readout normalised, a [B,D] readout broadcast to
/// [B,D,h,w], all resized bilinearly (align_corners = true) to the bottleneck's [h,w], concatenated
/// over channels.
pub fn readout_input(readouts: &[Tensor], stats: &[ReadoutStats], size: [i64; 2], normalise: Normalise) -> Tensor {
    let parts: Vec<Tensor> = normalised(readouts, stats, normalise)
        .into_iter()
        .map(|n| {
            let n = if n.dim() == 2 {
                let d = n.size();
                n.view([d[0], d[1], 1, 1]).expand([d[0], d[1], size[0], size[1]], false)
            } else {
                n
            };
            if n.size()[2..] == size {
                n
            } else {
                n.upsample_bilinear2d(size, true, None, None)
            }
        })
        .collect();
    Tensor::cat(&parts, 1)
}
