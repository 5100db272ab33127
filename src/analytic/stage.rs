//! Pipeline stages: sums of their layers, plus the embedding on the first stage and
//! the output layer and loss on the last, the p2p transfers between stages, the
//! data-parallel gradient traffic and the memory each stage holds.

use serde::Serialize;

use super::comm::{Comm, Group};
use super::compute::KernelModel;
use super::layer::{layer_cost, LayerCost, LayerCtx};
use super::pipeline::in_flight;
use crate::spec::layout::{ResolvedLayout, Schedule};
use crate::spec::training::{Recompute, Training};
use crate::spec::ModelSpec;

/// Fixed per-GPU memory outside the model: CUDA context (~0.5-0.8 GiB with PyTorch),
/// NCCL communicator buffers and cuBLAS workspaces. An allowance, not a measurement.
pub const FIXED_OTHER_BYTES: f64 = 2.0 * 1073741824.0;
/// Allocator fragmentation allowance as a fraction of the tracked bytes (PyTorch's
/// caching allocator typically reserves 5-10% beyond what is allocated).
pub const FRAGMENTATION: f64 = 0.05;
/// Gradient bucket for overlapped data-parallel reduction, parameters (Megatron-LM
/// DDP's default bucket of 40M elements).
pub const BUCKET_PARAMS: f64 = 40e6;
/// Bytes per element of the vocabulary-parallel logits kept for the loss: BF16 logits
/// plus FP32 softmax (Megatron's fused cross-entropy keeps both).
pub const LOGIT_BYTES: f64 = 6.0;

/// Memory on one GPU of a stage, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MemoryBreakdown {
    /// Model weights (BF16, plus the FP8 cast cache under FP8).
    pub weights: f64,
    /// Gradient buffers.
    pub gradients: f64,
    /// Optimizer states (FP32 master weights and Adam moments).
    pub optimizer: f64,
    /// Activations kept for backward at the schedule's peak, plus the loss's logits.
    pub activations: f64,
    /// CUDA context, communication buffers, workspaces, fragmentation.
    pub other: f64,
}

impl MemoryBreakdown {
    /// Sum, bytes.
    pub fn total(&self) -> f64 {
        self.weights + self.gradients + self.optimizer + self.activations + self.other
    }
}

/// One pipeline stage on one GPU.
#[derive(Debug, Clone, Serialize)]
pub struct StageCost {
    /// Transformer layers on the stage.
    pub layers: u32,
    /// Forward time per micro-batch, exposed communication included, seconds.
    pub fwd_s: f64,
    /// Backward time per micro-batch (with recomputation), seconds.
    pub bwd_s: f64,
    /// Pure compute per micro-batch, forward + backward + recompute, seconds.
    pub compute_s: f64,
    /// Exposed tensor-parallel communication per micro-batch, seconds.
    pub tp_comm_s: f64,
    /// Exposed expert all-to-all per micro-batch, seconds.
    pub ep_comm_s: f64,
    /// The backward's expert all-to-all per micro-batch with the network to itself (the
    /// stage's MoE blocks, MTP's included), seconds: what NIC contention slows.
    pub ep_bwd_s: f64,
    /// Exposed context-parallel traffic per micro-batch, seconds.
    pub cp_comm_s: f64,
    /// Exposed pipeline sends and receives per micro-batch (forward plus backward, one
    /// each way per model chunk), seconds.
    pub p2p_s: f64,
    /// Exposed ZeRO-2/3 traffic per micro-batch (gradient reduce-scatter, weight
    /// all-gathers), forward plus backward, seconds.
    pub zero_s: f64,
    /// Parameters on this GPU replicated across expert parallelism.
    pub dense_params: f64,
    /// Routed-expert parameters on this GPU.
    pub expert_params: f64,
    /// Memory at the stage's peak.
    pub memory: MemoryBreakdown,
}

