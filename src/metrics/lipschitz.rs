//! The local Lipschitz estimate of a self-explaining model's explanation (Alvarez-Melis & Jaakkola
//! 2018, the robustness measure behind SENN's robustness-vs-λ figure):
//! L̂(x) = max_{x' ∈ B_ε(x)} ‖θ(x) − θ(x')‖₂ / ‖x − x'‖₂, with θ all relevances [K,C] and the
//! maximum taken by random search over `samples` points x' = x + δ, δ ~ U(−ε, ε) per element. A
//! larger value is a less stable explanation; random search gives a lower bound of the true one.
use crate::models::SelfExplaining;
use tch::{Kind, Tensor};

/// L̂ per input of x [B,…] (eval mode): [B] in double precision. Draws from libtorch's generator
/// (seed it first for a reproducible estimate).
pub fn local_lipschitz(model: &dyn SelfExplaining, x: &Tensor, eps: f64, samples: usize) -> Tensor {
    let theta = |z: &Tensor| model.concepts_and_relevances(z).1.flatten(1, -1).to_kind(Kind::Double);
    let base = theta(x);
    let mut worst = Tensor::zeros([x.size()[0]], (Kind::Double, x.device()));
    for _ in 0..samples {
        let delta = (x.rand_like() * 2.0 - 1.0) * eps;
        let moved = theta(&(x + &delta));
        let ratio = (moved - &base).norm_scalaropt_dim(2, [1i64], false)
            / delta.flatten(1, -1).to_kind(Kind::Double).norm_scalaropt_dim(2, [1i64], false).clamp_min(1e-12);
        worst = worst.maximum(&ratio);
    }
    worst
}
