//! Planning reports: one directory with the answer, the assumptions, the charts and the
//! tables for a scenario (`llmplan report`).
//!
//! [`build`] computes everything (the estimate, the layout search, a coarse sweep over
//! GPU counts and types, a sensitivity analysis, a simulated step); [`write`] renders
//! `report.md`, a self-contained `report.html` (SVG charts inline, no scripts, no
//! external fonts), `summary.json`, `layouts.csv`, optionally `validation.csv`, and each
//! chart as SVG and PNG. The same inputs give the same bytes: no clocks, seeded
//! simulations, ordered output.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analytic::{self, Estimate, EstimateOptions};
use crate::charts::canvas::{self, Chart};
use crate::charts::layouts::{LayoutBar, LayoutsChart};
use crate::charts::memory::MemoryChart;
use crate::charts::tornado::{TornadoChart, TornadoRow};
use crate::charts::{gantt, write_atomic};
use crate::error::{Error, Result};
use crate::report::units::{pct, thousands, usd};
use crate::search::sweep::{self, Sweep, SweepOptions};
use crate::search::{self, Outcome, Ranked, SearchOptions};
use crate::sim::{self, Program, SimResult};
use crate::spec::training::AttentionKernel;
use crate::spec::Scenario;
use crate::validate;

const GIB: f64 = 1073741824.0;

/// What a report covers.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Also predict the published runs and write `validation.csv`.
    pub validation: bool,
    /// Layouts in the comparison (the plan's own comes first, then the search's best).
    pub top: usize,
    /// GPU counts of the sweep (empty: powers of two from an eighth to twice the
    /// scenario's count, and the scenario's count).
    pub sweep_gpus: Vec<u64>,
    /// GPU types of the sweep besides the scenario's own (empty: two of h100, a100,
    /// h200).
    pub sweep_types: Vec<String>,
    /// Change applied to each input of the sensitivity analysis (0.2 = +-20%).
    pub delta: f64,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            validation: false,
            top: 5,
            sweep_gpus: Vec::new(),
            sweep_types: Vec::new(),
            delta: 0.2,
        }
    }
}

/// One layout of the comparison: the search's ranking and the full estimate.
#[derive(Debug, Clone)]
pub struct Compared {
    /// "this plan" or "search #k".
    pub tag: String,
    /// The ranked numbers (`None` for the plan's own layout).
    pub ranked: Option<Ranked>,
    /// The full analytic estimate.
    pub est: Estimate,
}

/// One input of the sensitivity analysis.
#[derive(Debug, Clone)]
pub struct Sensitivity {
    /// The input in words.
    pub input: String,
    /// What is scaled, in the scenario's terms.
    pub fields: &'static str,
    /// (days, US$) at -delta.
    pub low: (f64, f64),
    /// (days, US$) at +delta.
    pub high: (f64, f64),
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario, resolved.
    pub scenario: Scenario,
    /// The scenario file's name (no directories), or the built-in name.
    pub scenario_file: String,
    /// The estimate of the scenario's own layout (what `llmplan estimate` prints).
    pub est: Estimate,
    /// The layout search on the scenario's GPU count.
    pub search: Outcome,
    /// The plan's layout and the search's best, with full estimates.
    pub compared: Vec<Compared>,
    /// Best layout per GPU count and type.
    pub sweep: Sweep,
    /// Sensitivity rows, largest swing in days first.
    pub sensitivity: Vec<Sensitivity>,
    /// Change applied in the sensitivity analysis (0.2 = +-20%).
    pub delta: f64,
    /// One simulated step of the plan's layout (`None` when the simulator cannot run
    /// its schedule; `notes` says why).
    pub sim: Option<SimResult>,
    /// Published runs predicted (when asked).
    pub validation: Option<validate::Report>,
    /// Things the report itself decided or could not do.
    pub notes: Vec<String>,
}

/// Computes a report's contents for `sc`.
pub fn build(sc: &Scenario, opts: &PlanOptions) -> Result<Plan> {
    let est = crate::setup::estimate(sc, &EstimateOptions::default())?;
    // Re-estimates (comparison, sweep, sensitivity) leave failures out: the Monte Carlo
    // is a property of the plan, and the ideal days are what the layouts trade.
    let mut quiet = sc.clone();
    quiet.reliability.enabled = false;

    let ((search_out, compared), (sweep_res, (sensitivity, sim_res))) = rayon::join(
        || compare(&quiet, &est, opts),
        || {
            rayon::join(
                || run_sweep(&quiet, opts),
                || rayon::join(|| sensitivity(&quiet, opts.delta), || simulate(sc)),
            )
        },
    );
    let (search_out, compared) = (search_out?, compared?);
    let sweep = sweep_res?;
    let sensitivity = sensitivity?;
    let mut notes = Vec::new();
    let sim = match sim_res {
        Ok(r) => Some(r),
        Err(e) => {
            notes.push(format!(
                "no pipeline timeline: the simulator could not run this layout ({e})"
            ));
            None
        }
    };
    let validation = if opts.validation {
        Some(validate::validate_builtin(None)?)
    } else {
        None
    };
    let scenario_file = sc
        .origin
        .source
        .name
        .trim_start_matches("builtin:")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_string();
    Ok(Plan {
        scenario: sc.clone(),
        scenario_file,
        est,
        search: search_out,
        compared,
        sweep,
        sensitivity,
        delta: opts.delta,
        sim,
        validation,
        notes,
    })
}

fn compare(
    sc: &Scenario,
    est: &Estimate,
    opts: &PlanOptions,
) -> (Result<Outcome>, Result<Vec<Compared>>) {
    let mut so = SearchOptions::for_scenario(sc);
    so.top = opts.top.max(1);
    so.sim_top = 0;
    let out = match search::search(sc, &so, None) {
        Ok(o) => o,
        Err(e) => return (Err(e), Ok(Vec::new())),
    };
    let mut own = est.clone();
    own.reliability = None;
    let mut v = vec![Compared {
        tag: "this plan".to_string(),
        ranked: None,
        est: own,
    }];
    for (i, r) in out.results.iter().enumerate() {
        match search::full_estimate(sc, r) {
            Ok(e) => v.push(Compared {
                tag: format!("search #{}", i + 1),
                ranked: Some(r.clone()),
                est: e,
            }),
            Err(e) => return (Ok(out), Err(e)),
        }
    }
    (Ok(out), Ok(v))
}

