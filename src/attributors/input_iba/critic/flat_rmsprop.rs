//! RMSprop over one flat parameter buffer: libtorch's update (α, ε; no momentum, no weight
//! decay), v ← α·v + (1 − α)·g², p ← p − lr·g / (√v + ε), as four element-wise passes over every
//! parameter at once instead of a loop over tensors. Element-wise, so each parameter moves exactly as
//! under a per-tensor optimiser.
use super::{RMSPROP_ALPHA, RMSPROP_EPS};
use tch::Tensor;

pub struct FlatRmsprop {
    /// Parameters and their gradients, [N, total] each: N copies side by side.
    pub params: Tensor,
    pub grads: Tensor,
    square_avg: Tensor,
    /// Scratch for g² and √v + ε: a fresh 4-byte-per-parameter buffer every step costs more than
    /// the arithmetic (the allocator returns it to the system each time).
    scratch: Tensor,
    lr: f64,
}

impl FlatRmsprop {
    pub fn new(params: Tensor, lr: f64) -> Self {
        FlatRmsprop {
            grads: params.zeros_like(),
            square_avg: params.zeros_like(),
            scratch: params.zeros_like(),
            params,
            lr,
        }
    }

    pub fn zero_grad(&mut self) {
        let _ = self.grads.zero_();
    }

    /// One step, then every parameter clamped to ±clip. The gradients are scaled in place (the
    /// next step zeroes them).
    pub fn step(&mut self, clip: f64) {
        let (g, t) = (&mut self.grads, &mut self.scratch);
        let _ = g.mul_out(t, g);
        let _ = t.g_mul_scalar_(1.0 - RMSPROP_ALPHA);
        let _ = self.square_avg.g_mul_scalar_(RMSPROP_ALPHA);
        self.square_avg += &*t;
        let _ = self.square_avg.sqrt_out(t);
        let _ = t.g_add_scalar_(RMSPROP_EPS);
        let _ = g.g_mul_scalar_(-self.lr);
        let _ = self.params.addcdiv_(g, t);
        let _ = self.params.clamp_(-clip, clip);
    }
}
