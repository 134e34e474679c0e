//! A generated review corpus in the aclImdb layout, for the text quickstart and tests: each review
//! is neutral filler with a few sentiment words of its label's polarity (and sometimes one of the
//! other), so which words decide the label is known. Deterministic by seed; written atomically.
use crate::error::Result;
use crate::io::atomic;
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub const POSITIVE: [&str; 12] = [
    "great",
    "excellent",
    "wonderful",
    "brilliant",
    "superb",
    "loved",
    "masterpiece",
    "delightful",
    "moving",
    "beautiful",
    "fantastic",
    "enjoyable",
];
pub const NEGATIVE: [&str; 12] = [
    "awful", "terrible", "boring", "dreadful", "worst", "hated", "mess", "dull", "painful", "waste", "horrible",
    "tedious",
];
const FILLER: [&str; 48] = [
    "the",
    "movie",
    "film",
    "story",
    "plot",
    "actor",
    "actress",
    "scene",
    "director",
    "camera",
    "music",
    "score",
    "was",
    "is",
    "a",
    "an",
    "of",
    "and",
    "with",
    "in",
    "about",
    "this",
    "that",
    "it",
    "some",
    "character",
    "ending",
    "script",
    "cast",
    "sound",
    "light",
    "city",
    "night",
    "family",
    "friend",
    "house",
    "road",
    "year",
    "time",
    "dialogue",
    "moment",
    "role",
    "part",
    "screen",
    "shot",
    "setting",
    "minute",
    "hour",
];

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewsConfig {
    pub root: PathBuf,
    pub seed: u64,
    /// Reviews per polarity in each split.
    pub train_per_class: usize,
    pub test_per_class: usize,
    /// Review length in tokens, [min, max].
    pub length: [usize; 2],
    /// Sentiment words of the label's polarity per review, [min, max].
    pub sentiment_words: [usize; 2],
    /// Chance that one word of the other polarity is mixed in.
    pub opposite_prob: f64,
}

impl Default for ReviewsConfig {
    fn default() -> Self {
        ReviewsConfig {
            root: "data/reviews".into(),
            seed: 0,
            train_per_class: 500,
            test_per_class: 100,
            length: [10, 30],
            sentiment_words: [2, 4],
            opposite_prob: 0.3,
        }
    }
}

fn pick<'a>(rng: &mut SplitMix, words: &[&'a str]) -> &'a str {
    words[rng.below(words.len() as u64) as usize]
}

/// One review of polarity `pos`: its text.
fn review(rng: &mut SplitMix, c: &ReviewsConfig, pos: bool) -> String {
    let len = c.length[0] + rng.below((c.length[1] - c.length[0] + 1) as u64) as usize;
    let mut words: Vec<&str> = (0..len).map(|_| pick(rng, &FILLER)).collect();
    let (own, other) = if pos { (&POSITIVE, &NEGATIVE) } else { (&NEGATIVE, &POSITIVE) };
    let k = c.sentiment_words[0] + rng.below((c.sentiment_words[1] - c.sentiment_words[0] + 1) as u64) as usize;
    // distinct places, so the label's words always outnumber the other polarity's
    let mut places: Vec<usize> = (0..len).collect();
    for i in 0..(k + 1).min(len) {
        let j = i + rng.below((len - i) as u64) as usize;
        places.swap(i, j);
    }
    for &at in places.iter().take(k.min(len)) {
        words[at] = pick(rng, own);
    }
    if rng.uniform() < c.opposite_prob && k < len && k >= 2 {
        words[places[k]] = pick(rng, other);
    }
    let mut text = words.join(" ");
    text.push('.');
    text
}

/// Writes the corpus unless `root` already holds it (a `done` marker); returns whether it wrote.
/// Whether `c.root` holds the corpus these settings make: then nothing is written and no lock is
/// needed (the folder may be read-only).
pub fn is_current(c: &ReviewsConfig) -> bool {
    let me = serde_json::to_string_pretty(c).expect("json");
    std::fs::read_to_string(c.root.join("done.json")).is_ok_and(|s| s == me)
}

pub fn ensure(c: &ReviewsConfig) -> Result<bool> {
    if is_current(c) {
        return Ok(false);
    }
    let (marker, me) = (c.root.join("done.json"), serde_json::to_string_pretty(c).expect("json"));
    let mut rng = SplitMix::new(c.seed);
    let mut id = 0usize;
    for (split, n) in [("train", c.train_per_class), ("test", c.test_per_class)] {
        for pos in [false, true] {
            let dir = c.root.join(split).join(if pos { "pos" } else { "neg" });
            std::fs::create_dir_all(&dir).map_err(|e| crate::error::Error::io(&dir, e))?;
            for _ in 0..n {
                let rating = if pos { 7 + rng.below(4) } else { 1 + rng.below(4) };
                atomic::write(&dir.join(format!("{id}_{rating}.txt")), review(&mut rng, c, pos).as_bytes())?;
                id += 1;
            }
        }
    }
    atomic::write(&marker, me.as_bytes())?;
    Ok(true)
}
