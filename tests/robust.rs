//! The command line under faults and hostile input: closed pipes, full disks, special
//! files, oversized inputs, huge `--top`, interrupted reports, and the exit codes the
//! README and `--help` promise (0 success, 1 the command failed, 2 bad input).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary with no `COLUMNS` from the caller's shell: piped tables keep their
/// natural width unless a test sets one.
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_llmplan"));
    c.env_remove("COLUMNS");
    c
}

fn llmplan(args: &[&str]) -> Output {
    bin().args(args).output().expect("run llmplan")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tmp(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("llmplan-robust-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
}

/// One `error:` line that is a sentence: no panic, no Rust debug text.
fn assert_one_error(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    for bad in ["{ ", "Os {", "kind:", "Custom {", "Error {"] {
        assert!(!err.contains(bad), "debug text '{bad}' in: {err}");
    }
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

#[test]
fn help_states_the_exit_codes() {
    let out = stdout(&llmplan(&["--help"]));
    for n in [
        "Exit codes:",
        "0  success",
        "1  the command ran and failed",
        "2  bad input",
    ] {
        assert!(out.contains(n), "missing '{n}' in --help:\n{out}");
    }
}

/// `search --top 100000 | head -1`: the reader closes the pipe after one line. Before,
/// the write panicked ("failed printing to stdout: Broken pipe", exit 101), and keeping
/// Found by the fuzz driver (`examples/fuzz.rs`, seed 20261130003, input 111,826): a
/// A sequence length of 2^64 - 1 with a cp that does not divide it: the error's
/// suggestion listed every divisor of the length by trial division up to its square
/// root, whose `d * d` wrapped at 2^32 and never ended (the fuzz driver, seed
/// 20261130006, input 132,688: over 60 s of CPU). Now the suggestion tries only the
/// cp values up to 64 and the same error comes at once. The divisors of
/// 2^64 - 1 = 3 x 5 x 17 x 257 x 641 x 65537 x 6700417 up to 64, by hand: 1, 3, 5, 15,
/// 17, 51.
#[test]
fn a_huge_sequence_length_is_refused_at_once() {
    let t = Instant::now();
    let out = llmplan(&[
        "estimate",
        "deepseek-v3-h800",
        "--set",
        "layout.cp=136",
        "--set",
        "training.seq_len=18446744073709551615",
        "--set",
        "reliability.enabled=false",
    ]);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not divisible by cp 136; cp in 1, 3, 5, 15, 17, 51"),
        "{}",
        stderr(&out)
    );
}

/// `--max-vpp` in the hundreds of millions made the search list every value up to it
/// and then every pipeline combination with it; the seed's search below reached 5.8 GB
/// in 29 s and aborted on the allocation (exit 134). No layout has more virtual stages
/// than layers, so a limit beyond the model's layers adds nothing: the search answers
/// at once, exactly as with `--max-vpp 120` (the seed has 120 layers).
#[test]
fn a_huge_max_vpp_costs_nothing_more() {
    let args = [
        "search",
        "--fix",
        "tp=1,2,8",
        "--fix",
        "pp=1,2,4",
        "--fix",
        "micro_batch=1",
        "--fix",
        "schedule=1f1b",
        "--fix",
        "zero=1",
        "--fix",
        "cp=1",
        "--sim-top",
        "0",
        "--gpus",
        "8..32",
        "-q",
    ];
    let capped = llmplan(&[&args[..], &["--max-vpp", "120"]].concat());
    let t = Instant::now();
    let huge = llmplan(&[&args[..], &["--max-vpp=134217728"]].concat());
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert_eq!(
        huge.status.code(),
        capped.status.code(),
        "{}",
        stderr(&huge)
    );
    assert!(
        matches!(huge.status.code(), Some(0 | 1)),
        "{}",
        stderr(&huge)
    );
    // The same table and the same counts; only the timing in "enumerated in 0.01 s
    // (6.6M/s)" may differ.
    let untimed = |o: &Output| -> String {
        stdout(o)
            .lines()
            .map(|l| l.split(" in ").next().unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(untimed(&huge), untimed(&capped));
    assert!(
        untimed(&huge).contains("layouts enumerated"),
        "{}",
        stdout(&huge)
    );
}

/// the top k in a sorted vector made k = 100,000 cost 10x the whole search (GPT-3 on
/// 1,024 A100: 19.6 s of CPU against 1.9 s for the top 5, debug build); a heap keeps it
/// within a small factor.
#[test]
fn closed_pipe_ends_quietly_and_a_large_top_costs_little() {
    let args = ["search", "gpt3-175b-a100", "--sim-top", "0"];
    let t = Instant::now();
    let o = bin().args(args).args(["--top", "5"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let top5 = t.elapsed();

    let t = Instant::now();
    let mut child = bin()
        .args(args)
        .args(["--top", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // Dropping the reader closes the pipe, as `head -1` does.
    let o = child.wait_with_output().unwrap();
    let big = t.elapsed();
    assert!(first.contains("GPT-3"), "{first}");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(
        big < top5 * 5 + Duration::from_secs(5),
        "--top 100000 took {big:?} against {top5:?} for --top 5"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_one_line_and_exit_1() {
    let full = std::fs::File::create("/dev/full").unwrap();
    let o = bin()
        .args(["estimate", "gpt3-175b-a100"])
        .stdout(full)
        .output()
        .unwrap();
    assert_one_error(&o, 1, &["cannot write standard output", "No space left"]);
}

#[cfg(unix)]
#[test]
fn devices_are_refused_before_reading() {
    let t = Instant::now();
    let o = llmplan(&["estimate", "/dev/zero"]);
    assert_one_error(&o, 2, &["/dev/zero", "character device"]);
    let o = llmplan(&["estimate", "gpt3-175b-a100", "--set", "model=/dev/zero"]);
    assert_one_error(&o, 2, &["/dev/zero", "character device"]);
    let o = llmplan(&["validate", "/dev/urandom"]);
    assert_one_error(&o, 2, &["/dev/urandom", "character device"]);
    assert!(t.elapsed() < Duration::from_secs(20));
}

/// `estimate <(yes "name: x")` read 3 GB in 12 s and never ended; now the read stops at
/// the documented 16 MiB.
#[cfg(unix)]
#[test]
fn an_endless_pipe_stops_at_the_cap() {
    if Command::new("bash").arg("-c").arg("true").status().is_err() {
        eprintln!("SKIPPED: no bash for process substitution");
        return;
    }
    let t = Instant::now();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' estimate <(yes 'name: x')",
            env!("CARGO_BIN_EXE_llmplan")
        ))
        .output()
        .unwrap();
    assert_one_error(&o, 2, &["16 MiB limit"]);
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

/// A 100 MB scenario was read whole, then rejected with the parser's debug dump
/// (`budget breached: ScalarBytes {...}`); now its size alone rejects it, in words.
#[test]
fn a_100_mb_scenario_is_one_sentence() {
    let p = tmp("huge.yaml");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(100_000_000).unwrap();
    drop(f);
    let t = Instant::now();
    let o = llmplan(&["estimate", p.to_str().unwrap()]);
    assert_one_error(&o, 2, &["95.4 MiB", "16 MiB limit"]);
    assert!(t.elapsed() < Duration::from_secs(10));
    std::fs::remove_file(&p).unwrap();
}

/// Nothing fits: before, exit 0 with an empty table and no hint. Now exit 1 after the
/// table, naming the most common rejections and the nearest GPU count that fits
/// (GPT-3 175B cannot hold a replica on 2 A100; on 64 it fits, found by doubling).
#[test]
fn nothing_fits_exits_1_with_reasons_and_the_nearest_fit() {
    let o = llmplan(&["search", "gpt3-175b-a100", "--gpus", "2", "--sim-top", "0"]);
    assert_one_error(
        &o,
        1,
        &[
            "no layout fits on 2 x a100-sxm-80gb",
            "too few gpus for one replica",
            "memory exceeds capacity",
            "the nearest that fits: 64 GPUs with tp",
        ],
    );
    assert!(stdout(&o).contains("rejected"), "{}", stdout(&o));
}

/// `--fix tp=5` on GPT-3 (96 heads) rules out every layout; the scenario's own row used
/// to read "scenario (#1)" above an empty ranking, and the command exited 0.
#[test]
fn a_fix_that_finds_nothing_ranks_nothing() {
    let o = llmplan(&[
        "search",
        "gpt3-175b-a100",
        "--fix",
        "tp=5",
        "--sim-top",
        "0",
    ]);
    assert_one_error(&o, 1, &["tp does not divide heads", "relax --fix"]);
    assert!(!stdout(&o).contains("#1"), "{}", stdout(&o));
}

/// `--strict`: a plan over GPU memory prints its table, then exits 1 (468 GiB on an
/// 80 GiB A100: GPT-3 175B, micro-batch 8 without recomputation).
#[test]
fn strict_fails_a_plan_that_does_not_fit() {
    let args = [
        "estimate",
        "gpt3-175b-a100",
        "--set",
        "training.recompute=none",
        "--set",
        "layout.micro_batch=8",
    ];
    let o = llmplan(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("DOES NOT FIT"));
    let o = bin().args(args).arg("--strict").output().unwrap();
    assert_one_error(&o, 1, &["--strict: the plan does not fit", "of memory"]);
    assert!(stdout(&o).contains("DOES NOT FIT"));
    let o = llmplan(&["estimate", "gpt3-175b-a100", "--strict"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `--gpus 12,24` searched 8 and 24 (rounded to whole nodes without a word); counts
/// are now searched as written and the JSON says which.
#[test]
fn gpu_lists_are_searched_as_written() {
    for (spec, want) in [("12,24", vec![12, 24]), ("9..17", vec![9, 16, 17])] {
        let o = llmplan(&[
            "search",
            "gpt3-175b-a100",
            "--gpus",
            spec,
            "--sim-top",
            "0",
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let got: Vec<u64> = v["gpus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_u64().unwrap())
            .collect();
        assert_eq!(got, want, "--gpus {spec}");
    }
}

/// Errors name what the user typed: `--gpus 8` was reported as `--set gpus=8:1:1`.
#[test]
fn errors_name_the_flag_the_user_typed() {
    let o = llmplan(&["estimate", "gpt3-175b-a100", "--gpus", "8"]);
    assert_one_error(
        &o,
        2,
        &["error: --gpus 8: gpus: 8 GPUs cannot hold one replica"],
    );
    assert!(!stderr(&o).contains("--set"), "{}", stderr(&o));
    let o = llmplan(&["simulate", "gpt3-175b-a100", "--gpus", "8"]);
    assert_one_error(&o, 2, &["--gpus 8: gpus:"]);
    assert!(!stderr(&o).contains("--set"), "{}", stderr(&o));
    let o = llmplan(&["estimate", "gpt3-175b-a100", "--set", "layout.tp=5"]);
    assert_one_error(&o, 2, &["error: --set layout.tp=5: layout.tp:"]);
}

/// With the scenario's $1.00/A100-hour, `--set cluster=dgx-h100` billed H100s at the
/// A100 price while `sweep` used the H100 list price ($2.50/h in its profile); now the
/// price follows the GPU, with a warning, unless the command line prices it.
#[test]
fn the_price_follows_a_changed_gpu() {
    let json = |extra: &[&str]| -> serde_json::Value {
        let o = bin()
            .args(["estimate", "gpt3-175b-a100", "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let price = |v: &serde_json::Value| v["cost"]["usd_per_gpu_hour"].as_f64().unwrap();
    assert_eq!(price(&json(&[])), 1.0);
    let h100 = json(&["--set", "cluster=dgx-h100"]);
    assert_eq!(price(&h100), 2.5);
    let warned = h100["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("was for a100-sxm-80gb"));
    assert!(warned, "{}", h100["warnings"]);
    let priced = json(&[
        "--set",
        "cluster=dgx-h100",
        "--set",
        "pricing.usd_per_gpu_hour=1.7",
    ]);
    assert_eq!(price(&priced), 1.7);
}

/// A B200 in a DGX H100 was accepted silently (an 8-GPU H100 node's links under a
/// B200's datasheet); now an error naming the cluster that holds it, unless the
/// cluster says `gpu: custom`.
#[test]
fn a_gpu_in_another_gpus_cluster_is_an_error_unless_custom() {
    let o = llmplan(&["estimate", "llama3-405b-h100", "--set", "gpu=b200-sxm"]);
    assert_one_error(
        &o,
        2,
        &[
            "b200-sxm is not the GPU of cluster dgx-h100",
            "dgx-b200",
            "gpu: custom",
        ],
    );
    let dir = tmp("custom");
    std::fs::create_dir_all(&dir).unwrap();
    let cluster = include_str!("../hardware-profiles/clusters/dgx-h100.yaml")
        .replace("gpu: h100-sxm", "gpu: custom");
    std::fs::write(dir.join("custom.yaml"), cluster).unwrap();
    let sc = include_str!("../scenarios/llama3-405b-h100.yaml")
        .replace("cluster: dgx-h100", "cluster: custom.yaml\ngpu: b200-sxm");
    std::fs::write(dir.join("sc.yaml"), sc).unwrap();
    let o = llmplan(&["estimate", dir.join("sc.yaml").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("b200-sxm"), "{}", stdout(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A GPU profile whose chip-to-chip spread is no measurement of its kind (50% of the
/// median chip's rate would leave a large job's slowest chip near zero) is an error
/// naming the field, not a silent clamp.
#[test]
fn an_implausible_chip_spread_is_an_error() {
    let dir = tmp("spread");
    std::fs::create_dir_all(&dir).unwrap();
    let gpu = include_str!("../hardware-profiles/gpus/h100-sxm.yaml")
        .replace("chip_spread: 0.0093", "chip_spread: 0.5");
    std::fs::write(dir.join("gpu.yaml"), gpu).unwrap();
    let sc = include_str!("../scenarios/llama3-405b-h100.yaml")
        .replace("cluster: dgx-h100", "cluster: dgx-h100\ngpu: gpu.yaml");
    std::fs::write(dir.join("sc.yaml"), sc).unwrap();
    let o = llmplan(&["estimate", dir.join("sc.yaml").to_str().unwrap()]);
    assert_one_error(
        &o,
        2,
        &["sc.yaml:", "gpu.efficiency.chip_spread", "[0, 0.2)", "0.5"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ctrl-C during `report` left a folder with 3-13 of its 14 files and 0-byte
/// `.tmp.png` files. Now the report is written into a hidden sibling and renamed into
/// place when complete: interrupted, the folder keeps its previous contents.
#[cfg(unix)]
#[test]
fn an_interrupted_report_leaves_the_previous_state() {
    let dir = tmp("report");
    let out = dir.join("plan");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("previous.txt"), "kept").unwrap();
    let mut child = bin()
        .args(["report", "gpt3-175b-a100", "--force", "-o"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = dir.join(format!(".plan.partial-{}", child.id()));
    // Interrupt once the report has begun writing files.
    let t = Instant::now();
    while std::fs::read_dir(&partial).map_or(0, |d| d.count()) < 3 {
        assert!(t.elapsed() < Duration::from_secs(300), "no partial report");
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    if status.success() {
        // It finished before the signal: the whole report replaced the old folder.
        assert_eq!(names.len(), 14, "{names:?}");
    } else {
        assert_eq!(names, vec!["previous.txt".to_string()]);
    }
    assert!(!names.iter().any(|n| n.contains(".tmp")), "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An output that cannot be written fails at once (exit 1), before the computation.
#[test]
fn an_unwritable_output_fails_before_the_work() {
    let o = llmplan(&[
        "simulate",
        "gpt3-175b-a100",
        "--timeline",
        "/nonexistent/x.svg",
    ]);
    assert_one_error(&o, 1, &["cannot write /nonexistent/x.svg"]);
    let o = llmplan(&["validate", "--chart", "/nonexistent/v.png"]);
    assert_one_error(&o, 1, &["cannot write /nonexistent/v.png"]);
    let o = llmplan(&["report", "gpt3-175b-a100", "-o", "/proc/llmplan-report"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

/// `simulate --microbatches 10000000` aborted on allocation (SIGABRT, exit 134) and
/// `--steps 100000000 --jitter 0.1` ran for minutes without a word; both are now
/// checked against the simulator's limits before any work.
#[test]
fn simulator_work_is_bounded_before_it_starts() {
    let t = Instant::now();
    let o = llmplan(&["simulate", "gpt3-175b-a100", "--microbatches", "10000000"]);
    assert_one_error(
        &o,
        2,
        &["--microbatches 10000000", "at most 65536 micro-batches"],
    );
    let o = llmplan(&[
        "simulate",
        "gpt3-175b-a100",
        "--steps",
        "100000000",
        "--jitter",
        "0.1",
    ]);
    assert_one_error(&o, 2, &["--steps 100000000", "limit"]);
    let o = llmplan(&[
        "simulate",
        "gpt3-175b-a100",
        "--steps",
        "5000000",
        "--jitter",
        "0.1",
    ]);
    assert_one_error(&o, 2, &["--steps 5000000", "passes", "at most"]);
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

/// `simulate --trace` had no bound of its own: 2^22 passes (the simulator's limit then)
/// would write a ~2.6 GB trace after ~25 s (measured 1.6 s and 166 MB at 2^18). With a
/// timeline or a trace the limit is 2^18 passes: GPT-3 175B has 16 stages, so at most
/// 16,384 micro-batches; refused in one sentence before any work.
#[test]
fn a_trace_too_large_to_open_is_refused_before_starting() {
    let dir = tmp("trace-bound");
    std::fs::create_dir_all(&dir).unwrap();
    for flag in ["--trace", "--timeline"] {
        let out = dir.join("t.out");
        let t = Instant::now();
        let o = llmplan(&[
            "simulate",
            "gpt3-175b-a100",
            "--microbatches",
            "65536",
            flag,
            out.to_str().unwrap(),
        ]);
        assert_one_error(
            &o,
            2,
            &[
                "--microbatches 65536",
                "timeline's limit",
                "at most 16384 micro-batches",
            ],
        );
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{flag}: {:?}",
            t.elapsed()
        );
        assert!(!out.exists(), "{flag}: nothing is written");
    }
}

/// The report's assumptions cited a key the file leaves out by its section's line
/// ("gpt4-moe-a100.yaml, line 14" for the attention kernel, a default). A default now
/// reads "default (where it comes from)"; a written key, its own line. The committed
/// reports are checked fresh by tests/report.rs.
#[test]
fn the_report_cites_defaults_as_defaults() {
    let seed = include_str!("../reports/gpt4-moe-a100/report.md");
    assert!(
        seed.contains("| fused, FlashAttention-3 class (the calibrated kernel) | default (the kernel the GPU's calibration measured) |"),
        "attention row"
    );
    let gpt3 = include_str!("../reports/gpt3-175b-a100/report.md");
    // flash_attention: false is written on line 18 of the scenario.
    assert!(gpt3.contains(
        "| Attention | unfused (s x s scores through HBM) | gpt3-175b-a100.yaml, line 18 |"
    ));
}

/// The README's figures come from commands this test re-runs, so they cannot go stale:
/// the seed block is `llmplan`'s own output (stderr then stdout), the findings under it
/// are written from `estimate` and `search` JSON. `LLMPLAN_BLESS=1` rewrites both.
#[test]
fn readme_figures_are_what_the_commands_print() {
    let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(readme_path).unwrap();
    let seed = llmplan(&[]);
    assert!(seed.status.success(), "{}", stderr(&seed));
    let seed_block = format!(
        "```\n$ cargo run --release\n{}{}```\n",
        stderr(&seed),
        stdout(&seed)
    );
    let json = |args: &[&str]| -> serde_json::Value {
        let o = llmplan(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let est = json(&["estimate", "--format", "json"]);
    let bo = json(&["estimate", "--mfu", "0.34", "--format", "json"]);
    let search = json(&["search", "--format", "json", "--sim-top", "0", "--top", "1"]);
    let fresh = replace_block(&readme, "seed", &seed_block);
    let fresh = replace_block(&fresh, "findings", &findings(&est, &bo, &search));
    if std::env::var_os("LLMPLAN_BLESS").is_some() {
        std::fs::write(readme_path, &fresh).unwrap();
        return;
    }
    assert!(
        fresh == readme,
        "README.md's generated figures differ from what the commands print now; \
         rerun with LLMPLAN_BLESS=1 to rewrite them, then read the prose around them"
    );
}

/// Replaces the text between `<!-- readme:NAME ... -->` and `<!-- /readme:NAME -->`.
fn replace_block(text: &str, name: &str, body: &str) -> String {
    let open = format!("<!-- readme:{name}");
    let close = format!("<!-- /readme:{name} -->");
    let s = text
        .find(&open)
        .unwrap_or_else(|| panic!("README has no {open}"));
    let s = s + text[s..].find('\n').unwrap() + 1;
    let e = text
        .find(&close)
        .unwrap_or_else(|| panic!("README has no {close}"));
    format!("{}{body}{}", &text[..s], &text[e..])
}

/// The README's findings about the seed, written from the commands' JSON.
fn findings(est: &serde_json::Value, bo: &serde_json::Value, search: &serde_json::Value) -> String {
    let f =
        |v: &serde_json::Value, p: &str| v.pointer(p).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
    let u = |v: &serde_json::Value, p: &str| v.pointer(p).and_then(|x| x.as_u64()).unwrap_or(0);
    let t = |v: &serde_json::Value, p: &str| {
        v.pointer(p).map_or(String::new(), |x| {
            x.as_str().map_or(x.to_string(), str::to_string)
        })
    };
    let matmul = f(est, "/model/params_active_matmul");
    let flops = f(est, "/flops/model_total");
    let tokens = flops / (6.0 * matmul);
    let (m, pp) = (u(est, "/layout/microbatches"), u(est, "/layout/pp"));
    let best = &search["results"][0];
    format!(
        "- **FLOPs**: 6 x {:.1}B active matmul parameters x {:.0}T tokens = {:.2e}, as the\n  \
         rumour's ~2.15e25.\n\
         - **The back-of-envelope check** (`llmplan estimate --mfu 0.34`, the rumour's own\n  \
         MFU) gives {:.1} days and ${:.1}M, against the rumour's 90-100 days and ~$63M (its\n  \
         $63M would be {:.0} days at $1/GPU-hour).\n\
         - **From first principles** this layout reaches {:.1}% MFU ({:.1} days, ${:.1}M): {} data-parallel\n  \
         replicas leave {m} micro-batches for {pp} pipeline stages, so the {} bubble alone is\n  \
         ({pp} - 1)/({m} + {pp} - 1) = {:.0}% of the step.\n\
         - **Failures**: at Llama 3's observed failure rates a run of this size is interrupted\n  \
         every {:.1} hours: {:.1} days and ${:.1}M expected against {:.1} days and ${:.1}M ideal\n  \
         (goodput {:.0}%).\n\
         - **A better layout exists**: `llmplan search` ranks {} layouts that fit and finds tp {}\n  \
         x pp {} x dp {} with ep {} (expert tensor parallel {}), cp {}, micro-batch {}, the {}\n  \
         schedule and recompute {}:\n  \
         {:.1} days, ${:.1}M, {:.1}% MFU; the rumoured layout ranks #{}. See\n  \
         `reports/gpt4-moe-a100/report.md`.\n",
        matmul / 1e9,
        tokens / 1e12,
        flops,
        f(bo, "/time/days"),
        f(bo, "/cost/usd") / 1e6,
        f(bo, "/time/days") * 63e6 / f(bo, "/cost/usd"),
        f(est, "/mfu") * 100.0,
        f(est, "/time/days"),
        f(est, "/cost/usd") / 1e6,
        u(est, "/layout/dp"),
        t(est, "/layout/schedule"),
        (pp - 1) as f64 / (m + pp - 1) as f64 * 100.0,
        f(est, "/reliability/job_mtbf_hours"),
        f(est, "/reliability/days_expected"),
        f(est, "/reliability/usd_expected") / 1e6,
        f(est, "/time/days"),
        f(est, "/cost/usd") / 1e6,
        f(est, "/reliability/goodput") * 100.0,
        thousands(u(search, "/feasible")),
        u(best, "/layout/tp"),
        u(best, "/layout/pp"),
        u(best, "/layout/dp"),
        u(best, "/layout/ep"),
        u(best, "/layout/etp"),
        u(best, "/layout/cp"),
        u(best, "/layout/micro_batch"),
        t(best, "/layout/schedule"),
        t(best, "/layout/recompute"),
        f(best, "/days"),
        f(best, "/usd") / 1e6,
        f(best, "/mfu") * 100.0,
        thousands(u(search, "/baseline/rank")),
    )
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An extreme input echoed back in an error was printed in full: `training.tokens=1e300`
/// came back as a 301-digit number. Long numbers are now scientific.
#[test]
fn extreme_numbers_in_errors_are_scientific() {
    let o = llmplan(&[
        "estimate",
        "gpt3-175b-a100",
        "--set",
        "training.tokens=1e300",
    ]);
    assert_one_error(&o, 2, &["training.tokens", "got 1e300"]);
    assert!(stderr(&o).len() < 200, "{}", stderr(&o));
}

/// Widest line of the tables in `text`, in characters (box-drawing rows only: prose
/// under a table is not a table).
fn widest_table_line(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '├', '└']))
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

/// `compare` on two layouts is ~230 columns wide at its natural width; told the
/// terminal is 80 columns (`COLUMNS`, as a terminal's size would), every command's
/// tables wrap their cells to fit.
#[test]
fn tables_fit_the_terminal_width() {
    let args = [
        "compare",
        "--layout",
        "tp=8,pp=16,ep=16",
        "--layout",
        "tp=8,pp=15,ep=16,cp=2",
    ];
    let natural = widest_table_line(&stdout(&llmplan(&args)));
    assert!(natural > 80, "compare is {natural} columns unwrapped");
    for cmd in [
        &args[..],
        &["estimate"],
        &["list", "gpus"],
        &["show", "gpu", "h100-sxm"],
    ] {
        let o = bin().args(cmd).env("COLUMNS", "80").output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{cmd:?}: {}", stderr(&o));
        let w = widest_table_line(&stdout(&o));
        assert!(
            (1..=80).contains(&w),
            "{cmd:?}: tables {w} columns wide in 80"
        );
    }
}

/// Found by the fuzz driver (seed 500): `estimate --engine sim` on a batch of 63.6M
/// micro-batches per replica went past `simulate`'s own check straight into the
/// simulator, which asked for ~1 TB and aborted (SIGABRT). The simulator now holds
/// every caller to its pass bound (2^20 now): one sentence, exit 2, no allocation.
#[test]
fn estimate_on_the_simulator_is_bounded_too() {
    let o = llmplan(&[
        "estimate",
        "--engine",
        "sim",
        "--set",
        "training.global_batch_tokens=1e14",
        "--set",
        "training.tokens=1e16",
    ]);
    assert_one_error(&o, 2, &["micro-batches", "simulator's limit"]);
}

/// Found by the fuzz driver (seeds 107 and 104): a Monte Carlo within the old bound of
/// 1e10 events ran for minutes (14 steps of 262,144 micro-batches: 21 s of CPU; a
/// straggler on a 1M-sequence batch: over 60 s). The bound is now on micro-batch passes
/// (2^23 in all, ~3 s): both are one sentence and exit 2 before any work. 65,536
/// micro-batches on GPT-3 175B's 16 stages are 2^20 passes a step (the simulator's own
/// bound), so 2^23 allows 8 steps.
#[test]
fn a_monte_carlo_of_minutes_is_refused_before_starting() {
    let t = Instant::now();
    let o = llmplan(&[
        "simulate",
        "gpt3-175b-a100",
        "--microbatches",
        "65536",
        "--jitter",
        "0.5",
        "--steps",
        "14",
    ]);
    assert_one_error(&o, 2, &["--steps 14", "passes", "at most 8 steps"]);
    let o = llmplan(&[
        "simulate",
        "gpt3-175b-a100",
        "--straggler",
        "18446744073709551615",
        "--set",
        // 65,536 micro-batches a step: within the simulator's bound, over the Monte
        // Carlo's once each step is played twice (with the straggler and without).
        "training.global_batch_seqs=524288",
        "--set",
        "reliability.enabled=false",
    ]);
    assert_one_error(&o, 2, &["passes", "Monte Carlo's limit"]);
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}
