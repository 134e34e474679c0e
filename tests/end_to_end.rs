//! The quickstart as a user runs it, in a fresh folder: synthetic data and classifier made on first
//! use, feature-IBA maps written, a second run resumes, TensorBoard reads the events, and the maps
//! point at the ground-truth objects.
use ibex::output::tensorboard::{read_events, Payload, What};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

trait OutputAsync {
    fn output_async(&mut self) -> Child;
}

impl OutputAsync for Command {
    /// Starts the command with its output captured, without waiting for it.
    fn output_async(&mut self) -> Child {
        self.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn train(cwd: &Path, config: &Path, wd: &str) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_train"))
        .current_dir(cwd)
        .args(["--config", config.to_str().unwrap(), "--work-dir", wd])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    out
}

/// The tag of every summary in an event file, in order.
fn scalar_tags(events: &Path) -> Vec<String> {
    read_events(events)
        .unwrap()
        .iter()
        .filter_map(|e| match &e.what {
            Some(What::Summary(s)) => Some(s.value[0].tag.clone()),
            _ => None,
        })
        .collect()
}

fn summary(wd: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(wd.join("summary.json")).unwrap()).unwrap()
}

/// Mass of the map inside the box divided by the box's share of the image: 1 for a uniform map.
fn mass_in_box_ratio(map: &tch::Tensor, xml: &Path) -> f64 {
    let ann = ibex::data::voc::read(xml).unwrap();
    let [x0, y0, x1, y1] = ann.objects[0].bbox.map(|v| v as i64);
    let (h, w) = (map.size()[0], map.size()[1]);
    let total = map.sum(tch::Kind::Double).double_value(&[]);
    let inside = map.narrow(0, y0, y1 - y0 + 1).narrow(1, x0, x1 - x0 + 1).sum(tch::Kind::Double).double_value(&[]);
    (inside / total) / (((y1 - y0 + 1) * (x1 - x0 + 1)) as f64 / (h * w) as f64)
}

