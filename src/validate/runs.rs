//! `llmplan calibrate runs`: a team's measured step times set a small, named set of
//! cluster-level factors, each bounded; the physics stays in the model. Factors:
//! achieved network efficiency of the scale-up (NVLink) and scale-out (InfiniBand/RoCE)
//! tiers (the cluster profile's `efficiency`), the sustained clock of the GPUs under
//! their power cap (the GPU profile's `efficiency.sustained_clock`), and a fixed
//! per-step overhead (data loading, logging, launch gaps; the cluster profile's
//! `step_overhead_s`).
//!
//! The fit works on each run's step split into what each factor scales (compute and
//! pipeline bubble with the clock, TP and CP collectives with scale-up, DP, EP and
//! pipeline traffic with scale-out, the rest fixed), minimising the squared log error;
//! the before/after errors it reports come from the full model re-run with the fitted
//! profiles, and each run's leave-one-out error from factors fitted without it.

use serde::Serialize;

use crate::analytic::estimate::{evaluate, Estimate, EstimateOptions};
use crate::analytic::setup::Setup;
use crate::error::{Error, Result};
use crate::spec::{ClusterProfile, GpuProfile, Scenario};

/// One measured run: its scenario and the step time measured.
#[derive(Debug, Clone)]
pub struct Run {
    /// Identifier (row id or log name).
    pub id: String,
    /// The run as a scenario.
    pub scenario: Scenario,
    /// Measured seconds per optimizer step.
    pub measured_step_s: f64,
}

/// The fitted factors, relative to the profiles they start from (1 = unchanged) except
/// the overhead, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Factors {
    /// Scale-up achieved bandwidth over the profile's.
    pub scale_up: f64,
    /// Scale-out achieved bandwidth over the profile's.
    pub scale_out: f64,
    /// Sustained clock over the profile's (or its fit's).
    pub clock: f64,
    /// Per-step overhead, seconds.
    pub overhead_s: f64,
}

impl Factors {
    /// No change.
    pub const IDENTITY: Factors = Factors {
        scale_up: 1.0,
        scale_out: 1.0,
        clock: 1.0,
        overhead_s: 0.0,
    };
}

/// Bounds on each factor: efficiencies may not exceed line rate (absolute efficiency
/// 1.0) nor fall under 0.3 of it; the clock within 0.8-1.1 of the profile's; the
/// overhead 0-5 s.
pub fn bounds(c: &ClusterProfile) -> [(f64, f64); 4] {
    [
        (0.3 / c.scale_up.efficiency, 1.0 / c.scale_up.efficiency),
        (0.3 / c.scale_out.efficiency, 1.0 / c.scale_out.efficiency),
        (0.8, 1.1),
        (0.0, 5.0),
    ]
}

/// A run's step in the parts each factor scales, seconds.
#[derive(Debug, Clone, Copy)]
struct Terms {
    compute: f64,
    up: f64,
    out: f64,
    fixed: f64,
}

impl Terms {
    fn of(e: &Estimate) -> Self {
        let b = &e.time.breakdown;
        let compute = b.compute_s + b.bubble_s;
        let up = b.tp_comm_s + b.cp_comm_s;
        let out = b.dp_comm_s + b.ep_comm_s + b.p2p_s;
        Terms {
            compute,
            up,
            out,
            fixed: (e.time.step_s - compute - up - out).max(0.0),
        }
    }

    fn step(&self, f: &Factors) -> f64 {
        self.compute / f.clock
            + self.up / f.scale_up
            + self.out / f.scale_out
            + self.fixed
            + f.overhead_s
    }
}

/// The model's estimate of a scenario, as `llmplan estimate` computes it (without
/// failures: reliability is off in these scenarios).
fn estimate(sc: &Scenario) -> Result<Estimate> {
    let k = crate::calibrate::kernel_model_for(sc);
    let setup = Setup::resolve_on(sc, &k, sc.gpus)?;
    evaluate(&setup, &EstimateOptions::default())
}

