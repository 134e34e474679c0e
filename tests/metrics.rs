//! Evaluation metrics on constructed models and hand-made maps with known answers.
mod common;
use ibex::data::{BBox, Sample};
use ibex::metrics::{effective_heat_ratio, EvalSample, Metric, SampleResult};
use ibex::models::Classifier;
use ibex::registry::{self, BuildCtx, MetricKind};
use tch::{nn, Device, Kind, Tensor};

/// logits = [scale · Σ w ⊙ x, 0]: a linear model of the input.
struct Linear {
    w: Tensor,
    scale: f64,
}

impl Classifier for Linear {
    fn modality(&self) -> ibex::modality::Modality {
        ibex::modality::Modality::Image
    }
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let v = (x * &self.w).sum_dim_intlist([1, 2, 3].as_slice(), false, Kind::Float) * self.scale;
        Tensor::stack(&[v.shallow_clone(), v.zeros_like()], 1)
    }
    fn layer_names(&self) -> Vec<String> {
        vec![]
    }
    fn features(&self, x: &Tensor, _: &str) -> ibex::Result<Tensor> {
        Ok(x.shallow_clone())
    }
    fn head(&self, z: &Tensor, _: &str) -> ibex::Result<Tensor> {
        Ok(self.forward_t(z, false))
    }
    fn num_classes(&self) -> i64 {
        2
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        None
    }
}

fn metric(name: &str, table: &str) -> Box<dyn Metric> {
    let fig = figment::Figment::from(<figment::providers::Toml as figment::providers::Format>::string(&format!(
        "[m]\ntype = \"{name}\"\n{table}"
    )));
    registry::build::<MetricKind>(&fig, "m", &BuildCtx { device: Device::Cpu, load_weights: false }).unwrap()
}

fn sample(image: Tensor, boxes: Vec<BBox>) -> Sample {
    Sample { name: "s".into(), input: image, target: 0, boxes }
}

fn values(
    m: &mut dyn Metric,
    model: &dyn Classifier,
    s: &Sample,
    map: &Tensor,
) -> std::collections::BTreeMap<String, f64> {
    m.evaluate(model, &EvalSample { sample: s, map, target: 0, device: Device::Cpu, explainer: None })
        .unwrap()
        .values
        .into_iter()
        .collect()
}

fn block(h: i64, w: i64, y: std::ops::Range<i64>, x: std::ops::Range<i64>, v: f64) -> Tensor {
    let m = Tensor::zeros([h, w], (Kind::Float, Device::Cpu));
    let _ = m.narrow(0, y.start, y.end - y.start).narrow(1, x.start, x.end - x.start).fill_(v);
    m
}

#[test]
fn ehr_matches_the_originals_unit_cases() {
    let p = ibex::metrics::EhrParams { weight_by_heat: true, ..Default::default() };
    let roi = block(20, 20, 5..15, 5..15, 1.0);
    // heat exactly on the box, and strictly inside it: ≈ 1
    assert!((effective_heat_ratio(&roi, &roi, &p).unwrap() - 1.0).abs() < 1e-6);
    let inside = block(20, 20, 7..13, 7..13, 1.0);
    assert!((effective_heat_ratio(&inside, &roi, &p).unwrap() - 1.0).abs() < 1e-6);
    // a 0.9 halo around a 1.0 core on the box: below 0.8
    let halo = block(20, 20, 1..19, 1..19, 0.9).maximum(&roi);
    let v = effective_heat_ratio(&halo, &roi, &p).unwrap();
    assert!(v < 0.8, "{v}");
    // nothing above the base threshold: no value (the metric scores 0 and warns), no crash
    assert!(effective_heat_ratio(&(roi * 0.05), &block(20, 20, 5..15, 5..15, 1.0), &p).is_none());
}