#[test]
fn quickstart_runs_resumes_and_points_at_the_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let out = train(cwd, &repo("configs/quickstart_feature_iba.toml"), "workdirs/quickstart");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let wd = cwd.join("workdirs/quickstart");

    // the classifier trained on first use reaches ≥ 95% test accuracy
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("data/quickstart/vgg_small_bn.json")).unwrap()).unwrap();
    let acc = report["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.95, "test accuracy {acc}");

    // every attribution sample has its files, in the original's format
    let names: Vec<String> = std::fs::read_dir(cwd.join("data/synthetic/annotations/attribution"))
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 16);
    for n in &names {
        for suffix in [".png", ".npy", "_overlay.jpg"] {
            assert!(wd.join("feat_masks").join(format!("{n}{suffix}")).is_file(), "{n}{suffix}");
        }
        let png = image::open(wd.join("feat_masks").join(format!("{n}.png"))).unwrap();
        assert_eq!((png.color(), png.width(), png.height()), (image::ColorType::L8, 64, 64));
        assert_eq!(png.to_luma8().iter().max(), Some(&255), "max-normalised");
    }
    assert_eq!(summary(&wd)["attributed"], 16);
    // what each sample's maps explain is recorded beside them (tools/eval scores that class)
    for n in &names {
        let e: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(wd.join("explained").join(format!("{n}.json"))).unwrap())
                .unwrap();
        assert_eq!(e["target"], e["label"], "target = \"label\": {e}");
        assert!(e["degenerate"].is_array(), "{e}");
        assert!(e["p_target"].as_f64().unwrap() > 0.0 && e["prediction"].is_i64(), "{e}");
        assert!(e["seconds"].as_f64().unwrap() > 0.0, "what the sample's attribution cost: {e}");
    }
    assert!(wd.join("state/model_digest.txt").is_file());
    let log = std::fs::read_to_string(wd.join("log.txt")).unwrap();
    assert!(log.contains("estimator"));
    // log.txt has the console's ISO times: `[2026-12-02T13:17:15Z INFO ] ...`
    assert!(log.lines().all(|l| l.starts_with("[20") && l[1..21].ends_with('Z') && l[21..].starts_with(' ')), "{log}");
    let config = std::fs::read_to_string(wd.join("config.toml")).unwrap();
    assert!(config.contains("layer = \"features.16\"") && !config.contains("_base_"));

    // the maps put their bits on the objects: mass in the box vs a uniform map (ratio 1). Measured
    // 3.24 on average here (per class 2.1 / 5.7 / 2.3 / 2.8; 3.92 and 2.64 with seeds 1 and 7), all
    // 16 above 1; we require 2.0 on average and 13 of 16 above 1.
    let ratios: Vec<f64> = names
        .iter()
        .map(|n| {
            let map = tch::Tensor::read_npy(wd.join("feat_masks").join(format!("{n}.npy"))).unwrap();
            mass_in_box_ratio(&map, &cwd.join("data/synthetic/annotations/attribution").join(format!("{n}.xml")))
        })
        .collect();
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    let above = ratios.iter().filter(|&&r| r > 1.0).count();
    assert!(mean > 2.0 && above >= 13, "mass-in-box ratios {ratios:?}");

    // TensorBoard: scalars and images parse, with our reader and (when available) TensorBoard's own
    let events: Vec<PathBuf> = std::fs::read_dir(&wd)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents"))
        .collect();
    assert_eq!(events.len(), 1);
    let ev = read_events(&events[0]).unwrap();
    let count = |f: &dyn Fn(&Payload) -> bool| {
        ev.iter()
            .filter(|e| matches!(&e.what, Some(What::Summary(s)) if f(s.value[0].payload.as_ref().unwrap())))
            .count()
    };
    // the heatmaps of two samples of every class
    let mut image_tags: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.what {
            Some(What::Summary(s)) if matches!(s.value[0].payload, Some(Payload::Image(_))) => {
                Some(s.value[0].tag.clone())
            }
            _ => None,
        })
        .collect();
    image_tags.sort();
    let per_class: Vec<String> =
        (0..4).flat_map(|c| (0..2).map(move |i| format!("feat_masks/attribution_{c}_0000{i}"))).collect();
    assert_eq!(image_tags, per_class);
    // per sample: 3 loss curves of 10 steps and their final values, and the degenerate flag
    assert_eq!(count(&|p| matches!(p, Payload::SimpleValue(_))), 16 * 3 * 11 + 16);
    if let Some(py) = std::env::var("IBEX_TB_PYTHON").ok().filter(|p| !p.is_empty()) {
        let check = Command::new(py).arg(repo("tests/tensorboard_check.py")).arg(&wd).output().unwrap();
        assert!(
            check.status.success(),
            "TensorBoard could not read the events: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let said = String::from_utf8_lossy(&check.stdout);
        let one = format!("feat_iba/loss/{} 10", names[0]);
        assert!(said.contains(&one) && said.contains("images 8 876x290"), "{said}");
        assert!(said.contains("feat_iba/loss_final 16"), "one final value per sample: {said}");
    }

    // a second run resumes: nothing is redone, the estimator is reused, a new event file starts
    let before =
        std::fs::metadata(wd.join("feat_masks").join(format!("{}.npy", names[0]))).unwrap().modified().unwrap();
    let out = train(cwd, &repo("configs/quickstart_feature_iba.toml"), "workdirs/quickstart");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((summary(&wd)["attributed"].as_i64(), summary(&wd)["skipped"].as_i64()), (Some(0), Some(16)));
    assert_eq!(
        std::fs::metadata(wd.join("feat_masks").join(format!("{}.npy", names[0]))).unwrap().modified().unwrap(),
        before
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("estimator: reusing"));

    // the dumped config re-runs as is; a lost map is redone
    std::fs::remove_file(wd.join("feat_masks").join(format!("{}.png", names[3]))).unwrap();
    let out = train(cwd, &wd.join("config.toml"), "workdirs/quickstart");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((summary(&wd)["attributed"].as_i64(), summary(&wd)["skipped"].as_i64()), (Some(1), Some(15)));

    // a baseline method on the same data and model: raw [C,H,W] maps, batched, completeness logged
    let out = train(cwd, &repo("configs/baselines/integrated_gradients.toml"), "workdirs/ig");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ig = cwd.join("workdirs/ig/maps");
    let m = tch::Tensor::read_npy(ig.join(format!("{}.npy", names[0]))).unwrap();
    assert_eq!(m.size(), vec![3, 64, 64]);
    assert!(m.lt(0.0).any().int64_value(&[]) == 1, "the .npy keeps the signed attribution");
    assert!(ig.join(format!("{}.png", names[0])).is_file() && ig.join(format!("{}_overlay.jpg", names[0])).is_file());
    let ev = std::fs::read_dir(cwd.join("workdirs/ig"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out"))
        .unwrap();
    let tags = scalar_tags(&ev);
    assert_eq!(tags.iter().filter(|t| *t == "ig/completeness_error_final").count(), 16, "one value per sample");
    assert!(!tags.iter().any(|t| t.starts_with("ig/completeness_error/")), "no one-point curves");

    readout_killed_and_resumed_equals_uninterrupted(cwd);

    // tools/eval on both work dirs, then tools/compare: metrics.json per work dir, a re-run skips
    // what is done, one table across the methods
    // maps "": the attributor's own folder (a baseline's `out_dir`)
    let eval = |config: &Path, wd: &str, maps: &str| {
        let pick: &[&str] = if maps.is_empty() { &[] } else { &["--maps", maps] };
        Command::new(env!("CARGO_BIN_EXE_eval"))
            .current_dir(cwd)
            .args(["--config", config.to_str().unwrap(), "--work-dir", wd])
            .args(pick)
            .args(["--metric", "relevance_mass", "pointing_game", "ehr", "region_perturbation"])
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    };
    let out = eval(&repo("configs/quickstart_feature_iba.toml"), "workdirs/quickstart", "feat_masks");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| relevance_mass | mass_vs_uniform |"), "{stdout}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.join("metrics.json")).unwrap()).unwrap();
    let agg = &metrics["metrics"]["relevance_mass"]["aggregate"]["mass_vs_uniform"];
    assert_eq!(agg["n"], 16);
    // the PNG maps (max-normalised, 8-bit) against the box: as the .npy maps above, well over 1
    assert!(agg["mean"].as_f64().unwrap() > 2.0, "{agg}");
    assert_eq!(metrics["metrics"]["region_perturbation"]["curves"]["morf"]["mean"].as_array().unwrap().len(), 64);
    // the figures as a table in TensorBoard's Text tab
    let newest = std::fs::read_dir(&wd)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    let table = read_events(&newest)
        .unwrap()
        .into_iter()
        .find_map(|e| match e.what {
            Some(What::Summary(s)) if s.value[0].tag == "eval/summary" => match &s.value[0].payload {
                Some(Payload::Tensor(t)) => Some(String::from_utf8(t.string_val[0].clone()).unwrap()),
                _ => None,
            },
            _ => None,
        })
        .expect("an eval/summary text");
    assert!(table.contains("| relevance_mass | mass_vs_uniform |") && table.contains("| ehr |"), "{table}");
    let plot = image::open(wd.join("plots/region_perturbation.png")).unwrap();
    assert!(plot.width() > 720 && plot.height() == 480, "the plot and its legend right of it");
    let svg = std::fs::read_to_string(wd.join("plots/region_perturbation.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "the plot as SVG beside the PNG");
    let out = eval(&repo("configs/quickstart_feature_iba.toml"), "workdirs/quickstart", "feat_masks");
    assert!(
        String::from_utf8_lossy(&out.stderr).matches("already in").count() == 4,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // a map rewritten since: the figures are recomputed, not reported from the cache
    let first = wd.join("feat_masks").join(format!("{}.png", names[0]));
    let img = image::open(&first).unwrap().to_luma8();
    image::GrayImage::from_fn(img.width(), img.height(), |x, y| image::Luma([255 - img.get_pixel(x, y)[0]]))
        .save(&first)
        .unwrap();
    let out = eval(&repo("configs/quickstart_feature_iba.toml"), "workdirs/quickstart", "feat_masks");
    assert!(
        String::from_utf8_lossy(&out.stderr).matches("already in").count() == 0,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // maps made by one method are not evaluated under another's config
    let out = Command::new(env!("CARGO_BIN_EXE_eval"))
        .current_dir(cwd)
        .args(["--config", repo("configs/quickstart_feature_iba.toml").to_str().unwrap(), "--work-dir"])
        .args(["workdirs/quickstart", "--metric", "pointing_game", "--cfg-options", "attributor.beta=5.0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("another [attributor]") && err.contains("config.toml"), "{err}");
    let out = eval(&repo("configs/baselines/integrated_gradients.toml"), "workdirs/ig", "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_compare"))
        .current_dir(cwd)
        .args(["workdirs/quickstart", "workdirs/ig", "--csv", "compare.csv", "--plots", "compare_plots"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| quickstart (feat_masks) |")
            && table.contains("| ig (maps) |")
            && table.contains("pointing_game/hit")
            && table.contains("| s / image |"),
        "{table}"
    );
    assert!(cwd.join("compare_plots/quality_cost.svg").is_file(), "{table}");
    assert_eq!(std::fs::read_to_string(cwd.join("compare.csv")).unwrap().lines().count(), 3);
    assert!(cwd.join("compare_plots/region_perturbation.png").is_file());

    // the same images side by side, a column per method: 64² inputs drawn at 128² cells
    let out = Command::new(env!("CARGO_BIN_EXE_compare"))
        .current_dir(cwd)
        .args(["workdirs/quickstart", "workdirs/ig", "--grid", "grid", "--grid-samples", "4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let grid = image::open(cwd.join("grid/grid.png")).unwrap();
    assert_eq!((grid.width(), grid.height()), (3 * (128 + 6) + 6, 22 + 4 * (128 + 6) + 6));
    let html = std::fs::read_to_string(cwd.join("grid/grid.html")).unwrap();
    assert_eq!(html.matches("<tr><td><b>").count(), 4, "{html}");
    assert!(html.contains("quickstart (feat_masks)") && html.contains("ig (maps)") && html.contains("predicted"));
    let first = names.iter().min().unwrap();
    let cell = image::open(cwd.join(format!("grid/cells/{first}_1.png"))).unwrap().to_rgb8();
    assert_eq!(cell.dimensions(), (128, 128));
    let input = image::open(cwd.join(format!("grid/cells/{first}_0.png"))).unwrap().to_rgb8();
    assert_ne!(cell, input, "a map's cell is the heat over the image, not the image");

    // ROAR with the ground-truth boxes as the ranking (an oracle): removing the top 30% of pixels
    // takes the objects away and retrained accuracy falls to chance (measured 0.23, 4 classes),
    // removing a random 30% leaves it high (0.75), with 3 epochs
    let roar = |options: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_eval"))
            .current_dir(cwd)
            .args(["--config", repo("configs/quickstart_feature_iba.toml").to_str().unwrap()])
            .args(["--work-dir", "workdirs/quickstart", "--metric", "roar", "--cfg-options"])
            .args(options)
            .output()
            .unwrap()
    };
    let out = roar(&[
        "eval.roar.maps=\"boxes\"",
        "eval.roar.fractions=[0.3]",
        "eval.roar.modes=[\"roar\"]",
        "train_classifier.epochs=3",
        "data.test.with_bbox=true",
        "data.test.annot_root=\"data/synthetic/annotations/test/\"",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.join("metrics.json")).unwrap()).unwrap();
    let acc = |k: &str| metrics["metrics"]["roar"]["aggregate"][k]["mean"].as_f64().unwrap();
    assert!(
        acc("roar@0.3") < 0.4 && acc("random_roar@0.3") > acc("roar@0.3") + 0.2,
        "{}",
        metrics["metrics"]["roar"]["aggregate"]
    );

    // eval.num_samples limits ROAR's images too (and is part of its key): 100 train, 100 test
    let out = roar(&[
        "eval.roar.maps=\"random\"",
        "eval.roar.random_baseline=false",
        "eval.roar.fractions=[0.3]",
        "eval.roar.modes=[\"roar\"]",
        "train_classifier.epochs=1",
        "eval.num_samples=100",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("ROAR: 100 train and 100 test images"), "{err}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["metrics"]["roar"]["params"]["num_samples"], 100);

    // n processes with --shard i/n share one work dir: every sample once, none twice
    let children: Vec<_> = (0..3)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_train"))
                .current_dir(cwd)
                .args([
                    "--config",
                    repo("configs/quickstart_feature_iba.toml").to_str().unwrap(),
                    "--work-dir",
                    "workdirs/shards",
                    "--shard",
                    &format!("{i}/3"),
                ])
                .output_async()
        })
        .collect();
    let mut done = 0;
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "shard {i}: {}", String::from_utf8_lossy(&out.stderr));
        let s: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(cwd.join(format!("workdirs/shards/summary.shard-{i}-of-3.json"))).unwrap(),
        )
        .unwrap();
        done += s["attributed"].as_i64().unwrap();
    }
    assert_eq!(done, 16, "the shards together attribute every sample exactly once");
    let npys = std::fs::read_dir(cwd.join("workdirs/shards/feat_masks"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "npy"))
        .count();
    assert_eq!(npys, 16);

    // --jobs 2: the same as two shards started by hand, merged: one summary, one gallery of all 16,
    // and the maps of the shards above (which ran with 2 threads each, these with 1: float rounding)
    let jobs = || {
        Command::new(env!("CARGO_BIN_EXE_train"))
            .current_dir(cwd)
            .args(["--config", repo("configs/quickstart_feature_iba.toml").to_str().unwrap()])
            .args(["--work-dir", "workdirs/jobs", "--jobs", "2"])
            .output()
            .unwrap()
    };
    let out = jobs();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("2 jobs of ") && err.contains(" thread(s) each"), "{err}");
    assert!(!err.contains('\r'), "no progress bars from the jobs: {err}");
    let s = summary(&cwd.join("workdirs/jobs"));
    assert_eq!((s["attributed"].as_i64(), s["skipped"].as_i64()), (Some(16), Some(0)), "{s}");
    let gallery = std::fs::read_to_string(cwd.join("workdirs/jobs/index.html")).unwrap();
    for n in &names {
        assert!(gallery.contains(n.as_str()), "{n} missing from the gallery");
        let a = tch::Tensor::read_npy(cwd.join("workdirs/jobs/feat_masks").join(format!("{n}.npy"))).unwrap();
        let b = tch::Tensor::read_npy(cwd.join("workdirs/shards/feat_masks").join(format!("{n}.npy"))).unwrap();
        let d = (&a - &b).abs().max().double_value(&[]);
        assert!(d <= 1e-3 * b.abs().max().double_value(&[]), "{n}: --jobs 2 and --shard differ by {d}");
    }
    // a second run finds everything done
    let out = jobs();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&cwd.join("workdirs/jobs"))["skipped"].as_i64(), Some(16));

    // InputIBA as the quickstart ships it, on half of the images (2 per class): no map says nothing
    // (with the original's input β 20 this model gave 7 to 9 of 16), the input masks point at the
    // objects far better than the feature masks, a fixed seed gives identical masks again (the 4
    // images the second run, one per class, shares with the first), and a log that is not a
    // terminal gets a progress line per sample
    let inputiba = |wd: &str, shard: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_train"))
            .current_dir(cwd)
            .args(["--config", repo("configs/quickstart.toml").to_str().unwrap(), "--work-dir", wd, "--shard", shard])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = inputiba("workdirs/inputiba", "0/2");
    assert!(err.contains("attribution 8/8 attribution_3_00002: ") && err.contains(" elapsed, eta 0 s"), "{err}");
    let s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(cwd.join("workdirs/inputiba/summary.shard-0-of-2.json")).unwrap(),
    )
    .unwrap();
    assert_eq!((s["attributed"].as_i64(), s["degenerate"].as_array().map(Vec::len)), (Some(8), Some(0)), "{s}");
    inputiba("workdirs/inputiba2", "0/4");
    let (mut input_ratio, mut feat_ratio) = (0.0, 0.0);
    let mut halves: Vec<&String> = names.iter().filter(|n| n.ends_with("_00000") || n.ends_with("_00002")).collect();
    halves.sort();
    assert_eq!(halves.len(), 8);
    for n in halves {
        let xml = cwd.join("data/synthetic/annotations/attribution").join(format!("{n}.xml"));
        let mask = tch::Tensor::read_npy(cwd.join("workdirs/inputiba/input_masks").join(format!("{n}.npy"))).unwrap();
        if n.ends_with("_00000") {
            let again =
                tch::Tensor::read_npy(cwd.join("workdirs/inputiba2/input_masks").join(format!("{n}.npy"))).unwrap();
            assert_eq!((&mask - again).abs().max().double_value(&[]), 0.0, "{n}: same seed, same mask");
        }
        assert!(mask.min().double_value(&[]) > 0.0 && mask.max().double_value(&[]) < 1.0);
        let png = image::open(cwd.join("workdirs/inputiba/input_masks").join(format!("{n}.png"))).unwrap().to_luma8();
        assert_eq!(
            png.get_pixel(0, 0).0[0],
            (mask.double_value(&[0, 0]) * 255.0).floor() as u8,
            "⌊255·mask⌋, not normalised"
        );
        assert!(cwd.join("workdirs/inputiba/gan_masks").join(format!("{n}.npy")).is_file());
        input_ratio += mass_in_box_ratio(&mask, &xml) / 8.0;
        let feat = tch::Tensor::read_npy(cwd.join("workdirs/inputiba/feat_masks").join(format!("{n}.npy"))).unwrap();
        feat_ratio += mass_in_box_ratio(&feat, &xml) / 8.0;
    }
    assert!(
        input_ratio > 4.0 && input_ratio > 1.5 * feat_ratio,
        "input masks {input_ratio}, feature masks {feat_ratio}"
    );

    // a corrupt image fails that sample with its file named, the run goes on, the summary lists it
    let victim = cwd.join("data/synthetic/images/attribution/n90000001/attribution_1_00002.png");
    std::fs::write(&victim, b"not a png").unwrap();
    let out = train(cwd, &repo("configs/quickstart_feature_iba.toml"), "workdirs/corrupt");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 sample(s) failed") && err.contains("attribution_1_00002.png") && err.contains("decode"),
        "{err}"
    );
    let s = summary(&cwd.join("workdirs/corrupt"));
    assert_eq!((s["attributed"].as_i64(), s["failed"][0][0].as_str()), (Some(15), Some("attribution_1_00002")));
}

