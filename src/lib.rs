//! ibex — Information-Bottleneck EXplanations: attribution pipelines assembled from TOML configs on
//! tch/libtorch. Start at [`run::Run`]; components live in [`models`], [`data`], [`attributors`]
//! and [`metrics`] and are picked by name through the [`registry`].
//!
//! # Layers
//! A module imports only from its own layer and the layers below it (`tests/layers.rs` reads this
//! table and checks every `crate::` path in `src/`). The one exception is [`registry`], which
//! names the trait object of each component kind it collects (models, datasets, attributors,
//! metrics) while every component imports it to register itself.
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 0 | `error`, `panics`, `io`, `rng`, `logging`, `runtime`, `precision` | errors, panics as errors, atomic files and locks, seeds, logging, the device |
//! | 1 | `config`, `modality`, `explanation`, `registry` | loading and validating configs; the shared vocabulary |
//! | 2 | `data` | datasets, transforms, splits, the synthetic generator |
//! | 3 | `models` | classifiers and the capabilities they offer |
//! | 4 | `attributors`, `fitting`, `metrics`, `training`, `text` | methods, training explainers on a dataset, metrics, classifier training, the text modality |
//! | 5 | `output` | the work dir, map files, TensorBoard events, plots |
//! | 6 | `run` | `tools/train`: load, prepare, attribute |
//! | 7 | `evaluation`, `bench`, `cli` | `tools/eval`, `tools/bench`, the tools' start-up |
pub mod attributors;
pub mod bench;
pub mod cli;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluation;
pub mod explanation;
pub mod fitting;
pub mod io;
pub mod logging;
pub mod metrics;
pub mod modality;
pub mod models;
pub mod output;
pub mod panics;
pub mod precision;
pub mod registry;
pub mod rng;
pub mod run;
pub mod runtime;
pub mod text;
pub mod training;

pub use error::{Error, Result};
pub use run::Run;
