//! `llmplan validate`: predicted against published, per row and per group.

use super::cmd_format::OutputFormat;
use llmplan::report;
use llmplan::validate;
use llmplan::Error;

/// Runs validation on `csv` (the shipped table when `None`) and renders `format`;
/// draws predicted / published per row, grouped by source, into `chart` (.svg or .png).
pub fn run(
    csv: Option<&std::path::Path>,
    group: Option<&str>,
    format: OutputFormat,
    chart: Option<&std::path::Path>,
) -> Result<String, Error> {
    if let Some(path) = chart {
        llmplan::charts::check_writable(path)?;
    }
    let report = match csv {
        None => validate::validate_builtin(group)?,
        Some(p) => {
            let text = llmplan::input::read_text(p)?;
            let rows = validate::rows::parse(&p.display().to_string(), &text)?;
            validate::validate(&rows, group)
        }
    };
    if let Some(path) = chart {
        let c = llmplan::report::plan::validation_chart(&report);
        llmplan::charts::canvas::write(&c, path)?;
    }
    Ok(match format {
        OutputFormat::Json => report::json::document(
            serde_json::to_value(&report).map_err(|e| Error::Usage(e.to_string()))?,
        ),
        OutputFormat::Csv => report::csv::validation_csv(&report),
        OutputFormat::Table => report::validate::validation_table(&report),
    })
}
