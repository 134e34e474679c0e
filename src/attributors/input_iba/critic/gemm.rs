//! The original's `VisionDiscriminator` (spec §3.3) with its forward and backward passes written
//! out: conv → batch norm → LeakyReLU(0.2) three times ([`TapConv`]: matrix products over the valid
//! kernel taps), then Linear → LeakyReLU → Linear → LeakyReLU → Linear. Autograd's graph, the
//! padded taps and the critic's weight gradients in the generator's step are the work it does not do.
//!
//! Batch norm is in training mode, as the original's: statistics over each batch passed through
//! it. The critic step sends real and fake through together as two halves, each normalised by its
//! own statistics, exactly the original's two separate passes. Its backward (per half, R maps ×
//! positions): dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·σ⁻¹/R · (R·dy − Σ dy − x̂·Σ dy·x̂).
//!
//! Parameters live in one [N, total] buffer (copy k's in row k), in layouts that suit the products:
//! conv weights [k, k, C_in, C_out], linear weights [in, out], and the first linear layer's inputs in
//! the last conv's position order. They are drawn as the original draws them and then rearranged,
//! so this is the same critic as [`super::ConvCritic`] from the same stream.
use super::flat_rmsprop::FlatRmsprop;
use super::taps::TapConv;
use super::{convs, draw_copies, leaky, mlp_dims, CriticNet, CriticTraining};
use crate::attributors::Streams;
use crate::error::Result;
use tch::{Device, Kind, Tensor};

const SLOPE: f64 = 0.2;
const BN_EPS: f64 = 1e-5;

/// Copy-batched views [N, …] of the parameters (or of their gradients).
struct Views {
    /// weight [N,k,k,C_in,C_out], bias [N,1,C_out], γ [N,1,1,C_out], β [N,1,1,C_out] per conv.
    conv: Vec<[Tensor; 4]>,
    /// weight [N,in,out], bias [N,1,out] per linear layer.
    fc: Vec<[Tensor; 2]>,
}

/// Each parameter's shape within one copy, in buffer order.
fn shapes(c: i64, h: i64, w: i64) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    for (i, o, k, _, _) in convs(c) {
        out.extend([vec![k, k, i, o], vec![1, o], vec![1, 1, o], vec![1, 1, o]]);
    }
    for d in mlp_dims(c, h, w).windows(2) {
        out.extend([vec![d[0], d[1]], vec![1, d[1]]]);
    }
    out
}

fn views(flat: &Tensor, shapes: &[Vec<i64>]) -> Views {
    let n = flat.size()[0];
    let mut offset = 0;
    let mut all: Vec<Tensor> = shapes
        .iter()
        .map(|s| {
            let len: i64 = s.iter().product();
            let v = flat.narrow(1, offset, len).view([&[n][..], s].concat().as_slice());
            offset += len;
            v
        })
        .collect();
    let fc = all.split_off(12);
    let take4 = |c: &[Tensor]| [0, 1, 2, 3].map(|i| c[i].shallow_clone());
    Views {
        conv: all.chunks(4).map(take4).collect(),
        fc: fc.chunks(2).map(|c| [c[0].shallow_clone(), c[1].shallow_clone()]).collect(),
    }
}

/// The raster index (row · width + column) of each of a layer's output positions, in its order.
fn raster_index(layer: &TapConv, device: Device) -> Tensor {
    let (_, w) = layer.out;
    Tensor::from_slice(&layer.order.iter().map(|&(r, q)| r * w + q).collect::<Vec<_>>()).to_device(device)
}

/// What the backward pass needs of one conv block.
struct BlockTape {
    gathered: Vec<Tensor>,
    /// Normalised pre-activations x̂ [N,H,R,C] and 1/σ [N,H,1,C], per half.
    xhat: Tensor,
    invstd: Tensor,
    /// Batch norm's output, LeakyReLU's input [N,M,P,C].
    pre: Tensor,
}

struct Tape {
    blocks: Vec<BlockTape>,
    /// Each linear layer's input [N,M,in], and the first two's outputs (LeakyReLU's inputs).
    fc_in: Vec<Tensor>,
    fc_pre: Vec<Tensor>,
    halves: i64,
}

pub struct GemmCritic {
    layers: Vec<TapConv>,
    opt: FlatRmsprop,
    params: Views,
    grads: Views,
    clip: f64,
    /// The feature map's [C, h, w].
    map: [i64; 3],
}

