//! `simulate` as people and tools read it: the simulated step as a summary and a
//! per-stage table, or as JSON (the timeline left to the trace file).

use comfy_table::{Cell, CellAlignment, Table};
use serde::Serialize;

use crate::report::units::pct;
use crate::sim::build::Imbalance;
use crate::sim::{self, MonteCarlo, SimResult};

/// A simulated step and what was computed beside it.
pub struct Simulation<'a> {
    /// The pipeline as simulated (layout, stage inputs, title, notes).
    pub prep: &'a sim::Prepared,
    /// The simulated step.
    pub result: &'a SimResult,
    /// An uneven split against the even one with fewer stages, when there is one.
    pub imbalance: Option<&'a Imbalance>,
    /// The Monte Carlo under jitter (and a straggler), when asked for.
    pub monte_carlo: Option<&'a MonteCarlo>,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    scenario: &'a str,
    layers_per_stage: &'a [u32],
    result: &'a SimResult,
    imbalance: Option<&'a Imbalance>,
    monte_carlo: Option<&'a MonteCarlo>,
    notes: &'a [String],
}

/// `{scenario, layers_per_stage, result (without its timeline), imbalance,
/// monte_carlo, notes}` as versioned, pretty JSON.
pub fn simulation_json(s: &Simulation) -> String {
    let mut r = s.result.clone();
    r.timeline.clear();
    let out = JsonOut {
        scenario: &s.prep.title,
        layers_per_stage: &s.prep.layout.layers_per_stage,
        result: &r,
        imbalance: s.imbalance,
        monte_carlo: s.monte_carlo,
        notes: &s.prep.notes,
    };
    serde_json::to_value(&out)
        .map(crate::report::json::document)
        .unwrap_or_default()
}

/// Seconds as milliseconds, two decimals.
fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

/// A two-column (quantity, text) table under `title`.
fn kv_table(title: &str) -> Table {
    let mut t = crate::report::table::styled(Some(120));
    t.set_header(vec!["", title]);
    t
}

/// One (quantity, text) row, the text left-aligned.
fn row(t: &mut Table, k: &str, v: String) {
    t.add_row(vec![
        Cell::new(k),
        Cell::new(v).set_alignment(CellAlignment::Left),
    ]);
}

