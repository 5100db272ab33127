//! One layer's collectives per micro-batch: the tensor-parallel all-reduces (or
//! all-gather + reduce-scatter pairs under sequence parallelism), the experts' own
//! tensor-parallel group when MoE parallel folding gives them one, the expert
//! all-to-all, and the context-parallel K/V ring. Group sizes and strides follow the
//! rank order of `spec::layout` (tp -> cp -> dp for attention; etp -> ep -> expert-dp
//! for experts, Megatron-Core's MoE parallel folding), so `Comm` places each group on
//! NVLink or the network as the ranks fall.

use super::comm::{Comm, Group};
use super::fp8::Recipe;
use super::layer::{LayerCtx, ACT};
use crate::spec::model::Moe;

/// Forward collective seconds of one layer on one GPU (backward mirrors them; see
/// [`super::layer::LayerCost`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayerComm {
    /// Tensor-parallel collectives, forward, seconds.
    pub tp_fwd_s: f64,
    /// Expert all-to-all (dispatch + combine), forward, seconds.
    pub ep_fwd_s: f64,
    /// Expert all-to-all, backward, seconds.
    pub ep_bwd_s: f64,
    /// Context-parallel K/V ring, forward, seconds.
    pub cp_fwd_s: f64,
}

/// The collectives of a layer (`moe` for an MoE layer). `recipe` and `gin` (bytes per
/// element of an FP8-cast activation) decide whether the dispatch goes out quantized.
pub fn layer_comm(
    ctx: &LayerCtx,
    comm: &Comm,
    moe: Option<&Moe>,
    recipe: Option<Recipe>,
    gin: f64,
) -> LayerComm {
    let (m, l, tr) = (ctx.model, ctx.layout, ctx.training);
    let t = ctx.tokens();
    let h = m.hidden as f64;
    let th = t / ctx.sp_div();
    let tp = l.tp as f64;
    // Attention's all-reduce over tp; then the MLP's over tp, or the experts' over their
    // etp group: the etp ranks together hold etp / tp of the tensor-parallel group's
    // tokens (all of them when etp = tp; nothing to reduce when etp = 1).
    let attn = comm.all_reduce_s(t * h * ACT, ctx.tp_group());
    let mlp = match moe {
        Some(_) if l.folded() => {
            comm.all_reduce_s(t * h * ACT * l.etp as f64 / tp, ctx.etp_group())
        }
        _ => attn,
    };
    let (ep_fwd_s, ep_bwd_s) = match moe {
        Some(moe) => {
            let route = ctx.token_route(moe);
            let a2a = |bytes_per_elem: f64| {
                comm.moe_all_to_all_s(
                    th,
                    moe.top_k.into(),
                    h * bytes_per_elem,
                    ctx.ep_group(),
                    route,
                )
            };
            // Dispatch goes out quantized where tokens are quantized before it
            // (DeepSeek-V3, FP4); Megatron-Core's dispatchers send BF16. The combine and
            // all backward traffic stay BF16.
            let wire = if recipe.is_some_and(|r| r.quantized_dispatch()) {
                gin
            } else {
                ACT
            };
            // The busiest rank receives (and sends back) `expert_imbalance` times the
            // mean; the collective ends when it does.
            let skew = tr.expert_imbalance;
            (skew * (a2a(wire) + a2a(ACT)), skew * 2.0 * a2a(ACT))
        }
        None => (0.0, 0.0),
    };
    let cp_fwd_s = if l.cp > 1 {
        let kv_bytes =
            t * m.kv_heads() as f64 / tp * (m.qk_head_dim() + m.v_head_dim()) as f64 * ACT;
        let ring = Group {
            size: l.cp.into(),
            stride: l.tp.into(),
        };
        (l.cp as f64 - 1.0) * comm.ring_step_s(kv_bytes, ring)
    } else {
        0.0
    };
    LayerComm {
        tp_fwd_s: attn + mlp,
        ep_fwd_s,
        ep_bwd_s,
        cp_fwd_s,
    }
}
