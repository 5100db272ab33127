//! Pipeline stages: sums of their layers, plus the embedding on the first stage and
//! the output layer and loss on the last, the p2p transfers between stages and the
//! memory each stage holds. The data-parallel traffic is priced in [`super::dp_sync`].

use serde::Serialize;

use super::comm::Comm;
use super::compute::KernelModel;
use super::fp8::fp8_amax_s;
use super::head::head_cost;
use super::layer::{layer_cost, LayerCost, LayerCtx, ACT};
use super::offload;
use super::pipeline::partner;
use crate::spec::layout::Overlap;
use crate::spec::training::{MoeDispatcher, Recompute};
use crate::spec::ModelSpec;

// The data-parallel traffic lives in `dp_sync`; re-exported so a stage's users find it here.
pub use super::dp_sync::{
    collective_sm_share, dp_groups, dp_sync, gpu_sms_for_collectives, DpGroups, DpSync,
};
use super::dp_sync::{zero3_edges, zero_per_microbatch};
// Memory per GPU lives in `memory`; re-exported so a stage's users find it here.
pub use super::memory::{
    breakdown, device_memory, fixed_bytes, fragmentation_share, model_states, MemoryBreakdown,
    StageMemory, CUDA_CONTEXT_BYTES, FRAGMENTATION, NCCL_COMM_BYTES,
};

/// Bytes per element of the vocabulary-parallel logits kept for the loss: BF16 logits
/// plus FP32 softmax (Megatron's fused cross-entropy keeps both).
pub const LOGIT_BYTES: f64 = 6.0;

mod body;
pub use body::StageBody;

/// One pipeline stage on one GPU.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageCost {
    /// Transformer layers on the stage.
    pub layers: u32,
    /// Forward work per micro-batch, exposed communication and ZeRO traffic included,
    /// pipeline sends not (they are [`Self::p2p_s`]), seconds.
    pub fwd_s: f64,
    /// Backward work per micro-batch (with recomputation), as `fwd_s`, seconds.
    pub bwd_s: f64,
    /// Of `bwd_s`, the weight-gradient GEMMs (what ZB-H1 and DualPipe defer), seconds.
    pub wgrad_s: f64,
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
    /// Blocking pipeline sends per micro-batch in each direction (one per model chunk;
    /// 0 when overlapped), seconds.
    pub p2p_s: f64,
    /// Exposed ZeRO-2/3 traffic per micro-batch (gradient reduce-scatter, weight
    /// all-gathers) with the compute its overlapped part slows (`collective_sm_s`),
    /// seconds (forward, backward); [`Self::zero_s`] is their sum.
    pub zero_fb_s: (f64, f64),
    /// Of `zero_s`: compute slowed while the overlapped ZeRO traffic holds SMs
    /// ([`collective_sm_share`]), per micro-batch, seconds.
    pub collective_sm_s: f64,
    /// Under ZeRO-3, the reduce-scatter of the stage's last sharding unit that the last
    /// micro-batch's backward leaves after it, beyond what `zero_s` already exposes,
    /// once per step ([`super::dp_sync::zero3_edges`]), seconds.
    pub zero3_drain_s: f64,
    /// Of `zero_s`: under ZeRO-3, the forward's wait for the stage's first sharding
    /// unit beyond what the overlapped gathers expose anyway, per micro-batch
    /// ([`super::dp_sync::zero3_edges`]), seconds.
    pub zero3_fill_s: f64,
    /// Of `compute_s`: FP8 casts, transposes, weight casts and amax reductions per
    /// micro-batch, seconds.
    pub fp8_cast_s: f64,
    /// Of `compute_s`: MoE token permute and un-permute per micro-batch, seconds.
    pub moe_permute_s: f64,
    /// Of `compute_s`: the cross-entropy loss's memory-bound passes, forward plus
    /// backward, per micro-batch (last stage; [`super::head`]), seconds.
    pub loss_s: f64,
    /// Of `fwd_s` and `bwd_s`: the work that runs in the stage's first model chunk only,
    /// not spread over its virtual stages (the embedding, first stage; Megatron's
    /// interleaved schedule puts it in the first chunk), per micro-batch, seconds
    /// (forward, backward).
    pub first_chunk_s: (f64, f64),
    /// Of `fwd_s` and `bwd_s`: the work that runs in the stage's last model chunk only
    /// (the output layer, loss and MTP modules, last stage), per micro-batch, seconds
    /// (forward, backward).
    pub last_chunk_s: (f64, f64),
    /// Activation copies to and from host memory the layers' compute does not hide,
    /// per micro-batch, forward plus backward (in `fwd_s` and `bwd_s`), seconds
    /// ([`super::offload`]).
    pub offload_s: f64,
    /// Parameters on this GPU replicated across expert parallelism.
    pub dense_params: f64,
    /// Routed-expert parameters on this GPU.
    pub expert_params: f64,
    /// Memory at the stage's peak.
    pub memory: MemoryBreakdown,
}

