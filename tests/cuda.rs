//! CUDA against the CPU, for `tools/gpu_check` (it sets IBEX_REQUIRE_CUDA=1, which turns "no CUDA
//! device" into a failure; elsewhere each test says it was skipped and passes). Strict fp32 (TF32
//! off) throughout. What has no randomness (the model, the gradient family, Grad-CAM, occlusion)
//! must give the CPU's numbers to float rounding; what draws noise draws it from the device's own
//! generator, so there only the contract holds: maps of the input's size, finite, the same twice,
//! a batch equal to its samples one at a time.
mod common;
use common::{attributor_table, rng_lock, tiny_vgg_params, TensorDataset};
use figment::providers::{Format, Toml};
use figment::Figment;
use ibex::attributors::{AttributionCtx, Split, Splits};
use ibex::data::{Dataset, Sample};
use ibex::models::{Classifier, Vgg};
use ibex::registry::{build, names, AttributorKind, BuildCtx};
use tch::{Device, Kind, Tensor};

/// Methods that draw random numbers (on the device they run on).
const STOCHASTIC: [&str; 6] = ["FeatureIba", "InputIba", "ReadoutBottleneck", "Vibi", "NoiseTunnel", "Random"];

fn cuda() -> Option<Device> {
    if tch::Cuda::is_available() {
        ibex::precision::Precision::Fp32.apply().expect("TF32 switches");
        return Some(Device::Cuda(0));
    }
    assert!(
        std::env::var_os("IBEX_REQUIRE_CUDA").is_none(),
        "IBEX_REQUIRE_CUDA is set, but libtorch sees no CUDA device"
    );
    eprintln!("no CUDA device: skipped (tools/gpu_check runs this on a GPU machine)");
    None
}

/// |a − b| ≤ tol · (1 + max |b|), with `a` brought to `b`'s device.
fn close(a: &Tensor, b: &Tensor, tol: f64) -> Result<(), f64> {
    let d = (a.to_device(b.device()) - b).abs().max().double_value(&[]);
    let scale = 1.0 + b.abs().max().double_value(&[]);
    if d <= tol * scale {
        Ok(())
    } else {
        Err(d)
    }
}

fn frozen_vgg(device: Device) -> Vgg {
    let mut m = Vgg::new(&tiny_vgg_params(), device).unwrap();
    m.freeze();
    m
}

#[test]
fn the_model_gives_the_cpus_logits_and_input_gradients() {
    let Some(gpu) = cuda() else { return };
    let _rng = rng_lock();
    tch::manual_seed(0);
    let x = Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu));
    let grads = |device: Device| {
        let m = frozen_vgg(device);
        let x = x.to_device(device).set_requires_grad(true);
        let logits = m.forward_t(&x, false);
        logits.select(1, 3).sum(Kind::Float).backward();
        (logits.detach(), x.grad())
    };
    let (cpu_logits, cpu_grad) = grads(Device::Cpu);
    let (gpu_logits, gpu_grad) = grads(gpu);
    assert_eq!(gpu_logits.device(), gpu);
    close(&gpu_logits, &cpu_logits, 1e-5).unwrap_or_else(|d| panic!("logits differ by {d}"));
    close(&gpu_grad, &cpu_grad, 1e-5).unwrap_or_else(|d| panic!("input gradients differ by {d}"));
}

#[test]
fn every_attributor_runs_on_cuda_and_the_deterministic_ones_match_the_cpu() {
    let Some(gpu) = cuda() else { return };
    let _rng = rng_lock();
    tch::manual_seed(0);
    let images: Vec<Tensor> = (0..16).map(|_| Tensor::randn([3, 32, 32], (Kind::Float, Device::Cpu))).collect();
    let data = TensorDataset::new(images, (0..16).map(|i| i % 10).collect());
    let samples: Vec<Sample> = (0..3).map(|i| data.get(i).unwrap()).collect();
    let splits = Splits::new(vec![(Split::Estimation, &data), (Split::Train, &data)]);
    let (cpu_model, gpu_model) = (frozen_vgg(Device::Cpu), frozen_vgg(gpu));
    for name in names::<AttributorKind>() {
        if name == "SelfExplanation" {
            continue; // a self-explaining model's own explanation (tests/senn.rs)
        }
        let fig = Figment::from(Toml::string(&attributor_table(name)));
        let mut maps = Vec::new();
        for (device, model) in [(Device::Cpu, &cpu_model), (gpu, &gpu_model)] {
            let mut attr = build::<AttributorKind>(&fig, "attributor", &BuildCtx { device, load_weights: false })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let cx = AttributionCtx { device, seed: 5, ..Default::default() };
            attr.check(model).unwrap_or_else(|e| panic!("{name}: {e}"));
            attr.fit(model, &splits, &cx).unwrap_or_else(|e| panic!("{name} on {device:?}: {e}"));
            let batch =
                attr.attribute_batch(model, &samples, &cx).unwrap_or_else(|e| panic!("{name} on {device:?}: {e}"));
            for (s, a) in samples.iter().zip(&batch) {
                let single = attr.attribute(model, s, &cx).unwrap();
                let again = attr.attribute(model, s, &cx).unwrap();
                for ((b, one), two) in a.maps.values().zip(single.maps.values()).zip(again.maps.values()) {
                    assert_eq!(&b.size()[b.dim() - 2..], &[32, 32], "{name} on {device:?}");
                    assert!(bool::try_from(b.isfinite().all()).unwrap(), "{name} on {device:?}: non-finite map");
                    close(b, one, 1e-4)
                        .unwrap_or_else(|d| panic!("{name} on {device:?}: batch vs single differ by {d} ({})", s.name));
                    close(two, one, 1e-5)
                        .unwrap_or_else(|d| panic!("{name} on {device:?}: two runs differ by {d} ({})", s.name));
                }
            }
            maps.push(batch);
        }
        if STOCHASTIC.contains(&name) {
            continue;
        }
        for (c, g) in maps[0].iter().zip(&maps[1]) {
            for ((key, cm), gm) in c.maps.iter().zip(g.maps.values()) {
                close(gm, cm, 1e-4).unwrap_or_else(|d| panic!("{name}: {key} on CUDA differs from the CPU by {d}"));
            }
        }
    }
}

#[test]
fn reduced_precision_switches_reach_libtorch() {
    use ibex::precision::{allow_tf32, allow_tf32_cudnn, cuda_autocast_dtype, Precision};
    let Some(gpu) = cuda() else { return };
    let _rng = rng_lock(); // the switches are process-wide: no other test runs meanwhile
    Precision::Tf32.apply().unwrap();
    assert!(allow_tf32().unwrap() && allow_tf32_cudnn().unwrap(), "tf32: on in cuBLAS and cuDNN");
    Precision::Original.apply().unwrap();
    assert!(!allow_tf32().unwrap() && allow_tf32_cudnn().unwrap(), "original: cuDNN only, as PyTorch");
    Precision::Bf16.apply().unwrap();
    assert_eq!(cuda_autocast_dtype().unwrap(), 15);
    let a = Tensor::randn([64, 64], (Kind::Float, gpu));
    let under = Precision::Bf16.run(|| a.matmul(&a));
    assert_eq!(under.kind(), Kind::BFloat16, "bf16 runs matmuls in bfloat16 under autocast");
    assert_eq!(Precision::Fp32.run(|| a.matmul(&a)).kind(), Kind::Float);
    Precision::Fp32.apply().unwrap();
    assert!(!allow_tf32().unwrap() && !allow_tf32_cudnn().unwrap(), "fp32: strict");
}
