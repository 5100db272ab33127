//! Every schema problem of an input document at once, each at its own line.
//!
//! serde stops at the first problem, so a file with three mistakes would take three
//! runs to fix. When parsing fails, the document is read again as a plain tree and
//! walked against the input type's JSON Schema (the one `llmplan schema` prints):
//! unknown fields (with the nearest known name), missing required fields, wrong types
//! and values outside an enumeration are all collected, each with its dotted path so
//! that [`super::yaml::Source::locate`] can point at its line.

use schemars::JsonSchema;
use serde_json::{Map, Value};

/// One problem found in a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Dotted key path of the offending field (for a missing field: the field's own
    /// path; its parent is where it would be written).
    pub path: Vec<String>,
    /// What is wrong, in words.
    pub message: String,
    /// What kind of problem: decides where it points.
    pub kind: IssueKind,
}

/// Where an issue points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// A required field is absent: its parent's line.
    Missing,
    /// A field the schema does not know: its key.
    Unknown,
    /// A field with a wrong value: the value.
    Value,
}

/// Checks `doc` against `T`'s JSON Schema; empty when the schema finds nothing wrong.
pub fn check<T: JsonSchema>(doc: &Value) -> Vec<Issue> {
    let root = schemars::schema_for!(T);
    let root = root.as_value();
    let mut w = Walker {
        defs: root.get("$defs").and_then(Value::as_object),
        issues: Vec::new(),
    };
    w.walk(root, doc, &mut Vec::new());
    w.issues
}

struct Walker<'a> {
    defs: Option<&'a Map<String, Value>>,
    issues: Vec<Issue>,
}

impl<'a> Walker<'a> {
    /// Follows `$ref: "#/$defs/Name"` (once per level; schemars never chains them).
    fn resolve(&self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix("#/$defs/")
                .and_then(|n| self.defs.and_then(|d| d.get(n)))
                .unwrap_or(schema),
            None => schema,
        }
    }

    fn push(&mut self, path: &[String], message: String, kind: IssueKind) {
        self.issues.push(Issue {
            path: path.to_vec(),
            message,
            kind,
        });
    }

    fn walk(&mut self, schema: &'a Value, v: &Value, path: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            self.alternatives(branches, v, path);
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(v) {
                let msg = format!("expected one of {}, got {}", list(allowed), short(v));
                self.push(path, msg, IssueKind::Value);
            }
            return;
        }
        if let Some(c) = schema.get("const") {
            if c != v {
                self.push(
                    path,
                    format!("expected {c}, got {}", short(v)),
                    IssueKind::Value,
                );
            }
            return;
        }
        if let Some(t) = schema.get("type") {
            if !type_matches(t, v) {
                let msg = format!("expected {}, got {}", type_words(t), short(v));
                self.push(path, msg, IssueKind::Value);
                return;
            }
        }
        if let (Some(min), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
            if x < min {
                self.push(
                    path,
                    format!("must be at least {min}, got {x}"),
                    IssueKind::Value,
                );
            }
        }
        if let Value::Object(map) = v {
            self.object(schema, map, path);
        }
    }

    /// `anyOf`/`oneOf`: fine if one branch takes the value; otherwise report the branch
    /// that fits best (the map branch for a map, else the one with fewest problems), or
    /// the allowed values when every branch is a constant.
    fn alternatives(&mut self, branches: &'a [Value], v: &Value, path: &mut Vec<String>) {
        let consts: Option<Vec<Value>> = branches
            .iter()
            .map(|b| {
                let b = self.resolve(b);
                b.get("const").cloned().or_else(|| {
                    b.get("enum")
                        .and_then(Value::as_array)
                        .filter(|a| a.len() == 1)
                        .map(|a| a[0].clone())
                })
            })
            .collect();
        if let Some(c) = consts {
            if !c.contains(v) {
                let msg = format!("expected one of {}, got {}", list(&c), short(v));
                self.push(path, msg, IssueKind::Value);
            }
            return;
        }
        let mut best: Option<Vec<Issue>> = None;
        for b in branches {
            let mut sub = Walker {
                defs: self.defs,
                issues: Vec::new(),
            };
            sub.walk(b, v, path);
            if sub.issues.is_empty() {
                return;
            }
            let takes_maps = v.is_object() && self.is_object_schema(b);
            let better = match &best {
                None => true,
                Some(_) if takes_maps => true,
                Some(prev) => sub.issues.len() < prev.len() && !v.is_object(),
            };
            if better {
                best = Some(sub.issues);
            }
        }
        self.issues.extend(best.unwrap_or_default());
    }

    fn is_object_schema(&self, b: &'a Value) -> bool {
        let b = self.resolve(b);
        b.get("properties").is_some() || type_matches_name(b.get("type"), "object")
    }

    fn object(&mut self, schema: &'a Value, map: &Map<String, Value>, path: &mut Vec<String>) {
        let props = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (k, val) in map {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => {
                    path.push(k.clone());
                    self.walk(sub, val, path);
                    path.pop();
                }
                None if closed => {
                    let known: Vec<&str> =
                        props.map_or(Vec::new(), |p| p.keys().map(String::as_str).collect());
                    path.push(k.clone());
                    let msg = match nearest(k, &known) {
                        Some(n) => format!("unknown field `{k}`; did you mean `{n}`?"),
                        None => format!("unknown field `{k}`; known fields: {}", known.join(", ")),
                    };
                    self.push(path, msg, IssueKind::Unknown);
                    path.pop();
                }
                None => {}
            }
        }
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(r) {
                path.push(r.to_string());
                let what = props
                    .and_then(|p| p.get(r))
                    .map(|s| self.resolve(s))
                    .and_then(|s| s.get("description"))
                    .and_then(Value::as_str)
                    .map(|d| format!(" ({})", d.lines().next().unwrap_or(d)))
                    .unwrap_or_default();
                self.push(
                    path,
                    format!("missing field `{r}`{what}"),
                    IssueKind::Missing,
                );
                path.pop();
            }
        }
    }
}

