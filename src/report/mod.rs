//! Turning results into text: tables for people, JSON and CSV for tools.

pub mod csv;
pub mod estimate;
pub mod json;
pub mod plan;
pub mod search;
pub mod table;
pub mod units;

pub use estimate::{estimate_csv, estimate_json, estimate_table};
