//! Every registered attributor through one contract (captum's habit of testing all methods alike):
//! built from its config table alone, maps of the input's H×W, finite, the same twice with the
//! same seed, and a batch of N equal to N single runs.
mod common;
use common::{attributor_table as table, rng_lock, tiny_vgg, TensorDataset};
use figment::providers::{Format, Toml};
use figment::Figment;
use ibex::attributors::{AttributionCtx, Split, Splits};
use ibex::data::{Dataset, Sample};
use ibex::models::Classifier;
use ibex::registry::{build, names, AttributorKind, BuildCtx};
use tch::{Device, Kind, Tensor};

fn close(a: &Tensor, b: &Tensor) -> bool {
    let scale = 1.0 + b.abs().max().double_value(&[]);
    (a - b).abs().max().double_value(&[]) <= 1e-4 * scale
}

#[test]
fn every_attributor_keeps_the_contract() {
    let _rng = rng_lock();
    let mut model = tiny_vgg();
    model.freeze();
    tch::manual_seed(0);
    let images: Vec<Tensor> = (0..16).map(|_| Tensor::randn([3, 32, 32], (Kind::Float, Device::Cpu))).collect();
    let data = TensorDataset::new(images, (0..16).map(|i| i % 10).collect());
    let cx = AttributionCtx { device: Device::Cpu, seed: 5, ..Default::default() };
    let samples: Vec<Sample> = (0..3).map(|i| data.get(i).unwrap()).collect();
    for name in names::<AttributorKind>() {
        if name == "SelfExplanation" {
            continue; // a self-explaining model's own explanation: tests/senn.rs
        }
        let fig = Figment::from(Toml::string(&table(name)));
        let mut attr =
            build::<AttributorKind>(&fig, "attributor", &BuildCtx { device: Device::Cpu, load_weights: false })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        attr.check(&model).unwrap_or_else(|e| panic!("{name}: {e}"));
        attr.fit(&model, &Splits::new(vec![(Split::Estimation, &data), (Split::Train, &data)]), &cx).unwrap();
        let specs = attr.outputs();
        let batch = attr.attribute_batch(&model, &samples, &cx).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(batch.len(), 3, "{name}");
        for (s, a) in samples.iter().zip(&batch) {
            assert_eq!(a.maps.len(), specs.len(), "{name}: one map per output spec");
            for m in a.maps.values() {
                let size = m.size();
                assert_eq!(&size[size.len() - 2..], &[32, 32], "{name}: map {size:?}");
                assert!(bool::try_from(m.isfinite().all()).unwrap(), "{name}: non-finite map");
            }
            let single = attr.attribute(&model, s, &cx).unwrap();
            let again = attr.attribute(&model, s, &cx).unwrap();
            for ((b, one), two) in a.maps.values().zip(single.maps.values()).zip(again.maps.values()) {
                assert!(close(b, one), "{name}: batch of 3 differs from a single run for {}", s.name);
                assert_eq!((one - two).abs().max().double_value(&[]), 0.0, "{name}: not deterministic");
            }
        }
    }
}

#[test]
fn a_method_that_cannot_run_on_a_model_says_so_at_build_time() {
    let model = tiny_vgg();
    let fig = Figment::from(Toml::string("[attributor]\ntype = \"GradCam\"\nlayer = \"features.40\"\n"));
    let attr =
        build::<AttributorKind>(&fig, "attributor", &BuildCtx { device: Device::Cpu, load_weights: false }).unwrap();
    let e = attr.check(&model).unwrap_err().to_string();
    assert!(e.contains("features.40"), "{e}");
    let fig = Figment::from(Toml::string("[attributor]\ntype = \"IntegratedGradients\"\nmethod = \"simpson\"\n"));
    let e = build::<AttributorKind>(&fig, "attributor", &BuildCtx { device: Device::Cpu, load_weights: false })
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("attributor.method") && e.contains("gauss_legendre"), "{e}");
    let fig = Figment::from(Toml::string(
        "[attributor]\ntype = \"NoiseTunnel\"\n[attributor.base]\ntype = \"Saliency\"\nabss = true\n",
    ));
    let e = build::<AttributorKind>(&fig, "attributor", &BuildCtx { device: Device::Cpu, load_weights: false })
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("abss"), "{e}");
    let _ = model.num_classes();
}

/// A fixed target class the model does not have is refused when the method meets the model, for
/// every kind of method, instead of an index out of range inside libtorch.
#[test]
fn a_target_class_the_model_lacks_is_refused_at_check() {
    let model = tiny_vgg(); // 10 classes
    for text in [
        "[attributor]\ntype = \"FeatureIba\"\nlayer = \"features.3\"\ntarget = 12\n",
        "[attributor]\ntype = \"Saliency\"\ntarget = 12\n",
        "[attributor]\ntype = \"InputIba\"\n[attributor.feat_iba]\nlayer = \"features.3\"\ntarget = 12\n",
    ] {
        let fig = Figment::from(Toml::string(text));
        let attr = build::<AttributorKind>(&fig, "attributor", &BuildCtx { device: Device::Cpu, load_weights: false })
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let e = attr.check(&model).err().unwrap_or_else(|| panic!("{text}: accepted")).to_string();
        assert!(e.contains("target = 12") && e.contains("10 classes"), "{e}");
    }
}
