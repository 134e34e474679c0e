//! The ImageNet-layout loader on files the test writes (flat and per-class annotations, JPEG and
//! PNG, box scaling), clear errors for missing or corrupt data, and the synthetic generator.
mod common;
use ibex::data::synthetic::{self, SyntheticConfig};
use ibex::data::{voc, Dataset, ImageNet, ImageNetParams};
use std::path::Path;

fn save_rgb(path: &Path, w: u32, h: u32, val: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(w, h, image::Rgb(val)).save(path).unwrap();
}

fn layout(root: &Path, per_class_annotations: bool) -> ImageNetParams {
    std::fs::write(root.join("idx.json"), r#"{"0": ["n01", "tench"], "1": ["n02", "goldfish"]}"#).unwrap();
    save_rgb(&root.join("img/n01/a.JPEG"), 40, 20, [255, 0, 0]);
    save_rgb(&root.join("img/n02/b.png"), 10, 10, [0, 255, 0]);
    save_rgb(&root.join("img/n02/c.jpg"), 10, 10, [0, 0, 255]);
    let ann = |stem: &str, cls: &str| {
        if per_class_annotations {
            root.join("ann").join(cls).join(format!("{stem}.xml"))
        } else {
            root.join("ann").join(format!("{stem}.xml"))
        }
    };
    let objs = [
        voc::VocObject { name: "n01".into(), bbox: [4.0, 2.0, 20.0, 10.0] },
        voc::VocObject { name: "n99".into(), bbox: [0.0, 0.0, 1.0, 1.0] },
    ];
    for (stem, cls, o) in [("a", "n01", &objs[..]), ("b", "n02", &[][..])] {
        let p = ann(stem, cls);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, voc::to_xml(stem, (40, 20), o)).unwrap();
    }
    ImageNetParams {
        img_root: root.join("img"),
        ind_to_cls_file: root.join("idx.json"),
        annot_root: root.join("ann"),
        with_bbox: true,
        img_size: [8, 16],
        ..ImageNetParams::default()
    }
}

#[test]
fn imagenet_layout_with_flat_or_per_class_boxes() {
    for per_class in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let p = layout(d.path(), per_class);
        let ds = ImageNet::new(&p).unwrap();
        assert_eq!(ds.len(), 2, "c.jpg has no annotation and is dropped with with_bbox");
        assert_eq!(ds.class_names(), ["tench", "goldfish"]);
        let a = ds.get(0).unwrap();
        assert_eq!((a.name.as_str(), a.target), ("a", 0));
        assert_eq!(a.input.size(), vec![3, 8, 16]);
        // only the target's box, scaled from 40×20 to 16×8
        assert_eq!(a.boxes.len(), 1);
        let b = a.boxes[0];
        assert_eq!([b.xmin, b.ymin, b.xmax, b.ymax], [4.0 * 0.4, 2.0 * 0.4, 20.0 * 0.4, 10.0 * 0.4]);
        // red, normalised with ImageNet's mean/std
        let r = a.input.double_value(&[0, 3, 3]);
        assert!((r - (1.0 - 0.485) / 0.229).abs() < 0.05, "{r} (JPEG is lossy)");
        assert_eq!(ds.get(1).unwrap().target, 1);
    }
}

#[test]
fn without_boxes_every_image_is_read() {
    let d = tempfile::tempdir().unwrap();
    let p = ImageNetParams { with_bbox: false, ..layout(d.path(), false) };
    let ds = ImageNet::new(&p).unwrap();
    assert_eq!(ds.len(), 3);
    assert!(ds.get(2).unwrap().boxes.is_empty());
}

#[test]
fn missing_and_corrupt_data_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = layout(d.path(), false);
    let e = ImageNet::new(&ImageNetParams { img_root: d.path().join("nope"), ..p.clone() }).err().unwrap().to_string();
    assert!(e.contains("nope") && e.contains("img_root"), "{e}");
    let e = ImageNet::new(&ImageNetParams { ind_to_cls_file: d.path().join("none.json"), ..p.clone() })
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("none.json"), "{e}");
    std::fs::create_dir_all(d.path().join("img/n77")).unwrap();
    std::fs::write(d.path().join("img/n77/x.png"), b"png").unwrap();
    let e = ImageNet::new(&ImageNetParams { with_bbox: false, ..p.clone() }).err().unwrap().to_string();
    assert!(e.contains("x.png") && e.contains("n77"), "{e}");
    std::fs::remove_dir_all(d.path().join("img/n77")).unwrap();
    std::fs::write(d.path().join("img/n01/a.JPEG"), b"not a jpeg").unwrap();
    let e = ImageNet::new(&p).unwrap().get(0).err().unwrap().to_string();
    assert!(e.contains("a.JPEG") && e.contains("decode"), "{e}");
}