#[test]
fn missing_weights_and_data_say_what_to_put_where() {
    let tmp = tempfile::tempdir().unwrap();
    let out = train(tmp.path(), &repo("configs/feature_iba_vgg16_imagenet.toml"), "workdirs/x");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("data/weights/vgg16.safetensors") && err.contains("not found") && err.contains("README"),
        "{err}"
    );
    // with weights in place, the missing dataset is named next
    let w = tmp.path().join("data/weights/vgg16.safetensors");
    std::fs::create_dir_all(w.parent().unwrap()).unwrap();
    std::fs::write(&w, b"").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_train"))
        .current_dir(tmp.path())
        .args([
            "--config",
            repo("configs/feature_iba_vgg16_imagenet.toml").to_str().unwrap(),
            "--cfg-options",
            "model.weights=\"random\"",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("data/imagenet/images/estimation/") && err.contains("data/README.md"),
        "{err}"
    );
}

/// The text quickstart as a user runs it in a fresh folder: corpus, vocabulary and classifier made
/// on first use, word masks with their JSON and HTML pages, then the NLP metrics of `tools/eval`.
#[test]
fn text_quickstart_trains_attributes_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let config = repo("configs/deep_lstm_quickstart.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_train"))
        .current_dir(cwd)
        .args([
            "--config",
            config.to_str().unwrap(),
            "--work-dir",
            "workdirs/text",
            "--cfg-options",
            "data.attribution.max_samples=3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        cwd.join("data/reviews/vocab.txt").is_file() && cwd.join("data/reviews/deep_lstm_small.safetensors").is_file()
    );
    let wd = cwd.join("workdirs/text");
    assert_eq!(summary(&wd)["attributed"].as_i64(), Some(3));
    for dir in ["input_masks", "feat_masks"] {
        let jsons = std::fs::read_dir(wd.join(dir))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
            .count();
        assert_eq!(jsons, 3, "{dir}");
        assert!(std::fs::read_to_string(wd.join(format!("{dir}.html"))).unwrap().contains("<h3>"));
    }

    let eval = |metrics: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_eval"))
            .current_dir(cwd)
            .args(["--config", config.to_str().unwrap(), "--work-dir", "workdirs/text", "--metric"])
            .args(metrics)
            .output()
            .unwrap()
    };
    let out = eval(&["text_insertion_deletion", "text_sensitivity_n"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m = ibex::evaluation::read_metrics(&wd).unwrap();
    let agg = |metric: &str, value: &str| m.metrics[metric].aggregate[value].mean;
    // the input masks find the deciding words: inserting them first restores the class quickly,
    // deleting them first loses it (measured 0.77 / 0.24 on the first 4 reviews), and the summed scores of
    // a random word set follow the logit drop (0.50)
    assert!(agg("text_insertion_deletion", "ins_auc") > agg("text_insertion_deletion", "del_auc") + 0.2);
    assert!(agg("text_sensitivity_n", "corr_mean") > 0.2);
    assert_eq!(m.metrics["text_sensitivity_n"].curves["sensitivity_n"].x.len(), 10);
    assert!(wd.join("plots/text_insertion_deletion.png").is_file());
    // a metric interrupted after its first sample resumes there: the saved value is kept (a
    // marker here), the others are computed, the progress file goes
    let full = &m.metrics["text_insertion_deletion"];
    let first = full.evaluated[0].clone();
    let marker: std::collections::BTreeMap<String, f64> =
        [("ins_auc".to_string(), 0.123), ("del_auc".to_string(), 0.456)].into();
    let partial = ibex::evaluation::MetricReport {
        params: full.params.clone(),
        source: full.source.clone(),
        evaluated: vec![first.clone()],
        samples: [(first.clone(), marker)].into(),
        ..Default::default()
    };
    let progress = wd.join("state/eval_input_masks_png_text_insertion_deletion.partial.json");
    std::fs::write(&progress, serde_json::to_string(&partial).unwrap()).unwrap();
    std::fs::remove_file(wd.join("metrics.json")).unwrap();
    assert!(eval(&["text_insertion_deletion"]).status.success());
    let resumed = &ibex::evaluation::read_metrics(&wd).unwrap().metrics["text_insertion_deletion"];
    assert_eq!(resumed.samples[&first]["ins_auc"], 0.123);
    assert_eq!(
        (&resumed.evaluated, &resumed.samples[&full.evaluated[1]]),
        (&full.evaluated, &full.samples[&full.evaluated[1]])
    );
    assert!(!progress.exists());
    // an image metric on a text model says what to use instead
    let out = eval(&["insertion_deletion"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("reads text") && err.contains("text_insertion_deletion"), "{err}");
    // a gradient baseline on the same reviews, evaluated and compared with InputIBA
    let ig = repo("configs/baselines/text_integrated_gradients.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_train"))
        .current_dir(cwd)
        .args([
            "--config",
            ig.to_str().unwrap(),
            "--work-dir",
            "workdirs/text_ig",
            "--cfg-options",
            "data.attribution.max_samples=3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_eval"))
        .current_dir(cwd)
        .args([
            "--config",
            ig.to_str().unwrap(),
            "--work-dir",
            "workdirs/text_ig",
            "--metric",
            "text_insertion_deletion",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_compare"))
        .current_dir(cwd)
        .args(["workdirs/text", "workdirs/text_ig"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| text (input_masks) |") && table.contains("| text_ig (maps) |"), "{table}");
    // the confidence filter from the original's scores file keeps the samples at ≥ 0.6
    let scores: serde_json::Value = full
        .evaluated
        .iter()
        .enumerate()
        .map(|(k, n)| (n.clone(), serde_json::json!({ "target": 1, "pred": if k == 1 { 0.9 } else { 0.1 } })))
        .collect::<serde_json::Map<_, _>>()
        .into();
    std::fs::write(cwd.join("scores.json"), scores.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_eval"))
        .current_dir(cwd)
        .args([
            "--config",
            config.to_str().unwrap(),
            "--work-dir",
            "workdirs/text",
            "--metric",
            "text_insertion_deletion",
            "--cfg-options",
            "eval.min_confidence=0.6",
            "eval.scores_file=\"scores.json\"",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        ibex::evaluation::read_metrics(&wd).unwrap().metrics["text_insertion_deletion"].evaluated,
        [full.evaluated[1].clone()]
    );
}

/// The Readout Bottleneck on the quickstart's data and net (3 short epochs): a run killed with
/// SIGKILL once its first checkpoint exists, then started again, resumes and ends with the weights
/// of an uninterrupted run, bit for bit; its maps and its training curves are there.
fn readout_killed_and_resumed_equals_uninterrupted(cwd: &Path) {
    let args = |wd: &str| {
        let config = repo("configs/quickstart_readout.toml");
        let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
        c.current_dir(cwd)
            .args(["--config", config.to_str().unwrap(), "--work-dir", wd, "--cfg-options"])
            .args(["attributor.fit.epochs=3", "attributor.n_samples=100", "attributor.fit.keep_checkpoints=3"])
            .env("RUST_LOG", "info");
        c
    };
    let out = args("workdirs/readout_whole").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = cwd.join("workdirs/readout_whole");
    assert_eq!(summary(&whole)["attributed"], 16);
    assert!(whole.join("readout_masks/attribution_0_00000.npy").is_file());
    let fit_events = std::fs::read_dir(whole.join("fit")).unwrap().next().unwrap().unwrap().path();
    let tags = scalar_tags(&fit_events);
    // 25 steps an epoch (800 images, batch 32), validation once an epoch
    assert_eq!(tags.iter().filter(|t| *t == "fit/loss").count(), 75);
    assert_eq!(tags.iter().filter(|t| *t == "fit/val_cls_loss").count(), 3);

    let killed = cwd.join("workdirs/readout_killed");
    let mut child = args("workdirs/readout_killed").output_async();
    let first = killed.join("checkpoints/epoch_0001.safetensors");
    let t = std::time::Instant::now();
    while !first.is_file() && t.elapsed().as_secs() < 300 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join("checkpoints/epoch_0003.safetensors").exists(), "killed before the end");
    let out = args("workdirs/readout_killed").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("training: resuming after epoch"));
    let read = |wd: &Path| {
        ibex::fitting::Loaded::read(&wd.join("checkpoints/epoch_0003.safetensors"), tch::Device::Cpu).unwrap()
    };
    let (a, b) = (read(&whole), read(&killed));
    for name in a.names("param/") {
        let (x, y) = (a.get(&format!("param/{name}")).unwrap(), b.get(&format!("param/{name}")).unwrap());
        assert!(x.equal(&y), "{name} differs between the resumed and the uninterrupted run");
    }
    let map = |wd: &Path| tch::Tensor::read_npy(wd.join("readout_masks/attribution_1_00002.npy")).unwrap();
    assert!(map(&whole).equal(&map(&killed)));
}
