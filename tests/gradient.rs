//! The gradient family against analytic answers on tiny models, and every registered attributor
//! through one shared contract.
mod common;
use common::{fixture, max_abs_diff, rng_lock, tiny_vgg};
use ibex::attributors::gradient::*;
use ibex::models::{Classifier, Stage, Stages};
use ibex::Result;
use tch::{nn, Device, Kind, Tensor};

/// f(x) = W2 · relu(W1 · vec(x)) (+ nothing), exposed as stages so the ReLU rules apply.
struct TwoLayer {
    w1: Tensor, // [H, D]
    w2: Tensor, // [K, H]
}

impl Classifier for TwoLayer {
    fn modality(&self) -> ibex::modality::Modality {
        ibex::modality::Modality::Image
    }
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        x.flatten(1, -1).matmul(&self.w1.tr()).relu().matmul(&self.w2.tr())
    }
    fn layer_names(&self) -> Vec<String> {
        vec![]
    }
    fn features(&self, _x: &Tensor, layer: &str) -> Result<Tensor> {
        Err(ibex::Error::Model(format!("no layer {layer}")))
    }
    fn head(&self, _z: &Tensor, layer: &str) -> Result<Tensor> {
        Err(ibex::Error::Model(format!("no layer {layer}")))
    }
    fn num_classes(&self) -> i64 {
        self.w2.size()[0]
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        None
    }
    fn stages(&self) -> Option<&dyn Stages> {
        Some(self)
    }
}

impl Stages for TwoLayer {
    fn chain(&self) -> Vec<Stage<'_>> {
        vec![
            Stage::Op(Box::new(|x: &Tensor| x.flatten(1, -1).matmul(&self.w1.tr()))),
            Stage::Relu { in_features: true },
            Stage::Op(Box::new(|x: &Tensor| x.matmul(&self.w2.tr()))),
        ]
    }
}

fn t(v: &[f32], shape: &[i64]) -> Tensor {
    Tensor::from_slice(v).view(shape)
}

fn run(m: &dyn GradMethod, model: &dyn Classifier, x: &Tensor, target: i64) -> Tensor {
    let n = x.size()[0];
    let seeds: Vec<i64> = (0..n).collect();
    m.compute(model, x, &Tensor::from_slice(&vec![target; n as usize]), &seeds).unwrap().maps
}

#[test]
fn gradient_methods_equal_the_analytic_gradient() {
    // x = [1, 2, 0.5, -1] as [1,1,2,2]; hidden units: h0 = x0 + x1 > 0, h1 = -x0 - x2 + ... < 0
    let model = TwoLayer {
        w1: t(&[1., 1., 0., 0., -1., 0., -1., 0., 0.5, 0.5, 0.5, 0.5], &[3, 4]),
        w2: t(&[2., -3., 1., 0., 1., 1.], &[2, 3]),
    };
    let x = t(&[1., 2., 0.5, -1.], &[1, 1, 2, 2]);
    // class 0: active units h0 = 3, h2 = 1.25; h1 = -1.5 inactive → ∂f/∂x = 2·W1[0] + 1·W1[2]
    let want = t(&[2.5, 2.5, 0.5, 0.5], &[1, 1, 2, 2]);
    let sal = Saliency::from_params(SaliencyParams { abs: false, ..Default::default() });
    assert!(max_abs_diff(&run(&sal, &model, &x, 0), &want) < 1e-6);
    let sal_abs = Saliency::from_params(SaliencyParams::default());
    assert!(max_abs_diff(&run(&sal_abs, &model, &x, 0), &want.abs()) < 1e-6);
    let ixg = InputXGradient::from_params(InputXGradientParams::default());
    assert!(max_abs_diff(&run(&ixg, &model, &x, 0), &(&x * &want)) < 1e-6);
    // guided backprop: the unit h1 is inactive (blocked anyway); w2[0] is positive for h0, h2
    let gb = GuidedBackprop::from_params(GuidedBackpropParams::default());
    assert!(max_abs_diff(&run(&gb, &model, &x, 0), &want) < 1e-6);
    // class 1: w2[1] = [0, 1, 1]: h1 inactive but its weight positive → DeconvNet passes it
    let deconv = DeconvNet::from_params(DeconvNetParams::default());
    let want_grad1 = t(&[0.5, 0.5, 0.5, 0.5], &[1, 1, 2, 2]); // only h2 active
    let want_deconv1 = t(&[-0.5, 0.5, -0.5, 0.5], &[1, 1, 2, 2]); // W1[1] + W1[2], mask ignored
    assert!(max_abs_diff(&run(&sal, &model, &x, 1), &want_grad1) < 1e-6);
    assert!(max_abs_diff(&run(&gb, &model, &x, 1), &want_grad1) < 1e-6);
    assert!(max_abs_diff(&run(&deconv, &model, &x, 1), &want_deconv1) < 1e-6);
}

