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
//! - [`sweep`]: best layout per GPU count and type, Pareto frontier, CSV and chart.
//!
//! Determinism: results are ranked by the objective and then by the layout itself,
//! so the same inputs give the same output whatever the thread count.

pub mod chart;
pub mod compare;
pub mod fast;
/// The layout rules live with the layout (`spec::rules`): `resolve` runs them too.
pub use crate::spec::rules;
pub mod space;
pub mod sweep;

use std::collections::{BTreeMap, BinaryHeap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::analytic::compute::KernelModel;
use crate::analytic::{self, Estimate, EstimateOptions, Setup};
use crate::error::{Error, Result};
use crate::spec::layout::{balanced_split, Layout, ResolvedLayout, Schedule};
use crate::spec::training::Recompute;
use crate::spec::Scenario;

use fast::{Env, Eval, Scratch};
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

/// A layout as the search reports it (the JSON `layout` object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LayoutKey {
    /// Tensor parallel.
    pub tp: u32,
    /// Pipeline stages.
    pub pp: u32,
    /// Data-parallel replicas.
    pub dp: u32,
    /// Expert parallel.
    pub ep: u32,
    /// Context parallel.
    pub cp: u32,
    /// Virtual stages per GPU.
    pub vpp: u32,
    /// Sequences per micro-batch.
    pub micro_batch: u32,
    /// Recompute policy.
    pub recompute: Recompute,
    /// ZeRO stage.
    pub zero: u8,
    /// Pipeline schedule.
    pub schedule: Schedule,
    /// Sequence parallelism.
    pub sequence_parallel: bool,
}

impl LayoutKey {
    /// Total order for tie-breaks.
    fn order(&self) -> impl Ord {
        (
            self.tp,
            self.pp,
            self.dp,
            self.ep,
            self.cp,
            self.vpp,
            self.micro_batch,
            !self.sequence_parallel,
            self.recompute,
            self.zero,
            self.schedule,
        )
    }

    /// "tp 8 pp 16 dp 192 ep 16 cp 1 vpp 1 mb 1 sp 1f1b zero 1 rc full".
    pub fn text(&self) -> String {
        format!(
            "tp{} pp{} dp{} ep{} cp{} vpp{} mb{}{} {} z{} rc:{}",
            self.tp,
            self.pp,
            self.dp,
            self.ep,
            self.cp,
            self.vpp,
            self.micro_batch,
            if self.sequence_parallel { " sp" } else { "" },
            self.schedule.name(),
            self.zero,
            recompute_name(self.recompute)
        )
    }

    /// The layout (and recompute policy) as scenario input, overlap taken from `base`.
    /// dp is left to `resolve`, which derives the same value the search did (the most
    /// replicas the GPUs hold with ep dividing dp x cp) without requiring every GPU used.
    pub fn to_layout(&self, base: &Layout) -> Layout {
        Layout {
            tp: self.tp,
            pp: self.pp,
            dp: None,
            ep: self.ep,
            cp: self.cp,
            vpp: self.vpp,
            micro_batch: self.micro_batch,
            sequence_parallel: self.sequence_parallel,
            zero: self.zero,
            schedule: Some(self.schedule),
            layers_per_stage: None,
            overlap: base.overlap,
        }
    }
}

