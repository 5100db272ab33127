//! The search as people and tools read it: the ranked table with its counts, footnotes,
//! error band and the scenario's own layout against the best; JSON of the layouts and
//! the outcome; CSV (through [`crate::report::csv`]).

use comfy_table::{CellAlignment, Table};
use serde_json::{json, Value};

use crate::error::Result;
use crate::report::layout::LayoutSummary;
use crate::report::units::{self, thousands};
use crate::search::{self, compare, Objective, Outcome, Ranked};
use crate::spec::scenario::Scenario;

/// Dollars in millions ("$1.25M") or, under a million, thousands ("$840k").
fn musd(x: f64) -> String {
    if x >= 1e6 {
        format!("${:.2}M", x / 1e6)
    } else {
        format!("${:.0}k", x / 1e3)
    }
}

/// What the objective ranks by, in words ("fewest training days").
pub fn objective_words(o: Objective) -> &'static str {
    match o {
        Objective::Time => "fewest training days",
        Objective::Step => "shortest step",
        Objective::Cost => "fewest dollars",
        Objective::TokensPerDollar => "most tokens per dollar",
    }
}

/// The layout's knobs as a JSON object (names as in `--fix`, with the micro-batches and
/// global batch they give): the layout summary's serde form.
fn layout_json(r: &Ranked) -> Value {
    json!(LayoutSummary::of_ranked(r))
}

/// `{evaluated, rejected: {reason: count}, elapsed_s, results: [...]}`, best first.
pub fn search_json(out: &Outcome) -> Value {
    let results: Vec<Value> = out
        .results
        .iter()
        .map(|r| {
            let mut v = json!({
                "layout": layout_json(r),
                "step_s": r.step_s,
                "mfu": r.mfu,
                "days": r.days,
                "usd": r.usd,
                "memory_peak_bytes": r.memory_peak_bytes,
            });
            if let (Some(s), Some(m)) = (r.sim_step_s, v.as_object_mut()) {
                m.insert("sim_step_s".into(), json!(s));
            }
            v
        })
        .collect();
    let baseline = out
        .baseline
        .as_ref()
        .map(|b| json!({"rank": b.rank, "in_space": b.in_space, "rejected": b.rejected}));
    json!({
        "gpus": out.gpus,
        "enumerated": out.enumerated,
        "feasible": out.feasible,
        "baseline": baseline,
        "evaluated": out.evaluated,
        "rejected": out.rejected_map(),
        "elapsed_s": out.elapsed_s,
        "results": results,
    })
}

/// The ranked layouts as CSV, the scenario's own layout last.
pub fn search_csv(out: &Outcome) -> String {
    let own = out.baseline.as_ref().and_then(|b| b.ranked.as_ref());
    crate::report::csv::search_csv(&out.results, own)
}

/// One ranked layout as table cells: `rank`, GPUs when `show_gpus`, layout, micro-batching
/// and memory knobs, step time (s), the simulator's step time when `simulated`, MFU,
/// peak / capacity memory (GiB), days and dollars.
pub fn row(rank: String, r: &Ranked, show_gpus: bool, simulated: bool) -> Vec<String> {
    let mut v = vec![rank];
    if show_gpus {
        v.push(thousands(r.gpus));
    }
    let l = LayoutSummary::of_ranked(r);
    v.extend([
        l.sizes_text().to_string(),
        format!("{:#}", l.batching_text()),
        format!("{:.2}", r.step_s),
    ]);
    if simulated {
        v.push(r.sim_step_s.map_or("-".into(), |s| format!("{s:.2}")));
    }
    v.extend([
        units::pct(r.mfu),
        format!(
            "{} / {}",
            units::gib_value(r.memory_peak_bytes),
            units::gib_value(r.memory_capacity_bytes)
        ),
        format!("{:.1}", r.days),
        musd(r.usd),
    ]);
    v
}

/// The search as text: heading, the ranked table (the scenario's own layout last), what
/// was enumerated and rejected, the simulator's footnotes, notes, the error band and
/// how the scenario's layout compares with the best.
pub fn search_table(sc: &Scenario, out: &Outcome) -> Result<String> {
    let mut s = heading(sc, out);
    s.push_str(&format!("{}\n", ranked_table(out)));
    s.push_str(&counts(out));
    s.push_str(&sim_footnotes(out));
    for n in &out.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    if let Some(line) = error_band_line(sc, out) {
        s.push_str(&line);
    }
    s.push_str(&baseline_verdict(sc, out)?);
    Ok(s)
}

/// The line above the table: scenario, GPU counts and type, cluster, objective.
fn heading(sc: &Scenario, out: &Outcome) -> String {
    let gpus_text = if out.gpus.len() > 1 {
        out.gpus
            .iter()
            .map(|g| thousands(*g))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        thousands(out.gpus[0])
    };
    format!(
        "{} - {} x {} ({}), ranked by {}\n",
        sc.name,
        gpus_text,
        sc.gpu.name,
        sc.cluster.name,
        objective_words(out.objective)
    )
}

