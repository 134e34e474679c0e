//! VIBI's building blocks (spec peers §1.3–§1.6): the relaxed k-hot sample and its limits, the KL
//! to uniform, chunks on pixels, the seed's cross-entropy scaling by hand, and the networks'
//! output grids as the seed's table gives them.
mod common;
use common::rng_lock;
use ibex::attributors::khot::{
    approximator_ce, chunks_to_pixels, hard_k_hot, kl_to_uniform, relaxed_k_hot, temperature,
};
use ibex::models::vibi_nets::{ResNetBody, Unet};
use ibex::models::{Classifier, VibiResNet, VibiResNetParams};
use tch::{nn, Device, Kind, Tensor};

#[test]
fn the_relaxed_k_hot_is_at_most_k_hot_and_hardens_as_tau_falls() {
    let _rng = rng_lock();
    tch::manual_seed(0);
    let logits = Tensor::randn([3, 20], (Kind::Float, Device::Cpu));
    let z = relaxed_k_hot(&logits, 4, 5, 0.7);
    assert_eq!(z.size(), vec![3, 5, 20]);
    assert!(z.min().double_value(&[]) >= 0.0 && z.max().double_value(&[]) <= 1.0);
    let sums = z.sum_dim_intlist(-1, false, Kind::Float);
    assert!(sums.max().double_value(&[]) <= 4.0 + 1e-5, "{sums}");
    // three chunks far above the rest (and apart, so that no two of ℓ + g tie): at a tiny τ
    // every draw is one-hot on one of them
    let mut v = vec![-30.0f32; 12];
    for (i, l) in [(2, 30.0), (7, 20.0), (9, 10.0)] {
        v[i] = l;
    }
    let logits = Tensor::from_slice(&v).view([1, 12]);
    let z = relaxed_k_hot(&logits, 3, 50, 1e-3);
    let top = hard_k_hot(&logits, 3);
    assert_eq!(Vec::<f32>::try_from(top.view([-1])).unwrap().iter().filter(|&&x| x == 1.0).count(), 3);
    assert!((&z - z.round()).abs().max().double_value(&[]) < 1e-4, "hard at τ → 0");
    assert!((&z * (top.ones_like() - &top)).abs().max().double_value(&[]) < 1e-6, "only the top logits");
    let per_sample = z.sum_dim_intlist(-1, false, Kind::Float);
    assert!(per_sample.min().double_value(&[]) >= 1.0 - 1e-4 && per_sample.max().double_value(&[]) <= 3.0 + 1e-4);
}

#[test]
fn the_kl_to_uniform_is_zero_for_equal_logits_and_log_f_for_one_hot() {
    let f = 49;
    assert!(kl_to_uniform(&Tensor::zeros([2, f], (Kind::Float, Device::Cpu))).double_value(&[]).abs() < 1e-6);
    let one_hot = Tensor::zeros([1, f], (Kind::Float, Device::Cpu));
    let _ = one_hot.get(0).get(5).fill_(200.0);
    assert!((kl_to_uniform(&one_hot).double_value(&[]) - (f as f64).ln()).abs() < 1e-4);
}

#[test]
fn chunk_i_j_covers_its_pixel_block() {
    // a 7×7 grid on 28×28: chunk (2, 5) is rows 8..12, columns 20..24
    let z = Tensor::zeros([1, 49], (Kind::Float, Device::Cpu));
    let _ = z.get(0).get(2 * 7 + 5).fill_(1.0);
    let px = chunks_to_pixels(&z, 1, [7, 7], [28, 28]);
    assert_eq!(px.size(), vec![1, 1, 28, 28]);
    assert_eq!(px.sum(Kind::Float).double_value(&[]), 16.0);
    assert_eq!(px.narrow(2, 8, 4).narrow(3, 20, 4).sum(Kind::Float).double_value(&[]), 16.0);
}

