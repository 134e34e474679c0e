//! Line plots as PNG (`tools/eval`'s curves, `tools/compare`'s overlays): axes with round tick
//! values (1, 2 or 5 × 10^k apart) over the data range widened by 4%, one colour per series, the
//! legend right of the frame, our own 5×7 font. Written atomically.
use super::font::{draw_text, text_width};
use crate::error::{Error, Result};
use image::{Rgb, RgbImage};
use std::path::Path;

pub struct Series {
    pub name: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

pub struct LinePlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

const W: u32 = 720;
const H: u32 = 480;
const LEFT: i64 = 90;
const RIGHT: i64 = 30;
const TOP: i64 = 64;
const BOTTOM: i64 = 70;
const COLOURS: [[u8; 3]; 8] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
];
const INK: Rgb<u8> = Rgb([30, 30, 30]);

fn line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
    for i in 0..=steps {
        let (x, y) = (x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps);
        for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
            let (px, py) = (x + dx, y + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, c);
            }
        }
    }
}

/// A number on a figure (ticks, bars, colour bars): few digits, scientific notation for very
/// large or small values.
pub(crate) fn label(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-2) {
        format!("{v:.1e}")
    } else {
        format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        vals.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// The largest tick step of 1, 2 or 5 × 10^k that puts at least four ticks in [lo, hi].
fn nice_step(lo: f64, hi: f64) -> f64 {
    let mag = 10f64.powf(((hi - lo) / 5.0).log10().floor());
    let count = |step: f64| (hi / step).floor() - (lo / step).ceil() + 1.0;
    [10.0, 5.0, 2.0, 1.0].into_iter().map(|m| m * mag).find(|&s| count(s) >= 4.0).unwrap_or(mag)
}

/// The axis: the data range widened by 4% each side (so a curve at its extreme is not hidden by
/// the frame) and the round tick values inside it.
pub fn axis(vals: impl Iterator<Item = f64>) -> ((f64, f64), Vec<f64>) {
    let (lo, hi) = range(vals);
    let pad = (hi - lo) * 0.04;
    let (lo, hi) = (lo - pad, hi + pad);
    let step = nice_step(lo, hi);
    let first = (lo / step).ceil() as i64;
    let ticks = (first..)
        .map(|k| k as f64 * step)
        .take_while(|t| *t <= hi + 1e-9 * step)
        .map(|t| if t.abs() < 1e-9 * step { 0.0 } else { t })
        .collect();
    ((lo, hi), ticks)
}

impl LinePlot {
    pub fn render(&self) -> RgbImage {
        let legend = self.series.iter().map(|s| text_width(&s.name, 2) as i64).max().unwrap_or(0) + 50;
        let w = W + legend as u32;
        let mut img = RgbImage::from_pixel(w, H, Rgb([255, 255, 255]));
        let ((x0, x1), x_ticks) = axis(self.series.iter().flat_map(|s| s.x.iter().copied()));
        let ((y0, y1), y_ticks) = axis(self.series.iter().flat_map(|s| s.y.iter().copied()));
        let (pw, ph) = (W as i64 - LEFT - RIGHT, H as i64 - TOP - BOTTOM);
        let px = |x: f64| LEFT + ((x - x0) / (x1 - x0) * pw as f64).round() as i64;
        let py = |y: f64| TOP + ph - ((y - y0) / (y1 - y0) * ph as f64).round() as i64;
        for (a, b) in [
            ((LEFT, TOP), (LEFT + pw, TOP)),
            ((LEFT, TOP + ph), (LEFT + pw, TOP + ph)),
            ((LEFT, TOP), (LEFT, TOP + ph)),
            ((LEFT + pw, TOP), (LEFT + pw, TOP + ph)),
        ] {
            line(&mut img, a, b, INK);
        }
        for xv in x_ticks {
            let (tx, xl) = (px(xv), label(xv));
            line(&mut img, (tx, TOP + ph), (tx, TOP + ph + 5), INK);
            draw_text(&mut img, tx - text_width(&xl, 2) as i64 / 2, TOP + ph + 10, &xl, 2, INK);
        }
        for yv in y_ticks {
            let (ty, yl) = (py(yv), label(yv));
            line(&mut img, (LEFT - 5, ty), (LEFT, ty), INK);
            draw_text(&mut img, LEFT - 10 - text_width(&yl, 2) as i64, ty - 7, &yl, 2, INK);
        }
        draw_text(&mut img, (w as i64 - text_width(&self.title, 2) as i64) / 2, 10, &self.title, 2, INK);
        draw_text(
            &mut img,
            LEFT + (pw - text_width(&self.x_label, 2) as i64) / 2,
            H as i64 - 30,
            &self.x_label,
            2,
            INK,
        );
        draw_text(&mut img, 8, TOP - 22, &self.y_label, 2, INK);
        for (k, s) in self.series.iter().enumerate() {
            let c = Rgb(COLOURS[k % COLOURS.len()]);
            let pts: Vec<(i64, i64)> =
                s.x.iter()
                    .zip(&s.y)
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .map(|(&x, &y)| (px(x), py(y)))
                    .collect();
            for w in pts.windows(2) {
                line(&mut img, w[0], w[1], c);
            }
            // the legend right of the frame, never on the data
            let (ly, lx) = (TOP + 10 + 20 * k as i64, LEFT + pw + 12);
            line(&mut img, (lx, ly + 7), (lx + 22, ly + 7), c);
            draw_text(&mut img, lx + 28, ly, &s.name, 2, c);
        }
        img
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        write_image(&self.render(), path)
    }
}

/// A rendered figure as PNG, atomically, its folder made if missing.
/// The image encoded as PNG (in memory, for a file or a TensorBoard event).
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| Error::Data(format!("encoding a PNG: {e}")))?;
    Ok(bytes)
}

pub fn write_image(img: &RgbImage, path: &Path) -> Result<()> {
    let bytes = png_bytes(img).map_err(|e| Error::file(path, e.to_string()))?;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    crate::io::atomic::write(path, &bytes)
}
