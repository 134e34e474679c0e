//! Tables of the aggregates: one work dir's (`tools/eval`) and several side by side
//! (`tools/compare`: methods as rows, `metric/value` as columns, Markdown and CSV). Per-n values of
//! Sensitivity-N (`corr@n`, dozens) stay out of the tables; they are its curve.
use super::MetricsFile;
use std::collections::BTreeSet;

fn columns<'a>(files: impl Iterator<Item = &'a MetricsFile>) -> Vec<(String, String)> {
    let mut cols = BTreeSet::new();
    for f in files {
        for (label, r) in &f.metrics {
            for k in r.aggregate.keys().filter(|k| !k.starts_with("corr@")) {
                cols.insert((label.clone(), k.clone()));
            }
        }
    }
    cols.into_iter().collect()
}

fn cell(f: &MetricsFile, (label, key): &(String, String)) -> Option<(f64, f64, usize)> {
    f.metrics.get(label).and_then(|r| r.aggregate.get(key)).map(|s| (s.mean, s.std, s.n))
}

/// Markdown: metric, value, mean ± std, n; then, for each metric that gave no value, why (its
/// samples' warnings, the most frequent first), so that an empty row is never silent.
pub fn summary_table(f: &MetricsFile, labels: &[String]) -> String {
    let mut s = format!("maps: {}\n\n| metric | value | mean ± std | n |\n|---|---|---|---|\n", f.maps);
    for c in columns(std::iter::once(f)).iter().filter(|c| labels.contains(&c.0)) {
        if let Some((m, sd, n)) = cell(f, c) {
            s += &format!("| {} | {} | {m:.4} ± {sd:.4} | {n} |\n", c.0, c.1);
        }
    }
    for label in labels {
        let Some(r) = f.metrics.get(label).filter(|r| r.aggregate.is_empty()) else { continue };
        let mut why: std::collections::BTreeMap<&str, usize> = Default::default();
        for w in r.warnings.values().flatten() {
            *why.entry(w.as_str()).or_default() += 1;
        }
        let mut why: Vec<(&str, usize)> = why.into_iter().collect();
        why.sort_by_key(|w| std::cmp::Reverse(w.1));
        let reasons: Vec<String> = why.iter().take(3).map(|(w, n)| format!("{w} ({n}×)")).collect();
        let reasons = if reasons.is_empty() { "no sample gave a value".to_string() } else { reasons.join("; ") };
        s += &format!("\n{label}: no values from its {} samples: {reasons}\n", r.evaluated.len());
    }
    s
}

/// (Markdown, CSV) of every metric across `rows` = (name, metrics file), after a column of
/// attribution seconds per image when any row has one (`seconds`, by row: [`super::cost`]).
pub fn compare(rows: &[(String, MetricsFile)], seconds: &[Option<f64>]) -> (String, String) {
    let cols = columns(rows.iter().map(|r| &r.1));
    let timed = seconds.iter().any(Option::is_some);
    let (cost_md, cost_csv) = if timed { ("s / image | ", "s_per_image,") } else { ("", "") };
    let head: Vec<String> = cols.iter().map(|(l, k)| format!("{l}/{k}")).collect();
    let n = cols.len() + usize::from(timed);
    let mut md = format!("| method | {cost_md}{} |\n|---|{}\n", head.join(" | "), "---|".repeat(n));
    let mut csv = format!(
        "method,{cost_csv}{}\n",
        cols.iter().map(|(l, k)| format!("{l}/{k}_mean,{l}/{k}_std,{l}/{k}_n")).collect::<Vec<_>>().join(",")
    );
    for (row, (name, f)) in rows.iter().enumerate() {
        let cells: Vec<Option<(f64, f64, usize)>> = cols.iter().map(|c| cell(f, c)).collect();
        let s = seconds.get(row).copied().flatten();
        let (cost_md, cost_csv) = match (timed, s) {
            (false, _) => (String::new(), String::new()),
            (true, Some(s)) => (format!("{s:.3} | "), format!("{s},")),
            (true, None) => ("– | ".into(), ",".into()),
        };
        md += &format!(
            "| {name} | {cost_md}{} |\n",
            cells
                .iter()
                .map(|c| c.map(|(m, s, _)| format!("{m:.4} ± {s:.4}")).unwrap_or_else(|| "–".into()))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        csv += &format!(
            "{name},{cost_csv}{}\n",
            cells
                .iter()
                .map(|c| c.map(|(m, s, n)| format!("{m},{s},{n}")).unwrap_or_else(|| ",,".into()))
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    (md, csv)
}
