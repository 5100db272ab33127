//! Turning results into text: tables for people, JSON and CSV for tools.

pub mod calibration;
pub mod catalog;
pub mod compare;
pub mod csv;
pub mod estimate;
pub mod json;
pub mod layout;
pub mod plan;
pub mod search;
pub mod simulate;
pub mod sweep;
pub mod table;
pub mod units;
pub mod validate;

pub use estimate::{estimate_csv, estimate_json, estimate_table};
