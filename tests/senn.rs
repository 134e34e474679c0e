//! SENN and DiSENN (spec peers §2): the robustness losses against finite-difference Jacobians,
//! the sum aggregator as a linear model when θ is constant, the β-VAE's KL by hand, and training
//! that resumes to the weights of an uninterrupted run.
mod common;
use common::rng_lock;
use ibex::models::senn::{Senn, SennParams};
use ibex::models::Classifier;
use ibex::training::senn::losses::{kl_standard_normal, robustness, Robustness};
use tch::{Device, Kind, Tensor};

fn compas_params(features: i64) -> SennParams {
    SennParams {
        conceptizer: "IdentityConceptizer".into(),
        parameterizer: "LinearParameterizer".into(),
        num_concepts: features,
        num_classes: 2,
        hidden_sizes: vec![features, 5, 5, features * 2],
        dropout: 0.0,
        ..SennParams::default()
    }
}

/// Central differences of `f` (a per-sample [B,M] function of x [B,…]) with respect to every
/// input feature, all samples perturbed at once (they are independent): [B, D, M].
fn fd_jacobian(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor, eps: f64) -> Tensor {
    let flat = x.flatten(1, -1);
    let d = flat.size()[1];
    let cols: Vec<Tensor> = (0..d)
        .map(|j| {
            let e = Tensor::zeros_like(&flat);
            let _ = e.narrow(1, j, 1).fill_(eps);
            let plus = f(&(&flat + &e).view_as(x));
            let minus = f(&(&flat - &e).view_as(x));
            (plus - minus) / (2.0 * eps)
        })
        .collect();
    Tensor::stack(&cols, 1)
}

