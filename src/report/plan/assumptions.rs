//! The assumptions table: every input, its value and where it comes from.

use super::text::{layout_text, one_line, set_at, src};
use super::Plan;
use crate::report::units::{gib, thousands};
use crate::search;
use crate::spec::training::AttentionKernel;

/// Every input of the plan as (input, value, source) rows.
pub(super) fn assumptions(p: &Plan) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |k: &str, v: String, s: String| rows.push(vec![k.to_string(), v, s]);
    model_and_training(p, &mut row);
    hardware(p, &mut row);
    cost_and_failures(p, &mut row);
    rows
}

/// Adds one (input, value, source) row.
type Row<'a> = dyn FnMut(&str, String, String) + 'a;

/// The scenario, the model and the training recipe, and the layout.
fn model_and_training(p: &Plan, row: &mut Row) {
    let sc = &p.scenario;
    let m = &sc.model;
    let t = &sc.training;
    let e = &p.est;
    row(
        "Scenario",
        sc.name.clone(),
        format!(
            "{}{}",
            p.scenario_file,
            sc.description
                .as_deref()
                .map_or(String::new(), |d| format!(": {}", one_line(d)))
        ),
    );
    if !sc.origin.overrides.is_empty() {
        row(
            "Overrides",
            sc.origin.overrides.join(", "),
            "--set on the command line".into(),
        );
    }
    row(
        "Model",
        format!(
            "{} ({}): {} layers, hidden {}, {} heads, {} parameters, {} active{}",
            m.display_name,
            m.name,
            m.layers,
            m.hidden,
            m.heads,
            crate::report::units::count(e.model.params_total),
            crate::report::units::count(e.model.params_active),
            m.moe.as_ref().map_or(String::new(), |x| format!(
                ", {} experts top-{}",
                x.experts, x.top_k
            ))
        ),
        one_line(&m.source),
    );
    if let Some(pc) = &m.published {
        row(
            "Published size",
            crate::report::units::count(pc.params_total),
            one_line(&pc.source),
        );
    }
    row(
        "Training tokens",
        format!("{:.3e}", t.tokens),
        set_at(p, "training.tokens"),
    );
    row(
        "Sequence length",
        t.seq_len.to_string(),
        set_at(p, "training.seq_len"),
    );
    let batch_field = if t.global_batch_tokens.is_some() {
        "training.global_batch_tokens"
    } else {
        "training.global_batch_seqs"
    };
    row(
        "Global batch",
        format!(
            "{} sequences ({:.1}M tokens) used",
            thousands(e.layout.global_batch_seqs),
            e.layout.global_batch_seqs as f64 * t.seq_len as f64 / 1e6
        ),
        set_at(p, batch_field),
    );
    row(
        "Precision",
        format!("{:?}", t.precision).to_lowercase(),
        set_at(p, "training.precision"),
    );
    row(
        "Recompute",
        search::recompute_name(t.recompute).to_string(),
        set_at(p, "training.recompute"),
    );
    row(
        "Attention",
        match (t.flash_attention, t.attention_kernel) {
            (false, _) => "unfused (s x s scores through HBM)".to_string(),
            (true, AttentionKernel::Flash3) => {
                "fused, FlashAttention-3 class (the calibrated kernel)".to_string()
            }
            (true, AttentionKernel::Flash2) => {
                "fused, FlashAttention-2 (FA3 paper's H100 ratio on Hopper)".to_string()
            }
        },
        set_at(
            p,
            if t.flash_attention {
                "training.attention_kernel"
            } else {
                "training.flash_attention"
            },
        ),
    );
    row("Layout", layout_text(e), set_at(p, "layout"));
}

