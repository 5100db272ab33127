//! Layout search: enumerate every layout of a scenario on one or more GPU counts,
//! prune by the layout rules and by memory, rank by time, cost or tokens per dollar;
//! side-by-side comparison of layouts; sweeps over GPU counts and types with the
//! Pareto frontier of (days, dollars).
//!
//! - [`space`]: the values each knob takes and `--fix`;
//! - [`rules`]: `resolve`'s rules without allocation, and the rejection reasons;
//! - [`fast`]: the analytic model's ranking numbers, ~100x faster than `evaluate`;
//! - [`search`] (here): the parallel enumeration (rayon) and the top-k;
//! - [`compare`]: full estimates side by side with the difference explained;
//! - [`sweep`]: best layout per GPU count and type, Pareto frontier (its chart is `charts::sweep`).
//!
//! Determinism: results are ranked by the objective and then by the layout itself,
//! so the same inputs give the same output whatever the thread count.

pub mod compare;
pub mod fast;

mod baseline;
mod key;
mod rank;
/// The layout rules live with the layout (`spec::rules`): `resolve` runs them too.
pub use crate::spec::rules;
pub use baseline::{full_estimate, price_own_layout, retime_with_sim, scenario_for};
pub use key::{recompute_name, LayoutKey};
pub mod space;
pub mod sweep;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::analytic::compute::KernelModel;
use crate::error::{Error, Result};
use crate::spec::layout::{balanced_split, ResolvedLayout, Schedule};
use crate::spec::training::Recompute;
use crate::spec::Scenario;

use baseline::baseline;
use fast::{Env, Eval, Scratch};
use rank::Acc;
use rules::{Reason, RuleCtx};
use space::{InnerKey, Outer, Space, SpaceLimits};

/// What "best" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Fewest training days (wall clock).
    #[default]
    Time,
    /// Shortest optimizer step (ignores batch rounding; `time` is usually what you want).
    Step,
    /// Fewest dollars.
    Cost,
    /// Most training tokens per dollar (the same order as `cost` for a fixed token
    /// budget; reported as tokens/$).
    TokensPerDollar,
}

impl Objective {
    /// Parses `time|days|step|cost|usd|dollars|tokens-per-dollar`.
    pub fn parse(s: &str) -> Result<Objective> {
        Ok(match s {
            "time" | "days" => Objective::Time,
            "step" | "step-time" => Objective::Step,
            "cost" | "usd" | "dollars" => Objective::Cost,
            "tokens-per-dollar" | "tokens/$" => Objective::TokensPerDollar,
            _ => {
                return Err(Error::Usage(format!(
                    "objective '{s}': expected time, step, cost or tokens-per-dollar"
                )))
            }
        })
    }

    /// Name as accepted on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Time => "time",
            Objective::Step => "step",
            Objective::Cost => "cost",
            Objective::TokensPerDollar => "tokens-per-dollar",
        }
    }

    /// (primary, secondary) to minimise.
    fn score(self, e: &Eval, tokens: f64) -> (f64, f64) {
        match self {
            Objective::Time => (e.days, e.usd),
            Objective::Step => (e.step_s, e.days),
            Objective::Cost => (e.usd, e.days),
            Objective::TokensPerDollar => (-(tokens / e.usd), e.days),
        }
    }
}

/// One ranked layout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// The layout.
    pub layout: LayoutKey,
    /// GPUs requested (the search's count).
    pub gpus: u64,
    /// GPUs the layout occupies.
    pub gpus_used: u64,
    /// Micro-batches per step.
    pub microbatches: u32,
    /// Global batch used, sequences.
    pub global_batch_seqs: u64,
    /// Seconds per step (analytic).
    pub step_s: f64,
    /// Model FLOPs utilisation.
    pub mfu: f64,
    /// Training days.
    pub days: f64,
    /// US dollars.
    pub usd: f64,
    /// Training tokens per dollar.
    pub tokens_per_usd: f64,
    /// Peak memory per GPU, bytes.
    pub memory_peak_bytes: f64,
    /// GPU memory, bytes.
    pub memory_capacity_bytes: f64,
    /// Step time re-timed by the discrete-event simulator, seconds (when available).
    pub sim_step_s: Option<f64>,
    /// Why the simulator could not re-time it (it has stricter schedule rules than the
    /// closed forms, e.g. DualPipe's even micro-batch count of at least 2 x pp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_error: Option<String>,
    score: (f64, f64),
}

