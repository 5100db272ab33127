//! Every published quantity of a row, predicted on the row's convention: times
//! directly, FLOP rates with the convention the source counts (convention.rs).

use super::convention::{self, Convention};
use super::rows::{Built, Row};
use super::Prediction;
use crate::analytic::comm::Comm;
use crate::analytic::estimate::{evaluate, Estimate, EstimateOptions};
use crate::analytic::layer::{layer_cost, LayerCtx};
use crate::analytic::setup::Setup;
use crate::calibrate::Kernels;
use crate::error::Result;
use crate::spec::layout::ResolvedLayout;

/// Columns llmplan predicts, in the order a row's headline is chosen.
pub const QUANTITIES: &[&str] = &[
    "iteration_time_s",
    "tflops_per_gpu",
    "mfu_pct",
    "tokens_per_s_per_gpu",
    "hfu_pct",
    "layer_fwd_ms",
    "layer_bwd_ms",
    "train_days",
    "gpu_hours",
];

/// Whether a quantity is a time (its error is the step time's) or a rate (inverse).
fn is_time(q: &str) -> bool {
    matches!(
        q,
        "iteration_time_s" | "layer_fwd_ms" | "layer_bwd_ms" | "train_days" | "gpu_hours"
    )
}

/// The row's estimate, with the resolved layout and kernel model it used (per-layer
/// rows read single layers from them).
fn estimate(b: &Built) -> Result<(Estimate, ResolvedLayout, Kernels)> {
    let k = crate::calibrate::kernel_model_for(&b.scenario);
    let setup = Setup::resolve_on(&b.scenario, &k, b.scenario.gpus)?;
    let e = evaluate(&setup, &EstimateOptions::default())?;
    Ok((e, setup.layout, k))
}

/// Predicts every quantity `row` publishes.
pub fn predict(row: &Row, b: &Built) -> Result<Vec<Prediction>> {
    let (e, rl, k) = estimate(b)?;
    let sc = &b.scenario;
    let derived: Vec<&str> = row
        .text("derived_fields")
        .split(';')
        .map(str::trim)
        .collect();
    let per_layer = row.text("row_type") == "per_layer_microbenchmark";
    let end_to_end = row.text("row_type") == "end_to_end_run";
    let s = sc.training.seq_len as f64;
    let gpus = e.gpus as f64;
    let bf16_peak = sc.gpu.peak_flops.half();
    let layer = || {
        let ctx = LayerCtx {
            model: &sc.model,
            layout: &rl,
            training: &sc.training,
        };
        let c = layer_cost(
            &ctx,
            0,
            &k,
            &Comm::for_layout(&sc.cluster, &rl).with_collective(sc.training.collective),
        );
        (c.fwd_s(&rl.overlap), c.bwd_s(&rl.overlap))
    };
    let mut out = Vec::new();
    for &q in QUANTITIES {
        let Some(published) = row.num(q) else {
            continue;
        };
        let conv = |q: &str| -> Result<Convention> {
            convention::for_row(row.text("source"), q, row.text("flops_convention"))
        };
        let (predicted, words): (f64, &'static str) = match q {
            "iteration_time_s" if per_layer => {
                let (f, b) = layer();
                (f + b, "one layer's forward and backward, s")
            }
            "iteration_time_s" => (e.time.step_s, "seconds per iteration"),
            "layer_fwd_ms" => (layer().0 * 1e3, "one layer's forward, ms"),
            "layer_bwd_ms" => (layer().1 * 1e3, "one layer's backward, ms"),
            "tflops_per_gpu" => {
                let c = conv(q)?;
                (
                    c.flops_per_step(&e, &sc.model, s) / (gpus * e.time.step_s) / 1e12,
                    c.describe(),
                )
            }
            "mfu_pct" | "hfu_pct" => {
                let c = conv(q)?;
                let f = c.flops_per_step(&e, &sc.model, s);
                (f / (gpus * e.time.step_s * bf16_peak) * 100.0, c.describe())
            }
            "tokens_per_s_per_gpu" => (
                e.layout.global_batch_seqs as f64 * s / (gpus * e.time.step_s),
                "tokens per second per GPU",
            ),
            "train_days" | "gpu_hours" => {
                let (days, words) = if end_to_end {
                    (with_failures(sc, &e), "for the row's tokens at the modelled step, with expected failures and restarts")
                } else {
                    (e.time.days, "for the row's tokens at the modelled step")
                };
                let v = if q == "train_days" {
                    days
                } else {
                    days * 24.0 * gpus
                };
                (v, words)
            }
            _ => continue,
        };
        if per_layer && !q.starts_with("layer") && q != "iteration_time_s" {
            continue;
        }
        let error_pct = (predicted / published - 1.0) * 100.0;
        let time_error_pct = if is_time(q) {
            error_pct
        } else {
            (published / predicted - 1.0) * 100.0
        };
        out.push(Prediction {
            row_id: row.id().to_string(),
            group: row.group().to_string(),
            quantity: q,
            published,
            predicted,
            error_pct,
            convention: words,
            derived: derived.contains(&q),
            time_error_pct,
            headline: false,
            row_type: row.text("row_type").to_string(),
            layout_searched: b.search_layout,
            regime: Some(crate::analytic::uncertainty::Regime::of(sc, e.gpus)),
            assumptions: b.assumptions.clone(),
        });
    }
    let head = out
        .iter()
        .position(|p| !p.derived)
        .or(if out.is_empty() { None } else { Some(0) });
    if let Some(i) = head {
        out[i].headline = true;
    }
    Ok(out)
}

