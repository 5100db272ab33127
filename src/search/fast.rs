//! The analytic model's numbers for one layout, fast enough for millions of layouts.
//!
//! [`crate::analytic::evaluate`] builds every stage, formats warnings and runs the
//! reliability model: right for one estimate, ~100x too slow for a search. This path
//! computes the same step time, MFU, days, dollars and peak memory from the same
//! public building blocks ([`stage_body`], [`dp_sync`], [`pipeline_s`], [`in_flight`](crate::analytic::pipeline::in_flight),
//! [`budget`]), with three savings:
//!
//! - layer costs depend only on tp, cp, ep, micro-batch, sequence parallelism and the
//!   training run, so they are computed once per such "inner" combination and shared
//!   by every pp, vpp, schedule and ZeRO stage ([`Inner`]);
//! - stages with the same layers and the same ends (first / last) cost the same, so
//!   each distinct stage kind is costed once (a balanced split has at most four);
//! - memory is checked before time, so layouts that do not fit skip the timing.
//!
//! There is no second cost model here: stage work comes from `analytic::stage`'s
//! [`stage_parts`], [`stage_body`], [`stage_timed`] and [`stage_memory`], the
//! functions `analytic::stage::stages` is made of; this file only caches and rejects
//! on memory early. `tests/search.rs` checks on thousands of layouts that the search
//! and `estimate` agree (relative error < 1e-9).

use crate::analytic::budget::{budget, BudgetInputs};
use crate::analytic::comm::Comm;
use crate::analytic::compute::KernelModel;
use crate::analytic::estimate::precision_peak;
use crate::analytic::layer::LayerCtx;
use crate::analytic::params::count;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::analytic::pipeline::{partner, pipeline_s};
use crate::analytic::stage::{
    device_memory, dp_sync, gpu_sms_for_collectives, model_states, p2p_blocking_s, p2p_chain_s,
    stage_body, stage_memory, stage_parts, stage_shape, stage_timed, StageBody, StageCost,
    StageInputs, StageParts,
};
use crate::spec::layout::{ResolvedLayout, Schedule};
use crate::spec::Scenario;

use super::rules::Reason;

/// Per-scenario constants.
pub struct Env<'a> {
    /// The scenario (its training run fixes the recompute policy).
    pub sc: &'a Scenario,
    kernels: &'a (dyn KernelModel + Sync),
    model_total: f64,
    peak: f64,
    usd_per_gpu_hour: f64,
    /// Memory above which a layout is rejected, bytes.
    pub limit_bytes: f64,
    moe_prefix: Vec<u32>,
}

impl<'a> Env<'a> {
    /// Constants for `sc` priced with `kernels` (the scenario's, from
    /// `calibrate::kernel_model_for`); layouts whose peak exceeds
    /// `capacity x (1 - headroom)` are rejected.
    pub fn new(sc: &'a Scenario, kernels: &'a (dyn KernelModel + Sync), headroom: f64) -> Self {
        let m = &sc.model;
        let counts = count(m);
        let mut moe_prefix = Vec::with_capacity(m.layers as usize + 1);
        moe_prefix.push(0);
        for i in 0..m.layers {
            let last = *moe_prefix.last().unwrap_or(&0);
            moe_prefix.push(last + u32::from(m.is_moe_layer(i)));
        }
        Env {
            sc,
            kernels,
            model_total: 6.0 * counts.active_matmul * sc.training.tokens,
            peak: precision_peak(sc),
            usd_per_gpu_hour: sc.pricing.usd_per_gpu_hour.unwrap_or(sc.gpu.usd_per_hour),
            limit_bytes: sc.gpu.memory_bytes * (1.0 - headroom),
            moe_prefix,
        }
    }

    fn inputs<'b>(&'b self, rl: &'b ResolvedLayout) -> StageInputs<'b> {
        StageInputs::new(
            LayerCtx {
                model: &self.sc.model,
                layout: rl,
                training: &self.sc.training,
            },
            self.kernels,
            // The segment of each NVLink domain follows tp, cp, ep and etp: the
            // same for every layout of one inner combination.
            Comm::for_layout(&self.sc.cluster, rl).with_collective(self.sc.training.collective),
            gpu_sms_for_collectives(&self.sc.gpu, &rl.overlap),
        )
    }

