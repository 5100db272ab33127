//! The catalog as people read it: `list` tables (GPUs, clusters, models, scenarios)
//! and `show`'s one entry in detail (a model's parameter split; a GPU's or a
//! cluster's fields with units and the source of each).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::analytic;
use crate::report::table;
use crate::report::units;
use crate::spec::{ClusterProfile, GpuProfile, ModelSpec};
use crate::units::GIB;

/// One row per GPU profile: memory, dense BF16/FP8/FP4 peaks, HBM, TDP, price, and
/// whether its kernel efficiency is measured or derived.
pub fn gpus_table(gpus: &[GpuProfile]) -> String {
    let mut t = table::new(vec![
        "name",
        "GPU",
        "memory",
        "BF16 dense",
        "FP8 dense",
        "FP4 dense",
        "HBM",
        "TDP",
        "$/h",
        "efficiency",
    ]);
    let tflops = |f: Option<f64>| f.map_or("-".into(), |f| format!("{:.0} TFLOP/s", f / 1e12));
    for g in gpus {
        t.add_row(vec![
            g.name.clone(),
            g.display_name.clone(),
            units::gib(g.memory_bytes),
            tflops(g.peak_flops.bf16),
            tflops(g.peak_flops.fp8),
            tflops(g.peak_flops.fp4),
            format!("{:.2} TB/s", g.hbm_bandwidth / 1e12),
            format!("{:.0} W", g.tdp_w),
            format!("{:.2}", g.usd_per_hour),
            if g.efficiency.measured {
                "measured"
            } else {
                "derived"
            }
            .to_string(),
        ]);
    }
    format!("{t}\n")
}

/// One row per cluster profile: its GPU, node and NVLink domain sizes, scale-up
/// (GB/s) and scale-out (Gb/s) bandwidth per GPU.
pub fn clusters_table(clusters: &[ClusterProfile]) -> String {
    let mut t = table::new(vec![
        "name",
        "cluster",
        "GPU",
        "GPUs/node",
        "NVLink domain",
        "NVLink/GPU",
        "network/GPU",
    ]);
    for c in clusters {
        t.add_row(vec![
            c.name.clone(),
            c.display_name.clone(),
            c.gpu.clone(),
            c.gpus_per_node.to_string(),
            c.nvlink_domain.to_string(),
            format!("{:.0} GB/s", c.scale_up.bandwidth / 1e9),
            format!("{:.0} Gb/s", c.scale_out.bandwidth * 8.0 / 1e9),
        ]);
    }
    format!("{t}\n")
}

/// One row per model: shape, experts, total and active parameters (counted).
pub fn models_table(models: &[ModelSpec]) -> String {
    let mut t = table::new(vec![
        "name", "model", "layers", "hidden", "heads/kv", "experts", "params", "active",
    ]);
    for m in models {
        let c = analytic::count(m);
        t.add_row(vec![
            m.name.clone(),
            m.display_name.clone(),
            m.layers.to_string(),
            m.hidden.to_string(),
            format!("{}/{}", m.heads, m.kv_heads()),
            m.moe
                .as_ref()
                .map_or("-".into(), |e| format!("{} top-{}", e.experts, e.top_k)),
            units::count(c.total),
            units::count(c.active),
        ]);
    }
    format!("{t}\n")
}

/// One row per scenario: (name, title).
pub fn scenarios_table(scenarios: &[(&str, String)]) -> String {
    let mut t = table::new(vec!["name", "scenario"]);
    for (n, title) in scenarios {
        t.add_row(vec![n.to_string(), title.clone()]);
    }
    format!("{t}\n")
}