impl StageCost {
    /// Exposed ZeRO-2/3 traffic per micro-batch, forward plus backward, with the compute
    /// its overlapped part slows, seconds.
    pub fn zero_s(&self) -> f64 {
        self.zero_fb_s.0 + self.zero_fb_s.1
    }

    /// Forward time per micro-batch as the closed forms see the stage: its work plus
    /// its blocking pipeline sends, seconds.
    pub fn pipeline_fwd_s(&self) -> f64 {
        self.fwd_s + self.p2p_s
    }

    /// Backward time per micro-batch as the closed forms see the stage, seconds.
    pub fn pipeline_bwd_s(&self) -> f64 {
        self.bwd_s + self.p2p_s
    }
}

/// Everything the stage builder needs.
pub struct StageInputs<'a> {
    /// Layer context.
    pub ctx: LayerCtx<'a>,
    /// Kernel timing model.
    pub kernels: &'a dyn KernelModel,
    /// Collective model.
    pub comm: Comm<'a>,
    /// The layout's data-parallel groups, shaped once ([`DpGroups::new`]).
    pub dp: DpGroups,
    /// Share of the GPU's compute an overlapped expert all-to-all takes while it runs
    /// ([`ep_sm_share`]), fraction.
    pub ep_sm_share: f64,
}

impl<'a> StageInputs<'a> {
    /// Inputs for `ctx`'s layout on `comm`'s cluster, on a GPU whose compute kernels run
    /// on `gpu_sms` SMs ([`gpu_sms_for_collectives`]).
    pub fn new(
        ctx: LayerCtx<'a>,
        kernels: &'a dyn KernelModel,
        comm: Comm<'a>,
        gpu_sms: f64,
    ) -> Self {
        StageInputs {
            ctx,
            kernels,
            comm,
            dp: DpGroups::new(ctx.layout, &comm, gpu_sms),
            ep_sm_share: ep_sm_share(&ctx, &comm, gpu_sms),
        }
    }
}

/// SMs DeepEP's kernels run on (its `Buffer.num_sms` default; Megatron-Core's
/// `moe_deepep_num_sms`, later `moe_flex_dispatcher_num_sms`, historical default), count.
pub const DEEPEP_SMS: f64 = 20.0;

/// SMs HybridEP's kernels run on as NVIDIA's published Megatron-Bridge runs set them
/// (`moe_hybridep_num_sms = 32`, scripts/performance/utils/overrides.py @v0.4.1), count.
pub const HYBRIDEP_SMS: f64 = 32.0;

/// Share of the GPU's `gpu_sms` an expert all-to-all holds while it runs beside
/// compute (`overlap.ep_comm`): DeepEP's [`DEEPEP_SMS`], HybridEP's [`HYBRIDEP_SMS`],
/// or the NCCL channels of the expert-parallel group ([`Comm::collective_ctas`]: NCCL's
/// all-to-all sends run on its channels, one CTA each). 0 without the overlap, or when
/// the layout reserves SMs for communication for the whole step (`gpu_sms` 0). Fraction.
pub fn ep_sm_share(ctx: &LayerCtx, comm: &Comm, gpu_sms: f64) -> f64 {
    let l = ctx.layout;
    if !l.overlap.ep_comm || l.ep <= 1 || gpu_sms <= 0.0 {
        return 0.0;
    }
    let sms = match ctx.training.moe_dispatcher {
        MoeDispatcher::Deepep => DEEPEP_SMS,
        MoeDispatcher::Hybridep => HYBRIDEP_SMS,
        MoeDispatcher::AllToAll => f64::from(comm.collective_ctas(ctx.ep_group())),
    };
    (sms / gpu_sms).min(1.0)
}