/// Wall-clock days with the reliability model's expected failures and restarts (closed
/// form; a handful of Monte Carlo runs only to keep validation fast).
fn with_failures(sc: &crate::spec::Scenario, e: &Estimate) -> f64 {
    let mut f = sc.clone();
    f.reliability.enabled = true;
    f.reliability.mc_runs = f.reliability.mc_runs.min(16);
    let (rel, _) = crate::analytic::reliability::assess(&f, e);
    rel.map_or(e.time.days, |r| {
        r.gpu_hours_expected / (24.0 * e.gpus as f64)
    })
}

/// The additive quantities (`train_days`, `gpu_hours`) of a row of several phases,
/// `phases` built one per phase with what each is, in words (phases.rs): each phase's
/// days for its tokens at its own
/// modelled step (with expected failures for an end-to-end run), summed. A rate or a
/// step time has no single value across phases and is not predicted.
pub fn predict_phases(row: &Row, phases: &[(Built, String)]) -> Result<Vec<Prediction>> {
    let end_to_end = row.text("row_type") == "end_to_end_run";
    let (mut days, mut gpu_hours) = (0.0, 0.0);
    let mut assumptions: Vec<String> = Vec::new();
    let mut regime = None;
    for (b, said) in phases {
        let (e, _, _) =
            estimate(b).map_err(|e| crate::error::Error::invalid(said, e.to_string()))?;
        assumptions.push(said.clone());
        let d = if end_to_end {
            with_failures(&b.scenario, &e)
        } else {
            e.time.days
        };
        days += d;
        gpu_hours += d * 24.0 * e.gpus as f64;
        regime = regime.or(Some(crate::analytic::uncertainty::Regime::of(
            &b.scenario,
            e.gpus,
        )));
        for a in &b.assumptions {
            if !assumptions.contains(a) {
                assumptions.push(a.clone());
            }
        }
    }
    let derived: Vec<&str> = row
        .text("derived_fields")
        .split(';')
        .map(str::trim)
        .collect();
    let mut out = Vec::new();
    for (q, predicted) in [("train_days", days), ("gpu_hours", gpu_hours)] {
        let Some(published) = row.num(q) else {
            continue;
        };
        let error_pct = (predicted / published - 1.0) * 100.0;
        out.push(Prediction {
            row_id: row.id().to_string(),
            group: row.group().to_string(),
            quantity: q,
            published,
            predicted,
            error_pct,
            convention: "summed over the row's phases, each for its tokens at its modelled step",
            derived: derived.contains(&q),
            time_error_pct: error_pct,
            headline: false,
            row_type: row.text("row_type").to_string(),
            layout_searched: phases.iter().any(|(b, _)| b.search_layout),
            regime,
            assumptions: assumptions.clone(),
        });
    }
    let head = out
        .iter()
        .position(|p| !p.derived)
        .or((!out.is_empty()).then_some(0));
    if let Some(i) = head {
        out[i].headline = true;
    }
    Ok(out)
}
