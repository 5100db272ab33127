//! `llmplan validate`: predicted against published, per row and per group.

use llmplan::validate::{self, Report};
use llmplan::Error;

/// Runs validation on `csv` (the shipped table when `None`) and renders `format`;
/// draws predicted / published per row, grouped by source, into `chart` (.svg or .png).
pub fn run(
    csv: Option<&std::path::Path>,
    group: Option<&str>,
    format: &str,
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
        "json" => {
            let v = serde_json::to_value(&report).map_err(|e| Error::Usage(e.to_string()))?;
            serde_json::to_string_pretty(&llmplan::report::json::versioned(v))
                .map_err(|e| Error::Usage(e.to_string()))?
                + "\n"
        }
        "csv" => llmplan::report::csv::validation_csv(&report),
        _ => table(&report),
    })
}

fn table(r: &Report) -> String {
    let mut t = llmplan::report::table::styled(None);
    t.set_header(vec!["row", "quantity", "published", "predicted", "error"]);
    for p in &r.predictions {
        t.add_row(vec![
            p.row_id.clone(),
            p.quantity.to_string(),
            format!("{:.4}", p.published),
            format!("{:.4}", p.predicted),
            format!("{:+.1}%", p.error_pct),
        ]);
    }
    let mut g = llmplan::report::table::styled(None);
    g.set_header(vec!["group", "rows", "MAPE", "worst row", "worst error"]);
    for s in &r.groups {
        g.add_row(vec![
            s.group.clone(),
            s.n.to_string(),
            format!("{:.1}%", s.mape),
            s.worst_row.clone(),
            format!("{:+.1}%", s.worst_error_pct),
        ]);
    }
    let mut out = format!("{t}\n{g}\n");
    if !r.skipped.is_empty() {
        out.push_str(&format!("{} rows not predicted:\n", r.skipped.len()));
        for s in &r.skipped {
            out.push_str(&format!("  {}: {}\n", s.row_id, s.reason));
        }
    }
    out
}
