//! One transformer layer on one GPU for one micro-batch: its GEMMs, attention core,
//! memory-bound kernels, collectives and stored activations.
//!
//! Each layer kind (dense, MoE) reports its own costs; stages and the model are sums
//! over layers. Shapes are per GPU: tokens `T = micro_batch x seq / cp`, head and FFN
//! widths divided by tp, experts by ep. Backward GEMMs cost twice the forward (input
//! and weight gradients); flash-attention backward 2.5x its forward (five matmuls
//! against two).

use serde::Serialize;

use super::comm::{Comm, Group, TokenRoute};
use super::compute::KernelModel;
use super::elementwise::op_bytes;
use super::layer_comm::layer_comm;
use super::params::layer_params;
use crate::spec::gpu::Dtype;
use crate::spec::layout::{Overlap, ResolvedLayout};
use crate::spec::model::{ModelSpec, Moe};
use crate::spec::training::{MoeDispatcher, Recompute, RecomputeModule, Training};
pub use attention::window_note;
use gemms::Gemms;
pub use gemms::{GemmTime, Src};
pub use list::{layer_gemms, GemmList, Inline, LayerGemm, MAX_GEMMS};

mod attention;
mod gemms;
mod list;
mod op_policy;
pub mod ub;

/// Activation bytes per element (BF16 activations, also under FP8 GEMMs).
pub(crate) const ACT: f64 = 2.0;

/// Costs of one layer for one micro-batch on one GPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LayerCost {
    /// Forward compute (GEMMs, attention, memory-bound kernels), seconds.
    pub fwd_compute_s: f64,
    /// Backward compute, seconds.
    pub bwd_compute_s: f64,
    /// Of `bwd_compute_s`, the weight-gradient GEMMs (what ZB-H1 and DualPipe defer),
    /// seconds.
    pub wgrad_s: f64,
    /// Extra forward work redone in backward by recomputation, seconds.
    pub recompute_s: f64,
    /// Whole forward passes replayed in backward (1 with full recompute, else 0).
    pub forward_replays: f64,
    /// Attention core forward alone (what context-parallel rings hide under), seconds.
    pub attn_fwd_s: f64,
    /// Tensor-parallel collectives in forward, seconds (before overlap).
    pub tp_fwd_s: f64,
    /// Expert all-to-all (dispatch + combine) in forward, seconds.
    pub ep_fwd_s: f64,
    /// Expert all-to-all in backward (gradients of combine and dispatch), seconds.
    pub ep_bwd_s: f64,
    /// Context-parallel K/V ring traffic in forward, seconds.
    pub cp_fwd_s: f64,
    /// Tensor-parallel communication left exposed (forward, backward) when Transformer
    /// Engine's userbuffers pair each collective with one GEMM ([`ub`]), seconds;
    /// `None` where the collectives hide under the layer's whole compute instead.
    pub tp_ub_s: Option<(f64, f64)>,
    /// Activation bytes kept from forward to backward.
    pub stored_bytes: f64,
    /// Activation bytes alive while the layer itself runs (full-recompute working set).
    pub working_bytes: f64,
    /// FP8 casts, transposes and amax work in forward plus backward (part of the
    /// compute above), seconds.
    pub fp8_cast_s: f64,
    /// MoE token permute and un-permute copies (around the dispatch and the combine)
    /// in forward plus backward (part of the compute above), seconds.
    pub moe_permute_s: f64,
    /// Casting this layer's FP8-GEMM weights (and their transposes), once per step on
    /// the first micro-batch, seconds.
    pub fp8_weight_cast_s: f64,
    /// Parameters on this GPU that are replicated across expert parallelism.
    pub dense_params: f64,
    /// Routed-expert parameters on this GPU.
    pub expert_params: f64,
}

/// Communication a layer leaves exposed, forward and backward, seconds: the one rule
/// both its times ([`LayerCost::fwd_s`], [`LayerCost::bwd_s`]) and the step's breakdown
/// add up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Exposed {
    /// Tensor-parallel collectives (forward, backward).
    pub tp: (f64, f64),
    /// Expert all-to-all (forward, backward).
    pub ep: (f64, f64),
    /// Context-parallel ring traffic (forward, backward).
    pub cp: (f64, f64),
}

