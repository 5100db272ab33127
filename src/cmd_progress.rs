//! Progress on stderr for long commands: shown only on a terminal, never with
//! `--quiet`, and never on stdout (which stays byte-for-byte the answer).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no progress at all.
pub fn set_quiet(q: bool) {
    QUIET.store(q, Ordering::Relaxed);
}

/// Whether progress may be drawn: stderr is a terminal and `--quiet` was not given.
pub fn enabled() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// A spinner with the elapsed time for work of unknown length (a report, a Monte
/// Carlo), redrawn from a background thread; `None` when progress is off.
pub fn spinner(what: &str) -> Option<ProgressBar> {
    if !enabled() {
        return None;
    }
    let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(st) = ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]") {
        b.set_style(st);
    }
    b.set_message(what.to_string());
    b.enable_steady_tick(Duration::from_millis(200));
    Some(b)
}

/// Clears a spinner.
pub fn done(b: Option<ProgressBar>) {
    if let Some(b) = b {
        b.finish_and_clear();
    }
}