/// The simulation as text: the key-value summary (pipeline, step time and its parts,
/// the closed form against the simulation, bubble, p2p, events; the uneven split's
/// cost; the Monte Carlo), the per-stage table, and notes; `written` names the files
/// written beside it.
pub fn simulation_table(s: &Simulation, written: &[String]) -> String {
    let (prep, r, imb, mc) = (s.prep, s.result, s.imbalance, s.monte_carlo);
    let l = &prep.layout;
    let mut t = kv_table(&prep.title);
    step_rows(&mut t, prep, r);
    if let Some(i) = imb {
        imbalance_row(&mut t, i);
    }
    if let Some(m) = mc {
        monte_carlo_rows(&mut t, m);
    }
    if imb.is_none() && l.uneven() {
        row(
            &mut t,
            "Uneven split",
            format!(
                "{}; no even split with fewer stages fits {} here, so its cost is not compared",
                l.split_text(),
                r.schedule.name()
            ),
        );
    }
    for w in written {
        row(&mut t, "Wrote", w.clone());
    }
    let mut out = format!("{t}\n{}\n", stage_table(prep, r));
    out.push_str(
        "fwd/bwd per micro-batch exclude p2p (simulated as transfers); peak in flight counts micro-batches whose \
         activations wait for their backward; awaiting W, those whose weight gradients have not run.\n",
    );
    for n in &prep.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// The step itself: pipeline shape, step time and its parts (ms), the closed form's
/// pipeline time against the simulated one, bubble, p2p per hop, events played.
fn step_rows(t: &mut Table, prep: &sim::Prepared, r: &SimResult) {
    let l = &prep.layout;
    row(
        t,
        "Pipeline",
        format!(
            "{} | pp {}{} | {} micro-batches | {}",
            r.schedule.name(),
            r.pp,
            if r.vpp > 1 {
                format!(" x vpp {}", r.vpp)
            } else {
                String::new()
            },
            r.microbatches,
            l.split_text()
        ),
    );
    row(
        t,
        "Step time",
        format!(
            "{} = pipeline {} + gradient sync and optimizer {}",
            ms(r.step_s),
            ms(r.pipeline_s),
            ms(r.step_s - r.pipeline_s)
        ),
    );
    row(
        t,
        "Closed form",
        format!(
            "pipeline {} from the analytic formula, simulated {:+.2}%",
            ms(r.closed_form_s),
            (r.pipeline_s / r.closed_form_s - 1.0) * 100.0
        ),
    );
    row(
        t,
        "Bubble",
        format!(
            "{} mean over stages (busiest stage computes {}, {} of the pipeline)",
            pct(r.mean_bubble()),
            ms(r.ideal_s),
            pct(r.ideal_s / r.pipeline_s)
        ),
    );
    let p2p = prep.input.p2p_s.first().copied().unwrap_or(0.0);
    row(
        t,
        "p2p per hop",
        format!(
            "{} per micro-batch, {}",
            ms(p2p),
            if prep.input.p2p_blocking {
                "blocking the sender (overlap.p2p off)"
            } else {
                "overlapped with compute"
            }
        ),
    );
    row(t, "Events", format!("{} simulated", r.events));
}

/// The uneven split against the even one with fewer stages: step (ms) and bubble of
/// each, the bubble points and GPU-seconds per step the imbalance costs.
fn imbalance_row(t: &mut Table, i: &Imbalance) {
    row(
        t,
        "Uneven split",
        format!(
            "{} layers on {} stages ({}): step {}, bubble {}; even {} x {} layers: step {}, bubble {}. \
             The imbalance costs {:+.1} points of bubble ({} of GPU time idles in the steady state) \
             and {:+.1}% GPU-seconds per step ({:.2} vs {:.2} GPU-s per pipeline)",
            i.layers,
            i.pp,
            i.split,
            ms(i.step_s),
            pct(i.bubble),
            i.pp_even,
            i.layers_per_stage_even,
            ms(i.even_step_s),
            pct(i.even_bubble),
            i.extra_bubble * 100.0,
            pct(i.imbalance_idle),
            (i.gpu_s / i.even_gpu_s - 1.0) * 100.0,
            i.gpu_s,
            i.even_gpu_s
        ),
    );
}

/// The Monte Carlo's step-time percentiles under jitter (ms), and a straggler's
/// expected cost per step when one was asked for.
fn monte_carlo_rows(t: &mut Table, m: &MonteCarlo) {
    let pj = &m.jitter;
    row(
        t,
        "Monte Carlo",
        format!(
            "{} steps, jitter CV {}, seed {}: p50 {}, p90 {}, p99 {} (no jitter {}, mean {})",
            m.steps,
            m.cv,
            m.seed,
            ms(pj.p50_s),
            ms(pj.p90_s),
            ms(pj.p99_s),
            ms(m.deterministic_s),
            ms(pj.mean_s)
        ),
    );
    if let Some(s) = &m.straggler {
        row(
            t,
            "Straggler",
            format!(
                "one GPU {:.2}x slower on {}: p50 {}, p99 {}; expected cost {} per step ({})",
                s.straggler.factor,
                s.straggler
                    .stage
                    .map_or("a random stage each step".to_string(), |st| format!(
                        "stage {st}"
                    )),
                ms(s.with.p50_s),
                ms(s.with.p99_s),
                ms(s.expected_cost_s),
                pct(s.expected_cost_frac)
            ),
        );
    }
}

/// One row per pipeline stage: layers, forward and backward per micro-batch and
/// compute (ms), bubble and utilisation of each stream (%), peak micro-batches in
/// flight and awaiting their weight gradients.
fn stage_table(prep: &sim::Prepared, r: &SimResult) -> Table {
    let l = &prep.layout;
    let mut st = crate::report::table::styled(None);
    st.set_header(vec![
        "stage",
        "layers",
        "fwd/mb",
        "bwd/mb",
        "compute",
        "bubble",
        "util compute",
        "util send",
        "util recv",
        "util dp",
        "peak in flight",
        "awaiting W",
    ]);
    for (i, s) in r.stages.iter().enumerate() {
        let spec = &prep.input.stages[i];
        st.add_row(vec![
            i.to_string(),
            l.layers_per_stage
                .get(i)
                .map_or("-".into(), |n| n.to_string()),
            ms(spec.fwd_s),
            ms(spec.bwd_s),
            ms(s.compute_s),
            pct(s.bubble),
            pct(s.util_compute),
            pct(s.util_send),
            pct(s.util_recv),
            pct(s.util_dp),
            format!("{:.2}", s.peak_in_flight),
            format!("{:.2}", s.peak_pending_wgrad),
        ]);
    }
    for c in 1..12 {
        if let Some(col) = st.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    st
}