/// One layer kind's terms as a stage sums them (overlap applied), per micro-batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayerTerms {
    fwd: f64,
    bwd: f64,
    compute: f64,
    wgrad: f64,
    tp: f64,
    ep: f64,
    ep_bwd: f64,
    cp: f64,
    dense_params: f64,
    expert_params: f64,
    stored: f64,
    fp8_cast: f64,
    permute: f64,
    wcast: f64,
}

impl LayerTerms {
    /// `ep_share`: the compute the hidden part of the expert all-to-all slows, counted
    /// with the all-to-all ([`ep_sm_share`]).
    fn new(c: &LayerCost, ov: &Overlap, ep_share: f64) -> Self {
        let e = c.exposed(ov);
        let ep = c.ep_s();
        let hidden = (ep.0 - e.ep.0, ep.1 - e.ep.1);
        let slowed = (hidden.0 * ep_share, hidden.1 * ep_share);
        LayerTerms {
            fwd: c.fwd_s(ov) + slowed.0,
            bwd: c.bwd_s(ov) + slowed.1,
            compute: c.fwd_compute_s + c.bwd_compute_s + c.recompute_s,
            wgrad: c.wgrad_s,
            tp: e.tp.0 + e.tp.1,
            ep: e.ep.0 + e.ep.1 + slowed.0 + slowed.1,
            ep_bwd: c.ep_bwd_s,
            cp: e.cp.0 + e.cp.1,
            dense_params: c.dense_params,
            expert_params: c.expert_params,
            stored: c.stored_bytes,
            fp8_cast: c.fp8_cast_s,
            permute: c.moe_permute_s,
            wcast: c.fp8_weight_cast_s,
        }
    }
}

/// What every stage of a layout takes from its inner shape (tp, cp, ep, micro-batch,
/// sequence parallelism, recompute, overlap): the two layer kinds and what the first
/// and last stage add. A search computes it once per inner shape and shares it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageParts {
    dense: Option<LayerTerms>,
    moe: Option<LayerTerms>,
    /// Embedding lookup (forward) or its gradient scatter-add (backward), seconds.
    emb_s: f64,
    /// The embedding's dense weight gradient per micro-batch (backward), seconds
    /// ([`super::elementwise::embedding_grad_bytes`]).
    emb_grad_s: f64,
    /// The embedding's output kept for backward, bytes.
    emb_stored: f64,
    /// Word (and learned position) embeddings on the first stage, with a vision
    /// encoder trained beside them (its linears split over tp), parameters.
    emb_params: f64,
    /// Output-layer GEMM forward, seconds.
    head_s: f64,
    /// Cross-entropy over the vocabulary-parallel logits, forward and backward, seconds.
    ce_s: (f64, f64),
    /// All-gather of the sequence-parallel hidden states before the output layer, seconds.
    head_ag_s: f64,
    /// Logits kept for the loss, per pass through the head, bytes.
    logits_bytes: f64,
    /// Output-layer weights on the last stage, parameters.
    head_params: f64,
    /// The word embeddings are tied to the output layer.
    tied: bool,
    /// Passes through the shared head: 1 + multi-token-prediction depth.
    heads: f64,
    /// MTP projections: forward s, backward s, weight-gradient s, parameters per GPU.
    mtp_proj: (f64, f64, f64, f64),
    /// Full-recompute working set (one layer's activations while it is replayed), bytes.
    working: f64,
    /// Layers per stage offloaded to host memory (`training.activation_offload_layers`).
    offload_layers: u32,
    /// One layer's full-recompute checkpoint per micro-batch when it is held in host
    /// memory (`training.checkpoint_offload`), bytes; 0 otherwise.
    ckpt_offload: f64,
    /// Host link per GPU per direction, bytes/s (`cluster.host_link_bw`).
    host_bw: f64,
}

