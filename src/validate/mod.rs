//! Validation against published training runs: each row of the published table is
//! predicted from its architecture, hardware and layout, on the source's own FLOP
//! convention, and compared with what the source measured.
//!
//! Conventions (data/published/README.md): Narayanan 2021 reports TFLOP/s counting
//! recomputation (its eq. 3); Korthikanti 2022 iteration times; Llama 3 MFU with 6N
//! FLOPs per token; end-to-end runs GPU-hours. Predictions come from the model and the
//! kernel calibration only; nothing here is fitted to the rows.

pub mod rows;

use serde::Serialize;

use crate::analytic::comm::Comm;
use crate::analytic::compute::KernelModel;
use crate::analytic::estimate::{evaluate, Estimate, EstimateOptions};
use crate::analytic::layer::{layer_cost, LayerCtx};
use crate::analytic::setup::Setup;
use crate::error::Result;
use crate::spec::layout::ResolvedLayout;
use rows::{build, Built, Row};

/// The published table shipped with llmplan (tests/data/published).
pub const PUBLISHED_CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/published/published_runs_public.csv"
));

/// Blackwell runs gathered for the 2026 hardware (tests/data/published): NVIDIA
/// Megatron-Bridge's published performance summary on DGX-GB300, DGX-GB200, DGX-B200.
pub const BLACKWELL_CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/published/blackwell_runs_public.csv"
));

/// NeMo 24.07's published performance summary (FP8 on H100), in the same columns.
pub const NEMO_CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/published/nemo_24_07_perf.csv"
));

/// NeMo's model FLOPs per step (its `flops_callback` formulas for the GPT-3, Llama and
/// Nemotron families, which are one formula in the model's dimensions): 6 x the
/// projection, MLP and output-layer parameters per token, plus the full, non-causal
/// attention score matrix, 12 s x (heads x head dim) per layer and token.
pub fn nemo_flops(m: &crate::spec::ModelSpec, batch: f64, s: f64) -> f64 {
    let (h, l, v) = (m.hidden as f64, m.layers as f64, m.vocab as f64);
    let q = m.heads as f64 * m.qk_head_dim() as f64;
    let kv = m.kv_heads() as f64 * m.qk_head_dim() as f64;
    let attn_proj = h * (2.0 * q + 2.0 * kv);
    let mlp = if m.gated_mlp { 3.0 } else { 2.0 } * h * m.ffn_hidden as f64;
    batch * s * (6.0 * l * (attn_proj + mlp) + 12.0 * l * s * q + 6.0 * v * h)
}

/// One predicted quantity of one row.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// Row identifier.
    pub row_id: String,
    /// Source group.
    pub group: String,
    /// What is compared (`tflops_per_gpu`, `iteration_time_s`, `mfu_pct`, ...).
    pub quantity: &'static str,
    /// The published figure.
    pub published: f64,
    /// llmplan's prediction on the same convention.
    pub predicted: f64,
    /// (predicted / published - 1) x 100.
    pub error_pct: f64,
    /// The convention used, in words.
    pub convention: &'static str,
    /// Assumptions made for what the row leaves out.
    pub assumptions: Vec<String>,
}

/// A row that could not be predicted, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Row identifier.
    pub row_id: String,
    /// Source group.
    pub group: String,
    /// Why.
    pub reason: String,
}

/// Mean absolute percentage error per group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    /// Source group.
    pub group: String,
    /// Predictions in the group.
    pub n: usize,
    /// Mean |error| in percent.
    pub mape: f64,
    /// The row with the largest |error|.
    pub worst_row: String,
    /// Its error in percent.
    pub worst_error_pct: f64,
}

/// Everything `llmplan validate` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// One entry per row and quantity.
    pub predictions: Vec<Prediction>,
    /// Rows not predicted.
    pub skipped: Vec<Skipped>,
    /// Per group.
    pub groups: Vec<GroupSummary>,
}

/// Narayanan et al. 2021, eq. 3: FLOPs per iteration counting the recomputed forward,
/// F = 96 B s l h^2 (1 + s / 6h + V / 16 l h).
fn narayanan_flops(b: f64, s: f64, l: f64, h: f64, v: f64) -> f64 {
    96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h))
}