fn type_matches_name(t: Option<&Value>, name: &str) -> bool {
    match t {
        Some(Value::String(s)) => s == name,
        Some(Value::Array(a)) => a.iter().any(|x| x == name),
        _ => false,
    }
}

fn type_matches(t: &Value, v: &Value) -> bool {
    let one = |name: &str| match name {
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => true,
    };
    match t {
        Value::String(s) => one(s),
        Value::Array(a) => a.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

fn type_words(t: &Value) -> String {
    let word = |s: &str| match s {
        "integer" => "a whole number",
        "number" => "a number",
        "string" => "text",
        "boolean" => "true or false",
        "object" => "a map of fields",
        "array" => "a list",
        "null" => "nothing",
        _ => "a value",
    };
    match t {
        Value::String(s) => word(s).to_string(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| *s != "null")
            .map(word)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "a value".into(),
    }
}

fn list(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value as the user wrote it, cut short.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("'{s}'"),
        Value::Object(_) => "a map".into(),
        Value::Array(_) => "a list".into(),
        other => other.to_string(),
    };
    if s.len() > 40 {
        format!("{}...", s.chars().take(37).collect::<String>())
    } else {
        s
    }
}

/// The known name closest to a misspelt one (edit distance at most a third of it; on a
/// tie, one with the same first letter).
fn nearest<'k>(k: &str, known: &[&'k str]) -> Option<&'k str> {
    let first = k.chars().next();
    known
        .iter()
        .map(|n| (edit_distance(k, n), n.chars().next() != first, *n))
        .filter(|(d, _, n)| *d <= (n.len().max(3)) / 3)
        .min()
        .map(|(_, _, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ModelSpec;

    fn issues(yaml: &str) -> Vec<Issue> {
        let v: Value = serde_saphyr::from_str(yaml).unwrap();
        check::<ModelSpec>(&v)
    }

    #[test]
    fn minimal_model_has_no_issue() {
        assert!(
            issues("layers: 2\nhidden: 64\nheads: 4\nffn_hidden: 128\nvocab: 100\n").is_empty()
        );
    }

    #[test]
    fn three_mistakes_three_issues() {
        let found = issues(
            "layers: two\nhidden: 64\nhead: 4\nffn_hidden: 128\nvocab: 100\nnorm: batchnorm\n",
        );
        let by = |p: &str| found.iter().find(|i| i.path.join(".") == p).unwrap();
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(by("layers").message.contains("whole number"), "{found:?}");
        assert!(
            by("head").message.contains("did you mean `heads`"),
            "{found:?}"
        );
        assert!(
            by("norm").message.contains("layernorm, rmsnorm"),
            "{found:?}"
        );
        assert_eq!(by("heads").kind, IssueKind::Missing);
    }

    #[test]
    fn nested_sections_are_checked() {
        let found = issues(
            "layers: 2\nhidden: 64\nheads: 4\nffn_hidden: 128\nvocab: 100\nmoe:\n  experts: 8\n  top_k: -1\n",
        );
        let mut paths: Vec<String> = found.iter().map(|i| i.path.join(".")).collect();
        paths.sort();
        assert_eq!(paths, ["moe.expert_ffn_hidden", "moe.top_k"], "{found:?}");
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kv_head", "kv_heads"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(nearest("vocab_size", &["vocab", "hidden"]), None);
    }
}
