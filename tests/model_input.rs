//! Models as users write them: defaults for everything but the shape, every mistake of a
//! file reported at once at its line, and Hugging Face configs by `hf:` or `import hf`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn llmplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llmplan"))
        .args(args)
        .output()
        .expect("run llmplan")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A fresh directory for one test's files.
fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("llmplan-model-input-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const RUN: &str = "cluster: dgx-h100\ngpus: 256\ntraining:\n  tokens: 1.0e12\n  seq_len: 8192\n  global_batch_seqs: 512\n  precision: bf16\n";

fn scenario(d: &Path, model: &str) -> PathBuf {
    let p = d.join("scenario.yaml");
    std::fs::write(&p, format!("name: test\n{model}{RUN}")).unwrap();
    p
}

/// The issue's first-try case: a 30B GQA model with only its shape written.
/// Expected count by hand: head_dim 7168/56 = 128; per layer the attention
/// 7168 x (7168 + 2 x 1024) + 7168^2, the SwiGLU 3 x 7168 x 20480 and two RMSNorms
/// 2 x 7168 make 557.86M, times 48 is 26.78B, plus untied embeddings
/// 2 x 128256 x 7168 is 28.62B.
#[test]
fn shape_only_model_works_first_try() {
    let d = dir("shape");
    let model = "model:\n  layers: 48\n  hidden: 7168\n  heads: 56\n  kv_heads: 8\n  ffn_hidden: 20480\n  vocab: 128256\n";
    let o = llmplan(&["estimate", scenario(&d, model).to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("custom: 28.6B params"), "{out}");
}

/// Three mistakes (a misspelt field, text for a number, an unknown norm) plus the
/// field the misspelling leaves missing: all four in one run, each at its own line,
/// under one `error:`.
#[test]
fn model_file_mistakes_all_at_their_lines() {
    let d = dir("mistakes");
    let model = d.join("bad.yaml");
    std::fs::write(
        &model,
        "layers: 48\nhidden: 7168\nhead: 56\nkv_heads: 8\nffn_hidden: \"20k\"\nvocab: 128256\nnorm: batchnorm\n",
    )
    .unwrap();
    let o = llmplan(&[
        "estimate",
        scenario(&d, "model: bad.yaml\n").to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    let f = model.display().to_string();
    for (line, what) in [
        (3, "unknown field `head`; did you mean `heads`?"),
        (5, "expected a whole number, got '20k'"),
        (7, "expected one of layernorm, rmsnorm, got 'batchnorm'"),
        (1, "missing field `heads`"),
    ] {
        let want = format!("{f}:{line}:");
        assert!(
            err.lines().any(|l| l.contains(&want) && l.contains(what)),
            "expected '{want}... {what}' in:\n{err}"
        );
    }
    assert!(err.contains("4 problems"), "{err}");
}

/// The same inside a scenario: lines are the scenario's, paths start with `model.`.
#[test]
fn inline_model_mistakes_point_into_the_scenario() {
    let d = dir("inline");
    let model = "model:\n  layers: 48\n  hidden: 7168\n  heads: 56\n  kv_head: 8\n  ffn_hidden: 20480\n  vocab: -3\n";
    let p = scenario(&d, model);
    let o = llmplan(&["estimate", p.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let f = p.display().to_string();
    assert!(
        err.contains(&format!(
            "{f}:6:3: model.kv_head: unknown field `kv_head`; did you mean `kv_heads`?"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{f}:8:10: model.vocab: must be at least 0")),
        "{err}"
    );
}

/// Rules checked after parsing are all reported too.
#[test]
fn broken_rules_are_reported_together() {
    let d = dir("rules");
    let model = "model:\n  layers: 4\n  hidden: 1000\n  heads: 12\n  kv_heads: 5\n  ffn_hidden: 4000\n  vocab: 100\n";
    let o = llmplan(&["estimate", scenario(&d, model).to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(":6:3: model.kv_heads: query heads 12 not divisible by kv heads 5"),
        "{err}"
    );
    assert!(
        err.contains(":5:3: model.heads: hidden 1000 not divisible by heads 12"),
        "{err}"
    );
}

fn hf_config(name: &str) -> String {
    format!(
        "{}/tests/data/hf/{name}/config.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `llmplan estimate --format json` of a scenario (in its own directory `dir_name`)
/// whose model is `hf:` the stored real config `config`.
fn hf_estimate_json(dir_name: &str, config: &str) -> serde_json::Value {
    let d = dir(dir_name);
    let model = format!("model: hf:{}\n", hf_config(config));
    let o = llmplan(&[
        "estimate",
        scenario(&d, &model).to_str().unwrap(),
        "--format",
        "json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    serde_json::from_str(&out).unwrap()
}

/// `model: hf:PATH` estimates a stored real config; the count is DeepSeek's 671B.
#[test]
fn hf_reference_in_a_scenario() {
    let v = hf_estimate_json("hf", "deepseek-r1");
    let total = v
        .pointer("/model/params_total")
        .and_then(|x| x.as_f64())
        .unwrap();
    assert!((total / 671e9 - 1.0).abs() < 0.005, "{total}");
}

/// `import hf -o` writes a model YAML that loads back to the same architecture.
#[test]
fn import_writes_a_model_that_loads_back() {
    let d = dir("import");
    let yaml = d.join("qwen3-30b-a3b.yaml");
    let o = llmplan(&[
        "import",
        "hf",
        &hf_config("qwen3-30b-a3b"),
        "-o",
        yaml.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let imported = llmplan(&["show", "model", yaml.to_str().unwrap()]);
    let (out, err) = text(&imported);
    assert!(imported.status.success(), "{err}");
    assert!(out.contains("30.5B"), "{out}");
}

/// An architecture the importer does not know fails with what is missing.
#[test]
fn unknown_architecture_names_missing_fields() {
    let d = dir("unknown");
    let cfg = d.join("config.json");
    std::fs::write(
        &cfg,
        r#"{"architectures": ["FooForCausalLM"], "hidden_size": 1024, "vocab_size": 32000}"#,
    )
    .unwrap();
    let o = llmplan(&["import", "hf", cfg.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("architecture FooForCausalLM is not supported"),
        "{err}"
    );
    assert!(
        err.contains("missing fields: num_hidden_layers, num_attention_heads, intermediate_size"),
        "{err}"
    );
}

/// `model: hf:` of Llama 4 Scout's real config through the CLI: Meta's 109B total with
/// the vision encoder (108.64B, -0.33%; tests/hf_import.rs has the parts), the encoder's
/// 871,932,416 parameters as their own term in the JSON, and the warning that its
/// FLOPs are not counted.
#[test]
fn hf_llama4_estimate_counts_the_vision_encoder() {
    let v = hf_estimate_json("hf-llama4", "llama-4-scout-17b-16e");
    let num = |p: &str| v.pointer(p).and_then(|x| x.as_f64()).unwrap();
    assert!((num("/model/params_total") / 109e9 - 1.0).abs() < 0.005);
    assert_eq!(num("/model/counts/vision"), 871_932_416.0);
    let out = v.to_string();
    assert!(out.contains("its FLOPs are not counted"), "{out}");
}

/// Exporting a plan of Llama 4 Maverick: Megatron-LM's per-layer MoE pattern is the
/// config's (`interleave_moe_layer_step` 2: layers 1, 3, ..., 47 MoE, as transformers'
/// `moe_layers`), and the vision encoder the plan holds is named as left out of the
/// flags, which configure the language model alone.
#[test]
fn hf_llama4_export_names_the_vision_encoder() {
    let d = dir("hf-llama4-export");
    let model = format!("model: hf:{}\n", hf_config("llama-4-maverick-17b-128e"));
    let o = llmplan(&[
        "export",
        "--to",
        "megatron",
        scenario(&d, &model).to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let freq = format!("--moe-layer-freq \"[{}]\"", ["0,1"; 24].join(","));
    assert!(out.contains(&freq), "{out}");
    assert!(out.contains("--num-experts 128"), "{out}");
    assert!(
        err.contains("the vision encoder (0.87B parameters, planned on the first pipeline stage) is not in this Megatron-LM configuration"),
        "{err}"
    );
}
