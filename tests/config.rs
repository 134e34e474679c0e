//! Config loading: `_base_` inheritance, overrides, and errors that name the file and the key.
use ibex::config;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

const BASE: &str = r#"
seed = 1
[model]
type = "Vgg"
cfg = [8, "M"]
classifier = [16, 16]
num_classes = 3
[attributor]
type = "FeatureIba"
layer = "features.0"
beta = 10.0
adam_betas = [0.9, 0.999]
"#;

#[test]
fn bases_merge_tables_and_replace_arrays_then_overrides_win() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "_base_/b.toml", BASE);
    let child = write(
        d.path(),
        "child.toml",
        "_base_ = [\"_base_/b.toml\"]\n[model]\nclassifier = [4]\n[attributor]\nbeta = 20.0\n",
    );
    let fig =
        config::load(&child, &["attributor.opt_steps=3".into(), "device=cpu".into(), "model.cfg=[4, \"M\", 8]".into()])
            .unwrap();
    let run: ibex::run::RunConfig = fig.extract().unwrap();
    assert_eq!(run.seed, 1, "inherited from the base");
    assert_eq!(fig.extract_inner::<f64>("attributor.beta").unwrap(), 20.0, "the child wins");
    assert_eq!(fig.extract_inner::<String>("attributor.layer").unwrap(), "features.0", "tables merge");
    assert_eq!(fig.extract_inner::<Vec<i64>>("model.classifier").unwrap(), vec![4], "arrays replace");
    assert_eq!(fig.extract_inner::<i64>("attributor.opt_steps").unwrap(), 3, "override parsed as TOML");
    assert_eq!(fig.extract_inner::<String>("device").unwrap(), "cpu", "bare word taken as a string");
    assert_eq!(fig.extract_inner::<Vec<toml::Value>>("model.cfg").unwrap().len(), 3);
}

#[test]
fn resolved_config_reloads_to_the_same_values() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "b.toml", BASE);
    let child = write(d.path(), "c.toml", "_base_ = [\"b.toml\"]\n[attributor]\nbeta = 30.0\n");
    let text = config::resolved_toml(&config::load(&child, &["seed=5".into()]).unwrap()).unwrap();
    assert!(!text.contains("_base_"));
    let again = write(d.path(), "resolved.toml", &text);
    let text2 = config::resolved_toml(&config::load(&again, &[]).unwrap()).unwrap();
    assert_eq!(text, text2);
    let t: toml::Table = text.parse().unwrap();
    assert_eq!(t["seed"].as_integer(), Some(5));
    assert_eq!(t["attributor"]["beta"].as_float(), Some(30.0));
}

fn run_err(dir: &Path, text: &str, overrides: &[&str]) -> String {
    write(dir, "b.toml", BASE);
    let p = write(dir, "bad.toml", text);
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    match ibex::Run::load(&p, &o) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_typo_names_the_file_the_key_and_the_valid_keys() {
    let d = tempfile::tempdir().unwrap();
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\n[attributor]\nbta = 3.0\n", &[]);
    assert!(
        e.contains("attributor.bta") && e.contains("bad.toml") && e.contains("`beta`") && e.contains("`opt_steps`"),
        "{e}"
    );
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\n[outptu]\npng = true\n", &[]);
    assert!(e.contains("outptu") && e.contains("`output`"), "{e}");
}

#[test]
fn a_wrong_type_names_the_key_and_the_expected_type() {
    let d = tempfile::tempdir().unwrap();
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\n[attributor]\nbeta = \"high\"\n", &[]);
    assert!(e.contains("attributor.beta") && e.contains("bad.toml") && e.contains("f64"), "{e}");
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\n", &["seed=\"x\""]);
    assert!(e.contains("`seed`") && e.contains("--cfg-options seed=\"x\"") && e.contains("u64"), "{e}");
}

#[test]
fn an_unknown_type_lists_the_registered_names() {
    let d = tempfile::tempdir().unwrap();
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\n[attributor]\ntype = \"FeatureIBA\"\n", &[]);
    assert!(e.contains("FeatureIBA") && e.contains("\"FeatureIba\"") && e.contains("attributor"), "{e}");
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\n[model]\ntype = \"ResNet\"\n", &[]);
    assert!(e.contains("ResNet") && e.contains("\"Vgg\""), "{e}");
}