/// A row-specific assumption: (row id, CSV cells replaced as (column, value), why).
type Documented = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// Row-specific assumptions for end-to-end runs whose layout sits in another row of
/// the same source.
const DOCUMENTED: &[Documented] = &[
    (
        "E2E-Llama-3.1-405B",
        &[("global_batch_seqs", "2048"), ("dp", ""), ("seq_len", "8192"), ("cp", "1")],
        "batch 16M tokens = 2048 sequences of 8K and DP 128 from Llama 3 Table 4 (the 16K-GPU row); all 15.6T tokens at the main stage's 8K sequence (the ~800B-token long-context stage and the batch ramp are not modelled apart)",
    ),
    (
        "E2E-DeepSeek-V3-pretrain",
        &[("global_batch_seqs", "15360")],
        "batch 15360 sequences (the value after the ramp over the first 469B tokens; the ramp is ignored)",
    ),
];

/// The row with its documented assumptions applied, and why (for rows whose layout sits
/// in another row of the same source).
pub fn apply_documented(row: &Row) -> (Row, Option<&'static str>) {
    let mut r = row.clone();
    for (id, sets, why) in DOCUMENTED {
        if row.id() == *id {
            for (k, v) in *sets {
                r.cells.insert((*k).to_string(), (*v).to_string());
            }
            return (r, Some(why));
        }
    }
    (r, None)
}

/// Predicts every row of `rows` (of `group` only, when given).
pub fn validate(rows: &[Row], group: Option<&str>) -> Report {
    let mut predictions = Vec::new();
    let mut skipped = Vec::new();
    for row in rows {
        if group.is_some_and(|g| !row.group().contains(g)) {
            continue;
        }
        let skip = |reason: String| Skipped {
            row_id: row.id().to_string(),
            group: row.group().to_string(),
            reason,
        };
        let (row2, why) = apply_documented(row);
        let built = match build(&row2) {
            Ok(mut b) => {
                if let Some(w) = why {
                    b.assumptions.push(w.to_string());
                }
                b
            }
            Err(e) => {
                skipped.push(skip(e.to_string()));
                continue;
            }
        };
        match predict(&row2, &built) {
            Ok(p) if p.is_empty() => {
                skipped.push(skip("no published quantity llmplan predicts".into()))
            }
            Ok(p) => predictions.extend(p),
            Err(e) => skipped.push(skip(e.to_string())),
        }
    }
    let groups = summarise(&predictions);
    Report {
        predictions,
        skipped,
        groups,
    }
}

/// The row's estimate, with the resolved layout it used.
fn estimate(b: &Built, kernels: &(dyn KernelModel + Sync)) -> Result<(Estimate, ResolvedLayout)> {
    let setup = Setup::resolve_on(&b.scenario, kernels, b.scenario.gpus)?;
    let e = evaluate(&setup, &EstimateOptions::default())?;
    Ok((e, setup.layout))
}

