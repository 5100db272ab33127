//! What every JSON output shares: a `schema_version` and byte counts as integers.

use serde_json::{Map, Value};

/// Version of the JSON outputs' field layout; raised when a field is renamed or removed
/// (adding fields keeps it).
pub const SCHEMA_VERSION: u64 = 1;

/// `v` with a top-level `schema_version` and every byte count (a key ending in `bytes`,
/// or any number inside a `memory` section) rounded to a whole number of bytes. Keys
/// come out sorted (serde_json's map), so the layout is stable across versions.
pub fn versioned(v: Value) -> Value {
    let mut out = Map::new();
    out.insert("schema_version".into(), Value::from(SCHEMA_VERSION));
    match integer_bytes(v, false) {
        Value::Object(m) => out.extend(m),
        other => {
            out.insert("value".into(), other);
        }
    }
    Value::Object(out)
}

/// `v` [`versioned`] and pretty-printed, one trailing newline: a JSON output as printed.
pub fn document(v: Value) -> String {
    let mut s = serde_json::to_string_pretty(&versioned(v)).unwrap_or_default();
    s.push('\n');
    s
}

fn integer_bytes(v: Value, in_memory: bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| {
                    let bytes = in_memory || k.ends_with("bytes") || k == "memory";
                    let x = integer_bytes(x, bytes);
                    (k, x)
                })
                .collect(),
        ),
        Value::Array(a) => {
            Value::Array(a.into_iter().map(|x| integer_bytes(x, in_memory)).collect())
        }
        Value::Number(n) if in_memory && n.is_f64() => {
            let r = n.as_f64().unwrap_or(0.0).round();
            if (0.0..9.007_199_254_740_992e15).contains(&r) {
                Value::from(r as u64)
            } else {
                Value::Number(n)
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bytes_become_integers_and_version_is_added() {
        let v = versioned(
            json!({"memory": {"peak_bytes": 80.6, "fits": true, "breakdown": {"weights": 2.0}},
            "stages": [{"memory_bytes": 1.5, "time_s": 0.25}], "mfu": 0.4}),
        );
        assert_eq!(
            v.to_string(),
            r#"{"memory":{"breakdown":{"weights":2},"fits":true,"peak_bytes":81},"mfu":0.4,"schema_version":1,"stages":[{"memory_bytes":2,"time_s":0.25}]}"#
        );
    }
}