impl GemmCritic {
    /// `streams.len()` copies for a [C,h,w] feature map; copy k initialised from stream k.
    pub fn new(c: i64, h: i64, w: i64, device: Device, streams: &mut Streams, t: CriticTraining) -> Self {
        let raster: Vec<(i64, i64)> = (0..h).flat_map(|r| (0..w).map(move |q| (r, q))).collect();
        let mut layers: Vec<TapConv> = Vec::new();
        for (i, o, k, s, p) in convs(c) {
            let (input, size) = match layers.last() {
                Some(l) => (l.order.clone(), l.out),
                None => (raster.clone(), (h, w)),
            };
            layers.push(TapConv::new(i, o, k, s, p, size, &input, device));
        }
        let shapes = shapes(c, h, w);
        let total: i64 = shapes.iter().map(|s| s.iter().product::<i64>()).sum();
        let n = streams.len() as i64;
        let flat = Tensor::zeros([n, total], (Kind::Float, device));
        let params = views(&flat, &shapes);
        // the first linear layer reads the last conv's positions in its order, channels last
        let order = raster_index(&layers[2], device);
        tch::no_grad(|| {
            for (k, (conv, fc)) in draw_copies(c, h, w, device, streams).into_iter().enumerate() {
                let k = k as i64;
                for ([wt, b], [pw, pb, pg, _]) in conv.iter().zip(&params.conv) {
                    pw.get(k).copy_(&wt.permute([2, 3, 1, 0]));
                    pb.get(k).copy_(&b.view([1, -1]));
                    let _ = pg.get(k).fill_(1.0);
                }
                for (l, ([wt, b], [pw, pb])) in fc.iter().zip(&params.fc).enumerate() {
                    let wt = if l == 0 {
                        let out = wt.size()[0];
                        wt.view([out, c, -1]).index_select(2, &order).permute([2, 1, 0]).reshape([-1, out])
                    } else {
                        wt.tr()
                    };
                    pw.get(k).copy_(&wt);
                    pb.get(k).copy_(b);
                }
            }
        });
        let opt = FlatRmsprop::new(flat, t.lr);
        let grads = views(&opt.grads, &shapes);
        GemmCritic { layers, opt, params, grads, clip: t.clip, map: [c, h, w] }
    }

    /// The parameters (or, `gradients`, the last critic step's gradients) in [`super::ConvCritic`]'s
    /// layouts: per conv weight [N·out,in,k,k], bias, γ, β [N·out]; per linear layer weight
    /// [N,out,in], bias [N,1,out]. For comparing the two and for inspection.
    pub fn torch_layout(&self, gradients: bool) -> Vec<Tensor> {
        let v = if gradients { &self.grads } else { &self.params };
        let n = self.opt.params.size()[0];
        let mut out = Vec::new();
        for [wt, b, g, beta] in &v.conv {
            out.push(wt.permute([0, 4, 3, 1, 2]).flatten(0, 1));
            out.extend([b, g, beta].map(|t| t.reshape([-1])));
        }
        // the inverse of the last conv's order: for each raster position, its place in that order
        let raster = raster_index(&self.layers[2], self.opt.params.device()).argsort(0, false);
        for (l, [wt, b]) in v.fc.iter().enumerate() {
            let wt = if l == 0 {
                let outs = wt.size()[2];
                // [N, P·C, out] → [N, out, C, P] → raster order
                wt.view([n, -1, self.map[0], outs])
                    .permute([0, 3, 2, 1])
                    .index_select(3, &raster)
                    .reshape([n, outs, -1])
            } else {
                wt.transpose(1, 2).contiguous()
            };
            out.extend([wt, b.copy()]);
        }
        out
    }

    /// x [N,M,C,h,w], `halves` batches of M/H maps each normalised alone → scores [N,M].
    fn forward(&self, x: &Tensor, halves: i64) -> (Tensor, Tape) {
        let (n, m) = (x.size()[0], x.size()[1]);
        let mut y = x.permute([0, 1, 3, 4, 2]).reshape([n, m, -1, self.map[0]]);
        let mut blocks = Vec::with_capacity(3);
        for (layer, [wt, b, gamma, beta]) in self.layers.iter().zip(&self.params.conv) {
            let (z, gathered) = layer.forward(&y, wt, b);
            let zh = z.view([n, halves, -1, layer.cout]);
            let (var, mean) = zh.var_mean_dim(2, false, true);
            let invstd = (var + BN_EPS).rsqrt();
            let xhat = (zh - mean) * &invstd;
            let pre = (&xhat * gamma + beta).view([n, m, -1, layer.cout]);
            y = leaky(&pre);
            blocks.push(BlockTape { gathered, xhat, invstd, pre });
        }
        let mut y = y.view([n, m, -1]);
        let (mut fc_in, mut fc_pre) = (Vec::new(), Vec::new());
        for (l, [wt, b]) in self.params.fc.iter().enumerate() {
            let out = b.baddbmm(&y, wt, 1.0, 1.0);
            fc_in.push(y);
            y = if l + 1 < self.params.fc.len() {
                let a = leaky(&out);
                fc_pre.push(out);
                a
            } else {
                out
            };
        }
        (y.squeeze_dim(-1), Tape { blocks, fc_in, fc_pre, halves })
    }