fn predict(row: &Row, b: &Built) -> Result<Vec<Prediction>> {
    // Per-layer rows read single layers with the same kernel model.
    let k = crate::calibrate::kernel_model_for(&b.scenario);
    let (e, rl) = estimate(b, &k)?;
    let sc = &b.scenario;
    let id = row.id();
    let mut out = Vec::new();
    let mut push =
        |quantity: &'static str, published: f64, predicted: f64, convention: &'static str| {
            out.push(Prediction {
                row_id: id.to_string(),
                group: row.group().to_string(),
                quantity,
                published,
                predicted,
                error_pct: (predicted / published - 1.0) * 100.0,
                convention,
                assumptions: b.assumptions.clone(),
            });
        };
    let m = &sc.model;
    let batch = e.layout.global_batch_seqs as f64;
    let s = sc.training.seq_len as f64;
    if id.starts_with("N21-T1") || id.starts_with("MLM") {
        if let Some(t) = row.num("tflops_per_gpu") {
            let f = narayanan_flops(batch, s, m.layers as f64, m.hidden as f64, m.vocab as f64);
            push(
                "tflops_per_gpu",
                t,
                f / (e.gpus as f64 * e.time.step_s) / 1e12,
                "Narayanan eq. 3 (recompute counted)",
            );
        }
        if let Some(t) = row.num("iteration_time_s") {
            push(
                "iteration_time_s",
                t,
                e.time.step_s,
                "seconds per iteration",
            );
        }
    } else if id.starts_with("NEMO") {
        if let Some(t) = row.num("tflops_per_gpu") {
            push(
                "tflops_per_gpu",
                t,
                nemo_flops(m, batch, s) / (e.gpus as f64 * e.time.step_s) / 1e12,
                "NeMo flops_callback (full non-causal attention, no recompute)",
            );
        }
    } else if id.starts_with("N21-EST") {
        if let Some(d) = row.num("train_days") {
            push(
                "train_days",
                d,
                e.time.days,
                "days for the row's tokens at the modelled step",
            );
        }
    } else if id.starts_with("K22-T4") {
        let ctx = LayerCtx {
            model: m,
            layout: &rl,
            training: &sc.training,
        };
        let c = layer_cost(&ctx, 0, &k, &Comm::new(&sc.cluster));
        if let Some(f) = row.num("layer_fwd_ms") {
            push(
                "layer_fwd_ms",
                f,
                c.fwd_s(&rl.overlap) * 1e3,
                "one layer's forward, ms",
            );
        }
        if let Some(bw) = row.num("layer_bwd_ms") {
            push(
                "layer_bwd_ms",
                bw,
                c.bwd_s(&rl.overlap) * 1e3,
                "one layer's backward, ms",
            );
        }
    } else if id.starts_with("K22") {
        if let Some(t) = row.num("iteration_time_s") {
            push(
                "iteration_time_s",
                t,
                e.time.step_s,
                "seconds per iteration",
            );
        }
    } else if id.starts_with("L3-T4") {
        if let Some(mfu) = row.num("mfu_pct") {
            // Llama 3's MFU counts attention: its 131K-sequence row (38%) is only
            // reachable if the quadratic attention FLOPs are in the numerator.
            push(
                "mfu_pct",
                mfu,
                e.mfu_with_attention * 100.0,
                "MFU with attention FLOPs (PaLM convention), BF16 peak",
            );
        }
    } else if id.starts_with("BW-") {
        // Tokens/s/GPU as the published quantity's inverse: no FLOP convention involved.
        if let Some(t) = row.num("iteration_time_s") {
            push(
                "iteration_time_s",
                t,
                e.time.step_s,
                "seconds per iteration (global batch tokens / published tokens/s)",
            );
        }
    } else if id.starts_with("E2E") {
        if let Some(t) = row.num("iteration_time_s") {
            push(
                "iteration_time_s",
                t,
                e.time.step_s,
                "seconds per iteration",
            );
        }
        if let Some(gh) = row.num("gpu_hours") {
            // Published GPU-hours include the time lost to failures and restarts; the
            // reliability model's expected figure carries them (closed form; a handful
            // of Monte Carlo runs only to keep validation fast).
            let mut with_failures = sc.clone();
            with_failures.reliability.enabled = true;
            with_failures.reliability.mc_runs = with_failures.reliability.mc_runs.min(16);
            let (rel, _) = crate::analytic::reliability::assess(&with_failures, &e);
            let predicted =
                rel.map_or(e.gpus as f64 * e.time.days * 24.0, |r| r.gpu_hours_expected);
            push(
                "gpu_hours",
                gh,
                predicted,
                "GPU-hours for the row's tokens at the modelled step, with expected failures and restarts",
            );
        }
    }
    Ok(out)
}

fn summarise(p: &[Prediction]) -> Vec<GroupSummary> {
    let mut groups: Vec<String> = Vec::new();
    for x in p {
        if !groups.contains(&x.group) {
            groups.push(x.group.clone());
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let rows: Vec<&Prediction> = p.iter().filter(|x| x.group == g).collect();
            let mape = rows.iter().map(|x| x.error_pct.abs()).sum::<f64>() / rows.len() as f64;
            let worst = rows
                .iter()
                .max_by(|a, b| a.error_pct.abs().total_cmp(&b.error_pct.abs()))
                .expect("a group has a row");
            GroupSummary {
                group: g,
                n: rows.len(),
                mape,
                worst_row: format!("{} {}", worst.row_id, worst.quantity),
                worst_error_pct: worst.error_pct,
            }
        })
        .collect()
}

/// Validates the shipped tables.
pub fn validate_builtin(group: Option<&str>) -> Result<Report> {
    let mut rows = rows::parse("published_runs_public.csv", PUBLISHED_CSV)?;
    rows.extend(rows::parse("blackwell_runs_public.csv", BLACKWELL_CSV)?);
    rows.extend(rows::parse("nemo_24_07_perf.csv", NEMO_CSV)?);
    Ok(validate(&rows, group))
}
