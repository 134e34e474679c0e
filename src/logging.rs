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
                let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                let _ = writeln!(f, "[{now} {:<5}] {}", r.level(), r.args());
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

/// A progress bar shown under the log lines; when stderr is not a terminal (a job log, `nohup`,
/// CI) the bar is hidden and the loop instead logs a line with its stage, position, elapsed time
/// and ETA whenever `every` has passed since the last one, so a long run is never silent.
pub struct Progress {
    bar: ProgressBar,
    what: String,
    lines: bool,
    every: std::time::Duration,
    started: std::time::Instant,
    last: Mutex<std::time::Instant>,
}

/// Set in a process's environment: its progress reports are log lines, never a bar (one of
/// several processes sharing a terminal, `tools/train --jobs`).
pub const PROGRESS_LINES_ENV: &str = "IBEX_PROGRESS_LINES";

/// A progress report for `len` items of the stage `what`, a log line at most every 10 s and one
/// for the last item.
pub fn progress(len: u64, what: &str) -> Progress {
    let bar = ProgressBar::new(len).with_message(what.to_string());
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    // one of several jobs sharing a terminal (`tools/train --jobs`): lines only
    let forced = std::env::var_os(PROGRESS_LINES_ENV).is_some();
    let bar = match BARS.get() {
        _ if forced => {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            bar
        }
        Some(m) => m.add(bar),
        None => bar,
    };
    let now = std::time::Instant::now();
    Progress {
        bar,
        what: what.to_string(),
        lines: forced || !std::io::IsTerminal::is_terminal(&std::io::stderr()),
        every: std::time::Duration::from_secs(10),
        started: now,
        last: Mutex::new(now),
    }
}

impl Progress {
    /// Log lines at most this often (zero: one per item, as for samples that take seconds each).
    pub fn every(mut self, every: std::time::Duration) -> Self {
        self.every = every;
        self
    }

    /// No log lines (a loop that logs its own, with figures the bar does not know).
    pub fn without_lines(mut self) -> Self {
        self.lines = false;
        self
    }

    pub fn inc(&self, n: u64) {
        self.inc_named(n, "");
    }

    /// Advances by `n` items, the last of them `name` (shown in the log line).
    pub fn inc_named(&self, n: u64, name: &str) {
        self.bar.inc(n);
        if !self.lines || n == 0 {
            return;
        }
        let Ok(mut last) = self.last.lock() else { return };
        let now = std::time::Instant::now();
        // the last item always gets its line: a log ends on how long the whole stage took
        let done = self.bar.length().is_some_and(|len| self.bar.position() >= len);
        if now.duration_since(*last) < self.every && !done {
            return;
        }
        *last = now;
        log::info!("{}", self.line(name, now));
    }

    /// `attribution 3/16 attribution_0_00002: 2 min 14 s elapsed, eta 9 min 13 s`.
    fn line(&self, name: &str, now: std::time::Instant) -> String {
        let (pos, len) = (self.bar.position(), self.bar.length().unwrap_or(0));
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let left = len.saturating_sub(pos);
        let eta = if pos == 0 { String::from("unknown") } else { duration(elapsed / pos as f64 * left as f64) };
        let name = if name.is_empty() { String::new() } else { format!(" {name}") };
        format!("{} {pos}/{len}{name}: {} elapsed, eta {eta}", self.what, duration(elapsed))
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    pub fn length(&self) -> Option<u64> {
        self.bar.length()
    }

    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// `7 s`, `2 min 14 s`, `1 h 3 min`: how long, as a person reads it in a log.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// Where a method's training curves go, by tag and global step: the work dir's TensorBoard run
/// `fit/` in `tools/train`, nowhere in tests. A trait here so that methods (below the output layer)
/// can report what they train.
pub trait ScalarLog: Send {
    fn scalar(&mut self, tag: &str, step: i64, value: f64) -> crate::error::Result<()>;
}
