//! What runs write: the original's PNG quantisation, exact `.npy`, overlays, TensorBoard events
//! (non-square images keep their orientation), atomic writes.
use ibex::output::maps::{self, PngScale};
use ibex::output::tensorboard::{read_events, EventWriter, Payload, What};
use tch::{Device, Kind, Tensor};

#[test]
fn png_quantisation_follows_the_original() {
    let d = tempfile::tempdir().unwrap();
    let m = Tensor::from_slice(&[0.0f32, 0.5, 1.0, 2.0, 3.9, 4.0]).view([2, 3]);
    // feat mask: ⌊255·m/max⌋
    let u = maps::to_u8(&m, PngScale::MaxNormalised);
    assert_eq!(Vec::<u8>::try_from(u.flatten(0, -1)).unwrap(), vec![0, 31, 63, 127, 248, 255]);
    // input mask: ⌊255·m⌋ of a [0,1] mask, no normalisation
    let mask = Tensor::from_slice(&[0.0f32, 0.1, 0.999, 1.0]).view([2, 2]);
    assert_eq!(Vec::<u8>::try_from(maps::to_u8(&mask, PngScale::Raw).flatten(0, -1)).unwrap(), vec![0, 25, 254, 255]);
    // written as 8-bit grey, width × height as the map
    let p = d.path().join("m.png");
    maps::write_png(&p, &m, PngScale::MaxNormalised).unwrap();
    let img = image::open(&p).unwrap();
    assert_eq!(img.color(), image::ColorType::L8);
    assert_eq!((img.width(), img.height()), (3, 2));
    assert_eq!(img.to_luma8().into_raw(), vec![0, 31, 63, 127, 248, 255]);
    // the npy is exact float32
    let q = d.path().join("m.npy");
    maps::write_npy(&q, &m).unwrap();
    assert_eq!(Tensor::read_npy(&q).unwrap(), m);
    // a constant-zero map is all zeros, not NaN
    assert_eq!(maps::to_u8(&m.zeros_like(), PngScale::MaxNormalised).sum(Kind::Int64).int64_value(&[]), 0);
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn overlay_reddens_where_the_map_is_high() {
    let img = Tensor::full([3, 4, 6], 0.5, (Kind::Float, Device::Cpu));
    let map = Tensor::zeros([4, 6], (Kind::Float, Device::Cpu));
    let _ = map.get(1).get(2).fill_(1.0);
    let o = maps::overlay(&img, &map);
    assert_eq!(o.size(), vec![3, 4, 6]);
    assert_eq!(o.kind(), Kind::Uint8);
    let at = |c: i64, y: i64, x: i64| o.int64_value(&[c, y, x]);
    assert!(at(0, 1, 2) > 200 && at(1, 1, 2) < 60, "hot pixel is red");
    assert!((at(0, 0, 0) - at(1, 0, 0)).abs() < 5, "cold pixels stay grey");
    // a map at the layer's resolution (upscale = false) is stretched over the image
    let small = Tensor::from_slice(&[0.0f32, 1.0]).view([1, 2]);
    let o = maps::overlay(&img, &small);
    assert_eq!(o.size(), vec![3, 4, 6]);
    assert!(o.int64_value(&[1, 0, 5]) < o.int64_value(&[1, 0, 0]), "the right half is redder");
}

#[test]
fn tensorboard_events_round_trip_with_non_square_images() {
    let d = tempfile::tempdir().unwrap();
    let mut w = EventWriter::create(d.path()).unwrap();
    w.scalar("loss/total", 3, 0.25).unwrap();
    // a 2×5 image whose left column is white: a transposing writer would put it in the top row
    let img = Tensor::zeros([3, 2, 5], (Kind::Uint8, Device::Cpu));
    let _ = img.narrow(2, 0, 1).fill_(255);
    w.image("overlay/x", 1, &img).unwrap();
    let path = w.path().to_path_buf();
    drop(w);
    assert!(path.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."));
    let ev = read_events(&path).unwrap();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0].what, Some(What::FileVersion("brain.Event:2".into())));
    let Some(What::Summary(s)) = &ev[1].what else { panic!("no scalar") };
    assert_eq!((ev[1].step, s.value[0].tag.as_str()), (3, "loss/total"));
    assert_eq!(s.value[0].payload, Some(Payload::SimpleValue(0.25)));
    let Some(What::Summary(s)) = &ev[2].what else { panic!("no image") };
    let Some(Payload::Image(im)) = &s.value[0].payload else { panic!("not an image") };
    assert_eq!((im.height, im.width, im.colorspace), (2, 5, 3));
    let png = image::load_from_memory(&im.encoded_image_string).unwrap().to_rgb8();
    assert_eq!((png.width(), png.height()), (5, 2));
    assert_eq!(png.get_pixel(0, 1).0, [255, 255, 255]);
    assert_eq!(png.get_pixel(1, 0).0, [0, 0, 0]);
    // a flipped byte is detected by the CRC
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    assert!(read_events(&path).unwrap_err().to_string().contains("CRC"));
}

