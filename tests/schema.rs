//! `llmplan schema`, completions and the man page work from the built binary, and
//! docs/fields.md is the field reference generated from the schemas (kept current).

use std::process::Command;

fn llmplan(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_llmplan"))
        .args(args)
        .output()
        .expect("run llmplan");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn field_reference_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fields.md");
    let want = llmplan::spec::schema::field_reference();
    if std::env::var_os("LLMPLAN_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let got = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        got == want,
        "docs/fields.md is stale: run `LLMPLAN_BLESS=1 cargo test --test schema`"
    );
}

#[test]
fn schemas_print_and_name_the_fields() {
    for (kind, field) in [
        ("scenario", "global_batch_seqs"),
        ("model", "kv_heads"),
        ("gpu", "hbm_bandwidth"),
        ("cluster", "nvlink_domain"),
    ] {
        let (ok, out, err) = llmplan(&["schema", kind]);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v.get("$schema").is_some(), "{kind}");
        assert!(out.contains(field), "{kind} schema lacks {field}");
    }
    let (ok, _, err) = llmplan(&["schema", "pricing"]);
    assert!(!ok && err.contains("scenario"), "{err}");
}

/// The model schema requires exactly the shape; everything else has a default.
#[test]
fn model_schema_requires_only_the_shape() {
    let v = llmplan::spec::schema::schema("model").unwrap();
    let mut req: Vec<&str> = v["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    req.sort();
    assert_eq!(req, ["ffn_hidden", "heads", "hidden", "layers", "vocab"]);
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (ok, out, err) = llmplan(&["completions", shell]);
        assert!(ok, "{shell}: {err}");
        assert!(
            out.contains("export") && out.contains("import"),
            "{shell} completion lacks subcommands"
        );
    }
    let (ok, out, err) = llmplan(&["man"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(".ie") || out.contains(".TH llmplan"),
        "{}",
        &out[..out.len().min(200)]
    );
}
