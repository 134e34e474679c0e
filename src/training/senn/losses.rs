//! SENN's losses as the seed computes them (spec peers §2.5): total = NLL + λ·L_rob + ξ·L_concept.
use crate::models::senn::SennOut;
use tch::{Kind, Reduction, Tensor};

/// Which robustness loss (`robustness_loss`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum Robustness {
    /// ‖J_yx − J_hx·θ‖_F over the whole batch, J_yx the Jacobian of the log-softmax outputs.
    #[serde(rename = "mnist_robustness_loss")]
    Mnist,
    /// ‖∇ₓ Σ_c log p_c ⊗ 1_C − θ‖_F (quirk S3: the gradient of the sum over classes; J_h = I).
    #[serde(rename = "compas_robustness_loss")]
    Compas,
}

/// ∂(Σ_b y_b)/∂x for a per-sample y [B] (samples are independent), kept in the graph so the loss
/// can be differentiated again (double backprop): [B, D] with D = x's features flattened.
fn grad_rows(y: &Tensor, x: &Tensor) -> Tensor {
    let g = Tensor::run_backward(&[y.sum(Kind::Float)], &[x], true, true);
    g[0].flatten(1, -1)
}

/// L_rob for `out` computed from `x` (a leaf that requires grad), as the seed: the Frobenius norm
/// of the whole batch tensor, neither averaged nor squared.
pub fn robustness(kind: Robustness, x: &Tensor, out: &SennOut) -> Tensor {
    match kind {
        Robustness::Compas => {
            let g = grad_rows(&out.log_probs.sum_dim_intlist(-1, false, Kind::Float), x); // [B,F]
            (g.unsqueeze(-1) - &out.theta).square().sum(Kind::Float).sqrt()
        }
        Robustness::Mnist => {
            let jac = |y: &Tensor| {
                let cols: Vec<Tensor> = (0..y.size()[1]).map(|c| grad_rows(&y.select(1, c), x)).collect();
                Tensor::stack(&cols, -1)
            };
            let (j_yx, j_hx) = (jac(&out.log_probs), jac(&out.h)); // [B,D,C], [B,D,K]
            (j_yx - j_hx.matmul(&out.theta)).square().sum(Kind::Float).sqrt()
        }
    }
}

/// SENN's concept loss (`mse_l1_sparsity`): MSE(x̂, x) + ζ·Σ|h|, the L1 summed over batch and
/// concepts (so it grows with the batch, as the seed's).
pub fn concept_senn(x: &Tensor, out: &SennOut, sparsity: f64) -> Tensor {
    let mse = out.concepts.x_hat.mse_loss(&x.detach().view_as(&out.concepts.x_hat), Reduction::Mean);
    mse + out.h.abs().sum(Kind::Float) * sparsity
}

/// KL(N(μ, σ²) ‖ N(0, 1)) as the seed sums it: Σ_k mean_b ½(μ² + σ² − log σ² − 1).
pub fn kl_standard_normal(mu: &Tensor, logvar: &Tensor) -> Tensor {
    ((mu.square() + logvar.exp() - logvar - 1.0) * 0.5).mean_dim(0, false, Kind::Float).sum(Kind::Float)
}

/// DiSENN's concept loss (`BVAE_loss`): MSE(x̂, x) + β·KL.
pub fn concept_bvae(x: &Tensor, out: &SennOut, beta: f64) -> Tensor {
    let (mu, logvar) = out.concepts.vae.as_ref().expect("the β-VAE conceptizer");
    let mse = out.concepts.x_hat.mse_loss(&x.detach().view_as(&out.concepts.x_hat), Reduction::Mean);
    mse + kl_standard_normal(mu, logvar) * beta
}

/// The negative log-likelihood of the labels under the log-probabilities, batch mean.
pub fn nll(log_probs: &Tensor, y: &Tensor) -> Tensor {
    -log_probs.gather(1, &y.unsqueeze(1), false).mean(Kind::Float)
}
