//! Hardening (issue 8, part 4): arbitrary YAML documents and extreme-but-valid scenario
//! values through the parser, the resolver and the whole estimate. Nothing may panic or
//! overflow, and no NaN or infinity may reach the output: a bad input is an `Error`.
//!
//! Case counts are set in code: 10,000 inputs over the four properties by default, so
//! the suite stays minutes on two cores (100,000 took ~10 of the suite's minutes there);
//! `PROPTEST_CASES=100000` scales them back up (each property takes its share, see
//! `cases`), and the fuzz driver (`cargo run --release --example fuzz -- 1000000`)
//! runs a million whole command lines. Crash inputs found while writing these live in
//! `tests/data/fuzz/` and are replayed by `replay_crash_corpus`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use llmplan::analytic::reliability::{closed_form, monte_carlo, Plan};
use llmplan::analytic::{Estimate, EstimateOptions};
use llmplan::setup::estimate;
use llmplan::spec::reliability::FailureDistribution;
use llmplan::spec::scenario::{self, ScenarioFile};
use llmplan::spec::yaml::Source;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// Cases for a property: its share of the run, scaled by `PROPTEST_CASES` (read as the
/// total over this file; default 10,000).
fn cases(share: f64) -> u32 {
    let total = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(10_000.0);
    ((total * share).ceil() as u32).max(1)
}

fn config(share: f64) -> Config {
    Config {
        cases: cases(share),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

/// Every number of the estimate, JSON and CSV finite: walks the JSON tree.
fn assert_finite(e: &Estimate) {
    let v = serde_json::to_value(e).expect("estimate serialises");
    fn walk(v: &serde_json::Value, path: &str) {
        match v {
            serde_json::Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                assert!(x.is_finite(), "{path} = {n}");
            }
            // serde_json writes NaN and infinity as null: nulls are allowed only where
            // the schema has an optional value.
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &format!("{path}[{i}]"));
                }
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    walk(x, &format!("{path}.{k}"));
                }
            }
            _ => {}
        }
    }
    walk(&v, "estimate");
    // serde_json turns non-finite floats into null; check the floats directly too.
    let mut floats = vec![
        e.time.step_s,
        e.time.steps,
        e.time.days,
        e.mfu,
        e.mfu_with_attention,
        e.hfu,
        e.cost.usd,
        e.cost.gpu_hours,
        e.energy.mwh,
        e.memory.peak_bytes,
        e.flops.model_total,
        e.flops.attention_total,
        e.model.params_total,
    ];
    if let Some(r) = &e.reliability {
        assert!(r.all_finite(), "{r:?}");
        floats.extend([r.goodput, r.days_expected, r.usd_expected, r.days_p90]);
        assert!(r.goodput > 0.0 && r.goodput <= 1.0, "goodput {}", r.goodput);
    }
    for x in floats {
        assert!(x.is_finite(), "non-finite output {x}");
    }
    let csv = llmplan::report::estimate_csv(e);
    for line in csv.lines().skip(1) {
        let v = line.split(',').nth(1).unwrap_or("");
        assert!(!(v.contains("NaN") || v.contains("inf")), "csv row {line}");
    }
    // The title and the model name are user text; every other cell is ours.
    let table = llmplan::report::estimate_table(e)
        .replace(&e.scenario, "")
        .replace(&e.model.name, "");
    assert!(!table.contains("NaN") && !table.contains("inf"), "{table}");
}

/// A scratch file per test process and property.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llmplan-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{tag}.yaml"))
}

/// Writes `text` and runs load + estimate: errors are fine, panics and non-finite
/// output are not.
fn run_text(path: &PathBuf, text: &str) -> Option<Estimate> {
    std::fs::write(path, text).unwrap();
    let sc = scenario::load(Some(&path.display().to_string()), &[]).ok()?;
    let e = estimate(&sc, &EstimateOptions::default()).ok()?;
    assert_finite(&e);
    Some(e)
}

// ---------------------------------------------------------------------------------
// Arbitrary YAML documents.

