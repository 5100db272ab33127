//! Quantized GEMMs as they run (FP8, MXFP8, FP4): the memory-bound passes a recipe adds around each
//! quantized GEMM, the weight casts and caches, and the amax bookkeeping. The GEMM itself runs at the
//! measured FP8 efficiency (calibration); everything here is bytes through HBM or a
//! latency-bound collective, named per mechanism. No FP8 "discount" factor.
//!
//! Sources: Transformer Engine (TE) 1.x/2.x `module/linear.py`, `layernorm_linear.py`
//! and `fp8.py` (cast-transpose kernels, `is_first_microbatch` weight caching, global
//! amax reduction), TE's FP8 primer (Hopper FP8 GEMMs take only the "TN" layout, so
//! dgrad and wgrad need transposed FP8 copies), TE's recipe docs (delayed, current,
//! MXFP8 block scaling), Megatron-Core (`TELinear`, output layer and router outside TE)
//! and the DeepSeek-V3 report (arXiv 2412.19437), section 3.3.

use super::comm::{Comm, Group};
use super::layer::LayerCtx;
use crate::spec::training::{Fp8Recipe, Precision, Training};

/// Bytes per element of a BF16 value.
pub(crate) const BF16: f64 = 2.0;

/// How a recipe makes its quantized GEMM operands; it decides every pass below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastKind {
    /// TE delayed scaling: per-tensor scales from an amax history; the cast and the
    /// transpose are one kernel, which the norm before a GEMM fuses.
    Delayed,
    /// TE current scaling ("FP8-CS"): an amax pass over each tensor before its
    /// cast-transpose; not fused into the norm in TE 2.x.
    Current,
    /// Microscaling (TE `MXFP8BlockScaling`): the row-wise and column-wise copies with
    /// their E8M0 scales in one pass, fused into the norm; no global amax.
    Mx,
    /// DeepSeek-V3's tiles (section 3.3.2): activations quantized per 1x128 in a pass of
    /// their own (section 3.5.2), re-quantized column-wise in backward; weights per
    /// 128x128, one copy serving both orientations.
    Tiles,
    /// NVFP4/MXFP4 linear layers (NVIDIA, "Pretraining LLMs with NVFP4", 2025):
    /// activations and gradients quantized as the tiles are (the weight-gradient
    /// inputs' Hadamard transform fused into their column-wise pass), weights in a
    /// row-wise and a column-wise copy.
    Fp4,
}

/// The casting recipe in force for the linear layers' GEMMs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// How the operands are made.
    pub kind: CastKind,
    /// Bytes per quantized element with its scales (FP8 1, MXFP8 1 + 1/32, NVFP4
    /// 0.5 + 1/16, MXFP4 0.5 + 1/32).
    pub q: f64,
    /// Share of the layers the recipe keeps in BF16 (NVFP4: ~16%), which cast nothing.
    pub bf16_share: f64,
}

/// The recipe in force, `None` when the GEMMs run in BF16/FP16.
pub fn recipe(tr: &Training) -> Option<Recipe> {
    let kind = match tr.precision {
        Precision::Bf16 | Precision::Fp16 => return None,
        Precision::Fp8 => match tr.fp8_recipe {
            Fp8Recipe::Delayed => CastKind::Delayed,
            Fp8Recipe::Current => CastKind::Current,
            Fp8Recipe::Blockwise => CastKind::Tiles,
        },
        Precision::Mxfp8 => CastKind::Mx,
        Precision::Nvfp4 | Precision::Mxfp4 => CastKind::Fp4,
    };
    Some(Recipe {
        kind,
        q: tr.precision.operand_bytes(),
        bf16_share: tr.bf16_layer_share(),
    })
}

