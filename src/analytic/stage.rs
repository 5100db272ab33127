//! Pipeline stages: sums of their layers, plus the embedding on the first stage and
//! the output layer and loss on the last, the p2p transfers between stages, the
//! data-parallel gradient traffic and the memory each stage holds.

use serde::Serialize;

use super::comm::{Comm, Group};
use super::compute::KernelModel;
use super::fp8::fp8_amax_s;
use super::head::head_cost;
use super::layer::{layer_cost, LayerCost, LayerCtx};
use super::pipeline::{in_flight, partner};
use crate::spec::layout::{ResolvedLayout, Schedule};
use crate::spec::training::{MixedPrecision, Recompute, Training};
use crate::spec::ModelSpec;

/// CUDA context of one process with PyTorch and its library handles (cuBLAS, cuDNN,
/// Transformer Engine workspaces), bytes. PyTorch's "CUDA semantics" notes put the
/// context at 500 MiB-1 GiB depending on the CUDA version and the GPU; with lazy module
/// loading (CUDA_MODULE_LOADING=LAZY, PyTorch's default since CUDA 11.7) the low end.
/// cuBLAS's workspace on Hopper is 32 MiB per stream in PyTorch (CUBLAS_WORKSPACE_CONFIG
/// default :4096:8), inside this figure.
pub const CUDA_CONTEXT_BYTES: f64 = 0.75 * 1073741824.0;
/// NCCL's buffers for one communicator a GPU takes part in, bytes: NCCL_BUFFSIZE
/// (4 MiB default, NCCL environment-variable docs) for each of the two ring neighbours,
/// on each channel; H100 NVLink rings open 16 channels by default (NCCL_MIN_NCHANNELS
/// is raised to 16 on NVSwitch systems), so 2 x 16 x 4 MiB = 128 MiB. Groups of one
/// rank open no communicator.
pub const NCCL_COMM_BYTES: f64 = 2.0 * 16.0 * 4.0 * 1048576.0;
/// Caching-allocator fragmentation under recomputation, as a fraction of the
/// activation bytes. GMLake (Guo et al., ASPLOS 2024) traces it to the "frequent and
/// irregular" allocations that recomputation (and offloading) add to a step: recomputed
/// tensors are freed in a different order than they were made, leaving blocks that
/// PyTorch's caching allocator holds reserved but cannot reuse; across eight LLMs on
/// A100-80GB it removed 15% fragmentation on average (up to 33%). Without
/// recomputation each micro-batch repeats the same allocations and reuses the same
/// cached blocks, and model states are allocated once in a few large buffers
/// (Megatron's contiguous grad buffer, the distributed optimizer's shards): neither is
/// charged.
pub const FRAGMENTATION: f64 = 0.15;
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
    /// CUDA context, communication buffers, workspaces, fragmentation: the sum of the
    /// three fields below.
    pub other: f64,
    /// Of `other`: the CUDA context and library workspaces ([`CUDA_CONTEXT_BYTES`]).
    pub context: f64,
    /// Of `other`: NCCL buffers, one set per communicator ([`NCCL_COMM_BYTES`]).
    pub nccl: f64,
    /// Of `other`: caching-allocator fragmentation ([`FRAGMENTATION`] of activations).
    pub fragmentation: f64,
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
    /// Of `compute_s`: FP8 casts, transposes, weight casts and amax reductions per
    /// micro-batch, seconds.
    pub fp8_cast_s: f64,
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
    let mut parts = Vec::with_capacity(p as usize);
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
        // FP8 weights cast on the first micro-batch of a step: spread over all of them.
        // Amaxes reduced after every forward and backward.
        let weight_cast = add(&|c| c.fp8_weight_cast_s) / l.microbatches.max(1) as f64;
        let amax = fp8_amax_s(ctx, &inp.comm, n_dense + n_moe);
        fwd += weight_cast + amax;
        bwd += amax;
        compute += weight_cast + 2.0 * amax;
        let fp8_cast = add(&|c| c.fp8_cast_s) + weight_cast + 2.0 * amax;
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
            // Output layer: the last stage holds (a copy of) the word embeddings; with
            // one stage, tied embeddings are the same tensor as the input's.
            dense_params += head_params(m, i == 0, v * h / tp);
            let hc = head_cost(ctx, k);
            let ag = inp.comm.all_gather_s(t * h * 2.0, ctx.tp_group());
            // Each multi-token-prediction module passes through the shared head again,
            // after its own projection of [hidden; next embedding] (2h -> h).
            let heads = 1.0 + m.mtp_depth as f64;
            let (proj_f, proj_b, proj_params) = mtp_projection(ctx, k);
            fwd += heads * (hc.gemm_s + hc.ce_fwd_s + ag) + proj_f;
            bwd += heads * (2.0 * hc.gemm_s + hc.ce_bwd_s + ag) + proj_b;
            compute += heads * (3.0 * hc.gemm_s + hc.ce_fwd_s + hc.ce_bwd_s) + proj_f + proj_b;
            extra_act += heads * LOGIT_BYTES * t * v / tp;
            dense_params += proj_params;
        }
        let (zf, zb) = zero_per_microbatch(inp, dense_params, expert_params);
        let exp = |c: f64, under: f64| if ov.dp_comm { (c - under).max(0.0) } else { c };
        let zero = (exp(zf, fwd), exp(zb, bwd));
        fwd += p2p + zero.0;
        bwd += p2p + zero.1;
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
            fp8_cast_s: fp8_cast,
            dense_params,
            expert_params,
            memory: MemoryBreakdown::default(),
        });
        parts.push((
            StageMemory {
                states: model_states(l, ctx.training, dense_params, expert_params),
                stored,
                extra: extra_act,
            },
            working,
        ));
    }
    for (i, s) in out.iter_mut().enumerate() {
        let (own, working) = &parts[i];
        let (partner, _) = &parts[partner(l.schedule, i, parts.len())];
        s.memory = device_memory(l, ctx.training, i as u32, own, partner, *working);
    }
    out
}