impl LayerCost {
    /// Backward compute with the recomputed forward work, seconds.
    pub fn bwd_total_compute_s(&self) -> f64 {
        self.bwd_compute_s + self.recompute_s
    }

    /// The expert all-to-all per micro-batch before overlap, seconds: forward, and
    /// backward with the collectives each forward replay redoes.
    pub fn ep_s(&self) -> (f64, f64) {
        (
            self.ep_fwd_s,
            self.ep_bwd_s + self.ep_fwd_s * self.forward_replays,
        )
    }

    /// The communication not hidden under the compute it runs beside.
    pub fn exposed(&self, ov: &Overlap) -> Exposed {
        let (cf, cb) = (self.fwd_compute_s, self.bwd_total_compute_s());
        let r = self.forward_replays;
        let ep = self.ep_s();
        // Backward mirrors each forward collective once, plus once per forward replay;
        // ring attention sends K/V and returns dK/dV beside a 2.5x-longer kernel.
        Exposed {
            tp: match self.tp_ub_s {
                // Replayed forwards redo their collectives beside the same GEMMs.
                Some((f, b)) if ov.tp_comm => (f, b + r * f),
                _ => (
                    expose(self.tp_fwd_s, ov.tp_comm, cf),
                    expose(self.tp_fwd_s * (1.0 + r), ov.tp_comm, cb),
                ),
            },
            ep: (expose(ep.0, ov.ep_comm, cf), expose(ep.1, ov.ep_comm, cb)),
            cp: (
                (self.cp_fwd_s - self.attn_fwd_s).max(0.0),
                (self.cp_fwd_s * (2.0 + r) - self.attn_fwd_s * (2.5 + r)).max(0.0),
            ),
        }
    }

    /// Exposed forward time: compute plus the communication not hidden under it.
    pub fn fwd_s(&self, ov: &Overlap) -> f64 {
        let e = self.exposed(ov);
        self.fwd_compute_s + e.tp.0 + e.ep.0 + e.cp.0
    }

    /// Exposed backward time, recomputation and its replayed collectives included.
    pub fn bwd_s(&self, ov: &Overlap) -> f64 {
        let e = self.exposed(ov);
        self.bwd_total_compute_s() + e.tp.1 + e.ep.1 + e.cp.1
    }
}

/// Communication time left after hiding what fits under `compute` when `overlap` is on.
fn expose(comm: f64, overlap: bool, compute: f64) -> f64 {
    if overlap {
        (comm - compute).max(0.0)
    } else {
        comm
    }
}

/// Per-layout constants shared by every layer.
#[derive(Debug, Clone, Copy)]
pub struct LayerCtx<'a> {
    /// The model.
    pub model: &'a ModelSpec,
    /// The layout.
    pub layout: &'a ResolvedLayout,
    /// The training run.
    pub training: &'a Training,
}

impl LayerCtx<'_> {
    /// GEMM dtype.
    pub fn dtype(&self) -> Dtype {
        self.training.precision.dtype()
    }

    /// Tokens per micro-batch on one GPU (the context-parallel shard).
    pub fn tokens(&self) -> f64 {
        self.layout.micro_batch as f64 * self.training.seq_len as f64 / self.layout.cp as f64
    }

    /// Divisor for hidden-sized tensors: tp with sequence parallelism, else 1.
    pub fn sp_div(&self) -> f64 {
        if self.layout.sequence_parallel {
            self.layout.tp as f64
        } else {
            1.0
        }
    }

    /// The tensor-parallel group.
    pub fn tp_group(&self) -> Group {
        Group {
            size: self.layout.tp.into(),
            stride: 1,
        }
    }

    /// The expert-parallel group: stride etp in the experts' etp -> ep -> expert-dp
    /// order over the stage's tp x cp x dp GPUs (stride tp, inside cp x dp, unfolded).
    pub fn ep_group(&self) -> Group {
        Group {
            size: self.layout.ep.into(),
            stride: self.layout.etp.into(),
        }
    }

    /// The experts' tensor-parallel group (innermost; the tp group unless folded).
    pub fn etp_group(&self) -> Group {
        Group {
            size: self.layout.etp.into(),
            stride: 1,
        }
    }

    /// How `moe`'s tokens cross NVLink domains: once per destination domain under
    /// DeepEP-style dispatch or node-limited routing, once per routed copy under the
    /// all-to-all dispatcher ([`Comm::moe_all_to_all_s`]).
    pub fn token_route(&self, moe: &Moe) -> TokenRoute {
        match moe.max_nodes_per_token {
            None if !self.training.moe_dispatcher.per_domain() => TokenRoute::PerCopy,
            limit => TokenRoute::PerDomain(limit),
        }
    }
}