#[test]
fn a_base_cycle_is_an_error_naming_the_chain() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "x.toml", "_base_ = [\"y.toml\"]\n");
    let y = write(d.path(), "y.toml", "_base_ = [\"x.toml\"]\n");
    let e = config::load(&y, &[]).err().unwrap().to_string();
    assert!(e.contains("cycle") && e.contains("x.toml") && e.contains("y.toml"), "{e}");
    let z = write(d.path(), "z.toml", "_base_ = \"x.toml\"\n");
    let e = config::load(&z, &[]).err().unwrap().to_string();
    assert!(e.contains("z.toml") && e.contains("array"), "{e}");
    let m = write(d.path(), "m.toml", "_base_ = [\"missing.toml\"]\n");
    let e = config::load(&m, &[]).err().unwrap().to_string();
    assert!(e.contains("missing.toml") && e.contains("not found"), "{e}");
}

#[test]
fn bad_cfg_options_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "b.toml", BASE);
    for (item, why) in [
        ("attributor.beta", "key=value"),
        ("attributor.beta=[1", "not a TOML value"),
        ("=3", "dotted"),
        ("a..b=1", "dotted"),
        ("seed=", "empty"),
        ("seed=99999999999999999999", "not a number TOML can hold"),
    ] {
        let e = config::load(&p, &[item.to_string()]).err().unwrap().to_string();
        assert!(e.contains(item) && e.contains(why), "{item}: {e}");
    }
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\n", &["attributor.bta=3"]);
    assert!(e.contains("attributor.bta") && e.contains("--cfg-options attributor.bta=3"), "{e}");
}

#[test]
fn invalid_toml_names_the_file() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "broken.toml", "[model\ntype = 1\n");
    let e = config::load(&p, &[]).err().unwrap().to_string();
    assert!(e.contains("broken.toml") && e.contains("invalid TOML"), "{e}");
}

#[test]
fn shards_parse_as_i_of_n() {
    use ibex::run::Shard;
    assert_eq!("2/5".parse::<Shard>().unwrap(), Shard { index: 2, count: 5 });
    for bad in ["5/5", "1/0", "3", "a/4", "-1/4"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn reduced_precision_is_refused_on_the_cpu() {
    let d = tempfile::tempdir().unwrap();
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\nprecision = \"bf16\"\n", &[]);
    assert!(e.contains("bf16") && e.contains("cuda"), "{e}");
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\nprecision = \"fp8\"\n", &[]);
    assert!(e.contains("precision") && e.contains("tf32"), "{e}");
}

/// Every shipped config (not the `_base_` parts) resolves and passes the component checks, so a
/// renamed key or a stale table in `configs/` fails here, not in a user's run.
#[test]
fn every_shipped_config_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut configs: Vec<PathBuf> = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && p.file_name() != Some("_base_".as_ref()) {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                configs.push(p);
            }
        }
    }
    assert!(configs.len() > 15, "{configs:?}");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resolved_configs");
    for c in &configs {
        let run = ibex::Run::load(c, &[]).unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        // every value the run reads, defaults filled in, equals the recorded one: a change to a
        // shipped config or a `_base_` file that moves a value fails here
        // (IBEX_BLESS=1 records the current values after an intended change)
        let values = ibex::config::values_toml(&run.resolved_values().unwrap()).unwrap();
        let name = c.strip_prefix(&root).unwrap().to_string_lossy().replace('/', "_");
        let fixture = fixtures.join(&name);
        if std::env::var_os("IBEX_BLESS").is_some() {
            std::fs::write(&fixture, &values).unwrap();
        }
        let want = std::fs::read_to_string(&fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
        assert!(values == want, "{} resolves to other values than {}:\n{values}", c.display(), fixture.display());
    }
}

