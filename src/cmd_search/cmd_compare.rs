//! `llmplan compare`: layouts side by side, with what each difference costs.

use comfy_table::CellAlignment;
use serde_json::{json, Value};

use super::{load, thousands, CompareArgs, OutFormat};
use llmplan::search;
use llmplan::search::compare::{self, terms};
use llmplan::units::GIB;
use llmplan::Error;

/// `llmplan compare`.
pub fn compare(a: CompareArgs) -> Result<String, Error> {
    let sc = load(a.scenario.as_deref(), &a.set, a.gpus)?;
    let cs = compare::compare(&sc, &a.layout)?;
    match a.format {
        OutFormat::Json => {
            let v: Vec<Value> = cs
                .iter()
                .map(|c| json!({"layout": c.spec, "estimate": c.estimate}))
                .collect();
            let explanations: Vec<Vec<String>> = cs
                .iter()
                .skip(1)
                .map(|c| compare::explain(&cs[0].estimate, &c.estimate, "A", &c.spec))
                .collect();
            Ok(format!(
                "{}\n",
                serde_json::to_string_pretty(&llmplan::report::json::versioned(
                    json!({"layouts": v, "explanations": explanations})
                ))
                .unwrap_or_default()
            ))
        }
        OutFormat::Csv => {
            let mut s = String::from("quantity,unit");
            for c in &cs {
                s.push_str(&format!(",\"{}\"", c.spec));
            }
            s.push('\n');
            for (name, unit, vals) in compare_rows(&cs) {
                s.push_str(&format!("{name},{unit}"));
                for v in vals {
                    s.push_str(&format!(",{v}"));
                }
                s.push('\n');
            }
            Ok(s)
        }
        OutFormat::Table => {
            let labels: Vec<String> = cs
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} {}", (b'A' + (i % 26) as u8) as char, c.spec))
                .collect();
            let mut header = vec!["".to_string()];
            header.extend(labels.iter().cloned());
            if cs.len() == 2 {
                header.push("B - A".into());
            }
            let mut t = llmplan::report::table::styled(None);
            t.set_header(header);
            for (name, unit, vals) in compare_rows(&cs) {
                let mut r = vec![if unit.is_empty() {
                    name.to_string()
                } else {
                    format!("{name} ({unit})")
                }];
                r.extend(vals.iter().map(|v| pretty(v, unit)));
                if cs.len() == 2 {
                    r.push(match (vals[0].parse::<f64>(), vals[1].parse::<f64>()) {
                        (Ok(x), Ok(y)) if !unit.is_empty() => pretty_delta(y - x, unit),
                        _ => String::new(),
                    });
                }
                t.add_row(r);
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
                let name = ((b'A' + (i % 26) as u8) as char).to_string();
                s.push('\n');
                for l in compare::explain(&cs[0].estimate, &c.estimate, "A", &name) {
                    s.push_str(&l);
                    s.push('\n');
                }
            }
            Ok(s)
        }
    }
}

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

fn pretty_delta(d: f64, unit: &str) -> String {
    match unit {
        "count" => format!("{:+}", d as i64),
        "%" | "GiB" | "days" => format!("{d:+.1}"),
        _ => format!("{d:+.2}"),
    }
}

/// (quantity, unit, one raw value per layout).
fn compare_rows(cs: &[compare::Compared]) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let mut rows: Vec<(&'static str, &'static str, Vec<String>)> = Vec::new();
    let col = |f: &dyn Fn(&llmplan::analytic::Estimate) -> String| -> Vec<String> {
        cs.iter().map(|c| f(&c.estimate)).collect()
    };
    rows.push((
        "layout",
        "",
        col(&|e| {
            let l = &e.layout;
            format!(
                "tp {} pp {} dp {} ep {} cp {} vpp {}",
                l.tp, l.pp, l.dp, l.ep, l.cp, l.vpp
            )
        }),
    ));
    rows.push((
        "micro-batch, schedule",
        "",
        col(&|e| {
            let l = &e.layout;
            format!(
                "{} x {} {} z{} {}{}",
                l.micro_batch,
                l.microbatches,
                l.schedule,
                l.zero,
                search::recompute_name(l.recompute),
                if l.sequence_parallel { " sp" } else { "" }
            )
        }),
    ));
    rows.push(("GPUs used", "count", col(&|e| e.gpus.to_string())));
    rows.push(("step", "s", col(&|e| e.time.step_s.to_string())));
    let n_terms = terms(&cs[0].estimate.time.breakdown, 0.0).len();
    const NAMES: [&str; 9] = [
        "  compute",
        "  pipeline bubble",
        "  TP comm (exposed)",
        "  EP all-to-all (exposed)",
        "  CP ring (exposed)",
        "  PP p2p (exposed)",
        "  DP sync (exposed)",
        "  optimizer",
        "  other (ZeRO per micro-batch)",
    ];
    for (i, name) in NAMES.iter().enumerate().take(n_terms) {
        rows.push((
            name,
            "s",
            col(&|e| terms(&e.time.breakdown, e.time.step_s)[i].1.to_string()),
        ));
    }
    rows.push(("MFU", "%", col(&|e| (e.mfu * 100.0).to_string())));
    rows.push((
        "memory peak",
        "GiB",
        col(&|e| (e.memory.peak_bytes / GIB).to_string()),
    ));
    rows.push((
        "  weights",
        "GiB",
        col(&|e| (e.memory.breakdown.weights / GIB).to_string()),
    ));
    rows.push((
        "  gradients",
        "GiB",
        col(&|e| (e.memory.breakdown.gradients / GIB).to_string()),
    ));
    rows.push((
        "  optimizer states",
        "GiB",
        col(&|e| (e.memory.breakdown.optimizer / GIB).to_string()),
    ));
    rows.push((
        "  activations",
        "GiB",
        col(&|e| (e.memory.breakdown.activations / GIB).to_string()),
    ));
    rows.push((
        "  other",
        "GiB",
        col(&|e| (e.memory.breakdown.other / GIB).to_string()),
    ));
    rows.push((
        "memory capacity",
        "GiB",
        col(&|e| (e.memory.capacity_bytes / GIB).to_string()),
    ));
    rows.push(("training", "days", col(&|e| e.time.days.to_string())));
    rows.push(("cost", "$M", col(&|e| (e.cost.usd / 1e6).to_string())));
    rows
}
