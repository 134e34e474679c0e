//! The splits of the config's `[data]` that a method fits on. A method declares the splits it
//! needs and the run loads exactly those, so a method trained on a dataset (train and validation)
//! sits beside one that only estimates statistics (estimation) without either knowing the other.
use super::Dataset;
use crate::error::{Error, Result};

/// A split a method may fit on; each is the table `[data.<key>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Estimation,
    Train,
    Validation,
    /// Held out from all fitting: what a self-explaining model's figures (accuracy, prototypes)
    /// are computed on.
    Test,
}

impl Split {
    /// The split's name, its table's key under `[data]`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Estimation => "estimation",
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
    /// The config key of the split's table.
    pub fn key(self) -> String {
        format!("data.{}", self.name())
    }
}

/// The loaded splits a method asked for.
#[derive(Default)]
pub struct Splits<'a> {
    loaded: Vec<(Split, &'a dyn Dataset)>,
    identities: Vec<(Split, String)>,
}

impl<'a> Splits<'a> {
    pub fn new(loaded: Vec<(Split, &'a dyn Dataset)>) -> Self {
        Splits { loaded, identities: Vec::new() }
    }
    /// Just one split (tests, benchmarks).
    pub fn one(split: Split, data: &'a dyn Dataset) -> Self {
        Splits::new(vec![(split, data)])
    }
    /// Records what identifies `split` beyond its samples' names (a digest of its config table:
    /// root, transform, seed), for the keys of results cached from it.
    pub fn with_identity(mut self, split: Split, identity: String) -> Self {
        self.identities.push((split, identity));
        self
    }
    /// The split's identity; empty when none was recorded.
    pub fn identity(&self, split: Split) -> &str {
        self.identities.iter().find(|(s, _)| *s == split).map_or("", |(_, i)| i.as_str())
    }
    /// The split, or an error naming the table to add.
    pub fn get(&self, split: Split) -> Result<&'a dyn Dataset> {
        self.loaded.iter().find(|(s, _)| *s == split).map(|(_, d)| *d).ok_or_else(|| {
            Error::ConfigMsg(format!("this method needs the split `[{}]`: add that table to the config", split.key()))
        })
    }
}
