//! Datasets of labelled images, read from disk in the layouts users have (ImageNet subsets as the
//! InputIBA original expects them, generic ImageFolder), plus the synthetic ground-truth generator.
mod cifar;
pub mod compas;
pub mod compas_gen;
pub mod digits;
mod image_folder;
mod imagenet;
pub mod mnist;
mod splits;
pub mod synthetic;
pub mod transforms;
pub mod voc;

pub use cifar::{read_batch, write_batch, Cifar10, CifarParams};
pub use compas::{Compas, CompasParams};
pub use image_folder::{ImageFolder, ImageFolderParams};
pub use imagenet::{ImageNet, ImageNetParams};
pub use mnist::{Mnist, MnistParams};
pub use splits::{Split, Splits};
pub use transforms::ImageTransform;

use crate::error::{Error, Result};
use crate::modality::Modality;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// A box in the coordinates of the transformed image (pixels, VOC convention: inclusive corners).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BBox {
    pub xmin: f64,
    pub ymin: f64,
    pub xmax: f64,
    pub ymax: f64,
}

pub struct Sample {
    /// File stem, unique within a dataset; output files are named after it.
    pub name: String,
    /// The raw input, as the dataset's [`Dataset::modality`] says: an image [3,H,W] normalised with
    /// the dataset's mean and std, token ids [T] (int64), or features [F].
    pub input: Tensor,
    pub target: i64,
    /// Ground-truth boxes of the target class (empty without annotations).
    pub boxes: Vec<BBox>,
}

impl Sample {
    /// A copy that shares the image's storage.
    pub fn clone_shallow(&self) -> Sample {
        Sample {
            name: self.name.clone(),
            input: self.input.shallow_clone(),
            target: self.target,
            boxes: self.boxes.clone(),
        }
    }
}

pub trait Dataset: Send {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> Result<Sample>;
    /// The name of sample `i` without reading the image (to skip finished samples quickly).
    fn name(&self, i: usize) -> String;
    fn class_names(&self) -> &[String];
    /// The transform, so that outputs can show the image as the user sees it.
    fn transform(&self) -> &ImageTransform;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// What the samples' inputs are (an image dataset's are images, a text dataset's token ids).
    fn modality(&self) -> Modality;
    /// The words of a text sample's tokens, for its JSON and HTML outputs.
    fn words(&self, _s: &Sample) -> Option<Vec<String>> {
        None
    }
}

/// [H,W] float mask: 1 inside any of the boxes (inclusive pixel corners, as VOC counts them),
/// else 0; all ones when there are no boxes.
pub fn box_mask(boxes: &[BBox], h: i64, w: i64) -> Tensor {
    box_mask_with(boxes, h, w, true)
}

/// As [`box_mask`]; `inclusive_end = false` fills [ymin, ymax) × [xmin, xmax) as the original's
/// EHR does (`mask[y1:y2, x1:x2]`), one row and column fewer.
pub fn box_mask_with(boxes: &[BBox], h: i64, w: i64, inclusive_end: bool) -> Tensor {
    if boxes.is_empty() {
        return Tensor::ones([h, w], (tch::Kind::Float, tch::Device::Cpu));
    }
    let m = Tensor::zeros([h, w], (tch::Kind::Float, tch::Device::Cpu));
    for b in boxes {
        let (x0, y0) = (b.xmin.floor().clamp(0., w as f64) as i64, b.ymin.floor().clamp(0., h as f64) as i64);
        let end = inclusive_end as i64;
        let (x1, y1) = ((b.xmax.floor() as i64 + end).clamp(0, w), (b.ymax.floor() as i64 + end).clamp(0, h));
        if x1 > x0 && y1 > y0 {
            let _ = m.narrow(0, y0, y1 - y0).narrow(1, x0, x1 - x0).fill_(1.0);
        }
    }
    m
}

/// The target of a sample without a label (a flat image folder): only `target = "predicted"` or a
/// fixed class can explain it.
pub const UNLABELLED: i64 = -1;

/// Image files under `root` (recursively) whose extension is in `exts`, sorted by path.
pub(crate) fn find_images(root: &Path, exts: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let p = entry.map_err(|e| Error::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.iter().any(|x| x == e)) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A sample's name from its file: the path below `root` without the extension, folders joined by
/// `_` (`cross/img0.png` → `cross_img0`), so per-class names such as `0001.jpg` stay apart. Names
/// that are not UTF-8 are kept, lossily, rather than dropped.
pub(crate) fn name_below(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.join("_")
}

/// Output files are named after samples, so two samples of one name would overwrite each other's
/// maps: refused, naming both files.
pub(crate) fn check_unique_names<'a>(items: impl Iterator<Item = (String, &'a Path)>) -> Result<()> {
    let mut seen: std::collections::HashMap<String, &Path> = std::collections::HashMap::new();
    for (name, path) in items {
        if let Some(first) = seen.insert(name.clone(), path) {
            return Err(Error::file(
                path,
                format!(
                    "its sample name `{name}` is also the name of {}: outputs would overwrite each other",
                    first.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Deterministic Fisher–Yates shuffle (splitmix64), independent of libtorch's global generator.
pub(crate) fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = crate::rng::SplitMix::new(seed);
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// `limit` of `items` drawn with `seed` ([`shuffle`]), kept in their order; all of them when
/// `limit` is 0 or not below their count.
pub(crate) fn subset(mut items: Vec<usize>, limit: usize, seed: u64) -> Vec<usize> {
    if limit > 0 && limit < items.len() {
        shuffle(&mut items, seed);
        items.truncate(limit);
        items.sort_unstable();
    }
    items
}

pub(crate) fn require_dir(path: &Path, what: &str) -> Result<()> {
    if path.is_dir() {
        Ok(())
    } else {
        Err(Error::file(path, format!("folder not found: {what}")))
    }
}