fn small(root: &Path, seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        root: root.to_path_buf(),
        seed,
        image_size: 32,
        classes: 3,
        train_per_class: 2,
        test_per_class: 1,
        estimation_per_class: 1,
        attribution_per_class: 2,
        ..SyntheticConfig::default()
    }
}

fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else if p.file_name().unwrap() != "synthetic.json" {
                out.push((p.strip_prefix(root).unwrap().display().to_string(), std::fs::read(&p).unwrap()))
            }
        }
    }
    out.sort();
    out
}

#[test]
fn synthetic_set_is_deterministic_and_loads_with_its_boxes() {
    let d = tempfile::tempdir().unwrap();
    let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
    assert!(synthetic::ensure(&small(&a, 1)).unwrap());
    assert!(!synthetic::ensure(&small(&a, 1)).unwrap(), "second call reuses it");
    synthetic::ensure(&small(&b, 1)).unwrap();
    synthetic::ensure(&small(&c, 2)).unwrap();
    let (ta, tb, tc) = (read_tree(&a), read_tree(&b), read_tree(&c));
    assert_eq!(ta.len(), 3 * (2 + 1 + 1 + 2) * 2 + 1, "an image and an XML per sample, plus the class index");
    assert!(ta == tb, "same seed, same bytes");
    assert!(ta != tc, "another seed, other images");
    let e = synthetic::ensure(&SyntheticConfig { classes: 2, ..small(&a, 1) }).err().unwrap().to_string();
    assert!(e.contains("other settings"), "{e}");

    let ds = ImageNet::new(&ImageNetParams {
        img_root: a.join("images/attribution"),
        annot_root: a.join("annotations/attribution"),
        ind_to_cls_file: a.join("imagenet_class_index.json"),
        with_bbox: true,
        img_size: [32, 32],
        ..ImageNetParams::default()
    })
    .unwrap();
    assert_eq!(ds.len(), 6);
    assert_eq!(ds.class_names(), ["disk", "square", "triangle"]);
    for i in 0..ds.len() {
        let s = ds.get(i).unwrap();
        assert_eq!(s.boxes.len(), 1, "{}", s.name);
        let bx = s.boxes[0];
        let (w, h) = (bx.xmax - bx.xmin + 1.0, bx.ymax - bx.ymin + 1.0);
        assert!(w >= 4.0 && h >= 4.0 && bx.xmin >= 0.0 && bx.xmax < 32.0, "{bx:?}");
        // the object is saturated; its box's pixels differ in colour from the grey background
        let img = ds.transform().denormalize(&s.input);
        let sat = |t: tch::Tensor| (t.amax([0], false) - t.amin([0], false)).mean(tch::Kind::Float).double_value(&[]);
        let inside = sat(img.narrow(1, bx.ymin as i64, h as i64).narrow(2, bx.xmin as i64, w as i64));
        let whole = sat(img.shallow_clone());
        assert!(inside > whole && inside > 0.3, "{}: box saturation {inside}, image {whole}", s.name);
    }
}