    /// dscore [N,M] → d input [N,M,C,h,w] if `want_dx`; the parameters' gradients are added to
    /// the optimiser's buffer if `weights`.
    fn backward(&self, tape: &Tape, dscore: &Tensor, want_dx: bool, weights: bool) -> Option<Tensor> {
        let grads = weights.then_some(&self.grads);
        let mut d = dscore.unsqueeze(-1);
        for l in (0..self.params.fc.len()).rev() {
            if l + 1 < self.params.fc.len() {
                d = tape.fc_pre[l].leaky_relu_backward(&d, SLOPE, false);
            }
            if let Some(g) = grads {
                let [gw, gb] = &g.fc[l];
                let _ = gw.shallow_clone().baddbmm_(&tape.fc_in[l].transpose(1, 2), &d);
                let mut acc = gb.shallow_clone();
                acc += d.sum_dim_intlist(1, true, Kind::Float);
            }
            d = d.bmm(&self.params.fc[l][0].transpose(1, 2));
        }
        let (n, m) = (d.size()[0], d.size()[1]);
        let mut d = d.view([n, m, -1, self.map[0]]);
        for l in (0..self.layers.len()).rev() {
            let (layer, block) = (&self.layers[l], &tape.blocks[l]);
            let dpre = block.pre.leaky_relu_backward(&d, SLOPE, false);
            let dz = self.bn_backward(&dpre.view([n, tape.halves, -1, layer.cout]), block, l, grads);
            let conv_grads = grads.map(|g| (&g.conv[l][0], &g.conv[l][1]));
            let wt = &self.params.conv[l][0];
            match layer.backward(&dz.view([n, m, -1, layer.cout]), &block.gathered, wt, conv_grads, want_dx || l > 0) {
                Some(dx) => d = dx,
                None => return None,
            }
        }
        let [_, h, w] = self.map;
        Some(d.view([n, m, h, w, -1]).permute([0, 1, 4, 2, 3]))
    }

    /// Batch norm's backward per half (the module doc's formula); adds dγ, dβ to `grads`.
    fn bn_backward(&self, dy: &Tensor, block: &BlockTape, l: usize, grads: Option<&Views>) -> Tensor {
        let r = dy.size()[2] as f64;
        let sum_dy = dy.sum_dim_intlist(2, true, Kind::Float);
        let sum_dy_xhat = (dy * &block.xhat).sum_dim_intlist(2, true, Kind::Float);
        if let Some(g) = grads {
            let [_, _, gg, gbeta] = &g.conv[l];
            let mut acc = gg.shallow_clone();
            acc += sum_dy_xhat.sum_dim_intlist(1, true, Kind::Float);
            let mut acc = gbeta.shallow_clone();
            acc += sum_dy.sum_dim_intlist(1, true, Kind::Float);
        }
        let gamma = &self.params.conv[l][2];
        (dy * r - sum_dy - &block.xhat * sum_dy_xhat) * (gamma * &block.invstd / r)
    }

    /// ∂(Σ_k w_k · s_k · mean_b D(x[k,b]))/∂D, [N, M] for M = `halves` × B, s = `signs` per half.
    fn score_grad(weight: Option<&Tensor>, n: i64, b: i64, signs: &[f64], device: Device) -> Tensor {
        let w = match weight {
            Some(w) => w.to_kind(Kind::Float).view([n, 1]),
            None => Tensor::ones([n, 1], (Kind::Float, device)),
        };
        Tensor::cat(&signs.iter().map(|s| (&w * (s / b as f64)).expand([n, b], false)).collect::<Vec<_>>(), 1)
    }
}

impl CriticNet for GemmCritic {
    fn train_step(&mut self, real: &Tensor, fake: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
        tch::no_grad(|| {
            let (n, b) = (real.size()[0], real.size()[1]);
            let (scores, tape) = self.forward(&Tensor::cat(&[real.detach(), fake.detach()], 1), 2);
            let loss = -scores.narrow(1, 0, b).mean_dim(1, false, Kind::Float)
                + scores.narrow(1, b, fake.size()[1]).mean_dim(1, false, Kind::Float);
            let dscore = Self::score_grad(weight, n, b, &[-1.0, 1.0], real.device());
            self.opt.zero_grad();
            self.backward(&tape, &dscore, false, true);
            self.opt.step(self.clip);
            Ok(loss)
        })
    }

    fn generator_backward(&mut self, fake: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
        let (n, b) = (fake.size()[0], fake.size()[1]);
        let (loss, dx) = tch::no_grad(|| {
            let (scores, tape) = self.forward(&fake.detach(), 1);
            let dscore = Self::score_grad(weight, n, b, &[-1.0], fake.device());
            (-scores.mean_dim(1, false, Kind::Float), self.backward(&tape, &dscore, true, false))
        });
        if let Some(dx) = dx {
            // the chain rule into the generator: ∂(Σ fake·dx)/∂fake = dx
            (fake * dx).sum(Kind::Float).backward();
        }
        Ok(loss)
    }

    fn score(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.forward(x, 1).0)
    }

    fn parameters(&self) -> Vec<Tensor> {
        self.params.conv.iter().flatten().chain(self.params.fc.iter().flatten()).map(|t| t.shallow_clone()).collect()
    }

    fn max_abs_parameter(&self) -> f64 {
        self.opt.params.abs().max().double_value(&[])
    }
}