    /// Layer costs and the per-micro-batch extras of the first and last stage for one
    /// inner combination. `rl` carries tp, cp, ep, micro_batch, sequence_parallel and
    /// overlap; its other fields are not read.
    pub fn inner(&self, rl: &ResolvedLayout) -> Inner {
        Inner {
            parts: stage_parts(&self.inputs(rl)),
            id: NEXT_INNER_ID.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// Source of [`Inner`]'s ids: a scratch's stage cache is valid for one inner only.
static NEXT_INNER_ID: AtomicU64 = AtomicU64::new(0);

/// Costs shared by every layout with the same tp, cp, ep, micro-batch, sequence
/// parallelism and recompute policy.
#[derive(Debug, Clone)]
pub struct Inner {
    parts: StageParts,
    /// Unique per `Env::inner` call (clones share it: same content).
    id: u64,
}

impl Inner {
    /// Whether two inner combinations cost exactly the same.
    pub fn same_as(&self, o: &Inner) -> bool {
        self.parts.same_as(&o.parts)
    }
}

/// What makes two stages of one layout cost the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KindKey {
    layers: u32,
    moe_layers: u32,
    first: bool,
    last: bool,
}

/// One distinct kind of stage: its key, work, model states and (once timed) costs.
#[derive(Debug, Clone, Copy)]
struct Kind {
    key: KindKey,
    /// The first stage of this kind (the one holding the most micro-batches).
    first_stage: u32,
    body: StageBody,
    states: (f64, f64, f64),
    cost: StageCost,
    /// Exposed gradient sync, optimizer, exposed parameter gather, seconds.
    sync: (f64, f64, f64),
}

/// Reusable buffers, one per worker thread. The stage kinds of the last layout are
/// kept: the next layout with the same inner costs and the same split into stages
/// (every other pp, vpp, schedule, ZeRO and dp of a search's inner loop) reuses them.
#[derive(Debug, Default)]
pub struct Scratch {
    kinds: Vec<Kind>,
    stage_kind: Vec<u16>,
    /// The [`Inner`] id and layer split `kinds` and `stage_kind` were built for.
    built_for: Option<u64>,
    layers: Vec<u32>,
    fwd: Vec<f64>,
    bwd: Vec<f64>,
}

/// The numbers a search ranks by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eval {
    /// Seconds per optimizer step.
    pub step_s: f64,
    /// Model FLOPs utilisation (6 x active matmul parameters).
    pub mfu: f64,
    /// Training days.
    pub days: f64,
    /// US dollars billed.
    pub usd: f64,
    /// Peak memory over stages, bytes.
    pub memory_peak_bytes: f64,
    /// Tokens per step.
    pub tokens_per_step: f64,
}

impl Env<'_> {
    /// Evaluates `rl` (fully resolved, `gpus` requested) with the inner costs `inn`
    /// computed for the same tp, cp, ep, micro-batch and sequence parallelism.
    /// `Err(Reason::Memory)` when the peak exceeds the limit (timing skipped).
    pub fn eval(
        &self,
        inn: &Inner,
        rl: &ResolvedLayout,
        gpus: u64,
        s: &mut Scratch,
    ) -> Result<Eval, Reason> {
        let peak_mem = self.stage_kinds(inn, rl, s);
        if peak_mem > self.limit_bytes {
            return Err(Reason::Memory);
        }
        let step_s = self.step_s(rl, s);
        if !(step_s.is_finite() && step_s > 0.0) {
            return Err(Reason::Other);
        }
        let tr = &self.sc.training;
        let tokens_per_step = rl.global_batch_seqs as f64 * tr.seq_len as f64;
        let gpus_used = rl.gpus_used as f64;
        let steps_exact = tr.tokens / tokens_per_step;
        let mfu = self.model_total / steps_exact / (step_s * gpus_used * self.peak);
        let b = budget(&BudgetInputs {
            step_s,
            tokens_per_step,
            tokens: tr.tokens,
            gpus_used: rl.gpus_used,
            gpus_requested: gpus,
            usd_per_gpu_hour: self.usd_per_gpu_hour,
            pricing: &self.sc.pricing,
            cluster: &self.sc.cluster,
        });
        Ok(Eval {
            step_s,
            mfu,
            days: b.days,
            usd: b.usd,
            memory_peak_bytes: peak_mem,
            tokens_per_step,
        })
    }

