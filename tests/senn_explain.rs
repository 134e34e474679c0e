//! SENN's own explanations (spec peers §2.8): the prototypes are the test images that activate a
//! concept most (and most specifically), the test accuracy is the model's, DiSENN's traversals
//! sweep one concept at a time over the seed's range, and `tools/train` writes each sample's
//! concepts, relevances and contributions as named bars and JSON.
mod common;
use common::{rng_lock, TensorDataset};
use ibex::attributors::self_explanation::{traversal, SelfExplanationParams};
use ibex::attributors::{AttributionCtx, Attributor, Split, Splits};
use ibex::data::Dataset;
use ibex::models::senn::{Senn, SennParams};
use ibex::registry::{build, AttributorKind, BuildCtx};
use tch::{Device, Kind, Tensor};

fn self_explanation(table: &str) -> Box<dyn Attributor> {
    use figment::providers::Format;
    let text = format!("[attributor]\ntype = \"SelfExplanation\"\n{table}");
    let fig = figment::Figment::from(figment::providers::Toml::string(&text));
    build::<AttributorKind>(&fig, "attributor", &BuildCtx { device: Device::Cpu, load_weights: false }).unwrap()
}

fn digits(n: usize) -> TensorDataset {
    let images = (0..n).map(|_| Tensor::randn([1, 28, 28], (Kind::Float, Device::Cpu))).collect();
    TensorDataset::new(images, (0..n as i64).map(|i| i % 2).collect())
}

/// The names of the `n` rows of `scores` [N,K] highest in column k, highest first.
fn top_names(scores: &Tensor, k: i64, n: i64, data: &dyn Dataset) -> Vec<String> {
    let (_, idx) = scores.select(1, k).topk(n, 0, true, true);
    Vec::<i64>::try_from(idx).unwrap().into_iter().map(|i| data.name(i as usize)).collect()
}

/// Activation prototypes: the test images with the highest h_k; contrast prototypes: the highest
/// h_k − Σ_{j≠k} h_j; the test accuracy counts argmax Σ_k θ_kc h_k against the labels; the
/// grids hold K rows of `num_prototypes` tiles, the filters K rows of the encoder's 10 channels.
#[test]
fn prototypes_are_the_test_images_that_activate_each_concept_most() {
    let _rng = rng_lock();
    tch::manual_seed(21);
    let p = SennParams { num_classes: 2, hidden_sizes: vec![320, 10], ..SennParams::default() };
    let net = Senn::new(&p, Device::Cpu).unwrap();
    let data = digits(12);
    let mut a = self_explanation("num_prototypes = 3\nbatch_size = 5\n");
    a.fit(&net, &Splits::one(Split::Test, &data), &AttributionCtx::default()).unwrap();
    let report = a.fit_report();
    let x = Tensor::stack(&data.images, 0);
    let out = tch::no_grad(|| net.parts(&x, false));
    let contrast = &out.h * 2.0 - out.h.sum_dim_intlist(1, true, Kind::Float);
    let table = &report.tables.iter().find(|(n, _)| n == "senn_prototypes").unwrap().1;
    for k in 0..5 {
        let names = |kind: &str| -> Vec<String> { serde_json::from_value(table[kind][k as usize].clone()).unwrap() };
        assert_eq!(names("activation"), top_names(&out.h, k, 3, &data), "concept {k}");
        assert_eq!(names("contrast"), top_names(&contrast, k, 3, &data), "concept {k}");
    }
    let labels = Tensor::from_slice(&data.targets);
    let right = out.log_probs.argmax(-1, false).eq_tensor(&labels).sum(Kind::Int64).int64_value(&[]);
    assert_eq!(report.figures["test_accuracy"], right as f64 / 12.0);
    let size = |name: &str| report.pictures.iter().find(|(n, _)| n == name).unwrap().1.size();
    assert_eq!(size("senn_prototypes_activation"), vec![3, 5 * 57, 3 * 57], "28 px tiles doubled, 1 px apart");
    assert_eq!(size("senn_prototypes_contrast"), vec![3, 5 * 57, 3 * 57]);
    assert_eq!(size("senn_concept_filters"), vec![3, 5 * 46, 10 * 46], "5 px filters ×9");
    // from the train split: the accuracy is still the test split's
    let train = digits(7);
    let mut a = self_explanation("num_prototypes = 2\nprototypes_split = \"train\"\n");
    let splits = Splits::new(vec![(Split::Test, &data as &dyn Dataset), (Split::Train, &train)]);
    a.fit(&net, &splits, &AttributionCtx::default()).unwrap();
    let report = a.fit_report();
    assert_eq!(report.figures["test_accuracy"], right as f64 / 12.0);
    let h = tch::no_grad(|| net.parts(&Tensor::stack(&train.images, 0), false)).h;
    let table = &report.tables[0].1;
    let names: Vec<String> = serde_json::from_value(table["activation"][1].clone()).unwrap();
    assert_eq!(names, top_names(&h, 1, 2, &train));
}

