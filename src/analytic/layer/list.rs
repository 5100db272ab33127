//! A layer's GEMMs as data: what [`super::layer_cost`] prices, one entry per weight
//! matrix in forward execution order, and what `llmplan-calibrate --scenario` times.
//! One list, so the priced GEMMs and the measured ones cannot drift apart.

use super::gemms::Src;
use super::{Dims, LayerCtx};
use crate::analytic::fp8;

/// One GEMM of a layer, `X[m,k] x W[n,k]^T`, per micro-batch on one GPU (after the
/// tp, cp, ep and etp splits).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayerGemm {
    /// Megatron-style name: `qkv` (MLA: `q_down`, `kv_down`, `q_up`, `kv_up`), `proj`,
    /// `fc1` (gate and up projections fused under a gated MLP, Megatron's `linear_fc1`),
    /// `fc2`, `router`, `expert_fc1`, `expert_fc2`, `shared_fc1`, `shared_fc2`; the
    /// output layer ([`crate::analytic::head::head_gemm`]) is `lm_head`.
    pub name: &'static str,
    /// Rows: tokens through one such GEMM, count (for a routed expert the busiest
    /// rank's average tokens per expert, fractional).
    pub m: f64,
    /// Output features on this GPU.
    pub n: f64,
    /// Reduction dimension: input features on this GPU.
    pub k: f64,
    /// GEMMs of this shape: the local experts for the routed experts' GEMMs, else 1.
    pub count: f64,
    /// Where its input comes from: the cast a quantized GEMM needs.
    pub src: Src,
    /// Stays BF16 under every quantizing recipe (the router).
    pub bf16: bool,
}

impl LayerGemm {
    /// Forward FLOPs of all `count` GEMMs: 2 m n k each.
    pub fn flops(&self) -> f64 {
        2.0 * self.m * self.n * self.k * self.count
    }
}

/// Up to `N` items of a list held inline, without a heap allocation: the search prices
/// a layer's GEMM list once per inner shape and stage kind, hundreds of thousands of
/// times, and a heap list per call cost it ~15% of its time.
#[derive(Debug, Clone, Copy)]
pub struct Inline<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy + Default, const N: usize> Default for Inline<T, N> {
    fn default() -> Self {
        Inline {
            items: [T::default(); N],
            len: 0,
        }
    }
}

impl<T: Copy + Default, const N: usize> Inline<T, N> {
    /// Appends `x`. A layer has at most [`MAX_GEMMS`] GEMMs by construction (MLA's four
    /// projections and the output projection; a router, two routed-expert and two
    /// shared-expert GEMMs), so overflowing is a bug in this module, not an input.
    pub fn push(&mut self, x: T) {
        assert!(self.len < N, "more than {N} GEMMs in one layer");
        self.items[self.len] = x;
        self.len += 1;
    }
}

impl<T: Copy + Default, const N: usize> std::ops::Deref for Inline<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items[..self.len]
    }
}

impl<T: Copy + Default, const N: usize> IntoIterator for Inline<T, N> {
    type Item = T;
    type IntoIter = std::iter::Take<std::array::IntoIter<T, N>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(self.len)
    }
}

/// The most GEMMs one layer has (see [`Inline::push`]).
pub const MAX_GEMMS: usize = 12;

/// A layer's GEMM list.
pub type GemmList = Inline<LayerGemm, MAX_GEMMS>;

/// The GEMMs of layer `i` (0-based) in forward execution order: the attention's
/// projections (QKV, or MLA's down- and up-projections), the output projection, then
/// the MLP's two, or the router's, the routed experts' and the shared experts'.
pub fn layer_gemms(ctx: &LayerCtx, i: u32) -> GemmList {
    let d = Dims::of(ctx);
    let mut out = GemmList::default();
    projections(&mut out, ctx, &d);
    mlp(&mut out, ctx, &d, i);
    out
}