/// GPU counts of the sweep: powers of two from an eighth to twice `gpus`, and `gpus`.
pub fn sweep_counts(gpus: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (0..40)
        .map(|k| 1u64 << k)
        .filter(|&p| p * 8 >= gpus && p <= gpus * 2 && p >= 8)
        .collect();
    if !v.contains(&gpus) {
        v.push(gpus);
    }
    v.sort_unstable();
    v
}

/// GPU types the sweep compares with the scenario's own.
pub fn sweep_types(own_gpu: &str) -> Vec<String> {
    ["h100", "a100", "h200"]
        .into_iter()
        .filter(|t| {
            sweep::gpu_type(t)
                .map(|g| g.gpu.name != own_gpu)
                .unwrap_or(false)
        })
        .take(2)
        .map(str::to_string)
        .collect()
}

fn run_sweep(sc: &Scenario, opts: &PlanOptions) -> Result<Sweep> {
    let gpus = if opts.sweep_gpus.is_empty() {
        sweep_counts(sc.gpus)
    } else {
        opts.sweep_gpus.clone()
    };
    let types = if opts.sweep_types.is_empty() {
        sweep_types(&sc.gpu.name)
    } else {
        opts.sweep_types.clone()
    };
    // A coarse space: the sweep shows the trend, the search above the details.
    let mut so = SearchOptions::for_scenario(sc);
    so.limits.max_micro_batch = 2;
    so.limits.max_vpp = 2;
    so.limits.max_cp = 2;
    so.sim_top = 0;
    let own = sweep::sweep(
        sc,
        &SweepOptions {
            gpus: gpus.clone(),
            types: Vec::new(),
            search: so.clone(),
        },
        None,
    )?;
    let others = sweep::sweep(
        sc,
        &SweepOptions {
            gpus,
            types,
            search: so,
        },
        None,
    )?;
    let Sweep {
        scenario,
        objective,
        mut points,
        ..
    } = own;
    points.extend(others.points);
    let xy: Vec<Option<(f64, f64)>> = points
        .iter()
        .map(|p| p.best.as_ref().map(|b| (b.days, b.usd)))
        .collect();
    for (p, on) in points.iter_mut().zip(sweep::pareto(&xy)) {
        p.pareto = on;
    }
    // No wall time in the output: the report must be the same bytes on every run.
    Ok(Sweep {
        scenario,
        objective,
        points,
        elapsed_s: 0.0,
    })
}

type Modifier = fn(&mut Scenario, f64);

/// The inputs the sensitivity analysis moves, with what they scale.
const INPUTS: [(&str, &str, Modifier); 6] = [
    (
        "GPU FLOP/s (peak x efficiency)",
        "gpu.peak_flops (every precision)",
        |s, f| {
            let p = &mut s.gpu.peak_flops;
            p.fp32 *= f;
            p.tf32 *= f;
            p.bf16 *= f;
            p.fp16 *= f;
            p.fp8 = p.fp8.map(|x| x * f);
            p.fp4 = p.fp4.map(|x| x * f);
        },
    ),
    ("HBM bandwidth", "gpu.hbm_bandwidth", |s, f| {
        s.gpu.hbm_bandwidth *= f
    }),
    ("NVLink bandwidth", "cluster.scale_up.bandwidth", |s, f| {
        s.cluster.scale_up.bandwidth *= f
    }),
    (
        "network bandwidth",
        "cluster.scale_out.bandwidth",
        |s, f| s.cluster.scale_out.bandwidth *= f,
    ),
    ("price per GPU-hour", "pricing.usd_per_gpu_hour", |s, f| {
        let p = s.pricing.usd_per_gpu_hour.unwrap_or(s.gpu.usd_per_hour);
        s.pricing.usd_per_gpu_hour = Some(p * f);
    }),
    ("training tokens", "training.tokens", |s, f| {
        s.training.tokens *= f
    }),
];

fn sensitivity(sc: &Scenario, delta: f64) -> Result<Vec<Sensitivity>> {
    let at = |m: Modifier, f: f64| -> Result<(f64, f64)> {
        let mut s = sc.clone();
        m(&mut s, f);
        let e = crate::setup::estimate(&s, &EstimateOptions::default())?;
        Ok((e.time.days, e.cost.usd))
    };
    let mut rows = Vec::new();
    for (input, fields, m) in INPUTS {
        rows.push(Sensitivity {
            input: input.to_string(),
            fields,
            low: at(m, 1.0 - delta)?,
            high: at(m, 1.0 + delta)?,
        });
    }
    let swing = |r: &Sensitivity| ((r.high.0 - r.low.0).abs(), (r.high.1 - r.low.1).abs());
    // Largest swing in days first, then in dollars; stable for ties.
    rows.sort_by(|a, b| {
        let (da, ua) = swing(a);
        let (db, ub) = swing(b);
        db.total_cmp(&da).then(ub.total_cmp(&ua))
    });
    Ok(rows)
}

fn simulate(sc: &Scenario) -> Result<SimResult> {
    let kernels = crate::calibrate::kernel_model_for(sc);
    let prep = sim::prepare(&crate::analytic::Setup::resolve(sc, &kernels)?, None)?;
    let prog = Program::compile(&prep.input)?;
    Ok(prog.simulate(true))
}

// ---------------------------------------------------------------------------------
// Document model: rendered to Markdown and to HTML from the same blocks.

