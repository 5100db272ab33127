//! Bytes the memory-bound ops of a layer move through HBM, per element, fused or in
//! PyTorch eager mode ([`Elementwise`]).
//!
//! Fused kernels read each input once and write each output once. In eager mode every
//! op of the model code is a kernel of its own, and the Llama reference code (which
//! torchtitan trains, `torchtitan/models/llama/model.py` and `models/norms.py`, with
//! `compile = false` in its 2024 train configs) upcasts to FP32 around its norms, its
//! rotary embedding and its loss. Counted op by op from that code, BF16 activations
//! (2 bytes), FP32 intermediates (4 bytes), forward:
//! - RMSNorm `(x.float() * rsqrt(x.float().pow(2).mean(-1) + eps)).type_as(x) * w`:
//!   `float()` r2 w4, `pow` r4 w4, `mean` r4, `* rsqrt` r4 w4, `type_as` r4 w2,
//!   `* weight` r2 w2 = 36 bytes per element, against 4 fused.
//! - rotary embedding through `view_as_complex(x.float())` times the complex64 `freqs_cis`:
//!   `float()` r2 w4, complex multiply r4 w4, `type_as` r4 w2 = 20 bytes per query or
//!   key element, against 4 fused.
//! - SwiGLU `silu(w1 x) * w3 x`: `silu` r2 w2, product r2 r2 w2 = 10 bytes per
//!   element of the FFN width, against 6 fused (read both halves, write once).
//! - the attention output `transpose(1, 2).contiguous()` before `wo`: r2 w2 = 4 bytes per
//!   element; fused attention writes the layout the projection reads (0).
//! - `repeat_kv` for grouped-query attention: `expand().reshape()` copies keys and values
//!   to every query head (read the KV heads, write the query heads' width).
//! - cross-entropy backward on FP32 logits: the NLL gradient written (w4), the
//!   log-softmax backward (r4 r4 w4 and a reduction pass r4), the cast back (r4 w2) =
//!   26 bytes per logit, against 6 for Megatron-Core's fused version.
//!
//! Under `torch.compile` (torchtitan compiles each block) Inductor generates the norms,
//! rotary embedding and activations as fused kernels, but calls SDPA and the matmuls as
//! extern kernels on materialized inputs: `repeat_kv`'s widened keys and values and
//! the attention output's contiguous copy stay ([`Elementwise::Compiled`]).
//!
//! Backward of the layer's memory-bound ops moves twice the forward's bytes, as for the
//! fused kernels ([`crate::analytic::layer`]); eager autograd's RMSNorm backward
//! moves ~2.5x (its chain of pow, mean and mul gradients), so this is a floor.
//!
//! Eager autograd also keeps more for backward: `pow` keeps the FP32 input (4 bytes,
//! where a fused norm keeps the BF16 input) and `* weight` keeps the normalised BF16
//! tensor (2 more); SiLU keeps its input and the product keeps both its operands (one
//! more FFN-wide tensor than the fused SwiGLU); SDPA keeps its output and `wo` keeps the
//! transposed copy (one more attention-output tensor); `repeat_kv`'s copies are what
//! SDPA keeps for keys and values.

use super::fp8::BF16;
use crate::spec::training::{Elementwise, MixedPrecision, Training};

/// Bytes one memory-bound op moves per element in forward, by how it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpBytes {
    /// One RMSNorm/LayerNorm, bytes per element of the hidden width.
    pub norm: f64,
    /// A gated activation (SwiGLU), bytes per element of the FFN width.
    pub gated_act: f64,
    /// An ungated activation (GeLU), bytes per element of the FFN width.
    pub act: f64,
    /// Rotary embedding, bytes per query or key element.
    pub rope: f64,
    /// Copy of the attention output into the projection's layout, bytes per element.
    pub attn_out_copy: f64,
    /// Grouped-query keys and values are copied to every query head (`repeat_kv`).
    pub repeat_kv: bool,
    /// Cross-entropy backward, bytes per logit.
    pub ce_bwd: f64,
    /// Stored for backward beyond the fused kernels' set, per token of a layer, in
    /// units of (hidden width, FFN width, attention-output width) elements x bytes.
    pub extra_stored: (f64, f64, f64),
}

impl OpBytes {
    /// Bytes kept for backward beyond the fused kernels' set, given a layer's
    /// hidden-sized, gated-FFN-sized (0 for an ungated MLP) and attention-output-sized
    /// element counts.
    pub fn extra_kept(&self, hidden: f64, ffn: f64, attn_out: f64) -> f64 {
        let (h, f, o) = self.extra_stored;
        h * hidden + f * ffn + o * attn_out
    }
}