fn disenn() -> Senn {
    let p = SennParams { conceptizer: "VaeConceptizer".into(), ..SennParams::default() };
    Senn::new(&p, Device::Cpu).unwrap()
}

/// The seed's sweep (quirk S7): row d·steps + j is the drawn z with z_d the j-th of
/// linspace(−v, v), v = μ_d + σ_d·Φ⁻¹(0.05), Φ⁻¹(0.05) = −1.6449; centred on the mean, the
/// values run over μ_d ± 1.6449·σ_d. The draw depends on the seed alone.
#[test]
fn traversals_sweep_one_concept_over_the_seeds_range() {
    assert!((traversal::probit(0.05) + 1.644_853_626_951_472).abs() < 1e-9);
    let (mu, logvar) = (Tensor::from_slice(&[0.5f64, -1.0, 2.0]), Tensor::from_slice(&[0.0f64, -2.0, 1.0]));
    let sigma: Vec<f64> = vec![1.0, (-1.0f64).exp(), 0.5f64.exp()];
    let p = SelfExplanationParams { traversal_steps: 5, ..SelfExplanationParams::default() };
    let z = traversal::sweeps(&mu, &logvar, &p, 7);
    assert_eq!(z.size(), vec![15, 3]);
    assert!(z.equal(&traversal::sweeps(&mu, &logvar, &p, 7)), "same seed, same draw");
    assert!(!z.equal(&traversal::sweeps(&mu, &logvar, &p, 8)));
    let mu_v = [0.5, -1.0, 2.0];
    for d in 0..3i64 {
        let v = mu_v[d as usize] - 1.644_853_626_951_472 * sigma[d as usize];
        for j in 0..5i64 {
            let row = z.get(d * 5 + j);
            let want = -v + 2.0 * v * j as f64 / 4.0;
            assert!((row.double_value(&[d]) - want).abs() < 1e-5, "d {d} j {j}");
            for o in (0..3).filter(|&o| o != d) {
                assert_eq!(row.double_value(&[o]), z.double_value(&[if o == 0 { 5 } else { 0 }, o]), "z_{o} held");
            }
        }
    }
    let centred = SelfExplanationParams { traversal_centred_on_mean: true, ..p };
    let z = traversal::sweeps(&mu, &logvar, &centred, 7);
    for d in 0..3i64 {
        let (m, s) = (mu_v[d as usize], sigma[d as usize]);
        assert!((z.double_value(&[d * 5, d]) - (m - 1.644_853_626_951_472 * s)).abs() < 1e-5);
        assert!((z.double_value(&[d * 5 + 2, d]) - m).abs() < 1e-5);
        assert!((z.double_value(&[d * 5 + 4, d]) - (m + 1.644_853_626_951_472 * s)).abs() < 1e-5);
    }
}