/// The original's EHR fills `mask[y1:y2, x1:x2]`: a box (5, 5, 14, 14) covers 9×9 pixels there,
/// 10×10 with VOC's inclusive end. Heat on the 10×10 block: 81/100 inside by default, all of it
/// with `inclusive_box_end`.
#[test]
fn ehr_boxes_end_where_the_original_ends_them() {
    let model = Linear { w: Tensor::zeros([3, 20, 20], (Kind::Float, Device::Cpu)), scale: 1.0 };
    let s = sample(
        Tensor::zeros([3, 20, 20], (Kind::Float, Device::Cpu)),
        vec![BBox { xmin: 5.0, ymin: 5.0, xmax: 14.0, ymax: 14.0 }],
    );
    let heat = block(20, 20, 5..15, 5..15, 1.0);
    let original = values(metric("Ehr", "max_roi_area = 1.0").as_mut(), &model, &s, &heat)["ehr"];
    let inclusive =
        values(metric("Ehr", "max_roi_area = 1.0\ninclusive_box_end = true").as_mut(), &model, &s, &heat)["ehr"];
    assert!((original - 0.81).abs() < 1e-6 && (inclusive - 1.0).abs() < 1e-6, "{original} {inclusive}");
}

/// `roi = "masks"`: the ROI is a binary PNG per image (here 10×10, read at the map's 20×20).
#[test]
fn ehr_reads_roi_masks_from_pngs() {
    let d = tempfile::tempdir().unwrap();
    let mut png = image::GrayImage::new(10, 10);
    for (x, y, p) in png.enumerate_pixels_mut() {
        p[0] = if (3..7).contains(&x) && (3..7).contains(&y) { 255 } else { 0 };
    }
    png.save(d.path().join("s.png")).unwrap();
    let mut m =
        metric("Ehr", &format!("roi = \"masks\"\nmask_dir = \"{}\"\nweight_by_heat = true", d.path().display()));
    let model = Linear { w: Tensor::zeros([3, 20, 20], (Kind::Float, Device::Cpu)), scale: 1.0 };
    let s = sample(Tensor::zeros([3, 20, 20], (Kind::Float, Device::Cpu)), vec![]);
    // heat on the mask's square (pixels 6..14 at 20×20): ≈ 1; heat beside it: 0
    assert!((values(m.as_mut(), &model, &s, &block(20, 20, 6..14, 6..14, 1.0))["ehr"] - 1.0).abs() < 1e-6);
    assert!(values(m.as_mut(), &model, &s, &block(20, 20, 0..4, 0..4, 1.0))["ehr"] < 1e-6);
    // a sample without a mask is an error that names the file
    let other = Sample { name: "t".into(), ..sample(Tensor::zeros([3, 20, 20], (Kind::Float, Device::Cpu)), vec![]) };
    let err = m
        .evaluate(
            &model,
            &EvalSample {
                sample: &other,
                map: &block(20, 20, 0..4, 0..4, 1.0),
                target: 0,
                device: Device::Cpu,
                explainer: None,
            },
        )
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("t.png") && err.contains("mask_dir"), "{err}");
}

#[test]
fn sensitivity_n_of_weight_times_input_on_a_linear_model_is_one() {
    let _rng = common::rng_lock();
    tch::manual_seed(1);
    let w = Tensor::randn([3, 8, 8], (Kind::Float, Device::Cpu));
    let x = Tensor::randn([3, 8, 8], (Kind::Float, Device::Cpu));
    let model = Linear { w: w.shallow_clone(), scale: 1.0 };
    let map = (&w * &x).sum_dim_intlist(0, false, Kind::Float);
    let mut m = metric("SensitivityN", "num_masks = 20");
    let v = values(m.as_mut(), &model, &sample(x.shallow_clone(), vec![]), &map);
    let corrs: Vec<f64> = v.iter().filter(|(k, _)| k.starts_with("corr@")).map(|(_, c)| *c).collect();
    assert!(corrs.len() > 10, "{v:?}");
    assert!(corrs.iter().all(|c| (c - 1.0).abs() < 1e-4), "{v:?}");
    // the negated map anti-correlates
    let v = values(m.as_mut(), &model, &sample(x, vec![]), &(-map));
    assert!((v["mean_corr"] + 1.0).abs() < 1e-4, "{v:?}");
}

