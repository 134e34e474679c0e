//! Line plots for papers (`tools/eval`'s curves, `tools/compare`'s overlays, the SENN sweep), drawn
//! by `plotters` in DejaVu Sans as PNG and, beside it, SVG: the data range widened by 4% (so a
//! curve at its extreme is not hidden by the frame), round ticks, a log axis where the metric's x
//! spans decades, one colour per series (a marker at each point when there are few) and the
//! legend right of the frame, never on the data.
//! Written atomically.
use super::font::{register_for_plots, text_width, FAMILY};
use crate::error::{Error, Result};
use image::RgbImage;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
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
    /// x on a log10 axis (every x must be > 0; others are left out)
    pub x_log: bool,
    pub series: Vec<Series>,
}
const W: u32 = 720;
const H: u32 = 480;
const LEGEND_PX: f32 = 15.0;
/// Series of at most this many points get a marker at each.
const MARKED: usize = 16;
/// matplotlib's tab10, so that figures beside the originals' use the same colours
pub(crate) const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];
pub(crate) const INK: RGBColor = RGBColor(30, 30, 30);

/// A number on a figure (ticks, bars, colour bars): few digits, scientific notation for very
/// large or small values.
pub(crate) fn label(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-2) {
        format!("{v:.1e}")
    } else {
        format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A tick's label: a tick at zero computed as 0.1 + 0.2 - 0.3 reads "0", not "-1.1e-16".
fn tick(v: f64, span: f64) -> String {
    label(if v.abs() < span * 1e-9 { 0.0 } else { v })
}

/// The finite values' range widened by 4% each side (on a log axis, 4% of the decades), so that
/// a curve at its extreme is drawn inside the frame, not under it.
pub fn padded(vals: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let vals = vals.filter(|v| v.is_finite() && (!log || *v > 0.0)).map(|v| if log { v.log10() } else { v });
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = (hi - lo) * 0.04;
        (lo - pad, hi + pad)
    };
    if log {
        (10f64.powf(lo), 10f64.powf(hi))
    } else {
        (lo, hi)
    }
}

/// A drawing failure as our error (the backends write to memory, so this is a plotters bug).
pub(crate) fn drawing<E: std::fmt::Display>(e: E) -> Error {
    Error::Data(format!("drawing a figure: {e}"))
}

impl LinePlot {
    fn legend_width(&self) -> u32 {
        self.series.iter().map(|s| text_width(&s.name, LEGEND_PX)).max().unwrap_or(0) + 60
    }

    /// The figure's size in pixels: the plot, then the legend column.
    pub fn size(&self) -> (u32, u32) {
        (W + self.legend_width(), H)
    }

    fn points(&self, s: &Series) -> Vec<(f64, f64)> {
        s.x.iter()
            .zip(&s.y)
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.x_log || **x > 0.0))
            .map(|(&x, &y)| (x, y))
            .collect()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(drawing)?;
        let (plot, legend) = root.split_horizontally(W);
        let y = padded(self.series.iter().flat_map(|s| s.y.iter().copied()), false);
        let x = padded(self.series.iter().flat_map(|s| s.x.iter().copied()), self.x_log);
        if self.x_log {
            self.chart(&plot, (x.0..x.1).log_scale(), 0.0, y)?;
        } else {
            self.chart(&plot, x.0..x.1, x.1 - x.0, y)?;
        }
        for (k, s) in self.series.iter().enumerate() {
            let c = COLOURS[k % COLOURS.len()];
            let row = 64 + 24 * k as i32;
            legend
                .draw(&PathElement::new(vec![(10, row), (36, row)], c.stroke_width(2)))
                .and_then(|_| legend.draw(&Text::new(s.name.clone(), (44, row - 9), (FAMILY, LEGEND_PX).into_font())))
                .map_err(drawing)?;
        }
        root.present().map_err(drawing)
    }

    /// The framed chart; `x_span` is the linear x range (0 on a log axis) for [`tick`].
    fn chart<DB, X>(&self, area: &DrawingArea<DB, Shift>, x: X, x_span: f64, (y0, y1): (f64, f64)) -> Result<()>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FAMILY, 20))
            .margin(14)
            .x_label_area_size(52)
            .y_label_area_size(72)
            .build_cartesian_2d(x, y0..y1)
            .map_err(drawing)?;
        let (x_fmt, y_fmt) = (|v: &f64| tick(*v, x_span), |v: &f64| tick(*v, y1 - y0));
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(TRANSPARENT)
            .axis_style(INK)
            .draw()
            .map_err(drawing)?;
        for (k, s) in self.series.iter().enumerate() {
            let c = COLOURS[k % COLOURS.len()];
            let points = self.points(s);
            chart.draw_series(LineSeries::new(points.clone(), c.stroke_width(2))).map_err(drawing)?;
            // a few measurements (runs, sweep values) are marked, so the reader sees where they
            // are; a dense curve's points would only thicken the line
            if points.len() <= MARKED {
                chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, c.filled()))).map_err(drawing)?;
            }
        }
        Ok(())
    }

    pub fn render(&self) -> Result<RgbImage> {
        render_with(self.size(), |root| self.draw(root))
    }

    pub fn svg(&self) -> Result<String> {
        svg_with(self.size(), |root| self.draw(root))
    }

    /// `path` (PNG) and the same figure as SVG beside it (`path` with the extension `svg`).
    pub fn write(&self, path: &Path) -> Result<()> {
        write_image(&self.render()?, path)?;
        write_svg(&self.svg()?, path)
    }
}

/// A figure drawn by `draw` into a white RGB image of `size`.
pub(crate) fn render_with(
    (w, h): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<RgbImage> {
    register_for_plots();
    let mut buf = vec![255u8; (w * h * 3) as usize];
    draw(&BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area())?;
    RgbImage::from_raw(w, h, buf).ok_or_else(|| drawing("the bitmap buffer has the wrong size"))
}

/// The same figure as an SVG document.
pub(crate) fn svg_with(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    register_for_plots();
    let mut out = String::new();
    draw(&SVGBackend::with_string(&mut out, size).into_drawing_area())?;
    Ok(out)
}

/// The SVG beside the PNG at `png_path`, atomically.
pub(crate) fn write_svg(svg: &str, png_path: &Path) -> Result<()> {
    crate::io::atomic::write(&png_path.with_extension("svg"), svg.as_bytes())
}

/// The image encoded as PNG (in memory, for a file or a TensorBoard event).
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| Error::Data(format!("encoding a PNG: {e}")))?;
    Ok(bytes)
}

/// A rendered figure as PNG, atomically, its folder made if missing.
pub fn write_image(img: &RgbImage, path: &Path) -> Result<()> {
    let bytes = png_bytes(img).map_err(|e| Error::file(path, e.to_string()))?;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    crate::io::atomic::write(path, &bytes)
}
