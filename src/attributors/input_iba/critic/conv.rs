//! The original's `VisionDiscriminator` (spec §3.3), N independent copies side by side so that N
//! samples' GANs train in one pass: the convolutions are grouped (group k sees sample k's channels),
//! batch norm is per channel and so per copy, and the MLP is a batched matmul. Every parameter of
//! copy k is a slice of one tensor, and RMSprop and the clipping are element-wise, so copy k trains
//! exactly as a critic of its own would.
use super::{convs, draw_copies, leaky, CopyInit, Scorer};
use crate::attributors::Streams;
use tch::{Device, Kind, Tensor};

pub struct ConvCritic {
    n: i64,
    /// conv weight [N·out, in, k, k], conv bias [N·out], BN γ [N·out], BN β [N·out] per conv.
    conv: Vec<[Tensor; 4]>,
    /// weight [N, out, in], bias [N, 1, out] per linear layer.
    fc: Vec<[Tensor; 2]>,
    c: i64,
}

impl ConvCritic {
    /// `streams.len()` copies for a [C,h,w] feature map; copy k initialised from stream k.
    pub fn new(c: i64, h: i64, w: i64, device: Device, streams: &mut Streams) -> Self {
        let n = streams.len() as i64;
        let copies = draw_copies(c, h, w, device, streams);
        let cat = |f: &dyn Fn(&CopyInit) -> Tensor, stack: bool| {
            let parts: Vec<Tensor> = copies.iter().map(f).collect();
            if stack { Tensor::stack(&parts, 0) } else { Tensor::cat(&parts, 0) }.set_requires_grad(true)
        };
        let conv = (0..3)
            .map(|l| {
                let out = convs(c)[l].1 * n;
                let ones = Tensor::ones([out], (Kind::Float, device)).set_requires_grad(true);
                [
                    cat(&|cp| cp.0[l][0].shallow_clone(), false),
                    cat(&|cp| cp.0[l][1].shallow_clone(), false),
                    ones,
                    Tensor::zeros([out], (Kind::Float, device)).set_requires_grad(true),
                ]
            })
            .collect();
        let fc = (0..3)
            .map(|l| [cat(&|cp| cp.1[l][0].shallow_clone(), true), cat(&|cp| cp.1[l][1].shallow_clone(), true)])
            .collect();
        ConvCritic { n, conv, fc, c }
    }

    /// [B, N·C, h, w] (copy k's input in channels k·C..(k+1)·C) → [N, B] scores; batch norm in
    /// training mode, as in the original.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut y = x.shallow_clone();
        for ([w, b, g, beta], &(_, _, _, s, p)) in self.conv.iter().zip(convs(self.c).iter()) {
            y = y.conv2d(w, Some(b), [s, s], [p, p], [1, 1], self.n);
            y = leaky(&y.batch_norm(Some(g), Some(beta), None::<&Tensor>, None::<&Tensor>, true, 0.1, 1e-5, true));
        }
        let bsz = y.size()[0];
        let mut y = y.view([bsz, self.n, -1]).transpose(0, 1); // [N, B, F]
        for (l, [w, b]) in self.fc.iter().enumerate() {
            y = b.baddbmm(&y, &w.transpose(1, 2), 1.0, 1.0);
            if l + 1 < self.fc.len() {
                y = leaky(&y);
            }
        }
        y.squeeze_dim(-1)
    }

    /// Parameters of one copy (the original's `VisionDiscriminator`: ≈ 64.4 M for 512×28×28).
    pub fn num_parameters(&self) -> i64 {
        self.parameters().iter().map(|t| t.numel() as i64).sum::<i64>() / self.n
    }
}

impl Scorer for ConvCritic {
    fn score(&self, x: &Tensor) -> Tensor {
        // [N,B,C,h,w] → the copies side by side, [B, N·C, h, w]
        let s = x.size();
        self.forward(&x.transpose(0, 1).reshape([s[1], s[0] * s[2], s[3], s[4]]))
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.conv
            .iter()
            .flat_map(|p| p.iter())
            .chain(self.fc.iter().flat_map(|p| p.iter()))
            .map(|t| t.shallow_clone())
            .collect()
    }
}