const KEYS: &[&str] = &[
    "name",
    "description",
    "model",
    "cluster",
    "gpu",
    "gpus",
    "training",
    "layout",
    "pricing",
    "reliability",
    "tokens",
    "seq_len",
    "global_batch_seqs",
    "global_batch_tokens",
    "precision",
    "recompute",
    "tp",
    "pp",
    "dp",
    "ep",
    "cp",
    "vpp",
    "micro_batch",
    "zero",
    "schedule",
    "layers_per_stage",
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "ffn_hidden",
    "vocab",
    "moe",
    "experts",
    "top_k",
    "gpu_mtbf_hours",
    "mc_runs",
    "checkpoint_mode",
    "usd_per_gpu_hour",
    "pue",
    "<<",
    "&a",
    "*a",
    "",
];

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|x| x.to_string()),
        any::<u64>().prop_map(|x| x.to_string()),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        Just(".nan".to_string()),
        Just(".inf".to_string()),
        Just("-.inf".to_string()),
        Just("1e400".to_string()),
        Just("-0".to_string()),
        Just("~".to_string()),
        Just("true".to_string()),
        Just("0x1F".to_string()),
        Just("18446744073709551616".to_string()),
        prop::sample::select(vec![
            "llama3-405b",
            "gpt4-moe-1.8t",
            "dgx-h100",
            "dgx-a100",
            "h100-sxm",
            "bf16",
            "fp8",
            "full",
            "1f1b",
            "interleaved",
            "dualpipe",
            "async",
            "weibull",
            "../x.yaml",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,12}",
    ]
}