/// Output-layer parameters a last stage adds (`vh_tp` = vocab x hidden / tp): none when
/// it is also the first stage and the embeddings are tied (one tensor serves both).
pub fn head_params(m: &ModelSpec, also_first: bool, vh_tp: f64) -> f64 {
    if also_first && m.tied_embeddings {
        0.0
    } else {
        vh_tp
    }
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

/// What one pipeline stage puts in its GPU's memory before the schedule's in-flight
/// count and DualPipe's pairing are applied.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageMemory {
    /// Weights, gradients and optimizer states, bytes ([`model_states`]).
    pub states: (f64, f64, f64),
    /// Activations one micro-batch leaves on the stage until its backward, bytes.
    pub stored: f64,
    /// Activations that do not grow with micro-batches in flight (the loss's logits),
    /// bytes.
    pub extra: f64,
}

/// Memory of the GPU that runs stage `i` at the schedule's peak, with `working` bytes
/// of one layer's full activations (full recompute) on top.
///
/// DualPipe's rank `i` holds stage `i` of one direction and stage `p - 1 - i` of the
/// other (DeepSeek-V3 report, section 3.2.1 and Table 2: "2x" parameters, PP + 1
/// micro-batches of activations): the weights and gradients of both stages, and PP + 1
/// in-flight micro-batches split as the schedule warms up. Its warm-up runs
/// 2 (p/2 - r - 1) forwards of the chunk early in its direction, then r + 1 pairs of
/// both, r = min(i, p - 1 - i) (deepseek-ai/DualPipe, the schedule's steps 1-2), and
/// the steady state adds one more: stage `j` holds p - j micro-batches, as under
/// 1F1B, and the GPU p + 1 in all. The optimizer states are one copy: the two copies
/// of a stage are data-parallel replicas whose sharded optimizer covers the stage once
/// (the report counts two copies of the parameters only).
pub fn device_memory(
    l: &ResolvedLayout,
    tr: &Training,
    i: u32,
    own: &StageMemory,
    partner: &StageMemory,
    working: f64,
) -> MemoryBreakdown {
    let held = in_flight(l.schedule, i, l.pp, l.microbatches, l.vpp);
    let p = l.pp;
    let (states, activations) = if l.schedule == Schedule::DualPipe && p > 1 {
        let (a, b) = (own.states, partner.states);
        (
            (a.0 + b.0, a.1 + b.1, (a.2 + b.2) / 2.0),
            // With fewer micro-batches than p + 1 the warm-up stops early: scaled.
            held / (p + 1) as f64 * ((p - i) as f64 * own.stored + (i + 1) as f64 * partner.stored)
                + own.extra
                + partner.extra,
        )
    } else {
        (own.states, held * own.stored + own.extra)
    };
    let (states, activations) = if tr.mixed_precision == MixedPrecision::TorchAmp {
        amp_peak(l, states, activations + working)
    } else {
        (states, activations + working)
    };
    breakdown(states, activations, fixed_bytes(l), fragmentation_share(tr))
}

