//! Every component we ship is registered, and every config under configs/ resolves and passes the
//! checks of the components it names (types, keys, value types) without touching data or weights.
use ibex::registry::{names, AttributorKind, DatasetKind, ModelKind};
use std::path::{Path, PathBuf};

#[test]
fn registry_holds_every_expected_name() {
    assert_eq!(names::<ModelKind>(), vec!["Vgg"]);
    assert_eq!(names::<DatasetKind>(), vec!["ImageFolder", "ImageNet"]);
    assert_eq!(names::<AttributorKind>(), vec!["FeatureIba"]);
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

#[test]
fn every_config_resolves_and_validates() {
    let mut all = Vec::new();
    configs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("configs"), &mut all);
    assert!(all.len() >= 2, "{all:?}");
    for c in all {
        let run = ibex::Run::load(&c, &[]).unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        run.validate().unwrap();
        assert!(run.cfg.attributor.is_some(), "{} has no [attributor]", c.display());
        ibex::config::resolved_toml(&run.fig).unwrap();
    }
}
