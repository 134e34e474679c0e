//! Horizontal bar charts as PNG and SVG: one named bar per concept (SENN's explanation plot, spec
//! peers §2.8: the seed's `create_barplot`, blue above zero, red below), scaled symmetrically
//! about zero so that the sign of each bar is read at a glance, each value printed at its bar.
use super::font::{text_width, FAMILY};
use super::plot::{drawing, label, render_with, svg_with, write_image, write_svg, COLOURS, INK};
use crate::error::Result;
use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

pub struct BarPlot {
    pub title: String,
    pub labels: Vec<String>,
    pub values: Vec<f64>,
}

const ROW: u32 = 30;
const BAR_W: u32 = 420;
const TOP: u32 = 48;
const LABEL_PX: f32 = 15.0;
const VALUE_PX: f32 = 13.0;

impl BarPlot {
    /// The figure's size: the label column, the bars with room for their values, the title.
    pub fn size(&self) -> (u32, u32) {
        let label_w = self.labels.iter().map(|l| text_width(l, LABEL_PX)).max().unwrap_or(0);
        let w = (label_w + BAR_W + 60).max(text_width(&self.title, 20.0) + 40);
        (w, TOP + ROW * self.values.len().max(1) as u32 + 20)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(drawing)?;
        let n = self.values.len();
        let m = self.values.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
        // room either side for the value printed past the longest bar
        let m = if m > 0.0 { m * 1.3 } else { 1.0 };
        let label_w = self.labels.iter().map(|l| text_width(l, LABEL_PX)).max().unwrap_or(0);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 20))
            .margin(12)
            .y_label_area_size(label_w + 14)
            .x_label_area_size(0)
            .build_cartesian_2d(-m..m, (0..n as i32).into_segmented())
            .map_err(drawing)?;
        // the first concept on top: row k sits at segment n-1-k
        let name = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => self.labels.get(n - 1 - *i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(n)
            .y_label_formatter(&name)
            .label_style((FAMILY, LABEL_PX as f64))
            .axis_style(WHITE)
            .draw()
            .map_err(drawing)?;
        let (blue, red) = (COLOURS[0], COLOURS[1]);
        for (k, &v) in self.values.iter().enumerate() {
            let row = (n - 1 - k) as i32;
            let v = if v.is_finite() { v } else { 0.0 };
            let (lo, hi) = (SegmentValue::Exact(row), SegmentValue::Exact(row + 1));
            let colour = if v >= 0.0 { blue } else { red };
            chart.draw_series([Rectangle::new([(0.0, lo), (v, hi)], colour.filled())]).map_err(drawing)?;
            let text = label(v);
            // the value just past the bar's end, on its side of zero
            let (at, anchor) = if v >= 0.0 { (v + m * 0.02, HPos::Left) } else { (v - m * 0.02, HPos::Right) };
            let style = (FAMILY, VALUE_PX as f64).into_font().color(&INK).pos(Pos::new(anchor, VPos::Center));
            chart.draw_series([Text::new(text, (at, SegmentValue::CenterOf(row)), style)]).map_err(drawing)?;
        }
        chart
            .draw_series([PathElement::new(
                vec![(0.0, SegmentValue::Exact(0)), (0.0, SegmentValue::Exact(n as i32))],
                INK,
            )])
            .map_err(drawing)?;
        root.present().map_err(drawing)
    }

    pub fn render(&self) -> Result<RgbImage> {
        render_with(self.size(), |root| self.draw(root))
    }

    /// `path` (PNG) and the same chart as SVG beside it.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_image(&self.render()?, path)?;
        write_svg(&svg_with(self.size(), |root| self.draw(root))?, path)
    }
}