/// The fraction of activation bytes lost to fragmentation: [`FRAGMENTATION`] when
/// recomputation redoes work in backward (full, or selective with a module that has
/// something to redo: the attention core only without flash attention, whose backward
/// recomputes the scores anyway), else none.
pub fn fragmentation_share(tr: &Training) -> f64 {
    use crate::spec::training::RecomputeModule as M;
    let redoes = match tr.recompute {
        Recompute::Full => true,
        Recompute::None => false,
        Recompute::Selective => tr
            .recompute_modules
            .iter()
            .any(|&m| m != M::CoreAttn || !tr.flash_attention),
    };
    if redoes {
        FRAGMENTATION
    } else {
        0.0
    }
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
    // BF16 weights, plus the quantized copies the recipe keeps between micro-batches.
    // (Applied to every parameter: the embedding and output layer, which have none, are
    // a small share of the weights except in small models with large vocabularies.)
    let weight_bytes = super::fp8::weight_bytes(tr);
    if tr.mixed_precision == MixedPrecision::TorchAmp {
        // The FP32 parameters are the master weights: counted as weights, not again
        // in the optimizer (whose moments are what remains of its bytes).
        let master = MASTER_BYTES.min(tr.optimizer_bytes_per_param);
        return (
            master * sharded(3),
            tr.grad_bytes_per_param * sharded(2),
            (tr.optimizer_bytes_per_param - master) * sharded(1),
        );
    }
    (
        weight_bytes * sharded(3),
        tr.grad_bytes_per_param * sharded(2),
        tr.optimizer_bytes_per_param * sharded(1),
    )
}

/// Bytes of an FP32 master weight.
const MASTER_BYTES: f64 = 4.0;
/// Bytes of the BF16 copy `torch.autocast` makes of each FP32 weight a matmul uses: it
/// caches the cast for the rest of the autocast region ("Imitate Apex and cache some of
/// the casts ... lower_precision_fp casts of fp32 model weights",
/// aten/src/ATen/autocast_mode.cpp), and autograd keeps it as the matmul's saved
/// input until that layer's backward.
const AUTOCAST_CAST_BYTES: f64 = 2.0;

/// Under PyTorch AMP the step has two peaks, and the larger is the GPU's:
/// - the end of the forward: FP32 parameters and moments, the BF16 casts of every
///   weight (kept for backward), all activations; gradients do not exist yet on the
///   step's first micro-batch (`set_to_none`), but later micro-batches accumulate into
///   them, so they count when there is more than one;
/// - the optimizer step: parameters, gradients and moments, activations freed. The
///   fused AdamW (`torch._fused_adamw_`) updates in place, allocating nothing.
///
/// Returns (weights, gradients, optimizer) and activations at the peak.
fn amp_peak(
    l: &ResolvedLayout,
    (w, g, o): (f64, f64, f64),
    activations: f64,
) -> ((f64, f64, f64), f64) {
    let casts = w / MASTER_BYTES * AUTOCAST_CAST_BYTES;
    let grads_in_forward = if l.microbatches > 1 { g } else { 0.0 };
    let forward = w + casts + grads_in_forward + o + activations;
    let step = w + g + o;
    if forward >= step {
        ((w + casts, grads_in_forward, o), activations)
    } else {
        ((w, g, o), 0.0)
    }
}

/// Memory that does not depend on the model, bytes: the CUDA context and one set of
/// NCCL buffers per communicator the GPU belongs to (tensor, context, expert,
/// data-parallel for dense and for expert parameters, pipeline), each when its group
/// has more than one rank.
pub fn fixed_bytes(l: &ResolvedLayout) -> f64 {
    let groups = [
        l.tp,
        l.cp,
        l.ep,
        l.dp * l.cp,
        if l.ep > 1 { l.expert_dp() } else { 1 },
        l.pp,
    ];
    let comms = groups.iter().filter(|&&g| g > 1).count() as f64;
    CUDA_CONTEXT_BYTES + comms * NCCL_COMM_BYTES
}

/// The full breakdown from model states and activations, with `fixed` bytes of
/// context and communication buffers ([`fixed_bytes`]) and `frag_share` of the
/// activations lost to fragmentation ([`fragmentation_share`]).
pub fn breakdown(
    (weights, gradients, optimizer): (f64, f64, f64),
    activations: f64,
    fixed: f64,
    frag_share: f64,
) -> MemoryBreakdown {
    let fragmentation = frag_share * activations;
    let context = CUDA_CONTEXT_BYTES.min(fixed);
    MemoryBreakdown {
        weights,
        gradients,
        optimizer,
        activations,
        other: fixed + fragmentation,
        context,
        nccl: fixed - context,
        fragmentation,
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
    // write the BF16 weight (PyTorch AMP has none: its master weights are the model's).
    let bf16_copy = match tr.mixed_precision {
        MixedPrecision::Megatron => 2.0,
        MixedPrecision::TorchAmp => 0.0,
    };
    let bytes_per_param = 2.0 * tr.optimizer_bytes_per_param + gb + bf16_copy;
    DpSync {
        grad_s,
        param_s,
        grad_exposed_s,
        contention_s,
        param_exposed_s,
        optimizer_s: inp.kernels.optimizer_s(local * bytes_per_param),
    }
}
