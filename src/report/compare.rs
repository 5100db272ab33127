//! `compare` as people and tools read it: one row per quantity (raw values for CSV and
//! JSON, rounded with units in the table), B - A for two layouts, and each layout's
//! difference from the first explained term by term.

use comfy_table::CellAlignment;
use serde_json::{json, Value};

use crate::analytic::Estimate;
use crate::report::csv::CsvTable;
use crate::report::layout::LayoutSummary;
use crate::report::units::thousands;
use crate::search::compare::{self, terms, Compared};
use crate::spec::scenario::Scenario;
use crate::units::GIB;

/// One compared quantity: its name, unit ("" for words) and one raw value per layout.
struct Row {
    /// Quantity.
    name: &'static str,
    /// A part of the quantity above it (indented in the table).
    part: bool,
    /// Unit: "s", "%", "GiB", "days", "$M", "count", or "" for words.
    unit: &'static str,
    /// One value per layout, unrounded.
    vals: Vec<String>,
}

/// The layouts' letters: A, B, ... (A is the reference).
fn letter(i: usize) -> char {
    (b'A' + (i % 26) as u8) as char
}

/// `{layouts: [{layout, estimate}], explanations: [[line]]}`: each later layout
/// explained against the first.
pub fn compare_json(cs: &[Compared]) -> Value {
    let v: Vec<Value> = cs
        .iter()
        .map(|c| json!({"layout": c.spec, "estimate": c.estimate}))
        .collect();
    let explanations: Vec<Vec<String>> = cs
        .iter()
        .skip(1)
        .map(|c| compare::explain(&cs[0].estimate, &c.estimate, "A", &c.spec))
        .collect();
    json!({"layouts": v, "explanations": explanations})
}

/// `quantity,unit,<layout>...`: one row per quantity, raw values.
pub fn compare_csv(cs: &[Compared]) -> String {
    let mut t = CsvTable::new(
        ["quantity", "unit"]
            .into_iter()
            .chain(cs.iter().map(|c| c.spec.as_str())),
    );
    for r in rows(cs) {
        t.row(
            [r.name, r.unit]
                .into_iter()
                .chain(r.vals.iter().map(String::as_str)),
        );
    }
    t.finish()
}

/// The table (with B - A for two layouts) under a title line, then the explanations.
pub fn compare_table(sc: &Scenario, cs: &[Compared]) -> String {
    let mut header = vec![String::new()];
    header.extend(
        cs.iter()
            .enumerate()
            .map(|(i, c)| format!("{} {}", letter(i), c.spec)),
    );
    if cs.len() == 2 {
        header.push("B - A".into());
    }
    let mut t = crate::report::table::styled(None);
    t.set_header(header);
    for r in rows(cs) {
        let name = if r.part {
            format!("  {}", r.name)
        } else {
            r.name.to_string()
        };
        let mut cells = vec![if r.unit.is_empty() {
            name
        } else {
            format!("{name} ({})", r.unit)
        }];
        cells.extend(r.vals.iter().map(|v| pretty(v, r.unit)));
        if cs.len() == 2 {
            cells.push(match (r.vals[0].parse::<f64>(), r.vals[1].parse::<f64>()) {
                (Ok(x), Ok(y)) if !r.unit.is_empty() => pretty_delta(y - x, r.unit),
                _ => String::new(),
            });
        }
        t.add_row(cells);
    }
    for c in 1..t.column_count() {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut s = format!(
        "{} - {} x {}\n{t}\n",
        sc.name,
        thousands(sc.gpus),
        sc.gpu.name
    );
    for (i, c) in cs.iter().enumerate().skip(1) {
        s.push('\n');
        for l in compare::explain(&cs[0].estimate, &c.estimate, "A", &letter(i).to_string()) {
            s.push_str(&l);
            s.push('\n');
        }
    }
    s
}

/// A raw value as the table shows it in `unit`.
fn pretty(v: &str, unit: &str) -> String {
    match (v.parse::<f64>(), unit) {
        (Ok(x), "s") => format!("{x:.2}"),
        (Ok(x), "%") => format!("{x:.1}"),
        (Ok(x), "GiB") => format!("{x:.1}"),
        (Ok(x), "days") => format!("{x:.1}"),
        (Ok(x), "$M") => format!("{x:.2}"),
        (Ok(x), "count") => thousands(x as u64),
        _ => v.to_string(),
    }
}

/// A difference B - A as the table shows it in `unit`, signed.
fn pretty_delta(d: f64, unit: &str) -> String {
    match unit {
        "count" => format!("{:+}", d as i64),
        "%" | "GiB" | "days" => format!("{d:+.1}"),
        _ => format!("{d:+.2}"),
    }
}

/// The compared quantities in display order; the step's parts are the library's
/// breakdown terms, under the library's names.
fn rows(cs: &[Compared]) -> Vec<Row> {
    let col = |f: &dyn Fn(&Estimate) -> String| -> Vec<String> {
        cs.iter().map(|c| f(&c.estimate)).collect()
    };
    let row = |name, part, unit, vals| Row {
        name,
        part,
        unit,
        vals,
    };
    let gib = |f: &dyn Fn(&Estimate) -> f64| col(&|e| (f(e) / GIB).to_string());
    let mut rows = vec![
        row("layout", false, "", col(&layout_words)),
        row("micro-batch, schedule", false, "", col(&batching_words)),
        row("GPUs used", false, "count", col(&|e| e.gpus.to_string())),
        row("step", false, "s", col(&|e| e.time.step_s.to_string())),
    ];
    let names = terms(&cs[0].estimate.time.breakdown, 0.0).map(|(n, _)| n);
    for (i, name) in names.into_iter().enumerate() {
        let vals = col(&|e| terms(&e.time.breakdown, e.time.step_s)[i].1.to_string());
        rows.push(row(name, true, "s", vals));
    }
    rows.extend([
        row("MFU", false, "%", col(&|e| (e.mfu * 100.0).to_string())),
        row("memory peak", false, "GiB", gib(&|e| e.memory.peak_bytes)),
        row("weights", true, "GiB", gib(&|e| e.memory.breakdown.weights)),
        row(
            "gradients",
            true,
            "GiB",
            gib(&|e| e.memory.breakdown.gradients),
        ),
        row(
            "optimizer states",
            true,
            "GiB",
            gib(&|e| e.memory.breakdown.optimizer),
        ),
        row(
            "activations",
            true,
            "GiB",
            gib(&|e| e.memory.breakdown.activations),
        ),
        row("other", true, "GiB", gib(&|e| e.memory.breakdown.other)),
        row(
            "memory capacity",
            false,
            "GiB",
            gib(&|e| e.memory.capacity_bytes),
        ),
        row("training", false, "days", col(&|e| e.time.days.to_string())),
        row(
            "cost",
            false,
            "$M",
            col(&|e| (e.cost.usd / 1e6).to_string()),
        ),
    ]);
    rows
}

/// The layout's parallel sizes, as every output prints them ("tp 8 pp 16 dp 2 ep 16 cp 1
/// vpp 1", etp after ep where folded).
fn layout_words(e: &Estimate) -> String {
    LayoutSummary::of_estimate(&e.layout)
        .sizes_text()
        .to_string()
}

/// Micro-batching, schedule, ZeRO, recompute and sequence parallelism, compact as in
/// the search's table ("mb1 x64 1f1b z1 rc:full sp").
fn batching_words(e: &Estimate) -> String {
    format!(
        "{:#}",
        LayoutSummary::of_estimate(&e.layout).batching_text()
    )
}
