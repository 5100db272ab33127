//! Fuzz driver for the whole command line, in-process:
//! `cargo run --release --example fuzz -- N [SEED]`.
//!
//! Each input is one command line run through the real CLI (`src/main.rs`, included
//! here as a module) without starting a process: a shipped scenario mutated (numbers
//! made extreme, lines dropped, duplicated or garbled, keys renamed, bytes flipped),
//! a built-in scenario with `--set` overrides of extreme values, random flags, or a
//! mutated published-runs CSV or kernel-measurement folder; and every subcommand
//! (estimate, simulate, search, compare, sweep, validate, calibrate fit, list, show,
//! report rarely: it writes files). A panic is caught and its input saved; an input
//! that takes over 5 s of CPU (30 s for `report`, whose seed run is 7-17 s of work) is
//! a hang and saved too; one over 60 s aborts the run. Prints
//! counts per exit code, the slowest inputs and every failure; exits 1 if any.

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "../src/main.rs"]
mod cli;

/// An input over this much CPU time is a hang.
const HANG: Duration = Duration::from_secs(5);
/// `report` is the one command whose normal work exceeds [`HANG`]: on the seed it runs
/// a search over 25,000 GPUs, a sweep of GPU counts and types and the sensitivity
/// (7-17 s, README "Performance", with a spinner); its inputs are a hang over this.
const REPORT_HANG: Duration = Duration::from_secs(30);
/// An input over this aborts the run (it would never end).
const ABORT: Duration = Duration::from_secs(60);

const SCENARIOS: [&str; 5] = [
    include_str!("../scenarios/gpt4-moe-a100.yaml"),
    include_str!("../scenarios/gpt3-175b-a100.yaml"),
    include_str!("../scenarios/llama3-405b-h100.yaml"),
    include_str!("../scenarios/deepseek-v3-h800.yaml"),
    include_str!("../tests/data/fuzz/minimal.yaml"),
];
const MODEL: &str = include_str!("../models/mixtral-8x7b.yaml");
const CSV: &str = include_str!("../tests/data/published/published_runs_public.csv");
const ATTN: &str = include_str!("../hardware-profiles/calibration/h100-sxm/attn.csv");
const GEMM: &str = include_str!("../hardware-profiles/calibration/h100-sxm/gemm_m.csv");

const NUMBERS: [&str; 24] = [
    "0",
    "-1",
    "1",
    "3",
    "7",
    "1e308",
    "-1e308",
    "1e-308",
    "1e400",
    ".nan",
    ".inf",
    "-.inf",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9007199254740993",
    "0.5",
    "2e12",
    "65536",
    "1000000",
    "~",
    "\"\"",
    "0x10",
];
const WORDS: [&str; 18] = [
    "llama3-8b",
    "gpt4-moe-1.8t",
    "dgx-h100",
    "dgx-a100",
    "custom",
    "h100-sxm",
    "b200-sxm",
    "fp8",
    "full",
    "selective",
    "dualpipe",
    "interleaved",
    "zb-h1",
    "/dev/zero",
    "../nope.yaml",
    "[1, 2]",
    "{a: 1}",
    "&a x",
];
const KEYS: [&str; 26] = [
    "gpus",
    "model",
    "cluster",
    "gpu",
    "training.tokens",
    "training.seq_len",
    "training.global_batch_seqs",
    "training.global_batch_tokens",
    "training.precision",
    "training.recompute",
    "training.optimizer_bytes_per_param",
    "layout.tp",
    "layout.pp",
    "layout.dp",
    "layout.ep",
    "layout.cp",
    "layout.vpp",
    "layout.micro_batch",
    "layout.zero",
    "layout.schedule",
    "layout.layers_per_stage",
    "pricing.usd_per_gpu_hour",
    "pricing.pue",
    "reliability.mc_runs",
    "reliability.gpu_mtbf_hours",
    "reliability.checkpoint",
];
const FLAGS: [&str; 30] = [
    "--gpus",
    "--set",
    "--mfu",
    "--engine",
    "--format",
    "--strict",
    "--schedule",
    "--vpp",
    "--microbatches",
    "--jitter",
    "--steps",
    "--seed",
    "--straggler",
    "--straggler-stage",
    "--top",
    "--sim-top",
    "--fix",
    "--objective",
    "--headroom",
    "--max-micro-batch",
    "--max-vpp",
    "--max-cp",
    "--batch-tolerance",
    "--layout",
    "--gpu",
    "--group",
    "-q",
    "--help",
    "--version",
    "--allow-tp-beyond-nvlink",
];