impl Recipe {
    /// Forward bytes per input element of quantizing a BF16 GEMM input, with the copy
    /// its weight-gradient GEMM needs (transposed on Hopper, column-wise under
    /// microscaling).
    ///
    /// `after_norm`: the input comes out of a LayerNorm/RMSNorm that TE fuses with the
    /// cast (`LayerNormLinear`): the norm writes q bytes instead of 2.
    pub fn input_cast_bytes(&self, after_norm: bool) -> f64 {
        let q = self.q;
        match (self.kind, after_norm) {
            // TE `fp8_cast_transpose_fused`: read 2, write the copy and its transpose.
            (CastKind::Delayed, false) | (CastKind::Mx, false) => BF16 + 2.0 * q,
            // The norm writes FP8 (saving 2 - q), then the transpose reads q, writes q.
            (CastKind::Delayed, true) => 2.0 * q - (BF16 - q),
            // The fused norm writes both copies: the column-wise one is the extra.
            (CastKind::Mx, true) => q - (BF16 - q),
            // The amax pass (read 2), then the cast-transpose.
            (CastKind::Current, _) => BF16 + BF16 + 2.0 * q,
            // Read 2, write q, in a pass of its own.
            (CastKind::Tiles | CastKind::Fp4, _) => BF16 + q,
        }
    }

    /// Backward bytes per input element: the cached quantized input re-quantized
    /// column-wise for the weight-gradient GEMM (read q, write q) where the forward
    /// made only the row-wise copy.
    pub fn input_requant_bytes(&self) -> f64 {
        match self.kind {
            CastKind::Tiles | CastKind::Fp4 => 2.0 * self.q,
            _ => 0.0,
        }
    }

    /// Backward bytes per output-gradient element: quantized row-wise for the
    /// input-gradient GEMM and column-wise for the weight-gradient GEMM in one pass (TE
    /// `fp8_cast_transpose_bgrad_fused`), after an amax pass under current scaling.
    pub fn grad_cast_bytes(&self) -> f64 {
        match self.kind {
            CastKind::Current => BF16 + BF16 + 2.0 * self.q,
            _ => BF16 + 2.0 * self.q,
        }
    }

    /// Bytes per quantized-GEMM weight of casting it once per optimizer step: TE casts
    /// on the first micro-batch (`is_first_microbatch`) and keeps the copies for the
    /// rest (Megatron-Core `TELinear`).
    pub fn weight_cast_bytes(&self) -> f64 {
        match self.kind {
            CastKind::Current => BF16 + BF16 + 2.0 * self.q,
            // 128x128 blocks: one quantized block serves both orientations.
            CastKind::Tiles => BF16 + self.q,
            _ => BF16 + 2.0 * self.q,
        }
    }

    /// Bytes per parameter averaged over the model's layers when a quantized layer's
    /// weight takes `quantized` bytes and the layers the recipe keeps in BF16 take 2.
    fn with_bf16_layers(&self, quantized: f64) -> f64 {
        (1.0 - self.bf16_share) * quantized + self.bf16_share * BF16
    }

    /// Bytes per quantized-GEMM weight held beside the BF16 weight between
    /// micro-batches: the copy and its transpose (TE on Hopper; row- and column-wise
    /// with scales under microscaling and FP4), or the one 128x128-block copy.
    pub fn weight_cache_bytes(&self) -> f64 {
        match self.kind {
            CastKind::Tiles => self.q,
            _ => 2.0 * self.q,
        }
    }

    /// Whether tokens are quantized once before the MoE dispatch and travel quantized
    /// (DeepSeek-V3 section 3.3.3; the FP4 recipe likewise). Megatron-Core's token
    /// dispatchers send BF16 under TE's recipes, and each expert GEMM casts its input.
    pub fn quantized_dispatch(&self) -> bool {
        matches!(self.kind, CastKind::Tiles | CastKind::Fp4)
    }

    /// Whether each stage's amaxes are reduced across its data- and tensor-parallel
    /// ranks once per forward and once per backward (TE's global amax reduction under
    /// delayed scaling, `reduce_amax`).
    pub fn global_amax_reduction(&self) -> bool {
        self.kind == CastKind::Delayed
    }

    /// Whether each sequence-parallel GEMM input's amax is all-reduced over the
    /// tensor-parallel group before its cast (current scaling: every rank must use the
    /// scale of the whole gathered tensor).
    pub fn tp_amax_per_cast(&self) -> bool {
        self.kind == CastKind::Current
    }
}

