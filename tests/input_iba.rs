//! InputIBA's stages (spec §3.3–3.4): the input KL against the GAN prior by hand, the critic's
//! architecture, weight clipping and the generator mask's range.
mod common;
use common::{rng_lock, tiny_vgg};
use ibex::attributors::capacity;
use ibex::attributors::input_iba::{input_capacity, wgan, Critic, WganParams};
use ibex::models::Classifier;
use tch::{Device, Kind, Tensor};

fn kl_gauss(m: f64, s: f64, mu: f64, sigma: f64) -> f64 {
    (sigma / s).ln() + (s * s + (m - mu).powi(2)) / (2.0 * sigma * sigma) - 0.5
}

#[test]
fn input_kl_is_the_kl_against_the_gan_prior() {
    let f = |x: f64, lam: f64, m: f64, mu: f64, sd: f64| input_capacity(&Tensor::from(x), &Tensor::from(lam), &Tensor::from(m), mu, sd).double_value(&[]);
    for &(x, lam, m, mu, sd) in &[(1.5, 0.3, 0.4, 0.0, 1.0), (-2.0, 0.8, 0.7, 0.5, 2.0), (0.3, 0.5, 0.1, -1.0, 0.5)] {
        // KL( N(λx + (1−λ)μ, ((1−λ)σ)²) ‖ N(mλx + (1−mλ)μ, ((1−mλ)σ)²) )
        let want = kl_gauss(lam * x + (1.0 - lam) * mu, (1.0 - lam) * sd, m * lam * x + (1.0 - m * lam) * mu, (1.0 - m * lam) * sd);
        assert!((f(x, lam, m, mu, sd) - want).abs() < 1e-5, "x={x} λ={lam} m={m}: {} vs {want}", f(x, lam, m, mu, sd));
    }
    // m → 0: IBA's KL against N(μ, σ²); m → 1: free
    let iba = capacity(&Tensor::from((1.5 - 0.2) / 0.7), &Tensor::from(0.3)).double_value(&[]);
    assert!((f(1.5, 0.3, 0.0, 0.2, 0.7) - iba).abs() < 1e-6);
    assert!(f(1.5, 0.3, 1.0, 0.2, 0.7).abs() < 1e-6);
    // the hazard m·λ → 1 stays finite
    assert!(f(1.5, 1.0 - 1e-7, 1.0, 0.0, 1.0).is_finite());
}

#[test]
fn the_critic_has_the_originals_architecture() {
    let _rng = rng_lock();
    // VGG16 at features.17: 512×28×28 → the original's ≈ 64.4 M parameters, one output per sample
    let c = Critic::new(512, 28, 28, Device::Cpu);
    let n = c.num_parameters();
    assert!((64_300_000..64_500_000).contains(&n), "{n}");
    let small = Critic::new(8, 8, 8, Device::Cpu);
    let out = small.forward(&Tensor::randn([5, 8, 8, 8], (Kind::Float, Device::Cpu)));
    assert_eq!(out.size(), vec![5, 1]);
}

#[test]
fn gan_training_clips_the_critic_and_keeps_the_mask_in_range() {
    let _rng = rng_lock();
    tch::manual_seed(0);
    let mut model = tiny_vgg();
    model.freeze();
    let x = Tensor::randn([1, 3, 32, 32], (Kind::Float, Device::Cpu));
    let feat = tch::no_grad(|| model.features(&x, "features.8")).unwrap().squeeze_dim(0);
    let cap = feat.abs() * 0.5;
    let lambda = cap.sigmoid();
    let bits = Tensor::rand([32, 32], (Kind::Float, Device::Cpu)) * 3.0;
    let input = wgan::GanInput { model: &model, layer: "features.8", x: &x, capacity: &cap, lambda: &lambda, feat_bits: &bits };
    let p = WganParams { dataset_size: 40, epochs: 2, batch_size: 16, ..Default::default() };
    tch::manual_seed(3);
    let (mask, curves) = wgan::train(&input, &p, 1).unwrap();
    assert_eq!(mask.size(), vec![1, 3, 32, 32]);
    assert!(mask.min().double_value(&[]) > 0.0 && mask.max().double_value(&[]) < 1.0);
    // 3 critic steps an epoch (16 + 16 + 8), the generator at iterations 0: 2 epochs
    assert_eq!(curves[0].1.len(), 6);
    assert_eq!(curves[1].1.len(), 2);
    // the mask moved from its initial value σ(bits), and the same seed gives the same mask
    assert!((&mask - bits.sigmoid()).abs().max().double_value(&[]) > 1e-6);
    tch::manual_seed(3);
    let again = wgan::train(&input, &p, 1).unwrap().0;
    assert_eq!((&mask - again).abs().max().double_value(&[]), 0.0);
}

#[test]
fn weight_clipping_holds_after_a_critic_step() {
    let _rng = rng_lock();
    // the clip is applied to every trainable critic parameter (BN's γ/β included)
    let c = Critic::new(8, 8, 8, Device::Cpu);
    let before: f64 = c.vs.trainable_variables().iter().map(|t| t.abs().max().double_value(&[])).fold(0.0, f64::max);
    assert!(before > 0.01, "default init exceeds the clip");
    c.clip_for_tests(0.01);
    for v in c.vs.trainable_variables() {
        assert!(v.abs().max().double_value(&[]) <= 0.01 + 1e-9);
    }
}
