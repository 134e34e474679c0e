//! The plots of the curve metrics, PNG and SVG: `<work dir>/plots/<metric>.{png,svg}` from
//! `tools/eval` (the sample-mean curves), `<dir>/<metric>.{png,svg}` from `tools/compare` (one line
//! per work dir and curve).
use super::{MetricReport, MetricsFile};
use crate::error::Result;
use crate::output::plot::{LinePlot, Series};
use std::path::Path;

/// Axis labels by the curves' names and whether the metric reads text; Sensitivity-N's n (pixels,
/// spanning decades) goes on a log axis, the text version's fractions of words on a linear one.
fn axes(curve: &str, text: bool) -> (&'static str, &'static str, bool) {
    match curve {
        "insertion" | "deletion" if text => ("fraction of words perturbed", "softmax of the target", false),
        "sensitivity_n" if text => ("fraction of words removed", "pearson correlation", false),
        "insertion" | "deletion" => ("fraction of pixels perturbed", "softmax of the target", false),
        "sensitivity_n" => ("n (pixels removed)", "pearson correlation", true),
        "ssim" => ("cascade step (output layer first)", "ssim to the original map", false),
        "morf" | "lerf" => ("fraction of tiles removed", "softmax - clean softmax", false),
        "selectivity" => ("fraction of patches removed", "softmax of the target", false),
        _ => ("fraction r of pixels", "test accuracy", false),
    }
}

/// Whether the report is of a text metric (`TextInsertionDeletion`, `TextSensitivityN`).
fn is_text(r: &MetricReport) -> bool {
    r.params["type"].as_str().is_some_and(|t| t.starts_with("Text"))
}

fn series(name: String, curve: &str, r: &MetricReport) -> Option<Series> {
    let c = r.curves.get(curve)?;
    Some(Series { name, x: c.x.clone(), y: c.mean.clone() })
}

fn plot(title: String, rows: &[(String, &MetricReport)]) -> Option<LinePlot> {
    let (_, r) = rows.first()?;
    let (x_label, y_label, x_log) = axes(r.curves.keys().next()?, is_text(r));
    let mut all = Vec::new();
    for (name, r) in rows {
        for curve in r.curves.keys() {
            let n = if name.is_empty() {
                curve.clone()
            } else if r.curves.len() == 1 {
                name.clone()
            } else {
                format!("{name} {curve}")
            };
            all.extend(series(n, curve, r));
        }
    }
    Some(LinePlot { title, x_label: x_label.into(), y_label: y_label.into(), x_log, series: all })
}

/// One plot per metric of `file` that has curves, into `dir/<metric>.{png,svg}`.
pub fn write_eval_plots(file: &MetricsFile, dir: &Path) -> Result<()> {
    for (label, r) in &file.metrics {
        if let Some(p) = plot(
            format!("{label} ({}, mean of {} samples)", file.maps, r.curves.values().map(|c| c.n).max().unwrap_or(0)),
            &[(String::new(), r)],
        ) {
            p.write(&dir.join(format!("{label}.png")))?;
        }
    }
    Ok(())
}

/// One plot per metric across the work dirs, into `dir/<metric>.{png,svg}`.
pub fn write_compare_plots(rows: &[(String, MetricsFile)], dir: &Path) -> Result<()> {
    let labels: std::collections::BTreeSet<&String> = rows.iter().flat_map(|(_, f)| f.metrics.keys()).collect();
    for label in labels {
        let with: Vec<(String, &MetricReport)> = rows
            .iter()
            .filter_map(|(n, f)| f.metrics.get(label).filter(|r| !r.curves.is_empty()).map(|r| (n.clone(), r)))
            .collect();
        if let Some(p) = plot(label.clone(), &with) {
            p.write(&dir.join(format!("{label}.png")))?;
        }
    }
    Ok(())
}
