//! `[eval]`: what `tools/eval` evaluates and how. Defined with the run's config, which holds it,
//! and read by the evaluation above it.
use crate::output::MapFormat;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// The work dir's folder of maps to evaluate (`input_masks`, `feat_masks`, a baseline's …);
    /// empty: the attributor's main maps (`Attributor::main_output`: InputIBA's `input_masks`, a
    /// baseline's own folder, VIBI's `vibi_topk` …).
    pub maps: String,
    /// `png` (the original's evaluation reads the 8-bit PNGs) or `npy` (the float maps).
    pub map_format: MapFormat,
    /// Evaluate a random subset of this many samples (0 = all), drawn with `seed`; ROAR retrains on
    /// this many train images and tests on this many test images.
    pub num_samples: usize,
    pub seed: u64,
    /// Keep only samples whose softmax on the target is at least this (the original filters with
    /// a scores file at 0.6; 0 = keep all).
    pub min_confidence: f64,
    /// With `min_confidence`: read each sample's confidence from the original's scores file
    /// (`get_target_scores.py`: `{name: {"target": int, "pred": softmax}}`) instead of running
    /// the model; empty = run the model.
    pub scores_file: std::path::PathBuf,
    /// Per-metric tables, `[eval.metrics.<label>] type = "…"`.
    pub metrics: figment::value::Dict,
    /// ROAR/KAR (`--metric roar`): run-level (`evaluation::roar`).
    pub roar: RoarConfig,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            maps: String::new(),
            map_format: MapFormat::Png,
            num_samples: 0,
            seed: 2021,
            min_confidence: 0.0,
            scores_file: Default::default(),
            metrics: Default::default(),
            roar: Default::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoarConfig {
    pub fractions: Vec<f64>,
    /// Any of "roar", "kar".
    pub modes: Vec<String>,
    /// Where the rankings come from: "attributor" (the run's, on the train and test splits,
    /// cached in `<work dir>/roar/maps/`), "boxes" (the ground-truth boxes: an oracle reference),
    /// or "random" (a fresh random ranking per image).
    pub maps: String,
    /// Also rank with random maps, the baseline.
    pub random_baseline: bool,
    pub modify_test: bool,
    pub seed: u64,
}

impl Default for RoarConfig {
    fn default() -> Self {
        RoarConfig {
            fractions: (1..10).map(|i| i as f64 / 10.0).collect(),
            modes: vec!["roar".into(), "kar".into()],
            maps: "attributor".into(),
            random_baseline: true,
            modify_test: true,
            seed: 2021,
        }
    }
}
