//! Adam (Kingma & Ba 2015) with PyTorch's update order, written out so that its state (the two
//! moments and the step count) goes into a checkpoint: tch's optimiser keeps that state inside
//! libtorch where it can be neither saved nor restored, and a resumed run must continue with the
//! very moments the interrupted one had.
use crate::error::{Error, Result};
use tch::Tensor;

pub struct Adam {
    lr: f64,
    betas: [f64; 2],
    eps: f64,
    /// Steps taken (t in the bias corrections).
    step: i64,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    /// Zero moments for `params`.
    pub fn new(params: &[Tensor], lr: f64, betas: [f64; 2], eps: f64) -> Self {
        let zeros = || params.iter().map(|p| p.zeros_like().detach()).collect();
        Adam { lr, betas, eps, step: 0, m: zeros(), v: zeros() }
    }

    pub fn steps(&self) -> i64 {
        self.step
    }

    /// One step from the gradients of `params` (same order as at [`Adam::new`]), in place:
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
    /// A parameter without a gradient is left alone, as PyTorch does.
    pub fn step(&mut self, params: &[Tensor]) {
        self.step += 1;
        let [b1, b2] = self.betas;
        let t = self.step as i32;
        let (bc1, bc2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        tch::no_grad(|| {
            for ((p, m), v) in params.iter().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = m.lerp_(&g, 1.0 - b1);
                let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
                let denom = v.sqrt() / bc2.sqrt() + self.eps;
                let mut p = p.shallow_clone();
                let _ = p.g_sub_(&(&*m / denom * (self.lr / bc1)));
            }
        });
    }

    /// Clears the gradients of `params` before the next backward pass.
    pub fn zero_grad(params: &[Tensor]) {
        for p in params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// The moments (`m/<name>`, `v/<name>`) and the step count (`step`), for a checkpoint.
    pub fn state(&self, names: &[String]) -> Vec<(String, Tensor)> {
        let moments = names.iter().zip(&self.m).map(|(n, t)| (format!("m/{n}"), t.shallow_clone()));
        let second = names.iter().zip(&self.v).map(|(n, t)| (format!("v/{n}"), t.shallow_clone()));
        moments.chain(second).chain([("step".to_string(), Tensor::from_slice(&[self.step]))]).collect()
    }

    /// Restores what [`Adam::state`] saved; `get` looks a tensor up by its name.
    pub fn restore(&mut self, names: &[String], get: impl Fn(&str) -> Result<Tensor>) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for (k, n) in names.iter().enumerate() {
                for (moment, which) in [(&mut self.m[k], "m"), (&mut self.v[k], "v")] {
                    let saved = get(&format!("{which}/{n}"))?;
                    if saved.size() != moment.size() {
                        return Err(Error::Fit(format!(
                            "optimiser state `{which}/{n}` has shape {:?}, the parameter {:?}",
                            saved.size(),
                            moment.size()
                        )));
                    }
                    moment.copy_(&saved);
                }
            }
            Ok(())
        })?;
        self.step = get("step")?.int64_value(&[0]);
        Ok(())
    }
}
