//! The HTML page of a text run: every `<name>.json` of a map folder (words and scores) as a
//! paragraph whose words are shaded red by score, max-normalised per review; the score shows on
//! hover. Self-contained, no scripts, written atomically.
use crate::error::{Error, Result};
use std::path::Path;

/// Text made safe inside HTML elements and attribute values.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn write(dir: &Path, out: &Path) -> Result<()> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => {
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        }
        Err(_) => return Ok(()),
    };
    files.sort();
    let title = escape(&dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let mut html = format!("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}} p{{line-height:1.8}} span{{padding:1px 2px;border-radius:3px}}</style></head><body>\n<h1>{title}</h1>\n");
    for f in files {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).map_err(|e| Error::io(&f, e))?)
            .map_err(|e| Error::file(&f, e.to_string()))?;
        let words: Vec<&str> =
            v["tokens"].as_array().map(|a| a.iter().filter_map(|w| w.as_str()).collect()).unwrap_or_default();
        let scores: Vec<f64> =
            v["scores"].as_array().map(|a| a.iter().filter_map(|x| x.as_f64()).collect()).unwrap_or_default();
        let max = scores.iter().copied().fold(0.0, f64::max);
        html += &format!("<h3>{} (target {})</h3>\n<p>", escape(v["name"].as_str().unwrap_or("")), v["target"]);
        for (w, s) in words.iter().zip(&scores) {
            let a = if max > 0.0 { (s / max).clamp(0.0, 1.0) } else { 0.0 };
            html +=
                &format!("<span title=\"{s:.4}\" style=\"background:rgba(220,30,30,{a:.3})\">{}</span> ", escape(w));
        }
        html += "</p>\n";
    }
    html += "</body></html>\n";
    crate::io::atomic::write(out, html.as_bytes())
}
