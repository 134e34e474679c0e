//! DejaVu Sans, embedded (the `dejavu` crate's bytes), for every label ibex draws: the machines
//! this runs on may have no system fonts, and a figure's text must read the same everywhere.
//! [`draw_text`] rasterises into our own images (heatmap titles, colour-bar values, grid headers);
//! [`register_for_plots`] hands the same font to `plotters` for the line and bar plots.
use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use std::sync::{LazyLock, Once};

/// The family name plots ask for. In an SVG it is written as the `font-family` attribute, so a
/// viewer without DejaVu falls back to its own sans-serif rather than to a serif default.
pub const FAMILY: &str = "DejaVu Sans, sans-serif";

static REGULAR: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(dejavu::sans::regular()).expect("the dejavu crate's DejaVuSans.ttf parses")
});

/// Registers the font with `plotters` (once per process) under [`FAMILY`], regular and bold.
pub fn register_for_plots() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use plotters::style::{register_font, FontStyle};
        // the bytes are a TrueType file that ab_glyph parses (REGULAR proves it for the first)
        let _ = register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// The advance width of `text` at `px` pixels (the font's ascent-to-descent height), kerned.
pub fn text_width(text: &str, px: f32) -> u32 {
    let font = REGULAR.as_scaled(PxScale::from(px));
    let mut width = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            width += font.kern(p, id);
        }
        width += font.h_advance(id);
        prev = Some(id);
    }
    width.ceil() as u32
}

/// Draws `text` with its top-left corner at (x, y), `px` pixels high, anti-aliased: each glyph's
/// coverage blends `ink` over what is there. Pixels outside the image are skipped.
pub fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, px: f32, ink: Rgb<u8>) {
    let font = REGULAR.as_scaled(PxScale::from(px));
    let baseline = y as f32 + font.ascent();
    let mut pen = x as f32;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            pen += font.kern(p, id);
        }
        let glyph = id.with_scale_and_position(font.scale(), ab_glyph::point(pen, baseline));
        pen += font.h_advance(id);
        prev = Some(id);
        let Some(outline) = REGULAR.outline_glyph(glyph) else { continue };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px_x, px_y) = (bounds.min.x as i64 + gx as i64, bounds.min.y as i64 + gy as i64);
            if px_x < 0 || px_y < 0 || px_x >= img.width() as i64 || px_y >= img.height() as i64 {
                return;
            }
            let a = coverage.clamp(0.0, 1.0);
            let p = img.get_pixel_mut(px_x as u32, px_y as u32);
            for k in 0..3 {
                p.0[k] = (p.0[k] as f32 * (1.0 - a) + ink.0[k] as f32 * a).round() as u8;
            }
        });
    }
}

/// The longest prefix of `text` that fits in `width` pixels at `px`, with "…" when cut.
pub fn fit(text: &str, px: f32, width: u32) -> String {
    if text_width(text, px) <= width {
        return text.to_string();
    }
    let mut cut: String = text.to_string();
    while !cut.is_empty() && text_width(&format!("{cut}…"), px) > width {
        cut.pop();
    }
    format!("{cut}…")
}