impl Ranked {
    fn cmp_rank(&self, o: &Ranked) -> std::cmp::Ordering {
        self.score
            .0
            .total_cmp(&o.score.0)
            .then(self.score.1.total_cmp(&o.score.1))
            .then(self.gpus.cmp(&o.gpus))
            .then_with(|| self.layout.order().cmp(&o.layout.order()))
    }
}

/// Search settings.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// GPU counts to search (one or many).
    pub gpus: Vec<u64>,
    /// Ranking.
    pub objective: Objective,
    /// How many to keep.
    pub top: usize,
    /// Fraction of GPU memory kept free (0.1 = layouts must fit in 90%).
    pub headroom: f64,
    /// Limits of the default space.
    pub limits: SpaceLimits,
    /// `--fix` constraints, `key=value`.
    pub fixes: Vec<String>,
    /// Re-time the best this many with the simulator (when it exists).
    pub sim_top: usize,
    /// Largest relative difference between the global batch a layout uses (rounded to
    /// whole micro-batches per replica) and the one the scenario asks for; beyond it
    /// the layout would train a different run (0.1 = 10%).
    pub batch_tolerance: f64,
}

impl SearchOptions {
    /// Defaults for `sc`: its GPU count, time objective, top 5, 10% headroom.
    pub fn for_scenario(sc: &Scenario) -> Self {
        SearchOptions {
            gpus: vec![sc.gpus],
            objective: Objective::Time,
            top: 5,
            headroom: 0.1,
            limits: SpaceLimits::default(),
            fixes: Vec::new(),
            sim_top: 5,
            batch_tolerance: 0.1,
        }
    }
}

/// The scenario's own layout, placed in the ranking.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// Its numbers, when it fits and passes the rules.
    pub ranked: Option<Ranked>,
    /// 1-based rank among the feasible layouts (ties go to the searched layouts).
    pub rank: Option<u64>,
    /// Why it was rejected, when it was.
    pub rejected: Option<String>,
    /// Whether the enumerated space contains it (else `--fix` excluded it).
    pub in_space: bool,
}

/// What a search found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Layouts enumerated (evaluated + rejected by a rule).
    pub enumerated: u64,
    /// Layouts the cost model ran on (passed every rule; includes those over memory).
    pub evaluated: u64,
    /// Layouts that fit in memory (ranked).
    pub feasible: u64,
    /// Rejections by reason (rules and memory), in check order.
    pub rejected: Vec<(Reason, u64)>,
    /// Wall time of the search, seconds.
    pub elapsed_s: f64,
    /// Best first.
    pub results: Vec<Ranked>,
    /// The scenario's layout (single GPU count only).
    pub baseline: Option<Baseline>,
    /// Objective used.
    pub objective: Objective,
    /// GPU counts searched.
    pub gpus: Vec<u64>,
    /// Whether the simulator re-timed the results.
    pub simulated: bool,
    /// What the search decided about its own space, in words.
    pub notes: Vec<String>,
}

impl Outcome {
    /// Rejections as `{reason key: count}` (only reasons that occurred).
    pub fn rejected_map(&self) -> BTreeMap<&'static str, u64> {
        self.rejected.iter().map(|(r, n)| (r.key(), *n)).collect()
    }
}

/// One scenario variant per recompute policy (recompute lives in the training run).
struct Variant {
    recompute: Recompute,
    sc: Scenario,
}

