//! A synthetic ground-truth dataset in the ImageNet layout of the original (spec §9), so the same
//! loader code runs on real and generated data. Each image shows one saturated class object (its
//! shape and hue define the class) at a random place among grey distractor shapes on a textured
//! background; its VOC box is the truth an explanation should point at. Deterministic by seed.
//! `layout = "cifar10"` writes the same kind of images (32×32) as CIFAR-10's binary batches
//! instead, with the boxes in `boxes.json` (an ibex addition the `Cifar10` loader reads when
//! present), for the methods that read CIFAR (VIBI).
use super::voc::{self, VocObject};
use crate::error::{Error, Result};
use crate::io::atomic;
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const SHAPES: [&str; 6] = ["disk", "square", "triangle", "cross", "ring", "diamond"];
const HUES: [[f32; 3]; 6] =
    [[0.9, 0.15, 0.1], [0.1, 0.75, 0.15], [0.15, 0.3, 0.95], [0.95, 0.85, 0.1], [0.85, 0.15, 0.85], [0.1, 0.85, 0.85]];

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Output folder (ImageNet layout).
    pub root: PathBuf,
    pub seed: u64,
    /// Images are square, this many pixels a side.
    pub image_size: u32,
    /// Number of classes (at most 6: disk, square, triangle, cross, ring, diamond).
    pub classes: usize,
    /// Images per class in each split: train, test, estimation, attribution.
    pub train_per_class: usize,
    pub test_per_class: usize,
    pub estimation_per_class: usize,
    pub attribution_per_class: usize,
    /// Grey distractor shapes per image.
    pub distractors: usize,
    /// Object diameter as a fraction of the image side, [min, max].
    pub object_size: [f64; 2],
    /// `imagenet` (PNG files + VOC boxes, all four splits) or `cifar10` (binary batches of the
    /// train and test splits, `image_size` 32).
    pub layout: String,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            root: "data/synthetic".into(),
            seed: 0,
            image_size: 64,
            classes: 4,
            train_per_class: 200,
            test_per_class: 25,
            estimation_per_class: 25,
            attribution_per_class: 4,
            distractors: 3,
            object_size: [0.22, 0.34],
            layout: "imagenet".into(),
        }
    }
}