#[test]
fn image_folder_orders_classes_by_folder_name() {
    use ibex::data::{ImageFolder, ImageFolderParams};
    let d = tempfile::tempdir().unwrap();
    save_rgb(&d.path().join("zebra/1.png"), 6, 4, [10, 10, 10]);
    save_rgb(&d.path().join("ant/2.jpg"), 6, 4, [200, 10, 10]);
    save_rgb(&d.path().join("ant/3.png"), 6, 4, [10, 200, 10]);
    std::fs::write(d.path().join("ant/notes.txt"), "not an image").unwrap();
    let ds = ImageFolder::new(&ImageFolderParams {
        root: d.path().to_path_buf(),
        img_size: [4, 6],
        ..ImageFolderParams::default()
    })
    .unwrap();
    assert_eq!(ds.class_names(), ["ant", "zebra"]);
    assert_eq!(ds.len(), 3);
    let targets: Vec<i64> = (0..3).map(|i| ds.get(i).unwrap().target).collect();
    assert_eq!(targets, vec![0, 0, 1]);
    assert_eq!(ds.get(2).unwrap().name, "zebra_1", "the path below the root names a sample");
    let e = ImageFolder::new(&ImageFolderParams { root: d.path().join("none"), ..ImageFolderParams::default() })
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("none") && e.contains("ImageFolder"), "{e}");
    // a flat folder: images without labels, which only a predicted or fixed class can explain
    let flat = d.path().join("flat");
    save_rgb(&flat.join("b.png"), 6, 4, [10, 10, 10]);
    save_rgb(&flat.join("a.jpg"), 6, 4, [10, 10, 10]);
    let ds =
        ImageFolder::new(&ImageFolderParams { root: flat, img_size: [4, 6], ..ImageFolderParams::default() }).unwrap();
    assert_eq!(ds.len(), 2);
    assert!(ds.class_names().is_empty());
    let s = ds.get(0).unwrap();
    assert_eq!((s.name.as_str(), s.target), ("a", ibex::data::UNLABELLED));
    let vgg = common::tiny_vgg();
    let x = tch::Tensor::zeros([3, 64, 64], (tch::Kind::Float, tch::Device::Cpu));
    let e = ibex::attributors::Target::Label.resolve(&vgg, &x, s.target).unwrap_err().to_string();
    assert!(e.contains("no label") && e.contains("predicted"), "{e}");
    assert!(ibex::attributors::Target::Predicted.resolve(&vgg, &x, s.target).is_ok());
}

#[test]
fn resize_shorter_side_then_centre_crop_moves_the_boxes() {
    let d = tempfile::tempdir().unwrap();
    // a 40×20 image, left half red, right half blue; resize shorter side 10 → 20×10, crop 8×8 at
    // (top 1, left 6): torchvision's rounding (round half to even)
    let mut img = image::RgbImage::from_pixel(40, 20, image::Rgb([0, 0, 255]));
    for y in 0..20 {
        for x in 0..20 {
            img.put_pixel(x, y, image::Rgb([255, 0, 0]));
        }
    }
    std::fs::create_dir_all(d.path().join("img/n01")).unwrap();
    img.save(d.path().join("img/n01/a.png")).unwrap();
    std::fs::write(d.path().join("idx.json"), r#"{"0": ["n01", "tench"]}"#).unwrap();
    std::fs::create_dir_all(d.path().join("ann")).unwrap();
    let objs = [
        voc::VocObject { name: "n01".into(), bbox: [10.0, 4.0, 30.0, 16.0] },
        voc::VocObject { name: "n01".into(), bbox: [0.0, 0.0, 4.0, 1.0] },
    ];
    std::fs::write(d.path().join("ann/a.xml"), voc::to_xml("a", (40, 20), &objs)).unwrap();
    let p = ImageNetParams {
        img_root: d.path().join("img"),
        ind_to_cls_file: d.path().join("idx.json"),
        annot_root: d.path().join("ann"),
        with_bbox: true,
        img_size: [8, 8],
        resize_shorter: 10,
        ..ImageNetParams::default()
    };
    let ds = ImageNet::new(&p).unwrap();
    let g = ds.transform().geometry(20, 40);
    assert_eq!((g.resized, g.offset), ((10, 20), (1, 6)));
    let s = ds.get(0).unwrap();
    assert_eq!(s.input.size(), vec![3, 8, 8]);
    let rgb = ds.transform().denormalize(&s.input);
    assert!(rgb.double_value(&[0, 4, 1]) > 0.9 && rgb.double_value(&[2, 4, 6]) > 0.9, "red left of centre, blue right");
    // the first box (5..15 × 2..8 after the resize) moves by the crop; the second falls outside
    assert_eq!(s.boxes.len(), 1);
    let b = s.boxes[0];
    assert_eq!([b.xmin, b.ymin, b.xmax, b.ymax], [0.0, 1.0, 7.0, 7.0]);
    // 375×500 → 256×341, crop left (341 − 224)/2 = 58.5 → 58 (half to even, as Python)
    assert_eq!(
        ibex::data::ImageTransform { resize_shorter: 256, ..Default::default() }.geometry(375, 500).offset,
        (16, 58)
    );
}

/// Per-class file names such as `img0.png` repeat across classes: samples are named by their path
/// below the root, a name two files would share is refused naming both, and a file whose name is
/// not UTF-8 is kept (lossily named), not dropped.
#[test]
fn image_folder_sample_names_are_unique_or_refused() {
    use ibex::data::{ImageFolder, ImageFolderParams};
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    for c in ["cross", "disk"] {
        for i in 0..2 {
            save_rgb(&d.path().join(format!("{c}/img{i}.png")), 6, 4, [10, 10, 10]);
        }
    }
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
    save_rgb(&d.path().join("disk").join(odd), 6, 4, [10, 10, 10]);
    let open = || ImageFolder::new(&ImageFolderParams { root: d.path().to_path_buf(), ..ImageFolderParams::default() });
    let ds = open().unwrap();
    let names: Vec<String> = (0..ds.len()).map(|i| ds.name(i)).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&"cross_img0".to_string()) && names.contains(&"disk_img0".to_string()), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("disk_caf")), "{names:?}");
    let unique: std::collections::HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), 5);
    save_rgb(&d.path().join("cross/img0.jpg"), 6, 4, [10, 10, 10]);
    let Err(e) = open() else { panic!("two files named cross_img0 were accepted") };
    let e = e.to_string();
    assert!(e.contains("img0.jpg") && e.contains("img0.png") && e.contains("cross_img0"), "{e}");
}