/// Squared log error of the terms under `f`.
fn loss(t: &[(Terms, f64)], f: &Factors) -> f64 {
    t.iter().map(|(x, m)| (x.step(f) / m).ln().powi(2)).sum()
}

/// Coordinate descent with golden-section search on each factor inside its bounds;
/// deterministic. A factor whose terms are zero on every run stays at 1 (or 0 s).
fn fit_terms(t: &[(Terms, f64)], b: &[(f64, f64); 4]) -> Factors {
    let mut f = Factors::IDENTITY;
    let used = [
        t.iter().any(|(x, _)| x.up > 0.0),
        t.iter().any(|(x, _)| x.out > 0.0),
        true,
        true,
    ];
    let set = |f: &mut Factors, i: usize, v: f64| match i {
        0 => f.scale_up = v,
        1 => f.scale_out = v,
        2 => f.clock = v,
        _ => f.overhead_s = v,
    };
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        for i in 0..4 {
            if !used[i] {
                continue;
            }
            let (mut lo, mut hi) = b[i];
            let eval = |v: f64, f: &Factors| {
                let mut x = *f;
                set(&mut x, i, v);
                loss(t, &x)
            };
            for _ in 0..40 {
                let (a, c) = (hi - g * (hi - lo), lo + g * (hi - lo));
                if eval(a, &f) <= eval(c, &f) {
                    hi = c;
                } else {
                    lo = a;
                }
            }
            set(&mut f, i, (lo + hi) / 2.0);
        }
    }
    f
}

/// One run's errors, percent: before, after (the full model with the fitted profiles)
/// and leave-one-out (factors fitted without this run, first-order model).
#[derive(Debug, Clone, Serialize)]
pub struct RunError {
    /// Run identifier.
    pub id: String,
    /// Measured step, seconds.
    pub measured_step_s: f64,
    /// Model before calibration, seconds.
    pub before_step_s: f64,
    /// Model with the fitted profiles, seconds.
    pub after_step_s: f64,
    /// (before / measured - 1) x 100.
    pub before_error_pct: f64,
    /// (after / measured - 1) x 100.
    pub after_error_pct: f64,
    /// Leave-one-out prediction's error, percent.
    pub loo_error_pct: f64,
}

/// What `calibrate runs` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// Fitted factors.
    pub factors: Factors,
    /// Bounds each factor was held in, in the order scale-up, scale-out, clock,
    /// overhead.
    pub bounds: [(f64, f64); 4],
    /// Per run.
    pub runs: Vec<RunError>,
    /// Mean |error| before, after and leave-one-out, percent.
    pub mape_before: f64,
    /// See `mape_before`.
    pub mape_after: f64,
    /// See `mape_before`.
    pub mape_loo: f64,
    /// The calibrated cluster profile.
    pub cluster: ClusterProfile,
    /// The calibrated GPU profile.
    pub gpu: GpuProfile,
}

/// The profiles with `f` applied, named `name`.
pub fn profiles(sc: &Scenario, f: &Factors, name: &str) -> (ClusterProfile, GpuProfile) {
    let mut c = sc.cluster.clone();
    let mut g = sc.gpu.clone();
    // The GPU's own fit keeps its constants under a new name (its memory efficiency and
    // clock then come from the profile, so both are carried over explicitly).
    let fit = g.calibration.as_deref().and_then(crate::calibrate::builtin);
    if let Some(fit) = fit.filter(|x| x.gpu == g.name) {
        g.efficiency.memory = fit.memory_eff;
        g.efficiency.sustained_clock = fit.sustained_clock;
    }
    g.efficiency.sustained_clock *= f.clock;
    g.name = format!("{}-{name}", sc.gpu.name);
    g.sources.insert(
        "efficiency".into(),
        format!(
            "llmplan calibrate runs: sustained clock x {:.3} fitted to measured step times",
            f.clock
        ),
    );
    c.scale_up.efficiency *= f.scale_up;
    c.scale_out.efficiency *= f.scale_out;
    c.step_overhead_s = f.overhead_s;
    c.name = format!("{}-{name}", sc.cluster.name);
    c.gpu = g.name.clone();
    c.sources.insert(
        "scale_up".into(),
        format!(
            "llmplan calibrate runs: achieved efficiency x {:.3} fitted to measured step times",
            f.scale_up
        ),
    );
    c.sources.insert(
        "scale_out".into(),
        format!(
            "llmplan calibrate runs: achieved efficiency x {:.3} fitted to measured step times",
            f.scale_out
        ),
    );
    (c, g)
}

