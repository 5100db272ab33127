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

/// The cell after the first `┆` on a table line (comfy-table's column separator), trimmed.
fn cell(line: &str, i: usize) -> String {
    line.split('┆')
        .nth(i)
        .map(|c| c.trim_matches(|ch: char| ch.is_whitespace() || ch == '│'))
        .unwrap_or_default()
        .to_string()
}

/// `compare`'s layout row shows etp where MoE parallel folding sets it apart from tp
/// (it printed "tp 8 pp 16 dp 192 ep 16 cp 1 vpp 1" for both layouts before), in the
/// table and in the CSV, and leaves it out where etp equals tp, as every output does.
#[test]
fn compare_layout_row_has_etp() {
    let a = "tp=8,pp=16,ep=16";
    let b = "tp=8,pp=16,ep=16,etp=1";
    let o = llmplan(&["compare", "--layout", a, "--layout", b]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let row = out
        .lines()
        .find(|l| cell(l, 0) == "layout")
        .unwrap_or_else(|| panic!("no layout row:\n{out}"));
    assert!(!cell(row, 1).contains("etp"), "{row}");
    assert!(cell(row, 2).contains(" ep 16 etp 1 cp 1 "), "{row}");

    let o = llmplan(&["compare", "--layout", a, "--layout", b, "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_reader(&o.stdout[..]);
    let rec = r
        .records()
        .map(|x| x.unwrap())
        .find(|x| &x[0] == "layout")
        .expect("a layout row");
    assert!(
        !rec[2].contains("etp") && rec[3].contains(" etp 1 "),
        "{rec:?}"
    );
}

/// The layout `search` ranks first and the same layout run through `estimate` (the
/// search's own launch line, as `estimate` arguments) print one summary: the same
/// parallel sizes (a folded MoE layout, so etp is printed) at the head of estimate's
/// layout line, and the same knobs in JSON.
#[test]
fn search_and_estimate_print_the_same_layout_summary() {
    let fix = [
        "--top",
        "1",
        "--sim-top",
        "0",
        "--fix",
        "tp=8",
        "--fix",
        "pp=16",
        "--fix",
        "ep=16",
        "--fix",
        "etp=1",
        "--fix",
        "cp=2",
        "--fix",
        "schedule=1f1b",
    ];
    let table = llmplan(&[&["search"][..], &fix].concat());
    assert!(table.status.success(), "{}", stderr(&table));
    let table = stdout(&table);
    let top = table
        .lines()
        .find(|l| cell(l, 0) == "1")
        .unwrap_or_else(|| panic!("no row #1:\n{table}"));
    let sizes = cell(top, 1);
    assert!(sizes.contains(" etp 1 "), "{top}");
    let launch = table
        .lines()
        .find_map(|l| l.strip_prefix("launch the top layout: llmplan export --to "))
        .unwrap_or_else(|| panic!("no launch line:\n{table}"));
    // "megatron <scenario> --gpus N --set ...": the same layout, estimated.
    let args: Vec<&str> = launch.split_whitespace().skip(1).collect();

    let est = llmplan(&[&["estimate"][..], &args].concat());
    assert!(est.status.success(), "{}", stderr(&est));
    let est = stdout(&est);
    let line = est
        .lines()
        .find(|l| cell(l, 0) == "Layout")
        .unwrap_or_else(|| panic!("no Layout row:\n{est}"));
    assert!(
        cell(line, 1).starts_with(&format!("{sizes} | micro-batch ")),
        "search: {sizes}\nestimate: {line}"
    );

    let json = |o: Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let s = json(llmplan(
        &[&["search"][..], &fix, &["--format", "json"]].concat(),
    ));
    let e = json(llmplan(
        &[&["estimate"][..], &args, &["--format", "json"]].concat(),
    ));
    let (s, e) = (&s["results"][0]["layout"], &e["layout"]);
    for k in llmplan::report::csv::LAYOUT_COLUMNS {
        assert!(!s[k].is_null(), "search JSON lacks {k}: {s}");
        assert_eq!(s[k], e[k], "{k}: search {s}\nestimate {e}");
    }
}

#[test]
fn the_step_breakdown_names_each_parent_once() {
    // DeepSeek-V3's recipe has three parts of compute named apart (FP8 casts, the MoE
    // permute, the loss): one "of compute:" lead for the three, not one each.
    let o = llmplan(&["estimate", "deepseek-v3-h800", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let flat = stdout(&o)
        .replace(['│', '┆'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(flat.matches("of compute:").count(), 1, "{flat}");
    let parts = flat.split("of compute:").nth(1).unwrap_or_default();
    let parts = parts.split(';').next().unwrap_or_default();
    for name in ["FP8 casts", "MoE permute", "loss"] {
        assert!(
            parts.contains(name),
            "{name} not among compute's parts: {parts}"
        );
    }
}
