//! A generated COMPAS file in the seed's layout (`propublica_data_for_fairml.csv`: the eleven
//! feature columns and `score_factor`), for SENN's demos where ProPublica's data is not at hand.
//! The features follow the real file's marginals roughly; the label follows a planted rule, so an
//! explanation can be checked against the truth: score_factor = 1 iff Number_of_Priors ≥ 3, or
//! Age_Below_TwentyFive and not Misdemeanor; then `label_noise` of the labels flipped.
//! Deterministic by seed.
use super::compas::{FEATURES, TARGET};
use crate::error::{Error, Result};
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The columns the planted rule reads.
pub const PLANTED: [&str; 3] = ["Number_of_Priors", "Age_Below_TwentyFive", "Misdemeanor"];

/// `[compas]`: where, how many rows, and how noisy.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CompasGenConfig {
    pub path: PathBuf,
    pub seed: u64,
    /// Rows (the real file has 6,172).
    pub rows: usize,
    /// Share of labels flipped after the rule.
    pub label_noise: f64,
}

impl Default for CompasGenConfig {
    fn default() -> Self {
        CompasGenConfig {
            path: PathBuf::from("data/compas/propublica_data_for_fairml.csv"),
            seed: 0,
            rows: 6172,
            label_noise: 0.05,
        }
    }
}

fn stamp_path(cfg: &CompasGenConfig) -> PathBuf {
    cfg.path.with_extension("json")
}

/// Whether `cfg.path` holds the file these settings make (its stamp says so).
pub fn is_current(cfg: &CompasGenConfig) -> bool {
    let stamp = serde_json::to_string_pretty(cfg).expect("serialisable");
    cfg.path.is_file() && std::fs::read_to_string(stamp_path(cfg)).is_ok_and(|s| s == stamp)
}

/// Writes the file unless it is there for these settings; a file made otherwise (or a user's real
/// file) is never overwritten. True when it wrote.
pub fn ensure(cfg: &CompasGenConfig) -> Result<bool> {
    if is_current(cfg) {
        return Ok(false);
    }
    if cfg.path.exists() {
        return Err(Error::file(
            &cfg.path,
            "exists but was not generated with these [compas] settings; delete it or set compas.path elsewhere",
        ));
    }
    let mut rng = SplitMix::new(cfg.seed ^ 0xC0A5_5EED);
    let mut text = format!("{},{TARGET}\n", FEATURES.join(","));
    for _ in 0..cfg.rows {
        let (f, y) = row(&mut rng, cfg.label_noise);
        let cells: Vec<String> = f.iter().map(|v| format!("{v}")).collect();
        text.push_str(&format!("{},{y}\n", cells.join(",")));
    }
    crate::io::atomic::write(&cfg.path, text.as_bytes())?;
    crate::io::atomic::write(&stamp_path(cfg), serde_json::to_string_pretty(cfg).expect("json").as_bytes())?;
    Ok(true)
}

/// One defendant: features in [`FEATURES`]' order (priors as a count) and the label.
fn row(rng: &mut SplitMix, noise: f64) -> ([u32; 11], u8) {
    let mut b = |p: f64| (rng.uniform() < p) as u32;
    let recid = b(0.45);
    let female = b(0.19);
    let misdemeanor = b(0.36);
    let age = rng.uniform();
    let (old, young) = ((age < 0.21) as u32, (age > 0.78) as u32);
    // race: African-American 51%, Caucasian 34% (the baseline: no column), Hispanic 8%, Other 5.5%,
    // Asian 0.5%, Native American 0.2%
    let r = rng.uniform();
    let race = [
        (r < 0.51) as u32,
        (0.51..0.515).contains(&r) as u32,
        (0.515..0.595).contains(&r) as u32,
        (0.595..0.597).contains(&r) as u32,
        (0.597..0.652).contains(&r) as u32,
    ];
    // priors: geometric with mean ≈ 3.2, capped at 38 as in the real file
    let mut priors = 0u32;
    while priors < 38 && rng.uniform() < 0.76 {
        priors += 1;
    }
    let rule = priors >= 3 || (young == 1 && misdemeanor == 0);
    let y = (rule != (rng.uniform() < noise)) as u8;
    let f = [recid, priors, old, young, race[0], race[1], race[2], race[3], race[4], female, misdemeanor];
    (f, y)
}