/// COMPAS (quirk S3): ‖∇ₓ Σ_c log p_c ⊗ 1_C − θ‖_F, the gradient by finite differences.
#[test]
fn the_compas_robustness_loss_equals_finite_differences() {
    let _rng = rng_lock();
    tch::manual_seed(3);
    let net = Senn::new(&compas_params(4), Device::Cpu).unwrap();
    let x = Tensor::randn([3, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let out = net.parts(&x, false);
    let loss = robustness(Robustness::Compas, &x, &out).double_value(&[]);
    let x64 = x.detach();
    let sum_log_p = |z: &Tensor| net.parts(z, false).log_probs.sum_dim_intlist(-1, true, Kind::Float);
    let g = fd_jacobian(&sum_log_p, &x64, 1e-2).squeeze_dim(-1); // [B,F]
    let by_hand = (g.unsqueeze(-1) - out.theta.detach()).square().sum(Kind::Double).sqrt().double_value(&[]);
    assert!((loss - by_hand).abs() < 1e-3 * by_hand.max(1.0), "{loss} vs {by_hand}");
}

/// MNIST: ‖J_yx − J_hx·θ‖_F with J of the log-softmax outputs and of the concepts, each by finite
/// differences over the 784 pixels, on the seed's conv networks.
#[test]
fn the_mnist_robustness_loss_equals_finite_differences() {
    let _rng = rng_lock();
    tch::manual_seed(5);
    let net = Senn::new(&SennParams { dropout: 0.0, ..SennParams::default() }, Device::Cpu).unwrap();
    let x = Tensor::randn([2, 1, 28, 28], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let out = net.parts(&x, false);
    let loss = robustness(Robustness::Mnist, &x, &out).double_value(&[]);
    let x0 = x.detach();
    let j_y = fd_jacobian(&|z: &Tensor| net.parts(z, false).log_probs, &x0, 1e-2);
    let j_h = fd_jacobian(&|z: &Tensor| net.parts(z, false).h, &x0, 1e-2);
    let by_hand = (j_y - j_h.matmul(&out.theta.detach())).square().sum(Kind::Double).sqrt().double_value(&[]);
    assert!((loss - by_hand).abs() < 2e-2 * by_hand, "{loss} vs {by_hand}");
    assert!(loss > 0.0);
}

/// θ constant (the parameterizer's last layer: zero weights, bias W) and h = x: the logits are
/// Wᵀx, a linear model, and the output is their log-softmax.
#[test]
fn with_constant_relevances_the_sum_aggregator_is_linear() {
    let _rng = rng_lock();
    tch::manual_seed(7);
    let mut net = Senn::new(&compas_params(3), Device::Cpu).unwrap();
    let w = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0, -1.0, 0.25]).view([3, 2]);
    tch::no_grad(|| {
        for (name, mut t) in net.var_store_mut().unwrap().variables() {
            if name.contains("layers.2") {
                if name.ends_with("weight") {
                    let _ = t.zero_();
                } else {
                    t.copy_(&w.view([6]));
                }
            }
        }
    });
    let x = Tensor::randn([5, 3], (Kind::Float, Device::Cpu));
    let out = net.parts(&x, false);
    assert!(common::max_abs_diff(&out.theta, &w.unsqueeze(0).expand([5, 3, 2], false)) < 1e-6);
    let want = x.matmul(&w).log_softmax(-1, Kind::Float);
    assert!(common::max_abs_diff(&net.forward(&x), &want) < 1e-5);
}

/// Σ_k mean_b ½(μ² + σ² − log σ² − 1), by hand for two samples and two latents.
#[test]
fn the_beta_vae_kl_is_the_seeds_sum_of_batch_means() {
    let mu = Tensor::from_slice(&[0.0f32, 1.0, 2.0, -1.0]).view([2, 2]);
    let logvar = Tensor::from_slice(&[0.0f32, 0.0, 2.0f32.ln(), -1.0]).view([2, 2]);
    let term = |m: f64, lv: f64| 0.5 * (m * m + lv.exp() - lv - 1.0);
    let by_hand = (term(0.0, 0.0) + term(2.0, 2f64.ln())) / 2.0 + (term(1.0, 0.0) + term(-1.0, -1.0)) / 2.0;
    let kl = kl_standard_normal(&mu, &logvar).double_value(&[]);
    assert!((kl - by_hand).abs() < 1e-5, "{kl} vs {by_hand}");
}

fn compas_like(n: usize) -> common::TensorDataset {
    tch::manual_seed(11);
    let x: Vec<Tensor> = (0..n).map(|_| Tensor::rand([4], (Kind::Float, Device::Cpu))).collect();
    let y = x.iter().map(|t| (t.double_value(&[1]) > 0.5) as i64).collect();
    common::TensorDataset::new(x, y)
}

fn train_run(dir: &std::path::Path, epochs: usize) {
    use ibex::training::senn::{Run, TrainSennConfig};
    let cfg = TrainSennConfig {
        epochs,
        batch_size: 8,
        lr: 1e-2,
        robustness_loss: Robustness::Compas,
        robust_reg: 0.1,
        concept_reg: 0.0,
        ..TrainSennConfig::default()
    };
    let data = compas_like(32);
    tch::manual_seed(1);
    let p = SennParams { dropout: 0.2, ..compas_params(4) };
    let net = Senn::new(&p, Device::Cpu).unwrap();
    let run = Run { cfg: &cfg, key: "k".into(), dir: Some(dir.into()), device: Device::Cpu, scalars: None };
    let acc = run.train(&net, &data, Some(&data)).unwrap();
    assert!(acc.iter().all(|a| (0.0..=1.0).contains(a)));
}

/// Double backprop and dropout, seeded per step: a run resumed from its first epoch's checkpoint
/// ends with the weights of an uninterrupted one.
#[test]
fn a_resumed_senn_training_equals_an_uninterrupted_one() {
    let _rng = rng_lock();
    let (whole, resumed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    train_run(whole.path(), 2);
    std::fs::copy(whole.path().join("epoch_0001.safetensors"), resumed.path().join("epoch_0001.safetensors")).unwrap();
    train_run(resumed.path(), 2);
    let read = |d: &tempfile::TempDir| {
        ibex::fitting::Loaded::read(&d.path().join("epoch_0002.safetensors"), Device::Cpu).unwrap()
    };
    let (x, y) = (read(&whole), read(&resumed));
    let names = x.names("param/");
    assert_eq!(names.len(), 6, "three layers of the parameterizer: {names:?}");
    for n in names {
        assert!(x.get(&format!("param/{n}")).unwrap().equal(&y.get(&format!("param/{n}")).unwrap()), "{n}");
    }
}

/// SENN's own explanation of a tabular model: per feature the relevance θ_{k,c} and the
/// contribution θ_{k,c}·h_k; the contributions of two classes differ by their log-probabilities'
/// difference (the logits are Σ_k θ_kc h_k). A model that does not explain itself is refused.
#[test]
fn the_self_explanation_is_relevances_and_contributions_that_sum_to_the_logit() {
    use figment::providers::Format;
    use ibex::attributors::AttributionCtx;
    use ibex::data::Sample;
    use ibex::registry::{build, AttributorKind, BuildCtx};
    let _rng = rng_lock();
    tch::manual_seed(13);
    let net = Senn::new(&compas_params(4), Device::Cpu).unwrap();
    let x = Tensor::randn([4], (Kind::Float, Device::Cpu));
    let s = Sample { name: "row".into(), input: x.shallow_clone(), target: 1, boxes: vec![] };
    let explain = |class: i64| {
        let text = format!("[attributor]\ntype = \"SelfExplanation\"\ntarget = {class}\n");
        let fig = figment::Figment::from(figment::providers::Toml::string(&text));
        let cx = BuildCtx { device: Device::Cpu, load_weights: false };
        let mut a = build::<AttributorKind>(&fig, "attributor", &cx).unwrap();
        a.check(&net).unwrap();
        a.attribute(&net, &s, &AttributionCtx::default()).unwrap()
    };
    let (a0, a1) = (explain(0), explain(1));
    let (_, theta) = tch::no_grad(|| {
        let o = net.parts(&x.unsqueeze(0), false);
        (o.h, o.theta)
    });
    assert_eq!(a1.maps["senn_relevance"].size(), vec![1, 4]);
    assert!(common::max_abs_diff(&a1.maps["senn_relevance"], &theta.get(0).select(1, 1).view([1, 4])) < 1e-6);
    let sum = |a: &ibex::attributors::Attribution| a.maps["senn_contribution"].sum(Kind::Double).double_value(&[]);
    let lp = net.forward(&x.unsqueeze(0));
    let want = lp.double_value(&[0, 0]) - lp.double_value(&[0, 1]);
    assert!((sum(&a0) - sum(&a1) - want).abs() < 1e-5, "{} vs {want}", sum(&a0) - sum(&a1));
    let fig = figment::Figment::from(figment::providers::Toml::string("[attributor]\ntype = \"SelfExplanation\"\n"));
    let a =
        build::<AttributorKind>(&fig, "attributor", &BuildCtx { device: Device::Cpu, load_weights: false }).unwrap();
    let e = a.check(&common::tiny_vgg()).unwrap_err().to_string();
    assert!(e.contains("does not explain itself"), "{e}");
}

/// Shapes the seed's conv networks cannot take are refused when the config loads, not in forward.
#[test]
fn conv_shapes_the_networks_cannot_take_are_refused_at_load() {
    use ibex::registry::{Build, ModelKind};
    let ok = SennParams::default();
    assert!(<Senn as Build<ModelKind>>::validate(&ok).is_ok());
    let two = SennParams { cl_sizes: vec![1, 10], ..SennParams::default() };
    let e = format!("{:?}", <Senn as Build<ModelKind>>::validate(&two).unwrap_err());
    assert!(e.contains("cl_sizes"), "{e}");
    let wide = SennParams { cl_sizes: vec![1, 10, 30], ..SennParams::default() };
    assert!(<Senn as Build<ModelKind>>::validate(&wide).is_err(), "hidden_sizes[0] must be 30·16");
}