/// Bytes through HBM per element of each routed copy of a token's hidden vector, in
/// forward: the permute into expert order and the un-permute back (read 2 + write 2
/// each); where an all-to-all of one message per copy delivers tokens grouped by
/// source rank to a rank holding several experts, also the sort into local-expert
/// order after it and the un-sort before the combine (Megatron-Core's
/// `MoEAlltoAllTokenDispatcher`, "Permutation 2", `sort_chunks_by_idxs`, @d7288711);
/// with `quantized` expert GEMMs, the copy padding each expert's tokens to the GEMM's
/// alignment and the one removing the padding from their output (Megatron-Core's
/// `TEGroupedMLP` `quantization_padding`, TE's `Fp8Padding`/`Fp8Unpadding`; a copy
/// unless every count is already aligned, which routed counts are not), which
/// HybridEP's padded dispatch makes unneeded. Node-limited routing is DeepSeek-V3's own
/// framework, not Megatron-Core's experts, and its report says nothing of padding: no
/// padding copy is charged there. DeepEP-style dispatch permutes once, on arrival.
fn permute_bytes(ctx: &LayerCtx, moe: &Moe, quantized: bool) -> f64 {
    let ep = ctx.layout.ep;
    let route = ctx.token_route(moe);
    let regroup = ep > 1 && moe.experts / ep > 1 && route == TokenRoute::PerCopy;
    let pads = quantized
        && moe.max_nodes_per_token.is_none()
        && ctx.training.moe_dispatcher != MoeDispatcher::Hybridep;
    8.0 + if regroup { 8.0 } else { 0.0 } + if pads { 8.0 } else { 0.0 }
}

/// One layer's shape on one GPU for one micro-batch: token counts and widths as the
/// layer's kernels see them (module docs).
#[derive(Debug, Clone, Copy)]
struct Dims {
    /// Tokens on this GPU (the context-parallel shard), count.
    t: f64,
    /// Tokens of a hidden-sized tensor: `t`, divided by tp under sequence parallelism.
    th: f64,
    /// Sequence length, tokens.
    s: f64,
    /// Hidden width.
    h: f64,
    /// Query heads, whole model.
    hq: f64,
    /// Key/value heads, whole model.
    hkv: f64,
    /// Query/key head dimension.
    dqk: f64,
    /// Value head dimension.
    dv: f64,
    /// Tensor-parallel size.
    tp: f64,
    /// Expert tensor-parallel size (tp unless MoE parallel folding sets it).
    etp: f64,
    /// Routed tokens a GPU's experts see per token of its own: etp / tp (1 unfolded).
    fold: f64,
    /// 2 for a gated MLP (SwiGLU's two input projections), else 1.
    gate: f64,
    /// Bytes per element of a stored GEMM input: Transformer Engine keeps the
    /// FP8-cast input of an FP8 GEMM for its backward instead of the BF16 tensor
    /// (DeepSeek-V3 also caches MoE inputs in FP8).
    gin: f64,
}

