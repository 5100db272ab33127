//! Text tables for people: one style, and a width that fits where they are read.
//!
//! On a terminal a table wraps its cells to the terminal's width; piped or written to
//! a file it keeps its natural width (so output is the same in every pipe), unless
//! `COLUMNS` names a width, as shells and `COLUMNS=80 llmplan compare ... | less` do.

use std::io::IsTerminal;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

/// Narrowest width a table is wrapped to, columns: below it cells would wrap to a few
/// characters each and become harder to read than a table that overflows.
pub const MIN_WIDTH: u16 = 40;

/// The width tables should fit, in terminal columns: the terminal's when stdout is
/// one, else `COLUMNS` when set to a number; `None` means no limit.
pub fn target_width() -> Option<u16> {
    let env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok());
    let term = std::io::stdout()
        .is_terminal()
        .then(|| console::Term::stdout().size_checked().map(|(_, cols)| cols))
        .flatten();
    term.or(env).map(|w| w.max(MIN_WIDTH))
}

/// An empty table in the house style with this header, wrapping to [`target_width`].
pub fn new(header: Vec<&str>) -> Table {
    let mut t = styled(None);
    t.set_header(header);
    t
}

/// A table in the house style that wraps its cells at `max` columns, or narrower when
/// the terminal (or `COLUMNS`) is narrower; `None` for no limit of its own.
pub fn styled(max: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let width = match (max, target_width()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(w) = width {
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(w);
    }
    t
}
