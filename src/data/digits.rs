//! Handwriting-like digits in MNIST's IDX files, for the demos of the methods MNIST is the test bed
//! of (VIBI, SENN) where MNIST cannot be downloaded: the same loader ([`super::Mnist`]) reads them
//! and the real files. Each digit is a few pen strokes through jittered control points, placed by a
//! random affine map (rotation, scale, shear, shift), drawn with a random pen width, bent by a smooth
//! random displacement field (elastic distortion) and noised, at 28×28 grey: varied enough that a
//! small CNN does not reach 100% at once. Deterministic by seed.
use super::mnist::write_idx;
use crate::error::{Error, Result};
use crate::io::atomic;
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `[digits]`: where and how many.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DigitsConfig {
    pub root: PathBuf,
    pub seed: u64,
    pub train: usize,
    pub test: usize,
}

impl Default for DigitsConfig {
    fn default() -> Self {
        DigitsConfig { root: PathBuf::from("data/digits"), seed: 0, train: 6000, test: 1000 }
    }
}

const SIDE: usize = 28;

/// The strokes of each digit as polylines in the unit square (x right, y down).
fn glyph(d: usize) -> Vec<Vec<(f64, f64)>> {
    let ellipse = |cx: f64, cy: f64, rx: f64, ry: f64, from: f64, to: f64| -> Vec<(f64, f64)> {
        (0..=16)
            .map(|k| from + (to - from) * k as f64 / 16.0)
            .map(|t: f64| (cx + rx * t.cos(), cy + ry * t.sin()))
            .collect()
    };
    let tau = std::f64::consts::TAU;
    match d {
        0 => vec![ellipse(0.5, 0.5, 0.26, 0.38, 0.0, tau)],
        1 => vec![vec![(0.36, 0.26), (0.52, 0.12), (0.52, 0.88)]],
        2 => vec![vec![(0.26, 0.3), (0.36, 0.15), (0.56, 0.12), (0.72, 0.24), (0.7, 0.42), (0.26, 0.86), (0.78, 0.86)]],
        3 => {
            vec![vec![(0.26, 0.18), (0.58, 0.12), (0.72, 0.28), (0.48, 0.48), (0.72, 0.64), (0.62, 0.86), (0.26, 0.82)]]
        }
        4 => vec![vec![(0.64, 0.88), (0.64, 0.12), (0.22, 0.62), (0.8, 0.62)]],
        5 => vec![vec![(0.74, 0.12), (0.32, 0.12), (0.28, 0.45), (0.56, 0.4), (0.74, 0.6), (0.62, 0.86), (0.26, 0.82)]],
        6 => vec![vec![
            (0.68, 0.14),
            (0.42, 0.28),
            (0.28, 0.58),
            (0.34, 0.84),
            (0.6, 0.86),
            (0.72, 0.68),
            (0.58, 0.5),
            (0.3, 0.58),
        ]],
        7 => vec![vec![(0.22, 0.14), (0.78, 0.14), (0.44, 0.88)]],
        8 => vec![ellipse(0.5, 0.3, 0.19, 0.17, 0.0, tau), ellipse(0.5, 0.68, 0.23, 0.2, 0.0, tau)],
        _ => vec![ellipse(0.5, 0.33, 0.21, 0.19, 0.0, tau), vec![(0.71, 0.33), (0.66, 0.6), (0.58, 0.88)]],
    }
}

/// Distance from p to the segment a–b.
fn to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

/// A smooth random displacement field: a 4×4 grid of N(0, amp²)-ish offsets, bilinearly
/// interpolated over the image.
struct Elastic {
    grid: [[(f64, f64); 4]; 4],
}

impl Elastic {
    fn new(rng: &mut SplitMix, amp: f64) -> Self {
        let mut grid = [[(0.0, 0.0); 4]; 4];
        for row in grid.iter_mut() {
            for g in row.iter_mut() {
                *g = (rng.range(-amp, amp), rng.range(-amp, amp));
            }
        }
        Elastic { grid }
    }
    fn at(&self, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = ((x / (SIDE - 1) as f64 * 3.0).clamp(0.0, 3.0), (y / (SIDE - 1) as f64 * 3.0).clamp(0.0, 3.0));
        let (i, j) = ((v.floor() as usize).min(2), (u.floor() as usize).min(2));
        let (fy, fx) = (v - i as f64, u - j as f64);
        let lerp = |a: (f64, f64), b: (f64, f64), t: f64| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        let top = lerp(self.grid[i][j], self.grid[i][j + 1], fx);
        let bottom = lerp(self.grid[i + 1][j], self.grid[i + 1][j + 1], fx);
        lerp(top, bottom, fy)
    }
}