#[test]
fn guided_backprop_and_deconvnet_differ_from_the_gradient_where_their_rules_say() {
    // all ReLUs active and all backward signals positive: GB = DeconvNet = gradient
    let pos = TwoLayer { w1: t(&[1., 2., 0.5, 1., 0.3, 0.2, 1., 1.], &[2, 4]), w2: t(&[1., 2.], &[1, 2]) };
    let x = t(&[1., 0.5, 2., 1.], &[1, 1, 2, 2]);
    let grad = run(&Saliency::from_params(SaliencyParams { abs: false, ..Default::default() }), &pos, &x, 0);
    assert!(max_abs_diff(&run(&GuidedBackprop::from_params(Default::default()), &pos, &x, 0), &grad) < 1e-6);
    assert!(max_abs_diff(&run(&DeconvNet::from_params(Default::default()), &pos, &x, 0), &grad) < 1e-6);
    // a negative backward signal at an active unit: the gradient keeps it, GB and DeconvNet drop it
    let neg = TwoLayer { w1: t(&[1., 0., 0., 0., 0., 1., 0., 0.], &[2, 4]), w2: t(&[1., -1.], &[1, 2]) };
    let x = t(&[1., 1., 0., 0.], &[1, 1, 2, 2]);
    let grad = run(&Saliency::from_params(SaliencyParams { abs: false, ..Default::default() }), &neg, &x, 0);
    assert!(max_abs_diff(&grad, &t(&[1., -1., 0., 0.], &[1, 1, 2, 2])) < 1e-6);
    assert!(
        max_abs_diff(
            &run(&GuidedBackprop::from_params(Default::default()), &neg, &x, 0),
            &t(&[1., 0., 0., 0.], &[1, 1, 2, 2])
        ) < 1e-6
    );
}

/// A smooth model (tanh), where Gauss–Legendre quadrature converges fast.
struct Smooth {
    w: Tensor,
}

impl Classifier for Smooth {
    fn modality(&self) -> ibex::modality::Modality {
        ibex::modality::Modality::Image
    }
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let h = x.flatten(1, -1).matmul(&self.w.tr()).tanh();
        Tensor::stack(&[h.sum_dim_intlist(1, false, Kind::Float), -h.sum_dim_intlist(1, false, Kind::Float)], 1)
    }
    fn layer_names(&self) -> Vec<String> {
        vec![]
    }
    fn features(&self, _x: &Tensor, l: &str) -> Result<Tensor> {
        Err(ibex::Error::Model(l.into()))
    }
    fn head(&self, _z: &Tensor, l: &str) -> Result<Tensor> {
        Err(ibex::Error::Model(l.into()))
    }
    fn num_classes(&self) -> i64 {
        2
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        None
    }
}

fn ig_error(model: &dyn Classifier, x: &Tensor, method: Rule, steps: usize) -> f64 {
    let ig = IntegratedGradients::from_params(IntegratedGradientsParams { method, steps, ..Default::default() });
    let n = x.size()[0];
    let out = ig.compute(model, x, &Tensor::zeros([n], (Kind::Int64, Device::Cpu)), &vec![0; n as usize]).unwrap();
    out.scalars[0].1.max().double_value(&[])
}