/// Name of a recompute policy as written in YAML.
pub fn recompute_name(r: Recompute) -> &'static str {
    match r {
        Recompute::None => "none",
        Recompute::Selective => "selective",
        Recompute::Full => "full",
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

/// Per-worker accumulator.
struct Acc {
    counts: [u64; Reason::ALL.len()],
    evaluated: u64,
    feasible: u64,
    better_than_baseline: u64,
    /// The best `k` so far as a max-heap on rank (its top is the worst kept), so each
    /// push costs O(log k) and a search keeps its top k in O(n log k).
    top: BinaryHeap<ByRank>,
}

/// A [`Ranked`] ordered by [`Ranked::cmp_rank`] (smaller is better).
struct ByRank(Ranked);

impl PartialEq for ByRank {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for ByRank {}
impl PartialOrd for ByRank {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByRank {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp_rank(&o.0)
    }
}

impl Acc {
    fn new() -> Self {
        Acc {
            counts: [0; Reason::ALL.len()],
            evaluated: 0,
            feasible: 0,
            better_than_baseline: 0,
            top: BinaryHeap::new(),
        }
    }

    fn push(&mut self, r: Ranked, k: usize) {
        if k == 0 {
            return;
        }
        if self.top.len() == k {
            match self.top.peek() {
                Some(worst) if r.cmp_rank(&worst.0) == std::cmp::Ordering::Less => {
                    self.top.pop();
                }
                _ => return,
            }
        }
        self.top.push(ByRank(r));
    }

    fn merge(mut self, o: Acc, k: usize) -> Acc {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        self.evaluated += o.evaluated;
        self.feasible += o.feasible;
        self.better_than_baseline += o.better_than_baseline;
        for r in o.top {
            self.push(r.0, k);
        }
        self
    }

    /// The kept layouts, best first.
    fn into_best_first(self) -> Vec<Ranked> {
        self.top
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
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
    // The kernel model `estimate` uses for this scenario (its layout's comm_sms
    // reserved): every searched layout keeps the scenario's overlap settings.
    let kernels = crate::calibrate::kernel_model_for(sc);
    let kernels: &(dyn KernelModel + Sync) = &kernels;
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
    if opts.gpus.is_empty() {
        return Err(Error::Usage("no GPU count to search".into()));
    }
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
    let envs: Vec<Env> = variants
        .iter()
        .map(|v| Env::new(&v.sc, kernels, opts.headroom))
        .collect();
    let rctx = RuleCtx::new(&sc.model, &sc.training);
    let outer = space.outer();
    let inner = space.inner();
    let work: Vec<(u64, InnerKey)> = opts
        .gpus
        .iter()
        .flat_map(|&g| inner.iter().map(move |k| (g, *k)))
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
            |(mut acc, mut scratch, rl), &(gpus, key)| {
                let vi = variants
                    .iter()
                    .position(|v| v.recompute == key.recompute)
                    .expect("variant per recompute");
                let env = &envs[vi];
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
    Ok(Outcome {
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
    })
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
    if let Err(r) = rules::check_inner(rctx, key.tp, key.ep, key.cp) {
        acc.counts[r.index()] += outer.len() as u64;
        return;
    }
    rl.tp = key.tp;
    rl.ep = key.ep;
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

/// The scenario's own layout on `opts.gpus[0]` GPUs, priced as the search prices
/// every layout (its kernel model, its fast path): what `estimate` gives for the same
/// layout, to 1e-9 (`tests/search.rs`). Not ranked (`rank` is `None`).
pub fn price_own_layout(sc: &Scenario, opts: &SearchOptions) -> Baseline {
    let kernels = crate::calibrate::kernel_model_for(sc);
    baseline(sc, None, &kernels, opts)
}

/// The scenario's own layout; `in_space` says whether `space` (when given) holds it.
fn baseline(
    sc: &Scenario,
    space: Option<&Space>,
    kernels: &(dyn KernelModel + Sync),
    opts: &SearchOptions,
) -> Baseline {
    let gpus = opts.gpus[0];
    let setup = match Setup::resolve_on(sc, kernels, gpus) {
        Ok(s) => s,
        Err(e) => {
            return Baseline {
                ranked: None,
                rank: None,
                rejected: Some(format!("{} ({e})", Reason::from_error(&e).key())),
                in_space: false,
            }
        }
    };
    let rl = &setup.layout;
    let rc = sc.training.recompute;
    let in_space = space.is_some_and(|space| {
        space.tp.contains(&rl.tp)
            && space.pp.contains(&rl.pp)
            && space.dp.as_ref().is_none_or(|d| d.contains(&rl.dp))
            && space.ep.contains(&rl.ep)
            && space.cp.contains(&rl.cp)
            && space.vpp.contains(&rl.vpp)
            && space.micro_batch.contains(&rl.micro_batch)
            && (rl.tp == 1 || space.sequence_parallel.contains(&rl.sequence_parallel))
            && space.recompute.contains(&rc)
            && space.zero.contains(&rl.zero)
            && space.schedule.contains(&rl.schedule)
            && space.pairs(rl.pp, rl.vpp, rl.schedule)
            && sc.layout.layers_per_stage.is_none()
    });
    let mut own = sc.clone();
    own.reliability.enabled = false;
    let env = Env::new(&own, kernels, opts.headroom);
    finish_baseline(&env, rl, rc, gpus, opts, in_space)
}

fn finish_baseline(
    env: &Env,
    rl: &ResolvedLayout,
    rc: Recompute,
    gpus: u64,
    opts: &SearchOptions,
    in_space: bool,
) -> Baseline {
    let inn = env.inner(rl);
    let mut scratch = Scratch::default();
    let tokens = env.sc.training.tokens;
    match env.eval(&inn, rl, gpus, &mut scratch) {
        Ok(e) => Baseline {
            ranked: Some(ranked(
                rl,
                rc,
                gpus,
                &e,
                tokens,
                env.sc.gpu.memory_bytes,
                opts.objective.score(&e, tokens),
            )),
            rank: None,
            rejected: None,
            in_space,
        },
        Err(r) => Baseline {
            ranked: None,
            rank: None,
            rejected: Some(r.key().to_string()),
            in_space,
        },
    }
}

/// Re-times `results` with the discrete-event simulator ([`crate::sim::SimPipeline`]
/// as the estimate's pipeline model: same stage costs, the schedule played event by
/// event) and fills `sim_step_s`; returns whether any was re-timed. The ranking keeps
/// the analytic order; the simulator's number sits beside it.
pub fn retime_with_sim(sc: &Scenario, results: &mut [Ranked]) -> bool {
    let kernels = crate::calibrate::kernel_model_for(sc);
    let mut any = false;
    for r in results.iter_mut() {
        let mut s = scenario_for(sc, &r.layout, r.gpus);
        s.reliability.enabled = false;
        let Ok(setup) = Setup::resolve_on(&s, &kernels, s.gpus) else {
            continue;
        };
        match analytic::estimate::evaluate_with(
            &setup,
            &EstimateOptions::default(),
            Some(&crate::sim::SimPipeline),
        ) {
            Ok(e) => {
                r.sim_step_s = Some(e.time.step_s);
                any = true;
            }
            Err(e) => r.sim_error = Some(e.to_string()),
        }
    }
    any
}

/// The scenario `sc` with `key`'s layout and recompute policy on `gpus` GPUs.
pub fn scenario_for(sc: &Scenario, key: &LayoutKey, gpus: u64) -> Scenario {
    let mut s = sc.clone();
    s.layout = key.to_layout(&sc.layout);
    s.training.recompute = key.recompute;
    s.gpus = gpus;
    s
}

/// The full analytic estimate of a ranked layout (breakdown, memory parts, warnings).
pub fn full_estimate(sc: &Scenario, r: &Ranked) -> Result<Estimate> {
    let s = scenario_for(sc, &r.layout, r.gpus);
    crate::setup::estimate(&s, &EstimateOptions::default())
}
