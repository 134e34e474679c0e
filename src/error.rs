//! The library's error type. Every variant names what the user must fix: a file, a config key, a
//! tensor. Tools add their own context with `anyhow` on top.
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config value failed to parse or validate; `key` is the dotted table path (e.g. `attributor`).
    #[error("config error at `{key}`: {source}")]
    Config { key: String, source: Box<figment::Error> },
    #[error("config error: {0}")]
    ConfigMsg(String),
    #[error("`_base_` cycle: {0}")]
    BaseCycle(String),
    #[error("bad --cfg-options item `{item}`: {why}")]
    BadOverride { item: String, why: String },
    #[error("unknown {kind} type `{name}` at `{key}`; registered {kind} types: {known:?}")]
    UnknownType { kind: &'static str, key: String, name: String, known: Vec<&'static str> },
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("weights {path}: {why}")]
    Weights { path: PathBuf, why: String },
    #[error("model: {0}")]
    Model(String),
    #[error("dataset: {0}")]
    Data(String),
    #[error("attribution of `{sample}`: {why}")]
    Attribution { sample: String, why: String },
    #[error("device: {0}")]
    Device(String),
    #[error(transparent)]
    Tch(#[from] tch::TchError),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub fn file(path: impl Into<PathBuf>, why: impl Into<String>) -> Self {
        Error::File { path: path.into(), why: why.into() }
    }
    pub fn config(key: impl Into<String>, source: figment::Error) -> Self {
        Error::Config { key: key.into(), source: Box::new(source) }
    }
}