/// Everything the stage builder needs.
pub struct StageInputs<'a> {
    /// Layer context.
    pub ctx: LayerCtx<'a>,
    /// Kernel timing model.
    pub kernels: &'a dyn KernelModel,
    /// Collective model.
    pub comm: Comm<'a>,
}

/// Builds every stage of the layout.
pub fn stages(inp: &StageInputs) -> Vec<StageCost> {
    let ctx = &inp.ctx;
    let m = ctx.model;
    let l = ctx.layout;
    let k = inp.kernels;
    // Layer costs depend only on the layer's kind: compute each kind once.
    let first_moe = (0..m.layers).find(|&i| m.is_moe_layer(i));
    let first_dense = (0..m.layers).find(|&i| !m.is_moe_layer(i));
    let moe_cost = first_moe.map(|i| layer_cost(ctx, i, k, &inp.comm));
    let dense_cost = first_dense.map(|i| layer_cost(ctx, i, k, &inp.comm));

    let p = l.pp;
    let t = ctx.tokens();
    let h = m.hidden as f64;
    let v = m.vocab as f64;
    let tp = l.tp as f64;
    let dt = ctx.dtype();
    let sp = ctx.sp_div();
    let p2p_bytes = t * h * 2.0 / tp; // scatter-gather: each tp rank sends its 1/tp share
    let p2p_stride = u64::from(l.tp) * u64::from(l.cp) * u64::from(l.dp);
    let p2p_one = if p > 1 {
        inp.comm.p2p_s(p2p_bytes, p2p_stride)
    } else {
        0.0
    };
    // An interleaved micro-batch enters and leaves every stage once per model chunk:
    // vpp sends each way (Narayanan et al. 2021, section 2.2.2).
    let p2p = if l.overlap.p2p {
        0.0
    } else {
        l.vpp as f64 * p2p_one
    };

    let mut out = Vec::with_capacity(p as usize);
    let mut first_layer = 0u32;
    for (i, &n) in l.layers_per_stage.iter().enumerate() {
        let i = i as u32;
        let (mtp_dense, mtp_moe) = mtp_blocks(m, i == p - 1);
        let n_moe = (first_layer..first_layer + n)
            .filter(|&j| m.is_moe_layer(j))
            .count() as f64
            + mtp_moe;
        let n_dense = n as f64 + mtp_dense + mtp_moe - n_moe;
        first_layer += n;
        let add = |f: &dyn Fn(&LayerCost) -> f64| {
            n_dense * dense_cost.as_ref().map_or(0.0, f) + n_moe * moe_cost.as_ref().map_or(0.0, f)
        };
        let ov = &l.overlap;
        let mut fwd = add(&|c| c.fwd_s(ov));
        let mut bwd = add(&|c| c.bwd_s(ov));
        let mut compute = add(&|c| c.fwd_compute_s + c.bwd_compute_s + c.recompute_s);
        let tp_comm = add(&|c| c.tp_fwd_s * (2.0 + c.forward_replays));
        let ep_comm = add(&|c| c.ep_fwd_s * (1.0 + c.forward_replays) + c.ep_bwd_s);
        let cp_comm = add(&|c| {
            (c.cp_fwd_s - c.attn_fwd_s).max(0.0)
                + (c.cp_fwd_s * (2.0 + c.forward_replays)
                    - c.attn_fwd_s * (2.5 + c.forward_replays))
                    .max(0.0)
        });
        let mut dense_params = add(&|c| c.dense_params);
        let expert_params = add(&|c| c.expert_params);
        let mut stored = add(&|c| c.stored_bytes);
        let working = if ctx.training.recompute == Recompute::Full {
            // One layer's full activations exist while it is recomputed.
            dense_cost
                .iter()
                .chain(moe_cost.iter())
                .map(|c| c.working_bytes)
                .fold(0.0, f64::max)
        } else {
            0.0
        };
        let mut extra_act = 0.0;
        if i == 0 {
            dense_params += v * h / tp + position_params(ctx) / tp;
            // Embedding lookup writes T x h; its gradient scatter-adds back.
            let emb = k.memory_s(2.0 * t * h * 2.0 / sp);
            fwd += emb;
            bwd += emb;
            compute += 2.0 * emb;
            stored += 2.0 * t * h / sp;
        }
        if i == p - 1 {
            // Output layer: the last stage holds (a copy of) the word embeddings.
            dense_params += v * h / tp;
            let head = k.gemm_s(t, v / tp, h, dt);
            let ce = k.memory_s(LOGIT_BYTES * t * v / tp);
            let ag = inp.comm.all_gather_s(t * h * 2.0, ctx.tp_group());
            // Each multi-token-prediction module passes through the shared head again,
            // after its own projection of [hidden; next embedding] (2h -> h).
            let heads = 1.0 + m.mtp_depth as f64;
            let (proj_f, proj_b, proj_params) = mtp_projection(ctx, k);
            fwd += heads * (head + ce + ag) + proj_f;
            bwd += heads * (2.0 * head + ce + ag) + proj_b;
            compute += heads * (3.0 * head + 2.0 * ce) + proj_f + proj_b;
            extra_act += heads * LOGIT_BYTES * t * v / tp;
            dense_params += proj_params;
        }
        let (zf, zb) = zero_per_microbatch(inp, dense_params, expert_params);
        let exp = |c: f64, under: f64| if ov.dp_comm { (c - under).max(0.0) } else { c };
        let zero = (exp(zf, fwd), exp(zb, bwd));
        fwd += p2p + zero.0;
        bwd += p2p + zero.1;
        let held = in_flight(l.schedule, i, p, l.microbatches, l.vpp);
        out.push(StageCost {
            layers: n,
            fwd_s: fwd,
            bwd_s: bwd,
            compute_s: compute,
            tp_comm_s: if ov.tp_comm {
                (tp_comm - compute).max(0.0)
            } else {
                tp_comm
            },
            ep_comm_s: if ov.ep_comm {
                (ep_comm - compute).max(0.0)
            } else {
                ep_comm
            },
            ep_bwd_s: n_moe * moe_cost.as_ref().map_or(0.0, |c| c.ep_bwd_s),
            cp_comm_s: cp_comm,
            p2p_s: 2.0 * p2p,
            zero_s: zero.0 + zero.1,
            dense_params,
            expert_params,
            memory: memory(
                ctx,
                dense_params,
                expert_params,
                stored * held + working + extra_act,
            ),
        });
    }
    out
}

