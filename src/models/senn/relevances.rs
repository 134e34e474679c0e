//! SENN's parameterizers (spec peers §2.4): x → relevances θ [B,K,C], one per concept and class.
use tch::nn::{self, Module};
use tch::Tensor;

pub trait Parameterizer: Send {
    fn relevances(&self, x: &Tensor, train: bool) -> Tensor;
}

/// COMPAS's LinearParameterizer: Linear layers along `hidden_sizes` (the seed's [11, 5, 5, 22]:
/// 11 inputs, the last K·C outputs), Dropout → ReLU between them, dropout after the last (no
/// activation), reshaped to [B,K,C].
pub struct Linear {
    layers: Vec<nn::Linear>,
    dropout: f64,
    k: i64,
    c: i64,
}

impl Linear {
    pub fn new(p: &nn::Path, sizes: &[i64], dropout: f64, k: i64, c: i64) -> Self {
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(p / "layers" / i, w[0], w[1], Default::default()))
            .collect();
        Linear { layers, dropout, k, c }
    }
}

impl Parameterizer for Linear {
    fn relevances(&self, x: &Tensor, train: bool) -> Tensor {
        let mut a = x.shallow_clone();
        for (i, l) in self.layers.iter().enumerate() {
            a = l.forward(&a).dropout(self.dropout, train);
            if i + 1 < self.layers.len() {
                a = a.relu();
            }
        }
        a.view([-1, self.k, self.c])
    }
}

/// MNIST's ConvParameterizer, PyTorch's MNIST example: Conv(C_in→10, 5) → MaxPool 2 → ReLU →
/// Conv(10→20, 5) → Dropout2d → MaxPool 2 → ReLU → flatten (320) → Linear(320 → 50) → Dropout →
/// Tanh, reshaped to [B,K,C] (so θ ∈ [−1, 1]): `hidden_sizes` [320, 50] end at K·C = 5·10 (ReLU
/// between further layers). `cl_sizes` [1, 10, 20] and `hidden_sizes` are the seed's config values.
pub struct Conv {
    convs: Vec<nn::Conv2D>,
    fcs: Vec<nn::Linear>,
    dropout: f64,
    k: i64,
    c: i64,
}

impl Conv {
    pub fn new(p: &nn::Path, cl_sizes: &[i64], hidden: &[i64], dropout: f64, k: i64, c: i64) -> Self {
        let convs = cl_sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::conv2d(p / "conv" / i, w[0], w[1], 5, Default::default()))
            .collect();
        let fcs = hidden
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(p / "fc" / i, w[0], w[1], Default::default()))
            .collect();
        Conv { convs, fcs, dropout, k, c }
    }
}

impl Parameterizer for Conv {
    fn relevances(&self, x: &Tensor, train: bool) -> Tensor {
        let mut a = x.shallow_clone();
        let last = self.convs.len() - 1;
        for (i, conv) in self.convs.iter().enumerate() {
            a = conv.forward(&a);
            if i == last {
                a = a.feature_dropout(self.dropout, train);
            }
            a = a.max_pool2d_default(2).relu();
        }
        a = a.flatten(1, -1);
        for (i, fc) in self.fcs.iter().enumerate() {
            a = fc.forward(&a).dropout(self.dropout, train);
            if i + 1 < self.fcs.len() {
                a = a.relu();
            }
        }
        a.tanh().view([-1, self.k, self.c])
    }
}