/// Progress callback: (inner combinations done, total).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Searches the layouts of `sc` on each of `opts.gpus`.
pub fn search(sc: &Scenario, opts: &SearchOptions, progress: Option<Progress>) -> Result<Outcome> {
    let start = Instant::now();
    // The kernel model `estimate` uses for this scenario on each count (its layout's
    // comm_sms reserved, its chips in lockstep): every searched layout keeps the
    // scenario's overlap settings.
    let by_count: Vec<crate::calibrate::Kernels> = opts
        .gpus
        .iter()
        .map(|&g| crate::calibrate::kernel_model_on(sc, g))
        .collect();
    let (space, notes) = space_for(sc, opts, &by_count)?;
    // space_for refuses an empty list of counts: the first count's model exists.
    let kernels: &(dyn KernelModel + Sync) = &by_count[0];
    let variants: Vec<Variant> = space
        .recompute
        .iter()
        .map(|&r| {
            let mut v = sc.clone();
            v.training.recompute = r;
            v.reliability.enabled = false;
            Variant {
                recompute: r,
                sc: v,
            }
        })
        .collect();
    // envs[count][variant]
    let envs: Vec<Vec<Env>> = by_count
        .iter()
        .map(|k| {
            variants
                .iter()
                .map(|v| Env::new(&v.sc, k, opts.headroom))
                .collect()
        })
        .collect();
    let rctx = RuleCtx::new(&sc.model, &sc.training);
    let outer = space.outer();
    let inner = space.inner();
    let work: Vec<(usize, u64, InnerKey)> = opts
        .gpus
        .iter()
        .enumerate()
        .flat_map(|(ci, &g)| inner.iter().map(move |k| (ci, g, *k)))
        .collect();

    // The scenario's own layout: evaluated first so the search can count what beats it.
    let baseline = if opts.gpus.len() == 1 {
        Some(baseline(sc, Some(&space), kernels, opts))
    } else {
        None
    };
    let base_score = baseline.as_ref().and_then(|b| b.ranked.as_ref()).cloned();

    let done = AtomicU64::new(0);
    let total = work.len() as u64;
    let k = opts.top;
    let acc = work
        .par_iter()
        .fold(
            || (Acc::new(), Scratch::default(), None::<ResolvedLayout>),
            |(mut acc, mut scratch, rl), &(ci, gpus, key)| {
                let vi = variants
                    .iter()
                    .position(|v| v.recompute == key.recompute)
                    .expect("variant per recompute");
                let env = &envs[ci][vi];
                let mut rl = rl.unwrap_or_else(|| blank_layout(sc));
                run_inner(
                    env,
                    &rctx,
                    gpus,
                    key,
                    &outer,
                    &mut rl,
                    &mut scratch,
                    &mut acc,
                    opts.objective,
                    k,
                    base_score.as_ref(),
                    opts.batch_tolerance,
                );
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(p) = progress {
                    p(d, total);
                }
                (acc, scratch, Some(rl))
            },
        )
        .map(|(a, _, _)| a)
        .reduce(Acc::new, |a, b| a.merge(b, k));

    Ok(outcome(sc, opts, acc, baseline, notes, start))
}

/// The outcome from the merged accumulator: the best layouts (the first
/// `opts.sim_top` re-timed by the simulator), rejections, the baseline's rank.
fn outcome(
    sc: &Scenario,
    opts: &SearchOptions,
    acc: Acc,
    baseline: Option<Baseline>,
    notes: Vec<String>,
    start: Instant,
) -> Outcome {
    let counts = acc.counts;
    let better_than_baseline = acc.better_than_baseline;
    let (evaluated, feasible) = (acc.evaluated, acc.feasible);
    let mut results = acc.into_best_first();
    let n_sim = opts.sim_top.min(results.len());
    let simulated = retime_with_sim(sc, &mut results[..n_sim]);
    let mut baseline = baseline;
    if simulated {
        if let Some(r) = baseline.as_mut().and_then(|b| b.ranked.as_mut()) {
            retime_with_sim(sc, std::slice::from_mut(r));
        }
    }
    let rejected: Vec<(Reason, u64)> = Reason::ALL
        .iter()
        .map(|&r| (r, counts[r.index()]))
        .filter(|&(_, n)| n > 0)
        .collect();
    let rule_rejected: u64 = rejected
        .iter()
        .filter(|(r, _)| *r != Reason::Memory)
        .map(|(_, n)| n)
        .sum();
    let baseline = baseline.map(|mut b| {
        // Outside the searched space and beaten by nothing because nothing was found,
        // it has no rank to state (it used to read "#1" with 0 layouts found).
        if b.ranked.is_some() && (b.in_space || feasible > 0) {
            b.rank = Some(better_than_baseline + 1);
        }
        b
    });
    Outcome {
        enumerated: evaluated + rule_rejected,
        evaluated,
        feasible,
        rejected,
        elapsed_s: start.elapsed().as_secs_f64(),
        results,
        baseline,
        objective: opts.objective,
        gpus: opts.gpus.clone(),
        simulated,
        notes,
    }
}

