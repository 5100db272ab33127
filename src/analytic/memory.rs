//! Memory on one GPU: model states (weights, gradients, optimizer) as sharded by ZeRO,
//! activations at the schedule's peak (DualPipe's two stages per GPU, PyTorch AMP's
//! two peaks), the CUDA context, NCCL buffers and fragmentation.

use serde::Serialize;

use super::pipeline::in_flight;
use crate::spec::layout::{ResolvedLayout, Schedule};
use crate::spec::training::{MixedPrecision, Recompute, Training};
use crate::units::GIB;

/// CUDA context of one process with PyTorch and its library handles (cuBLAS, cuDNN,
/// Transformer Engine workspaces), bytes. PyTorch's "CUDA semantics" notes put the
/// context at 500 MiB-1 GiB depending on the CUDA version and the GPU; with lazy module
/// loading (CUDA_MODULE_LOADING=LAZY, PyTorch's default since CUDA 11.7) the low end.
/// cuBLAS's workspace on Hopper is 32 MiB per stream in PyTorch (CUBLAS_WORKSPACE_CONFIG
/// default :4096:8), inside this figure.
pub const CUDA_CONTEXT_BYTES: f64 = 0.75 * GIB;
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
    /// Activations held in host memory at the peak (`training.activation_offload_layers`),
    /// bytes; not GPU memory, not in [`Self::total`].
    pub host_offloaded: f64,
}

impl MemoryBreakdown {
    /// Sum, bytes.
    pub fn total(&self) -> f64 {
        self.weights + self.gradients + self.optimizer + self.activations + self.other
    }
}

/// What one pipeline stage puts in its GPU's memory before the schedule's in-flight
/// count and DualPipe's pairing are applied.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageMemory {
    /// Weights, gradients and optimizer states, bytes ([`model_states`]).
    pub states: (f64, f64, f64),
    /// Activations one micro-batch leaves on the stage's GPU until its backward, bytes.
    pub stored: f64,
    /// Activations one micro-batch keeps in host memory until its backward, bytes.
    pub offloaded: f64,
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
    let dualpipe = l.schedule == Schedule::DualPipe && p > 1;
    // Bytes per micro-batch of each stage times the micro-batches each holds.
    let in_flight_bytes = |mine: f64, theirs: f64| {
        if dualpipe {
            // With fewer micro-batches than p + 1 the warm-up stops early: scaled.
            held / (p + 1) as f64 * ((p - i) as f64 * mine + (i + 1) as f64 * theirs)
        } else {
            held * mine
        }
    };
    let (states, activations) = if dualpipe {
        let (a, b) = (own.states, partner.states);
        (
            (a.0 + b.0, a.1 + b.1, (a.2 + b.2) / 2.0),
            in_flight_bytes(own.stored, partner.stored) + own.extra + partner.extra,
        )
    } else {
        (own.states, in_flight_bytes(own.stored, 0.0) + own.extra)
    };
    let host_offloaded = in_flight_bytes(own.offloaded, partner.offloaded);
    let (states, activations) = if tr.mixed_precision == MixedPrecision::TorchAmp {
        amp_peak(l, states, activations + working)
    } else {
        (states, activations + working)
    };
    let mut m = breakdown(states, activations, fixed_bytes(l), fragmentation_share(tr));
    m.host_offloaded = host_offloaded;
    m
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
    // ZeRO-Offload keeps the optimizer states in host memory.
    let on_gpu = if tr.optimizer_offload { 0.0 } else { 1.0 };
    if tr.mixed_precision == MixedPrecision::TorchAmp {
        // The FP32 parameters are the master weights: counted as weights, not again
        // in the optimizer (whose moments are what remains of its bytes).
        let master = MASTER_BYTES.min(tr.optimizer_bytes_per_param);
        return (
            master * sharded(3),
            tr.grad_bytes_per_param * sharded(2),
            on_gpu * (tr.optimizer_bytes_per_param - master) * sharded(1),
        );
    }
    (
        weight_bytes * sharded(3),
        tr.grad_bytes_per_param * sharded(2),
        on_gpu * tr.optimizer_bytes_per_param * sharded(1),
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
/// data-parallel for dense and for expert parameters, pipeline, and the experts' own
/// tensor-parallel group when folding gives them one), each when its group has more
/// than one rank.
pub fn fixed_bytes(l: &ResolvedLayout) -> f64 {
    let groups = [
        l.tp,
        l.cp,
        l.ep,
        l.dp * l.cp,
        if l.ep > 1 { l.expert_dp() } else { 1 },
        l.pp,
        if l.folded() { l.etp } else { 1 },
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
        host_offloaded: 0.0,
    }
}
