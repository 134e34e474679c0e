//! The native VGG against torchvision: same weights (tests/fixtures, made by make_fixtures.py with
//! PyTorch 2.11.0) must give the same logits, split-layer output and input gradient.
mod common;
use common::{fixture, max_abs_diff};
use ibex::models::{CfgItem, Classifier, Vgg, VggParams};
use tch::{Device, Kind, Tensor};

fn tiny_params() -> VggParams {
    common::tiny_vgg_params()
}

#[test]
fn logits_features_and_gradient_match_pytorch() {
    let vgg = common::tiny_vgg();
    let x = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let logits = tch::no_grad(|| vgg.forward(&x));
    let want = Tensor::read_npy(fixture("tiny_vgg_logits.npy")).unwrap();
    assert!(max_abs_diff(&logits, &want) < 1e-5, "logits differ by {}", max_abs_diff(&logits, &want));

    let f8 = tch::no_grad(|| vgg.features(&x, "features.8")).unwrap();
    let want8 = Tensor::read_npy(fixture("tiny_vgg_features8.npy")).unwrap();
    assert!(max_abs_diff(&f8, &want8) < 1e-5);
    // head(features(x)) is the whole network
    let composed = tch::no_grad(|| vgg.head(&f8, "features.8")).unwrap();
    assert!(max_abs_diff(&composed, &want) < 1e-5);

    let xg = x.copy().set_requires_grad(true);
    vgg.forward(&xg).select(1, 3).sum(Kind::Float).backward();
    let want_g = Tensor::read_npy(fixture("tiny_vgg_input_grad_class3.npy")).unwrap();
    assert!(max_abs_diff(&xg.grad(), &want_g) < 1e-6);
}

/// A frozen Vgg runs its convolutions channels-last on the CPU: the same PyTorch values to the same
/// tolerance, features and gradients handed out as plain NCHW tensors (a `view` on them works).
#[test]
fn a_frozen_vgg_runs_channels_last_and_still_matches_pytorch() {
    let mut vgg = common::tiny_vgg();
    vgg.freeze();
    let x = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let want = Tensor::read_npy(fixture("tiny_vgg_logits.npy")).unwrap();
    assert!(max_abs_diff(&tch::no_grad(|| vgg.forward(&x)), &want) < 1e-5);
    let f8 = tch::no_grad(|| vgg.features(&x, "features.8")).unwrap();
    assert!(f8.is_contiguous(), "features leave the model NCHW");
    let _ = f8.view([-1]);
    assert!(max_abs_diff(&f8, &Tensor::read_npy(fixture("tiny_vgg_features8.npy")).unwrap()) < 1e-5);
    let targets = Tensor::from_slice(&vec![3i64; x.size()[0] as usize]);
    let (g, _) = ibex::attributors::gradient::input_gradients(&vgg, &x, &targets, Default::default()).unwrap();
    assert!(g.is_contiguous());
    let want_g = Tensor::read_npy(fixture("tiny_vgg_input_grad_class3.npy")).unwrap();
    assert!(max_abs_diff(&g, &want_g) < 1e-6);
}

#[test]
fn layer_names_follow_torchvision() {
    let vgg = Vgg::new(
        &VggParams { arch: "vgg16".into(), classifier: vec![8, 8], num_classes: 3, ..VggParams::default() },
        Device::Cpu,
    )
    .unwrap();
    // torchvision VGG16: 13 convs + 13 ReLUs + 5 pools = 31 feature layers; features.17 is conv4_1
    assert_eq!(vgg.layer_names().len(), 31);
    let x = Tensor::zeros([1, 3, 64, 64], (Kind::Float, Device::Cpu));
    assert_eq!(vgg.features(&x, "features.17").unwrap().size(), vec![1, 512, 8, 8]);
    let err = vgg.features(&x, "features.31").unwrap_err().to_string();
    assert!(err.contains("features.31") && err.contains("features.30"), "{err}");
}

#[test]
fn batch_norm_variant_has_torchvision_names() {
    let vgg = Vgg::new(
        &VggParams {
            arch: "vgg11".into(),
            batch_norm: true,
            classifier: vec![8],
            num_classes: 2,
            ..VggParams::default()
        },
        Device::Cpu,
    )
    .unwrap();
    let mut vgg = vgg;
    let names: Vec<String> = vgg.var_store_mut().unwrap().variables().into_keys().collect();
    // vgg11_bn: conv at 0, bn at 1 (weight, bias, running stats), relu at 2, pool at 3, next conv at 4
    for k in
        ["features.0.weight", "features.1.running_mean", "features.1.weight", "features.4.weight", "classifier.3.bias"]
    {
        assert!(names.iter().any(|n| n == k), "missing {k} in {names:?}");
    }
}