/// The text elements of an SVG, trimmed (plotters writes each on a line of its own).
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string()))
        .collect()
}

#[test]
fn a_line_plot_draws_its_series_axes_and_labels() {
    use ibex::output::plot::{LinePlot, Series};
    let p = LinePlot {
        title: "deletion".into(),
        x_label: "fraction".into(),
        y_label: "softmax".into(),
        x_log: false,
        series: vec![
            Series { name: "a".into(), x: vec![0.0, 0.5, 1.0], y: vec![1.0, 0.4, 0.1] },
            Series { name: "b".into(), x: vec![0.0, 1.0], y: vec![f64::NAN, 0.5] },
        ],
    };
    let img = p.render().unwrap();
    let (w, h) = img.dimensions();
    assert_eq!(h, 480);
    assert!(w > 720 && w < 720 + 100, "the legend right of the frame: {w}");
    let count = |c: [u8; 3], x0: u32, x1: u32| {
        img.enumerate_pixels().filter(|(x, _, px)| px.0 == c && (x0..x1).contains(x)).count()
    };
    // the first series' colour draws its line (inside the plot) and its legend (right of it)
    assert!(count([31, 119, 180], 0, 720) > 500, "{}", count([31, 119, 180], 0, 720));
    assert!(count([31, 119, 180], 720, w) > 20, "the legend's line");
    // the frame and tick labels in ink, the labels anti-aliased (grey levels between ink and white)
    assert!(count([30, 30, 30], 0, 720) > 800);
    let greys = img.pixels().filter(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2] && (60..200).contains(&p.0[0])).count();
    assert!(greys > 200, "real font rendering is anti-aliased: {greys}");
    // the SVG is a vector figure with its text as text
    let svg = p.svg().unwrap();
    let texts = svg_texts(&svg);
    assert!(svg.starts_with("<svg") && svg.contains("<polyline") && svg.contains("DejaVu Sans"), "{svg:.300}");
    for t in ["deletion", "softmax", "fraction", "0.5", "a", "b"] {
        assert!(texts.iter().any(|x| x == t), "{t} not among {texts:?}");
    }
    // the data range widened by 4% either side, so a curve at 1 is not hidden under the frame
    let (lo, hi) = ibex::output::plot::padded([0.137, 0.912].into_iter(), false);
    assert!((lo - (0.137 - 0.031)).abs() < 1e-12 && (hi - (0.912 + 0.031)).abs() < 1e-12);
    let (lo, hi) = ibex::output::plot::padded([1.0, 100.0, 0.0, -1.0].into_iter(), true);
    assert!((lo.log10() + 0.08).abs() < 1e-12 && (hi.log10() - 2.08).abs() < 1e-12, "decades, non-positive left out");
    let d = tempfile::tempdir().unwrap();
    p.write(&d.path().join("sub/plot.png")).unwrap();
    assert_eq!(image::open(d.path().join("sub/plot.png")).unwrap().width(), w);
    assert_eq!(std::fs::read_to_string(d.path().join("sub/plot.svg")).unwrap(), svg);
}

