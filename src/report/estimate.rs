//! The estimate as a table, JSON or CSV.

use comfy_table::{Cell, CellAlignment, Table};

use super::units::{count, gib, pct, sci, secs, thousands, usd};
use crate::analytic::reliability::ReliabilityOut;
use crate::analytic::{Engine, Estimate};
use crate::report::layout::LayoutSummary;
use crate::spec::reliability::CheckpointMode;

/// Long cells wrap at 120 columns (narrower on a narrower terminal), so piped output is
/// the same in every pipe and file.
fn table() -> Table {
    super::table::styled(Some(120))
}

fn row(t: &mut Table, k: &str, v: String) {
    t.add_row(vec![
        Cell::new(k),
        Cell::new(v).set_alignment(CellAlignment::Left),
    ]);
}

/// A human-readable summary: the answer first, then how it breaks down.
pub fn estimate_table(e: &Estimate) -> String {
    let mut t = table();
    t.set_header(vec!["", &e.scenario]);
    run_rows(&mut t, e);
    answer_rows(&mut t, e);
    if let Some(r) = &e.reliability {
        reliability_rows(&mut t, r);
    }
    resource_rows(&mut t, e);
    if e.engine == Engine::Analytic {
        step_rows(&mut t, e);
    }
    let mut out = t.to_string();
    out.push('\n');
    for w in &e.warnings {
        out.push_str("warning: ");
        out.push_str(w);
        out.push('\n');
    }
    out
}

/// What was estimated: GPUs and cluster, the layout, the model (parameters) and the
/// run's training FLOPs.
fn run_rows(t: &mut Table, e: &Estimate) {
    let l = &e.layout;
    let gpus = if e.gpus == e.gpus_requested {
        format!("{} x {}", thousands(e.gpus), e.gpu)
    } else {
        format!(
            "{} of {} x {} used",
            thousands(e.gpus),
            thousands(e.gpus_requested),
            e.gpu
        )
    };
    row(t, "GPUs", format!("{gpus} ({})", e.cluster));
    row(t, "Layout", LayoutSummary::of_estimate(l).to_string());
    row(
        t,
        "Model",
        format!(
            "{}: {} params, {} active per token",
            e.model.name,
            count(e.model.params_total),
            count(e.model.params_active)
        ),
    );
    row(
        t,
        "Training FLOPs",
        format!(
            "{} (6 x {} active matmul params x tokens); +{} attention (PaLM)",
            sci(e.flops.model_total),
            count(e.model.params_active_matmul),
            sci(e.flops.attention_total)
        ),
    );
}

/// The answer: step time (s) and steps, utilisation (MFU, HFU against the dense peak),
/// training days with their error band, and dollars.
fn answer_rows(t: &mut Table, e: &Estimate) {
    let engine = match e.engine {
        Engine::Analytic => "analytic model".to_string(),
        Engine::Mfu => format!("given MFU {}", pct(e.mfu)),
    };
    row(
        t,
        "Step time",
        format!(
            "{} ({engine}); {} steps",
            secs(e.time.step_s),
            thousands(e.time.steps as u64)
        ),
    );
    row(
        t,
        "Utilisation",
        format!(
            "MFU {} | with attention {} | HFU {} (of {:.0} TFLOP/s dense peak)",
            pct(e.mfu),
            pct(e.mfu_with_attention),
            pct(e.hfu),
            e.peak_flops / 1e12
        ),
    );
    row(
        t,
        "Training time",
        match &e.uncertainty {
            Some(u) => format!(
                "{:.1} days, {}",
                e.time.days,
                crate::analytic::uncertainty::describe_days(u)
            ),
            None => format!("{:.1} days", e.time.days),
        },
    );
    row(
        t,
        "Cost",
        format!(
            "{} ({} GPU-hours x ${:.2}, {} GPUs billed)",
            usd(e.cost.usd),
            count(e.cost.gpu_hours),
            e.cost.usd_per_gpu_hour,
            thousands(e.cost.gpus_billed)
        ),
    );
}

