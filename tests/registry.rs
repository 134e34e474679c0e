//! Every component we ship is registered, and every config under configs/ resolves and passes the
//! checks of the components it names (types, keys, value types) without touching data or weights.
use ibex::registry::{build, names, AttributorKind, BuildCtx, DatasetKind, MetricKind, ModelKind};
use std::path::{Path, PathBuf};

#[test]
fn registry_holds_every_expected_name() {
    assert_eq!(names::<ModelKind>(), vec!["DeepLstm", "Senn", "TorchScript", "Vgg", "VibiResNet"]);
    assert_eq!(names::<DatasetKind>(), vec!["Cifar10", "Compas", "ImageFolder", "ImageNet", "Imdb", "Mnist"]);
    assert_eq!(
        names::<MetricKind>(),
        vec![
            "Ehr",
            "Infidelity",
            "InsertionDeletion",
            "MaxSensitivity",
            "PointingGame",
            "RegionPerturbation",
            "RelevanceMass",
            "SanityCheck",
            "Selectivity",
            "SensitivityN",
            "TextInsertionDeletion",
            "TextSensitivityN"
        ]
    );
    assert_eq!(
        names::<AttributorKind>(),
        vec![
            "DeconvNet",
            "FeatureIba",
            "GradCam",
            "GuidedBackprop",
            "GuidedGradCam",
            "InputIba",
            "InputXGradient",
            "IntegratedGradients",
            "NoiseTunnel",
            "Occlusion",
            "RandomMap",
            "ReadoutBottleneck",
            "Saliency",
            "SelfExplanation",
            "Vibi"
        ]
    );
}

fn configs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && p.file_name().unwrap() != "_base_" {
            configs(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

/// Every config resolves, every table parses, and its model and attributor build (random weights:
/// the weight files and datasets are the user's; a test file for a TorchScript model's) and fit
/// together (the layer exists).
#[test]
fn every_config_resolves_validates_and_builds() {
    let mut all = Vec::new();
    configs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("configs"), &mut all);
    assert!(all.len() >= 2, "{all:?}");
    for c in all {
        let mut run = ibex::Run::load(&c, &[]).unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        if run.fig.extract_inner::<String>("model.type").unwrap() == "TorchScript" {
            // the TorchScript file is the user's: a tiny traced one stands in for it
            let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_vgg_tail.ts.pt");
            run = run
                .with_options(&[format!("model.model={}", toml::Value::String(file.display().to_string()))])
                .unwrap();
        }
        run.validate().unwrap();
        assert!(run.cfg.attributor.is_some(), "{} has no [attributor]", c.display());
        let cx = BuildCtx { device: tch::Device::Cpu, load_weights: false };
        let model = build::<ModelKind>(&run.fig, "model", &cx).unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        let attr =
            build::<AttributorKind>(&run.fig, "attributor", &cx).unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        attr.check(model.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        ibex::config::resolved_toml(&run.fig).unwrap();
    }
}