/// A random YAML tree in block or flow style, keys from the scenario vocabulary.
fn node(depth: u32) -> BoxedStrategy<String> {
    let leaf = scalar().boxed();
    if depth == 0 {
        return leaf;
    }
    let key = prop::sample::select(KEYS.to_vec());
    prop_oneof![
        3 => leaf,
        2 => prop::collection::vec((key, node(depth - 1)), 0..6).prop_map(move |kv| {
            let pad = "  ".repeat(4 - depth as usize);
            kv.iter()
                .map(|(k, v)| {
                    if v.contains('\n') {
                        format!("{pad}{k}:\n{v}")
                    } else {
                        format!("{pad}{k}: {v}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        }),
        1 => prop::collection::vec(node(depth - 1), 0..4)
            .prop_map(|xs| format!("[{}]", xs.iter().map(|x| x.replace('\n', " ")).collect::<Vec<_>>().join(", "))),
    ]
    .boxed()
}

/// A valid scenario with one field replaced by a random scalar or subtree.
fn mutated_scenario() -> impl Strategy<Value = String> {
    let base = BASE.lines().map(str::to_string).collect::<Vec<_>>();
    let n = base.len();
    (0..n, node(2), any::<bool>()).prop_map(move |(i, v, replace)| {
        let mut lines = base.clone();
        let line = &lines[i];
        let indent = line.len() - line.trim_start().len();
        let key = line
            .trim_start()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        let v1 = v.replace('\n', " ");
        if replace {
            lines[i] = format!("{}{key}: {v1}", " ".repeat(indent));
        } else {
            lines.insert(i, format!("{}{}", " ".repeat(indent), v1));
        }
        lines.join("\n")
    })
}

const BASE: &str = "name: fuzz
model: llama3-8b
cluster: dgx-h100
gpus: 64
training:
  tokens: 1e11
  seq_len: 4096
  global_batch_seqs: 256
  recompute: selective
layout:
  tp: 2
  pp: 2
  micro_batch: 1
pricing:
  usd_per_gpu_hour: 2
reliability:
  mc_runs: 2
";

proptest! {
    #![proptest_config(config(0.30))]
    /// Any text: the parser answers Ok or a located `Error`, never a panic.
    #[test]
    fn arbitrary_text_parses_or_errors(text in prop_oneof![
        "\\PC{0,200}",
        node(3),
        mutated_scenario(),
    ]) {
        let src = Source { name: "fuzz.yaml".into(), text };
        match src.parse::<ScenarioFile>() {
            Ok(f) => { let _ = serde_json::to_string(&f).unwrap(); }
            Err(e) => { prop_assert!(!e.to_string().is_empty()); }
        }
    }
}

proptest! {
    #![proptest_config(config(0.05))]
    /// Mutated scenarios all the way through load and estimate.
    #[test]
    fn mutated_scenarios_estimate_or_error(text in mutated_scenario()) {
        let path = scratch("mutated");
        let _ = run_text(&path, &text);
    }
}

// ---------------------------------------------------------------------------------
// Extreme but valid values.

#[derive(Debug, Clone)]
struct Extreme {
    gpus: u64,
    tokens: f64,
    seq_len: u64,
    batch: u64,
    layers: u32,
    heads: u32,
    kv_div: u32,
    head_dim: u64,
    ffn: u64,
    vocab: u64,
    gated: bool,
    tied: bool,
    moe: Option<(u32, u32, u64)>,
    tp: u32,
    pp: u32,
    ep: u32,
    cp: u32,
    vpp: u32,
    micro_batch: u32,
    zero: u8,
    schedule: &'static str,
    recompute: &'static str,
    precision: &'static str,
    cluster: &'static str,
    mfu: Option<f64>,
    gpu_mtbf_hours: f64,
    mode: &'static str,
    dist: &'static str,
    spares: u32,
    interval: Option<f64>,
    mc_runs: u32,
}

fn log_uniform(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo.ln()..=hi.ln()).prop_map(f64::exp)
}

fn pow2ish(max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => (0..=max.ilog2()).prop_map(|e| 1u32 << e),
        1 => 1..=max,
    ]
}

fn extreme() -> impl Strategy<Value = Extreme> {
    let size = (
        prop_oneof![
            3 => (0u32..=20).prop_map(|e| 1u64 << e),
            2 => 1u64..=1_000_000,
            1 => Just(1_000_000u64),
        ],
        prop_oneof![log_uniform(1.0, 1e16), Just(1.0), Just(1e16)],
        prop_oneof![(0u32..=20).prop_map(|e| 1u64 << e), 1u64..=1_000_000],
        prop_oneof![(0u32..=16).prop_map(|e| 1u64 << e), 1u64..=100_000],
    );
    let model = (
        prop_oneof![1u32..=1000, Just(1000u32), Just(1u32)],
        prop_oneof![
            1u32..=256,
            (0u32..=8).prop_map(|e| 1 << e),
            Just(3u32),
            Just(7u32)
        ],
        prop_oneof![1u32..=8, Just(1u32)],
        prop_oneof![1u64..=512, Just(128u64)],
        prop_oneof![1u64..=200_000, Just(1u64)],
        prop_oneof![1u64..=10_000_000, Just(1u64), Just(256_000u64)],
        any::<bool>(),
        any::<bool>(),
        prop::option::of((1u32..=512, 1u32..=16, 1u64..=50_000)),
    );
    let layout = (
        pow2ish(64),
        pow2ish(128),
        pow2ish(256),
        pow2ish(16),
        pow2ish(8),
        pow2ish(16),
        0u8..=3,
        prop::sample::select(vec!["gpipe", "1f1b", "interleaved", "zb-h1", "dualpipe"]),
        prop::sample::select(vec!["none", "selective", "full"]),
        prop::sample::select(vec!["bf16", "fp16", "fp8"]),
        prop::sample::select(vec![
            "dgx-h100",
            "dgx-a100",
            "gb200-nvl72",
            "pcie-h100",
            "dgx-b200",
        ]),
    );
    let rel = (
        prop::option::of(0.01f64..=1.0),
        prop_oneof![log_uniform(1e-3, 1e9), Just(86_332.0)],
        prop::sample::select(vec!["sync", "async"]),
        prop::sample::select(vec!["exponential", "weibull"]),
        prop_oneof![Just(0u32), 0u32..=1_000_000],
        prop::option::of(log_uniform(1e-3, 1e12)),
        1u32..=3,
    );
    (size, model, layout, rel).prop_map(
        |(
            (gpus, tokens, seq_len, batch),
            (layers, heads, kv_div, head_dim, ffn, vocab, gated, tied, moe),
            (tp, pp, ep, cp, vpp, micro_batch, zero, schedule, recompute, precision, cluster),
            (mfu, gpu_mtbf_hours, mode, dist, spares, interval, mc_runs),
        )| Extreme {
            gpus,
            tokens,
            seq_len,
            batch,
            layers,
            heads,
            kv_div,
            head_dim,
            ffn,
            vocab,
            gated,
            tied,
            moe: moe.map(|(e, k, f)| (e, k.min(e), f)),
            tp,
            pp,
            ep,
            cp,
            vpp,
            micro_batch,
            zero,
            schedule,
            recompute,
            precision,
            cluster,
            mfu,
            gpu_mtbf_hours,
            mode,
            dist,
            spares,
            interval,
            mc_runs,
        },
    )
}

/// The scenario as YAML (flow style where convenient; JSON numbers are YAML numbers).
fn yaml(x: &Extreme) -> String {
    let kv = if x.heads.is_multiple_of(x.kv_div) {
        x.heads / x.kv_div
    } else {
        x.heads
    };
    let moe = x
        .moe
        .map(|(e, k, f)| format!("\n  moe: {{experts: {e}, top_k: {k}, expert_ffn_hidden: {f}}}"))
        .unwrap_or_default();
    let interval = x
        .interval
        .map(|t| format!("\n  checkpoint_interval_s: {t:e}"))
        .unwrap_or_default();
    format!(
        "name: extreme
model:
  name: x
  display_name: x
  source: proptest
  layers: {layers}
  hidden: {hidden}
  heads: {heads}
  kv_heads: {kv}
  head_dim: {hd}
  ffn_hidden: {ffn}
  gated_mlp: {gated}
  vocab: {vocab}
  tied_embeddings: {tied}
  norm: rmsnorm
  position_embedding: rope{moe}
cluster: {cluster}
gpus: {gpus}
training:
  tokens: {tokens:e}
  seq_len: {seq}
  global_batch_seqs: {batch}
  precision: {precision}
  recompute: {recompute}
layout:
  tp: {tp}
  pp: {pp}
  ep: {ep}
  cp: {cp}
  vpp: {vpp}
  micro_batch: {mb}
  zero: {zero}
  schedule: {schedule}
reliability:
  gpu_mtbf_hours: {mtbf:e}
  checkpoint_mode: {mode}
  distribution: {dist}
  spare_nodes: {spares}
  replacement_wait_s: 3600
  mc_runs: {runs}{interval}
",
        layers = x.layers,
        hidden = u64::from(x.heads) * x.head_dim,
        heads = x.heads,
        hd = x.head_dim,
        ffn = x.ffn,
        gated = x.gated,
        vocab = x.vocab,
        tied = x.tied,
        cluster = x.cluster,
        gpus = x.gpus,
        tokens = x.tokens,
        seq = x.seq_len,
        batch = x.batch,
        precision = x.precision,
        recompute = x.recompute,
        tp = x.tp,
        pp = x.pp,
        ep = x.ep,
        cp = x.cp,
        vpp = x.vpp,
        mb = x.micro_batch,
        zero = x.zero,
        schedule = x.schedule,
        mtbf = x.gpu_mtbf_hours,
        mode = x.mode,
        dist = x.dist,
        spares = x.spares,
        runs = x.mc_runs,
    )
}

static TRIED: AtomicU64 = AtomicU64::new(0);
static LOADED: AtomicU64 = AtomicU64::new(0);
static ESTIMATED: AtomicU64 = AtomicU64::new(0);
static WITH_RELIABILITY: AtomicU64 = AtomicU64::new(0);

/// Makes the layout fit the model most of the time (tp divides the kv heads, experts
/// split over ep, enough layers for the stages, dp a multiple of ep, GPUs the product),
/// so the estimate itself runs on the extremes rather than stopping at a layout rule.
fn cohere(mut x: Extreme) -> Extreme {
    let group = x.kv_div.max(1);
    let kv_mul = (x.heads / (x.tp * group)).max(1);
    x.heads = x.tp.saturating_mul(kv_mul).saturating_mul(group);
    x.kv_div = group;
    if x.vpp > 1 {
        x.schedule = "interleaved";
    }
    x.layers = x.layers.max(x.pp * x.vpp);
    x.seq_len = x.seq_len.max(2 * x.cp as u64).div_ceil(2 * x.cp as u64) * 2 * x.cp as u64;
    match &mut x.moe {
        Some((e, k, _)) => {
            *e = (*e).div_ceil(x.ep) * x.ep;
            *k = (*k).min(*e);
        }
        None => x.ep = 1,
    }
    let model_parallel = x.tp as u64 * x.pp as u64 * x.cp as u64;
    let dp_max = (1_000_000 / model_parallel).max(1);
    let dp = (x.gpus / model_parallel).clamp(1, dp_max);
    let dp = (dp / x.ep as u64).max(1) * x.ep as u64;
    x.gpus = dp * model_parallel;
    let per_step = dp * x.micro_batch as u64;
    x.batch = x.batch.div_ceil(per_step).max(x.pp as u64) * per_step;
    x
}

proptest! {
    #![proptest_config(config(0.45))]
    /// 1 to 1,000,000 GPUs, 1 to 1e16 tokens, 1 to 1,000 layers, odd heads, huge vocab,
    /// any layout and reliability setting: an estimate with finite numbers, or an error.
    #[test]
    fn extreme_scenarios_estimate_or_error(x in prop_oneof![1 => extreme(), 3 => extreme().prop_map(cohere)]) {
        let path = scratch("extreme");
        std::fs::write(&path, yaml(&x)).unwrap();
        let n = TRIED.fetch_add(1, Ordering::Relaxed) + 1;
        let sc = match scenario::load(Some(&path.display().to_string()), &[]) {
            Ok(sc) => sc,
            Err(e) => { prop_assert!(!e.to_string().is_empty()); return Ok(()); }
        };
        LOADED.fetch_add(1, Ordering::Relaxed);
        match estimate(&sc, &EstimateOptions { mfu: x.mfu }) {
            Ok(e) => {
                assert_finite(&e);
                ESTIMATED.fetch_add(1, Ordering::Relaxed);
                if e.reliability.is_some() {
                    WITH_RELIABILITY.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                if std::env::var("PROPS_VERBOSE").is_ok() && n.is_multiple_of(500) {
                    eprintln!("extreme error: {e}");
                }
                prop_assert!(!e.to_string().is_empty())
            }
        }
        if n.is_multiple_of(10_000) {
            eprintln!(
                "extreme: {n} tried, {} loaded, {} estimated, {} with reliability",
                LOADED.load(Ordering::Relaxed),
                ESTIMATED.load(Ordering::Relaxed),
                WITH_RELIABILITY.load(Ordering::Relaxed)
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// The goodput arithmetic alone, over its whole input range.

proptest! {
    #![proptest_config(config(0.20))]
    /// Closed form and a short Monte Carlo: finite, ordered, goodput in (0, 1].
    #[test]
    fn goodput_arithmetic_is_finite(
        work in log_uniform(1.0, 1e12),
        mtbf in log_uniform(1.0, 1e12),
        // Stall as a share of the MTBF, inside the first-order range (lost work per
        // failure below half the MTBF); outside it the estimate refuses (tested elsewhere).
        stall_share in log_uniform(1e-12, 0.1),
        restart in prop_oneof![Just(0.0), log_uniform(1e-3, 1e6)],
        spares in 0u32..=64,
        weibull in any::<bool>(),
        shape in 0.1f64..=10.0,
    ) {
        let stall = stall_share * mtbf;
        let p = Plan {
            work_s: work,
            interval_s: (2.0 * stall * mtbf).sqrt().max(1e-3),
            stall_s: stall,
            durable_lag_s: 0.0,
            restart_s: restart,
            mtbf_s: mtbf,
            hardware_fraction: 0.7,
            spare_nodes: spares,
            replacement_wait_s: 3600.0,
            node_repair_s: 86400.0,
            distribution: if weibull { FailureDistribution::Weibull } else { FailureDistribution::Exponential },
            weibull_shape: shape,
        };
        let cf = closed_form(&p);
        prop_assert!(cf.lost_work_s / mtbf < 0.5);
        prop_assert!(cf.wall_s.is_finite() && cf.wall_s >= work * (1.0 - 1e-12));
        prop_assert!(cf.goodput > 0.0 && cf.goodput <= 1.0 + 1e-12);
        if cf.interruptions < 1e3 {
            let mc = monte_carlo(&p, 2, 1).unwrap();
            prop_assert!(mc.wall_p10_s <= mc.wall_p90_s);
            prop_assert!(mc.wall_mean_s.is_finite() && mc.wall_mean_s >= work * (1.0 - 1e-9));
        }
    }
}

// ---------------------------------------------------------------------------------
// Crash inputs found by the properties above, replayed.

/// Every file in `tests/data/fuzz/`: loads and estimates (or errors) without a panic
/// and with finite output.
#[test]
fn replay_crash_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/data/fuzz exists") {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let text = std::fs::read_to_string(&p).unwrap();
            let src = Source {
                name: p.display().to_string(),
                text: text.clone(),
            };
            let _ = src.parse::<ScenarioFile>();
            if let Ok(sc) = scenario::load(Some(&p.display().to_string()), &[]) {
                for mfu in [None, Some(0.5)] {
                    if let Ok(e) = estimate(&sc, &EstimateOptions { mfu }) {
                        assert_finite(&e);
                    }
                }
            }
            n += 1;
        }
    }
    assert!(n > 0, "no corpus files in {}", dir.display());
}
