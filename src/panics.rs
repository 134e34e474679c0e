//! tch turns a libtorch exception into a Rust panic in its non-`f_` methods, and user input (a
//! TorchScript model fed the wrong shape, a label the data makes up) can reach them. A panic must
//! not end a run with a 30-line C++ stack trace: [`guard`] turns one into an error for the sample
//! at hand (recorded, and the run goes on), and [`install_hook`] makes an unguarded one a single
//! line.
use crate::error::{Error, Result};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// The first line of a panic's message, without libtorch's "Exception raised from … frame #…".
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "an unknown failure".into());
    crate::error::one_line(&text)
}

/// Runs `f`; a panic inside becomes `Error::Attribution` for `sample`.
pub fn guard<T>(sample: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let was = GUARDED.with(|g| g.replace(true));
    let out = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    out.unwrap_or_else(|p| Err(Error::Attribution { sample: sample.into(), why: message(p.as_ref()) }))
}

/// Prints an unguarded panic as one line (guarded ones become errors and print nothing here).
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        if GUARDED.with(|g| g.get()) {
            return;
        }
        let at = info.location().map(|l| format!(" ({}:{})", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: {}{at}", message(info.payload()));
    }));
}