/// A GEMM of `count` 1 that is quantized under a recipe.
fn gemm(name: &'static str, m: f64, n: f64, k: f64, src: Src) -> LayerGemm {
    LayerGemm {
        name,
        m,
        n,
        k,
        count: 1.0,
        src,
        bf16: false,
    }
}

/// The attention's projection GEMMs and the output projection.
fn projections(out: &mut GemmList, ctx: &LayerCtx, d: &Dims) {
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
    match &ctx.model.mla {
        Some(mla) => {
            // Down-projections are replicated across tp (Megatron MLA); up-projections
            // split. Both down-projections read the same (once quantized) input.
            let q_up_k = match mla.q_lora_rank {
                Some(r) => {
                    out.push(gemm("q_down", t, r as f64, h, Src::Cast));
                    r as f64
                }
                None => h,
            };
            let kv_down = (mla.kv_lora_rank + mla.qk_rope_head_dim) as f64;
            out.push(gemm("kv_down", t, kv_down, h, Src::Norm));
            // The up-projections read the latents after their own norms.
            out.push(gemm("q_up", t, hq * dqk / tp, q_up_k, Src::Norm));
            let kv_up = hq * (mla.qk_nope_head_dim + mla.v_head_dim) as f64 / tp;
            out.push(gemm("kv_up", t, kv_up, mla.kv_lora_rank as f64, Src::Norm));
        }
        None => {
            let n = (hq * dqk + hkv * dqk + hkv * dv) / tp;
            out.push(gemm("qkv", t, n, h, Src::Norm));
        }
    }
    out.push(gemm("proj", t, h, hq * dv / tp, Src::Plain));
}

/// The MLP's GEMMs, or the router's, the routed experts' and the shared experts'.
fn mlp(out: &mut GemmList, ctx: &LayerCtx, d: &Dims, i: u32) {
    let Dims {
        t,
        th,
        h,
        tp,
        etp,
        gate,
        ..
    } = *d;
    let m = ctx.model;
    let Some(moe) = m.moe.as_ref().filter(|_| m.is_moe_layer(i)) else {
        let f = m.ffn_hidden as f64;
        out.push(gemm("fc1", t, gate * f / tp, h, Src::Norm));
        out.push(gemm("fc2", t, h, f / tp, Src::Plain));
        return;
    };
    let e = moe.experts as f64;
    let ep = ctx.layout.ep as f64;
    let topk = moe.top_k as f64;
    let fe = moe.expert_ffn_hidden as f64;
    // Each local expert gets its share of the tokens of its ep group's etp x ep ranks
    // (etp / tp of a tensor-parallel group's each); the busiest rank gets
    // `expert_imbalance` times it and sets the pace.
    let per_expert = t * ep * topk / e * ctx.training.expert_imbalance * d.fold;
    out.push(LayerGemm {
        bf16: true,
        ..gemm("router", th, e, h, Src::Plain)
    });
    // DeepSeek-V3 quantizes tokens once before the dispatch (FP8 on the wire); TE's
    // grouped GEMM casts each expert's dispatched tokens.
    let (routed_src, shared_src) = match fp8::recipe(ctx.training) {
        Some(r) if r.quantized_dispatch() => (Src::Dispatch { tokens: t }, Src::Cast),
        _ => (Src::Plain, Src::Plain),
    };
    let local = e / ep;
    out.push(LayerGemm {
        count: local,
        ..gemm("expert_fc1", per_expert, gate * fe / etp, h, routed_src)
    });
    out.push(LayerGemm {
        count: local,
        ..gemm("expert_fc2", per_expert, h, fe / etp, Src::Plain)
    });
    let shared = moe.shared_experts as f64 * fe;
    if shared > 0.0 {
        out.push(gemm("shared_fc1", t, gate * shared / tp, h, shared_src));
        out.push(gemm("shared_fc2", t, h, shared / tp, Src::Plain));
    }
}
