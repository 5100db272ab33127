//! GEMM time of one layer accumulated matmul by matmul: forward, input- and
//! weight-gradient GEMMs at the training precision, with the quantizing recipe's
//! casting traffic ([`fp8`]) and FP32 main-gradient accumulation. What the GEMMs are
//! is [`super::list`]'s; this file only prices them.

use crate::analytic::compute::KernelModel;
use crate::analytic::fp8;
use crate::spec::gpu::Dtype;
use crate::spec::training::{MixedPrecision, Training};

use super::list::LayerGemm;

/// Where a GEMM's input comes from: it decides the cast a quantized GEMM needs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Src {
    /// A BF16 tensor cast in a pass of its own.
    #[default]
    Plain,
    /// A norm's output: the norm and the cast are one kernel (TE `LayerNormLinear`).
    Norm,
    /// Already quantized: once for several GEMMs (MLA's down-projections, the shared
    /// expert beside a quantized dispatch).
    Cast,
    /// Quantized once before the expert dispatch (FP8 on the wire, DeepSeek-V3): the
    /// one cast pass over the `tokens` x k un-dispatched input is this GEMM's.
    Dispatch {
        /// Tokens cast before the dispatch (this GPU's, not the expert's share), count.
        tokens: f64,
    },
}

/// One GEMM's time on one GPU for one micro-batch, casts excluded, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GemmTime {
    /// Forward.
    pub fwd_s: f64,
    /// Backward: input- and weight-gradient GEMMs.
    pub bwd_s: f64,
    /// Of `bwd_s`, the weight-gradient GEMM.
    pub wgrad_s: f64,
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

    /// Adds `g` (one of [`super::list::layer_gemms`]) and returns its time.
    pub(super) fn price(&mut self, g: &LayerGemm) -> GemmTime {
        if g.bf16 {
            self.add_bf16(g.m, g.n, g.k, g.count)
        } else {
            self.add(g.m, g.n, g.k, g.count, g.src)
        }
    }

    /// Adds `count` GEMMs of layer shape (m, n, k) whose input comes from `src`;
    /// returns their time. Under FP8 the input, the output gradient and the weight are
    /// cast as the recipe does it.
    fn add(&mut self, m: f64, n: f64, k: f64, count: f64, src: Src) -> GemmTime {
        let Some(r) = self.recipe else {
            let t = GemmTime {
                fwd_s: count * self.k.gemm_s(m, n, k, self.dt),
                bwd_s: count * self.bwd_s(m, n, k, self.dt),
                wgrad_s: count * self.wgrad_s(m, n, k, self.dt),
            };
            return self.sum(t);
        };
        // The layers a recipe keeps in BF16 (NVFP4: ~16%) cast nothing and run at BF16
        // rates: the per-layer figure is the average over the model's layers.
        let (lo, hi) = (1.0 - r.bf16_share, r.bf16_share);
        match src {
            Src::Plain | Src::Norm => {
                self.cast_fwd += lo * count * m * k * r.input_cast_bytes(src == Src::Norm);
            }
            Src::Dispatch { tokens } => {
                self.cast_fwd += lo * tokens * k * r.input_cast_bytes(false);
            }
            Src::Cast => {}
        }
        self.cast_bwd +=
            lo * count * (m * n * r.grad_cast_bytes() + m * k * r.input_requant_bytes());
        self.fp8_weights += lo * count * n * k;
        let mix = |t: &dyn Fn(Dtype) -> f64| {
            lo * t(self.dt) + if hi > 0.0 { hi * t(Dtype::Bf16) } else { 0.0 }
        };
        let t = GemmTime {
            fwd_s: count * mix(&|d| self.k.gemm_s(m, n, k, d)),
            bwd_s: count * mix(&|d| self.bwd_s(m, n, k, d)),
            wgrad_s: count * mix(&|d| self.wgrad_s(m, n, k, d)),
        };
        self.sum(t)
    }

    /// Adds `t` to the layer's sums and returns it.
    fn sum(&mut self, t: GemmTime) -> GemmTime {
        self.fwd += t.fwd_s;
        self.bwd += t.bwd_s;
        self.wgrad += t.wgrad_s;
        t
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
    fn add_bf16(&mut self, m: f64, n: f64, k: f64, count: f64) -> GemmTime {
        self.sum(GemmTime {
            fwd_s: count * self.k.gemm_s(m, n, k, Dtype::Bf16),
            bwd_s: count * self.k.gemm_bwd_s(m, n, k, Dtype::Bf16),
            wgrad_s: count * self.k.gemm_wgrad_s(m, n, k, Dtype::Bf16),
        })
    }
}
