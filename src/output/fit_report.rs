//! A fitted explainer's report in the work dir: its figures as the `fit` section of
//! `metrics.json` (the evaluation keeps that section), its pictures as PNGs in `figures/`.
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tch::Kind;

/// Writes `figures` into `<work_dir>/metrics.json` (created if missing) and each picture
/// (RGB [3,H,W] in [0,1]) to `<work_dir>/figures/<name>.png`.
pub fn write(work_dir: &Path, figures: &BTreeMap<String, f64>, pictures: &[(String, tch::Tensor)]) -> Result<()> {
    for (name, rgb) in pictures {
        let u8 = (rgb.to_device(tch::Device::Cpu) * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8);
        super::maps::write_rgb(&work_dir.join("figures").join(format!("{name}.png")), &u8)?;
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