/// A model trained with another class order: `class_index` maps folder names to its indices.
#[test]
fn image_folder_takes_a_class_index() {
    use ibex::data::{ImageFolder, ImageFolderParams};
    let d = tempfile::tempdir().unwrap();
    save_rgb(&d.path().join("zebra/1.png"), 6, 4, [10, 10, 10]);
    save_rgb(&d.path().join("ant/2.png"), 6, 4, [200, 10, 10]);
    let p = |index: &[(&str, i64)]| ImageFolderParams {
        root: d.path().to_path_buf(),
        class_index: index.iter().map(|(c, i)| (c.to_string(), *i)).collect(),
        ..ImageFolderParams::default()
    };
    let ds = ImageFolder::new(&p(&[("zebra", 0), ("ant", 2)])).unwrap();
    let targets: Vec<i64> = (0..2).map(|i| ds.get(i).unwrap().target).collect();
    assert_eq!(targets, vec![2, 0], "ant/2.png is class 2, zebra/1.png class 0");
    assert_eq!(ds.class_names(), ["zebra", "1", "ant"]);
    let Err(e) = ImageFolder::new(&p(&[("zebra", 0)])) else { panic!("a folder missing from class_index") };
    assert!(e.to_string().contains("ant") && e.to_string().contains("class_index"), "{e}");
}

mod compas {
    use ibex::data::compas::{prune_conflicting, read_table, Compas, CompasParams, Table};
    use ibex::data::compas_gen::{ensure, CompasGenConfig};
    use ibex::data::Dataset;
    use std::path::Path;

    fn params(path: &Path, split: &str, seed: u64) -> CompasParams {
        CompasParams { path: path.into(), split: split.into(), seed, ..CompasParams::default() }
    }

    fn generated(dir: &Path) -> std::path::PathBuf {
        let cfg = CompasGenConfig { path: dir.join("fairml.csv"), rows: 600, ..CompasGenConfig::default() };
        assert!(ensure(&cfg).unwrap());
        assert!(!ensure(&cfg).unwrap(), "made once, then reused");
        cfg.path
    }