/// The run with failures: expected and Monte Carlo days and dollars, goodput,
/// checkpoints (interval, TB, write time) and the cost of each interruption.
fn reliability_rows(t: &mut Table, r: &ReliabilityOut) {
    row(
        t,
        "With failures",
        format!(
            "{:.1} days, {} expected vs {:.1} days, {} ideal (Monte Carlo p10/p50/p90: {:.1}/{:.1}/{:.1} days, \
             {}/{}/{})",
            r.days_expected,
            usd(r.usd_expected),
            r.days_ideal,
            usd(r.usd_ideal),
            r.days_p10,
            r.days_p50,
            r.days_p90,
            usd(r.usd_p10),
            usd(r.usd_p50),
            usd(r.usd_p90)
        ),
    );
    row(
        t,
        "Goodput",
        format!(
            "{} | {:.0} interruptions expected (one per {:.2} h){} | checkpoint every {} ({:.0} steps, {}), \
             {:.2} TB {} in {} | per interruption {} re-done + {} down{}",
            pct(r.goodput),
            r.interruptions,
            r.job_mtbf_hours,
            if r.rack_failure_rate_per_hour > 0.0 {
                format!(
                    ", {:.0} of them rack-level over {} racks",
                    r.rack_interruptions, r.nvlink_domains
                )
            } else {
                String::new()
            },
            secs(r.checkpoint_interval_s),
            r.checkpoint_interval_steps,
            if r.interval_from_scenario { "set" } else { "Young/Daly" },
            r.checkpoint_bytes / 1e12,
            match r.checkpoint_mode {
                CheckpointMode::Sync => "sync",
                CheckpointMode::Async => "async",
            },
            secs(r.checkpoint_write_s),
            secs(r.lost_work_s),
            secs(r.downtime_s),
            if r.spare_nodes > 0 {
                format!(" | {} spare nodes, {}", r.spare_nodes, usd(r.spare_usd))
            } else {
                String::new()
            }
        ),
    );
}

/// Energy (MWh, dollars) and memory per GPU (GiB, the busiest stage's parts).
fn resource_rows(t: &mut Table, e: &Estimate) {
    row(
        t,
        "Energy",
        format!(
            "{:.0} MWh (facility, with PUE); {} at the pricing's $/kWh",
            e.energy.mwh,
            usd(e.cost.energy_usd)
        ),
    );
    let m = &e.memory;
    let b = &m.breakdown;
    row(
        t,
        "Memory / GPU",
        format!(
            "{} of {} {} (stage {}: weights {}, grads {}, optimizer {}, activations {}, other {})",
            gib(m.peak_bytes),
            gib(m.capacity_bytes),
            if m.fits { "fits" } else { "DOES NOT FIT" },
            m.busiest_stage,
            gib(b.weights),
            gib(b.gradients),
            gib(b.optimizer),
            gib(b.activations),
            gib(b.other)
        ),
    );
    if b.host_offloaded > 0.0 {
        row(
            t,
            "Host memory / GPU",
            format!(
                "{} of activations offloaded (training.activation_offload_layers)",
                gib(b.host_offloaded)
            ),
        );
    }
}

/// The analytic model's step breakdown, and what NIC contention adds to the step (s).
fn step_rows(t: &mut Table, e: &Estimate) {
    row(t, "Step breakdown", breakdown_text(e));
    let c = e.time.nic_contention_s;
    if c > 0.0 {
        row(
            t,
            "NIC contention",
            format!(
                "+{} ({}): step {} with shared NICs, {} with every collective alone on its NIC",
                secs(c),
                pct(c / e.time.step_s),
                secs(e.time.step_s),
                secs(e.time.step_s - c)
            ),
        );
    }
}

/// The step's breakdown on the critical path as one line: each part's seconds and
/// share of the step, then the parts named apart (FP8 casts, MoE permute, loss, clipping, ...).
fn breakdown_text(e: &Estimate) -> String {
    let d = &e.time.breakdown;
    let parts = [
        ("compute", d.compute_s),
        ("bubble", d.bubble_s),
        ("TP comm", d.tp_comm_s),
        ("EP all-to-all", d.ep_comm_s),
        ("CP ring", d.cp_comm_s),
        ("PP p2p", d.p2p_s),
        ("DP sync", d.dp_comm_s),
        ("optimizer", d.optimizer_s),
        ("host offload", d.offload_s),
    ];
    let mut text = parts
        .iter()
        .filter(|(_, v)| *v > 0.0)
        .map(|(k, v)| format!("{k} {} ({})", secs(*v), pct(v / e.time.step_s)))
        .collect::<Vec<_>>()
        .join(", ");
    // Parts of compute, the optimizer and the DP sync, named apart, each parent once
    // (its parts are adjacent below).
    let mut parent = "";
    for (of, k, v) in [
        ("compute", "FP8 casts", d.fp8_cast_s),
        ("compute", "MoE permute", d.moe_permute_s),
        ("compute", "loss", d.loss_s),
        ("optimizer", "gradient clipping", d.grad_clip_s),
        ("DP sync", "compute slowed by its SMs", d.collective_sm_s),
        (
            "DP sync",
            "ZeRO-3 first gather and last reduce",
            d.zero3_edges_s,
        ),
    ] {
        if v > 0.0 {
            if of == parent {
                text.push_str(", ");
            } else {
                text.push_str(&format!("; of {of}: "));
            }
            parent = of;
            text.push_str(&format!("{k} {} ({})", secs(v), pct(v / e.time.step_s)));
        }
    }
    text
}

/// The estimate as pretty JSON (field names are a stable interface).
pub fn estimate_json(e: &Estimate) -> String {
    serde_json::to_value(e)
        .map(super::json::versioned)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}

