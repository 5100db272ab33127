//! Unit constants every layer shares, from `spec` to the CLI: one definition, so a
//! figure printed by one command and computed by another cannot drift apart.
//! Formatting numbers with their units is [`crate::report::units`]'s; digit grouping,
//! which `search`'s explanations print too, is here. This module names no other module
//! of the crate.

/// Bytes per GiB (2^30 B): memory is printed in GiB, bandwidth in GB (1e9 B).
pub const GIB: f64 = 1073741824.0;

/// `25,000`: an integer with its thousands grouped by commas.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