/// A model alone, for configs that bring their own attributor.
const MODEL: &str = "seed = 1\n[model]\ntype = \"Vgg\"\ncfg = [8, \"M\"]\nclassifier = [16]\nnum_classes = 3\n";

/// A `_base_` inside a table merges its file at that table: one feature-IBA file serves both the
/// top-level attributor and InputIBA's nested stage, and the including file's own values win.
#[test]
fn a_base_inside_a_table_merges_at_that_table() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "_base_/stage.toml", "layer = \"features.0\"\nbeta = 10.0\nopt_steps = 4\n");
    write(d.path(), "_base_/method.toml", "type = \"InputIba\"\n[feat_iba]\n_base_ = [\"stage.toml\"]\nbeta = 15.0\n");
    write(d.path(), "m.toml", MODEL);
    let c = write(
        d.path(),
        "c.toml",
        "_base_ = [\"m.toml\"]\n[attributor]\n_base_ = [\"_base_/method.toml\"]\n[attributor.feat_iba]\nopt_steps = 7\n",
    );
    let fig = config::load(&c, &[]).unwrap();
    assert_eq!(fig.extract_inner::<String>("attributor.type").unwrap(), "InputIba");
    assert_eq!(fig.extract_inner::<String>("attributor.feat_iba.layer").unwrap(), "features.0", "from the nested base");
    assert_eq!(fig.extract_inner::<f64>("attributor.feat_iba.beta").unwrap(), 15.0, "the including base wins");
    assert_eq!(fig.extract_inner::<i64>("attributor.feat_iba.opt_steps").unwrap(), 7, "the config itself wins");
    assert!(fig.find_value("attributor.feat_iba._base_").is_err(), "`_base_` keys are consumed");
    // errors still name the file that set a value, here the nested base
    let bad = write(d.path(), "_base_/stage.toml", "layer = \"features.0\"\nbta = 1.0\n");
    let e = ibex::Run::load(&c, &[]).err().unwrap().to_string();
    assert!(e.contains("attributor.feat_iba.bta") && e.contains("stage.toml"), "{bad:?}: {e}");
    let e = config::load(&c, &["attributor._base_=[\"x.toml\"]".into()]).err().unwrap().to_string();
    assert!(e.contains("_base_") && e.contains("config files only"), "{e}");
}

/// Range checks run at load (so `print_config`, `train`, `eval` and `bench` alike) on every table,
/// nested ones included, and name the full key and where the value was set.
#[test]
fn values_out_of_range_are_refused_at_load_naming_key_and_source() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "m.toml", MODEL);
    let input_iba =
        "_base_ = [\"m.toml\"]\n[attributor]\ntype = \"InputIba\"\n[attributor.feat_iba]\nlayer = \"features.0\"\n";
    for (item, key) in [
        ("attributor.feat_iba.lr=-1", "attributor.feat_iba.lr"),
        ("attributor.feat_iba.adam_betas=[1.5, 0.9]", "attributor.feat_iba.adam_betas"),
        ("attributor.feat_iba.active_neurons_threshold=nan", "attributor.feat_iba.active_neurons_threshold"),
        ("attributor.gan.batch_size=0", "attributor.gan.batch_size"),
        ("attributor.gan.critic_iter=0", "attributor.gan.critic_iter"),
        ("attributor.gan.lr=-1", "attributor.gan.lr"),
        ("attributor.gan.dataset_size=0", "attributor.gan.dataset_size"),
        ("attributor.gan.weight_clip=-0.1", "attributor.gan.weight_clip"),
        ("attributor.input_iba.lr=nan", "attributor.input_iba.lr"),
        ("attributor.input_iba.opt_steps=0", "attributor.input_iba.opt_steps"),
        ("attributor.samples_per_batch=0", "attributor.samples_per_batch"),
    ] {
        let e = run_err(d.path(), input_iba, &[item]);
        assert!(e.contains(&format!("`{key}`")) && e.contains(&format!("--cfg-options {item}")), "{item}: {e}");
    }
    // a value set in a file names the file
    let e = run_err(d.path(), "_base_ = [\"b.toml\"]\n[attributor]\nbeta = -1.0\n", &[]);
    assert!(e.contains("`attributor.beta`") && e.contains("bad.toml"), "{e}");
    // top-level methods and metrics too
    let e = run_err(
        d.path(),
        "_base_ = [\"m.toml\"]\n[attributor]\ntype = \"IntegratedGradients\"\n",
        &["attributor.steps=0"],
    );
    assert!(e.contains("`attributor.steps`"), "{e}");
    // models, datasets and the training tables: values that used to panic mid-run
    for (text, key) in [
        ("[model]\ndropout = 1.5\n", "model.dropout"),
        ("[data.attribution]\ntype = \"ImageFolder\"\nroot = \"x\"\nimg_size = [0, 0]\n", "data.attribution.img_size"),
        ("[data.attribution]\ntype = \"ImageFolder\"\nroot = \"x\"\nstd = [0.0, 0.0, 0.0]\n", "data.attribution.std"),
        ("[train_classifier]\nepochs = 0\n", "train_classifier.epochs"),
        ("[train_classifier]\nbatch_size = 0\n", "train_classifier.batch_size"),
    ] {
        let e = run_err(d.path(), &format!("_base_ = [\"m.toml\"]\n{text}"), &[]);
        assert!(e.contains(&format!("`{key}`")) && e.contains("bad.toml"), "{text}: {e}");
    }
    // a method's output folder stays inside the work dir
    let e = run_err(d.path(), "_base_ = [\"m.toml\"]\n[attributor]\ntype = \"Saliency\"\nout_dir = \"../../x\"\n", &[]);
    assert!(e.contains("`attributor.out_dir`") && e.contains("inside the work dir"), "{e}");
    // no GAN training is a legitimate choice
    let ok = write(d.path(), "ok.toml", input_iba);
    ibex::Run::load(&ok, &["attributor.gan.epochs=0".into()]).unwrap();
}