impl Dims {
    /// The shape under `ctx`'s model, layout and training.
    fn of(ctx: &LayerCtx) -> Dims {
        let (m, tr) = (ctx.model, ctx.training);
        let t = ctx.tokens();
        Dims {
            t,
            th: t / ctx.sp_div(),
            s: tr.seq_len as f64,
            h: m.hidden as f64,
            hq: m.heads as f64,
            hkv: m.kv_heads() as f64,
            dqk: m.qk_head_dim() as f64,
            dv: m.v_head_dim() as f64,
            tp: ctx.layout.tp as f64,
            etp: ctx.layout.etp as f64,
            fold: ctx.layout.etp as f64 / ctx.layout.tp as f64,
            gate: if m.gated_mlp { 2.0 } else { 1.0 },
            gin: if tr.precision.quantized() {
                let share = tr.bf16_layer_share();
                (1.0 - share) * tr.precision.operand_bytes() + share * ACT
            } else {
                ACT
            },
        }
    }
}

/// A priced GEMM: one of [`layer_gemms`] with its time under a kernel model.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PricedGemm {
    /// The GEMM.
    pub gemm: LayerGemm,
    /// Its forward, backward and weight-gradient seconds, casts excluded.
    pub time: GemmTime,
}

/// Layer `i`'s GEMMs ([`layer_gemms`]) in forward order, each with the seconds
/// [`layer_cost`] prices it at under `k`.
pub fn layer_gemm_times(ctx: &LayerCtx, i: u32, k: &dyn KernelModel) -> Vec<PricedGemm> {
    price_gemms(ctx, i, k).1.to_vec()
}

/// The one loop that prices a layer's GEMMs: the per-GEMM times, and the sums (and
/// casting traffic) accumulated in forward order.
fn price_gemms<'a>(
    ctx: &LayerCtx,
    i: u32,
    k: &'a dyn KernelModel,
) -> (Gemms<'a>, Inline<PricedGemm, MAX_GEMMS>) {
    let mut gm = Gemms::new(k, ctx.dtype(), ctx.training);
    let mut priced = Inline::default();
    for gemm in layer_gemms(ctx, i) {
        priced.push(PricedGemm {
            time: gm.price(&gemm),
            gemm,
        });
    }
    (gm, priced)
}

/// Costs of layer `i` (0-based).
pub fn layer_cost(ctx: &LayerCtx, i: u32, k: &dyn KernelModel, comm: &Comm) -> LayerCost {
    let (m, l, tr) = (ctx.model, ctx.layout, ctx.training);
    let d = Dims::of(ctx);
    let params = layer_params(m, i);
    let moe = m.moe.as_ref().filter(|_| m.is_moe_layer(i));
    let (gm, priced) = price_gemms(ctx, i, k);
    let recipe = gm.recipe;
    let proj = projections(ctx, &d, &priced);
    let (act_width, copy_bytes) = mlp_widths(ctx, moe, recipe.is_some());
    let (cast_fwd_s, cast_bwd_s) = cast_s(&gm, ctx, k, comm);
    let (gemm, gemm_bwd) = (gm.fwd + cast_fwd_s, gm.bwd + cast_bwd_s);
    let (attn_fwd, attn_bwd) = attention::attention_core(ctx, i, k, &d);
    let mk = memory_kernels(ctx, k, &d, act_width, copy_bytes);
    // Communication (forward; backward mirrors it).
    let c = layer_comm(ctx, comm, moe, recipe, d.gin);
    let tp_ub = userbuffers(ctx, moe.is_some(), &priced, &c, d.gin, k);
    let fwd_compute_s = gemm + attn_fwd + mk.total_s + tp_ub.map_or(0.0, |u| u.slowdown_s);
    let bwd_compute_s = gemm_bwd + attn_bwd + 2.0 * mk.total_s;
    let acts = activations(ctx, &d, moe, &proj);
    let (stored_bytes, recompute_s) = match tr.recompute {
        Recompute::Full => {
            // The checkpointed share keeps only its input; the rest keep everything.
            let s = tr.replayed_share();
            (
                s * ACT * d.h * d.th + (1.0 - s) * acts.full,
                s * fwd_compute_s,
            )
        }
        Recompute::None => (acts.full, 0.0),
        Recompute::Selective if tr.recomputes(RecomputeModule::AlternateMatmuls) => {
            let (kept, redo) = op_policy::alternate_matmuls(ctx, k, &d, moe);
            (kept, redo + mk.total_s)
        }
        Recompute::Selective => selective(ctx, moe.is_some(), &acts, &proj, attn_fwd, &mk),
    };
    LayerCost {
        fwd_compute_s,
        bwd_compute_s,
        wgrad_s: gm.wgrad,
        recompute_s,
        forward_replays: tr.replayed_share(),
        attn_fwd_s: attn_fwd,
        tp_fwd_s: c.tp_fwd_s,
        ep_fwd_s: c.ep_fwd_s,
        ep_bwd_s: c.ep_bwd_s,
        cp_fwd_s: c.cp_fwd_s,
        tp_ub_s: tp_ub.map(|u| (u.fwd_s, u.bwd_s)),
        stored_bytes,
        working_bytes: acts.full,
        fp8_cast_s: cast_fwd_s + cast_bwd_s,
        // Backward moves each copy's gradient: twice the forward's time, as for every
        // memory-bound kernel here (bwd_compute_s counts 2 x mem_s).
        moe_permute_s: 3.0 * k.memory_s(mk.permute_bytes),
        fp8_weight_cast_s: recipe
            .map_or(0.0, |r| k.memory_s(gm.fp8_weights * r.weight_cast_bytes())),
        dense_params: params.dense() / d.tp,
        expert_params: params.experts / (d.etp * l.ep as f64),
    }
}