/// The layer-kind costs and end-of-pipeline pieces of the layout in `inp`.
pub fn stage_parts(inp: &StageInputs) -> StageParts {
    let ctx = &inp.ctx;
    let m = ctx.model;
    let l = ctx.layout;
    let k = inp.kernels;
    // Layer costs depend only on the layer's kind: compute each kind once.
    let first_moe = (0..m.layers).find(|&i| m.is_moe_layer(i));
    let first_dense = (0..m.layers).find(|&i| !m.is_moe_layer(i));
    let dense = first_dense.map(|i| layer_cost(ctx, i, k, &inp.comm));
    let moe = first_moe.map(|i| layer_cost(ctx, i, k, &inp.comm));
    let t = ctx.tokens();
    let h = m.hidden as f64;
    let v = m.vocab as f64;
    let tp = l.tp as f64;
    let sp = ctx.sp_div();
    let working = if ctx.training.recompute == Recompute::Full {
        dense
            .iter()
            .chain(moe.iter())
            .map(|c| c.working_bytes)
            .fold(0.0, f64::max)
    } else {
        0.0
    };
    let ov = &l.overlap;
    let hc = head_cost(ctx, k);
    StageParts {
        dense: dense.map(|c| LayerTerms::new(&c, ov, 0.0)),
        moe: moe.map(|c| LayerTerms::new(&c, ov, inp.ep_sm_share)),
        // Embedding lookup writes T x h; its gradient scatter-adds back.
        emb_s: k.memory_s(2.0 * t * h * 2.0 / sp),
        emb_grad_s: k.memory_s(
            super::elementwise::embedding_grad_bytes(ctx.training) * (v * h + position_params(ctx))
                / tp,
        ),
        emb_stored: 2.0 * t * h / sp,
        // A vision encoder trained with the model is held with the embeddings, where
        // Megatron-LM's `LLaVAModel` keeps it ("only the first stage",
        // megatron/core/models/multimodal/llava_model.py), its linears split over tp.
        emb_params: v * h / tp
            + position_params(ctx) / tp
            + super::params::vision_total(ctx.model) / tp,
        head_s: hc.gemm_s,
        ce_s: (hc.ce_fwd_s, hc.ce_bwd_s),
        head_ag_s: inp.comm.all_gather_s(t * h * 2.0, ctx.tp_group()),
        logits_bytes: LOGIT_BYTES * t * v / tp,
        // The last stage holds (a copy of) the word embeddings.
        head_params: v * h / tp,
        tied: m.tied_embeddings,
        // Each multi-token-prediction module passes through the shared head again,
        // after its own projection of [hidden; next embedding] (2h -> h).
        heads: 1.0 + m.mtp_depth as f64,
        mtp_proj: mtp_projection(ctx, k),
        working,
        offload_layers: ctx.training.activation_offload_layers,
        // The checkpoint is the layer's input, hidden-sized (split over tp under
        // sequence parallelism), for the share of layers full recompute replays.
        ckpt_offload: if ctx.training.checkpoint_offload {
            ctx.training.replayed_share() * ACT * t * h / sp
        } else {
            0.0
        },
        host_bw: inp.comm.host_link_bw(),
    }
}

impl StageParts {
    /// Whether two inner shapes cost exactly the same.
    pub fn same_as(&self, o: &StageParts) -> bool {
        self == o
    }
}

impl StageBody {
    /// Activations `o` moves to host memory: they leave the GPU, and the copies its
    /// layers do not hide lengthen the forward and backward.
    fn move_to_host(&mut self, o: offload::StageOffload) {
        self.stored_bytes -= o.bytes;
        self.offloaded_bytes += o.bytes;
        self.fwd_s += o.fwd_s;
        self.bwd_s += o.bwd_s;
        self.offload_s += o.fwd_s + o.bwd_s;
    }
}

/// Which blocks a stage runs: `layers` of the model (`n_dense` dense and `n_moe` MoE
/// blocks, MTP blocks included), and whether it is the first or the last stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageShape {
    /// Transformer layers of the model on the stage.
    pub layers: u32,
    /// Dense blocks (MTP blocks included).
    pub n_dense: f64,
    /// MoE blocks (MTP blocks included).
    pub n_moe: f64,
    /// Holds the embedding.
    pub first: bool,
    /// Holds the output layer, the loss and the MTP modules.
    pub last: bool,
}