/// B = 1, N = 2, C = 10; p puts ½ on classes 0 and 1; q's log-probabilities known: the seed's H is
/// −(1/(C·B)) Σ_n Σ_c p log q, i.e. (N/C) times the mean per-sample cross-entropy.
#[test]
fn the_seed_cross_entropy_carries_the_n_over_10_factor() {
    let mut p = vec![0f32; 10];
    p[0] = 0.5;
    p[1] = 0.5;
    let p = Tensor::from_slice(&p).view([1, 10]);
    let logits = Tensor::from_slice(&(0..20).map(|i| (i % 7) as f32 * 0.3).collect::<Vec<_>>()).view([1, 2, 10]);
    let logq = Vec::<f32>::try_from(logits.log_softmax(-1, Kind::Float).view([-1])).unwrap();
    let by_hand: f64 = -(0..2).map(|n| 0.5 * (logq[n * 10] + logq[n * 10 + 1]) as f64).sum::<f64>() / 10.0;
    assert!((approximator_ce(&p, &logits, true).double_value(&[]) - by_hand).abs() < 1e-6);
    let mean = -(0..2).map(|n| 0.5 * (logq[n * 10] + logq[n * 10 + 1]) as f64).sum::<f64>() / 2.0;
    assert!((approximator_ce(&p, &logits, false).double_value(&[]) - mean).abs() < 1e-6);
}

#[test]
fn the_temperature_falls_as_ten_over_t_after_the_warm_up() {
    assert_eq!(temperature(100, 200), 10.0);
    assert_eq!(temperature(201, 200), 10.0);
    assert_eq!(temperature(202, 200), 5.0);
    assert_eq!(temperature(210, 200), 1.0);
}

/// The explainers' output grids of the seed's table (peers §1.3), V1 (MNIST ResNet_2x never
/// downsamples) and V2 fixed (ResNet_8x exists).
#[test]
fn the_explainers_give_the_seed_grids() {
    let _rng = rng_lock(); // the initial weights and inputs draw from libtorch's generator
    let vs = nn::VarStore::new(Device::Cpu);
    let grid = |in_ch: i64, side: i64, widths: Vec<i64>| {
        let body = ResNetBody::new(&vs.root(), in_ch, &widths);
        let x = Tensor::randn([1, in_ch, side, side], (Kind::Float, Device::Cpu));
        let out = body.forward_to(&x, body.len(), false).size();
        (out[1], out[2], out[3])
    };
    let cat = |parts: &[(i64, usize)]| parts.iter().flat_map(|&(w, n)| vec![w; n]).chain([1]).collect::<Vec<_>>();
    assert_eq!(grid(1, 28, cat(&[(64, 2), (128, 3), (256, 4)])), (1, 7, 7)); // MNIST ResNet_4x
    assert_eq!(grid(1, 28, cat(&[(64, 10)])), (1, 28, 28)); // MNIST ResNet_2x (V1)
    assert_eq!(grid(3, 32, cat(&[(64, 4), (128, 5)])), (1, 16, 16)); // CIFAR ResNet_2x
    assert_eq!(grid(3, 32, cat(&[(64, 3), (128, 4), (256, 5)])), (1, 8, 8)); // CIFAR ResNet_4x
    assert_eq!(grid(3, 32, cat(&[(64, 2), (128, 2), (256, 2), (512, 2)])), (1, 4, 4)); // ResNet_8x (V2)
    let unet = Unet::new(&(vs.root() / "unet"), 1, &[64, 128, 256], 1);
    let out = unet.forward_t(&Tensor::randn([2, 1, 28, 28], (Kind::Float, Device::Cpu)), false);
    assert_eq!(out.size(), vec![2, 1, 28, 28]);
}

#[test]
fn the_black_box_cuts_at_every_block() {
    let _rng = rng_lock();
    tch::manual_seed(1);
    let m =
        VibiResNet::new(&VibiResNetParams { widths: vec![8, 16, 16, 32], ..VibiResNetParams::default() }, Device::Cpu)
            .unwrap();
    assert_eq!(m.layer_names(), vec!["blocks.0", "blocks.1", "blocks.2", "blocks.3"]); // [8] + widths: 4 pairs
    let x = Tensor::randn([2, 1, 28, 28], (Kind::Float, Device::Cpu));
    let y = m.forward(&x);
    assert_eq!(y.size(), vec![2, 10]);
    for layer in ["blocks.0", "blocks.2", "blocks.3"] {
        let z = m.head(&m.features(&x, layer).unwrap(), layer).unwrap();
        assert!(common::max_abs_diff(&z, &y) < 1e-5, "{layer}");
    }
    assert!(m.features(&x, "blocks.9").unwrap_err().to_string().contains("blocks.3"));
}

