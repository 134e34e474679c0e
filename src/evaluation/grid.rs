//! `tools/compare --grid DIR`: the same images explained by several work dirs, one column per method
//! (WhiteBox's "coherence" figure). Each map is min–max normalised on its own, drawn in one colour
//! map and blended over the image, so the columns compare where each method puts its heat, not its
//! scale. Written as `grid.png` and `grid.html` (one cell PNG per map in `cells/`, with the class
//! explained and the prediction of each row).
use crate::error::{Error, Result};
use crate::explanation::Explained;
use crate::output::font::{draw_text, fit};
use crate::output::gallery::class_label;
use crate::output::heatmap::{blend, colour, normalised, scale, Normalised};
use crate::output::plot::png_bytes;
use crate::output::text_page::escape;
use crate::output::MapFormat;
use crate::run::Run;
use image::{Rgb, RgbImage};
use std::path::{Path, PathBuf};
use tch::Kind;

/// What the grid shows.
pub struct GridOptions {
    /// Rows: the first this many samples (in the dataset's order) that every work dir has a map of.
    pub samples: usize,
    pub colormap: String,
    /// Least pixels of a cell side (small inputs are upscaled by a whole factor).
    pub cell: u32,
}

/// One method: a work dir and the folder of maps it is judged by (its attributor's own).
struct Column {
    title: String,
    maps: PathBuf,
}

const GAP: u32 = 6;
const HEADER: u32 = 22;
const INK: Rgb<u8> = Rgb([30, 30, 30]);

fn column(wd: &Path) -> Result<(Run, Column)> {
    let run = Run::load(&wd.join("config.toml"), &[])?;
    let maps = run.attributor()?.main_output();
    let name = wd.file_name().map_or_else(|| wd.display().to_string(), |n| n.to_string_lossy().into_owned());
    let title = format!("{name} ({maps})");
    Ok((run, Column { title, maps: wd.join(maps) }))
}

/// Writes `out/grid.png`, `out/grid.html` and `out/cells/` for the work dirs in `work_dirs`.
pub fn write_grid(work_dirs: &[PathBuf], out: &Path, opts: &GridOptions) -> Result<()> {
    let mut runs = Vec::new();
    let mut columns = Vec::new();
    for wd in work_dirs {
        let (run, col) = column(wd)?;
        runs.push(run);
        columns.push(col);
    }
    let attribution = |r: &Run| r.fig.find_value("data.attribution").ok();
    if let Some(i) = runs.iter().position(|r| attribution(r) != attribution(&runs[0])) {
        return Err(Error::ConfigMsg(format!(
            "{} and {} explain different images (their [data.attribution] tables differ): a grid needs the same ones",
            work_dirs[0].display(),
            work_dirs[i].display()
        )));
    }
    let data = runs[0].dataset("attribution")?;
    if data.modality() != crate::modality::Modality::Image {
        return Err(Error::ConfigMsg(
            "--grid draws images; a text run's maps are in its own HTML page (<maps>.html)".into(),
        ));
    }
    let has_all = |name: &str| columns.iter().all(|c| MapFormat::Png.path(&c.maps, name).is_file());
    let rows: Vec<(usize, String)> =
        (0..data.len()).map(|i| (i, data.name(i))).filter(|(_, n)| has_all(n)).take(opts.samples).collect();
    if rows.is_empty() {
        return Err(Error::ConfigMsg("no sample has a map in every work dir given: run tools/train on each".into()));
    }
    let cells = out.join("cells");
    std::fs::create_dir_all(&cells).map_err(|e| Error::io(&cells, e))?;
    let mut grid_rows = Vec::new();
    for (i, name) in &rows {
        let image = Pixels::of(&data.transform().denormalize(&data.get(*i)?.input))?;
        let mut row = vec![image.cell(None, &opts.colormap, opts.cell)];
        for c in &columns {
            let map = MapFormat::Png.load(&MapFormat::Png.path(&c.maps, name))?;
            row.push(image.cell(Some(&normalised(&map, image.h, image.w)?), &opts.colormap, opts.cell));
        }
        for (k, img) in row.iter().enumerate() {
            let f = cells.join(format!("{name}_{k}.png"));
            crate::io::atomic::write(&f, &png_bytes(img)?)?;
        }
        grid_rows.push(row);
    }
    let titles: Vec<&str> = std::iter::once("image").chain(columns.iter().map(|c| c.title.as_str())).collect();
    crate::io::atomic::write(&out.join("grid.png"), &png_bytes(&compose(&grid_rows, &titles))?)?;
    let explained = work_dirs[0].join(crate::output::sink::EXPLAINED);
    crate::io::atomic::write(&out.join("grid.html"), html(&rows, &titles, &explained, data.class_names()).as_bytes())
}