/// The space to search for `opts` (its options checked, its fixes applied) and the
/// notes on what it leaves out; `by_count` holds the kernel model of each of
/// `opts.gpus` (the first prices the selective-recompute check).
fn space_for(
    sc: &Scenario,
    opts: &SearchOptions,
    by_count: &[crate::calibrate::Kernels],
) -> Result<(Space, Vec<String>)> {
    if !(0.0..1.0).contains(&opts.headroom) {
        return Err(Error::Usage(format!(
            "--headroom {}: must be in [0, 1)",
            opts.headroom
        )));
    }
    if opts.batch_tolerance.is_nan() || opts.batch_tolerance < 0.0 {
        return Err(Error::Usage(format!(
            "--batch-tolerance {}: must be at least 0",
            opts.batch_tolerance
        )));
    }
    let Some(kernels) = by_count.first() else {
        return Err(Error::Usage("no GPU count to search".into()));
    };
    let mut space = Space::default_for(sc, &opts.limits);
    for f in &opts.fixes {
        space.fix(f)?;
    }
    let mut notes = space_notes(&space);
    let recompute_fixed = opts.fixes.iter().any(|f| f.contains("recompute"));
    if !recompute_fixed
        && space.recompute.contains(&Recompute::Selective)
        && space.recompute.contains(&Recompute::None)
        && selective_is_none(sc, kernels)
    {
        space.recompute.retain(|&r| r != Recompute::Selective);
        notes.push(
            "recompute selective costs the same as none here (flash attention already drops the score \
             matrix and no other module is recomputed): searched once, as none"
                .to_string(),
        );
    }
    Ok((space, notes))
}

/// What the space's pairing rules left out, in words (see [`Space::pairs`]).
fn space_notes(space: &Space) -> Vec<String> {
    let mut notes = Vec::new();
    if space.uneven_chunks {
        notes.push(
            "virtual stages with unequal chunks searched by request (--uneven-chunks): stock Megatron-LM \
             needs layers / (pp x vpp) whole and does not run them"
                .to_string(),
        );
    }
    if space.free_pairing {
        return notes;
    }
    if space.pp.contains(&1) && space.schedule.len() > 1 {
        notes.push(
            "pp 1 searched with 1f1b only: without a pipeline every schedule runs the same single stage"
                .to_string(),
        );
    }
    if !space.uneven_chunks && space.vpp.iter().any(|&v| v > 1) {
        notes.push(
            "vpp limited to equal chunks (layers / (pp x vpp) whole, as Megatron-LM needs); \
             --uneven-chunks also searches the others"
                .to_string(),
        );
    }
    notes
}

/// Whether selective recomputation costs exactly what no recomputation costs for this
/// scenario (flash attention and only the attention core selected): then searching
/// both only duplicates every layout.
fn selective_is_none(sc: &Scenario, kernels: &(dyn KernelModel + Sync)) -> bool {
    let mut a = sc.clone();
    a.training.recompute = Recompute::Selective;
    let mut b = sc.clone();
    b.training.recompute = Recompute::None;
    let rl = blank_layout(sc);
    let (ea, eb) = (Env::new(&a, kernels, 0.0), Env::new(&b, kernels, 0.0));
    // Probe a few inner shapes.
    [(1u32, 1u32), (8, 1), (2, 2)].iter().all(|&(tp, cp)| {
        let mut r = rl.clone();
        r.tp = tp;
        r.etp = tp;
        r.cp = if sc.training.seq_len.is_multiple_of(u64::from(cp)) {
            cp
        } else {
            1
        };
        r.sequence_parallel = tp > 1;
        ea.inner(&r).same_as(&eb.inner(&r))
    })
}

/// A resolved layout to be filled in place.
fn blank_layout(sc: &Scenario) -> ResolvedLayout {
    ResolvedLayout {
        tp: 1,
        pp: 1,
        dp: 1,
        ep: 1,
        etp: 1,
        cp: 1,
        vpp: 1,
        micro_batch: 1,
        microbatches: 1,
        global_batch_seqs: 1,
        sequence_parallel: false,
        zero: 1,
        schedule: Schedule::OneFOneB,
        layers_per_stage: Vec::with_capacity(sc.model.layers as usize),
        overlap: sc.layout.overlap,
        gpus_used: 1,
        rank_order: sc.layout.rank_order,
    }
}