/// The shape of stage `i` of `p`, which runs `layers` layers of the model of which
/// `moe_layers` are MoE layers.
pub fn stage_shape(m: &ModelSpec, layers: u32, moe_layers: u32, i: u32, p: u32) -> StageShape {
    let last = i == p - 1;
    let (mtp_dense, mtp_moe) = mtp_blocks(m, last);
    let n_moe = moe_layers as f64 + mtp_moe;
    StageShape {
        layers,
        n_dense: layers as f64 + mtp_dense + mtp_moe - n_moe,
        n_moe,
        first: i == 0,
        last,
    }
}

/// The work of a stage of shape `sh`: every cost mechanism of a layer reaches a stage
/// through here (the analytic stages and the search's fast path both call it).
pub fn stage_body(parts: &StageParts, sh: &StageShape) -> StageBody {
    let add = |f: &dyn Fn(&LayerTerms) -> f64| {
        sh.n_dense * parts.dense.as_ref().map_or(0.0, f)
            + sh.n_moe * parts.moe.as_ref().map_or(0.0, f)
    };
    let mut b = StageBody {
        layers: sh.layers,
        fwd_s: add(&|c| c.fwd),
        bwd_s: add(&|c| c.bwd),
        wgrad_s: add(&|c| c.wgrad),
        compute_s: add(&|c| c.compute),
        tp_comm_s: add(&|c| c.tp),
        ep_comm_s: add(&|c| c.ep),
        ep_bwd_s: add(&|c| c.ep_bwd),
        cp_comm_s: add(&|c| c.cp),
        dense_params: add(&|c| c.dense_params),
        expert_params: add(&|c| c.expert_params),
        stored_bytes: add(&|c| c.stored),
        offloaded_bytes: 0.0,
        offload_s: 0.0,
        working_bytes: parts.working,
        logits_bytes: 0.0,
        fp8_cast_s: add(&|c| c.fp8_cast),
        moe_permute_s: add(&|c| c.permute),
        loss_s: 0.0,
        first_chunk_s: (0.0, 0.0),
        last_chunk_s: (0.0, 0.0),
        weight_cast_s: add(&|c| c.wcast),
        blocks: sh.n_dense + sh.n_moe,
        outside_params: 0.0,
    };
    if parts.offload_layers > 0 {
        // The transformer layers' activations only: the embedding's output and the
        // logits stay (TE's context wraps the layers).
        let o = offload::stage_offload(
            parts.offload_layers,
            sh.layers,
            (b.stored_bytes, b.fwd_s, b.bwd_s),
            b.blocks,
            parts.host_bw,
        );
        b.move_to_host(o);
    }
    if parts.ckpt_offload > 0.0 {
        b.move_to_host(offload::blocking_checkpoint_offload(
            sh.layers,
            parts.ckpt_offload,
            parts.host_bw,
        ));
    }
    if sh.first {
        b.dense_params += parts.emb_params;
        b.outside_params += parts.emb_params;
        b.fwd_s += parts.emb_s;
        b.bwd_s += parts.emb_s + parts.emb_grad_s;
        b.first_chunk_s = (parts.emb_s, parts.emb_s + parts.emb_grad_s);
        b.compute_s += 2.0 * parts.emb_s + parts.emb_grad_s;
        b.stored_bytes += parts.emb_stored;
    }
    if sh.last {
        let (heads, p) = (parts.heads, parts);
        let (proj_f, proj_b, proj_w, proj_params) = p.mtp_proj;
        // With one stage, tied embeddings are the same tensor as the input's.
        let outside = head_params(p.tied, sh.first, p.head_params) + proj_params;
        b.dense_params += outside;
        b.outside_params += outside;
        // The output GEMM's backward: its input gradient and weight gradient.
        let (ce_f, ce_b) = p.ce_s;
        let end = (
            heads * (p.head_s + ce_f + p.head_ag_s) + proj_f,
            heads * (2.0 * p.head_s + ce_b + p.head_ag_s) + proj_b,
        );
        b.fwd_s += end.0;
        b.bwd_s += end.1;
        b.last_chunk_s = end;
        b.wgrad_s += heads * p.head_s + proj_w;
        b.compute_s += heads * (3.0 * p.head_s + ce_f + ce_b) + proj_f + proj_b;
        b.loss_s = heads * (ce_f + ce_b);
        b.tp_comm_s += 2.0 * heads * p.head_ag_s;
        b.logits_bytes = heads * p.logits_bytes;
    }
    b
}