/// Weights on one region: the model's score is the mean of the image there.
fn region_model() -> (Linear, Tensor, Tensor) {
    let region = block(16, 16, 4..8, 4..12, 1.0);
    let w = region.unsqueeze(0).expand([3, 16, 16], false) / region.sum(Kind::Float).double_value(&[]);
    // 2 on the region, −2 elsewhere: blurring (insertion's start) lowers the region's mean
    let x = (region.unsqueeze(0).expand([3, 16, 16], false) * 4.0 - 2.0).contiguous();
    (Linear { w: w.contiguous(), scale: 3.0 }, x, region)
}

#[test]
fn insertion_and_deletion_rank_the_perfect_map_first_and_its_reverse_last() {
    let (model, x, region) = region_model();
    let mut m = metric("InsertionDeletion", "pixel_batch_size = 4\nsigma = 3.0");
    let s = sample(x, vec![]);
    let good = values(m.as_mut(), &model, &s, &(&region + 0.01 * Tensor::rand([16, 16], (Kind::Float, Device::Cpu))));
    let bad = values(m.as_mut(), &model, &s, &(1.0 - &region));
    assert!(good["del_auc"] < bad["del_auc"] - 0.2, "{good:?} {bad:?}");
    assert!(good["ins_auc"] > bad["ins_auc"] + 0.01, "{good:?} {bad:?}");
    // 256 pixels, 4 per step: 64 points, the unperturbed start left off
    let r = m
        .evaluate(&model, &EvalSample { sample: &s, map: &region, target: 0, device: Device::Cpu, explainer: None })
        .unwrap();
    assert_eq!(r.curves[0].1.len(), 64);
    // deletion of the region's 32 pixels (8 steps) leaves the score at softmax(0) = 0.5
    assert!((r.curves[1].1[7] - 0.5).abs() < 1e-6, "{:?}", &r.curves[1].1[..10]);
}

#[test]
fn region_perturbation_prefers_the_perfect_map() {
    let (model, x, region) = region_model();
    let mut m = metric("RegionPerturbation", "tile_size = 4");
    let s = sample(x, vec![]);
    let good = values(m.as_mut(), &model, &s, &region);
    let bad = values(m.as_mut(), &model, &s, &(1.0 - &region));
    assert!(good["lerf_minus_morf"] > 0.3 && bad["lerf_minus_morf"] < -0.3, "{good:?} {bad:?}");
}

#[test]
fn pointing_game_and_relevance_mass_on_hand_made_maps() {
    let (model, x, _) = region_model();
    let boxes = vec![BBox { xmin: 2.0, ymin: 2.0, xmax: 5.0, ymax: 5.0 }]; // 4×4 pixels
    let s = sample(x, boxes);
    let mut pg = metric("PointingGame", "");
    let mut rm = metric("RelevanceMass", "");
    let hit = block(16, 16, 3..4, 3..4, 1.0);
    assert_eq!(values(pg.as_mut(), &model, &s, &hit)["hit"], 1.0);
    let miss = block(16, 16, 10..11, 10..11, 1.0);
    assert_eq!(values(pg.as_mut(), &model, &s, &miss)["hit"], 0.0);
    // with a tolerance of 6 pixels the miss at (10,10) is 5 pixels from the box: a hit
    let mut pg6 = metric("PointingGame", "tolerance = 6");
    assert_eq!(values(pg6.as_mut(), &model, &s, &miss)["hit"], 1.0);
    // half the heat in the box: mass 0.5, 16/256 of the area → 8× a uniform map
    let half = block(16, 16, 2..6, 2..6, 1.0) + block(16, 16, 10..14, 10..14, 1.0);
    let v = values(rm.as_mut(), &model, &s, &half);
    assert!((v["mass"] - 0.5).abs() < 1e-9 && (v["mass_vs_uniform"] - 8.0).abs() < 1e-9, "{v:?}");
    // the top 16 pixels: ties in raster order put the box's 16 first
    assert!((v["rank"] - 1.0).abs() < 1e-9, "{v:?}");
    // an all-zero map is defined (the uniform share), never NaN
    let v = values(rm.as_mut(), &model, &s, &Tensor::zeros([16, 16], (Kind::Float, Device::Cpu)));
    assert!(v.values().all(|x| x.is_finite()));
}