/// One 28×28 digit, row-major grey bytes.
pub fn render(digit: usize, rng: &mut SplitMix) -> Vec<u8> {
    let (rot, shear) = (rng.range(-0.26, 0.26), rng.range(-0.3, 0.3));
    let (sx, sy) = (rng.range(0.75, 1.05), rng.range(0.8, 1.08));
    let (tx, ty) = (rng.range(-2.0, 2.0), rng.range(-2.0, 2.0));
    let pen = rng.range(1.1, 2.6);
    let elastic = Elastic::new(rng, 1.6);
    let (c, s) = (rot.cos(), rot.sin());
    // control points jittered, then mapped to pixels: centre, scale to a 20-pixel box, shear, rotate
    let strokes: Vec<Vec<(f64, f64)>> = glyph(digit)
        .into_iter()
        .map(|stroke| {
            stroke
                .into_iter()
                .map(|(x, y)| {
                    let (x, y) = (x + rng.range(-0.035, 0.035) - 0.5, y + rng.range(-0.035, 0.035) - 0.5);
                    let (x, y) = (x * 20.0 * sx + shear * y * 20.0 * sy, y * 20.0 * sy);
                    (c * x - s * y + 13.5 + tx, s * x + c * y + 13.5 + ty)
                })
                .collect()
        })
        .collect();
    let mut out = vec![0u8; SIDE * SIDE];
    for py in 0..SIDE {
        for px in 0..SIDE {
            let (dx, dy) = elastic.at(px as f64, py as f64);
            let p = (px as f64 + dx, py as f64 + dy);
            let d = strokes
                .iter()
                .flat_map(|st| st.windows(2).map(move |w| to_segment(p, w[0], w[1])))
                .fold(f64::INFINITY, f64::min);
            // anti-aliased pen: full inside, a one-pixel ramp at the edge, then noise
            let ink = (pen / 2.0 + 0.5 - d).clamp(0.0, 1.0) + rng.range(-0.06, 0.06);
            out[py * SIDE + px] = (ink.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    out
}

/// Whether `cfg.root` holds the digits these settings make (its stamp says so).
pub fn is_current(cfg: &DigitsConfig) -> bool {
    let stamp = serde_json::to_string_pretty(cfg).expect("serialisable");
    std::fs::read_to_string(cfg.root.join("digits.json")).is_ok_and(|s| s == stamp)
}

/// Generates the four IDX files unless `root` holds them for these settings; into a temporary
/// folder renamed at the end, so an interrupted run leaves nothing half-made. True when it wrote.
pub fn ensure(cfg: &DigitsConfig) -> Result<bool> {
    if is_current(cfg) {
        return Ok(false);
    }
    if cfg.root.exists() {
        return Err(Error::file(
            &cfg.root,
            "exists but holds no digits made with these settings (digits.json); delete it or set digits.root elsewhere",
        ));
    }
    let tmp = PathBuf::from(format!("{}.tmp-{}", cfg.root.display(), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for (k, (prefix, n)) in [("train", cfg.train), ("t10k", cfg.test)].into_iter().enumerate() {
        write_split(&tmp, prefix, n, cfg.seed.wrapping_mul(0x1_0000_0001) ^ ((k as u64) << 40))?;
    }
    atomic::write(&tmp.join("digits.json"), serde_json::to_string_pretty(cfg).expect("json").as_bytes())?;
    if let Some(parent) = cfg.root.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::rename(&tmp, &cfg.root).map_err(|e| Error::io(&cfg.root, e))?;
    Ok(true)
}

fn write_split(dir: &Path, prefix: &str, n: usize, seed: u64) -> Result<()> {
    let mut rng = SplitMix::new(seed);
    let labels: Vec<u8> = (0..n).map(|_| rng.below(10) as u8).collect();
    let mut pixels = Vec::with_capacity(n * SIDE * SIDE);
    for (i, &l) in labels.iter().enumerate() {
        pixels.extend(render(l as usize, &mut SplitMix::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9))));
    }
    write_idx(&dir.join(format!("{prefix}-images-idx3-ubyte")), &[n, SIDE, SIDE], &pixels)?;
    write_idx(&dir.join(format!("{prefix}-labels-idx1-ubyte")), &[n], &labels)
}