enum Block {
    H1(String),
    H2(String),
    Para(String),
    /// Key-value lines of the answer.
    Facts(Vec<(String, String)>),
    List(Vec<String>),
    Table(Vec<String>, Vec<Vec<String>>),
    /// Chart stem and caption.
    Figure(&'static str, String),
}

/// Chart file stems with their alt text, in the report's order.
pub const CHARTS: [(&str, &str); 5] = [
    ("timeline", "Pipeline timeline of one simulated step"),
    ("memory", "Memory per GPU by pipeline stage"),
    ("layouts", "Step time of the best layouts"),
    ("sweep", "Days and dollars against GPU count"),
    ("sensitivity", "Sensitivity of days and dollars"),
];

fn layout_text(e: &Estimate) -> String {
    let l = &e.layout;
    let mut s = format!(
        "tp {} · pp {} · dp {} · ep {} · cp {}",
        l.tp, l.pp, l.dp, l.ep, l.cp
    );
    if l.vpp > 1 {
        let _ = write!(s, " · vpp {}", l.vpp);
    }
    let _ = write!(
        s,
        "; micro-batch {} x {} per step; {}; ZeRO {}; {}recompute {}",
        l.micro_batch,
        l.microbatches,
        l.schedule,
        l.zero,
        if l.sequence_parallel {
            "sequence parallel; "
        } else {
            ""
        },
        search::recompute_name(l.recompute)
    );
    s
}

fn short_layout(e: &Estimate) -> String {
    let l = &e.layout;
    let mut s = format!("tp{} pp{} dp{}", l.tp, l.pp, l.dp);
    if l.ep > 1 {
        let _ = write!(s, " ep{}", l.ep);
    }
    if l.cp > 1 {
        let _ = write!(s, " cp{}", l.cp);
    }
    if l.vpp > 1 {
        let _ = write!(s, " vpp{}", l.vpp);
    }
    let _ = write!(
        s,
        " mb{} {} z{} rc:{}",
        l.micro_batch,
        l.schedule,
        l.zero,
        search::recompute_name(l.recompute)
    );
    s
}

fn days(d: f64) -> String {
    if d >= 100.0 {
        format!("{d:.0} days")
    } else {
        format!("{d:.1} days")
    }
}

fn gib(b: f64) -> String {
    format!("{:.1} GiB", b / GIB)
}

fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where `field` was set: the scenario file's line, a `--set`, or the default with
/// where the default comes from. A key the file leaves out is a default, even when
/// its section is written.
fn set_at(p: &Plan, field: &str) -> String {
    match p.scenario.origin.written(field) {
        Some(loc) if loc.file.starts_with("--") => loc.file,
        Some(loc) => format!("{}, line {}", p.scenario_file, loc.line),
        None => format!("default ({})", default_source(field)),
    }
}

/// Where a field's default comes from, for the assumptions table.
fn default_source(field: &str) -> &'static str {
    match field {
        "training.precision" => "BF16 mixed precision, as Megatron-LM and NeMo train",
        "training.recompute" => "none: every activation kept",
        "training.attention_kernel" => "the kernel the GPU's calibration measured",
        "training.flash_attention" => "fused flash attention, as current frameworks run",
        "layout" => "tp 1 pp 1 ep 1 cp 1, micro-batch 1, ZeRO 1, dp from the GPU count",
        "cluster" => "the scenario's cluster profile",
        "pricing" => "$0.08/kWh, EIA's 2024 US industrial average; PUE 1.2",
        "pricing.usd_per_gpu_hour" => "the GPU profile's list price",
        "reliability" => "Llama 3's failure rates",
        _ => "llmplan's schema",
    }
}

fn src(map: &std::collections::BTreeMap<String, String>, key: &str) -> String {
    map.get(key)
        .map(|s| one_line(s))
        .unwrap_or_else(|| "(no source given)".to_string())
}

fn exposed_comm(b: &analytic::estimate::StepBreakdown) -> f64 {
    b.tp_comm_s + b.ep_comm_s + b.cp_comm_s + b.p2p_s + b.dp_comm_s
}

fn bar_of(c: &Compared) -> LayoutBar {
    let e = &c.est;
    let b = &e.time.breakdown;
    let comm = exposed_comm(b);
    let other = (e.time.step_s - b.compute_s - b.bubble_s - comm).max(0.0);
    LayoutBar {
        label: format!("{}: {}", c.tag, short_layout(e)),
        compute_s: b.compute_s,
        bubble_s: b.bubble_s.max(0.0),
        comm_s: comm,
        other_s: other,
        note: format!(
            "{} | {} | MFU {}",
            days(e.time.days),
            usd(e.cost.usd),
            pct(e.mfu)
        ),
    }
}

fn short_name(t: &str) -> String {
    match t.find(" on ") {
        Some(i) if t.len() > 48 => t[..i].to_string(),
        _ => t.to_string(),
    }
}

/// The charts other than the timeline and the sweep (drawn by their own modules).
fn memory_chart(p: &Plan) -> MemoryChart {
    MemoryChart {
        title: format!(
            "{}: memory per GPU by stage ({})",
            short_name(&p.est.scenario),
            p.est.gpu
        ),
        stages: p.est.stages.iter().map(|s| s.memory).collect(),
        capacity_bytes: p.est.memory.capacity_bytes,
    }
}

fn layouts_chart(p: &Plan) -> LayoutsChart {
    LayoutsChart {
        title: format!(
            "{}: step time of the best layouts on {} GPUs",
            short_name(&p.est.scenario),
            thousands(p.est.gpus_requested)
        ),
        bars: p.compared.iter().map(bar_of).collect(),
    }
}

fn tornado_chart(p: &Plan) -> TornadoChart {
    TornadoChart {
        title: format!(
            "{}: sensitivity to ±{:.0}% on each input",
            short_name(&p.est.scenario),
            p.delta * 100.0
        ),
        delta_pct: p.delta * 100.0,
        base: (p.est.time.days, p.est.cost.usd),
        rows: p
            .sensitivity
            .iter()
            .map(|s| TornadoRow {
                input: s.input.clone(),
                low: s.low,
                high: s.high,
            })
            .collect(),
    }
}

