//! The output layer and the loss as they run: the vocabulary-parallel GEMM (BF16 under
//! every quantizing recipe) and the fused cross-entropy's memory-bound passes.

use super::compute::KernelModel;
use super::layer::{LayerCtx, LayerGemm, Src};

/// Bytes per logit the vocabulary-parallel cross-entropy moves in forward: Megatron-Core's
/// fused version (`fused_vocab_parallel_cross_entropy`) runs three kernels: the FP32
/// copy and its max (read 2, write 4), subtract-exp-sum (read 4, write 4), and the
/// division into the softmax kept for backward (read 4, write 4).
pub const CE_FWD_BYTES: f64 = 22.0;
/// Bytes per logit in backward: the gradient from the kept softmax, scaled and cast to
/// BF16 for the output layer's backward (read 4, write 2).
pub const CE_BWD_BYTES: f64 = 6.0;
/// The output layer and loss for one micro-batch on one GPU, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HeadCost {
    /// Output-layer GEMM, forward.
    pub gemm_s: f64,
    /// Cross-entropy forward.
    pub ce_fwd_s: f64,
    /// Cross-entropy backward.
    pub ce_bwd_s: f64,
}

/// The output layer and loss. The output layer stays BF16 under every FP8 recipe:
/// Megatron-Core's is a plain `ColumnParallelLinear` outside Transformer Engine, and
/// DeepSeek-V3 (section 3.3.1) keeps the output head in BF16.
pub fn head_cost(ctx: &LayerCtx, k: &dyn KernelModel) -> HeadCost {
    let g = head_gemm(ctx);
    // Megatron-Core's output layer is not a TE module: it runs in BF16 under every
    // quantizing recipe (the NVFP4 recipe keeps it in BF16 too).
    let dt = match ctx.training.precision {
        p if p.quantized() => crate::spec::gpu::Dtype::Bf16,
        p => p.dtype(),
    };
    // Logits on this GPU.
    let logits = ctx.tokens() * ctx.model.vocab as f64 / ctx.layout.tp as f64;
    HeadCost {
        gemm_s: k.gemm_s(g.m, g.n, g.k, dt),
        ce_fwd_s: k.memory_s(CE_FWD_BYTES * logits),
        ce_bwd_s: k
            .memory_s(super::elementwise::op_bytes(ctx.training.elementwise).ce_bwd * logits),
    }
}

/// The output layer's GEMM, `lm_head`: the micro-batch's tokens on this GPU against
/// its vocabulary shard (vocabulary-parallel over tp), reading the final norm's output.
/// Not quantized: it stays in the training's 16-bit type ([`head_cost`]).
pub fn head_gemm(ctx: &LayerCtx) -> LayerGemm {
    LayerGemm {
        name: "lm_head",
        m: ctx.tokens(),
        n: ctx.model.vocab as f64 / ctx.layout.tp as f64,
        k: ctx.model.hidden as f64,
        count: 1.0,
        src: Src::Norm,
        bf16: true,
    }
}