/// A model: its parameters by part (count and share), total and active per token,
/// and the published counts with their source.
pub fn model_table(m: &ModelSpec) -> String {
    let c = analytic::count(m);
    let mut t = table::new(vec!["part", "parameters", "share"]);
    let parts = [
        ("attention", c.attention),
        ("dense MLP / shared experts", c.mlp),
        ("routed experts", c.experts),
        ("routers", c.router),
        ("norms", c.norms),
        ("input embedding", c.embedding),
        ("output layer (untied)", c.output),
        ("position table", c.position),
        ("vision encoder (no FLOPs priced)", c.vision),
    ];
    for (k, v) in parts {
        if v > 0.0 {
            t.add_row(vec![
                k.to_string(),
                units::count(v),
                units::pct(v / c.total),
            ]);
        }
    }
    t.add_row(vec![
        "total".to_string(),
        units::count(c.total),
        "100.0%".to_string(),
    ]);
    t.add_row(vec![
        "active per token".to_string(),
        units::count(c.active),
        units::pct(c.active / c.total),
    ]);
    let mut out = format!(
        "{} ({})\nsource: {}\n",
        m.display_name,
        m.name,
        m.source.trim()
    );
    out.push_str(&format!("{t}\n"));
    if let Some(p) = &m.published {
        out.push_str(&format!(
            "published: {} total{} ({})\n",
            units::count(p.params_total),
            p.params_active
                .map_or(String::new(), |a| format!(", {} active", units::count(a))),
            p.source.trim()
        ));
    }
    out
}

/// A GPU's numbers with units and the source of each.
pub fn gpu_table(g: &GpuProfile) -> String {
    let v = serde_json::to_value(g).unwrap_or(Value::Null);
    let head = format!("{} ({})\n", g.display_name, g.name);
    head + &fields_table(&v, &g.sources)
}

/// A cluster's numbers with units and the source of each.
pub fn cluster_table(c: &ClusterProfile) -> String {
    let v = serde_json::to_value(c).unwrap_or(Value::Null);
    let head = format!("{} ({}), built from {}\n", c.display_name, c.name, c.gpu);
    head + &fields_table(&v, &c.sources)
}

/// One row per leaf field (dotted), its value with a unit read from its name, and the
/// source entry of the field or of its section.
fn fields_table(v: &Value, sources: &BTreeMap<String, String>) -> String {
    let mut rows = Vec::new();
    flatten("", v, &mut rows);
    let mut t = table::styled(None);
    t.set_header(vec!["field", "value", "source"]);
    for (k, val) in rows {
        if matches!(k.as_str(), "name" | "display_name" | "gpu") || k.starts_with("sources") {
            continue;
        }
        let section = k.split('.').next().unwrap_or(&k);
        let src = sources
            .get(&k)
            .or_else(|| sources.get(section))
            .map_or("-", String::as_str);
        t.add_row(vec![k.clone(), with_unit(&k, &val), one_line(src)]);
    }
    format!("{t}\n")
}

/// The leaves of `v` as (dotted key, value), in the object's key order.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// A field's value with the unit its name implies (TFLOP/s, GB/s, MiB or GiB, us, W,
/// $/h); other values as written.
fn with_unit(key: &str, v: &Value) -> String {
    let Some(x) = v.as_f64() else {
        return v.as_str().map_or_else(|| v.to_string(), str::to_string);
    };
    if key.starts_with("peak_flops") {
        format!("{:.1} TFLOP/s", x / 1e12)
    } else if key.ends_with("bandwidth") {
        format!("{:.1} GB/s", x / 1e9)
    } else if key.ends_with("_bytes") && x < GIB {
        format!("{:.0} MiB", x / f64::from(1u32 << 20))
    } else if key.ends_with("_bytes") {
        units::gib(x)
    } else if key.ends_with("latency_s") {
        format!("{:.2} us", x * 1e6)
    } else if key.ends_with("_w") {
        format!("{x:.0} W")
    } else if key.starts_with("usd") {
        format!("${x:.2}/h")
    } else {
        v.to_string()
    }
}

/// A source on one line, cut to 90 characters.
fn one_line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 90 {
        format!("{}...", s.chars().take(87).collect::<String>())
    } else {
        s
    }
}