impl SyntheticConfig {
    fn splits(&self) -> [(&'static str, usize); 4] {
        [
            ("train", self.train_per_class),
            ("test", self.test_per_class),
            ("estimation", self.estimation_per_class),
            ("attribution", self.attribution_per_class),
        ]
    }
    pub fn wnid(k: usize) -> String {
        format!("n9{k:07}")
    }
}

/// Generates the dataset unless `root` already holds one made with the same settings.
/// Writes into a temporary folder and renames it, so an interrupted run leaves nothing half-made.
/// Whether `cfg.root` holds the dataset these settings make (its stamp says so): then nothing is
/// written, and no lock is needed (the folder may be read-only).
pub fn is_current(cfg: &SyntheticConfig) -> bool {
    let stamp = serde_json::to_string_pretty(cfg).expect("serialisable");
    std::fs::read_to_string(cfg.root.join("synthetic.json")).is_ok_and(|s| s == stamp)
}

pub fn ensure(cfg: &SyntheticConfig) -> Result<bool> {
    if cfg.classes == 0 || cfg.classes > SHAPES.len() {
        return Err(Error::ConfigMsg(format!("synthetic.classes must be in 1..={}", SHAPES.len())));
    }
    match cfg.layout.as_str() {
        "imagenet" => {}
        "cifar10" if cfg.image_size == 32 => {}
        "cifar10" => return Err(Error::ConfigMsg("synthetic.image_size must be 32 with layout = \"cifar10\"".into())),
        other => {
            return Err(Error::ConfigMsg(format!("synthetic.layout = {other:?}: expected \"imagenet\" or \"cifar10\"")))
        }
    }
    if is_current(cfg) {
        return Ok(false);
    }
    let stamp_text = serde_json::to_string_pretty(cfg).expect("serialisable");
    if cfg.root.join("synthetic.json").is_file() {
        return Err(Error::file(
            &cfg.root,
            "holds a synthetic dataset made with other settings; delete it or set synthetic.root elsewhere",
        ));
    }
    if cfg.root.exists() {
        return Err(Error::file(
            &cfg.root,
            "exists but is not a finished synthetic dataset (no synthetic.json); delete it",
        ));
    }
    let tmp = PathBuf::from(format!("{}.tmp-{}", cfg.root.display(), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    if cfg.layout == "cifar10" {
        write_cifar(cfg, &tmp)?;
    } else {
        write_all(cfg, &tmp)?;
    }
    atomic::write(&tmp.join("synthetic.json"), stamp_text.as_bytes())?;
    if let Some(parent) = cfg.root.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::rename(&tmp, &cfg.root).map_err(|e| Error::io(&cfg.root, e))?;
    Ok(true)
}

fn write_all(cfg: &SyntheticConfig, dir: &Path) -> Result<()> {
    let index: serde_json::Map<String, serde_json::Value> =
        (0..cfg.classes).map(|k| (k.to_string(), serde_json::json!([SyntheticConfig::wnid(k), SHAPES[k]]))).collect();
    atomic::write(
        &dir.join("imagenet_class_index.json"),
        serde_json::to_string_pretty(&index).expect("json").as_bytes(),
    )?;
    for (s, (split, per_class)) in cfg.splits().into_iter().enumerate() {
        for k in 0..cfg.classes {
            let img_dir = dir.join("images").join(split).join(SyntheticConfig::wnid(k));
            let ann_dir = dir.join("annotations").join(split);
            for i in 0..per_class {
                let name = format!("{split}_{k}_{i:05}");
                let (png, bbox) = render(cfg, k, &mut image_rng(cfg, s, k, i))?;
                atomic::write(&img_dir.join(format!("{name}.png")), &png)?;
                let obj = VocObject { name: SyntheticConfig::wnid(k), bbox };
                let xml = voc::to_xml(&format!("{name}.png"), (cfg.image_size, cfg.image_size), &[obj]);
                atomic::write(&ann_dir.join(format!("{name}.xml")), xml.as_bytes())?;
            }
        }
    }
    Ok(())
}

/// The generator of image `i` of class `k` in split number `s`.
fn image_rng(cfg: &SyntheticConfig, s: usize, k: usize, i: usize) -> SplitMix {
    SplitMix::new(cfg.seed.wrapping_mul(0x100_0000_0000) ^ ((s as u64) << 32) ^ ((k as u64) << 24) ^ i as u64)
}

/// The train split in five `data_batch_K.bin`, the test split in `test_batch.bin` (classes
/// interleaved), the class names in `batches.meta.txt`, and each record's object box in
/// `boxes.json` (`{"train": [[xmin, ymin, xmax, ymax], …], "test": […]}`, in record order).
fn write_cifar(cfg: &SyntheticConfig, dir: &Path) -> Result<()> {
    let mut boxes = serde_json::Map::new();
    for (s, (split, per_class)) in cfg.splits().into_iter().enumerate().take(2) {
        let (mut labels, mut pixels, mut split_boxes) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..per_class {
            for k in 0..cfg.classes {
                let (rgb, bbox) = render_rgb(cfg, k, &mut image_rng(cfg, s, k, i));
                let planar: Vec<u8> = (0..3).flat_map(|c| rgb.iter().skip(c).step_by(3).copied()).collect();
                labels.push(k as u8);
                pixels.extend(planar);
                split_boxes.push(bbox.to_vec());
            }
        }
        let files = super::cifar::batch_files(dir, split);
        let per_file = labels.len().div_ceil(files.len());
        for (f, path) in files.iter().enumerate() {
            let range = (f * per_file).min(labels.len())..((f + 1) * per_file).min(labels.len());
            let px = range.start * 3 * 32 * 32..range.end * 3 * 32 * 32;
            super::cifar::write_batch(path, &labels[range], &pixels[px])?;
        }
        boxes.insert(split.into(), serde_json::json!(split_boxes));
    }
    let names: Vec<&str> = SHAPES[..cfg.classes].to_vec();
    atomic::write(&dir.join("batches.meta.txt"), format!("{}\n", names.join("\n")).as_bytes())?;
    atomic::write(&dir.join("boxes.json"), serde_json::to_string(&boxes).expect("json").as_bytes())
}

/// Is (u, v), in units of the shape's radius around its centre, inside shape `k`?
fn inside(k: usize, u: f64, v: f64) -> bool {
    let r = (u * u + v * v).sqrt();
    match k {
        0 => r <= 1.0,
        1 => u.abs().max(v.abs()) <= 0.85,
        2 => (-1.0..=0.8).contains(&v) && u.abs() <= (v + 1.0) / 1.8 * 0.95,
        3 => (u.abs() <= 0.3 && v.abs() <= 0.95) || (v.abs() <= 0.3 && u.abs() <= 0.95),
        4 => (0.55..=1.0).contains(&r),
        _ => u.abs() + v.abs() <= 1.0,
    }
}

/// One scene → (PNG bytes, object box [xmin, ymin, xmax, ymax]).
/// PNG bytes of one image and its object's box.
fn render(cfg: &SyntheticConfig, class: usize, rng: &mut SplitMix) -> Result<(Vec<u8>, [f64; 4])> {
    let n = cfg.image_size;
    let (bytes, bbox) = render_rgb(cfg, class, rng);
    let mut png = Vec::new();
    image::RgbImage::from_raw(n, n, bytes)
        .expect("buffer size")
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::Data(format!("PNG encoding failed: {e}")))?;
    Ok((png, bbox))
}

/// Interleaved RGB bytes [H·W·3] of one image and its object's box.
fn render_rgb(cfg: &SyntheticConfig, class: usize, rng: &mut SplitMix) -> (Vec<u8>, [f64; 4]) {
    let n = cfg.image_size as usize;
    let mut px = background(n, rng);
    let radius = rng.range(cfg.object_size[0], cfg.object_size[1]) * n as f64 / 2.0;
    let (cx, cy) = (rng.range(radius, n as f64 - radius), rng.range(radius, n as f64 - radius));
    let objbox = [cx - radius, cy - radius, cx + radius, cy + radius];
    for _ in 0..cfg.distractors {
        let r = radius * rng.range(0.5, 0.9);
        let shape = rng.below(SHAPES.len() as u64) as usize;
        let grey = rng.range(0.1, 0.9) as f32;
        let col = [0, 1, 2].map(|_| (grey + rng.range(-0.06, 0.06) as f32).clamp(0., 1.));
        // place it clear of the object where possible (a few tries), so the box stays the truth
        let mut at = (rng.range(r, n as f64 - r), rng.range(r, n as f64 - r));
        for _ in 0..20 {
            let clear = at.0 + r < objbox[0] || at.0 - r > objbox[2] || at.1 + r < objbox[1] || at.1 - r > objbox[3];
            if clear {
                break;
            }
            at = (rng.range(r, n as f64 - r), rng.range(r, n as f64 - r));
        }
        draw(&mut px, n, shape, at, r, col);
    }
    let col = HUES[class].map(|c| (c + rng.range(-0.08, 0.08) as f32).clamp(0., 1.));
    let bbox = draw(&mut px, n, class, (cx, cy), radius, col).unwrap_or([cx, cy, cx, cy]);
    let bytes: Vec<u8> = px.iter().flat_map(|p| p.map(|c| (c.clamp(0., 1.) * 255.0).round() as u8)).collect();
    (bytes, bbox)
}

/// Low-saturation texture: a grey level, a few random waves and pixel noise.
fn background(n: usize, rng: &mut SplitMix) -> Vec<[f32; 3]> {
    let base = rng.range(0.3, 0.7) as f32;
    let tint = [0, 1, 2].map(|_| rng.range(-0.05, 0.05) as f32);
    let waves: Vec<[f64; 4]> = (0..3)
        .map(|_| {
            [rng.range(-0.5, 0.5), rng.range(-0.5, 0.5), rng.range(0., std::f64::consts::TAU), rng.range(0.03, 0.08)]
        })
        .collect();
    let mut px = Vec::with_capacity(n * n);
    for y in 0..n {
        for x in 0..n {
            let w: f64 = waves.iter().map(|[fx, fy, ph, a]| a * (fx * x as f64 + fy * y as f64 + ph).sin()).sum();
            let g = base + w as f32;
            px.push([0, 1, 2].map(|c| g + tint[c] + rng.range(-0.04, 0.04) as f32));
        }
    }
    px
}

/// Fills shape `k` and returns the box of the pixels it set.
fn draw(px: &mut [[f32; 3]], n: usize, k: usize, (cx, cy): (f64, f64), r: f64, col: [f32; 3]) -> Option<[f64; 4]> {
    let mut bbox: Option<[f64; 4]> = None;
    let (y0, y1) = (((cy - r).floor().max(0.)) as usize, ((cy + r).ceil() as usize).min(n));
    let (x0, x1) = (((cx - r).floor().max(0.)) as usize, ((cx + r).ceil() as usize).min(n));
    for y in y0..y1 {
        for x in x0..x1 {
            if inside(k, (x as f64 + 0.5 - cx) / r, (y as f64 + 0.5 - cy) / r) {
                px[y * n + x] = col;
                let (fx, fy) = (x as f64, y as f64);
                bbox = Some(match bbox {
                    None => [fx, fy, fx, fy],
                    Some(b) => [b[0].min(fx), b[1].min(fy), b[2].max(fx), b[3].max(fy)],
                });
            }
        }
    }
    bbox
}
