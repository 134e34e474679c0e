//! InputIBA's stages (spec §3.3–3.4): the input KL against the GAN prior by hand, the critic's
//! architecture, weight clipping and the generator mask's range.
mod common;
use common::{rng_lock, tiny_vgg};
use ibex::attributors::input_iba::critic::{vision, CriticKernels, CriticTraining};
use ibex::attributors::input_iba::{input_capacity, wgan, ConvCritic, WganParams};
use ibex::attributors::{capacity, Split, Splits, Streams};
use ibex::models::{Classifier, Macs, Randomise};
use tch::{Device, Kind, Tensor};

fn kl_gauss(m: f64, s: f64, mu: f64, sigma: f64) -> f64 {
    (sigma / s).ln() + (s * s + (m - mu).powi(2)) / (2.0 * sigma * sigma) - 0.5
}

#[test]
fn input_kl_is_the_kl_against_the_gan_prior() {
    let f = |x: f64, lam: f64, m: f64, mu: f64, sd: f64| {
        input_capacity(&Tensor::from(x), &Tensor::from(lam), &Tensor::from(m), mu, sd).double_value(&[])
    };
    for &(x, lam, m, mu, sd) in &[(1.5, 0.3, 0.4, 0.0, 1.0), (-2.0, 0.8, 0.7, 0.5, 2.0), (0.3, 0.5, 0.1, -1.0, 0.5)] {
        // KL( N(λx + (1−λ)μ, ((1−λ)σ)²) ‖ N(mλx + (1−mλ)μ, ((1−mλ)σ)²) )
        let want = kl_gauss(
            lam * x + (1.0 - lam) * mu,
            (1.0 - lam) * sd,
            m * lam * x + (1.0 - m * lam) * mu,
            (1.0 - m * lam) * sd,
        );
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
    let c = ConvCritic::new(512, 28, 28, Device::Cpu, &mut Streams::new([1]));
    let n = c.num_parameters();
    assert!((64_300_000..64_500_000).contains(&n), "{n}");
    // three critics side by side: one score per critic and sample, each critic seeing only its
    // own channels
    let small = ConvCritic::new(8, 8, 8, Device::Cpu, &mut Streams::new([1, 2, 3]));
    let x = Tensor::randn([5, 24, 8, 8], (Kind::Float, Device::Cpu));
    let out = small.forward(&x);
    assert_eq!(out.size(), vec![3, 5]);
    let alone = ConvCritic::new(8, 8, 8, Device::Cpu, &mut Streams::new([2])).forward(&x.narrow(1, 8, 8));
    assert!((out.get(1) - alone.get(0)).abs().max().double_value(&[]) < 1e-5);
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
    let (cap, lambda, bits) = (cap.unsqueeze(0), lambda.unsqueeze(0), bits.unsqueeze(0));
    let theta = bits.unsqueeze(1).expand([1, 3, 32, 32], false);
    let input = wgan::GanInput {
        model: &model,
        layer: "features.8",
        x: &x,
        capacity: &cap,
        lambda: &lambda,
        theta_init: &theta,
        names: &["a"],
    };
    let p = WganParams { dataset_size: 40, epochs: 2, batch_size: 16, ..Default::default() };
    let gan = wgan::train(&input, &p, &mut Streams::new([1])).unwrap();
    let mask = gan.masks;
    assert_eq!(mask.size(), vec![1, 3, 32, 32]);
    assert!(mask.min().double_value(&[]) > 0.0 && mask.max().double_value(&[]) < 1.0);
    // 3 critic steps an epoch (16 + 16 + 8), the generator at iterations 0: 2 epochs
    let curves = &gan.curves[0];
    assert_eq!(curves[0].1.len(), 6);
    assert_eq!(curves[1].1.len(), 2);
    // the clip held after the last critic step, the mask moved from its initial value σ(bits),
    // and the same seed gives the same mask
    assert!(gan.critic.max_abs_parameter() <= 0.01 + 1e-9);
    assert!((&mask - bits.sigmoid()).abs().max().double_value(&[]) > 1e-6);
    tch::manual_seed(99); // the global generator's state does not matter: the stream decides
    let again = wgan::train(&input, &p, &mut Streams::new([1])).unwrap().masks;
    assert_eq!((&mask - again).abs().max().double_value(&[]), 0.0);
}

#[test]
fn weight_clipping_holds_after_a_critic_step() {
    let _rng = rng_lock();
    // the clip is applied to every trainable critic parameter (BN's γ/β included), both ways of
    // computing the critic
    for kernels in [CriticKernels::Convolution, CriticKernels::Gemm] {
        let training = CriticTraining { lr: 5e-5, clip: 0.01 };
        let mut c = vision(8, 8, 8, Device::Cpu, &mut Streams::new([4]), kernels, training).unwrap();
        // PyTorch's default init: U(±1/√fan_in); conv1 has fan_in 8·4·4 = 128; BN's γ starts at 1
        let bound = 1.0 / 128f64.sqrt();
        let conv1 = c.parameters()[0].abs().max().double_value(&[]);
        assert!(conv1 <= bound && conv1 > 0.9 * bound, "{kernels:?}: {conv1} vs {bound}");
        assert!(c.max_abs_parameter() >= 1.0, "default init exceeds the clip");
        let maps = || Tensor::randn([1, 4, 8, 8, 8], (Kind::Float, Device::Cpu)).relu();
        let _ = c.train_step(&maps(), &maps(), None).unwrap();
        assert!(c.max_abs_parameter() <= 0.01 + 1e-9, "{kernels:?}");
    }
}

/// InputIBA with small settings on the tiny VGG, fitted on 20 random images.
fn small_input_iba(
    samples_per_batch: usize,
) -> (Box<dyn ibex::attributors::Attributor>, ibex::models::Vgg, common::TensorDataset) {
    use ibex::attributors::input_iba::InputIbaParams;
    use ibex::registry::{Build, BuildCtx};
    let mut model = tiny_vgg();
    model.freeze();
    tch::manual_seed(5);
    let imgs: Vec<Tensor> = (0..20).map(|_| Tensor::randn([3, 32, 32], (Kind::Float, Device::Cpu))).collect();
    let data = common::TensorDataset::new(imgs, (0..20).map(|i| i % 10).collect());
    let mut p = InputIbaParams { samples_per_batch, save_gan_mask: true, ..Default::default() };
    p.feat_iba.layer = "features.8".into();
    p.feat_iba.n_samples = 16;
    p.gan = WganParams { dataset_size: 40, epochs: 2, batch_size: 16, ..Default::default() };
    p.input_iba.opt_steps = 8;
    let mut a =
        ibex::attributors::input_iba::InputIba::build(p, &BuildCtx { device: Device::Cpu, load_weights: false })
            .unwrap();
    let cx = ibex::attributors::AttributionCtx { device: Device::Cpu, seed: 3, ..Default::default() };
    a.fit(&model, &Splits::one(Split::Estimation, &data), &cx).unwrap();
    (a, model, data)
}

#[test]
fn a_batch_of_samples_gives_each_sample_its_own_maps() {
    use ibex::data::Dataset;
    let _rng = rng_lock();
    let cx = ibex::attributors::AttributionCtx { device: Device::Cpu, seed: 3, ..Default::default() };
    let (mut one, model, data) = small_input_iba(1);
    let (mut three, _, _) = small_input_iba(3);
    assert_eq!(three.batch_size(), 3);
    let samples: Vec<_> = (0..3).map(|i| data.get(i).unwrap()).collect();
    let alone: Vec<_> = samples.iter().map(|s| one.attribute(&model, s, &cx).unwrap()).collect();
    let together = three.attribute_batch(&model, &samples, &cx).unwrap();
    let mut worst = 0f64;
    for (a, b) in alone.iter().zip(&together) {
        for (ma, mb) in a.maps.values().zip(b.maps.values()) {
            assert_eq!(ma.size(), mb.size());
            worst = worst.max(common::max_abs_diff(ma, mb));
        }
        assert_eq!(a.curves.len(), b.curves.len());
    }
    // feature bits, input mask and GAN mask of each sample agree to float rounding
    eprintln!("batched vs single: max |Δ| = {worst:e}");
    assert!(worst < 1e-4, "batched vs single: max |Δ| = {worst}");
    // and the samples' maps differ from each other (no sharing of masks across the batch)
    assert!(common::max_abs_diff(&together[0].maps["input_masks"], &together[1].maps["input_masks"]) > 1e-3);
}

#[test]
fn flop_counts_follow_the_specs_accounting() {
    let _rng = rng_lock(); // VGG16's random init draws from the global generator
    use ibex::attributors::input_iba::{flops, InputIbaParams};
    // the critic at VGG16's 512×28×28: ≈ 3.75 GMAC (spec §7.2: 1.64 + 1.64 + 0.46 G and the MLP)
    let d = flops::critic_macs(512, 28, 28);
    assert!((3.7e9..3.8e9).contains(&d), "{d}");
    // VGG16 at 224², cut after features.17 (conv4_1): ≈ 10.3 GMAC before, ≈ 5.2 GMAC after
    let vgg = ibex::models::Vgg::new(&ibex::models::VggParams::default(), Device::Cpu).unwrap();
    let [f, t] = vgg.macs([3, 224, 224], "features.17").unwrap();
    assert!((f / 10.3e9 - 1.0).abs() < 0.02 && (t / 5.2e9 - 1.0).abs() < 0.02, "{f} {t}");
    let s = flops::per_image(&InputIbaParams::default(), [f, t], [512, 28, 28]);
    // input IBA: 60 steps × 10 copies × (forward + backward to the input) of the whole net
    assert!((s.input_iba - 2.0 * 60.0 * 10.0 * 2.0 * (f + t)).abs() < 1.0);
    // feature IBA: 10 steps × 10 copies × the part after the layer, forward and backward
    assert!((s.feature_iba - 2.0 * 10.0 * 10.0 * 2.0 * t).abs() < 1.0);
    // WGAN, 20 epochs of 200 samples: fakes to the layer, critic forward (real + fake) and its
    // weight gradients; 2 generator steps of 32 an epoch: to the layer and back, critic forward
    // and full backward
    let per_epoch = 200.0 * f + 4.0 * 200.0 * d + 64.0 * (2.0 * f + 3.0 * d);
    assert!((s.wgan / (2.0 * 20.0 * per_epoch) - 1.0).abs() < 1e-9);
    // in all ≈ 0.32 PFLOP per image, against the original's ≈ 0.44 (it runs the whole VGG for
    // every generated image and in feature IBA)
    let total = s.feature_iba + s.wgan + s.input_iba;
    assert!((0.3e15..0.34e15).contains(&total), "{total:e}");
}

#[test]
fn the_sanity_check_randomises_only_the_stages_it_names() {
    use ibex::data::Dataset;
    let _rng = rng_lock();
    let cx = ibex::attributors::AttributionCtx { device: Device::Cpu, seed: 3, ..Default::default() };
    let (mut a, model, data) = small_input_iba(1);
    let s = data.get(0).unwrap();
    let plain = a.attribute(&model, &s, &cx).unwrap();
    let same = a.attribute_randomised(&model, &model, &s, "input_iba", &cx).unwrap();
    for (x, y) in plain.maps.values().zip(same.maps.values()) {
        assert_eq!(common::max_abs_diff(x, y), 0.0, "an unrandomised model gives the same maps");
    }
    let mut rnd = tiny_vgg();
    rnd.freeze();
    tch::manual_seed(1);
    rnd.randomise_from("features.0").unwrap();
    // "input_iba": feature IBA and GAN on the original model, the input bottleneck on the random one
    let late = a.attribute_randomised(&model, &rnd, &s, "input_iba", &cx).unwrap();
    assert_eq!(common::max_abs_diff(&plain.maps["feat_masks"], &late.maps["feat_masks"]), 0.0);
    assert_eq!(common::max_abs_diff(&plain.maps["gan_masks"], &late.maps["gan_masks"]), 0.0, "same GAN mask");
    // (by 7·10⁻⁴ here: in 8 steps on a 32² image the KL term moves the mask most)
    assert!(common::max_abs_diff(&plain.maps["input_masks"], &late.maps["input_masks"]) > 1e-4);
    // "all": the feature map changes too
    let all = a.attribute_randomised(&model, &rnd, &s, "all", &cx).unwrap();
    assert!(common::max_abs_diff(&plain.maps["feat_masks"], &all.maps["feat_masks"]) > 1e-3);
}
