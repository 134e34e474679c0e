//! MNIST's IDX files and CIFAR-10's binary batches as users have them, read from small files the
//! tests write (and from the generated digits), with the errors a bad download gives.
mod common;
use common::rng_lock;
use ibex::data::digits::{ensure, is_current, DigitsConfig};
use ibex::data::mnist::{read_idx, write_idx};
use ibex::data::{write_batch, Cifar10, CifarParams, Dataset, Mnist, MnistParams};
use std::io::Write;
use std::path::Path;

fn digits(dir: &Path) -> DigitsConfig {
    DigitsConfig { root: dir.join("digits"), seed: 3, train: 120, test: 30 }
}

fn mnist(root: &Path, split: &str) -> ibex::Result<Mnist> {
    Mnist::new(&MnistParams { root: root.into(), split: split.into(), ..MnistParams::default() })
}

#[test]
fn generated_digits_are_mnist_files_the_loader_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = digits(tmp.path());
    assert!(ensure(&cfg).unwrap());
    assert!(is_current(&cfg) && !ensure(&cfg).unwrap(), "made once");
    let train = mnist(&cfg.root, "train").unwrap();
    let test = mnist(&cfg.root, "test").unwrap();
    assert_eq!((train.len(), test.len()), (120, 30));
    let s = train.get(7).unwrap();
    assert_eq!(s.input.size(), vec![1, 28, 28]);
    assert_eq!(s.name, "train_00007");
    // normalised with (x/255 − 0.1307)/0.3080: background near −0.42, ink up to 2.82
    let (lo, hi) = (s.input.min().double_value(&[]), s.input.max().double_value(&[]));
    assert!(lo >= -0.4244 - 1e-4 && hi <= 2.8225 + 1e-4 && hi > 2.0, "[{lo}, {hi}]");
    let mut seen = [0; 10];
    for i in 0..train.len() {
        seen[train.get(i).unwrap().target as usize] += 1;
    }
    assert!(seen.iter().all(|&n| n >= 4), "every class present: {seen:?}");
    // the first N only
    let first = Mnist::new(&MnistParams { root: cfg.root.clone(), max_samples: 10, ..MnistParams::default() }).unwrap();
    assert_eq!(first.len(), 10);
    assert!(first.get(7).unwrap().input.equal(&s.input));
    // the rest after the first N (SENN's seed: validation on the first 6,000, training on the rest)
    let params = MnistParams { root: cfg.root.clone(), skip: 5, max_samples: 4, ..MnistParams::default() };
    let rest = Mnist::new(&params).unwrap();
    assert_eq!(rest.len(), 4);
    let moved = rest.get(2).unwrap();
    assert_eq!((moved.name.as_str(), moved.target), ("train_00007", s.target));
    assert!(moved.input.equal(&s.input));
    let e = Mnist::new(&MnistParams { skip: 120, ..params }).err().unwrap().to_string();
    assert!(e.contains("skip = 120") && e.contains("train-images"), "{e}");
    // the same seed makes the same bytes
    let again = DigitsConfig { root: tmp.path().join("again"), ..cfg.clone() };
    ensure(&again).unwrap();
    for f in ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        assert_eq!(std::fs::read(cfg.root.join(f)).unwrap(), std::fs::read(again.root.join(f)).unwrap());
    }
    // gzipped files read the same
    let gz = tmp.path().join("gz");
    std::fs::create_dir_all(&gz).unwrap();
    for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&std::fs::read(cfg.root.join(f)).unwrap()).unwrap();
        std::fs::write(gz.join(format!("{f}.gz")), e.finish().unwrap()).unwrap();
    }
    assert!(mnist(&gz, "train").unwrap().get(7).unwrap().input.equal(&s.input));
}

#[test]
fn bad_idx_files_are_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let f = d.join("train-images-idx3-ubyte");
    write_idx(&f, &[4, 28, 28], &vec![0u8; 4 * 28 * 28]).unwrap();
    assert_eq!(read_idx(&f, 3).unwrap().0, vec![4, 28, 28]);
    // labels where images belong: the magic says 1-d
    write_idx(&d.join("train-labels-idx1-ubyte"), &[3], &[1, 2, 3]).unwrap();
    let e = read_idx(&d.join("train-labels-idx1-ubyte"), 3).unwrap_err().to_string();
    assert!(e.contains("train-labels-idx1-ubyte") && e.contains("magic"), "{e}");
    // 4 images but 3 labels
    let e = mnist(d, "train").err().unwrap().to_string();
    assert!(e.contains("train-labels-idx1-ubyte") && e.contains("3 labels for the 4 images"), "{e}");
    // a truncated download
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 100]).unwrap();
    let e = mnist(d, "train").err().unwrap().to_string();
    assert!(e.contains("train-images-idx3-ubyte") && e.contains("truncated"), "{e}");
    // missing files say what to put where
    let e = mnist(d, "test").err().unwrap().to_string();
    assert!(e.contains("t10k-images-idx3-ubyte") && e.contains("data/README.md"), "{e}");
}