/// Transformer Engine's userbuffers overlap ([`ub`]) of a dense, non-MLA layer with
/// tensor and sequence parallelism and `overlap.tp_comm`; `None` otherwise. Each of
/// the layer's all-reduces (`c.tp_fwd_s` holds two) is an all-gather and a
/// reduce-scatter of equal time; the all-gathers move the FP8-cast input (`gin` bytes
/// per element, TE's FP8 userbuffers) where the GEMMs are quantized.
fn userbuffers(
    ctx: &LayerCtx,
    moe: bool,
    priced: &[PricedGemm],
    c: &super::layer_comm::LayerComm,
    gin: f64,
    k: &dyn KernelModel,
) -> Option<ub::UbExposed> {
    let l = ctx.layout;
    if l.tp <= 1 || !l.sequence_parallel || !l.overlap.tp_comm || moe || ctx.model.mla.is_some() {
        return None;
    }
    let half = c.tp_fwd_s / 4.0;
    ub::exposure(priced, half * gin / ACT, half, l.tp as f64, k.sm_count())
}

/// What the attention projections leave for later phases.
struct Projections {
    /// Q, K, V kept for the attention backward, bytes.
    qkv_store: f64,
    /// MLA latents (inputs of the up-projections), bytes.
    latent_store: f64,
    /// MLA up-projections' forward, seconds (redone by `mla_up_proj` recompute).
    up_proj_s: f64,
}

/// What the attention's projections keep for backward, and MLA's up-projections'
/// forward seconds (from `priced`, the layer's priced GEMMs).
fn projections(ctx: &LayerCtx, d: &Dims, priced: &[PricedGemm]) -> Projections {
    let Dims {
        t,
        hq,
        hkv,
        dqk,
        dv,
        tp,
        ..
    } = *d;
    match &ctx.model.mla {
        Some(mla) => Projections {
            // Keys carry every head's nope part plus the shared rotary part.
            qkv_store: ACT * t * (hq * dqk * 2.0 + hq * dv) / tp,
            latent_store: d.gin * t * (mla.q_lora_rank.unwrap_or(0) + mla.kv_lora_rank) as f64,
            up_proj_s: priced
                .iter()
                .filter(|p| matches!(p.gemm.name, "q_up" | "kv_up"))
                .fold(0.0, |s, p| s + p.time.fwd_s),
        },
        None => Projections {
            qkv_store: ACT * t * (hq * dqk + hkv * dqk + hkv * dv) / tp,
            latent_store: 0.0,
            up_proj_s: 0.0,
        },
    }
}