fn digits_data(n: usize, seed: i64) -> common::TensorDataset {
    tch::manual_seed(seed);
    let images = (0..n).map(|_| Tensor::randn([1, 28, 28], (Kind::Float, Device::Cpu))).collect();
    common::TensorDataset::new(images, (0..n as i64).map(|i| i % 10).collect())
}

fn small_vibi(epochs: usize) -> ibex::attributors::vibi::VibiParams {
    use ibex::attributors::vibi::VibiParams;
    VibiParams {
        explainer_widths: vec![8, 16, 32], // 28 → 14 → 7: 4×4-pixel chunks
        approximator_widths: vec![8, 16],
        k: 4,
        warmup: 3,
        fit: ibex::fitting::FitConfig { epochs, batch_size: 8, lr: 0.005, keep_checkpoints: 5, ..Default::default() },
        ..VibiParams::default()
    }
}

/// VIBI through the training foundation: maps of the chunk distribution (sums to 1 over the
/// chunks' pixels ÷ chunk area) and a top-k mask of exactly k chunks; a run resumed after its first
/// epoch ends with the weights of an uninterrupted one.
#[test]
fn vibi_trains_resumes_and_maps_k_chunks() {
    use ibex::attributors::vibi::Vibi;
    use ibex::attributors::{AttributionCtx, Attributor, Split, Splits};
    use ibex::data::Dataset;
    let _rng = rng_lock();
    tch::manual_seed(3);
    let bb =
        VibiResNet::new(&VibiResNetParams { widths: vec![8, 16], ..VibiResNetParams::default() }, Device::Cpu).unwrap();
    let data = digits_data(24, 4);
    let (whole, resumed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cx = |d: &tempfile::TempDir| AttributionCtx { checkpoint_dir: Some(d.path().into()), ..Default::default() };
    let mut v = Vibi::new(small_vibi(2));
    v.fit(&bb, &Splits::one(Split::Train, &data), &cx(&whole)).unwrap();
    let a = v.attribute(&bb, &data.get(1).unwrap(), &cx(&whole)).unwrap();
    let (pi, top) = (&a.maps["vibi_distribution"], &a.maps["vibi_topk"]);
    assert_eq!((pi.size(), top.size()), (vec![28, 28], vec![28, 28]));
    assert!((pi.sum(Kind::Double).double_value(&[]) / 16.0 - 1.0).abs() < 1e-4, "π sums to 1 over 4×4 chunks");
    assert_eq!(top.sum(Kind::Double).double_value(&[]), 4.0 * 16.0, "k = 4 chunks of 16 pixels");
    let report = v.fit_report();
    let f = report.figures["fidelity_validation"];
    assert!((0.0..=1.0).contains(&f), "fidelity {f}");
    let names: Vec<&str> = report.pictures.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["vibi_test_batch", "vibi_distribution", "vibi_topk"]);
    // 24 samples: 22 train, 2 validation, so the inspect batch is 2 tiles of 56 + 4 frame + 1 gutter
    assert_eq!(report.pictures[0].1.size(), vec![3, 61, 8 * 61]);
    std::fs::copy(whole.path().join("epoch_0001.safetensors"), resumed.path().join("epoch_0001.safetensors")).unwrap();
    Vibi::new(small_vibi(2)).fit(&bb, &Splits::one(Split::Train, &data), &cx(&resumed)).unwrap();
    let read = |d: &tempfile::TempDir| {
        ibex::fitting::Loaded::read(&d.path().join("epoch_0002.safetensors"), Device::Cpu).unwrap()
    };
    let (x, y) = (read(&whole), read(&resumed));
    for name in x.names("param/") {
        assert!(x.get(&format!("param/{name}")).unwrap().equal(&y.get(&format!("param/{name}")).unwrap()), "{name}");
    }
}

/// JS in bits by hand: 0 for equal distributions, 1 for disjoint ones, and for p = (1, 0),
/// q = (½, ½): m = (¾, ¼), ½·log2(4/3) + ½·(½·log2(⅔) + ½·log2(2)).
#[test]
fn the_frame_strength_uses_js_in_bits() {
    use ibex::attributors::vibi::js_bits;
    let p = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 0.0, 0.3, 0.7]).view([3, 2]);
    let q = Tensor::from_slice(&[0.5f32, 0.5, 0.0, 1.0, 0.3, 0.7]).view([3, 2]);
    let js = js_bits(&p, &q);
    let by_hand = 0.5 * (4.0f64 / 3.0).log2() + 0.5 * (0.5 * (2.0f64 / 3.0).log2() + 0.5);
    assert!((js.double_value(&[0]) - by_hand).abs() < 1e-6, "{js}");
    assert!((js.double_value(&[1]) - 1.0).abs() < 1e-6);
    assert!(js.double_value(&[2]).abs() < 1e-6);
}