#[test]
fn integrated_gradients_completeness_and_quadrature() {
    let _rng = rng_lock();
    tch::manual_seed(11);
    let model = Smooth { w: Tensor::randn([6, 12], (Kind::Float, Device::Cpu)) * 0.7 };
    let x = Tensor::randn([2, 3, 2, 2], (Kind::Float, Device::Cpu));
    // on a linear path integrand of a smooth model, Gauss–Legendre with 6 points is already far
    // below what the Riemann rules reach with 6, and below 1e-3 of f(x) − f(x′)
    // Gauss–Legendre converges exponentially on a smooth path integrand (measured here: 5e-4 at 8
    // steps, 2e-7 at 12), the Riemann rules polynomially (middle 1e-3 at 8, 6e-4 at 12; left 0.11 at 12)
    let gl = ig_error(&model, &x, Rule::GaussLegendre, 12);
    assert!(gl < 1e-5, "Gauss–Legendre, 12 steps: {gl}");
    let steps_to = |rule: Rule, tol: f64| {
        [2usize, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512]
            .into_iter()
            .find(|&n| ig_error(&model, &x, rule, n) < tol)
    };
    let gl_steps = steps_to(Rule::GaussLegendre, 1e-3).unwrap();
    for rule in [Rule::RiemannLeft, Rule::RiemannRight, Rule::RiemannMiddle, Rule::RiemannTrapezoid] {
        let e12 = ig_error(&model, &x, rule, 12);
        assert!(e12 > 10.0 * gl, "{rule:?}: {e12} vs Gauss–Legendre {gl}");
        let n = steps_to(rule, 1e-3).unwrap_or(usize::MAX);
        assert!(n > gl_steps, "{rule:?} reaches 1e-3 with {n} steps, Gauss–Legendre with {gl_steps}");
    }
    // completeness on the VGG fixture (ReLU net): below 1e-3 relative with enough steps
    let vgg = tiny_vgg();
    let xv = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let e = ig_error(&vgg, &xv, Rule::GaussLegendre, 1024);
    assert!(e < 1e-3, "VGG completeness error {e}");
}

#[test]
fn quadrature_rules_integrate_what_they_should() {
    for n in [1usize, 2, 5, 8, 20] {
        let q = Quadrature::new(Rule::GaussLegendre, n);
        assert_eq!(q.alphas.len(), n);
        assert!(q.alphas.windows(2).all(|w| w[0] < w[1]) && q.alphas[0] > 0.0 && q.alphas[n - 1] < 1.0);
        // exact for polynomials of degree ≤ 2n − 1: ∫₀¹ a^k da = 1/(k+1)
        for k in 0..2 * n {
            let got: f64 = q.alphas.iter().zip(&q.weights).map(|(a, w)| w * a.powi(k as i32)).sum();
            assert!((got - 1.0 / (k as f64 + 1.0)).abs() < 1e-12, "n={n} k={k}: {got}");
        }
    }
    let q = Quadrature::new(Rule::RiemannTrapezoid, 5);
    assert_eq!(q.alphas, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(q.weights, vec![0.125, 0.25, 0.25, 0.25, 0.125]);
    assert_eq!(Quadrature::new(Rule::RiemannLeft, 4).alphas, vec![0.0, 0.25, 0.5, 0.75]);
    assert_eq!(Quadrature::new(Rule::RiemannRight, 4).alphas, vec![0.25, 0.5, 0.75, 1.0]);
    assert_eq!(Quadrature::new(Rule::RiemannMiddle, 4).alphas, vec![0.125, 0.375, 0.625, 0.875]);
}

/// features(x, "a") = x (the activation is the input), head = W · spatial mean: a "last conv map"
/// we set by hand.
struct HandSetMap {
    w: Tensor, // [K, C]
}

impl Classifier for HandSetMap {
    fn modality(&self) -> ibex::modality::Modality {
        ibex::modality::Modality::Image
    }
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        self.head(x, "a").unwrap()
    }
    fn layer_names(&self) -> Vec<String> {
        vec!["a".into()]
    }
    fn features(&self, x: &Tensor, _l: &str) -> Result<Tensor> {
        Ok(x.shallow_clone())
    }
    fn head(&self, z: &Tensor, _l: &str) -> Result<Tensor> {
        Ok(z.mean_dim([2, 3].as_slice(), false, Kind::Float).matmul(&self.w.tr()))
    }
    fn num_classes(&self) -> i64 {
        self.w.size()[0]
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        None
    }
}