/// The MLP activation function's width per token (elements) and the bytes the MoE
/// copies move per token per hidden element (0 for a dense MLP).
fn mlp_widths(ctx: &LayerCtx, moe: Option<&Moe>, quantized: bool) -> (f64, f64) {
    match moe {
        None => (ctx.model.ffn_hidden as f64, 0.0),
        Some(moe) => {
            let fe = moe.expert_ffn_hidden as f64;
            let shared = moe.shared_experts as f64 * fe;
            (
                moe.top_k as f64 * fe + shared,
                moe.top_k as f64 * permute_bytes(ctx, moe, quantized),
            )
        }
    }
}

/// The quantizing recipe's casting passes over the layer's GEMMs, forward and
/// backward, seconds: the cast traffic through HBM, plus under current scaling the
/// amax all-reduce of each sequence-parallel input (QKV and fc1 in forward, their
/// output gradients in backward) over the tensor-parallel ranks.
fn cast_s(gm: &Gemms, ctx: &LayerCtx, k: &dyn KernelModel, comm: &Comm) -> (f64, f64) {
    let l = ctx.layout;
    let tp_amax = match gm.recipe {
        Some(r) if r.tp_amax_per_cast() && l.sequence_parallel && l.tp > 1 => {
            2.0 * comm.all_reduce_s(4.0, ctx.tp_group())
        }
        _ => 0.0,
    };
    (
        k.memory_s(gm.cast_fwd) + tp_amax,
        k.memory_s(gm.cast_bwd) + tp_amax,
    )
}

/// The layer's memory-bound kernels in forward (backward moves twice the bytes).
struct MemKernels {
    /// Both norms, seconds.
    norm_s: f64,
    /// The MLP's activation function, seconds.
    act_s: f64,
    /// MoE dispatch and combine copies, bytes.
    permute_bytes: f64,
    /// Every memory-bound kernel of the forward, seconds.
    total_s: f64,
}

/// Forward memory-bound kernels (bytes read plus written): norms, activation function
/// over `act_width` elements per token, residual adds, dropout, rotary embedding, and
/// the MoE copies around the expert exchange, `copy_bytes` per token per hidden element
/// ([`permute_bytes`] for each routed copy).
fn memory_kernels(
    ctx: &LayerCtx,
    k: &dyn KernelModel,
    d: &Dims,
    act_width: f64,
    copy_bytes: f64,
) -> MemKernels {
    let Dims {
        t,
        th,
        h,
        hq,
        hkv,
        dqk,
        tp,
        ..
    } = *d;
    let ob = op_bytes(ctx.training.elementwise);
    let norm_s = k.memory_s(2.0 * ob.norm * h * th); // two norms
    let residual = 2.0 * 6.0 * h * th; // two residual adds, read 2h + write h
    let dropout_bytes = if ctx.training.dropout {
        2.0 * 5.0 * h * th
    } else {
        0.0
    };
    let act = if ctx.model.gated_mlp {
        ob.gated_act
    } else {
        ob.act
    };
    let act_s = k.memory_s(act * act_width * t / tp);
    let rope = ob.rope * (hq + hkv) * dqk * t / tp;
    // Layout copies eager attention makes: the output before its projection, and the
    // grouped-query keys and values widened to every query head.
    let attn_copies = ob.attn_out_copy * t * hq * d.dv / tp
        + if ob.repeat_kv && hkv < hq && ctx.model.mla.is_none() {
            ACT * (hkv + hq) * (dqk + d.dv) * t / tp
        } else {
            0.0
        };
    let permute = copy_bytes * h * t * d.fold;
    MemKernels {
        norm_s,
        act_s,
        permute_bytes: permute,
        total_s: norm_s
            + act_s
            + k.memory_s(residual + dropout_bytes + rope + attn_copies + permute),
    }
}

/// Activations kept for backward, bytes (Korthikanti et al. 2022, tensor by tensor):
/// the whole set and the parts selective recomputation can drop.
struct Activations {
    /// Everything the layer keeps without recomputation.
    full: f64,
    /// Attention scores (unfused) or the log-sum-exp (flash).
    scores: f64,
    /// Norm outputs: the QKV and fc1 inputs.
    norm_out: f64,
    /// The activation function's output.
    act_out: f64,
}

