//! Horizontal bar charts as PNG: one named bar per concept (SENN's explanation plot, spec peers
//! §2.8: the seed's `create_barplot`, blue above zero, red below), scaled symmetrically about zero
//! so that the sign of each bar is read at a glance.
use super::font::{draw_text, text_width};
use super::plot::label;
use crate::error::Result;
use image::{Rgb, RgbImage};
use std::path::Path;

pub struct BarPlot {
    pub title: String,
    pub labels: Vec<String>,
    pub values: Vec<f64>,
}

const ROW: u32 = 26;
const BAR_W: u32 = 360;
const MARGIN: u32 = 14;
const TOP: u32 = 40;
const INK: Rgb<u8> = Rgb([30, 30, 30]);
const POSITIVE: Rgb<u8> = Rgb([31, 119, 180]);
const NEGATIVE: Rgb<u8> = Rgb([214, 39, 40]);

fn fill(img: &mut RgbImage, x0: u32, x1: u32, y0: u32, y1: u32, c: Rgb<u8>) {
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            img.put_pixel(x, y, c);
        }
    }
}

impl BarPlot {
    /// The chart: labels on the left, bars about a zero line in the middle, each value at its bar.
    pub fn render(&self) -> RgbImage {
        let label_w = self.labels.iter().map(|l| text_width(l, 2)).max().unwrap_or(0);
        let value_w = self.values.iter().map(|v| text_width(&label(*v), 1)).max().unwrap_or(0);
        let w = (MARGIN * 3 + label_w + BAR_W + 2 * value_w).max(text_width(&self.title, 2) + 2 * MARGIN);
        let h = TOP + ROW * self.values.len() as u32 + MARGIN;
        let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
        draw_text(&mut img, MARGIN as i64, 12, &self.title, 2, INK);
        let scale = self.values.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
        let left = MARGIN * 2 + label_w + value_w;
        let zero = left + BAR_W / 2;
        for (k, (name, &v)) in self.labels.iter().zip(&self.values).enumerate() {
            let y = TOP + ROW * k as u32;
            draw_text(&mut img, MARGIN as i64, y as i64 + 5, name, 2, INK);
            let len =
                if scale > 0.0 && v.is_finite() { (v.abs() / scale * (BAR_W / 2) as f64).round() as u32 } else { 0 };
            let (x0, x1, c) = if v >= 0.0 { (zero, zero + len, POSITIVE) } else { (zero - len, zero, NEGATIVE) };
            fill(&mut img, x0, x1, y + 4, y + ROW - 4, c);
            let text = label(v);
            let tx = if v >= 0.0 { x1 as i64 + 4 } else { x0 as i64 - 4 - text_width(&text, 1) as i64 };
            draw_text(&mut img, tx, y as i64 + 9, &text, 1, INK);
        }
        fill(&mut img, zero, zero + 1, TOP - 4, h - MARGIN + 4, INK);
        img
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        super::plot::write_image(&self.render(), path)
    }
}