/// The GPU and the cluster, each figure with its profile's source.
fn hardware(p: &Plan, row: &mut Row) {
    let sc = &p.scenario;
    let g = &sc.gpu;
    let c = &sc.cluster;
    row(
        "GPU",
        format!("{} ({})", g.display_name, g.name),
        set_at(p, "cluster"),
    );
    row(
        "GPU memory",
        gib(g.memory_bytes),
        src(&g.sources, "memory_bytes"),
    );
    row(
        "Peak FLOP/s",
        format!(
            "{:.0} TFLOP/s {}{} dense",
            g.peak_flops.half() / 1e12,
            if g.peak_flops.bf16.is_some() {
                "BF16"
            } else {
                "FP16"
            },
            g.peak_flops
                .fp8
                .map_or(String::new(), |f| format!(", {:.0} FP8", f / 1e12))
        ),
        src(&g.sources, "peak_flops"),
    );
    row(
        "HBM bandwidth",
        format!("{:.2} TB/s", g.hbm_bandwidth / 1e12),
        src(&g.sources, "hbm_bandwidth"),
    );
    row(
        "Kernel efficiency",
        format!(
            "GEMM {:.3}, attention {:.3}, memory {:.3}, sustained clock {:.3} ({}{})",
            g.efficiency.gemm,
            g.efficiency.attention,
            g.efficiency.memory,
            g.efficiency.sustained_clock,
            if g.efficiency.measured {
                "measured"
            } else {
                "derived"
            },
            g.calibration
                .as_deref()
                .map_or(String::new(), |c| format!("; fitted model {c}"))
        ),
        src(&g.sources, "efficiency"),
    );
    row(
        "GPU power",
        format!("{:.0} W TDP", g.tdp_w),
        src(&g.sources, "tdp_w"),
    );
    row(
        "Cluster",
        format!(
            "{} ({}): {} GPUs per node, NVLink domain {}",
            c.display_name, c.name, c.gpus_per_node, c.nvlink_domain
        ),
        set_at(p, "cluster"),
    );
    row(
        "NVLink bandwidth",
        format!(
            "{:.0} GB/s per GPU per direction",
            c.scale_up.bandwidth / 1e9
        ),
        src(&c.sources, "scale_up"),
    );
    row(
        "Network bandwidth",
        format!(
            "{:.0} Gb/s per GPU, oversubscription {:.2}",
            c.scale_out.bandwidth * 8.0 / 1e9,
            c.oversubscription
        ),
        src(&c.sources, "scale_out"),
    );
}

/// Price, billing and the failure model.
fn cost_and_failures(p: &Plan, row: &mut Row) {
    let sc = &p.scenario;
    let g = &sc.gpu;
    let e = &p.est;
    let price_src = if sc.pricing.usd_per_gpu_hour.is_some() {
        set_at(p, "pricing.usd_per_gpu_hour")
    } else {
        format!("GPU list price: {}", src(&g.sources, "usd_per_hour"))
    };
    row(
        "Price",
        format!("${:.2} per GPU-hour", e.cost.usd_per_gpu_hour),
        price_src,
    );
    row(
        "Billing",
        format!(
            "{} GPUs billed{}; PUE {:.2}, ${:.3}/kWh ({})",
            thousands(e.cost.gpus_billed),
            if sc.pricing.bill_idle_gpus {
                " (idle GPUs of the reservation included)"
            } else {
                ""
            },
            sc.pricing.pue,
            sc.pricing.usd_per_kwh,
            if sc.pricing.add_energy_cost {
                "energy added to the cost"
            } else {
                "energy reported, not added"
            }
        ),
        set_at(p, "pricing"),
    );
    let r = &sc.reliability;
    row(
        "Failures",
        if r.enabled {
            format!(
                "GPU MTBF {} h, node MTBF {} h, restart {:.0} s, {:?} checkpoints, {} spare nodes",
                thousands(r.gpu_mtbf_hours.round() as u64),
                thousands(r.node_mtbf_hours.round() as u64),
                r.restart_s,
                r.checkpoint_mode,
                r.spare_nodes
            )
            .replace("Sync", "synchronous")
            .replace("Async", "asynchronous")
        } else {
            "not modelled".to_string()
        },
        format!(
            "{}; defaults from Llama 3 (arXiv 2407.21783, section 3.3.4: 466 interruptions in 54 days on 16,384 H100)",
            set_at(p, "reliability")
        ),
    );
}
