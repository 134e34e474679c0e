//! CIFAR-10 as users have it on disk: the binary version's batches (`cifar-10-batches-bin/`:
//! `data_batch_1.bin` … `data_batch_5.bin` for training, `test_batch.bin`; each record one label
//! byte and 3,072 pixel bytes, the red plane, then green, then blue), with VIBI's normalisation and
//! its training augmentation (spec peers §1.2: random 32×32 crop of the image padded by 4, random
//! horizontal flip). Generated images in the same format serve the demos.
use super::{BBox, Dataset, ImageTransform, Sample};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, DatasetKind};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// Bytes of one record: the label and a 3×32×32 image.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// CIFAR-10's class names, when the folder has no `batches.meta.txt`.
const CLASSES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CifarParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// The folder of the binary batches (`cifar-10-batches-bin`).
    pub root: PathBuf,
    /// `train` (the five data batches) or `test`.
    pub split: String,
    pub mean: [f64; 3],
    pub std: [f64; 3],
    /// Random crop (padding 4) and horizontal flip from libtorch's generator: for training splits.
    pub augment: bool,
}

impl Default for CifarParams {
    fn default() -> Self {
        CifarParams {
            type_: "Cifar10".into(),
            root: PathBuf::from("data/cifar10/cifar-10-batches-bin"),
            split: "train".into(),
            mean: [0.4914, 0.4822, 0.4465],
            std: [0.2464, 0.2428, 0.2608],
            augment: false,
        }
    }
}

/// The split's batch files.
pub fn batch_files(root: &Path, split: &str) -> Vec<PathBuf> {
    match split {
        "test" => vec![root.join("test_batch.bin")],
        _ => (1..=5).map(|k| root.join(format!("data_batch_{k}.bin"))).collect(),
    }
}

/// Labels and [N,3,32,32] uint8 images of one batch file; a size that is no whole number of
/// records, or a label above 9, is an error naming the file.
pub fn read_batch(path: &Path) -> Result<(Vec<i64>, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::file(
            path,
            format!(
                "{e}: put CIFAR-10's binary batches here (data/README.md), or generate them with tools/make_synthetic"
            ),
        )
    })?;
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        return Err(Error::file(
            path,
            format!("{} bytes is no whole number of {RECORD}-byte records (label + 3×32×32): truncated?", bytes.len()),
        ));
    }
    let (mut labels, mut pixels) = (Vec::new(), Vec::with_capacity(bytes.len()));
    for (k, rec) in bytes.chunks(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(Error::file(path, format!("record {k} has label {}: CIFAR-10's classes are 0 … 9", rec[0])));
        }
        labels.push(rec[0] as i64);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok((labels, pixels))
}

/// Writes records (label, [3,32,32] planes) as one batch file, atomically.
pub fn write_batch(path: &Path, labels: &[u8], pixels: &[u8]) -> Result<()> {
    let mut out = Vec::with_capacity(labels.len() * RECORD);
    for (l, img) in labels.iter().zip(pixels.chunks(RECORD - 1)) {
        out.push(*l);
        out.extend_from_slice(img);
    }
    crate::io::atomic::write(path, &out)
}

pub struct Cifar10 {
    /// [N,3,32,32] uint8.
    images: Tensor,
    labels: Vec<i64>,
    split: String,
    augment: bool,
    classes: Vec<String>,
    transform: ImageTransform,
    /// Each record's object box, from `boxes.json` where the folder has one (ibex's generated
    /// shapes; CIFAR-10 itself has none); empty otherwise.
    boxes: Vec<BBox>,
}

