//! A fitted explainer's report in the work dir: its figures as the `fit` section of
//! `metrics.json` (the evaluation keeps that section), its pictures as PNGs in `figures/`.
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Writes `figures` into `<work_dir>/metrics.json` (created if missing), each picture (RGB
/// [3,H,W] in [0,1]) to `<work_dir>/figures/<name>.png` and each table to `figures/<name>.json`.
pub fn write(
    work_dir: &Path,
    figures: &BTreeMap<String, f64>,
    pictures: &[(String, tch::Tensor)],
    tables: &[(String, serde_json::Value)],
) -> Result<()> {
    for (name, table) in tables {
        let path = work_dir.join("figures").join(format!("{name}.json"));
        crate::io::atomic::write(&path, serde_json::to_string_pretty(table).expect("json").as_bytes())?;
    }
    for (name, rgb) in pictures {
        super::maps::write_rgb01(&work_dir.join("figures").join(format!("{name}.png")), rgb)?;
    }
    if figures.is_empty() {
        return Ok(());
    }
    let path = work_dir.join("metrics.json");
    let not_metrics =
        |why: String| Error::file(&path, format!("not a metrics file ({why}); move it away to start afresh"));
    let mut file: serde_json::Value = match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| not_metrics(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({ "maps": "", "metrics": {} }),
        Err(e) => return Err(Error::io(&path, e)),
    };
    if !file.is_object() {
        return Err(not_metrics("not a JSON object".into()));
    }
    let finite: BTreeMap<&String, f64> = figures.iter().filter(|(_, v)| v.is_finite()).map(|(k, v)| (k, *v)).collect();
    file["fit"] = serde_json::to_value(finite).expect("json");
    crate::io::atomic::write(&path, serde_json::to_string_pretty(&file).expect("json").as_bytes())
}