#[test]
fn wrong_weights_are_clear_errors() {
    let mut p = tiny_params();
    p.weights = "/nonexistent/w.safetensors".into();
    let e = Vgg::new(&p, Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("/nonexistent/w.safetensors") && e.contains("not found"), "{e}");

    let mut p = tiny_params();
    p.classifier = vec![64, 32]; // classifier.3 is 64→32 here, 64→64 in the file
    let e = Vgg::new(&p, Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("classifier.3.weight") && e.contains("[64, 64]") && e.contains("[32, 64]"), "{e}");

    let mut p = tiny_params();
    p.cfg.push(CfgItem::Conv(32)); // one conv more than the file has
    let e = Vgg::new(&p, Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("missing tensors") && e.contains("features.11.weight"), "{e}");
}

#[test]
fn weights_round_trip_through_safetensors_and_ot() {
    let dir = tempfile::tempdir().unwrap();
    let mut vgg = Vgg::new(&tiny_params(), Device::Cpu).unwrap();
    let x = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let want = tch::no_grad(|| vgg.forward(&x));
    for ext in ["safetensors", "ot"] {
        let path = dir.path().join(format!("w.{ext}"));
        ibex::training::save_weights(&mut vgg, &path).unwrap();
        let mut p = tiny_params();
        p.weights = path.display().to_string();
        let back = Vgg::new(&p, Device::Cpu).unwrap();
        assert_eq!(max_abs_diff(&tch::no_grad(|| back.forward(&x)), &want), 0.0, "{ext}");
    }
}

/// A frozen Vgg folds each batch norm into the conv before it (eval mode): the same features,
/// logits and input gradients as the two layers run apart, to float rounding; a conv's own
/// (pre-norm) output when asked for; and the folding follows the weights when they are randomised.
#[test]
fn folded_batch_norm_gives_the_unfolded_values() {
    let _guard = tch::no_grad_guard();
    let c = |n| CfgItem::Conv(n);
    let m = || CfgItem::Pool("M".into());
    let p = VggParams {
        cfg: vec![c(8), m(), c(16), m(), c(16)],
        batch_norm: true,
        avgpool: [2, 2],
        classifier: vec![16],
        num_classes: 3,
        ..VggParams::default()
    };
    tch::manual_seed(7);
    let mut vgg = Vgg::new(&p, Device::Cpu).unwrap();
    // running statistics and affine parameters far from the identity
    for (name, mut v) in vgg.var_store_mut().unwrap().variables() {
        let (lo, hi) = match name.rsplit('.').next() {
            Some("running_var") => (0.2, 3.0),
            Some("running_mean") | Some("bias") => (-1.0, 1.0),
            Some("weight") if ["features.1.", "features.5.", "features.9."].iter().any(|b| name.starts_with(b)) => {
                (0.5, 2.0)
            }
            _ => continue,
        };
        v.set_data(&Tensor::empty(v.size(), (Kind::Float, Device::Cpu)).uniform_(lo, hi));
    }
    let x = Tensor::randn([4, 3, 16, 16], (Kind::Float, Device::Cpu));
    let layers = ["features.0", "features.1", "features.5", "features.9", ibex::models::LOGITS];
    let targets = Tensor::from_slice(&[0i64, 1, 2, 0]);
    let grad = |v: &Vgg| {
        let _on = tch::with_grad(|| ibex::attributors::gradient::input_gradients(v, &x, &targets, Default::default()));
        _on.unwrap().0
    };
    let close = |a: &Tensor, b: &Tensor, what: &str| {
        let scale = b.abs().max().double_value(&[]).max(1e-6);
        let d = max_abs_diff(a, b);
        assert!(d <= 1e-5 * scale, "{what}: max |Δ| {d} of max {scale}");
    };
    let apart = vgg.features_many(&x, &layers).unwrap();
    let g_apart = grad(&vgg);
    vgg.freeze();
    let folded = vgg.features_many(&x, &layers).unwrap();
    for ((a, b), l) in folded.iter().zip(&apart).zip(layers) {
        close(a, b, l);
    }
    close(&vgg.features(&x, "features.5").unwrap(), &apart[2], "features(features.5)");
    close(&vgg.forward(&x), &apart[4], "forward");
    close(&grad(&vgg), &g_apart, "input gradient");
    // randomised after freezing: the folded copies are redone from the new weights
    ibex::models::Randomise::randomise_from(&mut vgg, "features.4").unwrap();
    let refolded = (vgg.forward(&x), grad(&vgg));
    let _ = vgg.var_store_mut(); // drops the folded copies: the layers run apart again
    close(&refolded.0, &vgg.forward(&x), "randomised forward");
    close(&refolded.1, &grad(&vgg), "randomised input gradient");
}
