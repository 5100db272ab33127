//! The report's short forms: layouts in one line, days, GiB, seconds, sources.

use super::Plan;
use crate::analytic::{self, Estimate};
use crate::report::layout::LayoutSummary;

/// The layout in one line, as `estimate` prints it.
pub(super) fn layout_text(e: &Estimate) -> String {
    LayoutSummary::of_estimate(&e.layout).to_string()
}

/// The layout in the compact form narrow table cells and chart labels use.
pub(super) fn short_layout(e: &Estimate) -> String {
    format!("{:#}", LayoutSummary::of_estimate(&e.layout))
}

pub(super) fn days(d: f64) -> String {
    if d >= 100.0 {
        format!("{d:.0} days")
    } else {
        format!("{d:.1} days")
    }
}

pub(super) fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where `field` was set: the scenario file's line, a `--set`, or the default with
/// where the default comes from. A key the file leaves out is a default, even when
/// its section is written.
pub(super) fn set_at(p: &Plan, field: &str) -> String {
    match p.scenario.origin.written(field) {
        Some(loc) if loc.file.starts_with("--") => loc.file,
        Some(loc) => format!("{}, line {}", p.scenario_file, loc.line),
        None => format!("default ({})", default_source(field)),
    }
}

/// Where a field's default comes from, for the assumptions table.
pub(super) fn default_source(field: &str) -> &'static str {
    match field {
        "training.precision" => "BF16 mixed precision, as Megatron-LM and NeMo train",
        "training.recompute" => "none: every activation kept",
        "training.attention_kernel" => "the kernel the GPU's calibration measured",
        "training.flash_attention" => "fused flash attention, as current frameworks run",
        "layout" => "tp 1 pp 1 ep 1 cp 1, micro-batch 1, ZeRO 1, dp from the GPU count",
        "cluster" => "the scenario's cluster profile",
        "pricing" => "$0.08/kWh, EIA's 2024 US industrial average; PUE 1.2",
        "pricing.usd_per_gpu_hour" => "the GPU profile's list price",
        "reliability" => "Llama 3's failure rates",
        _ => "llmplan's schema",
    }
}

pub(super) fn src(map: &std::collections::BTreeMap<String, String>, key: &str) -> String {
    map.get(key)
        .map(|s| one_line(s))
        .unwrap_or_else(|| "(no source given)".to_string())
}

pub(super) fn exposed_comm(b: &analytic::estimate::StepBreakdown) -> f64 {
    b.tp_comm_s + b.ep_comm_s + b.cp_comm_s + b.p2p_s + b.dp_comm_s
}

pub(super) fn short_name(t: &str) -> String {
    match t.find(" on ") {
        Some(i) if t.len() > 48 => t[..i].to_string(),
        _ => t.to_string(),
    }
}