fn answer(p: &Plan) -> Vec<(String, String)> {
    let e = &p.est;
    let mut f = Vec::new();
    let gpus = if e.gpus == e.gpus_requested {
        format!(
            "{} x {} ({})",
            thousands(e.gpus),
            p.scenario.gpu.display_name,
            e.cluster
        )
    } else {
        format!(
            "{} of {} requested x {} ({}); the layout uses whole replicas",
            thousands(e.gpus),
            thousands(e.gpus_requested),
            p.scenario.gpu.display_name,
            e.cluster
        )
    };
    f.push(("GPUs".into(), gpus));
    f.push(("Layout".into(), layout_text(e)));
    f.push((
        "Training time".into(),
        format!(
            "{} without failures ({} per step, {} steps)",
            days(e.time.days),
            secs(e.time.step_s),
            thousands(e.time.steps.round() as u64)
        ),
    ));
    if let Some(u) = &e.uncertainty {
        f.push((
            "Error band".into(),
            format!(
                "{}; {} to {}: step-time errors {:+.0}% to {:+.0}% on those runs",
                crate::analytic::uncertainty::describe_days(u),
                usd(u.usd_p10),
                usd(u.usd_p90),
                u.error_pct[0],
                u.error_pct[1]
            ),
        ));
    }
    f.push((
        "Cost".into(),
        format!(
            "{} ({} GPU-hours at ${:.2}/GPU-hour{})",
            usd(e.cost.usd),
            thousands(e.cost.gpu_hours.round() as u64),
            e.cost.usd_per_gpu_hour,
            if e.cost.gpus_billed != e.gpus {
                format!(", {} GPUs billed", thousands(e.cost.gpus_billed))
            } else {
                String::new()
            }
        ),
    ));
    f.push((
        "MFU".into(),
        format!(
            "{} (with attention FLOPs {}, HFU {})",
            pct(e.mfu),
            pct(e.mfu_with_attention),
            pct(e.hfu)
        ),
    ));
    let free = e.memory.capacity_bytes - e.memory.peak_bytes;
    f.push((
        "Memory".into(),
        if e.memory.fits {
            format!(
                "peak {} of {} per GPU (stage {}): {} headroom ({})",
                gib(e.memory.peak_bytes),
                gib(e.memory.capacity_bytes),
                e.memory.busiest_stage,
                gib(free),
                pct(free / e.memory.capacity_bytes)
            )
        } else {
            format!(
                "DOES NOT FIT: peak {} of {} per GPU (stage {}), {} over",
                gib(e.memory.peak_bytes),
                gib(e.memory.capacity_bytes),
                e.memory.busiest_stage,
                gib(-free)
            )
        },
    ));
    match &e.reliability {
        Some(r) => f.push((
            "With failures".into(),
            format!(
                "expected {} and {} (P10-P90 {:.1}-{:.1} days); ~{} interruptions, goodput {}",
                days(r.days_expected),
                usd(r.usd_expected),
                r.days_p10,
                r.days_p90,
                thousands(r.interruptions.round() as u64),
                pct(r.goodput)
            ),
        )),
        None => f.push((
            "With failures".into(),
            "not estimated (see warnings)".into(),
        )),
    }
    f.push((
        "Energy".into(),
        format!("{:.0} MWh at the facility", e.energy.mwh),
    ));
    if let Some(best) = p.compared.iter().find(|c| c.ranked.is_some()) {
        let rank = p
            .search
            .baseline
            .as_ref()
            .and_then(|b| b.rank)
            .map_or("is not among the feasible layouts".to_string(), |r| {
                format!("ranks #{r} of {}", thousands(p.search.feasible))
            });
        f.push((
            "Best layout found".into(),
            format!(
                "{}: {}, {} (MFU {}); this plan's layout {} by training days",
                short_layout(&best.est),
                days(best.est.time.days),
                usd(best.est.cost.usd),
                pct(best.est.mfu),
                rank
            ),
        ));
    }
    f
}

