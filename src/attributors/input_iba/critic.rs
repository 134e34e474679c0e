//! The original's `VisionDiscriminator` (spec §3.3), N independent copies side by side so that N
//! samples' GANs train in one pass: the convolutions are grouped (group k sees sample k's channels),
//! batch norm is per channel and so per copy, and the MLP is a batched matmul. Every parameter of
//! copy k is a slice of one tensor, and RMSprop and the clipping are element-wise, so copy k trains
//! exactly as a critic of its own would.
use super::super::Streams;
use tch::nn::{self, Module, RNN};
use tch::{Device, Kind, Tensor};

/// Convolutions (in, out, kernel, stride, padding) per copy, for C feature channels.
fn convs(c: i64) -> [(i64, i64, i64, i64, i64); 3] {
    [(c, 2 * c, 4, 2, 1), (2 * c, 4 * c, 4, 2, 1), (4 * c, c, 3, 1, 1)]
}

/// LeakyReLU(0.2).
fn leaky(x: &Tensor) -> Tensor {
    x.maximum(&(x * 0.2))
}

pub struct Critic {
    n: i64,
    /// conv weight [N·out, in, k, k], conv bias [N·out], BN γ [N·out], BN β [N·out] per conv.
    conv: Vec<[Tensor; 4]>,
    /// weight [N, out, in], bias [N, 1, out] per linear layer.
    fc: Vec<[Tensor; 2]>,
    c: i64,
}

/// PyTorch's default init of conv and linear layers: weight and bias ~ U(±1/√fan_in)
/// (`kaiming_uniform_(a=√5)`); BN γ = 1, β = 0.
fn default_init(shape: &[i64], fan_in: i64, device: Device) -> Tensor {
    let b = 1.0 / (fan_in as f64).sqrt();
    Tensor::empty(shape, (Kind::Float, device)).uniform_(-b, b)
}

/// One critic copy's initial (weight, bias) pairs: the convolutions', then the linear layers'.
type CopyInit = (Vec<[Tensor; 2]>, Vec<[Tensor; 2]>);

impl Critic {
    /// `streams.len()` copies for a [C,h,w] feature map; copy k initialised from stream k.
    pub fn new(c: i64, h: i64, w: i64, device: Device, streams: &mut Streams) -> Self {
        let n = streams.len() as i64;
        let dims = [c * (h / 4) * (w / 4), 512, 256, 1];
        let copies: Vec<CopyInit> = (0..streams.len())
            .map(|k| {
                streams.seeded(k, || {
                    let conv = convs(c)
                        .iter()
                        .map(|&(i, o, kk, _, _)| {
                            [
                                default_init(&[o, i, kk, kk], i * kk * kk, device),
                                default_init(&[o], i * kk * kk, device),
                            ]
                        })
                        .collect();
                    let fc = dims
                        .windows(2)
                        .map(|d| [default_init(&[d[1], d[0]], d[0], device), default_init(&[1, d[1]], d[0], device)])
                        .collect();
                    (conv, fc)
                })
            })
            .collect();
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
        Critic { n, conv, fc, c }
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

/// A Wasserstein critic of N samples' feature maps at once, trained with weight clipping.
pub trait CriticNet {
    /// x [N,B,…] (sample k's batch is x[k]) → scores [N,B].
    fn score(&self, x: &Tensor) -> Tensor;
    fn parameters(&self) -> Vec<Tensor>;
    /// Clamps every parameter (BN's γ and β included, as the original) to ±c.
    fn clip(&self, c: f64) {
        tch::no_grad(|| {
            for v in self.parameters() {
                let _ = v.shallow_clone().clamp_(-c, c);
            }
        });
    }
    /// The largest |parameter| (to check the clipping).
    fn max_abs_parameter(&self) -> f64 {
        self.parameters().iter().map(|t| t.abs().max().double_value(&[])).fold(0.0, f64::max)
    }
}

impl CriticNet for Critic {
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

/// The original's `NLPDiscriminator` (spec §4.4) for sequence features [T,H]: an LSTM(H → H) over
/// the sequence, its last hidden state → Linear(H → 128) → LeakyReLU(0.2) → Linear(128 → 1).
/// PyTorch's default init (U(±1/√H) for the LSTM, U(±1/√fan_in) for the linears). One sample at a
/// time (N = 1): sentences of different lengths do not share a batch.
pub struct SequenceCritic {
    vs: nn::VarStore,
    lstm: nn::LSTM,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl SequenceCritic {
    pub fn new(h: i64, device: Device, streams: &mut Streams) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let lstm = nn::lstm(&root / "lstm", h, h, nn::RNNConfig { batch_first: false, ..Default::default() });
        let fc1 = nn::linear(&root / "fc1", h, 128, Default::default());
        let fc2 = nn::linear(&root / "fc2", 128, 1, Default::default());
        streams.seeded(0, || {
            tch::no_grad(|| {
                let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
                vars.sort_by(|a, b| a.0.cmp(&b.0));
                for (name, mut v) in vars {
                    // the LSTM (PyTorch: 1/√hidden) and fc1 read h units, fc2 reads fc1's 128
                    let fan_in = if name.starts_with("fc2") { 128 } else { h };
                    let b = 1.0 / (fan_in as f64).sqrt();
                    let _ = v.uniform_(-b, b);
                }
            })
        });
        SequenceCritic { vs, lstm, fc1, fc2 }
    }
}

impl CriticNet for SequenceCritic {
    fn score(&self, x: &Tensor) -> Tensor {
        // [1,B,T,H] → sequence-first [T,B,H]
        let seq = x.squeeze_dim(0).transpose(0, 1);
        let out = self.lstm.seq_init(&seq, &self.lstm.zero_state(seq.size()[1])).0;
        let last = out.select(0, seq.size()[0] - 1);
        self.fc2.forward(&leaky(&self.fc1.forward(&last))).view([1, -1])
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.vs.trainable_variables()
    }
}