/// Two records per batch file: image k has red = 10·(k+1), green = 20, blue = 30 everywhere.
fn cifar_files(root: &Path) {
    let record = |k: u8| -> Vec<u8> { [vec![10 * (k + 1); 1024], vec![20; 1024], vec![30; 1024]].concat() };
    for (f, base) in
        ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"].iter().zip(0u8..)
    {
        let labels = [base % 10, (base + 1) % 10];
        let pixels = [record(2 * base), record(2 * base + 1)].concat();
        write_batch(&root.join(format!("{f}.bin")), &labels, &pixels).unwrap();
    }
}

#[test]
fn cifar_batches_are_read_plane_by_plane_and_augmented_reproducibly() {
    let _rng = rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    cifar_files(tmp.path());
    let p = CifarParams { root: tmp.path().into(), ..CifarParams::default() };
    let train = Cifar10::new(&p).unwrap();
    let test = Cifar10::new(&CifarParams { split: "test".into(), ..p.clone() }).unwrap();
    assert_eq!((train.len(), test.len()), (10, 2));
    assert_eq!(train.class_names()[3], "cat");
    let s = train.get(3).unwrap();
    assert_eq!((s.input.size(), s.target), (vec![3, 32, 32], 2));
    let pixel = train.transform().denormalize(&s.input);
    for (c, want) in [40.0, 20.0, 30.0].iter().enumerate() {
        assert!((pixel.double_value(&[c as i64, 5, 7]) * 255.0 - want).abs() < 1e-3, "channel {c}");
    }
    // augmentation: a crop of the image padded with black and a flip, drawn from libtorch's
    // generator, so a seeded step draws the same
    let aug = Cifar10::new(&CifarParams { augment: true, ..p }).unwrap();
    let draw = |seed| {
        tch::manual_seed(seed);
        aug.get(3).unwrap().input
    };
    assert!(draw(1).equal(&draw(1)));
    let black = (0..20).map(draw).any(|x| aug.transform().denormalize(&x).min().double_value(&[]) < 1e-6);
    assert!(black, "some crop shows the black padding");
}

#[test]
fn bad_cifar_batches_are_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    cifar_files(tmp.path());
    let f = tmp.path().join("data_batch_3.bin");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 1]).unwrap();
    let p = CifarParams { root: tmp.path().into(), ..CifarParams::default() };
    let e = Cifar10::new(&p).err().unwrap().to_string();
    assert!(e.contains("data_batch_3.bin") && e.contains("truncated"), "{e}");
    let mut bad = bytes.clone();
    bad[0] = 12;
    std::fs::write(&f, &bad).unwrap();
    let e = Cifar10::new(&p).err().unwrap().to_string();
    assert!(e.contains("data_batch_3.bin") && e.contains("label 12"), "{e}");
    std::fs::remove_file(&f).unwrap();
    let e = Cifar10::new(&p).err().unwrap().to_string();
    assert!(e.contains("data_batch_3.bin") && e.contains("data/README.md"), "{e}");
}

/// The synthetic shapes in CIFAR-10's layout: five train batches and a test batch the `Cifar10`
/// loader reads, with each record's box from `boxes.json` around its saturated object (the box
/// is more colourful than the grey rest); a boxes file of the wrong length names the file.
#[test]
fn synthetic_shapes_in_the_cifar_layout_carry_their_boxes() {
    use ibex::data::synthetic::{ensure, SyntheticConfig};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shapes");
    let cfg = SyntheticConfig {
        root: root.clone(),
        image_size: 32,
        classes: 3,
        train_per_class: 5,
        test_per_class: 2,
        layout: "cifar10".into(),
        ..SyntheticConfig::default()
    };
    assert!(ensure(&cfg).unwrap());
    for f in ["data_batch_1.bin", "data_batch_5.bin", "test_batch.bin", "boxes.json", "batches.meta.txt"] {
        assert!(root.join(f).is_file(), "{f}");
    }
    let p = |split: &str| CifarParams { root: root.clone(), split: split.into(), ..CifarParams::default() };
    let (train, test) = (Cifar10::new(&p("train")).unwrap(), Cifar10::new(&p("test")).unwrap());
    assert_eq!((train.len(), test.len()), (15, 6));
    assert_eq!(train.class_names(), ["disk", "square", "triangle"]);
    for i in 0..test.len() {
        let s = test.get(i).unwrap();
        assert_eq!(s.target, (i % 3) as i64, "classes interleave");
        let b = s.boxes[0];
        let rgb = test.transform().denormalize(&s.input);
        let chroma = (rgb.amax(&[0i64][..], false) - rgb.amin(&[0i64][..], false)).unsqueeze(0);
        let inside = ibex::data::box_mask(&s.boxes, 32, 32);
        let mean = |m: &tch::Tensor| {
            (&chroma * m).sum(tch::Kind::Double).double_value(&[]) / m.sum(tch::Kind::Double).double_value(&[])
        };
        assert!(mean(&inside) > 2.0 * mean(&(inside.ones_like() - &inside)), "{i}: box {b:?}");
    }
    std::fs::write(root.join("boxes.json"), r#"{"test": [[0, 0, 4, 4]]}"#).unwrap();
    let e = Cifar10::new(&p("test")).err().unwrap().to_string();
    assert!(e.contains("boxes.json") && e.contains("1 boxes for the 6 records"), "{e}");
}
