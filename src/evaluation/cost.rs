//! The cost side of a comparison: a work dir's attribution seconds per image (the mean of what
//! `tools/train` records in `explained/<name>.json`), and `tools/compare --plots`'s quality–cost
//! figure: each metric value that lives in [−1, 1] (EHR, relevance mass and rank, insertion and
//! deletion AUC, Sensitivity-N's correlation) against seconds per image on a log axis, one line per
//! value through the work dirs in order of cost. Ratios such as `mass_vs_uniform` would flatten
//! the others, and the points of a curve (Sensitivity-N's `corr@n`, a line each) would bury them:
//! both are left to the table, the curve's summary (`mean_corr`) is drawn.
use super::MetricsFile;
use crate::error::{Error, Result};
use crate::explanation::Explained;
use crate::output::plot::{LinePlot, Series};
use std::collections::BTreeMap;
use std::path::Path;

/// Mean attribution seconds per image over the samples of `work_dir` that recorded it; `None`
/// when none did (made before it was recorded, or by another tool).
pub fn seconds_per_image(work_dir: &Path) -> Result<Option<f64>> {
    let dir = work_dir.join(crate::output::sink::EXPLAINED);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(None) };
    let mut secs = Vec::new();
    for e in entries {
        let path = e.map_err(|e| Error::io(&dir, e))?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let ex: Explained = serde_json::from_slice(&bytes)
            .map_err(|e| Error::file(&path, format!("not a record of an explained sample: {e}")))?;
        secs.extend(ex.seconds);
    }
    Ok((!secs.is_empty()).then(|| secs.iter().sum::<f64>() / secs.len() as f64))
}

/// `metric/value` → (seconds per image, mean) of the rows that have both, by cost.
fn points(rows: &[(String, MetricsFile)], seconds: &[Option<f64>]) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for ((_, f), s) in rows.iter().zip(seconds) {
        let Some(s) = s.filter(|s| *s > 0.0) else { continue };
        for (label, r) in &f.metrics {
            for (value, stat) in r.aggregate.iter().filter(|(v, _)| !v.contains('@')) {
                out.entry(format!("{label}/{value}")).or_default().push((s, stat.mean));
            }
        }
    }
    out.retain(|_, v| v.len() >= 2 && v.iter().all(|(_, m)| m.is_finite() && (-1.0..=1.0).contains(m)));
    for v in out.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// `dir/quality_cost.{png,svg}`; false (nothing written) when fewer than two work dirs have both
/// a cost and a bounded metric.
pub fn write_cost_plot(rows: &[(String, MetricsFile)], seconds: &[Option<f64>], dir: &Path) -> Result<bool> {
    let series: Vec<Series> = points(rows, seconds)
        .into_iter()
        .map(|(name, p)| Series { name, x: p.iter().map(|p| p.0).collect(), y: p.iter().map(|p| p.1).collect() })
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    LinePlot {
        title: "quality against cost".into(),
        x_label: "attribution seconds per image".into(),
        y_label: "metric (mean over samples)".into(),
        x_log: true,
        series,
    }
    .write(&dir.join("quality_cost.png"))?;
    Ok(true)
}
