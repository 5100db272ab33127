//! The command line as a user meets it: the default run, formats, listings, and one
//! clear error (exit code 2, file:line:column, no panic) for each kind of bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn llmplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llmplan"))
        .args(args)
        .output()
        .expect("run llmplan")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SEED: &str = include_str!("../scenarios/gpt4-moe-a100.yaml");

/// Writes the seed scenario with one line replaced to a temporary file.
fn seed_with(tag: &str, from: &str, to: &str) -> PathBuf {
    assert!(SEED.contains(from), "seed has no '{from}'");
    let p = std::env::temp_dir().join(format!("llmplan-cli-{}-{tag}.yaml", std::process::id()));
    std::fs::write(&p, SEED.replacen(from, to, 1)).unwrap();
    p
}

/// Asserts a clean user error: exit 2, one `error:` line naming what, no panic.
fn assert_user_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.matches("error:").count(),
        1,
        "one error, said once: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

#[test]
fn no_arguments_plans_the_seed_and_says_so() {
    let o = llmplan(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("built-in seed scenario"));
    let out = stdout(&o);
    for k in [
        "GPT-4",
        "Training time",
        "days",
        "MFU",
        "Memory / GPU",
        "Cost",
        "uneven",
    ] {
        assert!(out.contains(k), "missing {k} in:\n{out}");
    }
}