#[test]
fn grad_cam_highlights_the_hand_set_location() {
    // channel 0 is hot at (2, 3), channel 1 at (0, 0); class 0 weighs channel 0, class 1 channel 1
    let a = Tensor::zeros([1, 2, 4, 5], (Kind::Float, Device::Cpu));
    let _ = a.get(0).get(0).get(2).get(3).fill_(5.0);
    let _ = a.get(0).get(1).get(0).get(0).fill_(5.0);
    let model = HandSetMap { w: t(&[1., 0., 0., 1.], &[2, 2]) };
    let cam = GradCam::from_params(GradCamParams {
        layer: "a".into(),
        interpolation: Interpolation::Nearest,
        ..Default::default()
    });
    let m0 = run(&cam, &model, &a, 0);
    assert_eq!(m0.size(), vec![1, 1, 4, 5]);
    assert_eq!(m0.flatten(0, -1).argmax(0, false).int64_value(&[]), 2 * 5 + 3);
    // w_0 = 1/20 (mean gradient over 20 positions): cam = 5/20 at the hot spot, 0 elsewhere
    assert!(
        (m0.double_value(&[0, 0, 2, 3]) - 0.25).abs() < 1e-6
            && m0.abs().sum(Kind::Float).double_value(&[]) < 0.25 + 1e-6
    );
    assert_eq!(run(&cam, &model, &a, 1).flatten(0, -1).argmax(0, false).int64_value(&[]), 0);
    // negative evidence is cut by the ReLU
    let neg = HandSetMap { w: t(&[-1., 0., 0., 1.], &[2, 2]) };
    assert_eq!(run(&cam, &neg, &a, 0).abs().max().double_value(&[]), 0.0);
}

#[test]
fn smoothgrad_with_zero_noise_is_the_wrapped_method() {
    let _rng = rng_lock();
    let vgg = tiny_vgg();
    let x = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let base = SaliencyParams { abs: false, ..Default::default() };
    let plain = run(&Saliency::from_params(base.clone()), &vgg, &x, 3);
    for kind in [TunnelKind::Smoothgrad, TunnelKind::SmoothgradSq, TunnelKind::Vargrad] {
        let nt = noise_tunnel(kind, 0.0, 4, BaseMethod::Saliency(base.clone()));
        let got = run(&nt, &vgg, &x, 3);
        let want = match kind {
            TunnelKind::Smoothgrad => plain.shallow_clone(),
            TunnelKind::SmoothgradSq => plain.square(),
            TunnelKind::Vargrad => plain.zeros_like(),
        };
        assert!(max_abs_diff(&got, &want) < 1e-6 * (1.0 + want.abs().max().double_value(&[])), "{kind:?}");
    }
    // with noise, SmoothGrad differs from the plain gradient, and is reproducible
    let nt = noise_tunnel(TunnelKind::Smoothgrad, 0.15, 8, BaseMethod::Saliency(base));
    let (a, b) = (run(&nt, &vgg, &x, 3), run(&nt, &vgg, &x, 3));
    assert_eq!(max_abs_diff(&a, &b), 0.0);
    assert!(max_abs_diff(&a, &plain) > 1e-4);
}

/// The noisy copies go through the base method together, `internal_batch_size` images a call;
/// copy d's noise does not depend on the call it is in, so one copy per call (the loop before)
/// and all copies at once give the same map, up to float rounding in the larger batch.
#[test]
fn smoothgrad_is_the_same_whatever_the_internal_batch() {
    let _rng = rng_lock();
    let vgg = tiny_vgg();
    let x = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let base = BaseMethod::Saliency(SaliencyParams { abs: false, ..Default::default() });
    let with = |internal_batch_size: usize| {
        let p = NoiseTunnelParams {
            kind: TunnelKind::Vargrad,
            noise_level: 0.15,
            samples: 7,
            base: base.clone(),
            internal_batch_size,
            ..Default::default()
        };
        run(&NoiseTunnel::from_params(p), &vgg, &x, 3)
    };
    let one_by_one = with(1);
    for b in [3, 64] {
        let got = with(b);
        assert!(max_abs_diff(&got, &one_by_one) < 1e-6 * one_by_one.abs().max().double_value(&[]), "{b}");
    }
}