/// xorshift64*: small, seeded, the same stream on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn number(&mut self) -> String {
        match self.below(4) {
            0 => self.pick(&NUMBERS).to_string(),
            1 => (self.next() % 200).to_string(),
            2 => format!("{:e}", f64::from_bits(self.next())),
            _ => (1u64 << self.below(40)).to_string(),
        }
    }
    fn value(&mut self) -> String {
        if self.chance(60) {
            self.number()
        } else {
            self.pick(&WORDS).to_string()
        }
    }
}

/// One mutation of a YAML or CSV text, line-wise or byte-wise.
fn mutate(r: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Mostly one change, so most inputs get past the parser into the model.
    let rounds = if r.chance(70) { 1 } else { 2 + r.below(2) };
    for _ in 0..rounds {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = r.below(lines.len());
        match r.below(10) {
            // A value made extreme (the text after the first ':' or ',').
            0..=3 => {
                let l = &lines[i];
                if let Some(p) = l.find(':').or_else(|| l.find(',')) {
                    let v = r.value();
                    lines[i] = format!("{}{v}", &l[..=p]);
                }
            }
            4 => {
                lines.remove(i);
            }
            5 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            6 => {
                let j = r.below(lines.len());
                lines.swap(i, j);
            }
            7 => {
                let pad = " ".repeat(r.below(5));
                lines[i] = format!("{pad}{}", lines[i].trim_start());
            }
            8 => {
                let k = r.pick(&KEYS);
                let leaf = k.rsplit('.').next().unwrap_or(k).to_string();
                let v = r.value();
                lines.insert(i, format!("{leaf}: {v}"));
            }
            _ => {
                // Bytes: a random printable or control character somewhere.
                let mut b = lines[i].clone().into_bytes();
                let at = r.below(b.len() + 1);
                let c = [
                    b'{', b'[', b'&', b'*', b'!', b'%', b'"', b'\'', b'\t', b'#', 0x7f,
                ][r.below(11)];
                b.insert(at, c);
                lines[i] = String::from_utf8_lossy(&b).into_owned();
            }
        }
    }
    if r.chance(3) {
        let cut = r.below(lines.len() + 1);
        lines.truncate(cut);
    }
    lines.join("\n") + "\n"
}

fn s(x: &str) -> String {
    x.to_string()
}

/// Flags that keep a search or sweep to a few thousand layouts.
fn small_space(r: &mut Rng, args: &mut Vec<String>) {
    for f in [
        "tp=1,2,8",
        "pp=1,2,4",
        "micro_batch=1",
        "schedule=1f1b",
        "zero=1",
        "cp=1",
    ] {
        if r.chance(85) {
            args.extend([s("--fix"), s(f)]);
        }
    }
    args.extend([s("--sim-top"), r.below(3).to_string()]);
}