fn mape(x: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = x.map(f64::abs).collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Fits the factors to `runs` (all on one cluster and GPU type).
pub fn calibrate(runs: &[Run], name: &str) -> Result<Calibration> {
    let first = runs
        .first()
        .ok_or_else(|| Error::invalid("runs", "no run with a measured step time"))?;
    if let Some(r) = runs.iter().find(|r| {
        r.scenario.cluster.name != first.scenario.cluster.name
            || r.scenario.gpu.name != first.scenario.gpu.name
    }) {
        return Err(Error::invalid(
            "runs",
            format!(
                "{} runs on {} / {}, {} on {} / {}: calibrate one cluster at a time",
                r.id,
                r.scenario.cluster.name,
                r.scenario.gpu.name,
                first.id,
                first.scenario.cluster.name,
                first.scenario.gpu.name
            ),
        ));
    }
    let b = bounds(&first.scenario.cluster);
    let mut terms = Vec::new();
    let mut before = Vec::new();
    for r in runs {
        let e = estimate(&r.scenario)?;
        before.push(e.time.step_s);
        terms.push((Terms::of(&e), r.measured_step_s));
    }
    let f = fit_terms(&terms, &b);
    let (cluster, gpu) = profiles(&first.scenario, &f, name);
    let mut out = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let mut sc = r.scenario.clone();
        sc.cluster = cluster.clone();
        sc.gpu = gpu.clone();
        let after = estimate(&sc)?.time.step_s;
        let others: Vec<(Terms, f64)> = terms
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, t)| *t)
            .collect();
        let loo = if others.is_empty() {
            before[i]
        } else {
            terms[i].0.step(&fit_terms(&others, &b))
        };
        let m = r.measured_step_s;
        out.push(RunError {
            id: r.id.clone(),
            measured_step_s: m,
            before_step_s: before[i],
            after_step_s: after,
            before_error_pct: (before[i] / m - 1.0) * 100.0,
            after_error_pct: (after / m - 1.0) * 100.0,
            loo_error_pct: (loo / m - 1.0) * 100.0,
        });
    }
    Ok(Calibration {
        factors: f,
        bounds: b,
        mape_before: mape(out.iter().map(|x| x.before_error_pct)),
        mape_after: mape(out.iter().map(|x| x.after_error_pct)),
        mape_loo: mape(out.iter().map(|x| x.loo_error_pct)),
        runs: out,
        cluster,
        gpu,
    })
}

/// The runs of a published-format table: every row that builds and publishes an
/// iteration time, or a rate the step follows from (tokens/s per GPU; TFLOP/s on the
/// row's convention). Rows that cannot be used are returned with the reason.
pub fn runs_from_rows(rows: &[super::rows::Row]) -> (Vec<Run>, Vec<(String, String)>) {
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for row in rows {
        let built = match super::rows::build(row) {
            Ok(b) => b,
            Err(e) => {
                skipped.push((row.id().to_string(), e.to_string()));
                continue;
            }
        };
        let sc = built.scenario;
        let tokens = sc.training.global_batch_seqs.unwrap_or(0) as f64 * sc.training.seq_len as f64;
        let step = row.num("iteration_time_s").or_else(|| {
            row.num("tokens_per_s_per_gpu")
                .filter(|t| *t > 0.0)
                .map(|t| tokens / (t * sc.gpus as f64))
        });
        match step {
            Some(s) if s > 0.0 => runs.push(Run {
                id: row.id().to_string(),
                scenario: sc,
                measured_step_s: s,
            }),
            _ => skipped.push((
                row.id().to_string(),
                "no measured step: add iteration_time_s or tokens_per_s_per_gpu".into(),
            )),
        }
    }
    (runs, skipped)
}
