//! The output layer and the loss as they run: the vocabulary-parallel GEMM (BF16 under
//! every quantizing recipe) and the fused cross-entropy's memory-bound passes.

use super::compute::KernelModel;
use super::layer::{LayerCtx, LayerGemm, Src};
use crate::spec::training::{Elementwise, Training};

/// Bytes per logit the vocabulary-parallel cross-entropy moves in forward: Megatron-Core's
/// fused version (`fused_vocab_parallel_cross_entropy`) runs three kernels: the FP32
/// copy and its max (read 2, write 4), subtract-exp-sum (read 4, write 4), and the
/// division into the softmax kept for backward (read 4, write 4).
pub const CE_FWD_BYTES: f64 = 22.0;
/// Bytes per logit in backward: the gradient from the kept softmax, scaled and cast to
/// BF16 for the output layer's backward (read 4, write 2).
pub const CE_BWD_BYTES: f64 = 6.0;
/// Bytes per logit the unfused `vocab_parallel_cross_entropy` moves in forward
/// (Megatron-Core's default, `megatron/core/tensor_parallel/cross_entropy.py`, and
/// Megatron-LM's only loss before it, `megatron/mpu/cross_entropy.py` @v2.5), pass by
/// pass: the FP32 copy of the BF16 logits (read 2, write 4), their max (read 4), the
/// in-place subtraction of the max (read 4, write 4), the in-place exp (read 4, write
/// 4), its sum (read 4), and the in-place division into the softmax kept for backward
/// (read 4, write 4).
pub const UNFUSED_CE_FWD_BYTES: f64 = 6.0 + 4.0 + 8.0 + 8.0 + 4.0 + 8.0;
/// Bytes per logit the unfused loss moves in backward: the kept softmax scaled in place
/// by the incoming gradient (read 4, write 4; the one-hot subtraction touches one logit
/// per token), and autograd's cast of the FP32 gradient to the BF16 logits' type (read
/// 4, write 2).
pub const UNFUSED_CE_BWD_BYTES: f64 = 8.0 + 6.0;
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
    let (fwd, bwd) = ce_bytes(ctx.training);
    HeadCost {
        gemm_s: k.gemm_s(g.m, g.n, g.k, dt),
        ce_fwd_s: k.memory_s(fwd * logits),
        ce_bwd_s: k.memory_s(bwd * logits),
    }
}

/// Bytes per logit the loss moves, forward and backward: Megatron-Core's fused or
/// unfused vocabulary-parallel cross-entropy (`training.fused_cross_entropy`) with
/// fused memory-bound ops, PyTorch's loss op by op in eager mode, and under
/// `torch.compile` the compiled loss or, when the loss is not compiled, PyTorch's.
pub fn ce_bytes(tr: &Training) -> (f64, f64) {
    match tr.elementwise {
        Elementwise::Fused if !tr.fused_cross_entropy => {
            (UNFUSED_CE_FWD_BYTES, UNFUSED_CE_BWD_BYTES)
        }
        // A loss outside the compiled model runs as PyTorch eager.
        Elementwise::Compiled if !tr.fused_cross_entropy => (
            CE_FWD_BYTES,
            super::elementwise::op_bytes(Elementwise::Eager).ce_bwd,
        ),
        e => (CE_FWD_BYTES, super::elementwise::op_bytes(e).ce_bwd),
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