/// A subcommand with its own flags for a scenario `sc` (a path or built-in name).
fn subcommand(r: &mut Rng, sc: &str, work: &Path) -> Vec<String> {
    let mut a = vec![s("llmplan")];
    match r.below(20) {
        0..=8 => {
            a.extend([s("estimate"), s(sc)]);
            if r.chance(30) {
                a.extend([s("--format"), s(r.pick(&["json", "csv", "table"]))]);
            }
            if r.chance(10) {
                a.extend([s("--mfu"), r.number()]);
            }
            if r.chance(10) {
                a.extend([s("--engine"), s("sim")]);
            }
            if r.chance(10) {
                a.push(s("--strict"));
            }
        }
        9..=12 => {
            a.extend([s("simulate"), s(sc)]);
            if r.chance(30) {
                a.extend([s("--microbatches"), r.number()]);
            }
            if r.chance(30) {
                let sched = r.pick(&["gpipe", "1f1b", "interleaved", "zb-h1", "dualpipe"]);
                a.extend([s("--schedule"), s(sched)]);
            }
            if r.chance(20) {
                a.extend([s("--vpp"), r.number()]);
            }
            if r.chance(30) {
                a.extend([
                    s("--jitter"),
                    r.number(),
                    s("--steps"),
                    r.below(20).to_string(),
                ]);
            }
            if r.chance(10) {
                a.extend([s("--straggler"), r.number()]);
            }
            if r.chance(5) {
                a.extend([s("--trace"), work.join("t.json").display().to_string()]);
            }
            if r.chance(2) {
                a.extend([s("--timeline"), work.join("t.svg").display().to_string()]);
            }
            if r.chance(20) {
                a.extend([s("--format"), s("json")]);
            }
        }
        13..=14 => {
            a.extend([s("compare"), s(sc)]);
            for _ in 0..1 + r.below(2) {
                let l = format!(
                    "tp={},pp={},micro_batch={}",
                    r.value(),
                    r.number(),
                    1 << r.below(3)
                );
                a.extend([s("--layout"), l]);
            }
        }
        15..=17 => {
            a.extend([s("search"), s(sc)]);
            small_space(r, &mut a);
            a.extend([s("--top"), r.number()]);
            if r.chance(20) {
                a.extend([
                    s("--gpus"),
                    s(r.pick(&["8", "12,24", "1..64", "0", "9..17", "x"])),
                ]);
            }
            if r.chance(20) {
                a.extend([
                    s("--objective"),
                    s(r.pick(&["time", "cost", "step", "tokens-per-dollar", "x"])),
                ]);
            }
        }
        18 => {
            a.extend([
                s("sweep"),
                s(sc),
                s("--gpus"),
                s(r.pick(&["8..16", "64", "16,32"])),
            ]);
            small_space(r, &mut a);
            if r.chance(50) {
                a.extend([s("--gpu"), s(r.pick(&["h100", "a100", "b200,h200", "x"]))]);
            }
        }
        _ => {
            if r.chance(3) {
                a.extend([
                    s("report"),
                    s(sc),
                    s("--force"),
                    s("--top"),
                    s("1"),
                    s("-o"),
                ]);
                a.push(work.join("report").display().to_string());
            } else {
                a.extend([s("estimate"), s(sc), s("--format"), s("json")]);
            }
        }
    }
    a
}

/// Builds input `i`: the argument vector (files it names are written under `work`).
fn input(r: &mut Rng, work: &Path) -> Vec<String> {
    let path = |name: &str| work.join(name).display().to_string();
    match r.below(100) {
        // A shipped scenario, mutated, through a random subcommand.
        0..=44 => {
            let base = SCENARIOS[r.below(SCENARIOS.len())];
            let mut text = mutate(r, base);
            if r.chance(90) {
                // The failure Monte Carlo costs ~10 ms; most inputs skip it.
                text.push_str("reliability: {enabled: false}\n");
            }
            let p = path("s.yaml");
            let _ = std::fs::write(&p, text);
            let _ = std::fs::write(work.join("m.yaml"), mutate(r, MODEL));
            subcommand(r, &p, work)
        }
        // A built-in scenario with extreme --set overrides.
        45..=64 => {
            let name = r.pick(&[
                "gpt3-175b-a100",
                "llama3-405b-h100",
                "gpt4-moe-a100",
                "deepseek-v3-h800",
            ]);
            let mut a = subcommand(r, name, work);
            for _ in 0..1 + r.below(3) {
                let k = r.pick(&KEYS);
                let v = r.value();
                a.extend([s("--set"), format!("{k}={v}")]);
            }
            if r.chance(90) {
                a.extend([s("--set"), s("reliability.enabled=false")]);
            }
            a
        }
        // Random flags and values.
        65..=79 => {
            let mut a = vec![s("llmplan")];
            let cmds = [
                "estimate",
                "simulate",
                "search",
                "compare",
                "sweep",
                "validate",
                "list",
                "show",
                "calibrate",
                "report",
                "x",
            ];
            let cmd = r.pick(&cmds);
            a.push(s(cmd));
            if cmd == "search" || cmd == "sweep" {
                // A whole default sweep is minutes of legitimate work, not a hang.
                small_space(r, &mut a);
                a.extend([s("--gpus"), s("8..32")]);
            }
            for _ in 0..r.below(6) {
                match r.below(3) {
                    0 => a.push(s(r.pick(&FLAGS))),
                    1 => a.push(r.value()),
                    _ => {
                        let f = r.pick(&FLAGS);
                        let v = r.value();
                        a.push(format!("{f}={v}"));
                    }
                }
            }
            // Without an operand, `validate` checks the whole shipped table (0.3-0.6 s)
            // and `report` plans the seed (7-17 s): both reached, but mostly a small
            // table and the minimal scenario stand in.
            if cmd == "validate" && r.chance(95) {
                let p = path("runs.csv");
                let _ = std::fs::write(&p, table_sample(r, CSV));
                a.insert(2, p);
            }
            if cmd == "report" && r.chance(90) {
                let p = path("s.yaml");
                let _ = std::fs::write(&p, SCENARIOS[4]);
                a.insert(2, p);
            }
            if a.iter().any(|x| x == "report") {
                // Never write a report into the working directory.
                a.extend([s("-o"), path("r")]);
            }
            a
        }
        // A mutated published-runs table: the header and a few rows. The whole table
        // is 0.3-0.6 s of work (rows without a layout run a search); a few rows reach
        // the same parser and row paths at a hundredth of it.
        80..=89 => {
            let p = path("runs.csv");
            let table = table_sample(r, CSV);
            let _ = std::fs::write(&p, mutate(r, &table));
            let mut a = vec![s("llmplan"), s("validate"), p];
            if r.chance(30) {
                a.extend([s("--format"), s(r.pick(&["json", "csv"]))]);
            }
            a
        }
        // A mutated kernel-measurement folder.
        90..=93 => {
            let d = work.join("cal");
            let _ = std::fs::create_dir_all(&d);
            let _ = std::fs::write(d.join("attn.csv"), mutate(r, ATTN));
            let _ = std::fs::write(d.join("gemm_m.csv"), mutate(r, GEMM));
            vec![
                s("llmplan"),
                s("calibrate"),
                s("fit"),
                d.display().to_string(),
                s("--gpu"),
                s("h100-sxm"),
            ]
        }
        // Listings and catalog entries.
        94..=96 => {
            let what = r.pick(&["gpus", "clusters", "models", "scenarios", "x"]);
            if r.chance(50) {
                vec![s("llmplan"), s("list"), s(what)]
            } else {
                let name = r.pick(&WORDS);
                vec![s("llmplan"), s("show"), s("model"), s(name)]
            }
        }
        // Bytes that are barely YAML.
        _ => {
            let n = r.below(200);
            let bytes: Vec<u8> = (0..n).map(|_| (r.next() % 256) as u8).collect();
            let p = path("b.yaml");
            let _ = std::fs::write(&p, bytes);
            subcommand(r, &p, work)
        }
    }
}

