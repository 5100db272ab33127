//! Kernel time: a roofline over calibrated efficiencies.
//!
//! time = max(FLOPs / (peak x efficiency x sustained clock), bytes / (HBM x efficiency)).
//! The efficiencies come from the GPU profile: constants per GPU (measured on the
//! H100, derived from the datasheet elsewhere) until a shape-aware fitted model is
//! plugged in through [`KernelModel`].

use crate::spec::gpu::{Dtype, GpuProfile};

/// Query rows per flash-attention thread block (and key columns per tile): 128 in
/// FlashAttention-2/3's Hopper kernels for head dimensions up to 128.
pub const ATTN_BLOCK: f64 = 128.0;

/// One causal flash-attention call on one GPU, over the whole sequence or through a
/// sliding window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttnShape {
    /// Sequences.
    pub b: f64,
    /// Query heads on this GPU.
    pub heads: f64,
    /// Query positions on this GPU (the context-parallel shard).
    pub s_q: f64,
    /// Key positions attended to (the whole sequence).
    pub s_kv: f64,
    /// Query/key head dimension.
    pub d_qk: f64,
    /// Value head dimension.
    pub d_v: f64,
    /// Keys a query attends to at most: the sliding window of a windowed layer, tokens
    /// (`f64::INFINITY` for full causal attention).
    pub window: f64,
}

impl AttnShape {
    /// Keys a query attends to, averaged over the sequence: `s_kv / 2` under the causal
    /// mask; `w - w^2 / (2 s_kv)` through a window `w < s_kv` (query `i` sees
    /// `min(i + 1, w)` keys; the sum over `s_kv` queries is `s_kv w - w^2 / 2` in the
    /// continuum, which is `s_kv^2 / 2` at `w = s_kv`): the continuum form of
    /// Megatron-Bridge's `w - w (w - 1) / (2 s)` (`flop_utils.py` `calculate_swa_context`,
    /// @067f987d).
    pub fn keys_per_query(&self) -> f64 {
        band_mean(self.s_kv, self.window)
    }

    /// Keys per query a tiled flash kernel computes with `block` = [`ATTN_BLOCK`] rows
    /// per query tile and as many columns per key tile, counted as the kernel's fitted
    /// rate prices them. Under the causal mask that is `s_kv / 2`: the fit measured
    /// causal kernels, so the half tile of masked work on each diagonal is in its
    /// efficiency. Through a window, a query tile touches the key tiles over
    /// `w + block - 1` positions, each computed whole and masked (FlashAttention-2/3 and
    /// cuDNN skip only tiles wholly outside the band): the band of a window
    /// `w + block / 2` once the diagonal's half tile is taken out. A 128-token window at
    /// 4,096 tokens: 187.5 keys per query for 126 attended.
    pub fn kernel_keys_per_query(&self) -> f64 {
        band_mean(self.s_kv, self.window + 0.5 * ATTN_BLOCK)
    }

    /// Keys the longest query tile computes (the kernel's critical path): the whole
    /// sequence under the causal mask, `w + block` through a window.
    pub fn longest_tile_keys(&self) -> f64 {
        (self.window + ATTN_BLOCK).min(self.s_kv)
    }

    /// Forward FLOPs the flash kernel computes at its fitted rate
    /// ([`Self::kernel_keys_per_query`]), FLOPs.
    pub fn kernel_flops(&self) -> f64 {
        2.0 * self.b * self.heads * self.s_q * self.kernel_keys_per_query() * (self.d_qk + self.d_v)
    }

    /// Forward FLOPs of the attention the mask lets through: `2 b heads s_q (d_qk + d_v)`
    /// per key attended ([`Self::keys_per_query`]), the causal half of QK^T and PV (the
    /// band under a sliding window).
    pub fn causal_flops(&self) -> f64 {
        2.0 * self.b * self.heads * self.s_q * self.keys_per_query() * (self.d_qk + self.d_v)
    }
}

/// Keys per query over a sequence of `s` tokens under the causal mask and a window of
/// `w` tokens, averaged over the queries: `w - w^2 / (2 s)` for `w < s`, else `s / 2`.
fn band_mean(s: f64, w: f64) -> f64 {
    if w >= s {
        0.5 * s
    } else {
        w - w * w / (2.0 * s)
    }
}

