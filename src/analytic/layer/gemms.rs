//! GEMM time of one layer accumulated matmul by matmul: forward, input- and
//! weight-gradient GEMMs at the training precision, with the quantizing recipe's
//! casting traffic ([`fp8`]) and FP32 main-gradient accumulation.

use crate::analytic::compute::KernelModel;
use crate::analytic::fp8;
use crate::spec::gpu::Dtype;
use crate::spec::training::{MixedPrecision, Training};

/// Where a GEMM's input comes from: it decides the cast a quantized GEMM needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Src {
    /// A BF16 tensor cast in a pass of its own.
    Plain,
    /// A norm's output: the norm and the cast are one kernel (TE `LayerNormLinear`).
    Norm,
    /// Already quantized: once for several GEMMs, or before an expert dispatch.
    Cast,
}

/// Forward and backward GEMM time accumulated over a layer's matmuls, with the
/// quantizing recipe's casting traffic ([`fp8`]).
pub(super) struct Gemms<'a> {
    k: &'a dyn KernelModel,
    dt: Dtype,
    pub(super) recipe: Option<fp8::Recipe>,
    /// Weight gradients accumulate into FP32 main gradients in the GEMM's epilogue
    /// (Megatron's mixed precision; [`KernelModel::gemm_bwd_accum_s`]).
    accum: bool,
    pub(super) fwd: f64,
    pub(super) bwd: f64,
    /// Of `bwd`, the weight-gradient GEMMs.
    pub(super) wgrad: f64,
    /// Cast traffic, forward and backward, bytes.
    pub(super) cast_fwd: f64,
    pub(super) cast_bwd: f64,
    /// Quantized-GEMM weights on this GPU (cast once per step), parameters.
    pub(super) fp8_weights: f64,
}

impl<'a> Gemms<'a> {
    /// No GEMM yet: `k`'s kernels in `dt`, under `tr`'s quantizing recipe and mixed
    /// precision.
    pub(super) fn new(k: &'a dyn KernelModel, dt: Dtype, tr: &Training) -> Self {
        Gemms {
            k,
            dt,
            recipe: fp8::recipe(tr),
            accum: tr.mixed_precision == MixedPrecision::Megatron,
            fwd: 0.0,
            bwd: 0.0,
            wgrad: 0.0,
            cast_fwd: 0.0,
            cast_bwd: 0.0,
            fp8_weights: 0.0,
        }
    }

    /// Adds `count` GEMMs of layer shape (m, n, k) whose input comes from `src`;
    /// returns their forward seconds. Under FP8 the input, the output gradient and the
    /// weight are cast as the recipe does it.
    pub(super) fn add(&mut self, m: f64, n: f64, k: f64, count: f64, src: Src) -> f64 {
        let Some(r) = self.recipe else {
            let f = count * self.k.gemm_s(m, n, k, self.dt);
            self.fwd += f;
            self.bwd += count * self.bwd_s(m, n, k, self.dt);
            self.wgrad += count * self.wgrad_s(m, n, k, self.dt);
            return f;
        };
        // The layers a recipe keeps in BF16 (NVFP4: ~16%) cast nothing and run at BF16
        // rates: the per-layer figure is the average over the model's layers.
        let (lo, hi) = (1.0 - r.bf16_share, r.bf16_share);
        if src != Src::Cast {
            self.cast_fwd += lo * count * m * k * r.input_cast_bytes(src == Src::Norm);
        }
        self.cast_bwd +=
            lo * count * (m * n * r.grad_cast_bytes() + m * k * r.input_requant_bytes());
        self.fp8_weights += lo * count * n * k;
        let mix = |t: &dyn Fn(Dtype) -> f64| {
            lo * t(self.dt) + if hi > 0.0 { hi * t(Dtype::Bf16) } else { 0.0 }
        };
        let f = count * mix(&|d| self.k.gemm_s(m, n, k, d));
        self.fwd += f;
        self.bwd += count * mix(&|d| self.bwd_s(m, n, k, d));
        self.wgrad += count * mix(&|d| self.wgrad_s(m, n, k, d));
        f
    }

    /// Input- and weight-gradient GEMMs of one (m, n, k) GEMM, seconds.
    fn bwd_s(&self, m: f64, n: f64, k: f64, dt: Dtype) -> f64 {
        if self.accum {
            self.k.gemm_bwd_accum_s(m, n, k, dt)
        } else {
            self.k.gemm_bwd_s(m, n, k, dt)
        }
    }

    /// Of [`Self::bwd_s`], the weight-gradient GEMM, seconds.
    fn wgrad_s(&self, m: f64, n: f64, k: f64, dt: Dtype) -> f64 {
        if self.accum {
            self.k.gemm_wgrad_accum_s(m, n, k, dt)
        } else {
            self.k.gemm_wgrad_s(m, n, k, dt)
        }
    }

    /// Adds a GEMM that stays BF16 under every FP8 recipe (the MoE router: Megatron-Core's
    /// `TopKRouter` is outside TE; DeepSeek-V3 section 3.3 keeps gating in BF16).
    pub(super) fn add_bf16(&mut self, m: f64, n: f64, k: f64) -> f64 {
        let f = self.k.gemm_s(m, n, k, Dtype::Bf16);
        self.fwd += f;
        self.bwd += self.k.gemm_bwd_s(m, n, k, Dtype::Bf16);
        self.wgrad += self.k.gemm_wgrad_s(m, n, k, Dtype::Bf16);
        f
    }
}