/// Bytes per word- or position-embedding weight of the embedding's weight gradient, per
/// micro-batch: PyTorch's dense embedding backward zero-fills a BF16 gradient the size of
/// the (vocabulary-parallel) table before scattering the tokens' rows into it (aten
/// `embedding_backward_cuda_kernel`: `at::zeros({num_weights, ...})`), 2 bytes; under
/// Megatron's mixed precision its DDP hook then adds that gradient into the main
/// gradient (`param.main_grad.add_(param.grad.data)`, megatron/core/distributed/
/// distributed_data_parallel.py; the embedding is no linear whose weight-gradient GEMM
/// accumulates in place): read 2, read and write the main gradient. What PyTorch FSDP
/// and DeepSpeed do with the gradient afterwards runs with their reductions.
pub fn embedding_grad_bytes(tr: &Training) -> f64 {
    let zero_fill = BF16;
    match tr.mixed_precision {
        MixedPrecision::Megatron => zero_fill + BF16 + 2.0 * tr.grad_bytes_per_param,
        MixedPrecision::TorchAmp => zero_fill,
    }
}

/// The per-op bytes of `e` (module docs).
pub fn op_bytes(e: Elementwise) -> OpBytes {
    match e {
        Elementwise::Fused => FUSED,
        Elementwise::Eager => EAGER,
        Elementwise::Compiled => COMPILED,
        Elementwise::EagerFusedNorm => OpBytes {
            norm: FUSED.norm,
            extra_stored: (
                FUSED.extra_stored.0,
                EAGER.extra_stored.1,
                EAGER.extra_stored.2,
            ),
            ..EAGER
        },
    }
}

/// Fused kernels: one read of each input, one write of each output.
const FUSED: OpBytes = OpBytes {
    norm: 4.0,
    gated_act: 6.0,
    act: 4.0,
    rope: 4.0,
    attn_out_copy: 0.0,
    repeat_kv: false,
    ce_bwd: super::head::CE_BWD_BYTES,
    extra_stored: (0.0, 0.0, 0.0),
};

/// `torch.compile` over the Llama code (module docs): the fused kernels, and the
/// layout copies for SDPA and `wo`'s matmul, which Inductor calls as extern kernels
/// on materialized inputs (torchtitan models/llama/model.py @9dec370 and
/// models/llama3/model.py @e7c0cae: `repeat_kv` then SDPA, then
/// `transpose(1, 2).contiguous()`).
const COMPILED: OpBytes = OpBytes {
    attn_out_copy: EAGER.attn_out_copy,
    repeat_kv: true,
    ..FUSED
};

/// PyTorch eager mode, op by op (module docs).
const EAGER: OpBytes = OpBytes {
    norm: 6.0 + 8.0 + 4.0 + 8.0 + 6.0 + 4.0,
    gated_act: 4.0 + 6.0,
    act: 4.0,
    rope: 6.0 + 8.0 + 6.0,
    attn_out_copy: 4.0,
    repeat_kv: true,
    ce_bwd: 4.0 + 12.0 + 4.0 + 6.0,
    // Two norms x (FP32 input instead of BF16: +2, normalised tensor: +2); one
    // FFN-wide tensor (gated MLPs); one attention-output tensor.
    extra_stored: (2.0 * 4.0, 2.0, 2.0),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_gradient_bytes_by_hand() {
        // Zero fill 2; Megatron's hook reads the BF16 gradient (2) and reads and writes
        // an FP32 main gradient (4 + 4) or a BF16 one (2 + 2).
        let mut tr: Training = serde_json::from_str(r#"{"tokens": 1e9, "seq_len": 2048}"#).unwrap();
        assert_eq!(tr.mixed_precision, MixedPrecision::Megatron);
        tr.grad_bytes_per_param = 4.0;
        assert_eq!(embedding_grad_bytes(&tr), 12.0);
        tr.grad_bytes_per_param = 2.0;
        assert_eq!(embedding_grad_bytes(&tr), 8.0);
        tr.mixed_precision = MixedPrecision::TorchAmp;
        assert_eq!(embedding_grad_bytes(&tr), 2.0);
    }

    #[test]
    fn eager_bytes_by_hand() {
        // Hand counts from the module docs.
        let e = op_bytes(Elementwise::Eager);
        assert_eq!(e.norm, 36.0);
        assert_eq!(e.rope, 20.0);
        assert_eq!(e.gated_act, 10.0);
        assert_eq!(e.ce_bwd, 26.0);
        let f = op_bytes(Elementwise::Fused);
        assert_eq!((f.norm, f.gated_act, f.rope), (4.0, 6.0, 4.0));
        assert_eq!(f.extra_stored, (0.0, 0.0, 0.0));
        // A fused norm in eager mode: the norm's bytes and storage are the fused ones.
        let n = op_bytes(Elementwise::EagerFusedNorm);
        assert_eq!((n.norm, n.extra_stored.0), (4.0, 0.0));
        assert_eq!((n.rope, n.extra_stored.1), (20.0, 2.0));
        // Compiled: fused kernels, but the copies for SDPA and the matmul stay.
        let c = op_bytes(Elementwise::Compiled);
        assert_eq!(
            (c.norm, c.gated_act, c.rope, c.ce_bwd),
            (4.0, 6.0, 4.0, f.ce_bwd)
        );
        assert_eq!((c.attn_out_copy, c.repeat_kv), (4.0, true));
        assert_eq!(c.extra_stored, (0.0, 0.0, 0.0));
    }
}