#[test]
fn infidelity_is_zero_for_the_exact_explanation_of_a_linear_model() {
    let _rng = common::rng_lock();
    tch::manual_seed(2);
    let w = Tensor::randn([3, 8, 8], (Kind::Float, Device::Cpu));
    let x = Tensor::randn([3, 8, 8], (Kind::Float, Device::Cpu));
    let model = Linear { w: w.shallow_clone(), scale: 1.0 };
    // f(x) − f(x − I) = Σ I·w for noise shared by the channels: φ = Σ_c w is exact
    let exact = w.sum_dim_intlist(0, false, Kind::Float);
    let s = sample(x, vec![]);
    let mut m = metric("Infidelity", "noise_std = 0.1\nn_perturb_samples = 16");
    assert!(values(m.as_mut(), &model, &s, &exact)["infidelity"] < 1e-8);
    let other = Tensor::randn([8, 8], (Kind::Float, Device::Cpu));
    assert!(values(m.as_mut(), &model, &s, &other)["infidelity"] > 1e-3);
    // normalised: a scaled exact map is as good as the exact one
    let mut n = metric("Infidelity", "noise_std = 0.1\nnormalize = true");
    assert!(values(n.as_mut(), &model, &s, &(exact * 5.0))["infidelity"] < 1e-8);
}

#[test]
fn selectivity_drops_faster_for_the_perfect_map() {
    let (model, x, region) = region_model();
    let mut m = metric("Selectivity", "patch_size = 4");
    let s = sample(x, vec![]);
    let good = values(m.as_mut(), &model, &s, &region)["auc"];
    let bad = values(m.as_mut(), &model, &s, &(1.0 - &region))["auc"];
    assert!(good < bad - 0.3, "{good} {bad}");
}

#[test]
fn ssim_is_one_for_equal_maps_and_lower_for_different_ones() {
    let _rng = common::rng_lock();
    tch::manual_seed(4);
    let a = (Tensor::rand([32, 32], (Kind::Float, Device::Cpu)) * 255.0).floor();
    assert!((ibex::metrics::ssim::ssim(&a, &a) - 1.0).abs() < 1e-12);
    let b = (Tensor::rand([32, 32], (Kind::Float, Device::Cpu)) * 255.0).floor();
    assert!(ibex::metrics::ssim::ssim(&a, &b) < 0.2);
}

/// Saliency on the tiny VGG, as the work dir's 8-bit maps hold it.
struct SaliencyExplain;

impl ibex::metrics::Explain for SaliencyExplain {
    fn explain(&self, model: &dyn Classifier, s: &Sample) -> ibex::Result<Tensor> {
        use ibex::attributors::gradient::{Saliency, SaliencyParams};
        use ibex::attributors::{AttributionCtx, Attributor};
        let mut sal = Saliency::from_params(SaliencyParams::default());
        let a = sal.attribute(model, s, &AttributionCtx { device: Device::Cpu, seed: 0, ..Default::default() })?;
        let spec = &sal.outputs()[0];
        Ok(ibex::output::maps::to_u8(&spec.reduce.apply(&a.maps[&spec.dir]), spec.scale).to_kind(Kind::Float) / 255.0)
    }
    fn fresh_model(&self) -> ibex::Result<Box<dyn Classifier>> {
        let mut m = common::tiny_vgg();
        m.freeze();
        Ok(Box::new(m))
    }
}