fn noise_tunnel(kind: TunnelKind, noise_level: f64, samples: usize, base: BaseMethod) -> NoiseTunnel {
    NoiseTunnel::from_params(NoiseTunnelParams { kind, noise_level, samples, base, ..Default::default() })
}

/// The tiny VGG as TorchScript halves cut at `features.8`.
fn tiny_torchscript() -> ibex::models::TorchScript {
    let p = ibex::models::TorchScriptParams {
        head: fixture("tiny_vgg_head.ts.pt"),
        tail: fixture("tiny_vgg_tail.ts.pt"),
        layer: "features.8".into(),
        num_classes: 10,
        ..Default::default()
    };
    ibex::models::TorchScript::new(&p, Device::Cpu).unwrap()
}

#[test]
fn gradient_methods_run_on_torchscript_halves() {
    let ts = tiny_torchscript();
    let x = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let logits = tch::no_grad(|| ts.forward(&x));
    assert!(max_abs_diff(&logits, &Tensor::read_npy(fixture("tiny_vgg_logits.npy")).unwrap()) < 1e-5);
    // the gradient through both halves equals PyTorch's
    let sal = Saliency::from_params(SaliencyParams { abs: false, ..Default::default() });
    let g = run(&sal, &ts, &x, 3);
    assert!(max_abs_diff(&g, &Tensor::read_npy(fixture("tiny_vgg_input_grad_class3.npy")).unwrap()) < 1e-6);
    // and equals the native model's Grad-CAM at the cut
    let cam = GradCam::from_params(GradCamParams { layer: "features.8".into(), ..Default::default() });
    assert!(max_abs_diff(&run(&cam, &ts, &x, 3), &run(&cam, &tiny_vgg(), &x, 3)) < 1e-5);
    // methods that need the layers say so before running
    let gb = GuidedBackprop::from_params(Default::default());
    let e = gb.check_model(&ts).unwrap_err().to_string();
    assert!(e.contains("GuidedBackprop") && e.contains("opaque"), "{e}");
}

#[test]
fn integrated_gradients_baselines() {
    let _rng = rng_lock();
    let vgg = tiny_vgg();
    let x = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let ig = |baseline| {
        IntegratedGradients::from_params(IntegratedGradientsParams {
            baseline,
            steps: 16,
            blur_sigma: 2.0,
            ..Default::default()
        })
    };
    // a constant image is its own blurred baseline: nothing to attribute
    let flat = Tensor::full([1, 3, 32, 32], 0.3, (Kind::Float, Device::Cpu));
    assert!(run(&ig(Baseline::Blurred), &vgg, &flat, 3).abs().max().double_value(&[]) < 1e-6);
    // the uniform baseline is drawn per image from its seed: same seed, same map; another, another
    let a = run(&ig(Baseline::Uniform), &vgg, &x, 3);
    assert_eq!(max_abs_diff(&a, &run(&ig(Baseline::Uniform), &vgg, &x, 3)), 0.0);
    let other = ig(Baseline::Uniform).compute(&vgg, &x, &Tensor::from_slice(&[3i64, 3]), &[7, 8]).unwrap().maps;
    assert!(max_abs_diff(&a, &other) > 1e-6);
    // with the zero baseline, IG on a linear model is exactly x ⊙ W
    let lin = TwoLayer { w1: Tensor::eye(4, (Kind::Float, Device::Cpu)) * 10.0, w2: t(&[1., -2., 0.5, 3.], &[1, 4]) };
    let xp = t(&[1., 2., 3., 4.], &[1, 1, 2, 2]); // all hidden units active along the whole path
    let want = &xp * t(&[10., -20., 5., 30.], &[1, 1, 2, 2]);
    assert!(max_abs_diff(&run(&ig(Baseline::Zeros), &lin, &xp, 0), &want) < 1e-4);
}