/// Bytes of amaxes per layer in TE's global amax reduction (about a dozen FP32 values:
/// input, weight and gradient of each FP8 GEMM). Latency-bound either way.
const AMAX_BYTES_PER_LAYER: f64 = 48.0;

/// TE's global amax reduction under delayed scaling: one all-reduce of a stage's
/// amaxes over its tensor-, context- and data-parallel ranks after each forward and
/// each backward (Megatron-Core's amax reduction group), seconds per micro-batch and
/// direction.
pub fn fp8_amax_s(ctx: &LayerCtx, comm: &Comm, layers: f64) -> f64 {
    let l = ctx.layout;
    match recipe(ctx.training) {
        Some(r) if r.global_amax_reduction() => comm.all_reduce_s(
            AMAX_BYTES_PER_LAYER * layers,
            Group {
                size: u64::from(l.tp) * u64::from(l.cp) * u64::from(l.dp),
                stride: 1,
            },
        ),
        _ => 0.0,
    }
}

/// Bytes per parameter of the weights the GEMMs read: BF16, plus the quantized copies
/// the recipe caches between micro-batches; with FP8 parameters
/// (`training.fp8_param_gather`) the quantized copies are the weights (the layers a
/// recipe keeps in BF16 aside).
pub fn weight_bytes(tr: &Training) -> f64 {
    match recipe(tr) {
        Some(r) if tr.fp8_param_gather => r.with_bf16_layers(r.weight_cache_bytes()),
        Some(r) => BF16 + r.weight_cache_bytes(),
        None => BF16,
    }
}

/// Bytes per parameter a data-parallel parameter all-gather moves: BF16, or the
/// quantized weight with FP8 parameters (Megatron-Core's `--fp8-param-gather`).
pub fn gather_bytes(tr: &Training) -> f64 {
    match recipe(tr) {
        Some(r) if tr.fp8_param_gather => r.with_bf16_layers(r.q),
        _ => BF16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: CastKind, q: f64) -> Recipe {
        Recipe {
            kind,
            q,
            bf16_share: 0.0,
        }
    }

    #[test]
    fn cast_bytes_by_hand() {
        let d = r(CastKind::Delayed, 1.0);
        // Delayed: read 2 + write 1 + 1 (TE cast-transpose).
        assert_eq!(d.input_cast_bytes(false), 4.0);
        // Fused into the norm: transpose 2, minus the byte the norm no longer writes.
        assert_eq!(d.input_cast_bytes(true), 1.0);
        // Current scaling: an amax pass (2) before the cast-transpose (4).
        let c = r(CastKind::Current, 1.0);
        assert_eq!(c.input_cast_bytes(true), 6.0);
        assert_eq!(c.grad_cast_bytes(), 6.0);
        // MXFP8: 2 + 2 x (1 + 1/32); fused into the norm 2 x (1 + 1/32) - 2.
        let mx = r(CastKind::Mx, 1.0 + 1.0 / 32.0);
        assert_eq!(mx.input_cast_bytes(false), 4.0625);
        assert_eq!(mx.input_cast_bytes(true), 0.0625);
        // DeepSeek-V3: read 2, write 1; column-wise again in backward (read 1, write 1).
        let t = r(CastKind::Tiles, 1.0);
        assert_eq!(t.input_cast_bytes(false) + t.input_requant_bytes(), 5.0);
        assert_eq!(t.weight_cache_bytes(), 1.0);
        assert_eq!(d.weight_cache_bytes(), 2.0);
        // NVFP4 (q = 0.5 + 1/16): read 2 + write q; gradient 2 + 2q; Hadamard-fused
        // column-wise pass 2q.
        let f = r(CastKind::Fp4, 0.5625);
        assert_eq!(f.input_cast_bytes(true), 2.5625);
        assert_eq!(f.grad_cast_bytes(), 3.125);
        assert_eq!(f.input_requant_bytes(), 1.125);
    }
}
