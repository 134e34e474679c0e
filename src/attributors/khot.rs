//! VIBI's chunk selection and loss terms (Bang et al. 2019, as willisk/VIBI implements them; spec
//! peers §1.4–§1.6): the relaxed k-hot sample of the explainer's chunk logits, its hard top-k
//! counterpart, the chunk mask brought to pixels, the KL of the chunk distribution to the uniform
//! one, the approximator's cross-entropy (with the seed's N/10 factor, quirk V4) and the
//! temperature schedule.
use tch::{Kind, Tensor};

/// Bounds of U in the Gumbel trick: U = 0 or 1 gives an infinite g (the seed does not clamp).
pub const GUMBEL_EPS: f64 = 1e-10;

/// Relaxed k-hot samples of chunk logits ℓ [B,F]: for each of `n` samples and each of `k` draws,
/// c = softmax((ℓ + g)/τ) with Gumbel noise g = −log(−log U), U ~ U[ε, 1−ε]; the sample is the
/// element-wise max over the k draws, "at most k-hot" (two draws may pick one chunk). → [B,n,F],
/// from libtorch's generator.
pub fn relaxed_k_hot(logits: &Tensor, k: i64, n: i64, tau: f64) -> Tensor {
    let (b, f) = (logits.size()[0], logits.size()[1]);
    let u = Tensor::rand([b, n, k, f], (Kind::Float, logits.device())).clamp(GUMBEL_EPS, 1.0 - GUMBEL_EPS);
    let g = -(-u.log()).log();
    let c = ((logits.view([b, 1, 1, f]) + g) / tau).softmax(-1, Kind::Float);
    c.amax(&[2i64][..], false)
}

/// The hard explanation at evaluation: 1 at the k largest logits of each row, else 0. [B,F].
pub fn hard_k_hot(logits: &Tensor, k: i64) -> Tensor {
    let (_, idx) = logits.topk(k, -1, true, false);
    logits.zeros_like().scatter_value(-1, &idx, 1.0)
}

/// A chunk mask [M, C_x·h·w] as pixels [M, C_x, H, W]: chunk (i, j) covers the (H/h)×(W/w) block
/// at (i·H/h, j·W/w) (nearest upsampling). `channels` = C_x (1: one mask for every colour).
pub fn chunks_to_pixels(z: &Tensor, channels: i64, grid: [i64; 2], size: [i64; 2]) -> Tensor {
    let m = z.size()[0];
    let z = z.view([m, channels, grid[0], grid[1]]);
    if grid == size {
        z
    } else {
        z.upsample_nearest2d(size, None, None)
    }
}

/// KL(Cat(π) ‖ Uniform(F)) with π = softmax(ℓ), averaged over the batch: mean_b [Σ π log π + log F].
/// 0 for equal logits, log F for a one-hot π.
pub fn kl_to_uniform(logits: &Tensor) -> Tensor {
    let f = logits.size()[1] as f64;
    let logp = logits.log_softmax(-1, Kind::Float);
    (logp.exp() * &logp).sum_dim_intlist(-1, false, Kind::Float).mean(Kind::Float) + f.ln()
}

/// Cross-entropy of the approximator's logits [B,N,C] against the black box's probabilities
/// p [B,C]. `seed_scaling` (quirk V4, the seed's default): the helper sums over dim 1, the sample
/// axis, then averages over batch × classes, H = −(1/(C·B)) Σ_b Σ_n Σ_c p log q = (N/C)·mean CE;
/// false: the per-sample mean, mean_{b,n} CE(p_b, q_bn).
pub fn approximator_ce(p: &Tensor, logits: &Tensor, seed_scaling: bool) -> Tensor {
    let (n, c) = (logits.size()[1], logits.size()[2]);
    let ce = -(p.unsqueeze(1) * logits.log_softmax(-1, Kind::Float)).sum_dim_intlist(-1, false, Kind::Float); // [B,N]
    let mean = ce.mean(Kind::Float);
    if seed_scaling {
        mean * (n as f64 / c as f64)
    } else {
        mean
    }
}

/// The seed's temperature at `step` after `warmup` steps: t = step − warmup, τ = 10/t for t > 1,
/// else 10. During warm-up (t < 1) the approximator sees unmasked inputs.
pub fn temperature(step: i64, warmup: i64) -> f64 {
    let t = step - warmup;
    if t > 1 {
        10.0 / t as f64
    } else {
        10.0
    }
}