#[allow(clippy::too_many_arguments)]
fn run_inner(
    env: &Env,
    rctx: &RuleCtx,
    gpus: u64,
    key: InnerKey,
    outer: &[Outer],
    rl: &mut ResolvedLayout,
    scratch: &mut Scratch,
    acc: &mut Acc,
    objective: Objective,
    k: usize,
    base: Option<&Ranked>,
    batch_tolerance: f64,
) {
    if let Err(r) = rules::check_inner(rctx, key.tp, key.ep, key.etp, key.cp) {
        acc.counts[r.index()] += outer.len() as u64;
        return;
    }
    rl.tp = key.tp;
    rl.ep = key.ep;
    rl.etp = key.etp;
    rl.cp = key.cp;
    rl.micro_batch = key.micro_batch;
    rl.sequence_parallel = key.sp;
    let inn = env.inner(rl);
    let tokens = env.sc.training.tokens;
    let capacity = env.sc.gpu.memory_bytes;
    let layers = env.sc.model.layers;
    for o in outer {
        let shape = match rules::check_outer(
            rctx,
            gpus,
            key.tp,
            key.ep,
            key.etp,
            key.cp,
            o.pp,
            o.vpp,
            key.micro_batch,
            o.schedule,
            o.dp,
        ) {
            Ok(s) => s,
            Err(r) => {
                acc.counts[r.index()] += 1;
                continue;
            }
        };
        if (shape.global_batch_seqs as f64 - rctx.requested_seqs).abs()
            > batch_tolerance * rctx.requested_seqs
        {
            acc.counts[Reason::BatchDrift.index()] += 1;
            continue;
        }
        if rl.pp != o.pp || rl.layers_per_stage.is_empty() {
            rl.layers_per_stage.clear();
            rl.layers_per_stage.extend(balanced_split(layers, o.pp));
        }
        rl.pp = o.pp;
        rl.vpp = o.vpp;
        rl.schedule = o.schedule;
        rl.zero = o.zero;
        rl.dp = shape.dp;
        rl.microbatches = shape.microbatches;
        rl.global_batch_seqs = shape.global_batch_seqs;
        rl.gpus_used = shape.gpus_used;
        acc.evaluated += 1;
        match env.eval(&inn, rl, gpus, scratch) {
            Ok(e) => {
                acc.feasible += 1;
                let score = objective.score(&e, tokens);
                let r = ranked(rl, key.recompute, gpus, &e, tokens, capacity, score);
                if let Some(b) = base {
                    if r.cmp_rank(b) == std::cmp::Ordering::Less && r.layout != b.layout {
                        acc.better_than_baseline += 1;
                    }
                }
                acc.push(r, k);
            }
            Err(r) => acc.counts[r.index()] += 1,
        }
    }
}

fn ranked(
    rl: &ResolvedLayout,
    recompute: Recompute,
    gpus: u64,
    e: &Eval,
    tokens: f64,
    capacity: f64,
    score: (f64, f64),
) -> Ranked {
    Ranked {
        layout: LayoutKey {
            tp: rl.tp,
            pp: rl.pp,
            dp: rl.dp,
            ep: rl.ep,
            etp: rl.etp,
            cp: rl.cp,
            vpp: rl.vpp,
            micro_batch: rl.micro_batch,
            recompute,
            zero: rl.zero,
            schedule: rl.schedule,
            sequence_parallel: rl.sequence_parallel,
        },
        gpus,
        gpus_used: rl.gpus_used,
        microbatches: rl.microbatches,
        global_batch_seqs: rl.global_batch_seqs,
        step_s: e.step_s,
        mfu: e.mfu,
        days: e.days,
        usd: e.usd,
        tokens_per_usd: tokens / e.usd,
        memory_peak_bytes: e.memory_peak_bytes,
        memory_capacity_bytes: capacity,
        sim_step_s: None,
        sim_error: None,
        score,
    }
}