/// Blocking pipeline sends per micro-batch in each direction, seconds: an interleaved
/// micro-batch enters and leaves every stage once per model chunk, vpp sends each way
/// (Narayanan et al. 2021, section 2.2.2); none when sends overlap compute.
pub fn p2p_blocking_s(inp: &StageInputs) -> f64 {
    let l = inp.ctx.layout;
    if l.overlap.p2p {
        0.0
    } else {
        l.vpp as f64 * p2p_transfer_s(inp)
    }
}

/// Pipeline sends the interleaved schedule's fill and drain expose when sends overlap
/// compute, seconds per step ([`super::pipeline::send_chain_s`]).
pub fn p2p_chain_s(inp: &StageInputs) -> f64 {
    let l = inp.ctx.layout;
    super::pipeline::send_chain_s(l.schedule, l.pp, l.vpp, p2p_transfer_s(inp), l.overlap.p2p)
}

/// One micro-batch's activations sent to the next stage, seconds: each
/// tensor-parallel rank sends its 1/tp share, BF16, to the rank `tp x cp x dp` away.
/// 0 without pipeline parallelism. The simulator puts this on the link between stages.
pub fn p2p_transfer_s(inp: &StageInputs) -> f64 {
    let ctx = &inp.ctx;
    let l = ctx.layout;
    if l.pp <= 1 {
        return 0.0;
    }
    let bytes = ctx.tokens() * ctx.model.hidden as f64 * 2.0 / l.tp as f64;
    inp.comm.p2p_s(bytes, super::comm::pp_stride(l))
}

/// The stage's times from its body: ZeRO-2/3 traffic per micro-batch exposed beyond
/// the work it overlaps (when `overlap.dp_comm`), and `p2p_s` of blocking sends each
/// way. Memory is left empty (see [`stage_memory`]).
pub fn stage_timed(inp: &StageInputs, b: &StageBody, p2p_s: f64) -> StageCost {
    // FP8 weights cast on the first micro-batch of a step: spread over all of them.
    // Amaxes reduced after every forward and backward.
    let weight_cast = b.weight_cast_s / inp.ctx.layout.microbatches.max(1) as f64;
    let amax = fp8_amax_s(&inp.ctx, &inp.comm, b.blocks);
    let copy = unshard_copy_s(inp, b.dense_params + b.expert_params);
    let (fwd, bwd) = (b.fwd_s + weight_cast + amax + copy, b.bwd_s + amax + copy);
    let (zf, zb) = zero_per_microbatch(inp, b.dense_params, b.expert_params, b.blocks);
    let exp = |c: f64, under: f64| {
        if inp.ctx.layout.overlap.dp_comm {
            (c - under).max(0.0)
        } else {
            c
        }
    };
    // A backward that waits for each reduce-scatter hides none of its traffic.
    let bwd_under = if inp.ctx.training.zero3_reduce_blocks_backward {
        0.0
    } else {
        bwd
    };
    // Nothing runs before the first unit's gather: each micro-batch's forward waits for
    // it (its parameters were freed after the previous backward).
    let (fill, drain) = zero3_edges(inp, b);
    let beyond_fwd = exp(zf, fwd);
    let zero = (beyond_fwd.max(fill), exp(zb, bwd_under));
    // The part of the traffic that runs beside compute slows it by its SMs' share.
    let share = inp.dp.sm_share;
    let sm = ((zf - zero.0) * share, (zb - zero.1) * share);
    StageCost {
        layers: b.layers,
        fwd_s: fwd + zero.0 + sm.0,
        bwd_s: bwd + zero.1 + sm.1,
        wgrad_s: b.wgrad_s,
        compute_s: b.compute_s + weight_cast + 2.0 * amax + 2.0 * copy,
        tp_comm_s: b.tp_comm_s,
        ep_comm_s: b.ep_comm_s,
        ep_bwd_s: b.ep_bwd_s,
        cp_comm_s: b.cp_comm_s,
        p2p_s,
        zero_fb_s: (zero.0 + sm.0, zero.1 + sm.1),
        collective_sm_s: sm.0 + sm.1,
        zero3_drain_s: (drain - zero.1).max(0.0),
        zero3_fill_s: zero.0 - beyond_fwd,
        fp8_cast_s: b.fp8_cast_s + weight_cast + 2.0 * amax,
        moe_permute_s: b.moe_permute_s,
        loss_s: b.loss_s,
        first_chunk_s: b.first_chunk_s,
        last_chunk_s: b.last_chunk_s,
        offload_s: b.offload_s,
        dense_params: b.dense_params,
        expert_params: b.expert_params,
        memory: MemoryBreakdown::default(),
    }
}

