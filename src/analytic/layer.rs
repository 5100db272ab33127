//! One transformer layer on one GPU for one micro-batch: its GEMMs, attention core,
//! memory-bound kernels, collectives and stored activations.
//!
//! Each layer kind (dense, MoE) reports its own costs; stages and the model are sums
//! over layers. Shapes are per GPU: tokens `T = micro_batch x seq / cp`, head and FFN
//! widths divided by tp, experts by ep. Backward GEMMs cost twice the forward (input
//! and weight gradients); flash-attention backward 2.5x its forward (five matmuls
//! against two).

use serde::Serialize;

use super::comm::{Comm, Group};
use super::compute::KernelModel;
use super::params::{layer_params, LayerParams};
use crate::spec::gpu::Dtype;
use crate::spec::layout::{Overlap, ResolvedLayout};
use crate::spec::model::ModelSpec;
use crate::spec::training::{Precision, Recompute, Training};

/// Activation bytes per element (BF16 activations, also under FP8 GEMMs).
const ACT: f64 = 2.0;

/// Costs of one layer for one micro-batch on one GPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LayerCost {
    /// Forward compute (GEMMs, attention, memory-bound kernels), seconds.
    pub fwd_compute_s: f64,
    /// Backward compute, seconds.
    pub bwd_compute_s: f64,
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
    /// Context-parallel K/V ring traffic in forward, seconds.
    pub cp_fwd_s: f64,
    /// Activation bytes kept from forward to backward.
    pub stored_bytes: f64,
    /// Activation bytes alive while the layer itself runs (full-recompute working set).
    pub working_bytes: f64,
    /// Parameters on this GPU that are replicated across expert parallelism.
    pub dense_params: f64,
    /// Routed-expert parameters on this GPU.
    pub expert_params: f64,
    /// The layer's whole-model parameter breakdown.
    pub params: LayerParams,
}

impl LayerCost {
    /// Exposed forward time: compute plus the communication not hidden under it.
    pub fn fwd_s(&self, ov: &Overlap) -> f64 {
        let c = self.fwd_compute_s;
        c + expose(self.tp_fwd_s, ov.tp_comm, c)
            + expose(self.ep_fwd_s, ov.ep_comm, c)
            + (self.cp_fwd_s - self.attn_fwd_s).max(0.0)
    }

