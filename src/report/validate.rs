//! `validate` as people read it: predicted against published per row, the error per
//! group, and the rows that could not be predicted (JSON is the report's own fields;
//! CSV through [`crate::report::csv`]).

use crate::validate::Report;

/// The rows table (published, predicted, signed error), the groups table (MAPE, worst
/// row) and the rows not predicted with the reason.
pub fn validation_table(r: &Report) -> String {
    let mut t = crate::report::table::styled(None);
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
    let mut g = crate::report::table::styled(None);
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
