//! Nodes and weights on [0, 1] for the path integral of integrated gradients, with Captum's rules:
//! Riemann left / right / middle / trapezoid, and Gauss–Legendre (exact for polynomials of degree
//! 2n − 1, so it needs far fewer steps on smooth paths).
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    #[default]
    GaussLegendre,
    RiemannLeft,
    RiemannRight,
    RiemannMiddle,
    RiemannTrapezoid,
}

/// α_k and w_k with ∫₀¹ f ≈ Σ w_k f(α_k).
pub struct Quadrature {
    pub alphas: Vec<f64>,
    pub weights: Vec<f64>,
}

impl Quadrature {
    pub fn new(rule: Rule, n: usize) -> Self {
        let n = n.max(1);
        let nf = n as f64;
        let uniform = |a: Vec<f64>| Quadrature { weights: vec![1.0 / nf; a.len()], alphas: a };
        match rule {
            Rule::RiemannLeft => uniform((0..n).map(|k| k as f64 / nf).collect()),
            Rule::RiemannRight => uniform((1..=n).map(|k| k as f64 / nf).collect()),
            Rule::RiemannMiddle => uniform((0..n).map(|k| (k as f64 + 0.5) / nf).collect()),
            Rule::RiemannTrapezoid if n == 1 => Quadrature { alphas: vec![0.5], weights: vec![1.0] },
            Rule::RiemannTrapezoid => {
                let h = 1.0 / (nf - 1.0);
                let alphas = (0..n).map(|k| k as f64 * h).collect();
                let weights = (0..n).map(|k| if k == 0 || k == n - 1 { h / 2.0 } else { h }).collect();
                Quadrature { alphas, weights }
            }
            Rule::GaussLegendre => gauss_legendre(n),
        }
    }
}

/// Legendre P_n and its derivative at x, by the three-term recurrence.
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    for k in 2..=n {
        let kf = k as f64;
        let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
        p0 = p1;
        p1 = p2;
    }
    let (pn, pn1) = if n == 1 { (x, 1.0) } else { (p1, p0) };
    (pn, n as f64 * (x * pn - pn1) / (x * x - 1.0))
}

/// Roots of P_n by Newton's method from Tricomi's initial guesses, mapped from [−1, 1] to [0, 1].
fn gauss_legendre(n: usize) -> Quadrature {
    let mut nodes = Vec::with_capacity(n);
    for i in 1..=n {
        let mut x = (std::f64::consts::PI * (i as f64 - 0.25) / (n as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (p, dp) = legendre(n, x);
            let dx = p / dp;
            x -= dx;
            if dx.abs() < 1e-15 {
                break;
            }
        }
        let (_, dp) = legendre(n, x);
        nodes.push(((x + 1.0) / 2.0, 1.0 / ((1.0 - x * x) * dp * dp)));
    }
    nodes.sort_by(|a, b| a.0.total_cmp(&b.0));
    Quadrature { alphas: nodes.iter().map(|n| n.0).collect(), weights: nodes.iter().map(|n| n.1).collect() }
}
