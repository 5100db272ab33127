//! Planning reports: one directory with the answer, the assumptions, the charts and the
//! tables for a scenario (`llmplan report`).
//!
//! [`build`] computes everything (the estimate, the layout search, a coarse sweep over
//! GPU counts and types, a sensitivity analysis, a simulated step); [`write`] renders
//! `report.md`, a self-contained `report.html` (SVG charts inline, no scripts, no
//! external fonts), `summary.json`, `layouts.csv`, optionally `validation.csv`, and each
//! chart as SVG and PNG. The same inputs give the same bytes: no clocks, seeded
//! simulations, ordered output.
//!
//! This file holds the analyses (what a report computes); `answer`, `assumptions`,
//! `document` and `tables` build the document from a [`Plan`], `render` prints it as
//! Markdown and HTML, `charts` draws its charts and `files` writes the folder.

mod answer;
mod assumptions;
mod charts;
mod document;
mod files;
mod render;
mod tables;
mod text;

pub use crate::report::csv::validation_csv;
pub use charts::validation_chart;
pub use document::CHARTS;
pub use files::{generate, layouts_csv, write};
pub use render::{html, markdown};

use crate::analytic::{Estimate, EstimateOptions};
use crate::error::Result;
use crate::search::sweep::{self, Sweep, SweepOptions};
use crate::search::{self, Outcome, Ranked, SearchOptions};
use crate::sim::{self, Program, SimResult};
use crate::spec::Scenario;
use crate::validate;

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
    let mut est = crate::setup::estimate(sc, &EstimateOptions::default())?;
    // The answer's error band, as `estimate` prints it (from published runs of the regime).
    validate::band::attach(&mut est, sc);
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
            p.bf16 = p.bf16.map(|x| x * f);
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

impl Plan {
    fn search_headroom(&self) -> f64 {
        SearchOptions::for_scenario(&self.scenario).headroom
    }
}