#[test]
fn sanity_check_randomised_layers_change_a_gradient_map_and_none_leaves_it() {
    use ibex::metrics::Explain;
    let _rng = common::rng_lock();
    tch::manual_seed(6);
    let ex = SaliencyExplain;
    let model = ex.fresh_model().unwrap();
    let s = Sample {
        name: "s".into(),
        input: Tensor::randn([3, 32, 32], (Kind::Float, Device::Cpu)),
        target: 3,
        boxes: vec![],
    };
    let map = ex.explain(model.as_ref(), &s).unwrap();
    let mut m = metric("SanityCheck", "layers = [\"none\", \"classifier.6\", \"features.6\", \"features.0\"]");
    let r = m
        .evaluate(
            model.as_ref(),
            &EvalSample { sample: &s, map: &map, target: 3, device: Device::Cpu, explainer: Some(&ex) },
        )
        .unwrap();
    let v: std::collections::BTreeMap<String, f64> = r.values.into_iter().collect();
    assert!((v["ssim@none"] - 1.0).abs() < 1e-9, "{v:?}");
    assert!(v["ssim@features.0"] < 0.5, "{v:?}");
    assert!(v["ssim@features.6"] < 0.9, "{v:?}");
    assert_eq!(r.curves[0].1.len(), 4);
    // the cascade re-draws the model's weights: its logits change
    let mut rnd = ex.fresh_model().unwrap();
    tch::manual_seed(1);
    rnd.randomise().unwrap().randomise_from("classifier.6").unwrap();
    let x = s.input.unsqueeze(0);
    assert!(common::max_abs_diff(&tch::no_grad(|| model.forward(&x)), &tch::no_grad(|| rnd.forward(&x))) > 1e-3);
}

#[test]
fn max_sensitivity_of_saliency_under_large_perturbations_is_positive_and_finite() {
    let _rng = common::rng_lock();
    tch::manual_seed(8);
    let ex = SaliencyExplain;
    let model = common::tiny_vgg();
    let s = Sample {
        name: "s".into(),
        input: Tensor::randn([3, 32, 32], (Kind::Float, Device::Cpu)),
        target: 1,
        boxes: vec![],
    };
    let map = Tensor::zeros([32, 32], (Kind::Float, Device::Cpu));
    let mut m = metric("MaxSensitivity", "perturb_radius = 0.5\nn_perturb_samples = 3");
    let r = m
        .evaluate(&model, &EvalSample { sample: &s, map: &map, target: 1, device: Device::Cpu, explainer: Some(&ex) })
        .unwrap();
    let v = r.values[0].1;
    assert!(v > 0.0 && v.is_finite(), "{v}");
}

#[test]
fn text_sensitivity_n_of_a_linear_model_is_one() {
    use ibex::metrics::text::sensitivity_n;
    let _rng = common::rng_lock();
    tch::manual_seed(3);
    let (t, e) = (12, 4);
    let w = Tensor::randn([t, e], (Kind::Float, Device::Cpu));
    let emb = Tensor::randn([t, e], (Kind::Float, Device::Cpu));
    let lin =
        |x: &Tensor| -> ibex::Result<Tensor> { Ok((x * &w).sum_dim_intlist([1, 2].as_slice(), false, Kind::Float)) };
    let scores: Vec<f64> = Vec::try_from((&emb * &w).sum_dim_intlist(1, false, Kind::Double)).unwrap();
    let (corr, undefined) = sensitivity_n(&lin, &emb, &scores, 1, 30, 7, 16).unwrap();
    // n = 1, 2, 3, 4, 6, 7, 8, 9, 10, 12 (int(f·12)); at n = T every mask is the whole sentence
    assert_eq!(corr.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 2, 3, 4, 6, 7, 8, 9, 10, 12]);
    assert_eq!(undefined, [12]);
    assert!(corr.iter().filter(|c| c.0 < t as usize).all(|c| (c.1 - 1.0).abs() < 1e-4), "{corr:?}");
    // for target 0 the drop is sign-flipped: the same scores anti-correlate
    let (neg, _) = sensitivity_n(&lin, &emb, &scores, 0, 30, 7, 16).unwrap();
    assert!(neg.iter().filter(|c| c.0 < t as usize).all(|c| (c.1 + 1.0).abs() < 1e-4), "{neg:?}");
}