/// Transformer blocks the multi-token-prediction modules add to a stage: (dense, MoE),
/// one per module, of the kind of the model's last layer, on the last stage only.
pub fn mtp_blocks(m: &ModelSpec, last_stage: bool) -> (f64, f64) {
    if !last_stage || m.mtp_depth == 0 {
        return (0.0, 0.0);
    }
    let d = m.mtp_depth as f64;
    if m.is_moe_layer(m.layers.saturating_sub(1)) {
        (0.0, d)
    } else {
        (d, 0.0)
    }
}

/// The multi-token-prediction modules' 2h -> h projections (split over tp): forward
/// and backward seconds per micro-batch, and parameters on one GPU.
pub fn mtp_projection(ctx: &LayerCtx, k: &dyn KernelModel) -> (f64, f64, f64) {
    let m = ctx.model;
    if m.mtp_depth == 0 {
        return (0.0, 0.0, 0.0);
    }
    let (d, t, h, tp) = (
        m.mtp_depth as f64,
        ctx.tokens(),
        m.hidden as f64,
        ctx.layout.tp as f64,
    );
    let dt = ctx.dtype();
    (
        d * k.gemm_s(t, h / tp, 2.0 * h, dt),
        d * k.gemm_bwd_s(t, h / tp, 2.0 * h, dt),
        d * 2.0 * h * h / tp,
    )
}

