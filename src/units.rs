//! Unit constants every layer shares, from `spec` to the CLI: one definition, so a
//! figure printed by one command and computed by another cannot drift apart.
//! Formatting numbers with their units is [`crate::report::units`]'s; this module
//! names no other module of the crate.

/// Bytes per GiB (2^30 B): memory is printed in GiB, bandwidth in GB (1e9 B).
pub const GIB: f64 = 1073741824.0;
