//! `index.html` of an image run: one row per sample written so far (from `explained/*.json`), with
//! the class explained, the model's prediction and probabilities, whether the result says nothing,
//! and every map the run made as its picture (the heatmap where written, else the overlay or PNG;
//! a concept map's bars; a figure). Self-contained, relative links, no scripts, written atomically.
use super::sink::EXPLAINED;
use super::text_page::escape;
use crate::error::{Error, Result};
use crate::explanation::{Explained, Layout, MapSpec};
use std::path::Path;

/// The picture of sample `name`'s map in `spec` that exists in `root`, as a relative link.
fn picture(root: &Path, spec: &MapSpec, name: &str) -> Option<String> {
    let candidates: &[&str] = match spec.layout {
        Layout::Input => &["_heatmap.png", "_overlay.jpg", ".png"],
        Layout::Concepts { .. } | Layout::Picture => &[".png"],
    };
    candidates.iter().map(|ext| format!("{}/{name}{ext}", spec.dir)).find(|rel| root.join(rel).is_file())
}

/// Class `c` for a page: `3 (cat)` where `classes` names it, else `3` (HTML-escaped).
pub(crate) fn class_label(c: i64, classes: &[String]) -> String {
    match usize::try_from(c).ok().and_then(|i| classes.get(i)) {
        Some(n) => format!("{c} ({})", escape(n)),
        None => c.to_string(),
    }
}

/// Writes `<root>/index.html` for the maps of `specs`; `classes` names the class indices.
pub fn write(root: &Path, specs: &[MapSpec], classes: &[String]) -> Result<()> {
    let dir = root.join(EXPLAINED);
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(rd) => {
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        }
        Err(_) => return Ok(()),
    };
    files.sort();
    let class = |c: i64| class_label(c, classes);
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ibex run</title>\n<style>\
         body{font-family:sans-serif;margin:1.5em} table{border-collapse:collapse} \
         td,th{border-top:1px solid #ccc;padding:6px;vertical-align:top;text-align:left} \
         img{max-width:40em} .bad{color:#b00;font-weight:bold}</style></head><body>\n<h1>ibex run</h1>\n<table>\n\
         <tr><th>sample</th>",
    );
    for s in specs {
        html += &format!("<th>{}</th>", escape(&s.dir));
    }
    html += "</tr>\n";
    for f in files {
        let name = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let e: Explained = serde_json::from_slice(&std::fs::read(&f).map_err(|e| Error::io(&f, e))?)
            .map_err(|e| Error::file(&f, e.to_string()))?;
        let p_target = e.p_target.map_or("-".into(), |p| format!("{p:.3}"));
        html += &format!(
            "<tr><td><b>{}</b><br>label {}<br>explained {} (p {p_target})<br>predicted {} (p {:.3})",
            escape(&name),
            class(e.label),
            class(e.target),
            class(e.prediction),
            e.p_prediction
        );
        if !e.degenerate.is_empty() {
            html += &format!("<br><span class=\"bad\">says nothing:</span> {}", escape(&e.degenerate.join("; ")));
        }
        html += "</td>";
        for s in specs {
            html += &match picture(root, s, &name) {
                Some(rel) => format!("<td><a href=\"{0}\"><img src=\"{0}\" alt=\"{0}\"></a></td>", escape(&rel)),
                None => "<td>-</td>".into(),
            };
        }
        html += "</tr>\n";
    }
    html += "</table>\n</body></html>\n";
    crate::io::atomic::write(&root.join("index.html"), html.as_bytes())
}
