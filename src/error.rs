//! The library's error type. Every variant names what the user must fix: a file, a config key, a
//! tensor. Tools add their own context with `anyhow` on top.
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config value failed to parse or validate; `key` is the table it belongs to.
    #[error("{}", describe_config(key, err))]
    Config { key: String, err: Box<figment::Error> },
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
    #[error("training: {0}")]
    Fit(String),
    #[error("jobs: {0}")]
    Jobs(String),
    #[error("device: {0}")]
    Device(String),
    #[error("libtorch: {}", libtorch_message(.0))]
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
        Error::Config { key: key.into(), err: Box::new(source) }
    }
}

/// "config key `attributor.bta` (in configs/x.toml): unknown field ..." for each error figment found.
fn describe_config(key: &str, err: &figment::Error) -> String {
    let lines: Vec<String> = err
        .clone()
        .into_iter()
        .map(|e| {
            let mut parts: Vec<&str> = if key == "<root>" { vec![] } else { vec![key] };
            parts.extend(e.path.iter().map(String::as_str));
            let full = if parts.is_empty() { "<top level>".to_string() } else { parts.join(".") };
            let from = e
                .metadata
                .as_ref()
                .map(|m| m.source.as_ref().map(|s| s.to_string()).unwrap_or_else(|| m.name.to_string()));
            let from = from.map(|f| format!(" (set in {f})")).unwrap_or_default();
            format!("config key `{full}`{from}: {}", e.kind)
        })
        .collect();
    lines.join("\n")
}

/// libtorch's message without the C++ stack trace it appends ("Exception raised from … frame #0 …"),
/// which tells a user nothing; one line is enough to say what went wrong.
pub fn libtorch_message(e: &tch::TchError) -> String {
    one_line(&e.to_string())
}

/// `text` up to libtorch's "Exception raised from … frame #…", on one line.
pub fn one_line(text: &str) -> String {
    let cut = ["Exception raised from", "\nframe #"].iter().filter_map(|m| text.find(m)).min().unwrap_or(text.len());
    text[..cut].split_whitespace().collect::<Vec<_>>().join(" ")
}
