//! A 3×3 conv (padding 1) and the eval-mode batch norm after it as one conv, for frozen models:
//! one pass over the activations fewer each way, values equal up to float rounding.
use tch::nn;
use tch::Tensor;

/// Batch norm's ε (PyTorch's default, which the layers are built with).
pub const BN_EPS: f64 = 1e-5;

/// A conv and the eval-mode batch norm after it as one conv: with s = γ/√(σ²_run + ε),
/// W' = s·W and b' = s·(b − μ_run) + β give s·(W∗x + b − μ_run) + β, the two layers' output.
pub struct Folded {
    ws: Tensor,
    bs: Tensor,
}

impl Folded {
    /// `nhwc`: lay the weight out channels-last, as a frozen CPU Vgg's are (`Vgg::freeze`).
    pub fn new(conv: &nn::Conv2D, norm: &nn::BatchNorm, nhwc: bool) -> Self {
        tch::no_grad(|| {
            let mut s = (&norm.running_var + BN_EPS).rsqrt();
            if let Some(g) = &norm.ws {
                s *= g;
            }
            let b = conv.bs.as_ref().map_or_else(|| norm.running_mean.zeros_like(), Tensor::shallow_clone);
            let mut bs = (b - &norm.running_mean) * &s;
            if let Some(beta) = &norm.bs {
                bs += beta;
            }
            let ws = &conv.ws * s.view([-1, 1, 1, 1]);
            Folded { ws: if nhwc { channels_last(&ws) } else { ws.contiguous() }, bs }
        })
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d(&self.ws, Some(&self.bs), [1, 1], [1, 1], [1, 1], 1)
    }
}

/// `w` [out,in,k,k] in channels-last memory (oneDNN's NHWC kernels on the CPU), same shape.
pub fn channels_last(w: &Tensor) -> Tensor {
    w.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}
