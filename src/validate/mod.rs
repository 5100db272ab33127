//! Validation against published training runs: each row of a published table (every
//! CSV under tests/data/published, or any table in the same columns) becomes a scenario
//! (rows.rs: model and GPU resolved by name, layout as published, the framework's recipe
//! from its cells), is estimated, and every published quantity is predicted on the
//! source's own FLOP convention (convention.rs) and compared.
//!
//! Predictions come from the model and the kernel calibration only; nothing here is
//! fitted to the rows, and nothing reads a row's group name or id prefix.

pub mod arch;
pub mod band;
pub mod config_text;
pub mod convention;
pub mod logs;
pub mod model_configs;
pub mod names;
pub mod phases;
mod predict;
pub mod recipe;
pub mod rows;
pub mod runs;

use serde::Serialize;

use crate::error::Result;
use rows::{build, Row};

/// Every published table shipped with llmplan (tests/data/published/*.csv, embedded
/// by build.rs): (file name, text), by name.
pub const PUBLISHED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/published.rs"));

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
    /// Whether the table marks the published figure as derived (`derived_fields`).
    pub derived: bool,
    /// Signed error of the step time this comparison implies, percent: the error itself
    /// for times, (published / predicted - 1) x 100 for rates.
    pub time_error_pct: f64,
    /// The row's headline comparison (its first published, not derived, quantity):
    /// the one error bands count.
    pub headline: bool,
    /// Row type as the table gives it.
    pub row_type: String,
    /// The row publishes no layout; llmplan's search chose it (left out of error bands,
    /// which measure the model given a layout).
    pub layout_searched: bool,
    /// The row's regime (dense/MoE, precision, GPU generation, scale).
    pub regime: Option<crate::analytic::uncertainty::Regime>,
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
    validate_with(rows, group, true)
}

/// [`validate`]; with `search` false, rows without a published layout are skipped
/// instead of searched (error bands need no search: they measure the model given a
/// layout, and a search per row costs seconds in a debug build).
pub fn validate_with(rows: &[Row], group: Option<&str>, search: bool) -> Report {
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
        if row.text("row_type").starts_with("rumor") {
            skipped.push(skip(
                "a rumoured figure, not a measurement (row_type rumor_estimate)".into(),
            ));
            continue;
        }
        let (row2, why) = apply_documented(row);
        match predict_row(&row2, why, search) {
            Ok(p) if p.is_empty() => skipped.push(skip(format!(
                "no published quantity llmplan predicts (add one of: {})",
                predict::QUANTITIES.join(", ")
            ))),
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

/// Every published quantity of `row` (with its documented assumption `why`): one
/// scenario, or one per phase for a row of several phases (phases.rs), whose GPU-hours
/// and days are summed.
fn predict_row(row: &Row, why: Option<&str>, search: bool) -> Result<Vec<Prediction>> {
    let built = |r: &Row| -> Result<rows::Built> {
        let mut b = searched(build(r)?, search)?;
        b.assumptions.extend(why.map(str::to_string));
        Ok(b)
    };
    match phases::split(row)? {
        None => predict::predict(row, &built(row)?),
        Some(parts) => {
            let mut all = Vec::with_capacity(parts.len());
            for (i, (r, said)) in parts.into_iter().enumerate() {
                let b = built(&r)
                    .and_then(|b| phase_layout(b, i + 1, search))
                    .map_err(|e| crate::error::Error::invalid(&said, e.to_string()))?;
                all.push((b, said));
            }
            predict::predict_phases(row, &all)
        }
    }
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

/// Phase `n` of a row of several phases, on the row's published layout when that layout
/// can run the phase's batch; else (a layout published for one phase, usually
/// pre-training, while the others, e.g. a context extension with its own batch and
/// sequence, publish none) on the layout the search finds, as for a row that publishes
/// no layout: said in the assumptions and marked searched (out of the error bands).
fn phase_layout(mut b: rows::Built, n: usize, search: bool) -> Result<rows::Built> {
    if b.search_layout {
        return Ok(b);
    }
    let k = crate::calibrate::kernel_model_for(&b.scenario);
    let Err(e) = crate::analytic::setup::Setup::resolve_on(&b.scenario, &k, b.scenario.gpus) else {
        return Ok(b);
    };
    if !search {
        return Err(e);
    }
    let batch = b
        .scenario
        .training
        .global_batch_seqs
        .map_or_else(|| "its".to_string(), |s| s.to_string());
    let (summary, feasible) = search_best(&mut b)?;
    b.search_layout = true;
    b.assumptions.push(format!(
        "phase {n}: published layout cannot run {batch} sequences ({e}); layout searched: the fastest of {feasible} feasible layouts: {summary}"
    ));
    Ok(b)
}

/// A row without a published layout gets the fastest layout llmplan's search finds on
/// its GPUs (the team presumably tuned theirs); the layout is named in its assumptions.
fn searched(mut b: rows::Built, search: bool) -> Result<rows::Built> {
    if !b.search_layout {
        return Ok(b);
    }
    if !search {
        return Err(crate::error::Error::invalid(
            "tp",
            "not published (add tp and pp; `llmplan validate` searches for a layout)",
        ));
    }
    let (summary, feasible) = search_best(&mut b)?;
    b.assumptions.push(format!(
        "layout not published: the fastest of {feasible} feasible layouts llmplan's search finds: {summary}"
    ));
    Ok(b)
}

/// Puts the fastest layout the search finds on the scenario's GPUs into `b`'s scenario;
/// returns it in words and how many layouts were feasible.
fn search_best(b: &mut rows::Built) -> Result<(String, u64)> {
    let mut o = crate::search::SearchOptions::for_scenario(&b.scenario);
    o.top = 1;
    o.sim_top = 0;
    let out = crate::search::search(&b.scenario, &o, None)?;
    let best = out.results.first().ok_or_else(|| {
        crate::error::Error::invalid(
            "tp",
            format!(
                "not published, and no layout the search tried fits on {} GPUs (add tp and pp)",
                b.scenario.gpus
            ),
        )
    })?;
    let summary = crate::report::layout::LayoutSummary::of_ranked(best).to_string();
    b.scenario = crate::search::scenario_for(&b.scenario, &best.layout, best.gpus);
    Ok((summary, out.feasible))
}

/// Every row of the shipped tables (tests/data/published/*.csv), in file order.
pub fn builtin_rows() -> Result<Vec<Row>> {
    let mut all = Vec::new();
    for (name, text) in PUBLISHED {
        all.extend(rows::parse(name, text)?);
    }
    Ok(all)
}

/// Validates the shipped tables.
pub fn validate_builtin(group: Option<&str>) -> Result<Report> {
    Ok(validate(&builtin_rows()?, group))
}