/// The header line of a CSV `text` and 1-6 of its rows picked at random (lines, so a
/// quoted field with a line break may be cut: the mutations do worse).
fn table_sample(r: &mut Rng, text: &str) -> String {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let rows: Vec<&str> = lines.collect();
    let mut out = String::from(header) + "\n";
    for _ in 0..1 + r.below(6) {
        out.push_str(rows.get(r.below(rows.len())).copied().unwrap_or_default());
        out.push('\n');
    }
    out
}

/// CPU time of the whole process (all threads), from /proc/self/stat; wall time where
/// there is no /proc. On a loaded machine wall time would call a starved input a hang.
fn cpu_time(t0: Instant) -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|st| {
            // Fields after the command name in parentheses: utime and stime are 14 and 15.
            let rest = &st[st.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        });
    match ticks {
        // USER_HZ is 100 on Linux.
        Some(t) => Duration::from_millis(t * 10),
        None => t0.elapsed(),
    }
}

struct Failure {
    index: u64,
    what: String,
    args: Vec<String>,
}

fn save(out: &Path, f: &Failure, work: &Path) {
    let d = out.join(format!(
        "{}-{}",
        f.what.split(':').next().unwrap_or("x"),
        f.index
    ));
    let _ = std::fs::create_dir_all(&d);
    let _ = std::fs::write(d.join("args.txt"), f.args.join("\n") + "\n");
    let _ = std::fs::write(d.join("what.txt"), &f.what);
    for name in ["s.yaml", "m.yaml", "b.yaml", "runs.csv"] {
        let _ = std::fs::copy(work.join(name), d.join(name));
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let n: u64 = argv.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let seed: u64 = argv.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let work = std::env::temp_dir().join(format!("llmplan-fuzz-{}", std::process::id()));
    let out = PathBuf::from("target/fuzz");
    let _ = std::fs::create_dir_all(&work);
    let _ = std::fs::create_dir_all(&out);

    // Panics are caught and counted; the default hook would print each one.
    let last_panic = Arc::new(Mutex::new(String::new()));
    {
        let lp = last_panic.clone();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(mut g) = lp.lock() {
                *g = format!("{info}");
            }
        }));
    }

    // Watchdog: an input that never ends aborts the run with its arguments.
    let started = Arc::new(AtomicU64::new(0));
    let current = Arc::new(Mutex::new(Vec::<String>::new()));
    let t0 = Instant::now();
    {
        let (started, current) = (started.clone(), current.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let s = started.load(Ordering::Relaxed);
            let now = cpu_time(t0).as_millis() as u64;
            if s > 0 && now.saturating_sub(s) > ABORT.as_millis() as u64 {
                let args = current.lock().map(|g| g.join(" ")).unwrap_or_default();
                eprintln!("HANG over {ABORT:?}, aborting: {args}");
                std::process::exit(3);
            }
        });
    }

    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut codes = [0u64; 256];
    let mut failures: Vec<Failure> = Vec::new();
    let mut slowest: Vec<(Duration, Vec<String>)> = Vec::new();
    // Inputs and CPU time per subcommand: where the driver's time goes.
    let mut per_command: std::collections::BTreeMap<String, (u64, Duration)> = Default::default();
    for i in 0..n {
        let args = input(&mut r, &work);
        if let Ok(mut g) = current.lock() {
            g.clone_from(&args);
        }
        // An input the kernel kills (out of memory) leaves no panic to catch: its
        // arguments stay in this file, its input files in the work folder (removed
        // only when the run ends).
        let _ = std::fs::write(
            out.join("current.txt"),
            format!("#{i} seed {seed}\n{}\n", args.join(" ")),
        );
        let c0 = cpu_time(t0);
        started.store(c0.as_millis() as u64 + 1, Ordering::Relaxed);
        let res = std::panic::catch_unwind(AssertUnwindSafe(|| cli::run_args(&args)));
        // CPU seconds of the input (all its threads), so a starved input is no hang.
        let dt = cpu_time(t0).saturating_sub(c0);
        started.store(0, Ordering::Relaxed);
        let cmd = per_command
            .entry(args.get(1).cloned().unwrap_or_default())
            .or_default();
        cmd.0 += 1;
        cmd.1 += dt;
        match res {
            Ok((_, code)) => codes[code as usize] += 1,
            Err(_) => {
                let msg = last_panic.lock().map(|g| g.clone()).unwrap_or_default();
                let f = Failure {
                    index: i,
                    what: format!("panic: {msg}"),
                    args: args.clone(),
                };
                save(&out, &f, &work);
                eprintln!("#{i} PANIC {msg}\n  {}", args.join(" "));
                failures.push(f);
            }
        }
        let limit = if args.iter().any(|a| a == "report") {
            REPORT_HANG
        } else {
            HANG
        };
        if dt > limit {
            let f = Failure {
                index: i,
                what: format!("hang: {:.1} s", dt.as_secs_f64()),
                args: args.clone(),
            };
            save(&out, &f, &work);
            eprintln!("#{i} HANG {:.1} s\n  {}", dt.as_secs_f64(), args.join(" "));
            failures.push(f);
        }
        if slowest.len() < 5 || dt > slowest[slowest.len() - 1].0 {
            slowest.push((dt, args));
            slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
            slowest.truncate(5);
        }
        if (i + 1) % 10_000 == 0 {
            eprintln!(
                "{} inputs, {:.0}/s, {} failures",
                i + 1,
                (i + 1) as f64 / t0.elapsed().as_secs_f64(),
                failures.len()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "{n} inputs (seed {seed}) in {:.1} s; exit codes: 0: {}, 1: {}, 2: {}; {} panics, {} hangs over {HANG:?} of CPU ({REPORT_HANG:?} for report)",
        t0.elapsed().as_secs_f64(),
        codes[0],
        codes[1],
        codes[2],
        failures.iter().filter(|f| f.what.starts_with("panic")).count(),
        failures.iter().filter(|f| f.what.starts_with("hang")).count(),
    );
    let _ = writeln!(o, "per subcommand (inputs, CPU s):");
    for (c, (k, t)) in &per_command {
        let _ = writeln!(o, "  {c:<12} {k:>9} {:>9.1}", t.as_secs_f64());
    }
    let _ = writeln!(o, "slowest:");
    for (d, a) in &slowest {
        let _ = writeln!(o, "  {:.3} s  {}", d.as_secs_f64(), a[1..].join(" "));
    }
    for f in &failures {
        let _ = writeln!(o, "#{} {}: {}", f.index, f.what, f.args[1..].join(" "));
    }
    if !failures.is_empty() {
        let _ = writeln!(o, "inputs saved under {}", out.display());
        std::process::exit(1);
    }
}
