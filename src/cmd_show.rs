//! `llmplan show model|gpu|cluster NAME-or-FILE`: one entry in detail, from the catalog,
//! a YAML file, or (models) a Hugging Face config.json.

use std::path::Path;

use serde_json::Value;

use llmplan::report::units;
use llmplan::spec::yaml::Source;
use llmplan::spec::{catalog, hf, ClusterProfile, GpuProfile, ModelSpec};
use llmplan::units::GIB;
use llmplan::Error;

fn is_file(name: &str) -> bool {
    name.contains('/')
        || name.ends_with(".yaml")
        || name.ends_with(".yml")
        || name.ends_with(".json")
}

/// A model by catalog name, YAML file, `hf:PATH` or a `config.json` path.
pub fn load_model(name: &str) -> Result<ModelSpec, Error> {
    let hf_path = name
        .strip_prefix("hf:")
        .or(name.ends_with(".json").then_some(name));
    let mut m: ModelSpec = match hf_path {
        Some(p) => hf::load(Path::new(p))?,
        None if is_file(name) => Source::read(Path::new(name))?.parse_checked()?,
        None => catalog::load(catalog::MODELS, "model", name)?,
    };
    let stem = Path::new(name.trim_start_matches("hf:"))
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("custom");
    m.fill_names(stem);
    m.validate()?;
    Ok(m)
}

/// A GPU by catalog name or YAML file.
pub fn load_gpu(name: &str) -> Result<GpuProfile, Error> {
    if is_file(name) {
        Source::read(Path::new(name))?.parse_checked()
    } else {
        catalog::load(catalog::GPUS, "gpu", name)
    }
}

/// A cluster by catalog name or YAML file.
pub fn load_cluster(name: &str) -> Result<ClusterProfile, Error> {
    if is_file(name) {
        Source::read(Path::new(name))?.parse_checked()
    } else {
        catalog::load(catalog::CLUSTERS, "cluster", name)
    }
}

/// A GPU's numbers with units and the source of each.
pub fn gpu(g: &GpuProfile) -> String {
    let v = serde_json::to_value(g).unwrap_or(Value::Null);
    let head = format!("{} ({})\n", g.display_name, g.name);
    head + &fields_table(&v, &g.sources)
}

/// A cluster's numbers with units and the source of each.
pub fn cluster(c: &ClusterProfile) -> String {
    let v = serde_json::to_value(c).unwrap_or(Value::Null);
    let head = format!("{} ({}), built from {}\n", c.display_name, c.name, c.gpu);
    head + &fields_table(&v, &c.sources)
}

/// One row per leaf field (dotted), its value with a unit read from its name, and the
/// source entry of the field or of its section.
fn fields_table(v: &Value, sources: &std::collections::BTreeMap<String, String>) -> String {
    let mut rows = Vec::new();
    flatten("", v, &mut rows);
    let mut t = llmplan::report::table::styled(None);
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

fn one_line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 90 {
        format!("{}...", s.chars().take(87).collect::<String>())
    } else {
        s
    }
}
