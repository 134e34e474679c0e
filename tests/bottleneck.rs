//! The bottleneck's maths against hand computations (spec §1.3–1.7).
mod common;
use common::rng_lock;
use ibex::attributors::{capacity, resize_mirror, saliency_bits, GaussianSmoothing};
use tch::{Device, Kind, Tensor};

/// KL(N(m, s²) ‖ N(μ, σ²)) in nats, the textbook formula.
fn kl_gauss(m: f64, s: f64, mu: f64, sigma: f64) -> f64 {
    (sigma / s).ln() + (s * s + (m - mu).powi(2)) / (2.0 * sigma * sigma) - 0.5
}

#[test]
fn capacity_is_the_kl_of_the_bottleneck_against_its_prior() {
    // p(z|R) = N(λR + (1−λ)μ, ((1−λ)σ)²), prior N(μ, σ²): the capacity in normalised coordinates
    // must equal the KL computed in the original units.
    for &(r, lam, mu, sigma) in
        &[(1.5, 0.3, 0.0, 1.0), (2.0, 0.9, -1.0, 0.5), (-3.0, 0.05, 0.7, 2.5), (0.2, 0.5, 0.2, 0.1)]
    {
        let want = kl_gauss(lam * r + (1.0 - lam) * mu, (1.0 - lam) * sigma, mu, sigma);
        let got = capacity(&Tensor::from((r - mu) / sigma), &Tensor::from(lam)).double_value(&[]);
        assert!((got - want).abs() < 1e-5, "r={r} λ={lam}: {got} vs {want}");
    }
    // and one value by hand: r = 1.5, λ = 0.3 → −½(1 + ln 0.49 − 0.45² − 0.49)
    let by_hand = -0.5 * (1.0 + 0.49f64.ln() - 0.2025 - 0.49);
    let got = capacity(&Tensor::from(1.5), &Tensor::from(0.3)).double_value(&[]);
    assert!((got - by_hand).abs() < 1e-6 && (by_hand - 0.202_925).abs() < 1e-5);
    // λ → 0 passes nothing: zero capacity
    assert!(capacity(&Tensor::from(2.0), &Tensor::from(0.0)).double_value(&[]).abs() < 1e-7);
}

#[test]
fn lambda_one_passes_the_features_and_lambda_zero_the_prior() {
    let _rng = rng_lock();
    tch::manual_seed(0);
    let r = Tensor::randn([1, 3, 4, 4], (Kind::Float, Device::Cpu));
    let mean = Tensor::full([3, 4, 4], 0.5, (Kind::Float, Device::Cpu));
    let std = Tensor::full([3, 4, 4], 2.0, (Kind::Float, Device::Cpu));
    let ones = Tensor::ones([10, 3, 4, 4], (Kind::Float, Device::Cpu));
    let z = ibex::attributors::noisy_features(&r, &ones, &ones.randn_like(), &mean, &std);
    assert_eq!((z - r.expand([10, 3, 4, 4], false)).abs().max().double_value(&[]), 0.0, "λ=1 must add no noise");
    let zeros = Tensor::zeros([4000, 3, 4, 4], (Kind::Float, Device::Cpu));
    let z = ibex::attributors::noisy_features(&r, &zeros, &zeros.randn_like(), &mean, &std);
    assert!((z.mean(Kind::Float).double_value(&[]) - 0.5).abs() < 0.02);
    assert!((z.std(true).double_value(&[]) - 2.0).abs() < 0.02);
}