/// The ranked layouts, best first, then the scenario's own layout (with its rank when
/// it was found); a GPU-count column only when several counts were searched, a
/// simulated column only when the simulator re-timed the top.
fn ranked_table(out: &Outcome) -> Table {
    let multi = out.gpus.len() > 1;
    let mut header = vec!["#"];
    if multi {
        header.push("GPUs");
    }
    header.extend(["layout", "mb x m, schedule, ZeRO, recompute", "step s"]);
    if out.simulated {
        header.push("sim step s");
    }
    header.extend(["MFU", "memory GiB peak / capacity", "days", "cost"]);
    let mut t = crate::report::table::new(header);
    for (i, r) in out.results.iter().enumerate() {
        t.add_row(row((i + 1).to_string(), r, multi, out.simulated));
    }
    let base = out.baseline.as_ref();
    if let Some(b) = base.and_then(|b| b.ranked.as_ref()) {
        let rank = base.and_then(|x| x.rank).map_or("scenario".into(), |k| {
            format!("scenario (#{})", thousands(k))
        });
        t.add_row(row(rank, b, multi, out.simulated));
    }
    // Numbers align right: every column from the step time on.
    for c in 2..t.column_count() {
        if let Some(col) = t.column_mut(c) {
            if c >= if multi { 4 } else { 3 } {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    t
}

/// Layouts enumerated (and the rate, millions per second), evaluated and fitting, and
/// the rejections by reason.
fn counts(out: &Outcome) -> String {
    let mut s = format!(
        "{} layouts enumerated in {:.2} s ({:.1}M/s); {} evaluated by the cost model, {} fit in memory\n",
        thousands(out.enumerated),
        out.elapsed_s,
        out.enumerated as f64 / out.elapsed_s.max(1e-9) / 1e6,
        thousands(out.evaluated),
        thousands(out.feasible),
    );
    let rejected: u64 = out.rejected.iter().map(|(_, n)| n).sum();
    if rejected > 0 {
        s.push_str(&format!("rejected {}:\n", thousands(rejected)));
        for (r, n) in &out.rejected {
            s.push_str(&format!("  {:>14}  {}\n", thousands(*n), r.key()));
        }
    }
    s
}

/// What the simulated column means, and how many layouts the simulator refused.
fn sim_footnotes(out: &Outcome) -> String {
    let mut s = String::new();
    if out.simulated {
        s.push_str(
            "sim step s: the same stage costs played event by event by the pipeline simulator (the ranking uses the closed forms)\n",
        );
    }
    let sim_errors: Vec<&String> = out
        .results
        .iter()
        .chain(out.baseline.as_ref().and_then(|b| b.ranked.as_ref()))
        .filter_map(|r| r.sim_error.as_ref())
        .collect();
    if let Some(e) = sim_errors.first() {
        s.push_str(&format!(
            "sim step s '-': the simulator refused {} layout{}, e.g. {e}\n",
            sim_errors.len(),
            if sim_errors.len() == 1 { "" } else { "s" }
        ));
    }
    s
}

/// The best layout's days within the error band of published runs in its regime
/// (percent errors in step time), and why the band cannot reorder the ranking; `None`
/// when nothing fits or the regime has no band.
fn error_band_line(sc: &Scenario, out: &Outcome) -> Option<String> {
    let best = out.results.first()?;
    let regime = crate::analytic::uncertainty::Regime::of(sc, best.gpus_used);
    let res = crate::validate::band::residuals();
    let b = crate::analytic::uncertainty::band(res, &regime)?;
    Some(format!(
        "error band: published {} runs ({} rows) came out {:+.0}% to {:+.0}% in step time, so the best's {:.1} days \
         may be {:.1}-{:.1}; a shared bias moves every row here together, so only gaps wider than the band's \
         spread between regimes (other GPU counts or types) can reorder a ranking\n",
        b.regime,
        b.rows,
        b.error_lo * 100.0,
        b.error_hi * 100.0,
        best.days,
        best.days / (1.0 + b.error_hi),
        best.days / (1.0 + b.error_lo)
    ))
}

/// The scenario's own layout against the best: its rank and the differences explained
/// from the two full estimates, that it is the best, or why it was rejected.
fn baseline_verdict(sc: &Scenario, out: &Outcome) -> Result<String> {
    let mut s = String::new();
    let Some(b) = out.baseline.as_ref() else {
        return Ok(s);
    };
    match (&b.ranked, &b.rejected) {
        (Some(r), _) => {
            let Some(best) = out.results.first() else {
                return Ok(s);
            };
            if best.layout == r.layout {
                s.push_str("\nthe scenario's layout is the best found\n");
                return Ok(s);
            }
            s.push_str(&format!(
                "\nthe scenario's layout ranks #{}{}; the best differs:\n",
                b.rank.map_or("?".into(), thousands),
                if b.in_space {
                    ""
                } else {
                    " (outside the searched space)"
                }
            ));
            let eb = search::full_estimate(sc, r)?;
            let ea = search::full_estimate(sc, best)?;
            for l in compare::explain(&eb, &ea, "scenario", "#1") {
                s.push_str(&l);
                s.push('\n');
            }
        }
        (None, Some(why)) => {
            s.push_str(&format!("\nthe scenario's layout is rejected: {why}\n"));
        }
        _ => {}
    }
    Ok(s)
}

/// The line under the table: the command that launches the top layout, or why it
/// cannot be exported (`name`: the scenario as the user named it); empty when nothing
/// fits.
pub fn launch_line(name: &str, sc: &Scenario, out: &Outcome) -> String {
    let Some(top) = out.results.first() else {
        return String::new();
    };
    match crate::export::launch_hint(name, sc, &top.layout, top.gpus) {
        Ok(cmd) => format!("launch the top layout: {cmd}\n"),
        Err(why) => format!("the top layout cannot be exported: {why}\n"),
    }
}
