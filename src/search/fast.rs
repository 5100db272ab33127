//! The analytic model's numbers for one layout, fast enough for millions of layouts.
//!
//! [`crate::analytic::evaluate`] builds every stage, formats warnings and runs the
//! reliability model: right for one estimate, ~100x too slow for a search. This path
//! computes the same step time, MFU, days, dollars and peak memory from the same
//! public building blocks ([`layer_cost`], [`dp_sync`], [`pipeline_s`], [`in_flight`],
//! [`budget`]), with three savings:
//!
//! - layer costs depend only on tp, cp, ep, micro-batch, sequence parallelism and the
//!   training run, so they are computed once per such "inner" combination and shared
//!   by every pp, vpp, schedule and ZeRO stage ([`Inner`]);
//! - stages with the same layers and the same ends (first / last) cost the same, so
//!   each distinct stage kind is costed once (a balanced split has at most four);
//! - memory is checked before time, so layouts that do not fit skip the timing.
//!
//! The stage assembly mirrors `analytic::stage::stages` line by line; `tests/search.rs`
//! checks on many layouts that both give the same numbers (relative error < 1e-9).

use crate::analytic::budget::{budget, BudgetInputs};
use crate::analytic::comm::Comm;
use crate::analytic::compute::KernelModel;
use crate::analytic::estimate::precision_peak;
use crate::analytic::fp8::fp8_amax_s;
use crate::analytic::head::head_cost;
use crate::analytic::layer::{layer_cost, LayerCost, LayerCtx};
use crate::analytic::params::count;
use crate::analytic::pipeline::{partner, pipeline_s};
use crate::analytic::stage::{
    device_memory, dp_groups, dp_sync, head_params, model_states, mtp_blocks, mtp_projection,
    MemoryBreakdown, StageCost, StageInputs, StageMemory, LOGIT_BYTES,
};
use crate::spec::layout::{Overlap, ResolvedLayout};
use crate::spec::model::PositionEmbedding;
use crate::spec::training::Recompute;
use crate::spec::Scenario;

use super::rules::Reason;

/// Per-scenario constants.
pub struct Env<'a> {
    /// The scenario (its training run fixes the recompute policy).
    pub sc: &'a Scenario,
    kernels: &'a (dyn KernelModel + Sync),
    comm: Comm<'a>,
    model_total: f64,
    peak: f64,
    usd_per_gpu_hour: f64,
    /// Memory above which a layout is rejected, bytes.
    pub limit_bytes: f64,
    moe_prefix: Vec<u32>,
    first_moe: Option<u32>,
    first_dense: Option<u32>,
    position_params: f64,
}