/// A row's image in [0,1], channel-major, read once for all of its cells.
struct Pixels {
    pix: Vec<f64>,
    h: i64,
    w: i64,
}

impl Pixels {
    fn of(image01: &tch::Tensor) -> Result<Pixels> {
        let img = image01.to_device(tch::Device::Cpu).to_kind(Kind::Double).clamp(0.0, 1.0);
        let (h, w) = (img.size()[1], img.size()[2]);
        Ok(Pixels { pix: Vec::<f64>::try_from(img.contiguous().view(-1))?, h, w })
    }

    /// The image (no map) or the map's heat blended over it, each pixel an `s`×`s` block.
    fn cell(&self, heat: Option<&Normalised>, colormap: &str, min_side: u32) -> RgbImage {
        let (h, w) = (self.h, self.w);
        let s = scale(h.min(w), min_side);
        let plane = (h * w) as usize;
        RgbImage::from_fn(w as u32 * s, h as u32 * s, |x, y| {
            let i = (y / s) as usize * w as usize + (x / s) as usize;
            let rgb: [f64; 3] = std::array::from_fn(|c| self.pix[c * plane + i]);
            Rgb(match heat {
                Some(n) => blend(rgb, colour(colormap, n.heat[i])),
                None => rgb.map(|v| (v * 255.0).round() as u8),
            })
        })
    }
}

/// The rows of cells under a header of column titles (cut to the cell's width, with "…").
fn compose(rows: &[Vec<RgbImage>], titles: &[&str]) -> RgbImage {
    let (cw, ch) = rows[0][0].dimensions();
    let cols = rows[0].len() as u32;
    let mut out = RgbImage::from_pixel(
        cols * (cw + GAP) + GAP,
        HEADER + rows.len() as u32 * (ch + GAP) + GAP,
        Rgb([255, 255, 255]),
    );
    for (k, t) in titles.iter().enumerate() {
        draw_text(&mut out, (GAP + k as u32 * (cw + GAP)) as i64, 4, &fit(t, 13.0, cw), 13.0, INK);
    }
    for (r, row) in rows.iter().enumerate() {
        for (k, img) in row.iter().enumerate() {
            let (x0, y0) = (GAP + k as u32 * (cw + GAP), HEADER + r as u32 * (ch + GAP));
            image::imageops::replace(&mut out, img, x0 as i64, y0 as i64);
        }
    }
    out
}

/// The page: a row per sample with what it explains (from the first work dir), a column per method.
fn html(rows: &[(usize, String)], titles: &[&str], explained: &Path, classes: &[String]) -> String {
    let class = |c: i64| class_label(c, classes);
    let mut s = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ibex: maps side by side</title>\n<style>\
         body{font-family:sans-serif;margin:1.5em} table{border-collapse:collapse} \
         td,th{padding:4px;vertical-align:top;text-align:left} img{width:12em}</style></head><body>\n\
         <h1>Maps side by side</h1>\n<p>Each map min–max normalised on its own and blended over the image.</p>\n\
         <table>\n<tr><th>sample</th>",
    );
    for t in titles {
        s += &format!("<th>{}</th>", escape(t));
    }
    s += "</tr>\n";
    for (_, name) in rows {
        let what = std::fs::read(explained.join(format!("{name}.json")))
            .ok()
            .and_then(|b| serde_json::from_slice::<Explained>(&b).ok())
            .map_or(String::new(), |e| {
                format!(
                    "<br>explained {}<br>predicted {} (p {:.3})",
                    class(e.target),
                    class(e.prediction),
                    e.p_prediction
                )
            });
        s += &format!("<tr><td><b>{}</b>{what}</td>", escape(name));
        for (k, t) in titles.iter().enumerate() {
            s += &format!("<td><img src=\"cells/{}_{k}.png\" alt=\"{}\"></td>", escape(name), escape(t));
        }
        s += "</tr>\n";
    }
    s + "</table>\n</body></html>\n"
}
