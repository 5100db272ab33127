//! The attention core of a layer: flash attention (full causal or through a sliding
//! window, one kernel per K/V block under ring attention) or the unfused score-matrix
//! path of Megatron-LM before flash attention.

use super::{Dims, LayerCtx, ACT};
use crate::analytic::compute::{AttnShape, KernelModel};
use crate::spec::model::ModelSpec;
use crate::spec::training::{AttentionKernel, Training};

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
/// causal), forward and backward, seconds (causal: half the score matrix is computed):
/// flash attention (one kernel per K/V block under ring attention), or unfused GEMMs
/// with the score matrix through HBM; FlashAttention-2 at its measured slowdown.
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

/// How a model's sliding-window layers are priced, in words, for the estimate's notes;
/// `None` for a model without windows.
pub fn window_note(m: &ModelSpec, tr: &Training, cp: u32) -> Option<String> {
    let w = m.sliding_window.as_ref()?.tokens;
    let s = tr.seq_len;
    let windowed = (0..m.layers).filter(|&i| m.is_windowed_layer(i)).count();
    let of = format!(
        "{windowed} of {} layers attend through a {w}-token window",
        m.layers
    );
    Some(if w >= s {
        format!("{of}, no shorter than the {s}-token sequence: priced as full causal attention")
    } else if cp > 1 || !tr.flash_attention {
        format!(
            "{of}, priced as full causal attention: {}",
            if cp > 1 {
                "context parallelism's ring computes every K/V block it receives"
            } else {
                "unfused attention computes the whole score matrix and masks it"
            }
        )
    } else {
        let band = AttnShape {
            b: 1.0,
            heads: 1.0,
            s_q: s as f64,
            s_kv: s as f64,
            d_qk: 1.0,
            d_v: 1.0,
            window: w as f64,
        };
        format!(
            "{of}: their flash kernel is priced on the key tiles the band touches, {:.0} keys \
             per query against {:.0} under the causal mask",
            band.kernel_keys_per_query(),
            s as f64 / 2.0
        )
    })
}
