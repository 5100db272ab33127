//! The attention core of a layer: flash attention (full causal or through a sliding
//! window, one kernel per K/V block under ring attention) or the unfused score-matrix
//! path of Megatron-LM before flash attention.

use super::{Dims, LayerCtx, ACT};
use crate::analytic::compute::{AttnShape, KernelModel};
use crate::spec::training::AttentionKernel;

/// The attention core of layer `i`'s kind, forward and backward, seconds: the mean over
/// the kind's layers of full causal and sliding-window attention ([`window_share`]).
pub(super) fn attention_core(ctx: &LayerCtx, i: u32, k: &dyn KernelModel, d: &Dims) -> (f64, f64) {
    let (f, b) = attention_kernel_s(ctx, k, d, f64::INFINITY);
    match window_share(ctx, i, d.s) {
        Some((share, w)) => {
            let (wf, wb) = attention_kernel_s(ctx, k, d, w);
            (f + share * (wf - f), b + share * (wb - b))
        }
        None => (f, b),
    }
}

/// The share of layer `i`'s kind (dense or MoE) that attends through a sliding window
/// shorter than the sequence, and the window, tokens; `None` when no such layer exists.
/// A layer kind is priced once per layout, so its attention is the kind's mean: exact
/// for every stage when the window pattern repeats within the stage (gpt-oss and
/// Gemma 2 alternate, Gemma 3 repeats every 6 layers), the model's mean otherwise.
fn window_share(ctx: &LayerCtx, i: u32, s: f64) -> Option<(f64, f64)> {
    let m = ctx.model;
    let w = m.sliding_window.as_ref().map(|w| w.tokens as f64)?;
    if w >= s || ctx.layout.cp > 1 || !ctx.training.flash_attention {
        // Context parallelism: Transformer Engine's ring attention computes every K/V
        // block it receives, so a windowed layer is priced as a full one there; the
        // unfused path computes the whole score matrix and masks it afterwards.
        return None;
    }
    let kind = m.is_moe_layer(i);
    let (mut n, mut windowed) = (0u32, 0u32);
    for j in (0..m.layers).filter(|&j| m.is_moe_layer(j) == kind) {
        n += 1;
        windowed += u32::from(m.is_windowed_layer(j));
    }
    (windowed > 0).then(|| (f64::from(windowed) / f64::from(n), w))
}

/// One layer's attention core through `window` keys per query (`f64::INFINITY`: full
/// causal), forward and backward, seconds (causal: half the score matrix is computed): flash attention (one kernel per K/V block under ring attention), or
/// unfused GEMMs with the score matrix through HBM; FlashAttention-2 at its measured
/// slowdown.
fn attention_kernel_s(ctx: &LayerCtx, k: &dyn KernelModel, d: &Dims, window: f64) -> (f64, f64) {
    let (l, tr) = (ctx.layout, ctx.training);
    let flash = tr.flash_attention;
    let heads_local = d.hq / d.tp;
    let s_local = d.s / l.cp as f64;
    let b = l.micro_batch as f64;
    let shape = AttnShape {
        b,
        heads: heads_local,
        s_q: s_local,
        s_kv: d.s,
        d_qk: d.dqk,
        d_v: d.dv,
        window,
    };
    let (attn_fwd, attn_bwd) = if flash && l.cp > 1 {
        // Ring attention runs one flash call per K/V block that arrives: with
        // load-balanced causal sharding each rank computes its diagonal block (causal)
        // and half of the cp - 1 others in full, the work of cp causal blocks, each a
        // kernel of its own with its own launch and tail.
        let block = AttnShape {
            s_kv: s_local,
            ..shape
        };
        let (f, b) = k.attention_s(&block);
        (f * l.cp as f64, b * l.cp as f64)
    } else if flash {
        k.attention_s(&shape)
    } else {
        // Unfused (Megatron-LM before flash attention): two batched GEMMs over the
        // whole s x s score matrix (the causal mask is applied after), and the matrix
        // through HBM: scores written, fused scale-mask-softmax read and written, with
        // dropout read, written and its mask, then read by the PV GEMM. Backward
        // mirrors it with two GEMMs per forward GEMM and twice the traffic.
        let elems = b * heads_local * s_local * d.s;
        let per_elem = if tr.dropout {
            4.0 * ACT + 2.0 * ACT + 1.0
        } else {
            4.0 * ACT
        };
        let gemms = k.matmul_flops_s(2.0 * shape.causal_flops(), ctx.dtype());
        let traffic = k.memory_s(per_elem * elems);
        (gemms + traffic, 2.0 * (gemms + traffic))
    };
    if flash && tr.attention_kernel == AttentionKernel::Flash2 {
        let (sf, sb) = k.flash2_slowdown();
        (attn_fwd * sf, attn_bwd * sb)
    } else {
        (attn_fwd, attn_bwd)
    }
}