#[test]
fn text_insertion_and_deletion_prefer_the_deciding_words() {
    use ibex::metrics::text::{insertion_deletion, insertion_deletion_auc};
    // 10 words; words 2 and 5 decide: logit = 4 · (their summed embedding) − 6
    let emb = Tensor::full([10, 3], 0.1, (Kind::Float, Device::Cpu));
    let _ = emb.narrow(0, 2, 1).fill_(1.0);
    let _ = emb.narrow(0, 5, 1).fill_(1.0);
    let logit = |x: &Tensor| -> ibex::Result<Tensor> {
        Ok((x.narrow(1, 2, 1) + x.narrow(1, 5, 1)).sum_dim_intlist([1, 2].as_slice(), false, Kind::Float) * 4.0 - 6.0)
    };
    let good: Vec<f64> = (0..10).map(|i| if i == 2 || i == 5 { 1.0 } else { 0.0 }).collect();
    let bad: Vec<f64> = good.iter().map(|g| 1.0 - g).collect();
    let g = insertion_deletion(&logit, &emb, &good, 1, 2, 0.4, 32).unwrap();
    let b = insertion_deletion(&logit, &emb, &bad, 1, 2, 0.4, 32).unwrap();
    // the top 40% = 4 words, 2 a step: 2 points a curve
    assert_eq!((g.0.len(), g.1.len()), (2, 2));
    let ((gi, gd), (bi, bd)) = (insertion_deletion_auc(&g), insertion_deletion_auc(&b));
    assert!(gd < 0.01 && bd > 0.49, "deletion {gd} vs {bd}");
    assert!(gi > 0.49 && bi < 0.01, "insertion {gi} vs {bi}");
}

/// `metrics.json` never holds NaN (JSON has none, and the reader would then refuse the whole file,
/// losing every cached metric): a value that is not finite is left out with a warning. Evaluating
/// another map folder keeps the first folder's results.
#[test]
fn metrics_files_keep_every_map_folder_and_no_nan() {
    use ibex::evaluation::{MetricReport, MetricsFile};
    let mut r = MetricReport::default();
    r.add("a", SampleResult { values: vec![("x".into(), 1.0)], ..Default::default() });
    r.add(
        "b",
        SampleResult {
            values: vec![("x".into(), f64::INFINITY)],
            curves: vec![("c".into(), vec![f64::NAN, 1.0])],
            ..Default::default()
        },
    );
    r.finish(|_| None);
    assert_eq!((r.aggregate["x"].n, r.aggregate["x"].mean), (1, 1.0));
    assert_eq!(r.warnings["b"].len(), 2, "{:?}", r.warnings);
    let mut f = MetricsFile { maps: "input_masks".into(), ..Default::default() };
    f.metrics.insert("m".into(), r);
    let back: MetricsFile = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back.metrics["m"].aggregate["x"].mean, 1.0, "the file reads back");
    f.switch_to("feat_masks");
    assert!(f.metrics.is_empty());
    f.metrics.insert("m2".into(), MetricReport::default());
    f.switch_to("input_masks");
    assert!(f.metrics.contains_key("m") && f.other_maps["feat_masks"].contains_key("m2"));
}

/// A metric that gave no value (EHR on images without boxes) says why under the table instead of
/// leaving an empty row: its samples' warnings, the most frequent first, with counts.
#[test]
fn the_summary_says_why_a_metric_gave_no_values() {
    use ibex::evaluation::{summary_table, MetricReport, MetricsFile};
    let mut r = MetricReport::default();
    for (name, w) in [("a", "no ground-truth box: skipped"), ("b", "no ground-truth box: skipped"), ("c", "odd")] {
        r.evaluated.push(name.into());
        r.warnings.insert(name.into(), vec![w.into()]);
    }
    let mut f = MetricsFile { maps: "maps".into(), ..MetricsFile::default() };
    f.metrics.insert("ehr".into(), r);
    let text = summary_table(&f, &["ehr".into()]);
    assert!(text.contains("ehr: no values from its 3 samples: no ground-truth box: skipped (2×); odd (1×)"), "{text}");
}
