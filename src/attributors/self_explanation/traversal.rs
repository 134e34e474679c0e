//! DiSENN's concept traversals (the seed's `DiSENN.explain` and `traverse`, spec peers §2.8): a
//! concept vector z ~ N(μ(x), σ(x)²) is drawn, and for each concept d the decoder is shown z with
//! z_d swept over `traversal_steps` values, one row per concept. With the seed's CDF sweep the
//! values are linspace(−v_d, v_d), v_d = Φ⁻¹(0.5 − r; μ_d, σ_d) (quirk S7: centred on 0, not on
//! μ_d); centred on the mean they are linspace(μ_d − a·σ_d, μ_d + a·σ_d), a = Φ⁻¹(0.5 + r).
use super::SelfExplanationParams;
use crate::attributors::grid;
use crate::error::{Error, Result};
use crate::models::SelfExplaining;
use crate::rng::SplitMix;
use tch::{Kind, Tensor};

/// The traversal grid of one input x [1,…]: RGB [3,H,W] in [0,1], K rows of `traversal_steps`.
pub(super) fn picture(model: &dyn SelfExplaining, x: &Tensor, p: &SelfExplanationParams, seed: u64) -> Result<Tensor> {
    let (mu, logvar) =
        model.posterior(x).ok_or_else(|| Error::Model("traversals need a variational conceptizer".into()))?;
    let z = sweeps(&mu.get(0).to_device(tch::Device::Cpu), &logvar.get(0).to_device(tch::Device::Cpu), p, seed);
    let images = model
        .decode(&z.to_device(x.device()))
        .ok_or_else(|| Error::Model("traversals need the conceptizer's decoder".into()))?;
    let tiles = grid::enlarge(&images.to_device(tch::Device::Cpu).clamp(0.0, 1.0), 28);
    Ok(grid::tile(&tiles, p.traversal_steps))
}

/// The concept vectors [K·steps, K]: row d·steps + j is the drawn z with z_d at the j-th value.
pub fn sweeps(mu: &Tensor, logvar: &Tensor, p: &SelfExplanationParams, seed: u64) -> Tensor {
    let k = mu.size()[0];
    let (mu, sigma) =
        (Vec::<f64>::try_from(mu).unwrap_or_default(), Vec::<f64>::try_from((logvar / 2.0).exp()).unwrap_or_default());
    let mut rng = SplitMix::new(seed);
    let z: Vec<f64> = mu.iter().zip(&sigma).map(|(m, s)| m + s * normal(&mut rng)).collect();
    let steps = p.traversal_steps;
    let mut rows = Vec::with_capacity((k * steps) as usize);
    for d in 0..k as usize {
        let (lo, hi) = if p.traversal_centred_on_mean {
            let a = probit(0.5 + p.traversal_range) * sigma[d];
            (mu[d] - a, mu[d] + a)
        } else {
            let v = mu[d] + sigma[d] * probit(0.5 - p.traversal_range);
            (-v, v)
        };
        for j in 0..steps {
            let mut row = z.clone();
            row[d] = lo + (hi - lo) * j as f64 / (steps - 1) as f64;
            rows.push(Tensor::from_slice(&row));
        }
    }
    Tensor::stack(&rows, 0).to_kind(Kind::Float)
}

/// Φ⁻¹(q) of the standard normal, √2·erfinv(2q − 1).
pub fn probit(q: f64) -> f64 {
    Tensor::from(2.0 * q - 1.0).erfinv().double_value(&[]) * std::f64::consts::SQRT_2
}

/// A standard normal draw (Box–Muller), so that a sample's traversal depends on its seed alone.
fn normal(rng: &mut SplitMix) -> f64 {
    let u = rng.uniform().max(f64::MIN_POSITIVE);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * rng.uniform()).cos()
}