/// ZeRO-2/3 traffic paid on every micro-batch: ZeRO-2 reduce-scatters gradients after
/// each backward (it keeps no full gradient buffer to accumulate in); ZeRO-3 also
/// all-gathers the weights before each forward and again before each backward.
/// Returns (forward, backward) seconds before overlap.
fn zero_per_microbatch(inp: &StageInputs, dense: f64, expert: f64) -> (f64, f64) {
    let l = inp.ctx.layout;
    if l.zero < 2 {
        return (0.0, 0.0);
    }
    let (dg, eg) = dp_groups(l);
    let c = &inp.comm;
    let rs = c.reduce_scatter_s(dense * inp.ctx.training.grad_bytes_per_param, dg)
        + c.reduce_scatter_s(expert * inp.ctx.training.grad_bytes_per_param, eg);
    let ag = if l.zero >= 3 {
        c.all_gather_s(dense * 2.0, dg) + c.all_gather_s(expert * 2.0, eg)
    } else {
        0.0
    };
    (ag, ag + rs)
}

/// The data-parallel groups: dense parameters over dp x cp (stride tp), routed
/// experts over their dp x cp / ep replicas (stride tp x ep).
pub fn dp_groups(l: &ResolvedLayout) -> (Group, Group) {
    (
        Group {
            size: u64::from(l.dp) * u64::from(l.cp),
            stride: l.tp.into(),
        },
        Group {
            size: l.expert_dp().into(),
            stride: u64::from(l.tp) * u64::from(l.ep),
        },
    )
}

fn position_params(ctx: &LayerCtx) -> f64 {
    match ctx.model.position_embedding {
        crate::spec::model::PositionEmbedding::Learned => {
            ctx.model.max_position.unwrap_or(0) as f64 * ctx.model.hidden as f64
        }
        _ => 0.0,
    }
}

fn memory(ctx: &LayerCtx, dense: f64, expert: f64, activations: f64) -> MemoryBreakdown {
    breakdown(
        model_states(ctx.layout, ctx.training, dense, expert),
        activations,
    )
}

/// Weights, gradients and optimizer states on one GPU holding `dense` parameters
/// (sharded over dp x cp) and `expert` parameters (over the expert replicas), bytes.
pub fn model_states(l: &ResolvedLayout, tr: &Training, dense: f64, expert: f64) -> (f64, f64, f64) {
    let sharded = |zero_min: u8| {
        if l.zero >= zero_min {
            dense / (l.dp * l.cp) as f64 + expert / l.expert_dp() as f64
        } else {
            dense + expert
        }
    };
    let weight_bytes = tr.precision.weight_bytes();
    // DualPipe keeps two copies of the parameters (one per direction).
    let copies = if l.schedule == Schedule::DualPipe {
        2.0
    } else {
        1.0
    };
    (
        copies * weight_bytes * sharded(3),
        copies * tr.grad_bytes_per_param * sharded(2),
        tr.optimizer_bytes_per_param * sharded(1),
    )
}

/// The full breakdown from model states and activations, with the fixed and
/// fragmentation allowances.
pub fn breakdown(
    (weights, gradients, optimizer): (f64, f64, f64),
    activations: f64,
) -> MemoryBreakdown {
    let tracked = weights + gradients + optimizer + activations;
    MemoryBreakdown {
        weights,
        gradients,
        optimizer,
        activations,
        other: FIXED_OTHER_BYTES + FRAGMENTATION * tracked,
    }
}

/// Data-parallel synchronisation of one stage at the end of a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DpSync {
    /// Gradient reduction (reduce-scatter, or all-reduce without a sharded optimizer), seconds.
    pub grad_s: f64,
    /// Parameter all-gather after a sharded optimizer step, seconds.
    pub param_s: f64,
    /// Of the gradient reduction, what the last backward does not hide, seconds; with
    /// NIC contention, also the delay its traffic causes to that backward's expert
    /// all-to-all ([`DpSync::contention_s`]).
    pub grad_exposed_s: f64,
    /// Of `grad_exposed_s`, the part due to NIC contention (the overlapped reduction
    /// and the last backward's expert all-to-all sharing each GPU's NIC), seconds.
    pub contention_s: f64,
    /// Of the parameter gather, what the next forward does not hide, seconds.
    pub param_exposed_s: f64,
    /// Optimizer update on this GPU, seconds (memory-bound).
    pub optimizer_s: f64,
}