fn assumptions(p: &Plan) -> Vec<Vec<String>> {
    let sc = &p.scenario;
    let m = &sc.model;
    let g = &sc.gpu;
    let c = &sc.cluster;
    let t = &sc.training;
    let e = &p.est;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |k: &str, v: String, s: String| rows.push(vec![k.to_string(), v, s]);
    row(
        "Scenario",
        sc.name.clone(),
        format!(
            "{}{}",
            p.scenario_file,
            sc.description
                .as_deref()
                .map_or(String::new(), |d| format!(": {}", one_line(d)))
        ),
    );
    if !sc.origin.overrides.is_empty() {
        row(
            "Overrides",
            sc.origin.overrides.join(", "),
            "--set on the command line".into(),
        );
    }
    row(
        "Model",
        format!(
            "{} ({}): {} layers, hidden {}, {} heads, {} parameters, {} active{}",
            m.display_name,
            m.name,
            m.layers,
            m.hidden,
            m.heads,
            crate::report::units::count(e.model.params_total),
            crate::report::units::count(e.model.params_active),
            m.moe.as_ref().map_or(String::new(), |x| format!(
                ", {} experts top-{}",
                x.experts, x.top_k
            ))
        ),
        one_line(&m.source),
    );
    if let Some(pc) = &m.published {
        row(
            "Published size",
            crate::report::units::count(pc.params_total),
            one_line(&pc.source),
        );
    }
    row(
        "Training tokens",
        format!("{:.3e}", t.tokens),
        set_at(p, "training.tokens"),
    );
    row(
        "Sequence length",
        t.seq_len.to_string(),
        set_at(p, "training.seq_len"),
    );
    let batch_field = if t.global_batch_tokens.is_some() {
        "training.global_batch_tokens"
    } else {
        "training.global_batch_seqs"
    };
    row(
        "Global batch",
        format!(
            "{} sequences ({:.1}M tokens) used",
            thousands(e.layout.global_batch_seqs),
            e.layout.global_batch_seqs as f64 * t.seq_len as f64 / 1e6
        ),
        set_at(p, batch_field),
    );
    row(
        "Precision",
        format!("{:?}", t.precision).to_lowercase(),
        set_at(p, "training.precision"),
    );
    row(
        "Recompute",
        search::recompute_name(t.recompute).to_string(),
        set_at(p, "training.recompute"),
    );
    row(
        "Attention",
        match (t.flash_attention, t.attention_kernel) {
            (false, _) => "unfused (s x s scores through HBM)".to_string(),
            (true, AttentionKernel::Flash3) => {
                "fused, FlashAttention-3 class (the calibrated kernel)".to_string()
            }
            (true, AttentionKernel::Flash2) => {
                "fused, FlashAttention-2 (FA3 paper's H100 ratio on Hopper)".to_string()
            }
        },
        set_at(
            p,
            if t.flash_attention {
                "training.attention_kernel"
            } else {
                "training.flash_attention"
            },
        ),
    );
    row("Layout", layout_text(e), set_at(p, "layout"));
    row(
        "GPU",
        format!("{} ({})", g.display_name, g.name),
        set_at(p, "cluster"),
    );
    row(
        "GPU memory",
        gib(g.memory_bytes),
        src(&g.sources, "memory_bytes"),
    );
    row(
        "Peak FLOP/s",
        format!(
            "{:.0} TFLOP/s BF16{} dense",
            g.peak_flops.bf16 / 1e12,
            g.peak_flops
                .fp8
                .map_or(String::new(), |f| format!(", {:.0} FP8", f / 1e12))
        ),
        src(&g.sources, "peak_flops"),
    );
    row(
        "HBM bandwidth",
        format!("{:.2} TB/s", g.hbm_bandwidth / 1e12),
        src(&g.sources, "hbm_bandwidth"),
    );
    row(
        "Kernel efficiency",
        format!(
            "GEMM {:.3}, attention {:.3}, memory {:.3}, sustained clock {:.3} ({}{})",
            g.efficiency.gemm,
            g.efficiency.attention,
            g.efficiency.memory,
            g.efficiency.sustained_clock,
            if g.efficiency.measured {
                "measured"
            } else {
                "derived"
            },
            g.calibration
                .as_deref()
                .map_or(String::new(), |c| format!("; fitted model {c}"))
        ),
        src(&g.sources, "efficiency"),
    );
    row(
        "GPU power",
        format!("{:.0} W TDP", g.tdp_w),
        src(&g.sources, "tdp_w"),
    );
    row(
        "Cluster",
        format!(
            "{} ({}): {} GPUs per node, NVLink domain {}",
            c.display_name, c.name, c.gpus_per_node, c.nvlink_domain
        ),
        set_at(p, "cluster"),
    );
    row(
        "NVLink bandwidth",
        format!(
            "{:.0} GB/s per GPU per direction",
            c.scale_up.bandwidth / 1e9
        ),
        src(&c.sources, "scale_up"),
    );
    row(
        "Network bandwidth",
        format!(
            "{:.0} Gb/s per GPU, oversubscription {:.2}",
            c.scale_out.bandwidth * 8.0 / 1e9,
            c.oversubscription
        ),
        src(&c.sources, "scale_out"),
    );
    let price_src = if sc.pricing.usd_per_gpu_hour.is_some() {
        set_at(p, "pricing.usd_per_gpu_hour")
    } else {
        format!("GPU list price: {}", src(&g.sources, "usd_per_hour"))
    };
    row(
        "Price",
        format!("${:.2} per GPU-hour", e.cost.usd_per_gpu_hour),
        price_src,
    );
    row(
        "Billing",
        format!(
            "{} GPUs billed{}; PUE {:.2}, ${:.3}/kWh ({})",
            thousands(e.cost.gpus_billed),
            if sc.pricing.bill_idle_gpus {
                " (idle GPUs of the reservation included)"
            } else {
                ""
            },
            sc.pricing.pue,
            sc.pricing.usd_per_kwh,
            if sc.pricing.add_energy_cost {
                "energy added to the cost"
            } else {
                "energy reported, not added"
            }
        ),
        set_at(p, "pricing"),
    );
    let r = &sc.reliability;
    row(
        "Failures",
        if r.enabled {
            format!(
                "GPU MTBF {} h, node MTBF {} h, restart {:.0} s, {:?} checkpoints, {} spare nodes",
                thousands(r.gpu_mtbf_hours.round() as u64),
                thousands(r.node_mtbf_hours.round() as u64),
                r.restart_s,
                r.checkpoint_mode,
                r.spare_nodes
            )
            .replace("Sync", "synchronous")
            .replace("Async", "asynchronous")
        } else {
            "not modelled".to_string()
        },
        format!(
            "{}; defaults from Llama 3 (arXiv 2407.21783, section 3.3.4: 466 interruptions in 54 days on 16,384 H100)",
            set_at(p, "reliability")
        ),
    );
    rows
}