/// What the layer stores for its backward with every tensor kept.
fn activations(ctx: &LayerCtx, d: &Dims, moe: Option<&Moe>, p: &Projections) -> Activations {
    use crate::spec::training::LowPrecisionCache as C;
    let (l, tr) = (ctx.layout, ctx.training);
    let Dims {
        t,
        th,
        s,
        h,
        hq,
        dv,
        tp,
        gate,
        gin,
        ..
    } = *d;
    let heads_local = hq / tp;
    let mask = if tr.dropout { h * th } else { 0.0 };
    let scores = if tr.flash_attention {
        4.0 * t * heads_local // fp32 log-sum-exp; the output O is counted with the projection input
    } else {
        (2.0 * ACT + if tr.dropout { 1.0 } else { 0.0 })
            * l.micro_batch as f64
            * heads_local
            * (s / l.cp as f64)
            * s
    };
    let norm_in = 2.0 * ACT * h * th; // inputs of both norms (residual stream)
    let norm_out = 2.0 * gin * h * th; // QKV and fc1 inputs
    let o = tr.cache_bytes(C::AttentionOutput) * t * hq * dv / tp;
    let swiglu_in = tr.cache_bytes(C::SwigluInput);
    let (mlp_keep, act_out) = match moe {
        Some(moe) => {
            let topk = moe.top_k as f64;
            let fe = moe.expert_ffn_hidden as f64;
            let shared = moe.shared_experts as f64 * fe;
            let router = 4.0 * th * moe.experts as f64;
            // Dispatched expert inputs (gathered over etp) and fc1 outputs. The routing
            // probabilities scale the activation's output inside the expert (Megatron
            // Core's grouped experts fuse them into the SwiGLU, weighted_bias_swiglu),
            // so the combine keeps no expert outputs: the probabilities' gradient comes
            // from the fc2 input gradient and the activation output.
            let keep = router
                + gin * t * topk * h * d.fold
                + swiglu_in * t * topk * fe * gate / tp
                + swiglu_in * t * shared * gate / tp;
            (keep, gin * t * (topk * fe + shared) / tp)
        }
        None => {
            let f = ctx.model.ffn_hidden as f64;
            (ACT * t * f * gate / tp, gin * t * f / tp)
        }
    };
    // Eager mode keeps more (crate::analytic::elementwise).
    let ffn = if ctx.model.gated_mlp {
        act_out / gin
    } else {
        0.0
    };
    let eager = op_bytes(tr.elementwise).extra_kept(h * th, ffn, t * hq * dv / tp);
    Activations {
        full: eager
            + norm_in
            + norm_out
            + p.qkv_store
            + p.latent_store
            + scores
            + o
            + 2.0 * mask
            + mlp_keep
            + act_out,
        scores,
        norm_out,
        act_out,
    }
}

/// Selective recomputation: (bytes stored, seconds redone in backward) with each
/// recomputed module's tensors dropped and its forward replayed.
fn selective(
    ctx: &LayerCtx,
    is_moe: bool,
    acts: &Activations,
    p: &Projections,
    attn_fwd: f64,
    mk: &MemKernels,
) -> (f64, f64) {
    use crate::spec::training::RecomputeModule as M;
    let tr = ctx.training;
    let mut stored = acts.full;
    let mut redo = 0.0;
    if tr.recomputes(M::CoreAttn) && !tr.flash_attention {
        stored -= acts.scores;
        redo += attn_fwd;
    }
    if tr.recomputes(M::MlaUpProj) && ctx.model.mla.is_some() {
        stored -= p.qkv_store;
        redo += p.up_proj_s;
    }
    if tr.recomputes(M::Layernorm) {
        stored -= acts.norm_out;
        redo += mk.norm_s;
    }
    let act = if is_moe { M::MoeAct } else { M::MlpAct };
    if tr.recomputes(act) {
        stored -= acts.act_out;
        redo += mk.act_s;
    }
    (stored, redo)
}
