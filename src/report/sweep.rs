//! `sweep` as people and tools read it: the best layout per (GPU type, count) with the
//! Pareto frontier marked, JSON of the whole sweep; CSV through [`crate::report::csv`].

use comfy_table::CellAlignment;

use crate::report::search::{objective_words, row};
use crate::report::units::thousands;
use crate::search::sweep::Sweep;

/// The sweep as versioned, pretty JSON (field names are a stable interface).
pub fn sweep_json(s: &Sweep) -> String {
    serde_json::to_value(s)
        .map(crate::report::json::document)
        .unwrap_or_default()
}

/// One row per (GPU type, count): its best layout (cells as `search` prints them) or
/// "no layout fits", `*` on the (days, dollars) Pareto frontier; under a title line
/// naming the objective and the time the sweep took.
pub fn sweep_table(s: &Sweep) -> String {
    let mut t = crate::report::table::new(vec![
        "GPU",
        "GPUs",
        "$/GPU-h",
        "best layout",
        "mb x m, schedule, ZeRO, recompute",
        "step s",
        "MFU",
        "days",
        "cost",
        "Pareto",
    ]);
    for p in &s.points {
        let mut cells = vec![
            p.gpu_type.clone(),
            thousands(p.gpus),
            format!("{:.2}", p.usd_per_gpu_hour),
        ];
        match &p.best {
            Some(b) => {
                let r = row(String::new(), b, false, false);
                cells.extend([1, 2, 3, 4, 6, 7].map(|i| r[i].clone()));
                cells.push(if p.pareto { "*".into() } else { String::new() });
            }
            None => {
                cells.push("no layout fits".into());
                cells.extend(std::iter::repeat_n(String::new(), 6));
            }
        }
        t.add_row(cells);
    }
    for c in 5..9 {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!(
        "{} - best layout per GPU count and type (by {}), swept in {:.1} s\n{t}\n* on the Pareto frontier of (days, dollars): nothing else is both faster and cheaper\n",
        s.scenario,
        objective_words(s.objective),
        s.elapsed_s
    )
}
