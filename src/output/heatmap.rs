//! Heatmaps a person can read (beside the original's own files): the input, the map min–max
//! normalised in a colour map with its colour bar, and the two blended, side by side and upscaled so
//! that a 28×28 or 64×64 input is visible. The colour maps are matplotlib's, as nine anchors
//! linearly interpolated.
use super::font::{draw_text, fit};
use crate::error::Result;
use image::{Rgb, RgbImage};
use tch::{Kind, Tensor};

/// The colour maps `[output] colormap` may name.
pub const COLORMAPS: [&str; 4] = ["viridis", "inferno", "jet", "gray"];

fn anchors(name: &str) -> &'static [[u8; 3]] {
    match name {
        "inferno" => &[
            [0, 0, 4],
            [31, 12, 72],
            [85, 15, 109],
            [136, 34, 106],
            [186, 54, 85],
            [227, 89, 51],
            [249, 140, 10],
            [249, 201, 50],
            [252, 255, 164],
        ],
        "jet" => &[
            [0, 0, 127],
            [0, 0, 255],
            [0, 127, 255],
            [0, 255, 255],
            [127, 255, 127],
            [255, 255, 0],
            [255, 127, 0],
            [255, 0, 0],
            [127, 0, 0],
        ],
        "gray" => &[[0, 0, 0], [255, 255, 255]],
        _ => &[
            [68, 1, 84],
            [71, 44, 122],
            [59, 81, 139],
            [44, 113, 142],
            [33, 144, 141],
            [39, 173, 129],
            [92, 200, 99],
            [170, 220, 50],
            [253, 231, 37],
        ],
    }
}

/// The colour of v ∈ [0, 1] (clamped) in colour map `name` (unknown names: viridis).
pub fn colour(name: &str, v: f64) -> [u8; 3] {
    let a = anchors(name);
    let t = v.clamp(0.0, 1.0) * (a.len() - 1) as f64;
    let (i, f) = ((t.floor() as usize).min(a.len() - 2), t - t.floor().min((a.len() - 2) as f64));
    std::array::from_fn(|c| (a[i][c] as f64 + (a[i + 1][c] as f64 - a[i][c] as f64) * f).round() as u8)
}

/// Pixels of a panel side: at least `min_side`, a whole multiple of the input's.
pub fn scale(side: i64, min_side: u32) -> u32 {
    let side = side.max(1);
    ((min_side as i64 + side - 1) / side).max(1) as u32
}

const GAP: u32 = 8;
const BAR: u32 = 14;
const TITLE: u32 = 26;
const INK: Rgb<u8> = Rgb([30, 30, 30]);

/// A map resized to [h,w] and min–max normalised, row-major, with the range it spanned.
pub struct Normalised {
    pub heat: Vec<f64>,
    pub lo: f64,
    pub hi: f64,
}

/// `map` [H',W'] (any range; NaN as the min) bilinearly resized to [h,w], then scaled to [0,1].
pub fn normalised(map: &Tensor, h: i64, w: i64) -> Result<Normalised> {
    let mut m = map.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    if m.size() != [h, w] {
        m = m.view([1, 1, m.size()[0], m.size()[1]]).upsample_bilinear2d([h, w], false, None, None).view([h, w]);
    }
    let finite = m.isfinite();
    let (lo, hi) = if finite.any().int64_value(&[]) == 0 {
        (0.0, 0.0)
    } else {
        let vals = m.masked_select(&finite);
        (vals.min().double_value(&[]), vals.max().double_value(&[]))
    };
    let norm = ((m.nan_to_num(lo, Some(hi), Some(lo)) - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
    Ok(Normalised { heat: Vec::<f64>::try_from(norm.contiguous().view(-1))?, lo, hi })
}

/// Half the pixel's grey level, half the heat colour: the heat over the image without hiding it.
pub fn blend(rgb01: [f64; 3], heat: [u8; 3]) -> [u8; 3] {
    let grey = 0.299 * rgb01[0] + 0.587 * rgb01[1] + 0.114 * rgb01[2];
    std::array::from_fn(|k| (0.5 * grey * 255.0 + 0.5 * heat[k] as f64).round() as u8)
}

/// The figure for one map: `image01` [3,H,W] in [0,1], `map` [H,W] (any range; NaN as the min).
pub fn render(image01: &Tensor, map: &Tensor, colormap: &str, min_side: u32, title: &str) -> Result<RgbImage> {
    let img = image01.to_device(tch::Device::Cpu).to_kind(Kind::Float).clamp(0.0, 1.0);
    let (h, w) = (img.size()[1], img.size()[2]);
    let Normalised { heat, lo, hi } = normalised(map, h, w)?;
    let pix = Vec::<f64>::try_from(img.to_kind(Kind::Double).contiguous().view(-1))?;
    let s = scale(h.min(w), min_side);
    let (pw, ph) = (w as u32 * s, h as u32 * s);
    let width = 3 * pw + 2 * GAP + GAP + BAR + 70;
    let mut out = RgbImage::from_pixel(width, TITLE + ph + GAP, Rgb([255, 255, 255]));
    draw_text(&mut out, 4, 4, &fit(title, 16.0, width - 8), 16.0, INK);
    let plane = (h * w) as usize;
    for y in 0..ph {
        for x in 0..pw {
            let i = (y / s) as usize * w as usize + (x / s) as usize;
            let rgb: [f64; 3] = std::array::from_fn(|c| pix[c * plane + i]);
            let c = colour(colormap, heat[i]);
            let blend = blend(rgb, c);
            out.put_pixel(x, TITLE + y, Rgb(rgb.map(|v| (v * 255.0).round() as u8)));
            out.put_pixel(pw + GAP + x, TITLE + y, Rgb(c));
            out.put_pixel(2 * (pw + GAP) + x, TITLE + y, Rgb(blend));
        }
    }
    let bx = 3 * pw + 3 * GAP;
    for y in 0..ph {
        let c = colour(colormap, 1.0 - y as f64 / (ph - 1).max(1) as f64);
        for x in 0..BAR {
            out.put_pixel(bx + x, TITLE + y, Rgb(c));
        }
    }
    use super::plot::label;
    draw_text(&mut out, (bx + BAR + 4) as i64, TITLE as i64 - 2, &label(hi), 12.0, INK);
    draw_text(&mut out, (bx + BAR + 4) as i64, (TITLE + ph) as i64 - 12, &label(lo), 12.0, INK);
    Ok(out)
}
