//! Console + file logging that cooperates with progress bars: log lines print above the bars
//! (indicatif-log-bridge), and every line also goes to the work dir's `log.txt`.
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

static BARS: OnceLock<MultiProgress> = OnceLock::new();
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

struct Tee {
    console: env_logger::Logger,
}

impl log::Log for Tee {
    fn enabled(&self, m: &log::Metadata) -> bool {
        self.console.enabled(m)
    }
    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        self.console.log(r);
        if let Ok(mut guard) = FILE.lock() {
            if let Some(f) = guard.as_mut() {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let _ = writeln!(f, "{secs} {:<5} {}", r.level(), r.args());
            }
        }
    }
    fn flush(&self) {
        self.console.flush();
    }
}

/// Installs the logger once (`RUST_LOG` overrides the default `info`). Safe to call again.
pub fn init() {
    let bars = BARS.get_or_init(MultiProgress::new);
    let console = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .build();
    let level = console.filter();
    if indicatif_log_bridge::LogWrapper::new(bars.clone(), Tee { console }).try_init().is_ok() {
        log::set_max_level(level);
    }
}

/// Also append log lines to `path` from now on.
pub fn attach_file(path: &Path) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    if let Ok(mut g) = FILE.lock() {
        *g = Some(f);
    }
    Ok(())
}

/// A progress bar shown under the log lines (hidden when stderr is not a terminal).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_message(what.to_string());
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    match BARS.get() {
        Some(m) => m.add(bar),
        None => bar,
    }
}

/// Where a method's training curves go, by tag and global step: the work dir's TensorBoard run
/// `fit/` in `tools/train`, nowhere in tests. A trait here so that methods (below the output layer)
/// can report what they train.
pub trait ScalarLog: Send {
    fn scalar(&mut self, tag: &str, step: i64, value: f64) -> crate::error::Result<()>;
}
