//! torchtitan's op-level selective activation checkpointing
//! ([`RecomputeModule::AlternateMatmuls`](crate::spec::training::RecomputeModule)).
//!
//! Its policy (torchtitan/distributed/activation_checkpoint.py, `_custom_policy`)
//! counts the `aten.mm` calls of each block's forward and saves the outputs of the
//! ops on its save list (matmuls, flash/efficient attention, reduce-scatter) except
//! every second matmul; everything else is recomputed in backward from the block's
//! input and the saved outputs. In the Llama block the matmuls run in the order
//! `wq wk wv wo w1 w3 w2`, so `wk`, `wo` and `w3` are redone, with every norm, rotary
//! embedding, activation and residual add. Routed experts run as grouped matmuls,
//! which the count does not include: their outputs are kept.
//!
//! The matmuls counted here are torchtitan's own calls, not the layer's GEMM list
//! ([`super::layer_gemms`]): that list prices Megatron's fused QKV and fc1, where
//! torchtitan issues `wq`, `wk`, `wv` and `w1`, `w3` apart, and the policy counts calls.

use super::{Dims, Inline, LayerCtx, ACT, MAX_GEMMS};
use crate::analytic::compute::KernelModel;
use crate::spec::model::Moe;

/// One matmul of a block's forward: tokens, output width and input width on this GPU.
type Mm = (f64, f64, f64);

/// The block's `aten.mm` calls in forward order, as torchtitan's models issue them.
fn matmuls(ctx: &LayerCtx, d: &Dims, moe: Option<&Moe>) -> Inline<Mm, MAX_GEMMS> {
    let Dims {
        t,
        h,
        hq,
        hkv,
        dqk,
        dv,
        tp,
        ..
    } = *d;
    // Inline, like the layer's GEMM list: priced per inner shape in the search.
    let mut mm = Inline::default();
    match &ctx.model.mla {
        // DeepSeek-V3 in torchtitan: wq (or wq_a, wq_b), wkv_a, wkv_b, then wo.
        Some(mla) => {
            let q_in = match mla.q_lora_rank {
                Some(r) => {
                    mm.push((t, r as f64, h));
                    r as f64
                }
                None => h,
            };
            mm.push((t, hq * dqk / tp, q_in));
            mm.push((t, (mla.kv_lora_rank + mla.qk_rope_head_dim) as f64, h));
            mm.push((
                t,
                hq * (mla.qk_nope_head_dim + mla.v_head_dim) as f64 / tp,
                mla.kv_lora_rank as f64,
            ));
        }
        None => {
            mm.push((t, hq * dqk / tp, h));
            mm.push((t, hkv * dqk / tp, h));
            mm.push((t, hkv * dv / tp, h));
        }
    }
    mm.push((t, h, hq * dv / tp));
    let mlp = |mm: &mut Inline<Mm, MAX_GEMMS>, f: f64| {
        mm.push((t, f / tp, h));
        if ctx.model.gated_mlp {
            mm.push((t, f / tp, h));
        }
        mm.push((t, h, f / tp));
    };
    match moe {
        None => mlp(&mut mm, ctx.model.ffn_hidden as f64),
        Some(moe) => {
            mm.push((d.th, moe.experts as f64, h));
            if moe.shared_experts > 0 {
                mlp(
                    &mut mm,
                    moe.shared_experts as f64 * moe.expert_ffn_hidden as f64,
                );
            }
        }
    }
    mm
}

/// (bytes kept for backward, forward matmul seconds redone) of one layer under the
/// op-level policy; the memory-bound ops' forward is redone as well (added by the
/// caller). Kept: the block's input, the odd-numbered matmuls' outputs, attention's
/// output and log-sum-exp, and the routed experts' grouped-matmul outputs.
pub(super) fn alternate_matmuls(
    ctx: &LayerCtx,
    k: &dyn KernelModel,
    d: &Dims,
    moe: Option<&Moe>,
) -> (f64, f64) {
    let dt = ctx.dtype();
    // The block's input; attention's output and its FP32 log-sum-exp.
    let mut kept = ACT * d.h * d.th + (ACT * d.dv + 4.0) * d.t * d.hq / d.tp;
    let mut redo = 0.0;
    for (i, &(m, n, kk)) in matmuls(ctx, d, moe).iter().enumerate() {
        // The policy's count starts at 1: the 2nd, 4th, ... matmuls are recomputed.
        if i % 2 == 1 {
            redo += k.gemm_s(m, n, kk, dt);
        } else {
            kept += ACT * m * n;
        }
    }
    if let Some(moe) = moe {
        let routed = d.t * moe.top_k as f64 * ctx.training.expert_imbalance * d.fold;
        let fe = moe.expert_ffn_hidden as f64 / d.etp;
        kept += ACT * routed * (d.gate * fe + d.h);
    }
    (kept, redo)
}
