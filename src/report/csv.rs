//! CSV for tools: one writer (the `csv` crate's quoting), one set of layout columns
//! shared by every table that lists layouts (`search`, `sweep`, the report's
//! `layouts.csv`), and units in the column names (seconds, US dollars, GiB).

use crate::report::layout::LayoutSummary;
use crate::search::Ranked;
use crate::units::GIB;

/// A CSV table being written: a header, then rows of cells.
pub struct CsvTable(csv::Writer<Vec<u8>>);

impl CsvTable {
    /// A table with these column names.
    pub fn new<S: AsRef<[u8]>>(header: impl IntoIterator<Item = S>) -> Self {
        let mut t = CsvTable(csv::Writer::from_writer(Vec::new()));
        t.row(header);
        t
    }

    /// Appends one row (quoted where a cell holds a comma, a quote or a newline).
    pub fn row<S: AsRef<[u8]>>(&mut self, cells: impl IntoIterator<Item = S>) {
        // Writing into a Vec cannot fail.
        let _ = self.0.write_record(cells);
    }

    /// The table's text.
    pub fn finish(self) -> String {
        let bytes = self.0.into_inner().map(|v| v.to_vec()).unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}

/// The columns that say what a layout is, in the order every layout table uses (the
/// cells are [`crate::report::layout::LayoutSummary::cells`]).
pub const LAYOUT_COLUMNS: [&str; 14] = [
    "tp",
    "pp",
    "dp",
    "ep",
    "etp",
    "cp",
    "vpp",
    "micro_batch",
    "microbatches",
    "global_batch_seqs",
    "sequence_parallel",
    "recompute",
    "zero",
    "schedule",
];

/// A layout's figures as every layout table prints them: seconds per step to the
/// microsecond, MFU to 1e-6, days to 1e-4, dollars to the cent, GiB to the MiB.
pub fn seconds(s: f64) -> String {
    format!("{s:.6}")
}

/// MFU (a fraction) to 1e-6.
pub fn fraction(x: f64) -> String {
    format!("{x:.6}")
}

/// Days to 1e-4.
pub fn days(d: f64) -> String {
    format!("{d:.4}")
}

/// US dollars to the cent.
pub fn usd(x: f64) -> String {
    format!("{x:.2}")
}

/// Bytes as GiB to three decimals (about the MiB).
pub fn gib(bytes: f64) -> String {
    format!("{:.3}", bytes / GIB)
}

/// The search's results (ranked, then the scenario's own layout as "scenario").
pub fn search_csv(results: &[Ranked], own: Option<&Ranked>) -> String {
    let mut header = vec!["rank", "gpus", "gpus_used"];
    header.extend(LAYOUT_COLUMNS);
    header.extend([
        "step_s",
        "sim_step_s",
        "mfu",
        "days",
        "usd",
        "tokens_per_usd",
        "memory_peak_gib",
        "memory_capacity_gib",
    ]);
    let mut t = CsvTable::new(header);
    let ranks = (1..).map(|i: usize| i.to_string());
    let rows = ranks
        .zip(results)
        .chain(own.map(|r| ("scenario".into(), r)));
    for (rank, r) in rows {
        let mut row = vec![rank, r.gpus.to_string(), r.gpus_used.to_string()];
        row.extend(LayoutSummary::of_ranked(r).cells());
        row.extend([
            seconds(r.step_s),
            r.sim_step_s.map_or(String::new(), seconds),
            fraction(r.mfu),
            days(r.days),
            usd(r.usd),
            format!("{:.1}", r.tokens_per_usd),
            gib(r.memory_peak_bytes),
            gib(r.memory_capacity_bytes),
        ]);
        t.row(row);
    }
    t.finish()
}

/// A sweep: one row per point, its best layout's columns (empty where nothing fits).
pub fn sweep_csv(s: &crate::search::sweep::Sweep) -> String {
    let mut header = vec![
        "gpu_type",
        "gpu",
        "cluster",
        "gpus",
        "gpus_used",
        "usd_per_gpu_hour",
    ];
    header.extend(LAYOUT_COLUMNS);
    header.extend([
        "step_s",
        "mfu",
        "days",
        "usd",
        "tokens_per_usd",
        "memory_peak_gib",
        "pareto",
        "evaluated",
        "feasible",
    ]);
    let mut t = CsvTable::new(header);
    for p in &s.points {
        let mut row = vec![p.gpu_type.clone(), p.gpu.clone(), p.cluster.clone()];
        row.push(p.gpus.to_string());
        match &p.best {
            Some(b) => {
                row.push(b.gpus_used.to_string());
                row.push(p.usd_per_gpu_hour.to_string());
                row.extend(LayoutSummary::of_ranked(b).cells());
                row.extend([
                    seconds(b.step_s),
                    fraction(b.mfu),
                    days(b.days),
                    usd(b.usd),
                    format!("{:.1}", b.tokens_per_usd),
                    gib(b.memory_peak_bytes),
                ]);
            }
            None => {
                row.push(String::new());
                row.push(p.usd_per_gpu_hour.to_string());
                row.extend(std::iter::repeat_n(String::new(), LAYOUT_COLUMNS.len() + 6));
            }
        }
        row.extend([
            p.pareto.to_string(),
            p.evaluated.to_string(),
            p.feasible.to_string(),
        ]);
        t.row(row);
    }
    t.finish()
}

/// Published runs against predictions, one row per (row, quantity).
pub fn validation_csv(r: &crate::validate::Report) -> String {
    let mut t = CsvTable::new([
        "row_id",
        "group",
        "quantity",
        "published",
        "predicted",
        "error_pct",
    ]);
    for x in &r.predictions {
        t.row([
            x.row_id.clone(),
            x.group.clone(),
            x.quantity.to_string(),
            x.published.to_string(),
            format!("{:.6}", x.predicted),
            format!("{:.2}", x.error_pct),
        ]);
    }
    t.finish()
}