#[test]
fn saliency_is_in_bits_and_resizing_keeps_total_bits() {
    let _rng = rng_lock();
    tch::manual_seed(1);
    let cap = Tensor::rand([4, 6, 5], (Kind::Float, Device::Cpu));
    let bits = saliency_bits(&cap, None);
    let want = cap.sum_dim_intlist(0, false, Kind::Float) / std::f64::consts::LN_2;
    assert!((&bits - want).abs().max().double_value(&[]) < 1e-6);
    let big = saliency_bits(&cap, Some([48, 40]));
    assert_eq!(big.size(), vec![48, 40]);
    let (t0, t1) = (bits.sum(Kind::Double).double_value(&[]), big.sum(Kind::Double).double_value(&[]));
    // kept up to the border, where the original's resize mirrors the map (x₋₁ = x₁)
    assert!((t0 - t1).abs() / t0 < 0.03, "total bits {t0} → {t1}");
    let flat = saliency_bits(&Tensor::ones([2, 6, 5], (Kind::Float, Device::Cpu)), Some([48, 40]));
    let want = 2.0 / std::f64::consts::LN_2 * 30.0 / (48.0 * 40.0);
    assert!((flat - want).abs().max().double_value(&[]) < 1e-6, "a flat map stays flat, its bits kept exactly");
    // NaN channels are ignored (nansum), as in the original
    let with_nan =
        Tensor::cat(&[cap.shallow_clone(), Tensor::full([1, 6, 5], f64::NAN, (Kind::Float, Device::Cpu))], 0);
    assert!((saliency_bits(&with_nan, None) - &bits).abs().max().double_value(&[]) < 1e-6);
}

#[test]
fn smoothing_kernel_is_normalised_with_the_originals_size() {
    let s = GaussianSmoothing::new(1.0, 2, Device::Cpu);
    let x = Tensor::full([1, 2, 9, 9], 0.7, (Kind::Float, Device::Cpu));
    assert!((s.apply(&x) - 0.7).abs().max().double_value(&[]) < 1e-6, "a constant stays constant");
    // an impulse spreads over 2·round(2σ)+1 = 5 cells a side, keeping its mass
    let imp = Tensor::zeros([1, 1, 9, 9], (Kind::Float, Device::Cpu));
    let _ = imp.get(0).get(0).get(4).get(4).fill_(1.0);
    let out = GaussianSmoothing::new(1.0, 1, Device::Cpu).apply(&imp);
    assert!((out.sum(Kind::Float).double_value(&[]) - 1.0).abs() < 1e-6);
    let nonzero = out.gt(0.0).sum(Kind::Int64).int64_value(&[]);
    assert_eq!(nonzero, 25);
    // Python's round takes halves to even: σ = 1.25 → round(2.5) = 2 → 5 cells, as σ = 1; σ = 1.75 → 4 → 9
    for (sigma, cells) in [(1.25, 25), (1.75, 81)] {
        let out = GaussianSmoothing::new(sigma, 1, Device::Cpu).apply(&imp);
        assert_eq!(out.gt(0.0).sum(Kind::Int64).int64_value(&[]), cells, "σ = {sigma}");
    }
    let centre = out.double_value(&[0, 0, 4, 4]);
    let g = |d2: f64| (-d2 / 2.0).exp();
    let norm: f64 = (-2..=2).flat_map(|i| (-2..=2).map(move |j| g((i * i + j * j) as f64))).sum();
    assert!((centre - 1.0 / norm).abs() < 1e-6);
}

/// The saliency map's resize is scikit-image's `resize(order=1, mode='reflect')`, as the original's
/// (values from scikit-image 0.26 in the fixture): pixel centres, the map mirrored beyond them.
#[test]
fn the_saliency_resize_is_scikit_images() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/skimage_resize.json");
    let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let floats =
        |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>();
    for case in fixture["cases"].as_array().unwrap() {
        let size = |k: &str| [case[k][0].as_i64().unwrap(), case[k][1].as_i64().unwrap()];
        let x = Tensor::from_slice(&floats(&case["input"])).view(size("in"));
        let want = Tensor::from_slice(&floats(&case["expected"])).view(size("out"));
        let got = resize_mirror(&x, size("out"));
        let diff = (&got - &want).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{:?} → {:?}: max |Δ| {diff}", size("in"), size("out"));
        // PyTorch's align_corners=False resize differs at the border only
        let torch = x.view([1, 1, -1, size("in")[1]]).upsample_bilinear2d(size("out"), false, None, None).squeeze();
        let edge = (size("out")[0] / size("in")[0]) / 2;
        let inner = |t: &Tensor| t.narrow(0, edge, size("out")[0] - 2 * edge);
        if size("out")[1] / size("in")[1] == size("out")[0] / size("in")[0] {
            let e2 = (size("out")[1] / size("in")[1]) / 2;
            let core = |t: &Tensor| inner(t).narrow(1, e2, size("out")[1] - 2 * e2);
            assert!((core(&torch) - core(&want)).abs().max().double_value(&[]) < 1e-5);
        }
    }
}
