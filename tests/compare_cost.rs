//! `tools/compare`'s cost side: seconds per image from the work dir's `explained/` records, the
//! table's cost column, and the quality–cost plot of the bounded metrics.
use ibex::evaluation::cost::{seconds_per_image, write_cost_plot};
use ibex::evaluation::{compare, MetricReport, MetricsFile, Stat};
use ibex::explanation::Explained;
use std::path::Path;

fn record(dir: &Path, name: &str, seconds: Option<f64>) {
    let e = Explained {
        label: 0,
        target: 0,
        prediction: 0,
        p_prediction: 0.9,
        p_target: Some(0.9),
        degenerate: Vec::new(),
        seconds,
    };
    std::fs::create_dir_all(dir.join("explained")).unwrap();
    std::fs::write(dir.join("explained").join(format!("{name}.json")), serde_json::to_vec(&e).unwrap()).unwrap();
}

fn metrics(ehr: f64, ratio: f64) -> MetricsFile {
    let report = |values: &[(&str, f64)]| MetricReport {
        aggregate: values.iter().map(|(k, v)| (k.to_string(), Stat { mean: *v, std: 0.0, n: 4 })).collect(),
        ..Default::default()
    };
    let mut f = MetricsFile { maps: "input_masks".into(), ..Default::default() };
    f.metrics.insert("ehr".into(), report(&[("ehr", ehr)]));
    f.metrics.insert("relevance_mass".into(), report(&[("mass", ehr - 0.1), ("mass_vs_uniform", ratio)]));
    f.metrics.insert("sensitivity_n".into(), report(&[("corr@1", 0.5), ("mean_corr", ehr - 0.9)]));
    f
}

#[test]
fn seconds_per_image_is_the_mean_of_the_recorded_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let wd = tmp.path().join("a");
    record(&wd, "x", Some(1.0));
    record(&wd, "y", Some(3.0));
    record(&wd, "z", None); // made before the time was recorded
    assert_eq!(seconds_per_image(&wd).unwrap(), Some(2.0));
    assert_eq!(seconds_per_image(&tmp.path().join("none")).unwrap(), None);
    std::fs::write(wd.join("explained/bad.json"), b"{").unwrap();
    let e = seconds_per_image(&wd).unwrap_err().to_string();
    assert!(e.contains("bad.json"), "{e}");
}

#[test]
fn the_table_has_a_cost_column_when_a_work_dir_was_timed() {
    let rows = vec![("fast".to_string(), metrics(0.8, 11.0)), ("old".to_string(), metrics(0.7, 9.0))];
    let (md, csv) = compare(&rows, &[Some(2.0), None]);
    assert!(md.starts_with("| method | s / image | ehr/ehr |"), "{md}");
    assert!(md.contains("| fast | 2.000 | 0.8000 ± 0.0000 |") && md.contains("| old | – | 0.7000"), "{md}");
    assert!(csv.starts_with("method,s_per_image,ehr/ehr_mean") && csv.contains("\nold,,0.7,"), "{csv}");
    let (md, _) = compare(&rows, &[None, None]);
    assert!(md.starts_with("| method | ehr/ehr |"), "no column without times: {md}");
}

#[test]
fn the_quality_cost_plot_draws_the_bounded_metrics_against_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = vec![
        ("twenty".to_string(), metrics(0.82, 11.0)),
        ("one".to_string(), metrics(0.81, 10.0)),
        ("untimed".to_string(), metrics(0.5, 3.0)),
    ];
    assert!(write_cost_plot(&rows, &[Some(35.0), Some(3.9), None], tmp.path()).unwrap());
    let svg = std::fs::read_to_string(tmp.path().join("quality_cost.svg")).unwrap();
    assert!(tmp.path().join("quality_cost.png").is_file());
    assert!(svg.contains("ehr/ehr") && svg.contains("relevance_mass/mass"), "the bounded metrics are drawn");
    assert!(!svg.contains("mass_vs_uniform"), "a ratio would flatten the others");
    assert!(svg.contains("sensitivity_n/mean_corr") && !svg.contains("corr@1"), "a curve's points are not drawn");
    assert!(svg.contains("seconds per image"));
    // one timed work dir is no curve
    let empty = tempfile::tempdir().unwrap();
    assert!(!write_cost_plot(&rows, &[Some(35.0), None, None], empty.path()).unwrap());
    assert!(!empty.path().join("quality_cost.png").exists());
}