impl<'a> Env<'a> {
    /// Constants for `sc`; layouts whose peak exceeds `capacity x (1 - headroom)` are rejected.
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
            comm: Comm::new(&sc.cluster),
            model_total: 6.0 * counts.active_matmul * sc.training.tokens,
            peak: precision_peak(sc),
            usd_per_gpu_hour: sc.pricing.usd_per_gpu_hour.unwrap_or(sc.gpu.usd_per_hour),
            limit_bytes: sc.gpu.memory_bytes * (1.0 - headroom),
            moe_prefix,
            first_moe: (0..m.layers).find(|&i| m.is_moe_layer(i)),
            first_dense: (0..m.layers).find(|&i| !m.is_moe_layer(i)),
            position_params: match m.position_embedding {
                PositionEmbedding::Learned => m.max_position.unwrap_or(0) as f64 * m.hidden as f64,
                _ => 0.0,
            },
        }
    }

    /// Layer costs and the per-micro-batch extras of the first and last stage for one
    /// inner combination. `rl` carries tp, cp, ep, micro_batch, sequence_parallel and
    /// overlap; its other fields are not read.
    pub fn inner(&self, rl: &ResolvedLayout) -> Inner {
        let ctx = LayerCtx {
            model: &self.sc.model,
            layout: rl,
            training: &self.sc.training,
        };
        let k = self.kernels;
        let dense = self.first_dense.map(|i| layer_cost(&ctx, i, k, &self.comm));
        let moe = self.first_moe.map(|i| layer_cost(&ctx, i, k, &self.comm));
        let m = &self.sc.model;
        let t = ctx.tokens();
        let h = m.hidden as f64;
        let v = m.vocab as f64;
        let tp = rl.tp as f64;
        let sp = ctx.sp_div();
        let ov = &rl.overlap;
        let working = if self.sc.training.recompute == Recompute::Full {
            dense
                .iter()
                .chain(moe.iter())
                .map(|c| c.working_bytes)
                .fold(0.0, f64::max)
        } else {
            0.0
        };
        let part = |c: &Option<LayerCost>| c.as_ref().map(|c| LayerPart::new(c, ov));
        let hc = head_cost(&ctx, k);
        Inner {
            dense: part(&dense),
            moe: part(&moe),
            emb_s: k.memory_s(2.0 * t * h * 2.0 / sp),
            emb_stored: 2.0 * t * h / sp,
            head_s: hc.gemm_s,
            ce_fwd_s: hc.ce_fwd_s,
            ce_bwd_s: hc.ce_bwd_s,
            ag_s: self.comm.all_gather_s(t * h * 2.0, ctx.tp_group()),
            logits_bytes: LOGIT_BYTES * t * v / tp,
            vh_tp: v * h / tp,
            pos_tp: self.position_params / tp,
            p2p_bytes: t * h * 2.0 / tp,
            working,
            mtp_depth: m.mtp_depth as f64,
            mtp_proj: mtp_projection(&ctx, k),
        }
    }
}

/// The sums a stage takes from one layer kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct LayerPart {
    fwd: f64,
    bwd: f64,
    ep_bwd: f64,
    dense_params: f64,
    expert_params: f64,
    stored: f64,
    wcast: f64,
}

impl LayerPart {
    fn new(c: &LayerCost, ov: &Overlap) -> Self {
        LayerPart {
            fwd: c.fwd_s(ov),
            bwd: c.bwd_s(ov),
            ep_bwd: c.ep_bwd_s,
            dense_params: c.dense_params,
            expert_params: c.expert_params,
            stored: c.stored_bytes,
            wcast: c.fp8_weight_cast_s,
        }
    }
}

/// Costs shared by every layout with the same tp, cp, ep, micro-batch, sequence
/// parallelism and recompute policy.
#[derive(Debug, Clone)]
pub struct Inner {
    dense: Option<LayerPart>,
    moe: Option<LayerPart>,
    emb_s: f64,
    emb_stored: f64,
    head_s: f64,
    ce_fwd_s: f64,
    ce_bwd_s: f64,
    ag_s: f64,
    logits_bytes: f64,
    vh_tp: f64,
    pos_tp: f64,
    p2p_bytes: f64,
    /// Multi-token-prediction modules (each another pass through the head).
    mtp_depth: f64,
    /// Their projections: forward s, backward s, parameters per GPU.
    mtp_proj: (f64, f64, f64),
    working: f64,
}

impl Inner {
    /// Whether two inner combinations cost exactly the same.
    pub fn same_as(&self, o: &Inner) -> bool {
        self.dense == o.dense
            && self.moe == o.moe
            && self.working == o.working
            && self.emb_stored == o.emb_stored
            && self.logits_bytes == o.logits_bytes
    }
}

/// One distinct kind of stage.
#[derive(Debug, Clone, Copy)]
struct Kind {
    layers: u32,
    n_moe: u32,
    first: bool,
    last: bool,
    fwd: f64,
    bwd: f64,
    ep_bwd: f64,
    dense_params: f64,
    expert_params: f64,
    stored: f64,
    extra_act: f64,
    /// FP8 weight casts of the whole stage, once per step, seconds.
    wcast: f64,
    weights: f64,
    gradients: f64,
    optimizer: f64,
}

/// Reusable buffers, one per worker thread.
#[derive(Debug, Default)]
pub struct Scratch {
    kinds: Vec<Kind>,
    stage_kind: Vec<u8>,
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
        let sc = self.sc;
        let tr = &sc.training;
        let p = rl.pp;
        let ov = &rl.overlap;

