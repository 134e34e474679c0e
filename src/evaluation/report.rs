//! A metric's results over the samples, and the aggregate written to `metrics.json`: per value the
//! mean, the population std (numpy's default, as the original prints it) and n; per curve the mean
//! over samples and its x values.
use crate::metrics::SampleResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl Stat {
    pub fn of(v: &[f64]) -> Stat {
        let n = v.len();
        if n == 0 {
            return Stat::default();
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        Stat { mean, std: var.sqrt(), n }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CurveMean {
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    pub n: usize,
}

/// One metric's section of `metrics.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MetricReport {
    /// The metric's resolved parameters (its config table).
    pub params: serde_json::Value,
    /// The samples it ran on (a re-run with the same parameters, samples and source is skipped).
    pub evaluated: Vec<String>,
    /// Digest of what the figures were computed from besides the parameters: the map folder and
    /// format, the maps' contents, the model (its table and weights file). Any change recomputes.
    #[serde(default)]
    pub source: String,
    pub aggregate: BTreeMap<String, Stat>,
    pub curves: BTreeMap<String, CurveMean>,
    /// sample → value name → value.
    pub samples: BTreeMap<String, BTreeMap<String, f64>>,
    /// sample → warnings.
    pub warnings: BTreeMap<String, Vec<String>>,
}

impl MetricReport {
    /// Adds one sample's result. A value or curve that is not finite is left out with a warning:
    /// it would make the aggregate NaN and `metrics.json` unreadable (JSON has no NaN).
    pub fn add(&mut self, name: &str, r: SampleResult) {
        self.evaluated.push(name.into());
        let mut warnings = r.warnings;
        let (finite, bad): (Vec<_>, Vec<_>) = r.values.into_iter().partition(|(_, v)| v.is_finite());
        warnings.extend(bad.iter().map(|(k, v)| format!("{k} = {v} is not a number: left out")));
        if !finite.is_empty() {
            self.samples.insert(name.into(), finite.into_iter().collect());
        }
        let (curves, bad): (Vec<_>, Vec<_>) = r.curves.into_iter().partition(|(_, c)| c.iter().all(|v| v.is_finite()));
        warnings.extend(bad.iter().map(|(k, _)| format!("curve {k} has values that are not numbers: left out")));
        if !warnings.is_empty() {
            self.warnings.insert(name.into(), warnings);
        }
        for (k, c) in curves {
            let e = self.curves.entry(k).or_default();
            if e.n == 0 {
                e.mean = vec![0.0; c.len()];
            }
            if e.mean.len() == c.len() {
                e.mean.iter_mut().zip(&c).for_each(|(m, v)| *m += v);
                e.n += 1;
            }
        }
    }

    /// Turns the sums into means and fills the aggregate; `x` gives a curve's x values (default:
    /// the fraction of steps, 1/len … 1).
    pub fn finish(&mut self, x: impl Fn(&str) -> Option<Vec<f64>>) {
        let mut by_key: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for vals in self.samples.values() {
            for (k, v) in vals {
                by_key.entry(k.clone()).or_default().push(*v);
            }
        }
        self.aggregate = by_key.into_iter().map(|(k, v)| (k, Stat::of(&v))).collect();
        for (k, c) in self.curves.iter_mut() {
            let n = c.n.max(1) as f64;
            c.mean.iter_mut().for_each(|m| *m /= n);
            let len = c.mean.len();
            c.x = x(k).filter(|v| v.len() == len).unwrap_or_else(|| (1..=len).map(|i| i as f64 / len as f64).collect());
        }
    }
}

/// `metrics.json`: which maps were evaluated last, one report per metric label, and the reports of
/// the work dir's other map folders (an InputIBA work dir has input, feature and GAN masks), so
/// evaluating one folder never loses another's results.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MetricsFile {
    pub maps: String,
    pub metrics: BTreeMap<String, MetricReport>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other_maps: BTreeMap<String, BTreeMap<String, MetricReport>>,
    /// What a fitted explainer measured after training (`output::fit_report`), kept as it is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fit: BTreeMap<String, f64>,
}

impl MetricsFile {
    /// Makes `maps` the current folder: the current reports are kept under their folder, and
    /// `maps`'s earlier reports, if any, come back.
    pub fn switch_to(&mut self, maps: &str) {
        if self.maps == maps {
            return;
        }
        let previous = std::mem::take(&mut self.metrics);
        if !previous.is_empty() {
            self.other_maps.insert(std::mem::take(&mut self.maps), previous);
        }
        self.metrics = self.other_maps.remove(maps).unwrap_or_default();
        self.maps = maps.to_string();
    }
}