/// A DiSENN sample's traversal picture holds K rows of `traversal_steps` decoded images (the
/// decoder's own output, compared tile by tile), and the traversals are refused for a SENN whose
/// concepts are no posterior.
#[test]
fn a_disenn_traversal_picture_is_the_decoder_over_the_sweep() {
    let _rng = rng_lock();
    tch::manual_seed(5);
    let net = disenn();
    let data = digits(1);
    let s = data.get(0).unwrap();
    let mut a = self_explanation("traversals = true\ntraversal_steps = 4\n");
    a.check(&net).unwrap();
    let cx = AttributionCtx { seed: 3, ..AttributionCtx::default() };
    let got = a.attribute(&net, &s, &cx).unwrap();
    let picture = &got.maps["disenn_traversals"];
    assert_eq!(picture.size(), vec![3, 5 * 29, 4 * 29]);
    use ibex::models::SelfExplaining;
    let (mu, logvar) = net.posterior(&s.input.unsqueeze(0)).unwrap();
    let p = SelfExplanationParams { traversal_steps: 4, ..SelfExplanationParams::default() };
    let z = traversal::sweeps(&mu.get(0), &logvar.get(0), &p, ibex::rng::sample_seed(3, &s.name) as u64);
    let images = net.decode(&z).unwrap(); // [20,1,28,28]
    for (row, col) in [(0i64, 0i64), (2, 3), (4, 1)] {
        let tile = picture.narrow(1, row * 29, 28).narrow(2, col * 29, 28).get(0);
        assert!(common::max_abs_diff(&tile, &images.get(row * 4 + col).get(0)) < 1e-6, "tile {row},{col}");
    }
    let plain = Senn::new(&SennParams::default(), Device::Cpu).unwrap();
    let e = a.check(&plain).unwrap_err().to_string();
    assert!(e.contains("VaeConceptizer"), "{e}");
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// `tools/train` on the COMPAS quickstart (smaller): the SENN is trained on first use, every test
/// row gets its concepts, relevances and contributions as bars (a PNG) and JSON named by the
/// COMPAS columns, contribution = relevance × concept per column, and `metrics.json` holds the
/// test accuracy, the same as the trained weights' report.
#[test]
fn tools_train_writes_named_concept_bars_and_the_test_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/senn_quickstart.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_train"))
        .current_dir(tmp.path())
        .args(["--config", config.to_str().unwrap(), "--work-dir", "wd", "--cfg-options"])
        .args(["compas.rows=700", "train_senn.epochs=2", "output.npy=false"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let wd = tmp.path().join("wd");
    let trained = json(&tmp.path().join("data/compas_generated/senn.json"));
    let metrics = json(&wd.join("metrics.json"));
    assert_eq!(metrics["fit"]["test_accuracy"], trained["test_accuracy"]);
    let rows: Vec<_> = std::fs::read_dir(wd.join("senn_relevance"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(rows.len() as f64, metrics["fit"]["test_samples"].as_f64().unwrap());
    let name = rows[0].file_stem().unwrap().to_str().unwrap();
    let read = |dir: &str| json(&wd.join(dir).join(format!("{name}.json")));
    let (relevance, concepts, contribution) =
        (read("senn_relevance"), read("senn_concepts"), read("senn_contribution"));
    let names: Vec<String> = serde_json::from_value(relevance["concepts"].clone()).unwrap();
    assert_eq!(names.len(), 11);
    assert!(names.contains(&"Number_of_Priors".to_string()) && names.contains(&"Misdemeanor".to_string()), "{names:?}");
    assert_eq!(relevance["class"], json(&wd.join(format!("explained/{name}.json")))["target"]);
    let scores = |v: &serde_json::Value| -> Vec<f64> { serde_json::from_value(v["scores"].clone()).unwrap() };
    for ((r, h), c) in scores(&relevance).iter().zip(scores(&concepts)).zip(scores(&contribution)) {
        assert!((r * h - c).abs() < 1e-6, "{r} × {h} vs {c}");
    }
    let bars = image::open(wd.join("senn_contribution").join(format!("{name}.png"))).unwrap();
    assert!(bars.height() > 11 * 20, "one bar per column");
}

/// θ(x) = a·x: every direction gives ‖θ(x) − θ(x')‖/‖x − x'‖ = |a|. θ(x) = x² (one feature):
/// the ratio is |2x + δ|, so the estimate lies within ε of |2x| and never above |2x| + ε.
#[test]
fn the_local_lipschitz_estimate_is_exact_for_linear_relevances() {
    struct Scaled(f64);
    impl ibex::models::SelfExplaining for Scaled {
        fn concepts_and_relevances(&self, x: &Tensor) -> (Tensor, Tensor) {
            (x.shallow_clone(), (x * self.0).unsqueeze(-1))
        }
    }
    struct Square;
    impl ibex::models::SelfExplaining for Square {
        fn concepts_and_relevances(&self, x: &Tensor) -> (Tensor, Tensor) {
            (x.shallow_clone(), x.square().unsqueeze(-1))
        }
    }
    use ibex::metrics::lipschitz::local_lipschitz;
    let _rng = rng_lock();
    tch::manual_seed(0);
    let x = Tensor::randn([4, 6], (Kind::Double, Device::Cpu));
    let l = local_lipschitz(&Scaled(-3.0), &x, 0.1, 5);
    assert!((l - 3.0).abs().max().double_value(&[]) < 1e-9);
    let x = Tensor::from_slice(&[0.5f64, -2.0, 0.0]).view([3, 1]);
    let l = Vec::<f64>::try_from(local_lipschitz(&Square, &x, 0.1, 200)).unwrap();
    for (got, x) in l.iter().zip([0.5f64, -2.0, 0.0]) {
        assert!(*got <= (2.0 * x).abs() + 0.1 + 1e-9 && *got >= (2.0 * x).abs() - 0.1, "{got} at x = {x}");
    }
}

/// `tools/senn_sweep` trains one SENN per λ and seed, writes `sweep.json` (each point's test
/// accuracy the one its weights' report gives) and both plots; a second run retrains nothing.
#[test]
fn the_sweep_trains_a_senn_per_lambda_and_seed_and_reuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/senn_quickstart.toml");
    let sweep = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_senn_sweep"))
            .current_dir(tmp.path())
            .args(["--config", config.to_str().unwrap(), "--work-dir", "wd", "--cfg-options"])
            .args(["compas.rows=500", "train_senn.epochs=2", "senn_sweep.lambdas=[1e-4, 0.1]"])
            .args(["senn_sweep.seeds=[5, 6]", "senn_sweep.lipschitz_rows=20"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    sweep();
    let wd = tmp.path().join("wd");
    let result = json(&wd.join("sweep.json"));
    let points = result["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    let mut stamps = Vec::new();
    for p in points {
        let weights = tmp.path().join(p["weights"].as_str().unwrap());
        assert_eq!(p["test_accuracy"], json(&weights.with_extension("json"))["test_accuracy"]);
        assert!(p["lipschitz_mean"].as_f64().unwrap() > 0.0);
        assert!((0.0..=1.0).contains(&p["planted_recall"].as_f64().unwrap()), "a generated COMPAS file: {p}");
        stamps.push(std::fs::metadata(&weights).unwrap().modified().unwrap());
    }
    assert_eq!(result["by_lambda"].as_array().unwrap().len(), 2);
    for plot in ["accuracy_vs_lambda.png", "robustness_vs_lambda.png"] {
        image::open(wd.join(plot)).unwrap();
        assert!(std::fs::read_to_string(wd.join(plot).with_extension("svg")).unwrap().contains("<polyline"));
    }
    // the planted columns' recall@3 as the rows' own relevance files give it
    let first = tmp.path().join(points[0]["weights"].as_str().unwrap());
    let weights = format!("model.weights={}", toml::Value::String(first.display().to_string()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_train"))
        .current_dir(tmp.path())
        .args(["--config", config.to_str().unwrap(), "--work-dir", "maps", "--cfg-options", &weights])
        .args(["compas.rows=500", "train_senn.epochs=2", "output.png=false"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (mut hits, mut rows) = (0, 0);
    for f in std::fs::read_dir(tmp.path().join("maps/senn_relevance")).unwrap().map(|e| e.unwrap().path()) {
        if f.extension().is_some_and(|e| e == "json") {
            let r = json(&f);
            let scores: Vec<f64> = serde_json::from_value(r["scores"].clone()).unwrap();
            let mut order: Vec<usize> = (0..scores.len()).collect();
            order.sort_by(|&a, &b| scores[b].abs().total_cmp(&scores[a].abs()));
            let planted = ["Number_of_Priors", "Age_Below_TwentyFive", "Misdemeanor"];
            hits += order[..3].iter().filter(|&&k| planted.contains(&r["concepts"][k].as_str().unwrap())).count();
            rows += 1;
        }
    }
    let want = hits as f64 / (3 * rows) as f64;
    assert!((points[0]["planted_recall"].as_f64().unwrap() - want).abs() < 1e-9, "{} vs {want}", points[0]);
    sweep();
    for (p, stamp) in json(&wd.join("sweep.json"))["points"].as_array().unwrap().iter().zip(stamps) {
        let weights = tmp.path().join(p["weights"].as_str().unwrap());
        assert_eq!(std::fs::metadata(&weights).unwrap().modified().unwrap(), stamp, "retrained {}", weights.display());
    }
}
