//! RMSprop over one flat parameter buffer: libtorch's update (α, ε; no momentum, no weight
//! decay), v ← α·v + (1 − α)·g², p ← clamp(p − lr·g / (√v + ε), ±clip). Element-wise, so each
//! parameter moves as under a per-tensor optimiser (to float rounding: the CPU pass below computes
//! in one expression what libtorch does in several).
//!
//! On the CPU the step is one pass over the buffers, split between two threads: the critic has
//! millions of parameters and does little else per element, so the eight passes of tensor
//! operations (and their temporaries) cost more than its convolutions' weight gradients.
use super::{RMSPROP_ALPHA, RMSPROP_EPS};
use tch::{Device, Kind, Tensor};

pub struct FlatRmsprop {
    /// Parameters and their gradients, [N, total] each: N copies side by side.
    pub params: Tensor,
    pub grads: Tensor,
    square_avg: Tensor,
    /// Scratch for g² and √v + ε off the CPU.
    scratch: Option<Tensor>,
    lr: f64,
}

impl FlatRmsprop {
    pub fn new(params: Tensor, lr: f64) -> Self {
        FlatRmsprop { grads: params.zeros_like(), square_avg: params.zeros_like(), scratch: None, params, lr }
    }

    pub fn zero_grad(&mut self) {
        let _ = self.grads.zero_();
    }

    /// One step, then every parameter clamped to ±clip.
    pub fn step(&mut self, clip: f64) {
        let cpu = [&self.params, &self.grads, &self.square_avg]
            .iter()
            .all(|t| t.device() == Device::Cpu && t.kind() == Kind::Float && t.is_contiguous());
        if cpu {
            self.step_cpu(clip);
        } else {
            self.step_tensors(clip);
        }
    }

    fn step_cpu(&mut self, clip: f64) {
        let n = self.params.numel();
        // SAFETY: params, grads and square_avg are three distinct contiguous CPU float buffers of
        // n elements, owned by this struct and not viewed by any other tensor operation while
        // the step runs (&mut self); the slices die with this call.
        let (p, g, v) = unsafe {
            let slice = |t: &Tensor| std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n);
            (slice(&self.params), slice(&self.grads), slice(&self.square_avg))
        };
        let (lr, clip) = (self.lr as f32, clip as f32);
        let half = n / 2;
        let (p0, p1) = p.split_at_mut(half);
        let (g0, g1) = g.split_at_mut(half);
        let (v0, v1) = v.split_at_mut(half);
        std::thread::scope(|s| {
            s.spawn(move || update(p1, g1, v1, lr, clip));
            update(p0, g0, v0, lr, clip);
        });
    }

    /// The same step as tensor operations, for buffers off the CPU.
    fn step_tensors(&mut self, clip: f64) {
        let t = self.scratch.get_or_insert_with(|| self.params.zeros_like());
        let g = &mut self.grads;
        let _ = g.mul_out(t, g);
        let _ = t.g_mul_scalar_(1.0 - RMSPROP_ALPHA);
        let _ = self.square_avg.g_mul_scalar_(RMSPROP_ALPHA);
        self.square_avg += &*t;
        let _ = self.square_avg.sqrt_out(t);
        let _ = t.g_add_scalar_(RMSPROP_EPS);
        let _ = self.params.addcdiv_(&(&*g * -self.lr), t);
        let _ = self.params.clamp_(-clip, clip);
    }
}

fn update(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, clip: f32) {
    let (alpha, eps) = (RMSPROP_ALPHA as f32, RMSPROP_EPS as f32);
    for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
        *v = alpha * *v + (1.0 - alpha) * g * g;
        *p = (*p - lr * g / (v.sqrt() + eps)).clamp(-clip, clip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three steps of the CPU pass, of the tensor operations and of libtorch's own RMSprop on the
    /// same gradients agree to float rounding, clip included.
    #[test]
    fn the_cpu_pass_is_libtorchs_rmsprop() {
        tch::manual_seed(0);
        let start = Tensor::randn([2, 5001], (Kind::Float, Device::Cpu)) * 0.02;
        let (mut cpu, mut ops) = (FlatRmsprop::new(start.copy(), 1e-3), FlatRmsprop::new(start.copy(), 1e-3));
        let reference = start.copy().set_requires_grad(true);
        let mut opt = tch::COptimizer::rms_prop(1e-3, RMSPROP_ALPHA, RMSPROP_EPS, 0.0, 0.0, false).unwrap();
        opt.add_parameters(&reference, 0).unwrap();
        for _ in 0..3 {
            let g = Tensor::randn([2, 5001], (Kind::Float, Device::Cpu));
            for o in [&mut cpu, &mut ops] {
                o.zero_grad();
                o.grads += &g;
            }
            cpu.step_cpu(0.025);
            ops.step_tensors(0.025);
            opt.zero_grad().unwrap();
            (&reference * &g).sum(Kind::Float).backward();
            opt.step().unwrap();
            let _ = tch::no_grad(|| reference.shallow_clone().clamp_(-0.025, 0.025));
        }
        let d = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
        assert!(d(&cpu.params, &ops.params) < 1e-7);
        assert!(d(&cpu.params, &reference.detach()) < 1e-7);
        // the clip bit and the parameters moved
        assert!(cpu.params.abs().max().double_value(&[]) <= 0.025 + 1e-7);
        assert!(d(&cpu.params, &start) > 1e-3);
    }
}