    /// Sorts the stages of `rl` into kinds (each costed once by `stage_body`) and
    /// returns the peak memory over stages, bytes.
    ///
    /// A stage's kind is fixed by its layer count, its MoE layer count and whether it is
    /// first or last. Outside DualPipe a GPU's memory depends on its stage index only
    /// through the micro-batches it holds in flight, which never rise with the index
    /// ([`in_flight`](crate::analytic::pipeline::in_flight)), and memory rises with them (sums and products of non-negative
    /// bytes, rounded monotonically): the peak over a kind's stages is the memory of
    /// its first stage, the same value bit for bit as the per-stage maximum
    /// `analytic::stage::stages` takes.
    fn stage_kinds(&self, inn: &Inner, rl: &ResolvedLayout, s: &mut Scratch) -> f64 {
        if s.built_for != Some(inn.id) || s.layers != rl.layers_per_stage {
            self.sort_stages(inn, rl, s);
        }
        let tr = &self.sc.training;
        for k in s.kinds.iter_mut() {
            k.states = model_states(rl, tr, k.body.dense_params, k.body.expert_params);
        }
        let memory = |i: u32, k: &Kind, o: &Kind| {
            let (own, other) = (
                stage_memory(k.states, &k.body),
                stage_memory(o.states, &o.body),
            );
            device_memory(rl, tr, i, &own, &other, k.body.working_bytes).total()
        };
        let mut peak_mem = 0.0f64;
        if rl.schedule == Schedule::DualPipe {
            // DualPipe's GPUs hold a stage of each direction: every pair is costed.
            let n_stages = s.stage_kind.len();
            for (i, &ki) in s.stage_kind.iter().enumerate() {
                let k = &s.kinds[ki as usize];
                let o = &s.kinds[s.stage_kind[partner(rl.schedule, i, n_stages)] as usize];
                peak_mem = peak_mem.max(memory(i as u32, k, o));
            }
        } else {
            for k in &s.kinds {
                peak_mem = peak_mem.max(memory(k.first_stage, k, k));
            }
        }
        peak_mem
    }

    /// Builds `s.kinds` (keys and bodies) and `s.stage_kind` for `rl`'s split into
    /// stages under the inner costs `inn`.
    fn sort_stages(&self, inn: &Inner, rl: &ResolvedLayout, s: &mut Scratch) {
        let p = rl.pp;
        s.kinds.clear();
        s.stage_kind.clear();
        let mut first_layer = 0u32;
        let mut last_idx = usize::MAX;
        for (i, &n) in rl.layers_per_stage.iter().enumerate() {
            let i = i as u32;
            let moe_layers =
                self.moe_prefix[(first_layer + n) as usize] - self.moe_prefix[first_layer as usize];
            first_layer += n;
            let key = KindKey {
                layers: n,
                moe_layers,
                first: i == 0,
                last: i == p - 1,
            };
            let idx = if s.kinds.get(last_idx).is_some_and(|k| k.key == key) {
                last_idx
            } else if let Some(x) = s.kinds.iter().position(|k| k.key == key) {
                x
            } else {
                let shape = stage_shape(&self.sc.model, n, moe_layers, i, p);
                s.kinds.push(Kind {
                    key,
                    first_stage: i,
                    body: stage_body(&inn.parts, &shape),
                    states: (0.0, 0.0, 0.0),
                    cost: StageCost::default(),
                    sync: (0.0, 0.0, 0.0),
                });
                s.kinds.len() - 1
            };
            last_idx = idx;
            s.stage_kind.push(idx as u16);
        }
        s.built_for = Some(inn.id);
        s.layers.clear();
        s.layers.extend_from_slice(&rl.layers_per_stage);
    }

    /// The step time of the kinds `stage_kinds` found: stage times (ZeRO traffic and
    /// pipeline sends), pipeline, data-parallel sync and optimizer, as
    /// `analytic::estimate` puts them together.
    fn step_s(&self, rl: &ResolvedLayout, s: &mut Scratch) -> f64 {
        let inp = self.inputs(rl);
        let p2p = p2p_blocking_s(&inp);
        for k in s.kinds.iter_mut() {
            k.cost = stage_timed(&inp, &k.body, p2p);
            let d = dp_sync(&inp, &k.cost, k.key.first);
            k.sync = (d.grad_exposed_s, d.optimizer_s, d.param_exposed_s);
        }
        s.fwd.clear();
        s.bwd.clear();
        for &ki in &s.stage_kind {
            let k = &s.kinds[ki as usize];
            s.fwd.push(k.cost.pipeline_fwd_s());
            s.bwd.push(k.cost.pipeline_bwd_s());
        }
        let pipe =
            pipeline_s(rl.schedule, &s.fwd, &s.bwd, rl.microbatches, rl.vpp) + p2p_chain_s(&inp);
        let mut end = 0.0f64;
        let mut optimizer_s = 0.0f64;
        let mut param_exposed = 0.0f64;
        let mut drain = 0.0f64;
        for (i, &ki) in s.stage_kind.iter().enumerate() {
            let (g, o, pe) = s.kinds[ki as usize].sync;
            end = end.max(pipe - drain + g);
            optimizer_s = optimizer_s.max(o);
            param_exposed = param_exposed.max(pe);
            drain += s.bwd[i];
        }
        end + optimizer_s + param_exposed + self.sc.cluster.step_overhead_s
    }
}