/// A log x axis (Sensitivity-N's n, SENN's λ) puts its ticks at decades and labels them by value.
#[test]
fn a_log_axis_labels_decades() {
    use ibex::output::plot::{LinePlot, Series};
    let p = LinePlot {
        title: "sensitivity".into(),
        x_label: "n".into(),
        y_label: "r".into(),
        x_log: true,
        series: vec![Series { name: "m".into(), x: vec![1.0, 10.0, 100.0, 1000.0], y: vec![0.1, 0.3, 0.2, 0.4] }],
    };
    let texts = svg_texts(&p.svg().unwrap());
    for tick in ["1", "10", "100", "1000"] {
        assert!(texts.iter().any(|x| x == tick), "{tick} not among {texts:?}");
    }
}

/// SENN's bar chart: positive bars blue, negative red, each concept's name and value as text.
#[test]
fn a_bar_plot_draws_signed_bars_with_names_and_values() {
    use ibex::output::bars::BarPlot;
    let p = BarPlot {
        title: "relevance".into(),
        labels: vec!["age".into(), "priors".into(), "sex".into()],
        values: vec![0.5, -0.25, 0.0],
    };
    let img = p.render().unwrap();
    let count = |c: [u8; 3]| img.pixels().filter(|px| px.0 == c).count();
    let (blue, red) = (count([31, 119, 180]), count([214, 39, 40]));
    assert!(blue > 0 && red > 0, "{blue} {red}");
    assert!((blue as f64 / red as f64 - 2.0).abs() < 0.25, "bar length proportional to |value|: {blue} vs {red}");
    // the first concept on top: the blue bar lies above the red one
    let rows = |c: [u8; 3]| img.enumerate_pixels().filter(|(_, _, px)| px.0 == c).map(|(_, y, _)| y).min().unwrap();
    assert!(rows([31, 119, 180]) < rows([214, 39, 40]));
    let d = tempfile::tempdir().unwrap();
    p.write(&d.path().join("bars.png")).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(d.path().join("bars.svg")).unwrap());
    for t in ["age", "priors", "sex", "0.5", "-0.25", "0", "relevance"] {
        assert!(texts.iter().any(|x| x == t), "{t} not among {texts:?}");
    }
}

/// Labels drawn into our own images (heatmap titles, grid headers) use the embedded font, cut with
/// an ellipsis to the room they have.
#[test]
fn text_is_drawn_anti_aliased_and_cut_to_fit() {
    use ibex::output::font::{draw_text, fit, text_width};
    let mut img = image::RgbImage::from_pixel(200, 30, image::Rgb([255, 255, 255]));
    draw_text(&mut img, 2, 2, "Saliency 0.93", 16.0, image::Rgb([0, 0, 0]));
    let inked = img.pixels().filter(|p| p.0[0] < 128).count();
    let partial = img.pixels().filter(|p| (30..225).contains(&p.0[0])).count();
    assert!(inked > 60 && partial > 30, "{inked} {partial}");
    assert!(text_width("WWW", 16.0) > text_width("iii", 16.0), "proportional widths");
    assert_eq!(fit("short", 13.0, 200), "short");
    let cut = fit("integrated_gradients_smoothgrad", 13.0, 80);
    assert!(cut.ends_with('…') && text_width(&cut, 13.0) <= 80, "{cut}");
}

