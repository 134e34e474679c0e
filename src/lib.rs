//! ibex — Information-Bottleneck EXplanations: attribution pipelines assembled from TOML configs on
//! tch/libtorch. Start at [`pipeline::Run`]; components live in [`models`], [`data`] and
//! [`attributors`] and are picked by name through the [`registry`].
pub mod attributors;
pub mod bench;
pub mod cli;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluation;
pub mod logging;
pub mod metrics;
pub mod models;
pub mod output;
pub mod pipeline;
pub mod precision;
pub mod registry;
pub mod rng;
pub mod runtime;
pub mod text;
pub mod training;

pub use error::{Error, Result};
pub use pipeline::Run;