/// The estimate as `quantity,value,unit` rows.
pub fn estimate_csv(e: &Estimate) -> String {
    let d = &e.time.breakdown;
    let b = &e.memory.breakdown;
    let rows: Vec<(&str, f64, &str)> = vec![
        ("gpus", e.gpus as f64, "GPUs"),
        ("gpus_requested", e.gpus_requested as f64, "GPUs"),
        ("tp", e.layout.tp as f64, ""),
        ("pp", e.layout.pp as f64, ""),
        ("dp", e.layout.dp as f64, ""),
        ("ep", e.layout.ep as f64, ""),
        ("etp", e.layout.etp as f64, ""),
        ("cp", e.layout.cp as f64, ""),
        ("vpp", e.layout.vpp as f64, ""),
        ("micro_batch", e.layout.micro_batch as f64, "sequences"),
        ("microbatches", e.layout.microbatches as f64, "per step"),
        ("params_total", e.model.params_total, "parameters"),
        ("params_active", e.model.params_active, "parameters"),
        ("flops_model_total", e.flops.model_total, "FLOPs"),
        ("flops_attention_total", e.flops.attention_total, "FLOPs"),
        ("step_s", e.time.step_s, "s"),
        ("steps", e.time.steps, "steps"),
        ("days", e.time.days, "days"),
        ("mfu", e.mfu, "fraction"),
        ("mfu_with_attention", e.mfu_with_attention, "fraction"),
        ("hfu", e.hfu, "fraction"),
        ("gpu_hours", e.cost.gpu_hours, "GPU-hours"),
        ("usd", e.cost.usd, "USD"),
        ("energy_mwh", e.energy.mwh, "MWh"),
        ("memory_peak_bytes", e.memory.peak_bytes, "bytes"),
        ("memory_capacity_bytes", e.memory.capacity_bytes, "bytes"),
        ("memory_weights_bytes", b.weights, "bytes"),
        ("memory_gradients_bytes", b.gradients, "bytes"),
        ("memory_optimizer_bytes", b.optimizer, "bytes"),
        ("memory_activations_bytes", b.activations, "bytes"),
        ("memory_other_bytes", b.other, "bytes"),
        ("memory_host_offloaded_bytes", b.host_offloaded, "bytes"),
        ("compute_s", d.compute_s, "s"),
        ("bubble_s", d.bubble_s, "s"),
        ("tp_comm_s", d.tp_comm_s, "s"),
        ("ep_comm_s", d.ep_comm_s, "s"),
        ("cp_comm_s", d.cp_comm_s, "s"),
        ("p2p_s", d.p2p_s, "s"),
        ("dp_comm_s", d.dp_comm_s, "s"),
        ("optimizer_s", d.optimizer_s, "s"),
        ("offload_s", d.offload_s, "s"),
        ("fp8_cast_s", d.fp8_cast_s, "s"),
        ("moe_permute_s", d.moe_permute_s, "s"),
        ("loss_s", d.loss_s, "s"),
        ("collective_sm_s", d.collective_sm_s, "s"),
        ("zero3_edges_s", d.zero3_edges_s, "s"),
        ("grad_clip_s", d.grad_clip_s, "s"),
    ];
    let mut rows = rows;
    if let Some(r) = &e.reliability {
        rows.extend([
            ("goodput", r.goodput, "fraction"),
            ("interruptions", r.interruptions, "interruptions"),
            ("rack_interruptions", r.rack_interruptions, "interruptions"),
            ("checkpoint_interval_s", r.checkpoint_interval_s, "s"),
            ("checkpoint_bytes", r.checkpoint_bytes, "bytes"),
            ("checkpoint_write_s", r.checkpoint_write_s, "s"),
            ("days_expected", r.days_expected, "days"),
            ("days_p10", r.days_p10, "days"),
            ("days_p50", r.days_p50, "days"),
            ("days_p90", r.days_p90, "days"),
            ("usd_expected", r.usd_expected, "USD"),
            ("usd_p90", r.usd_p90, "USD"),
        ]);
    }
    if let Some(u) = &e.uncertainty {
        rows.extend([
            ("band_step_s_p10", u.step_s_p10, "s"),
            ("band_step_s_p90", u.step_s_p90, "s"),
            ("band_days_p10", u.days_p10, "days"),
            ("band_days_p90", u.days_p90, "days"),
            ("band_usd_p10", u.usd_p10, "USD"),
            ("band_usd_p90", u.usd_p90, "USD"),
            ("band_rows", u.rows as f64, "published runs"),
        ]);
    }
    let mut t = super::csv::CsvTable::new(["quantity", "value", "unit"]);
    for (k, v, u) in rows {
        t.row([k, &format!("{v}"), u]);
    }
    t.finish()
}