fn blocks(p: &Plan) -> Vec<Block> {
    let e = &p.est;
    let mut b = vec![
        Block::H1(format!("Training plan: {}", e.scenario)),
        Block::Para(format!(
            "Generated by llmplan {} from {} (`llmplan report {}`). Every number below comes from the analytic cost model ({}); the timeline comes from the discrete-event simulator.",
            env!("CARGO_PKG_VERSION"),
            p.scenario_file,
            p.scenario_file,
            e.pipeline_model
        )),
        Block::H2("The answer".into()),
        Block::Facts(answer(p)),
        Block::H2("Assumptions".into()),
        Block::Para("Every input, its value and where it comes from (the scenario file's line, the hardware profile's cited source, or the default).".into()),
        Block::Table(
            vec!["input".into(), "value".into(), "source".into()],
            assumptions(p),
        ),
        Block::H2("Charts".into()),
    ];
    if p.sim.is_some() {
        b.push(Block::Figure(
            "timeline",
            format!(
                "Pipeline timeline of one step of this plan's layout, simulated event by event: one row per pipeline stage; the tall bar is compute (numbers are micro-batches), the thin lanes are pipeline sends and data-parallel traffic. The simulator's step is {}; the closed forms give {}.",
                secs(p.sim.as_ref().map_or(0.0, |s| s.step_s)),
                secs(e.time.step_s)
            ),
        ));
    }
    b.push(Block::Figure(
        "memory",
        format!(
            "Memory per GPU at each pipeline stage's peak, by part, against the {} capacity (red line). The search keeps {} free.",
            gib(e.memory.capacity_bytes),
            pct(p.search_headroom())
        ),
    ));
    b.push(Block::Figure(
        "layouts",
        format!(
            "This plan's layout and the search's best {} on {} GPUs, step time split into compute, pipeline bubble, exposed communication (tensor, expert, context, pipeline and data parallel) and the rest (optimizer, stage imbalance); days, dollars and MFU after each bar.",
            p.compared.len().saturating_sub(1),
            thousands(e.gpus_requested)
        ),
    ));
    b.push(Block::Figure(
        "sweep",
        "Best layout for each GPU count and GPU type (coarse search: micro-batch up to 2, vpp up to 2, cp up to 2): training days and dollars; ringed points are on the Pareto frontier of (days, dollars). Other GPU types run on their catalog cluster at their list price.".to_string(),
    ));
    b.push(Block::Figure(
        "sensitivity",
        format!(
            "Training days and dollars of this plan's layout (failures left out) with each input {:.0}% lower and higher; the black line is the plan. GPU FLOP/s scales the peak of every precision, which stands for any change in achieved kernel efficiency.",
            p.delta * 100.0
        ),
    ));

    b.push(Block::H2("Tables".into()));
    b.push(Block::Para(
        "Where the step goes (critical path of the slowest stage):".into(),
    ));
    let br = &e.time.breakdown;
    let step = e.time.step_s;
    let parts = [
        ("compute (recompute included)", br.compute_s),
        ("pipeline bubble", br.bubble_s),
        ("tensor-parallel communication", br.tp_comm_s),
        ("expert all-to-all", br.ep_comm_s),
        ("context-parallel communication", br.cp_comm_s),
        ("pipeline sends", br.p2p_s),
        ("data-parallel communication", br.dp_comm_s),
        ("optimizer", br.optimizer_s),
    ];
    let mut rows: Vec<Vec<String>> = parts
        .iter()
        .map(|(k, v)| vec![k.to_string(), secs(*v), pct(v / step)])
        .collect();
    rows.push(vec!["step".into(), secs(step), "100.0%".into()]);
    b.push(Block::Table(
        vec!["part".into(), "time per step".into(), "share".into()],
        rows,
    ));

    b.push(Block::Para("Memory per GPU by stage:".into()));
    let rows = e
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let m = &s.memory;
            vec![
                i.to_string(),
                s.layers.to_string(),
                gib(m.weights),
                gib(m.gradients),
                gib(m.optimizer),
                gib(m.activations),
                gib(m.other),
                gib(s.memory_bytes),
                gib(e.memory.capacity_bytes - s.memory_bytes),
            ]
        })
        .collect();
    b.push(Block::Table(
        [
            "stage",
            "layers",
            "weights",
            "gradients",
            "optimizer",
            "activations",
            "other",
            "total",
            "free",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));

    b.push(Block::Para(format!(
        "Layouts compared on {} GPUs ({} layouts enumerated, {} fit; full list in layouts.csv):",
        thousands(e.gpus_requested),
        thousands(p.search.enumerated),
        thousands(p.search.feasible)
    )));
    let rows = p
        .compared
        .iter()
        .map(|c| {
            let x = &c.est;
            vec![
                c.tag.clone(),
                short_layout(x),
                thousands(x.gpus),
                secs(x.time.step_s),
                pct(x.mfu),
                days(x.time.days),
                usd(x.cost.usd),
                format!(
                    "{} / {}",
                    gib(x.memory.peak_bytes),
                    gib(x.memory.capacity_bytes)
                ),
            ]
        })
        .collect();
    b.push(Block::Table(
        [
            "",
            "layout",
            "GPUs used",
            "step",
            "MFU",
            "days",
            "cost",
            "memory peak",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));
    if let Some(top) = p.search.results.first() {
        let name = crate::export::scenario_arg(&p.scenario);
        b.push(Block::Para(
            match crate::export::launch_hint(&name, &p.scenario, &top.layout, top.gpus) {
                Ok(cmd) => format!("Launch the search's best layout with `{cmd}`."),
                Err(why) => format!("The search's best layout cannot be exported: {why}."),
            },
        ));
    }

    b.push(Block::Para(
        "Best layout per GPU count and type (the sweep):".into(),
    ));
    let rows = p
        .sweep
        .points
        .iter()
        .map(|pt| match &pt.best {
            Some(r) => vec![
                format!("{} (${:.2}/h)", pt.gpu_type, pt.usd_per_gpu_hour),
                thousands(pt.gpus),
                r.layout.text(),
                pct(r.mfu),
                days(r.days),
                usd(r.usd),
                if pt.pareto { "yes" } else { "" }.into(),
            ],
            None => vec![
                format!("{} (${:.2}/h)", pt.gpu_type, pt.usd_per_gpu_hour),
                thousands(pt.gpus),
                "nothing fits".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        })
        .collect();
    b.push(Block::Table(
        [
            "GPU type",
            "GPUs",
            "best layout",
            "MFU",
            "days",
            "cost",
            "Pareto",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));

    b.push(Block::Para(format!(
        "Sensitivity (each input {:.0}% lower / higher, everything else as planned):",
        p.delta * 100.0
    )));
    let rows = p
        .sensitivity
        .iter()
        .map(|s| {
            vec![
                s.input.clone(),
                format!("`{}`", s.fields),
                format!("{:.1} / {:.1}", s.low.0, s.high.0),
                format!("{} / {}", usd(s.low.1), usd(s.high.1)),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![
            "input".into(),
            "scales".into(),
            format!("days (base {:.1})", e.time.days),
            format!("cost (base {})", usd(e.cost.usd)),
        ],
        rows,
    ));

    if let Some(v) = &p.validation {
        b.push(Block::Figure(
            "validation",
            "Predicted over published step time for each published row's headline quantity (rates inverted: above 1 = predicted slower), one line per source; the shaded band is +-10%.".into(),
        ));
        b.push(Block::Para(
            "How well the model predicts published runs (validation.csv has every row):".into(),
        ));
        let rows = v
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.group.clone(),
                    g.n.to_string(),
                    format!("{:.1}%", g.mape),
                    g.worst_row.clone(),
                    format!("{:+.1}%", g.worst_error_pct),
                ]
            })
            .collect();
        b.push(Block::Table(
            ["group", "rows", "MAPE", "worst row", "worst error"]
                .map(String::from)
                .to_vec(),
            rows,
        ));
    }

    b.push(Block::H2("Warnings".into()));
    let mut w: Vec<String> = e.warnings.clone();
    w.extend(p.search.notes.iter().cloned());
    w.extend(p.notes.iter().cloned());
    if w.is_empty() {
        w.push("none".into());
    }
    b.push(Block::List(w));
    b
}

impl Plan {
    fn search_headroom(&self) -> f64 {
        SearchOptions::for_scenario(&self.scenario).headroom
    }
}

fn md_cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// The report as Markdown (charts as PNG beside it).
pub fn markdown(p: &Plan) -> String {
    let mut out = String::new();
    for b in blocks(p) {
        match b {
            Block::H1(t) => {
                let _ = writeln!(out, "# {t}\n");
            }
            Block::H2(t) => {
                let _ = writeln!(out, "## {t}\n");
            }
            Block::Para(t) => {
                let _ = writeln!(out, "{t}\n");
            }
            Block::Facts(f) => {
                for (k, v) in f {
                    let _ = writeln!(out, "- **{k}:** {v}");
                }
                out.push('\n');
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(out, "- {}", one_line(&i));
                }
                out.push('\n');
            }
            Block::Table(h, rows) => {
                let _ = writeln!(
                    out,
                    "| {} |",
                    h.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                );
                let _ = writeln!(out, "|{}", "---|".repeat(h.len()));
                for r in rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                out.push('\n');
            }
            Block::Figure(stem, caption) => {
                let alt = CHARTS.iter().find(|c| c.0 == stem).map_or(stem, |c| c.1);
                let _ = writeln!(
                    out,
                    "![{alt}]({stem}.png)\n\n*{caption}* ([SVG]({stem}.svg))\n"
                );
            }
        }
    }
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Inline code spans (`x`) as <code>, the rest escaped.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

const CSS: &str = "\
:root{color-scheme:light}\n\
body{font-family:\"DejaVu Sans\",Verdana,Arial,sans-serif;color:#222;background:#fff;max-width:1180px;margin:0 auto;padding:24px 32px;line-height:1.45;font-size:15px}\n\
h1{font-size:26px;margin:0 0 8px}\n\
h2{font-size:20px;margin:32px 0 10px;border-bottom:2px solid #4c72b0;padding-bottom:4px}\n\
table{border-collapse:collapse;margin:8px 0 18px;width:100%;font-size:13px}\n\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\n\
th{background:#eef2f8}\n\
tr:nth-child(even) td{background:#fafafa}\n\
dl.answer{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;background:#f4f7fb;border:1px solid #c9d5e8;border-radius:6px;padding:14px 18px;margin:0}\n\
dl.answer dt{font-weight:bold}\n\
dl.answer dd{margin:0}\n\
figure{margin:18px 0 26px;break-inside:avoid;page-break-inside:avoid}\n\
figure svg{display:block;width:100%;height:auto;border:1px solid #e2e2e2}\n\
figcaption{font-size:13px;color:#444;margin-top:6px}\n\
code{font-size:12px;background:#f2f2f2;padding:0 3px}\n\
ul.warnings li{margin-bottom:4px}\n\
@media print{body{max-width:none;padding:0;font-size:11pt}h2{break-after:avoid;page-break-after:avoid}table{font-size:9pt}tr{break-inside:avoid;page-break-inside:avoid}figure svg{border:none}a{color:inherit;text-decoration:none}}\n";

/// The SVG text to put inside the page: the `<svg ...>` element only, labelled.
fn inline_svg(svg: &str, alt: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let body = svg[start..].trim_end();
    body.replacen(
        "<svg",
        &format!("<svg role=\"img\" aria-label=\"{}\"", esc(alt)),
        1,
    )
}

/// The report as one self-contained HTML page; `svgs` maps chart stems to SVG text.
pub fn html(p: &Plan, svgs: &[(&str, String)]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        esc(&format!("Training plan: {}", p.est.scenario))
    );
    for b in blocks(p) {
        match b {
            Block::H1(t) => {
                let _ = writeln!(out, "<h1>{}</h1>", esc(&t));
            }
            Block::H2(t) => {
                let _ = writeln!(out, "<h2>{}</h2>", esc(&t));
            }
            Block::Para(t) => {
                let _ = writeln!(out, "<p>{}</p>", inline(&t));
            }
            Block::Facts(f) => {
                out.push_str("<dl class=\"answer\">\n");
                for (k, v) in f {
                    let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(&k), inline(&v));
                }
                out.push_str("</dl>\n");
            }
            Block::List(items) => {
                out.push_str("<ul class=\"warnings\">\n");
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", inline(&one_line(&i)));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(h, rows) => {
                out.push_str("<table>\n<thead><tr>");
                for c in &h {
                    let _ = write!(out, "<th>{}</th>", inline(c));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for c in &r {
                        let _ = write!(out, "<td>{}</td>", inline(&one_line(c)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
            Block::Figure(stem, caption) => {
                let alt = CHARTS.iter().find(|c| c.0 == stem).map_or(stem, |c| c.1);
                if let Some((_, svg)) = svgs.iter().find(|(s, _)| *s == stem) {
                    let _ = writeln!(
                        out,
                        "<figure id=\"chart-{stem}\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
                        inline_svg(svg, alt),
                        inline(&caption)
                    );
                }
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The search's layouts as CSV (this plan's first), with the step split.
pub fn layouts_csv(p: &Plan) -> String {
    let mut out = String::from(
        "rank,gpus,gpus_used,tp,pp,dp,ep,cp,vpp,micro_batch,microbatches,global_batch_seqs,sequence_parallel,recompute,zero,schedule,step_s,compute_s,bubble_s,exposed_comm_s,other_s,mfu,days,usd,memory_peak_gib,memory_capacity_gib\n",
    );
    for c in &p.compared {
        let e = &c.est;
        let l = &e.layout;
        let bar = bar_of(c);
        let rank = if c.ranked.is_some() {
            c.tag.trim_start_matches("search #").to_string()
        } else {
            "plan".to_string()
        };
        let _ = writeln!(
            out,
            "{rank},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4},{:.2},{:.3},{:.3}",
            e.gpus_requested,
            e.gpus,
            l.tp,
            l.pp,
            l.dp,
            l.ep,
            l.cp,
            l.vpp,
            l.micro_batch,
            l.microbatches,
            l.global_batch_seqs,
            l.sequence_parallel,
            search::recompute_name(l.recompute),
            l.zero,
            l.schedule,
            e.time.step_s,
            bar.compute_s,
            bar.bubble_s,
            bar.comm_s,
            bar.other_s,
            e.mfu,
            e.time.days,
            e.cost.usd,
            e.memory.peak_bytes / GIB,
            e.memory.capacity_bytes / GIB
        );
    }
    out
}

/// Published runs against predictions, one row each.
pub fn validation_csv(r: &validate::Report) -> String {
    let mut out = String::from("row_id,group,quantity,published,predicted,error_pct\n");
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    for x in &r.predictions {
        let _ = writeln!(
            out,
            "{},{},{},{},{:.6},{:.2}",
            q(&x.row_id),
            q(&x.group),
            q(x.quantity),
            x.published,
            x.predicted,
            x.error_pct
        );
    }
    out
}

/// Writes the report into `dir` and returns the files written, in order. `dir` must
/// not exist or be empty unless `force`; every file goes to a temporary name first.
pub fn write(p: &Plan, dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
    let werr = |e: std::io::Error| Error::Write {
        path: dir.display().to_string(),
        source: e,
    };
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir).map_err(werr)?.next().is_some();
        if non_empty && !force {
            return Err(Error::Usage(format!(
                "{}: already exists and is not empty; pass --force to overwrite",
                dir.display()
            )));
        }
    } else {
        std::fs::create_dir_all(dir).map_err(werr)?;
    }
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(name);
        write_atomic(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    put("summary.json", super::estimate_json(&p.est).as_bytes())?;
    put("layouts.csv", layouts_csv(p).as_bytes())?;
    if let Some(v) = &p.validation {
        put("validation.csv", validation_csv(v).as_bytes())?;
    }

    // Charts: each as SVG (kept for the page) and PNG.
    let mut svgs: Vec<(&str, String)> = Vec::new();
    let mut chart_files = Vec::new();
    if let Some(r) = &p.sim {
        for ext in ["svg", "png"] {
            let path = dir.join(format!("timeline.{ext}"));
            gantt::write(r, &short_name(&p.est.scenario), &path)?;
            chart_files.push(path);
        }
        svgs.push(("timeline", compact_file(&dir.join("timeline.svg"))?));
    }
    let mem = memory_chart(p);
    let lay = layouts_chart(p);
    let tor = tornado_chart(p);
    svgs.push(("memory", own_chart(&mem, dir, "memory", &mut chart_files)?));
    svgs.push((
        "layouts",
        own_chart(&lay, dir, "layouts", &mut chart_files)?,
    ));
    for ext in ["svg", "png"] {
        let path = dir.join(format!("sweep.{ext}"));
        search::chart::write(&p.sweep, &path)?;
        chart_files.push(path);
    }
    svgs.push(("sweep", compact_file(&dir.join("sweep.svg"))?));
    svgs.push((
        "sensitivity",
        own_chart(&tor, dir, "sensitivity", &mut chart_files)?,
    ));

    if let Some(v) = &p.validation {
        let c = validation_chart(v);
        svgs.push((
            "validation",
            own_chart(&c, dir, "validation", &mut chart_files)?,
        ));
    }

    put("report.md", markdown(p).as_bytes())?;
    put("report.html", html(p, &svgs).as_bytes())?;
    written.extend(chart_files);
    Ok(written)
}

/// Predicted over published step time per row (headline quantities; rates inverted so
/// every dot reads the same way: above 1 = predicted slower), grouped by source.
pub fn validation_chart(v: &validate::Report) -> crate::charts::validation::ValidationChart {
    crate::charts::validation::ValidationChart {
        title: "llmplan against published training runs: predicted / published step time".into(),
        points: v
            .predictions
            .iter()
            .filter(|p| p.headline)
            .map(|p| crate::charts::validation::Point {
                group: p.group.clone(),
                published: 1.0,
                predicted: 1.0 + p.time_error_pct / 100.0,
            })
            .collect(),
    }
}

fn own_chart<C: Chart>(c: &C, dir: &Path, stem: &str, files: &mut Vec<PathBuf>) -> Result<String> {
    let svg = canvas::compact_svg(&canvas::svg(c)?);
    let path = dir.join(format!("{stem}.svg"));
    write_atomic(&path, svg.as_bytes())?;
    files.push(path);
    let png = dir.join(format!("{stem}.png"));
    canvas::write(c, &png)?;
    files.push(png);
    Ok(svg)
}

/// Rewrites an SVG another module drew in the compact form; returns the text.
fn compact_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Write {
        path: path.display().to_string(),
        source: e,
    })?;
    let small = canvas::compact_svg(&text);
    write_atomic(path, small.as_bytes())?;
    Ok(small)
}

/// Builds and writes the report of the scenario `spec` (a path or built-in name, with
/// `--set` overrides) into `dir`.
pub fn generate(
    spec: Option<&str>,
    overrides: &[String],
    dir: &Path,
    opts: &PlanOptions,
    force: bool,
) -> Result<Vec<PathBuf>> {
    let sc = crate::spec::scenario::load(spec, overrides)?;
    let plan = build(&sc, opts)?;
    write(&plan, dir, force)
}