    /// The generated file in the seed's layout: train/validation/test partition the kept rows,
    /// the same seed gives the same split and another seed another; priors are scaled into [0, 1].
    #[test]
    fn the_split_is_seeded_and_partitions_the_rows() {
        let _rng = super::common::rng_lock();
        let dir = tempfile::tempdir().unwrap();
        let path = generated(dir.path());
        let names = |split: &str, seed: u64| {
            let d = Compas::new(&params(&path, split, seed)).unwrap();
            (0..d.len()).map(|i| d.name(i)).collect::<Vec<_>>()
        };
        let (train, valid, test) = (names("train", 111), names("validation", 111), names("test", 111));
        let kept = prune_conflicting(&read_table(&path).unwrap(), true).len();
        assert_eq!(train.len() + valid.len() + test.len(), kept);
        assert_eq!(test.len(), kept - (kept as f64 * 0.8) as usize);
        let mut all: Vec<&String> = train.iter().chain(&valid).chain(&test).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), kept, "no row in two splits");
        assert_eq!(names("test", 111), test, "same seed, same split");
        assert_ne!(names("test", 333), test, "another seed, another split");
        let d = Compas::new(&params(&path, "train", 111)).unwrap();
        let s = d.get(0).unwrap();
        assert_eq!(s.input.size(), vec![11]);
        let priors = s.input.double_value(&[1]);
        assert!((0.0..=1.0).contains(&priors), "{priors}");
    }

    /// The seed's consensus pruning by hand: a group of four identical rows with labels 1,1,1,0
    /// (m = ¾, |m − ½| ≥ 0.2) keeps its three 1s; a group 1,0 (m = ½) keeps both; a row without a
    /// duplicate is dropped (quirk S5) unless `drop_unique` is off.
    #[test]
    fn conflicting_duplicates_are_pruned_as_the_seed_does() {
        let a = [1.0; 11];
        let mut b = [0.0; 11];
        b[1] = 2.0;
        let mut c = [0.0; 11];
        c[1] = 5.0;
        let t =
            Table { features: vec![a, a, a, a, b, b, c], labels: vec![1, 1, 1, 0, 1, 0, 1], rows: (1..=7).collect() };
        assert_eq!(prune_conflicting(&t, true), vec![0, 1, 2, 4, 5]);
        assert_eq!(prune_conflicting(&t, false), vec![0, 1, 2, 4, 5, 6]);
    }

    /// ProPublica's raw file: filtered (a charge outside ±30 days, an unknown outcome, a traffic
    /// offence, no score) and coded as the fairml file; a missing column and a malformed number
    /// are errors naming the file, the column (and the row).
    #[test]
    fn the_raw_propublica_file_is_filtered_and_coded_and_errors_name_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("compas-scores-two-years.csv");
        let head = "id,name,sex,age_cat,race,priors_count,c_charge_degree,c_charge_desc,days_b_screening_arrest,is_recid,two_year_recid,score_text";
        let rows = [
            "1,a,Female,Less than 25,African-American,4,M,\"Battery, simple\",-1,1,1,High",
            "2,b,Male,Greater than 45,Caucasian,0,F,Theft,0,0,0,Low",
            "3,c,Male,25 - 45,Hispanic,1,F,Theft,-45,0,0,Low",
            "4,d,Male,25 - 45,Asian,1,F,Theft,2,-1,0,Low",
            "5,e,Male,25 - 45,Other,1,O,Traffic,2,0,0,Medium",
            "6,f,Male,25 - 45,Native American,2,F,Theft,1,1,1,Medium",
        ];
        std::fs::write(&raw, format!("{head}\n{}\n", rows.join("\n"))).unwrap();
        let t = read_table(&raw).unwrap();
        assert_eq!(t.rows, vec![1, 2, 6]);
        assert_eq!(t.labels, vec![1, 0, 1]);
        assert_eq!(t.features[0], [1.0, 4.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        assert_eq!(t.features[1], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(t.features[2][7], 1.0, "Native American");
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "Two_yr_Recidivism,score_factor\n1,0\n").unwrap();
        let e = read_table(&bad).err().unwrap().to_string();
        assert!(e.contains("bad.csv") && e.contains("`Number_of_Priors`"), "{e}");
        let mut cells = ["0"; 12];
        cells[1] = "many";
        let header = format!("{},score_factor", ibex::data::compas::FEATURES.join(","));
        std::fs::write(&bad, format!("{header}\n{}\n", cells.join(","))).unwrap();
        let e = read_table(&bad).err().unwrap().to_string();
        assert!(e.contains("row 1, column `Number_of_Priors`: \"many\" is not a number"), "{e}");
        let e = Compas::new(&params(&dir.path().join("none.csv"), "train", 1)).err().unwrap().to_string();
        assert!(e.contains("none.csv") && e.contains("data/README.md"), "{e}");
    }
}