/// A model without weights is an error, not a silently random network; random weights are asked
/// for by name.
#[test]
fn empty_weights_are_refused_and_random_ones_are_asked_for() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "m.toml", MODEL);
    let run = ibex::Run::load(&p, &[]).unwrap();
    let Err(e) = run.model() else { panic!("a model without weights was built") };
    assert!(e.to_string().contains("model.weights is empty") && e.to_string().contains("random"), "{e}");
    ibex::Run::load(&p, &["model.weights=random".into()]).unwrap().model().unwrap();
    let Err(e) = ibex::Run::load(&p, &["model.weights=\"nope.safetensors\"".into()]).unwrap().model() else {
        panic!("a missing weights file was accepted")
    };
    assert!(e.to_string().contains("nope.safetensors") && e.to_string().contains("not found"), "{e}");
}

/// What is there already is not locked: existing weights need no `.lock` beside them, so data and
/// weights may sit in read-only folders.
#[test]
fn existing_weights_are_used_without_a_lock() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "m.toml", MODEL);
    let weights = write(d.path(), "w/model.safetensors", "stands for trained weights");
    let c = write(
        d.path(),
        "c.toml",
        &format!(
            "_base_ = [\"m.toml\"]\n[model]\nweights = \"{}\"\n[train_classifier]\nepochs = 1\n",
            weights.display()
        ),
    );
    ibex::Run::load(&c, &[]).unwrap().prepare().unwrap();
    let entries: Vec<_> = std::fs::read_dir(d.path().join("w")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("model.safetensors")], "nothing but the weights");
}

