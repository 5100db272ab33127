//! JSON Schemas of the input files (`llmplan schema`) and the field reference in
//! docs/fields.md generated from them (tests/schema.rs keeps the file current).

use schemars::JsonSchema;
use serde_json::Value;

use super::cluster::ClusterProfile;
use super::gpu::GpuProfile;
use super::model::ModelSpec;
use super::scenario::ScenarioFile;

/// The input kinds that have a schema.
pub const KINDS: &[&str] = &["scenario", "model", "gpu", "cluster"];

/// The JSON Schema (draft 2020-12) of one input kind, `None` for an unknown kind.
pub fn schema(kind: &str) -> Option<Value> {
    let s = match kind {
        "scenario" => schemars::schema_for!(ScenarioFile),
        "model" => schemars::schema_for!(ModelSpec),
        "gpu" => schemars::schema_for!(GpuProfile),
        "cluster" => schemars::schema_for!(ClusterProfile),
        _ => return None,
    };
    Some(s.to_value())
}

fn schema_of<T: JsonSchema>() -> Value {
    schemars::schema_for!(T).to_value()
}

/// docs/fields.md: every field of every input kind, with its type, default and doc.
pub fn field_reference() -> String {
    let mut out = String::from(
        "# Input fields\n\n\
         Generated from the JSON Schemas that `llmplan schema scenario|model|gpu|cluster` prints\n\
         (do not edit: `cargo test --test schema` fails when this file is stale, and\n\
         `LLMPLAN_BLESS=1 cargo test --test schema` rewrites it). A field without a default\n\
         is required. Units are in each description.\n",
    );
    for (kind, v) in [
        ("scenario", schema_of::<ScenarioFile>()),
        ("model", schema_of::<ModelSpec>()),
        ("gpu", schema_of::<GpuProfile>()),
        ("cluster", schema_of::<ClusterProfile>()),
    ] {
        out.push_str(&format!("\n## {kind}\n"));
        let defs = v.get("$defs").cloned().unwrap_or(Value::Null);
        table(&v, &defs, "", &mut out, 0);
    }
    out
}

fn resolve<'a>(s: &'a Value, defs: &'a Value) -> &'a Value {
    match s
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(n) => defs.get(n).unwrap_or(s),
        None => s,
    }
}

/// The object schema inside `s` (through `$ref`, `anyOf` with null, or the inline
/// branch of a name-or-inline reference), if it has fields.
fn object<'a>(s: &'a Value, defs: &'a Value) -> Option<&'a Value> {
    let s = resolve(s, defs);
    if s.get("properties").is_some() {
        return Some(s);
    }
    s.get("anyOf")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|b| object(b, defs))
}

fn type_text(s: &Value, defs: &Value) -> String {
    let r = resolve(s, defs);
    if let Some(branches) = r
        .get("anyOf")
        .or_else(|| r.get("oneOf"))
        .and_then(Value::as_array)
    {
        let parts: Vec<String> = branches
            .iter()
            .map(|b| type_text(b, defs))
            .filter(|t| t != "null")
            .collect();
        return parts.join(" or ");
    }
    if let Some(c) = r.get("const") {
        return c.to_string();
    }
    if let Some(e) = r.get("enum").and_then(Value::as_array) {
        return e
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    if r.get("properties").is_some() {
        return "section".into();
    }
    match r.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!(
                "list of {}",
                r.get("items")
                    .map_or("values".into(), |i| type_text(i, defs))
            )
        }
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "map".into(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn table(s: &Value, defs: &Value, prefix: &str, out: &mut String, depth: usize) {
    let Some(obj) = object(s, defs) else { return };
    let Some(props) = obj.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("\n| field | type | default | meaning |\n|---|---|---|---|\n");
    let mut nested = Vec::new();
    for (k, p) in props {
        let name = format!("{prefix}{k}");
        let default = match p.get("default") {
            Some(d) if d.is_object() => "(below)".into(),
            Some(d) => format!("`{d}`"),
            None if required.contains(&k.as_str()) => "required".into(),
            None => "-".into(),
        };
        let doc = p
            .get("description")
            .or_else(|| resolve(p, defs).get("description"))
            .and_then(Value::as_str)
            .unwrap_or("");
        out.push_str(&format!(
            "| `{name}` | {} | {default} | {} |\n",
            type_text(p, defs),
            one_line(doc)
        ));
        if depth < 3
            && object(p, defs).is_some()
            && !matches!(k.as_str(), "model" | "cluster" | "gpu")
        {
            nested.push((name, p));
        }
    }
    for (name, p) in nested {
        out.push_str(&format!("\n### {name}\n"));
        table(p, defs, &format!("{name}."), out, depth + 1);
    }
}