/// VIBI's targets are one per image (the seed's "no-aug train"): a train split that gives another
/// image at each read is refused before any training, naming the key to change.
#[test]
fn an_augmenting_train_split_is_refused() {
    use ibex::attributors::vibi::Vibi;
    use ibex::attributors::{AttributionCtx, Attributor, Split, Splits};
    use ibex::data::{write_batch, Cifar10, CifarParams};
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..4 * 3072).map(|i| (i * 7 % 251) as u8).collect();
    for k in 1..=5 {
        write_batch(&dir.path().join(format!("data_batch_{k}.bin")), &[0, 1, 2, 3], &pixels).unwrap();
    }
    let p = CifarParams { root: dir.path().into(), augment: true, ..CifarParams::default() };
    let data = Cifar10::new(&p).unwrap();
    tch::manual_seed(1);
    let bb = VibiResNet::new(
        &VibiResNetParams { widths: vec![8, 16], in_channels: 3, ..VibiResNetParams::default() },
        Device::Cpu,
    )
    .unwrap();
    let e = Vibi::new(small_vibi(1))
        .fit(&bb, &Splits::one(Split::Train, &data), &AttributionCtx::default())
        .expect_err("refused");
    assert!(e.to_string().contains("data.train.augment = false"), "{e}");
}

/// One mask per colour (`xpl_channels = 3`) with the Unet explainer: chunks are single pixels of
/// one colour plane, F = 3·H·W, and the top-k map holds exactly k of them.
#[test]
fn a_unet_explainer_with_a_mask_per_colour_keeps_k_pixel_planes() {
    use ibex::attributors::vibi::{ExplainerKind, Vibi};
    use ibex::attributors::{AttributionCtx, Attributor, Split, Splits};
    use ibex::data::Dataset;
    let _rng = rng_lock();
    tch::manual_seed(5);
    let images = (0..12).map(|_| Tensor::randn([3, 16, 16], (Kind::Float, Device::Cpu))).collect();
    let data = common::TensorDataset::new(images, (0..12).map(|i| i % 10).collect());
    let bb = VibiResNet::new(
        &VibiResNetParams { widths: vec![8, 16], in_channels: 3, ..VibiResNetParams::default() },
        Device::Cpu,
    )
    .unwrap();
    let p = ibex::attributors::vibi::VibiParams {
        explainer: ExplainerKind::Unet,
        explainer_widths: vec![8, 16],
        xpl_channels: 3,
        k: 5,
        ..small_vibi(1)
    };
    let mut v = Vibi::new(p);
    v.fit(&bb, &Splits::one(Split::Train, &data), &AttributionCtx::default()).unwrap();
    let a = v.attribute(&bb, &data.get(0).unwrap(), &AttributionCtx::default()).unwrap();
    let top = &a.maps["vibi_topk"];
    assert_eq!(top.size(), vec![3, 16, 16]);
    assert_eq!(top.sum(Kind::Double).double_value(&[]), 5.0);
    let pi = a.maps["vibi_distribution"].sum(Kind::Double).double_value(&[]);
    assert!((pi - 1.0).abs() < 1e-4, "π sums to 1 over single-pixel chunks: {pi}");
}

/// k larger than the explainer's grid holds is refused before training, naming the grid.
#[test]
fn more_chunks_than_the_grid_holds_are_refused() {
    use ibex::attributors::vibi::{Vibi, VibiParams};
    use ibex::attributors::{AttributionCtx, Attributor, Split, Splits};
    let _rng = rng_lock();
    let bb =
        VibiResNet::new(&VibiResNetParams { widths: vec![8, 16], ..VibiResNetParams::default() }, Device::Cpu).unwrap();
    let data = digits_data(12, 2);
    let mut v = Vibi::new(VibiParams { k: 50, ..small_vibi(1) });
    let e = v.fit(&bb, &Splits::one(Split::Train, &data), &AttributionCtx::default()).expect_err("refused");
    assert!(e.to_string().contains("7×7 grid") && e.to_string().contains("only 49 chunks"), "{e}");
}