/// Maps read back for evaluation: a truncated `.npy` is refused naming the file (libtorch would
/// read past its end), and so is a map with an infinite value, as a NaN one is.
#[test]
fn truncated_and_non_finite_maps_are_refused() {
    use ibex::output::MapFormat;
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good.npy");
    maps::write_npy(&good, &Tensor::rand([16, 16], (Kind::Float, Device::Cpu))).unwrap();
    assert_eq!(MapFormat::Npy.load(&good).unwrap().size(), vec![16, 16]);
    let bytes = std::fs::read(&good).unwrap();
    for cut in [100usize, bytes.len() - 4] {
        let short = d.path().join(format!("short{cut}.npy"));
        std::fs::write(&short, &bytes[..cut]).unwrap();
        let e = MapFormat::Npy.load(&short).expect_err("a truncated map").to_string();
        assert!(e.contains(&format!("short{cut}.npy")) && e.contains("bytes"), "{e}");
    }
    let inf = d.path().join("inf.npy");
    let m = Tensor::rand([16, 16], (Kind::Float, Device::Cpu));
    let _ = m.get(3).get(4).fill_(f64::INFINITY);
    maps::write_npy(&inf, &m).unwrap();
    let e = MapFormat::Npy.load(&inf).expect_err("an infinite value").to_string();
    assert!(e.contains("inf.npy") && e.contains("infinite"), "{e}");
}

/// A work dir made under another config or other model weights is refused; with the user's
/// consent (`--overwrite-config`) its old outputs move to `superseded/` instead of mixing with the
/// new ones.
#[test]
fn a_changed_config_or_model_supersedes_the_old_outputs_only_when_asked() {
    let d = tempfile::tempdir().unwrap();
    let wd = ibex::output::WorkDir::create(d.path()).unwrap();
    wd.write_config("seed = 1\n", false).unwrap();
    wd.write_model_digest("aaa", false).unwrap();
    std::fs::create_dir_all(wd.path("feat_masks")).unwrap();
    std::fs::write(wd.path("feat_masks/x.png"), b"old").unwrap();
    wd.write_config("seed = 1\n", false).unwrap();
    wd.write_model_digest("aaa", false).unwrap();
    let e = wd.write_config("seed = 2\n", false).err().unwrap().to_string();
    assert!(e.contains("config.toml") && e.contains("--overwrite-config"), "{e}");
    let e = wd.write_model_digest("bbb", false).err().unwrap().to_string();
    assert!(e.contains("model_digest.txt") && e.contains("other model weights"), "{e}");
    assert!(wd.path("feat_masks/x.png").is_file(), "a refusal touches nothing");
    wd.write_model_digest("bbb", true).unwrap();
    assert!(!wd.path("feat_masks").exists(), "the old maps moved away");
    let moved: Vec<_> = std::fs::read_dir(wd.path("superseded")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(moved.len(), 1);
    assert!(moved[0].join("feat_masks/x.png").is_file() && moved[0].join("config.toml").is_file());
    assert_eq!(std::fs::read_to_string(wd.path("config.toml")).unwrap(), "seed = 1\n", "the config stays");
}

/// A write killed half-way leaves `.<name>.<pid>.tmp`; the next run removes it unless its process
/// still lives (a running shard's temp file is left alone).
#[test]
fn stale_temp_files_are_removed_at_start() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("maps")).unwrap();
    let dead = d.path().join("maps/.a.png.4000000000.tmp");
    let live = d.path().join(format!("maps/.b.png.{}.tmp", std::process::id()));
    let other = d.path().join("maps/notes.tmp");
    for f in [&dead, &live, &other] {
        std::fs::write(f, b"half").unwrap();
    }
    ibex::output::WorkDir::create(d.path()).unwrap();
    assert!(!dead.exists() && live.exists() && other.exists());
}

/// Two unsharded runs in one work dir: the second waits for the first's lock (and then finds the
/// samples done) instead of attributing the same samples at once.
#[test]
fn a_second_run_waits_for_the_work_dir_lock() {
    use ibex::io::lock::FileLock;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("state/attribution.lock");
    let first = FileLock::acquire_or_say(&path, "another run").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.clone();
    let second = std::thread::spawn(move || {
        let _lock = FileLock::acquire_or_say(&p, "another run").unwrap();
        tx.send(()).unwrap();
    });
    assert!(rx.recv_timeout(std::time::Duration::from_millis(300)).is_err(), "the second got the lock too");
    drop(first);
    rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the second gets the lock once the first lets go");
    second.join().unwrap();
}