impl Cifar10 {
    pub fn new(p: &CifarParams) -> Result<Self> {
        let (mut labels, mut pixels) = (Vec::new(), Vec::new());
        for f in batch_files(&p.root, &p.split) {
            let (l, px) = read_batch(&f)?;
            labels.extend(l);
            pixels.extend(px);
        }
        let classes = match std::fs::read_to_string(p.root.join("batches.meta.txt")) {
            Ok(t) => t.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect(),
            Err(_) => CLASSES.map(String::from).to_vec(),
        };
        let transform = ImageTransform { img_size: [32, 32], mean: p.mean, std: p.std, resize_shorter: 0 };
        let images = Tensor::from_slice(&pixels).view([labels.len() as i64, 3, 32, 32]);
        let boxes = read_boxes(&p.root.join("boxes.json"), &p.split, labels.len())?;
        Ok(Cifar10 { images, labels, split: p.split.clone(), augment: p.augment, classes, transform, boxes })
    }
}

/// The boxes of `split` in `path` (none when the file is missing); a count other than the
/// split's records, or a box that is not four numbers, is an error naming the file.
fn read_boxes(path: &Path, split: &str, records: usize) -> Result<Vec<BBox>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    let all: std::collections::BTreeMap<String, Vec<[f64; 4]>> = serde_json::from_str(&text)
        .map_err(|e| Error::file(path, format!("expected {{\"{split}\": [[xmin, ymin, xmax, ymax], …]}}: {e}")))?;
    let Some(boxes) = all.get(split) else {
        return Ok(Vec::new());
    };
    if boxes.len() != records {
        return Err(Error::file(path, format!("{} boxes for the {records} records of `{split}`", boxes.len())));
    }
    Ok(boxes.iter().map(|&[xmin, ymin, xmax, ymax]| BBox { xmin, ymin, xmax, ymax }).collect())
}

/// A random 32×32 crop of the [0,1] image padded by 4 black pixels, as torchvision's
/// `RandomCrop(32, padding=4)` pads before `Normalize`, and a horizontal flip with probability ½.
fn augment(x: &Tensor) -> Tensor {
    let dy = Tensor::randint(9, [1], (Kind::Int64, tch::Device::Cpu)).int64_value(&[0]);
    let dx = Tensor::randint(9, [1], (Kind::Int64, tch::Device::Cpu)).int64_value(&[0]);
    let flip = Tensor::rand([1], (Kind::Float, tch::Device::Cpu)).double_value(&[0]) < 0.5;
    let padded = x.constant_pad_nd([4, 4, 4, 4]);
    let crop = padded.narrow(1, dy, 32).narrow(2, dx, 32);
    if flip {
        crop.flip([2])
    } else {
        crop
    }
}

impl Dataset for Cifar10 {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn get(&self, i: usize) -> Result<Sample> {
        let x = self.images.get(i as i64).to_kind(Kind::Float) / 255.0;
        let x = if self.augment { augment(&x) } else { x };
        let mean = Tensor::from_slice(&self.transform.mean).to_kind(Kind::Float).view([3, 1, 1]);
        let std = Tensor::from_slice(&self.transform.std).to_kind(Kind::Float).view([3, 1, 1]);
        // an augmented image's object has moved: its box no longer holds
        let boxes = if self.augment { Vec::new() } else { self.boxes.get(i).map(|b| vec![*b]).unwrap_or_default() };
        Ok(Sample { name: self.name(i), input: (x - mean) / std, target: self.labels[i], boxes })
    }
    fn name(&self, i: usize) -> String {
        format!("{}_{i:05}", self.split)
    }
    fn class_names(&self) -> &[String] {
        &self.classes
    }
    fn transform(&self) -> &ImageTransform {
        &self.transform
    }
    fn modality(&self) -> Modality {
        Modality::Image
    }
}

impl Build<DatasetKind> for Cifar10 {
    type Params = CifarParams;
    fn validate(p: &CifarParams) -> crate::config::Checked {
        super::transforms::check([32, 32], p.mean, p.std, 0)?;
        crate::config::validate::one_of("split", &p.split, &["train", "test"])
    }
    fn build(p: CifarParams, _cx: &BuildCtx) -> Result<Box<dyn Dataset>> {
        Ok(Box::new(Cifar10::new(&p)?))
    }
}
crate::register!(DatasetKind, Cifar10);
