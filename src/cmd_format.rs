//! `--format`: the one output-format choice every command takes.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::ValueEnum;

/// What a command prints on stdout.
#[derive(Clone, Copy, ValueEnum, Default, PartialEq, Eq, Debug)]
pub enum OutputFormat {
    /// Human-readable tables.
    #[default]
    Table,
    /// JSON (with a schema_version).
    Json,
    /// Comma-separated values.
    Csv,
}

/// The formats of a command with no CSV output (`simulate`): table or JSON, the
/// others refused by the parser as unknown values.
pub fn table_or_json() -> impl TypedValueParser<Value = OutputFormat> {
    PossibleValuesParser::new([
        PossibleValue::new("table").help("Tables for people"),
        PossibleValue::new("json").help("JSON for tools (the timeline goes to --trace, not here)"),
    ])
    .map(|s| match s.as_str() {
        "json" => OutputFormat::Json,
        _ => OutputFormat::Table,
    })
}