/// The text configs carry the original's values (configs/deep_lstm.py merged with _base_/imdb.py,
/// spec §3.6), including those the original leaves to code defaults.
#[test]
fn the_text_config_carries_the_originals_values() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = ibex::Run::load(&root.join("configs/deep_lstm.toml"), &[]).unwrap();
    let v = run.resolved_values().unwrap();
    let a = &v["attributor"];
    let pins: [(&serde_json::Value, &[(&str, f64)]); 3] = [
        (
            &a["feat_iba"],
            &[
                ("beta", 15.0),
                ("opt_steps", 10.0),
                ("lr", 1.0),
                ("batch_size", 10.0),
                ("min_std", 0.01),
                ("initial_alpha", 5.0),
                ("active_neurons_threshold", 0.01),
                ("n_samples", 1000.0),
                ("estimation_batch_size", 8.0),
            ],
        ),
        (
            &a["input_iba"],
            &[
                ("beta", 30.0),
                ("opt_steps", 30.0),
                ("lr", 0.5),
                ("batch_size", 10.0),
                ("initial_alpha", 5.0),
                ("sigma", 0.0),
            ],
        ),
        (
            &a["gan"],
            &[
                ("dataset_size", 200.0),
                ("sub_dataset_size", 20.0),
                ("lr", 5e-5),
                ("lr_mean", 0.1),
                ("lr_std", 0.05),
                ("lr_mask", 0.03),
                ("batch_size", 32.0),
                ("weight_clip", 0.01),
                ("epochs", 20.0),
                ("critic_iter", 5.0),
            ],
        ),
    ];
    for (table, values) in pins {
        for (k, want) in values {
            assert_eq!(table[*k].as_f64(), Some(*want), "{k} in {table}");
        }
    }
    assert_eq!(a["feat_iba"]["layer"], "rnn_4");
    for split in ["estimation", "attribution"] {
        let d = &v["data"][split];
        assert_eq!((d["split"].as_str(), d["select_cls"].as_str()), (Some("train"), Some("pos")), "{split}: {d}");
    }
}

/// mmcv's `_delete_ = true`: the table replaces what the bases (and earlier overrides) set at its
/// path, so switching a component's `type` leaves none of the old component's keys behind; tables
/// beside it still merge, a base declared inside the replaced table is kept, and an override can
/// replace a table the same way. A `_delete_` that is no boolean is refused naming the file.
#[test]
fn delete_replaces_a_table_instead_of_merging_it() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "_base_/b.toml", BASE);
    let child = write(
        d.path(),
        "child.toml",
        "_base_ = [\"_base_/b.toml\"]\n[attributor]\n_delete_ = true\ntype = \"Saliency\"\n[model]\nnum_classes = 4\n",
    );
    let fig = config::load(&child, &[]).unwrap();
    let attributor: toml::Table = fig.extract_inner("attributor").unwrap();
    assert_eq!(attributor.keys().collect::<Vec<_>>(), vec!["type"], "nothing of FeatureIba's table is left");
    assert_eq!(fig.extract_inner::<i64>("model.num_classes").unwrap(), 4);
    assert_eq!(fig.extract_inner::<String>("model.type").unwrap(), "Vgg", "other tables still merge");
    ibex::run::Run::load(&child, &[]).unwrap();
    // an override replaces the same way; a later plain override merges into it again
    let items = ["attributor={_delete_ = true, type = \"IntegratedGradients\"}".into(), "attributor.n_steps=7".into()];
    let fig = config::load(&write(d.path(), "plain.toml", "_base_ = [\"_base_/b.toml\"]\n"), &items).unwrap();
    let attributor: toml::Table = fig.extract_inner("attributor").unwrap();
    assert_eq!(attributor.len(), 2, "{attributor:?}");
    assert_eq!(attributor["n_steps"].as_integer(), Some(7));
    // a base declared inside the replaced table is what the table is made of
    write(d.path(), "_base_/ig.toml", "type = \"IntegratedGradients\"\nn_steps = 9\n");
    let inner = write(
        d.path(),
        "inner.toml",
        "_base_ = [\"_base_/b.toml\"]\n[attributor]\n_base_ = [\"_base_/ig.toml\"]\n_delete_ = true\nbaseline = \"zeros\"\n",
    );
    let attributor: toml::Table = config::load(&inner, &[]).unwrap().extract_inner("attributor").unwrap();
    let mut keys: Vec<&String> = attributor.keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["baseline", "n_steps", "type"]);
    let bad = write(d.path(), "bad.toml", "_base_ = [\"_base_/b.toml\"]\n[attributor]\n_delete_ = 1\n");
    let e = config::load(&bad, &[]).unwrap_err().to_string();
    assert!(e.contains("bad.toml") && e.contains("_delete_"), "{e}");
}