#[test]
fn targets_parse_from_the_config() {
    use figment::providers::{Format, Toml};
    let p = |v: &str| {
        figment::Figment::from(Toml::string(&format!("type = \"Saliency\"\ntarget = {v}\n")))
            .extract::<SaliencyParams>()
            .map_err(|e| e.to_string())
    };
    assert_eq!(p("\"label\"").unwrap().target, ibex::attributors::Target::Label);
    assert_eq!(p("\"predicted\"").unwrap().target, ibex::attributors::Target::Predicted);
    assert_eq!(p("7").unwrap().target, ibex::attributors::Target::Class(7));
    assert!(p("\"best\"").unwrap_err().contains("predicted"));
    assert!(p("-1").is_err());
}

/// A file that is not TorchScript is one line naming it, not libtorch's C++ stack trace.
#[test]
fn a_file_that_is_not_torchscript_is_a_one_line_error() {
    use ibex::models::{TorchScript, TorchScriptParams};
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("head.pt");
    std::fs::write(&bad, b"not a zip archive at all").unwrap();
    let p = TorchScriptParams { head: bad, tail: fixture("tiny_vgg_tail.ts.pt"), ..Default::default() };
    let Err(e) = TorchScript::new(&p, Device::Cpu) else { panic!("garbage loaded as TorchScript") };
    let e = e.to_string();
    assert!(e.contains("head.pt") && e.contains("not a TorchScript module"), "{e}");
    assert!(!e.contains("frame #") && e.lines().count() == 1, "{e}");
}

/// A libtorch failure deep inside a model (a TorchScript model fed the wrong shape) is an error for
/// the sample at hand, one line long, not a panic that ends the run.
#[test]
fn a_libtorch_panic_is_an_error_for_the_sample() {
    let ts = tiny_torchscript();
    let wrong = Tensor::zeros([1, 5, 7], (Kind::Float, Device::Cpu));
    let e = ibex::panics::guard("img7", || Ok(ts.forward(&wrong))).expect_err("a wrong shape").to_string();
    assert!(e.contains("img7") && !e.contains("frame #") && e.lines().count() == 1, "{e}");
    assert_eq!(ibex::panics::guard("ok", || Ok(3)).unwrap(), 3);
}

/// One TorchScript file (input → logits) serves the methods that need no layer: its forward is the
/// file's (here the tiny VGG's tail as a whole model, equal to the halves' tail), it offers no layer,
/// and a method that cuts at one is told to give `head` and `tail`; a config with both forms, or
/// with neither, is refused.
#[test]
fn one_torchscript_file_is_enough_for_the_methods_that_need_no_layer() {
    use ibex::models::{TorchScript, TorchScriptParams};
    use ibex::registry::{Build, ModelKind};
    let p = TorchScriptParams { model: fixture("tiny_vgg_tail.ts.pt"), num_classes: 10, ..Default::default() };
    <TorchScript as Build<ModelKind>>::validate(&p).unwrap();
    let whole = TorchScript::new(&p, Device::Cpu).unwrap();
    let halves = tiny_torchscript();
    let x = Tensor::read_npy(fixture("tiny_vgg_input.npy")).unwrap();
    let z = tch::no_grad(|| halves.features(&x, "features.8").unwrap());
    let want = tch::no_grad(|| halves.head(&z, "features.8").unwrap());
    assert!(common::max_abs_diff(&tch::no_grad(|| whole.forward(&z)), &want) < 1e-6);
    assert!(whole.layer_names().is_empty());
    let e = whole.features(&z, "features.8").unwrap_err().to_string();
    assert!(e.contains("`head` and `tail`"), "{e}");
    let both = TorchScriptParams { head: fixture("tiny_vgg_head.ts.pt"), ..p.clone() };
    assert!(<TorchScript as Build<ModelKind>>::validate(&both).is_err());
    let neither = TorchScriptParams::default();
    let e = format!("{:?}", <TorchScript as Build<ModelKind>>::validate(&neither).unwrap_err());
    assert!(e.contains("model"), "{e}");
}