/// A result that says nothing is named with its reasons: a class loss that ends at chance level
/// (the quickstart's collapsed input masks end at ≈ ln 4) or a constant map.
#[test]
fn degenerate_results_are_named() {
    use ibex::explanation::{degenerate, Attribution};
    let collapsed = Attribution::single(
        "input_masks",
        Tensor::full([4, 4], 0.02, (Kind::Float, Device::Cpu)),
        vec![("input_iba/cls_loss".into(), vec![0.9, 1.38]), ("input_iba/info_loss".into(), vec![5.0, 4.0])],
    );
    let why = degenerate(&collapsed, 4, &[]);
    assert_eq!(why.len(), 2, "{why:?}");
    assert!(why[0].contains("input_iba/cls_loss") && why[1].contains("input_masks is constant"), "{why:?}");
    let fine = Attribution::single(
        "input_masks",
        Tensor::rand([4, 4], (Kind::Float, Device::Cpu)),
        vec![("input_iba/cls_loss".into(), vec![1.3, 0.05])],
    );
    assert!(degenerate(&fine, 4, &[]).is_empty());
}

/// The feature stage's class loss is no criterion: its noisy copies often end above chance while
/// the capacity map still locates the object.
#[test]
fn a_feature_map_is_not_degenerate_for_its_class_loss() {
    use ibex::explanation::{degenerate, Attribution};
    let feat = Attribution::single(
        "feat_masks",
        Tensor::rand([4, 4], (Kind::Float, Device::Cpu)),
        vec![("feat_iba/cls_loss".into(), vec![0.5, 3.0])],
    );
    assert!(degenerate(&feat, 4, &[]).is_empty());
}

/// A fitted explainer's report: its figures become `metrics.json`'s `fit` section next to the
/// metrics already there (and evaluation reads the file back with the section), its pictures PNGs.
#[test]
fn the_fit_report_joins_metrics_json_and_writes_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("metrics.json");
    std::fs::write(&metrics, r#"{"maps": "vibi_topk", "metrics": {}}"#).unwrap();
    let figures = [("fidelity_validation".to_string(), 0.75), ("nan".to_string(), f64::NAN)].into_iter().collect();
    let picture = Tensor::ones([3, 5, 7], (Kind::Float, Device::Cpu)) * 0.5;
    ibex::output::fit_report::write(dir.path(), &figures, &[("grid".into(), picture)], &[]).unwrap();
    let file = ibex::evaluation::read_metrics(dir.path()).unwrap();
    assert_eq!(file.maps, "vibi_topk");
    assert_eq!(file.fit.get("fidelity_validation"), Some(&0.75));
    assert!(!file.fit.contains_key("nan"), "JSON has no NaN: a non-finite figure is left out");
    std::fs::write(&metrics, "[1, 2]").unwrap();
    let e = ibex::output::fit_report::write(dir.path(), &figures, &[], &[]).unwrap_err().to_string();
    assert!(e.contains("metrics.json") && e.contains("not a JSON object"), "{e}");
    let png = image::open(dir.path().join("figures/grid.png")).unwrap().to_rgb8();
    assert_eq!((png.width(), png.height(), png.get_pixel(0, 0).0), (7, 5, [128, 128, 128]));
}