    /// Exposed backward time, recomputation and its replayed collectives included.
    pub fn bwd_s(&self, ov: &Overlap) -> f64 {
        let c = self.bwd_compute_s + self.recompute_s;
        let r = self.forward_replays;
        // Backward mirrors each forward collective once, plus once per forward replay;
        // ring attention sends K/V and returns dK/dV beside a 2.5x-longer kernel.
        c + expose(self.tp_fwd_s * (1.0 + r), ov.tp_comm, c)
            + expose(self.ep_fwd_s * (1.0 + r), ov.ep_comm, c)
            + (self.cp_fwd_s * (2.0 + r) - self.attn_fwd_s * (2.5 + r)).max(0.0)
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
        match self.training.precision {
            Precision::Bf16 => Dtype::Bf16,
            Precision::Fp16 => Dtype::Fp16,
            Precision::Fp8 => Dtype::Fp8,
        }
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

    /// The expert-parallel group (stride tp: carved out of cp x dp).
    pub fn ep_group(&self) -> Group {
        Group {
            size: self.layout.ep.into(),
            stride: self.layout.tp.into(),
        }
    }
}

/// Costs of layer `i` (0-based).
pub fn layer_cost(ctx: &LayerCtx, i: u32, k: &dyn KernelModel, comm: &Comm) -> LayerCost {
    let m = ctx.model;
    let l = ctx.layout;
    let dt = ctx.dtype();
    let tp = l.tp as f64;
    let t = ctx.tokens();
    let s = ctx.training.seq_len as f64;
    let h = m.hidden as f64;
    let hq = m.heads as f64;
    let hkv = m.kv_heads() as f64;
    let dqk = m.qk_head_dim() as f64;
    let dv = m.v_head_dim() as f64;
    let sp = ctx.sp_div();
    let th = t / sp;
    let params = layer_params(m, i);
    let moe = m.moe.as_ref().filter(|_| m.is_moe_layer(i));

    // --- GEMMs (forward) ---
    let mut gemm = 0.0;
    match &m.mla {
        Some(mla) => {
            // Down-projections are replicated across tp (Megatron MLA); up-projections split.
            let q_up_k = match mla.q_lora_rank {
                Some(r) => {
                    gemm += k.gemm_s(t, r as f64, h, dt);
                    r as f64
                }
                None => h,
            };
            gemm += k.gemm_s(t, hq * dqk / tp, q_up_k, dt);
            gemm += k.gemm_s(t, (mla.kv_lora_rank + mla.qk_rope_head_dim) as f64, h, dt);
            gemm += k.gemm_s(
                t,
                hq * (mla.qk_nope_head_dim + mla.v_head_dim) as f64 / tp,
                mla.kv_lora_rank as f64,
                dt,
            );
        }
        None => gemm += k.gemm_s(t, (hq * dqk + hkv * dqk + hkv * dv) / tp, h, dt),
    }
    gemm += k.gemm_s(t, h, hq * dv / tp, dt);
    let gate = if m.gated_mlp { 2.0 } else { 1.0 };
    let (ffn_tokens_f, routed_k) = match moe {
        Some(moe) => {
            let e = moe.experts as f64;
            let ep = l.ep as f64;
            let topk = moe.top_k as f64;
            let fe = moe.expert_ffn_hidden as f64;
            let local = e / ep;
            let per_expert = t * ep * topk / e;
            gemm += k.gemm_s(t / sp, e, h, dt); // router (tiny)
            gemm += local
                * (k.gemm_s(per_expert, gate * fe / tp, h, dt)
                    + k.gemm_s(per_expert, h, fe / tp, dt));
            let shared = moe.shared_experts as f64 * fe;
            if shared > 0.0 {
                gemm += k.gemm_s(t, gate * shared / tp, h, dt) + k.gemm_s(t, h, shared / tp, dt);
            }
            (topk * fe + shared, topk)
        }
        None => {
            let f = m.ffn_hidden as f64;
            gemm += k.gemm_s(t, gate * f / tp, h, dt) + k.gemm_s(t, h, f / tp, dt);
            (f, 0.0)
        }
    };

    // --- Attention core (causal: half the score matrix is computed) ---
    let heads_local = hq / tp;
    let attn_flops = 2.0 * t * s * heads_local * (dqk + dv) * 0.5;
    let flash = ctx.training.flash_attention;
    let score_bytes = if flash {
        0.0
    } else {
        // Unfused: scores written, softmax read+written, probabilities read by the AV GEMM.
        4.0 * ACT * (l.micro_batch as f64) * heads_local * (s / l.cp as f64) * s * 0.5
    };
    let attn_fwd = if flash {
        k.attention_s(attn_flops, dt)
    } else {
        // Two batched GEMMs (QK^T, PV) plus the score matrix through HBM.
        k.matmul_flops_s(attn_flops, dt) + k.memory_s(score_bytes)
    };

    // --- Memory-bound kernels (forward bytes) ---
    let dropout = if ctx.training.dropout {
        10.0 * h * th
    } else {
        0.0
    };
    let act_fn = (if m.gated_mlp { 6.0 } else { 4.0 }) * ffn_tokens_f * t / tp;
    let rope = 4.0 * (hq + hkv) * dqk * t / tp;
    let permute = 8.0 * routed_k * h * t;
    let mem_bytes = 8.0 * h * th + 12.0 * h * th + dropout + act_fn + rope + permute;
    let memk = k.memory_s(mem_bytes);

    let fwd_compute_s = gemm + attn_fwd + memk;
    let attn_bwd = 2.5 * attn_fwd;
    let bwd_compute_s = 2.0 * gemm + attn_bwd + 2.0 * memk;
    let recompute_s = match ctx.training.recompute {
        Recompute::Full => fwd_compute_s,
        Recompute::Selective if !flash => attn_fwd,
        _ => 0.0,
    };

    // --- Communication (forward; backward mirrors it) ---
    let tp_fwd_s = 2.0 * comm.all_reduce_s(t * h * ACT, ctx.tp_group());
    let ep_fwd_s = match moe {
        Some(moe) => 2.0 * comm.all_to_all_s(th * moe.top_k as f64 * h * ACT, ctx.ep_group()),
        None => 0.0,
    };
    let cp_fwd_s = if l.cp > 1 {
        let kv_bytes = t * hkv / tp * (dqk + dv) * ACT;
        (l.cp as f64 - 1.0) * comm.p2p_s(kv_bytes, l.tp.into())
    } else {
        0.0
    };

    // --- Activations kept for backward (Korthikanti et al. 2022, tensor by tensor) ---
    let qkv_store = match &m.mla {
        Some(mla) => {
            let latents =
                (mla.q_lora_rank.unwrap_or(0) + mla.kv_lora_rank + mla.qk_rope_head_dim) as f64;
            ACT * t * (hq * dqk * 2.0 + hq * dv) / tp + ACT * t * latents
        }
        None => ACT * t * (hq * dqk + hkv * dqk + hkv * dv) / tp,
    };
    let scores = if flash {
        // Output (the projection's input, counted below) plus fp32 log-sum-exp.
        4.0 * t * heads_local
    } else {
        let mask = if ctx.training.dropout { 1.0 } else { 0.0 };
        (2.0 * ACT + mask) * (l.micro_batch as f64) * heads_local * (s / l.cp as f64) * s
    };
    let mask = if ctx.training.dropout { h * th } else { 0.0 };
    let attn_block = ACT * h * th * 2.0 + qkv_store + scores + ACT * t * hq * dv / tp + mask;
    let mlp_block = match moe {
        Some(moe) => {
            let topk = moe.top_k as f64;
            let fe = moe.expert_ffn_hidden as f64;
            let shared = moe.shared_experts as f64 * fe;
            let router = 4.0 * th * moe.experts as f64;
            ACT * h * th * 2.0
                + router
                + ACT * t * topk * h
                + ACT * t * topk * fe * (gate + 1.0) / tp
                + ACT * t * topk * h / tp
                + ACT * t * shared * (gate + 1.0) / tp
                + mask
        }
        None => {
            let f = m.ffn_hidden as f64;
            ACT * h * th * 2.0 + ACT * t * f * (gate + 1.0) / tp + mask
        }
    };
    let full = attn_block + mlp_block;
    let stored_bytes = match ctx.training.recompute {
        Recompute::Full => ACT * h * th,
        Recompute::Selective if !flash => full - scores,
        _ => full,
    };

    let dense_params = params.dense() / tp;
    let expert_params = params.experts / (tp * l.ep as f64);
    LayerCost {
        fwd_compute_s,
        bwd_compute_s,
        recompute_s,
        forward_replays: if ctx.training.recompute == Recompute::Full {
            1.0
        } else {
            0.0
        },
        attn_fwd_s: attn_fwd,
        tp_fwd_s,
        ep_fwd_s,
        cp_fwd_s,
        stored_bytes,
        working_bytes: full,
        dense_params,
        expert_params,
        params,
    }
}