/// What a stage of body `b` with model states `states` (see [`model_states`]) puts in
/// its GPU's memory, before the schedule's in-flight count and DualPipe's pairing.
pub fn stage_memory(states: (f64, f64, f64), b: &StageBody) -> StageMemory {
    StageMemory {
        states,
        stored: b.stored_bytes,
        offloaded: b.offloaded_bytes,
        extra: b.logits_bytes,
    }
}

/// Builds every stage of the layout.
pub fn stages(inp: &StageInputs) -> Vec<StageCost> {
    let ctx = &inp.ctx;
    let l = ctx.layout;
    let parts = stage_parts(inp);
    let p2p = p2p_blocking_s(inp);
    let mut out = Vec::with_capacity(l.pp as usize);
    let mut mem = Vec::with_capacity(l.pp as usize);
    let mut first_layer = 0u32;
    for (i, &n) in l.layers_per_stage.iter().enumerate() {
        let i = i as u32;
        let m = ctx.model;
        let moe_layers = (first_layer..first_layer + n)
            .filter(|&j| m.is_moe_layer(j))
            .count() as u32;
        let body = stage_body(&parts, &stage_shape(m, n, moe_layers, i, l.pp));
        first_layer += n;
        let states = model_states(l, ctx.training, body.dense_params, body.expert_params);
        out.push(stage_timed(inp, &body, p2p));
        mem.push((stage_memory(states, &body), body.working_bytes));
    }
    for (i, s) in out.iter_mut().enumerate() {
        let (own, working) = &mem[i];
        let (other, _) = &mem[partner(l.schedule, i, mem.len())];
        s.memory = device_memory(l, ctx.training, i as u32, own, other, *working);
    }
    out
}

/// Output-layer parameters a last stage adds (`vh_tp` = vocab x hidden / tp): none when
/// it is also the first stage and the embeddings are `tied` (one tensor serves both).
pub fn head_params(tied: bool, also_first: bool, vh_tp: f64) -> f64 {
    if also_first && tied {
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

/// The multi-token-prediction modules' 2h -> h projections (split over tp): forward,
/// backward and weight-gradient seconds per micro-batch, and parameters on one GPU.
pub fn mtp_projection(ctx: &LayerCtx, k: &dyn KernelModel) -> (f64, f64, f64, f64) {
    let m = ctx.model;
    if m.mtp_depth == 0 {
        return (0.0, 0.0, 0.0, 0.0);
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
        d * k.gemm_wgrad_s(t, h / tp, 2.0 * h, dt),
        d * 2.0 * h * h / tp,
    )
}

/// Copying one gather of `params` weights out of the all-gather buffer into the
/// parameters (read and write, at the gather's bytes), seconds; 0 unless ZeRO-3 with
/// `training.unshard_copy`. Paid before each forward and each backward.
fn unshard_copy_s(inp: &StageInputs, params: f64) -> f64 {
    let tr = inp.ctx.training;
    if !tr.unshard_copy || inp.ctx.layout.zero < 3 {
        return 0.0;
    }
    inp.kernels
        .memory_s(2.0 * super::fp8::gather_bytes(tr) * params)
}

fn position_params(ctx: &LayerCtx) -> f64 {
    match ctx.model.position_embedding {
        crate::spec::model::PositionEmbedding::Learned => {
            ctx.model.max_position.unwrap_or(0) as f64 * ctx.model.hidden as f64
        }
        _ => 0.0,
    }
}