/// The overlapped gradient reduction (`grad_s` with the NIC to itself) and the last
/// micro-batch's backward expert all-to-all on the same NICs at the same time, under
/// the shared-link model: returns (when the reduction finishes, how much later the
/// all-to-all finishes than alone), seconds. Only when both groups cross the network.
fn nic_contention(inp: &StageInputs, stage: &StageCost, grad_s: f64) -> (f64, f64) {
    let c = &inp.comm;
    let (dense, _) = dp_groups(inp.ctx.layout);
    let crosses = |g: Group| g.size > 1 && !c.place(g).intra();
    if !c.contention() || !crosses(inp.ctx.ep_group()) || !crosses(dense) {
        return (grad_s, 0.0);
    }
    let [ep_done, grad_done] = super::comm::shared_link_s([stage.ep_bwd_s, grad_s]);
    (grad_done, ep_done - stage.ep_bwd_s)
}

/// Gradient sync and optimizer step for `stage`.
pub fn dp_sync(inp: &StageInputs, stage: &StageCost) -> DpSync {
    let l = inp.ctx.layout;
    let tr = inp.ctx.training;
    let (dense_group, expert_group) = dp_groups(l);
    let gb = tr.grad_bytes_per_param;
    let c = &inp.comm;
    let (grad_s, param_s) = if l.zero >= 2 {
        // Already reduced per micro-batch (and gathered per use under ZeRO-3).
        (
            0.0,
            if l.zero == 2 {
                c.all_gather_s(stage.dense_params * 2.0, dense_group)
                    + c.all_gather_s(stage.expert_params * 2.0, expert_group)
            } else {
                0.0
            },
        )
    } else if l.zero == 0 {
        (
            c.all_reduce_s(stage.dense_params * gb, dense_group)
                + c.all_reduce_s(stage.expert_params * gb, expert_group),
            0.0,
        )
    } else {
        (
            c.reduce_scatter_s(stage.dense_params * gb, dense_group)
                + c.reduce_scatter_s(stage.expert_params * gb, expert_group),
            c.all_gather_s(stage.dense_params * 2.0, dense_group)
                + c.all_gather_s(stage.expert_params * 2.0, expert_group),
        )
    };
    let buckets = ((stage.dense_params + stage.expert_params) / BUCKET_PARAMS)
        .ceil()
        .max(1.0);
    let (grad_exposed_s, param_exposed_s, contention_s) = if l.overlap.dp_comm {
        let (grad_done, delay) = nic_contention(inp, stage, grad_s);
        let alone = (grad_s - stage.bwd_s).max(grad_s / buckets);
        let shared = (grad_done - stage.bwd_s).max(grad_s / buckets) + delay;
        (
            shared,
            (param_s - stage.fwd_s).max(param_s / buckets),
            shared - alone,
        )
    } else {
        (grad_s, param_s, 0.0)
    };
    let local = if l.zero >= 1 {
        stage.dense_params / (l.dp * l.cp) as f64 + stage.expert_params / l.expert_dp() as f64
    } else {
        stage.dense_params + stage.expert_params
    };
    // Adam: read and write master weights and both moments, read the FP32 gradient,
    // write the BF16 weight.
    let bytes_per_param = 2.0 * tr.optimizer_bytes_per_param + gb + 2.0;
    DpSync {
        grad_s,
        param_s,
        grad_exposed_s,
        contention_s,
        param_exposed_s,
        optimizer_s: inp.kernels.memory_s(local * bytes_per_param),
    }
}