        // Stage kinds: static parts (parameters, stored activations, memory).
        s.kinds.clear();
        s.stage_kind.clear();
        let mut first_layer = 0u32;
        for (i, &n) in rl.layers_per_stage.iter().enumerate() {
            let i = i as u32;
            let first = i == 0;
            let last = i == p - 1;
            // The multi-token-prediction blocks count as layers of the last stage.
            let (mtp_dense, mtp_moe) = mtp_blocks(&sc.model, last);
            let n_moe = self.moe_prefix[(first_layer + n) as usize]
                - self.moe_prefix[first_layer as usize]
                + mtp_moe as u32;
            first_layer += n;
            let n = n + (mtp_dense + mtp_moe) as u32;
            let found = s.kinds.iter().position(|k| {
                k.layers == n && k.n_moe == n_moe && k.first == first && k.last == last
            });
            let idx = match found {
                Some(x) => x,
                None => {
                    s.kinds
                        .push(self.kind(inn, n, n_moe, first, last, |dense, expert| {
                            model_states(rl, tr, dense, expert)
                        }));
                    s.kinds.len() - 1
                }
            };
            s.stage_kind.push(idx as u8);
        }
        // Peak memory over stages (as the first stage with the largest total).
        let mut peak_mem = 0.0f64;
        let n_stages = s.stage_kind.len();
        for (i, &ki) in s.stage_kind.iter().enumerate() {
            let mem_of = |k: &Kind| StageMemory {
                states: (k.weights, k.gradients, k.optimizer),
                stored: k.stored,
                extra: k.extra_act,
            };
            let own = mem_of(&s.kinds[ki as usize]);
            let j = partner(rl.schedule, i, n_stages);
            let other = mem_of(&s.kinds[s.stage_kind[j] as usize]);
            let mem = device_memory(rl, tr, i as u32, &own, &other, inn.working).total();
            if mem > peak_mem {
                peak_mem = mem;
            }
        }
        if peak_mem > self.limit_bytes {
            return Err(Reason::Memory);
        }

        // Timing: p2p, ZeRO per micro-batch, pipeline, DP sync, optimizer.
        let p2p = if p > 1 && !ov.p2p {
            let stride = u64::from(rl.tp) * u64::from(rl.cp) * u64::from(rl.dp);
            rl.vpp as f64 * self.comm.p2p_s(inn.p2p_bytes, stride)
        } else {
            0.0
        };
        let (dg, eg) = dp_groups(rl);
        let c = &self.comm;
        let gb = tr.grad_bytes_per_param;
        let ctx = LayerCtx {
            model: &sc.model,
            layout: rl,
            training: tr,
        };
        let mb = rl.microbatches.max(1) as f64;
        for k in s.kinds.iter_mut() {
            let amax = fp8_amax_s(&ctx, c, k.layers as f64);
            k.fwd += k.wcast / mb + amax;
            k.bwd += amax;
            let (zf, zb) = if rl.zero < 2 {
                (0.0, 0.0)
            } else {
                let rs = c.reduce_scatter_s(k.dense_params * gb, dg)
                    + c.reduce_scatter_s(k.expert_params * gb, eg);
                let ag = if rl.zero >= 3 {
                    c.all_gather_s(k.dense_params * 2.0, dg)
                        + c.all_gather_s(k.expert_params * 2.0, eg)
                } else {
                    0.0
                };
                (ag, ag + rs)
            };
            let exp = |c: f64, under: f64| if ov.dp_comm { (c - under).max(0.0) } else { c };
            k.fwd += p2p + exp(zf, k.fwd);
            k.bwd += p2p + exp(zb, k.bwd);
        }
        s.fwd.clear();
        s.bwd.clear();
        for &ki in &s.stage_kind {
            let k = &s.kinds[ki as usize];
            s.fwd.push(k.fwd);
            s.bwd.push(k.bwd);
        }
        let pipe = pipeline_s(rl.schedule, &s.fwd, &s.bwd, rl.microbatches, rl.vpp);
        let inp = StageInputs {
            ctx: LayerCtx {
                model: &sc.model,
                layout: rl,
                training: tr,
            },
            kernels: self.kernels,
            comm: self.comm,
        };
        // DP sync per kind: (grad exposed, optimizer, param exposed).
        let mut sync = [(0.0f64, 0.0f64, 0.0f64); 8];
        let mut sync_vec = Vec::new();
        let nk = s.kinds.len();
        for (j, k) in s.kinds.iter().enumerate() {
            let st = StageCost {
                layers: k.layers,
                fwd_s: k.fwd,
                bwd_s: k.bwd,
                compute_s: 0.0,
                tp_comm_s: 0.0,
                ep_comm_s: 0.0,
                ep_bwd_s: k.ep_bwd,
                cp_comm_s: 0.0,
                p2p_s: 0.0,
                zero_s: 0.0,
                fp8_cast_s: 0.0,
                dense_params: k.dense_params,
                expert_params: k.expert_params,
                memory: MemoryBreakdown::default(),
            };
            let d = dp_sync(&inp, &st);
            let v = (d.grad_exposed_s, d.optimizer_s, d.param_exposed_s);
            if nk <= sync.len() {
                sync[j] = v;
            } else {
                sync_vec.push(v);
            }
        }
        let sync_of = |j: usize| if nk <= 8 { sync[j] } else { sync_vec[j] };
        let mut end = 0.0f64;
        let mut optimizer_s = 0.0f64;
        let mut param_exposed = 0.0f64;
        let mut drain = 0.0f64;
        for (i, &ki) in s.stage_kind.iter().enumerate() {
            let (g, o, pe) = sync_of(ki as usize);
            end = end.max(pipe - drain + g);
            optimizer_s = optimizer_s.max(o);
            param_exposed = param_exposed.max(pe);
            drain += s.bwd[i];
        }
        let step_s = end + optimizer_s + param_exposed + self.sc.cluster.step_overhead_s;
        if !(step_s.is_finite() && step_s > 0.0) {
            return Err(Reason::Other);
        }
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
            pricing: &sc.pricing,
            cluster: &sc.cluster,
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