#[test]
fn json_has_the_documented_fields() {
    let o = llmplan(&["estimate", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    // Byte counts are whole numbers of bytes.
    assert!(
        v.pointer("/memory/peak_bytes").is_some_and(|b| b.is_u64()),
        "{v}"
    );
    assert!(
        v.pointer("/memory/breakdown/weights")
            .is_some_and(|b| b.is_u64()),
        "{v}"
    );
    for path in [
        "/gpus",
        "/layout/tp",
        "/layout/pp",
        "/layout/dp",
        "/layout/ep",
        "/layout/cp",
        "/layout/vpp",
        "/layout/micro_batch",
        "/model/params_total",
        "/model/params_active",
        "/flops/model_total",
        "/flops/attention_total",
        "/time/step_s",
        "/time/days",
        "/mfu",
        "/cost/gpu_hours",
        "/cost/usd",
        "/energy/mwh",
        "/memory/peak_bytes",
        "/memory/capacity_bytes",
        "/memory/breakdown/weights",
        "/memory/breakdown/gradients",
        "/memory/breakdown/optimizer",
        "/memory/breakdown/activations",
        "/memory/breakdown/other",
        "/warnings",
    ] {
        let x = v.pointer(path).unwrap_or_else(|| panic!("no {path}"));
        if let Some(f) = x.as_f64() {
            assert!(f.is_finite(), "{path} = {f}");
        }
    }
    assert_eq!(v["layout"]["tp"], 8);
    assert_eq!(v["gpus"], 24576);
}

#[test]
fn csv_and_overrides() {
    let o = llmplan(&[
        "estimate",
        "gpt3-175b-a100",
        "--format",
        "csv",
        "--set",
        "layout.pp=8",
        "--gpus",
        "512",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("quantity,value,unit\n"), "{out}");
    assert!(out.contains("\npp,8,\n"), "{out}");
    assert!(out.contains("\ngpus,512,GPUs\n"), "{out}");
    // Every layout size the JSON has, etp (expert tensor parallel, = tp unless folded)
    // included: the CSV left it out.
    assert!(out.contains("\netp,8,\n"), "{out}");
}

#[test]
fn mfu_path() {
    let o = llmplan(&["estimate", "--mfu", "0.34"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("given MFU 34.0%"));
    assert_user_error(&llmplan(&["estimate", "--mfu", "1.5"]), &["--mfu"]);
}

#[test]
fn listings_and_show() {
    for what in ["gpus", "clusters", "models", "scenarios"] {
        let o = llmplan(&["list", what]);
        assert!(o.status.success(), "{what}: {}", stderr(&o));
    }
    assert!(stdout(&llmplan(&["list", "gpus"])).contains("h100-sxm"));
    let o = llmplan(&["show", "model", "deepseek-v3"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("routed experts") && out.contains("active per token"),
        "{out}"
    );
    assert_user_error(
        &llmplan(&["show", "model", "gpt-5"]),
        &["unknown model 'gpt-5'", "llama3-405b"],
    );
}

#[test]
fn typo_in_a_field_names_file_line_and_the_valid_fields() {
    let p = seed_with("typo", "  tp: 8", "  tpp: 8");
    let o = llmplan(&["estimate", p.to_str().unwrap()]);
    assert_user_error(
        &o,
        &[
            &format!("{}:21:3", p.display()),
            "unknown field `tpp`",
            "did you mean `tp`?",
        ],
    );
}

#[test]
fn string_for_a_number_names_the_place() {
    let p = seed_with("string", "  seq_len: 8192 ", "  seq_len: eight ");
    let o = llmplan(&["estimate", p.to_str().unwrap()]);
    assert_user_error(&o, &[&format!("{}:16:12", p.display())]);
}

#[test]
fn tp_that_does_not_divide_heads_suggests_what_would() {
    let p = seed_with("tp7", "  tp: 8", "  tp: 7");
    let o = llmplan(&["estimate", p.to_str().unwrap()]);
    assert_user_error(
        &o,
        &[
            &format!("{}:21:3", p.display()),
            "heads 96 not divisible by tp 7",
            "1, 2, 3, 4, 6, 8",
        ],
    );
    // The same rule through an override points at the override.
    let o = llmplan(&["estimate", "--set", "layout.tp=5"]);
    assert_user_error(&o, &["--set layout.tp=5", "not divisible by tp 5"]);
}

#[test]
fn unknown_gpu_lists_the_known_ones() {
    let p = seed_with(
        "gpu",
        "cluster: dgx-a100\n",
        "cluster: dgx-a100\ngpu: a100-sxm-96gb\n",
    );
    let o = llmplan(&["estimate", p.to_str().unwrap()]);
    assert_user_error(
        &o,
        &[
            &format!("{}:13:1", p.display()),
            "unknown gpu 'a100-sxm-96gb'",
            "a100-sxm-80gb",
        ],
    );
}

#[test]
fn missing_file() {
    let o = llmplan(&["estimate", "no/such/scenario.yaml"]);
    assert_user_error(&o, &["cannot read no/such/scenario.yaml"]);
}

#[test]
fn impossible_layouts_say_which_rule() {
    let cases: &[(&str, &str)] = &[
        ("layout.ep=5", "experts 16 not divisible by ep 5"),
        ("layout.dp=100", "GPUs, but the scenario has 25000"),
        ("layout.vpp=2", "needs the interleaved schedule"),
        ("layout.zero=4", "ZeRO stage must be 0-3"),
        ("gpus=64", "cannot hold one replica"),
        ("training.global_batch_seqs=1000", "not both"),
        ("layout.cp=3", "sequence length 8192 not divisible by cp 3"),
        ("layout.nonsense=1", "unknown field `nonsense`"),
    ];
    for (set, needle) in cases {
        let o = llmplan(&["estimate", "--set", set]);
        assert_user_error(&o, &[needle]);
    }
}

/// One `--format` for every command: table, json and csv wherever a command has the
/// three; `simulate` (no CSV output) refuses csv as an unknown value.
#[test]
fn every_command_takes_the_one_output_format() {
    for cmd in ["estimate", "search", "compare", "sweep", "validate"] {
        let help = stdout(&llmplan(&[cmd, "--help"]));
        for v in ["- table:", "- json:", "- csv:"] {
            assert!(help.contains(v), "{cmd} --help lacks '{v}':\n{help}");
        }
    }
    let help = stdout(&llmplan(&["simulate", "--help"]));
    assert!(
        help.contains("- json:") && !help.contains("- csv:"),
        "{help}"
    );
    let o = llmplan(&["simulate", "--format", "csv"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("[possible values: table, json]"));
}

/// `compare --format csv` is one header and one row per quantity, every row as wide as
/// the header (a name with a comma is quoted), and the step's parts carry the library's
/// breakdown names.
#[test]
fn compare_csv_rows_are_whole_and_named_by_the_library() {
    let o = llmplan(&[
        "compare",
        "--layout",
        "tp=8,pp=16,ep=16",
        "--layout",
        "tp=8,pp=15,ep=16,cp=2",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_reader(&o.stdout[..]);
    let header = r.headers().unwrap().clone();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        [
            "quantity",
            "unit",
            "tp=8,pp=16,ep=16",
            "tp=8,pp=15,ep=16,cp=2"
        ]
    );
    let names: Vec<String> = r
        .records()
        .map(|rec| rec.expect("every row as wide as the header")[0].to_string())
        .collect();
    let b = llmplan::analytic::estimate::StepBreakdown::default();
    for (term, _) in llmplan::search::compare::terms(&b, 0.0) {
        assert!(names.iter().any(|n| n == term), "{term} not in {names:?}");
    }
    assert!(names.iter().any(|n| n == "micro-batch, schedule"));
}