/// Seconds for the kernels a training step is made of.
pub trait KernelModel {
    /// One GEMM `[m, k] x [k, n]` in `dtype`, forward orientation, seconds.
    fn gemm_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64;
    /// Its backward: input-gradient plus weight-gradient GEMMs, seconds.
    fn gemm_bwd_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        2.0 * self.gemm_s(m, n, k, dtype)
    }
    /// Of [`Self::gemm_bwd_s`], the weight-gradient GEMM `[k, m] x [m, n]` alone (what
    /// zero-bubble schedules defer), seconds.
    fn gemm_wgrad_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.gemm_s(m, n, k, dtype)
    }
    /// As [`Self::gemm_bwd_s`] with the weight gradient accumulated into an FP32
    /// main-gradient buffer by the GEMM's epilogue (read 4 B, write 4 B per weight
    /// instead of writing 2 B): Megatron's `gradient_accumulation_fusion`, TE's
    /// `fuse_wgrad_accumulation`. Seconds; equal to `gemm_bwd_s` where the model
    /// does not see epilogues.
    fn gemm_bwd_accum_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.gemm_bwd_s(m, n, k, dtype)
    }
    /// Of [`Self::gemm_bwd_accum_s`], the accumulating weight-gradient GEMM alone,
    /// seconds; equal to `gemm_wgrad_s` where the model does not see epilogues.
    fn gemm_wgrad_accum_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.gemm_wgrad_s(m, n, k, dtype)
    }
    /// Compute-bound matmul work of `flops` at the GEMM rate, seconds.
    fn matmul_flops_s(&self, flops: f64, dtype: Dtype) -> f64;
    /// Flash attention forward and backward, seconds.
    fn attention_s(&self, shape: &AttnShape) -> (f64, f64);
    /// How much longer FlashAttention-2 takes than [`Self::attention_s`]'s kernel, forward
    /// and backward (1 where the modelled kernel is FlashAttention-2 class already).
    fn flash2_slowdown(&self) -> (f64, f64) {
        (1.0, 1.0)
    }
    /// A memory-bound kernel moving `bytes` (reads + writes), seconds.
    fn memory_s(&self, bytes: f64) -> f64;
    /// What this model is, in words (printed with every estimate).
    fn describe(&self) -> String {
        "kernel times come from a model supplied by the caller".to_string()
    }
    /// The fused optimizer update streaming `bytes` (reads + writes) over many
    /// tensors, seconds: at the GPU's measured optimizer rate where its profile has
    /// one ([`crate::spec::gpu::Efficiency::optimizer`]), else as [`Self::memory_s`].
    fn optimizer_s(&self, bytes: f64) -> f64 {
        self.memory_s(bytes)
    }
    /// Streaming multiprocessors the GEMMs run on (what a communication kernel that
    /// holds some of them takes its share from), count; 0 where the model does not
    /// see SMs.
    fn sm_count(&self) -> f64 {
        0.0
    }
}

/// Constant efficiencies from the GPU profile.
#[derive(Debug, Clone, Copy)]
pub struct ConstantEfficiency {
    /// Sustained FLOP/s per dtype for GEMMs: [bf16-class, fp8, fp4, fp32, tf32].
    gemm_flops_bf16: f64,
    gemm_flops_fp8: f64,
    gemm_flops_fp4: f64,
    gemm_flops_tf32: f64,
    gemm_flops_fp32: f64,
    /// Sustained attention FLOP/s (bf16).
    attn_flops: f64,
    /// Achieved memory bandwidth, bytes/s.
    mem_bw: f64,
    /// The fused optimizer's streaming rate, bytes/s.
    opt_bw: f64,
    /// Streaming multiprocessors, count.
    sms: f64,
}

impl ConstantEfficiency {
    /// Builds the model from a GPU profile.
    pub fn new(gpu: &GpuProfile) -> Self {
        let e = &gpu.efficiency;
        let s = e.gemm * e.sustained_clock;
        let p = &gpu.peak_flops;
        ConstantEfficiency {
            gemm_flops_bf16: p.half() * s,
            // Without FP8 tensor cores, FP8 GEMMs run as BF16.
            gemm_flops_fp8: p.fp8.unwrap_or(p.half()) * s,
            // Without FP4 tensor cores, FP4 weights are dequantized to the FP8 (else BF16) path.
            gemm_flops_fp4: p.fp4.or(p.fp8).unwrap_or(p.half()) * s,
            gemm_flops_tf32: p.tf32 * s,
            gemm_flops_fp32: p.fp32 * s,
            attn_flops: p.half() * e.attention * e.sustained_clock,
            mem_bw: gpu.hbm_bandwidth * e.memory,
            opt_bw: gpu.hbm_bandwidth * e.optimizer.unwrap_or(e.memory),
            sms: f64::from(gpu.sm_count),
        }
    }

    /// Runs every compute-bound kernel at `rate` times its rate (a clock `rate` times
    /// the sustained one); memory-bound kernels keep theirs.
    pub fn scale_clock(&mut self, rate: f64) {
        for f in [
            &mut self.gemm_flops_bf16,
            &mut self.gemm_flops_fp8,
            &mut self.gemm_flops_fp4,
            &mut self.gemm_flops_tf32,
            &mut self.gemm_flops_fp32,
            &mut self.attn_flops,
        ] {
            *f *= rate;
        }
    }

    fn flops(&self, dtype: Dtype) -> f64 {
        match dtype {
            Dtype::Bf16 | Dtype::Fp16 => self.gemm_flops_bf16,
            Dtype::Fp8 => self.gemm_flops_fp8,
            Dtype::Fp4 => self.gemm_flops_fp4,
            Dtype::Tf32 => self.gemm_flops_tf32,
            Dtype::Fp32 => self.gemm_flops_fp32,
        }
    }
}

impl KernelModel for ConstantEfficiency {
    fn gemm_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        let flops = 2.0 * m * n * k;
        // Operands and result once each through HBM; skinny GEMMs hit this bound.
        let bytes = dtype.bytes() * (m * k + k * n) + 2.0 * m * n;
        (flops / self.flops(dtype)).max(bytes / self.mem_bw)
    }

    fn matmul_flops_s(&self, flops: f64, dtype: Dtype) -> f64 {
        flops / self.flops(dtype)
    }

    fn attention_s(&self, shape: &AttnShape) -> (f64, f64) {
        // Flash-attention backward runs five matmuls against the forward's two.
        let f = shape.kernel_flops() / self.attn_flops;
        (f, 2.5 * f)
    }

    fn memory_s(&self, bytes: f64) -> f64 {
        bytes / self.mem_bw
    }

    fn optimizer_s(&self, bytes: f64) -> f64 {
        bytes / self.opt_bw
    }
    fn sm_count(&self) -> f64 {
        self.sms
    }
}