    /// Static parts of a stage kind (as `analytic::stage::stages`).
    fn kind(
        &self,
        inn: &Inner,
        n: u32,
        n_moe: u32,
        first: bool,
        last: bool,
        state: impl Fn(f64, f64) -> (f64, f64, f64),
    ) -> Kind {
        let n_moe_f = n_moe as f64;
        let n_dense = n as f64 - n_moe_f;
        let add = |f: &dyn Fn(&LayerPart) -> f64| {
            n_dense * inn.dense.as_ref().map_or(0.0, f) + n_moe_f * inn.moe.as_ref().map_or(0.0, f)
        };
        let mut fwd = add(&|c| c.fwd);
        let mut bwd = add(&|c| c.bwd);
        let ep_bwd = add(&|c| c.ep_bwd);
        let mut dense_params = add(&|c| c.dense_params);
        let expert_params = add(&|c| c.expert_params);
        let mut stored = add(&|c| c.stored);
        let wcast = add(&|c| c.wcast);
        let mut extra_act = 0.0;
        if first {
            dense_params += inn.vh_tp + inn.pos_tp;
            fwd += inn.emb_s;
            bwd += inn.emb_s;
            stored += inn.emb_stored;
        }
        if last {
            let heads = 1.0 + inn.mtp_depth;
            dense_params += head_params(&self.sc.model, first, inn.vh_tp) + inn.mtp_proj.2;
            fwd += heads * (inn.head_s + inn.ce_fwd_s + inn.ag_s) + inn.mtp_proj.0;
            bwd += heads * (2.0 * inn.head_s + inn.ce_bwd_s + inn.ag_s) + inn.mtp_proj.1;
            extra_act += heads * inn.logits_bytes;
        }
        let (weights, gradients, optimizer) = state(dense_params, expert_params);
        Kind {
            layers: n,
            n_moe,
            first,
            last,
            fwd,
            bwd,
            ep_bwd,
            dense_params,
            expert_params,
            stored,
            extra_act,
            wcast,
            weights,
            gradients,
            optimizer,
        }
    }
}