/// The readable heatmap: matplotlib's anchors at the ends and middle; the figure holds the input,
/// the map min–max normalised in the colour map (its largest value in the top colour, its smallest
/// in the bottom one, NaN as the smallest), their blend, and a colour bar, upscaled to the side asked.
#[test]
fn a_heatmap_shows_the_normalised_map_in_its_colour_map_beside_the_input() {
    use ibex::output::heatmap::{colour, render};
    assert_eq!(colour("viridis", 0.0), [68, 1, 84]);
    assert_eq!(colour("viridis", 0.5), [33, 144, 141]);
    assert_eq!(colour("viridis", 1.0), [253, 231, 37]);
    assert_eq!(colour("viridis", 7.0), [253, 231, 37], "clamped");
    assert_eq!(colour("inferno", 1.0), [252, 255, 164]);
    assert_eq!(colour("jet", 0.0), [0, 0, 127]);
    assert_eq!(colour("gray", 0.25), [64, 64, 64]);
    let image = Tensor::full([3, 28, 28], 0.5, (Kind::Float, Device::Cpu));
    let map = Tensor::full([28, 28], -3.0, (Kind::Float, Device::Cpu));
    let _ = map.narrow(0, 10, 4).narrow(1, 10, 4).fill_(5.0);
    let _ = map.narrow(0, 0, 1).narrow(1, 0, 1).fill_(f64::NAN);
    let fig = render(&image, &map, "viridis", 224, "t").unwrap();
    let (side, top) = (224u32, 26u32); // 28 × 8
    assert_eq!(fig.height(), top + side + 8);
    let px = |x: u32, y: u32| fig.get_pixel(x, top + y).0;
    assert_eq!(px(5, 5), [128, 128, 128], "the input");
    assert_eq!(px(side + 8 + 12 * 8, 12 * 8), colour("viridis", 1.0), "the map's largest value");
    assert_eq!(px(side + 8 + 100, 200), colour("viridis", 0.0), "its smallest");
    assert_eq!(px(side + 8, 0), colour("viridis", 0.0), "NaN drawn as the smallest");
    let blend = px(2 * (side + 8) + 100, 200);
    let want: [u8; 3] =
        std::array::from_fn(|c| (0.5 * 0.5 * 255.0 + 0.5 * colour("viridis", 0.0)[c] as f64).round() as u8);
    assert_eq!(blend, want);
    assert_eq!(px(3 * side + 24 + 3, 0), colour("viridis", 1.0), "the colour bar's top");
}

/// The image run's `index.html`: a row per explained sample with class names, probabilities, the
/// reason a result says nothing, and each map's best picture (heatmap, else overlay), escaped.
#[test]
fn the_gallery_lists_every_sample_with_its_pictures_and_flags() {
    use ibex::explanation::{Explained, MapSpec};
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::create_dir_all(root.join("explained")).unwrap();
    std::fs::create_dir_all(root.join("maps")).unwrap();
    let e = |degenerate: Vec<String>| Explained {
        label: 1,
        target: 1,
        prediction: 0,
        p_prediction: 0.75,
        p_target: Some(0.25),
        degenerate,
        seconds: None,
    };
    std::fs::write(root.join("explained/a.json"), serde_json::to_string(&e(vec![])).unwrap()).unwrap();
    std::fs::write(
        root.join("explained/b<1>.json"),
        serde_json::to_string(&e(vec!["maps is constant".into()])).unwrap(),
    )
    .unwrap();
    std::fs::write(root.join("maps/a_heatmap.png"), b"").unwrap();
    std::fs::write(root.join("maps/a_overlay.jpg"), b"").unwrap();
    std::fs::write(root.join("maps/b<1>_overlay.jpg"), b"").unwrap();
    let specs = [MapSpec::input("maps", PngScale::MaxNormalised, Default::default())];
    ibex::output::gallery::write(root, &specs, &["cat".into(), "dog".into()]).unwrap();
    let html = std::fs::read_to_string(root.join("index.html")).unwrap();
    assert!(html.contains("label 1 (dog)") && html.contains("predicted 0 (cat) (p 0.750)"), "{html}");
    assert!(html.contains("explained 1 (dog) (p 0.250)"));
    assert!(html.contains("src=\"maps/a_heatmap.png\"") && !html.contains("a_overlay"), "the heatmap first");
    assert!(html.contains("src=\"maps/b&lt;1&gt;_overlay.jpg\""), "else the overlay, escaped");
    assert_eq!(html.matches("says nothing").count(), 1);
    assert!(html.find("<b>a</b>").unwrap() < html.find("<b>b&lt;1&gt;</b>").unwrap(), "in name order");
}
