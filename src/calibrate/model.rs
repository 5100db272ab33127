//! The fitted kernel-efficiency model: GEMMs as tiles in waves over the SMs, flash
//! attention as query blocks with a causal tail, memory-bound kernels at the measured
//! bandwidth, and the clock the power cap settles at.
//!
//! The form is physical; its few constants are fitted to kernel measurements by
//! [`super::fit`]. A GPU without measurements uses its own datasheet (SMs, peaks,
//! bandwidth) with the dimensionless constants of a measured GPU of the same form.

use serde::{Deserialize, Serialize};

use super::data::Orientation;
use crate::analytic::compute::{AttnShape, KernelModel};
use crate::spec::gpu::{Dtype, GpuProfile};

/// CTA output tiles cuBLAS(Lt) chooses among on Hopper-class GPUs (rows x columns).
/// Largest first: large GEMMs find their best early and prune the rest.
pub const TILES: [(f64, f64); 8] = [
    (128.0, 256.0),
    (256.0, 128.0),
    (192.0, 192.0),
    (128.0, 192.0),
    (192.0, 128.0),
    (128.0, 128.0),
    (64.0, 128.0),
    (128.0, 64.0),
];
pub use crate::analytic::compute::ATTN_BLOCK;

/// Fitted GEMM constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GemmFit {
    /// Fraction of an SM's dense BF16 peak reached inside a tile's reduction loop.
    pub mainloop_eff: f64,
    /// Prologue and epilogue of one wave of tiles, seconds.
    pub tile_overhead_s: f64,
    /// Extra cost of a split-K schedule (a second kernel reducing the partial sums), seconds.
    pub splitk_overhead_s: f64,
    /// Tile arithmetic intensity (tm x tn / (tm + tn), FLOPs per operand element loaded)
    /// below which the mainloop is bound by shared-memory operand traffic and slows in
    /// proportion: small tiles run below the large tiles' efficiency.
    pub intensity_knee: f64,
    /// Fraction of the SMs that must stream operands to saturate HBM: fewer active
    /// thread blocks reach proportionally less bandwidth (small-M GEMMs). Above 1, a
    /// GEMM's operand stream tops out at 1/x of copy bandwidth even with every SM
    /// loading (a few pipeline stages in flight per SM, against a copy's many).
    pub bw_saturation: f64,
    /// Fraction of a tile's epilogue (output store) not hidden behind the next tile.
    pub epilogue_exposed: f64,
    /// Fixed cost per kernel (launch, ramp, tail), seconds.
    pub launch_s: f64,
    /// Time constant over which a kernel's clock falls from burst to the power-capped
    /// sustained clock, seconds (shapes long single kernels in the measurements).
    pub power_tau_s: f64,
    /// Efficiency of the input-gradient orientation relative to forward.
    pub dgrad: f64,
    /// Efficiency of the weight-gradient orientation relative to forward.
    pub wgrad: f64,
    /// Mainloop efficiency of FP8 relative to BF16 (each against its own peak).
    pub fp8: f64,
    /// Same for TF32.
    pub tf32: f64,
    /// Same for FP32 (CUDA cores).
    pub fp32: f64,
}

/// Fitted flash-attention constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttnFit {
    /// Forward efficiency against the BF16 peak, causal-half FLOPs.
    pub fwd_eff: f64,
    /// Backward efficiency (2.5x the forward FLOPs).
    pub bwd_eff: f64,
    /// Fraction of the longest query block's time left as a tail after the others finish.
    pub tail: f64,
    /// Fixed cost per kernel, seconds.
    pub launch_s: f64,
    /// Clock attention settles at when timed alone under the power cap, as a fraction
    /// of burst: at ~60% of the tensor-core peak it draws less power than a large GEMM
    /// and keeps more of its clock (interprets the measurements; training runs it at
    /// the GEMMs' clock, see [`FittedKernels`]).
    pub sustained_clock: f64,
}

/// Everything the fit produces for one GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelFit {
    /// GPU profile name the measurements came from.
    pub gpu: String,
    /// GEMM constants.
    pub gemm: GemmFit,
    /// Attention constants.
    pub attention: AttnFit,
    /// Device-copy bandwidth over datasheet HBM bandwidth.
    pub memory_eff: f64,
    /// Sustained over burst throughput of back-to-back GEMMs at the power cap.
    pub sustained_clock: f64,
    /// The same for back-to-back FP8 GEMMs (sustained_fp8.csv), where measured: FP8
    /// tensor-core math may draw a different power per clock than BF16's, so it may
    /// settle at a clock of its own. `None`: FP8 GEMMs run at [`Self::sustained_clock`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8_sustained_clock: Option<f64>,
    /// Fit quality on the measured points, for the record.
    pub error: FitError,
}

impl KernelFit {
    /// The power-capped clock, as a fraction of burst, that GEMMs of `dtype` settle at:
    /// FP8's own where measured (FP4's too: block-scaled MMA on the same tensor cores,
    /// derived, not measured), otherwise the BF16 GEMMs'.
    pub fn gemm_clock(&self, dtype: Dtype) -> f64 {
        match (dtype, self.fp8_sustained_clock) {
            (Dtype::Fp8 | Dtype::Fp4, Some(c)) => c,
            _ => self.sustained_clock,
        }
    }
}

/// Absolute relative errors of the fit on its own measurements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FitError {
    /// GEMM points.
    pub gemm_points: usize,
    /// Median |predicted / measured - 1| over GEMMs.
    pub gemm_median: f64,
    /// Worst over GEMMs.
    pub gemm_worst: f64,
    /// Attention points.
    pub attn_points: usize,
    /// Median over attention.
    pub attn_median: f64,
    /// Worst over attention.
    pub attn_worst: f64,
}

/// The hardware numbers the model form needs, from a GPU profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardware {
    /// Streaming multiprocessors.
    pub sms: f64,
    /// Dense peaks, FLOP/s: bf16, fp8, tf32, fp32.
    pub bf16: f64,
    /// FP8 (BF16 when absent).
    pub fp8: f64,
    /// FP4 (FP8, else BF16, when absent).
    pub fp4: f64,
    /// TF32.
    pub tf32: f64,
    /// FP32.
    pub fp32: f64,
    /// Datasheet HBM bandwidth, bytes/s.
    pub hbm: f64,
    /// L2 cache, bytes.
    pub l2: f64,
}

impl Hardware {
    /// From a GPU profile.
    pub fn of(gpu: &GpuProfile) -> Self {
        let p = &gpu.peak_flops;
        Hardware {
            sms: gpu.sm_count.max(1) as f64,
            bf16: p.half(),
            fp8: p.fp8.unwrap_or(p.half()),
            fp4: p.fp4.or(p.fp8).unwrap_or(p.half()),
            tf32: p.tf32,
            fp32: p.fp32,
            hbm: gpu.hbm_bandwidth,
            l2: gpu.l2_bytes,
        }
    }
}

/// Peak and relative mainloop efficiency of `dtype` under `g`.
fn dtype_rate(hw: &Hardware, g: &GemmFit, dtype: Dtype) -> (f64, f64) {
    match dtype {
        Dtype::Bf16 | Dtype::Fp16 => (hw.bf16, 1.0),
        Dtype::Fp8 => (hw.fp8, g.fp8),
        // Never measured here: FP4 GEMMs are taken to reach FP8's relative mainloop
        // efficiency (block-scaled MMA on the same tensor cores; derived, not fitted).
        Dtype::Fp4 => (hw.fp4, g.fp8),
        Dtype::Tf32 => (hw.tf32, g.tf32),
        Dtype::Fp32 => (hw.fp32, g.fp32),
    }
}

/// One GEMM as the hardware sees it: output `rows x cols`, reduction `k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Problem {
    /// Output rows.
    pub rows: f64,
    /// Output columns.
    pub cols: f64,
    /// Reduction length.
    pub k: f64,
    /// Which orientation of a layer GEMM this is.
    pub op: Orientation,
    /// Operand type.
    pub dtype: Dtype,
    /// Bytes the epilogue moves per output element: 2 for a BF16 write,
    /// [`MAIN_GRAD_ACCUM_BYTES`] for a weight gradient accumulated into FP32.
    pub out_bytes: f64,
}

/// Bytes per element a weight-gradient GEMM's epilogue moves when it accumulates into
/// the FP32 main-gradient buffer (beta = 1: read 4, write 4) instead of writing BF16:
/// Megatron-LM/Megatron-Core keep FP32 main gradients across micro-batches and fuse the
/// accumulation into the GEMM (`gradient_accumulation_fusion`, on by default; Transformer
/// Engine's `fuse_wgrad_accumulation` for its modules, FP8 GEMMs included).
pub const MAIN_GRAD_ACCUM_BYTES: f64 = 8.0;

impl Problem {
    /// The `op` orientation of the layer GEMM (M, N, K).
    pub fn of(m: f64, n: f64, k: f64, op: Orientation, dtype: Dtype) -> Self {
        let (rows, cols, k) = op.shape(m, n, k);
        Problem {
            rows,
            cols,
            k,
            op,
            dtype,
            out_bytes: 2.0,
        }
    }
}

/// Time of one GEMM, seconds, with the SMs at `clock` times their burst clock.
///
/// The clock scales the SM side (mainloop, epilogue, tile overhead) only: HBM runs on
/// its own clock, so a memory-bound GEMM does not slow when the power cap lowers the
/// SM clock.
pub fn gemm_s(hw: &Hardware, g: &GemmFit, mem_bw: f64, clock: f64, p: &Problem) -> f64 {
    let Problem {
        rows,
        cols,
        k,
        op,
        dtype,
        out_bytes,
    } = *p;
    let (peak, rel) = dtype_rate(hw, g, dtype);
    let orient = match op {
        Orientation::Fwd => 1.0,
        Orientation::Dgrad => g.dgrad,
        Orientation::Wgrad => g.wgrad,
    };
    let per_sm = peak / hw.sms * g.mainloop_eff * rel * orient * clock;
    let operands = dtype.bytes() * (rows * k + cols * k);
    // No tiling streams faster than every SM at full bandwidth.
    let memory_floor =
        (operands + out_bytes * rows * cols) / (mem_bw * (1.0 / g.bw_saturation).min(1.0));
    let mut best = f64::INFINITY;
    for (tm, tn) in TILES {
        let per_sm = per_sm * (tm * tn / (tm + tn) / g.intensity_knee).min(1.0);
        // A bound no split of this tile beats (perfect waves, nothing but the
        // mainloop): skip the tile when it cannot win. Pure pruning.
        let floor = (2.0 * rows * cols * k / (hw.sms * per_sm)).max(memory_floor);
        if floor * (1.0 - 1e-12) >= best {
            continue;
        }
        let tiles = (rows / tm).ceil() * (cols / tn).ceil();
        // Split-K: small outputs with long reductions are split so that more thread
        // blocks run; partial sums (FP32) are written, read back and reduced.
        for split in [1.0, 2.0, 4.0, 8.0, 16.0] {
            if split > 1.0 && k / split < 256.0 {
                break;
            }
            let ctas = tiles * split;
            let waves = (ctas / hw.sms).ceil();
            // Each wave: the reduction loop, then the part of the epilogue (storing the
            // output tile at the SM's share of HBM bandwidth) that the next tile's
            // mainloop does not hide.
            let epilogue = tm * tn * if split > 1.0 { 4.0 } else { out_bytes } / (mem_bw / hw.sms);
            let compute = waves
                * (2.0 * tm * tn * (k / split) / per_sm
                    + (g.epilogue_exposed * epilogue + g.tile_overhead_s) / clock);
            let active = ctas.min(hw.sms);
            let bw = mem_bw * (active / (g.bw_saturation * hw.sms)).min(1.0);
            // Partial sums stay in L2 when they fit; only the overflow goes to HBM.
            let partials = if split > 1.0 {
                (2.0 * 4.0 * rows * cols * split - hw.l2).max(0.0)
            } else {
                0.0
            };
            let memory = (operands + out_bytes * rows * cols + partials) / bw;
            let fixup = if split > 1.0 {
                g.splitk_overhead_s
            } else {
                0.0
            };
            best = best.min(compute.max(memory) + fixup);
        }
    }
    best + g.launch_s
}

/// Clock factor of a kernel that runs `t` seconds from a cool start (measurement
/// conditions): burst at first, settling to `sustained` with time constant `tau`.
pub fn clock_factor(t: f64, sustained: f64, tau: f64) -> f64 {
    if tau <= 0.0 {
        return 1.0;
    }
    1.0 - (1.0 - sustained) * (1.0 - (-t / tau).exp())
}

/// Flash-attention forward and backward burst times, seconds.
pub fn attn_burst_s(hw: &Hardware, a: &AttnFit, shape: &AttnShape) -> (f64, f64) {
    // Causal: each query block attends to the keys up to its own position (through a
    // sliding window, the key tiles its band touches).
    let flops = shape.kernel_flops();
    let longest = 2.0 * ATTN_BLOCK * shape.longest_tile_keys() * (shape.d_qk + shape.d_v);
    let rate = |eff: f64| hw.bf16 / hw.sms * eff;
    let fwd = flops / (rate(a.fwd_eff) * hw.sms) + a.tail * longest / rate(a.fwd_eff) + a.launch_s;
    let bwd = 2.5 * flops / (rate(a.bwd_eff) * hw.sms)
        + a.tail * 2.5 * longest / rate(a.bwd_eff)
        + a.launch_s;
    (fwd, bwd)
}

/// The fitted model bound to one GPU, as the analytic model uses it: every
/// compute-bound kernel at the GEMMs' power-capped sustained clock. Attention alone
/// keeps more of its clock ([`AttnFit::sustained_clock`]), but in training it runs
/// between GEMMs a few milliseconds apart, within the power controller's time
/// constant, so the GEMMs set the clock.
#[derive(Debug, Clone)]
pub struct FittedKernels {
    hw: Hardware,
    fit: KernelFit,
    mem_bw: f64,
    opt_bw: Option<f64>,
    sustained: f64,
    /// FP8 and FP4 GEMMs' sustained clock, fraction of burst.
    sustained_fp8: f64,
}

impl FittedKernels {
    /// Binds `fit` to `gpu`. When the fit was measured on another GPU, its
    /// dimensionless constants carry over and the datasheet supplies the rest; the
    /// memory efficiency and sustained clock then come from `gpu`'s profile, and FP8's
    /// relative efficiency too where the profile gives one. FP8's own sustained clock,
    /// where the fit measured one, carries over as its ratio to the BF16 GEMMs' (a
    /// dimensionless property of the tensor cores under a power cap), except where the
    /// profile gives FP8 an efficiency of its own, which then stands for FP8 alone.
    pub fn new(gpu: &GpuProfile, fit: &KernelFit) -> Self {
        let own = fit.gpu == gpu.name;
        let memory_eff = if own {
            fit.memory_eff
        } else {
            gpu.efficiency.memory
        };
        let sustained = if own {
            fit.sustained_clock
        } else {
            gpu.efficiency.sustained_clock
        };
        let own_fp8 = own || gpu.efficiency.fp8_relative.is_none();
        let fp8_ratio = match (own_fp8, fit.fp8_sustained_clock) {
            (true, Some(c)) => c / fit.sustained_clock,
            _ => 1.0,
        };
        let mut fit = fit.clone();
        if let (false, Some(r)) = (own, gpu.efficiency.fp8_relative) {
            fit.gemm.fp8 = r;
        }
        FittedKernels {
            hw: Hardware::of(gpu),
            fit,
            mem_bw: gpu.hbm_bandwidth * memory_eff,
            opt_bw: gpu.efficiency.optimizer.map(|e| gpu.hbm_bandwidth * e),
            sustained,
            sustained_fp8: sustained * fp8_ratio,
        }
    }

    fn gemm(&self, m: f64, n: f64, k: f64, op: Orientation, dtype: Dtype) -> f64 {
        self.gemm_out(m, n, k, op, dtype, 2.0)
    }

    fn gemm_out(&self, m: f64, n: f64, k: f64, op: Orientation, dtype: Dtype, out: f64) -> f64 {
        let mut p = Problem::of(m, n, k, op, dtype);
        p.out_bytes = out;
        gemm_s(&self.hw, &self.fit.gemm, self.mem_bw, self.clock(dtype), &p)
    }

    /// Lowers the sustained clock of every compute-bound kernel to `rate` times its own
    /// (the slowest chip of a job, [`super::lockstep`]).
    pub fn scale_clock(&mut self, rate: f64) {
        self.sustained *= rate;
        self.sustained_fp8 *= rate;
    }

    /// The sustained clock GEMMs of `dtype` run at, fraction of burst.
    fn clock(&self, dtype: Dtype) -> f64 {
        match dtype {
            Dtype::Fp8 | Dtype::Fp4 => self.sustained_fp8,
            _ => self.sustained,
        }
    }
}

impl KernelModel for FittedKernels {
    fn gemm_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.gemm(m, n, k, Orientation::Fwd, dtype)
    }

    fn gemm_bwd_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.gemm(m, n, k, Orientation::Dgrad, dtype)
            + self.gemm(m, n, k, Orientation::Wgrad, dtype)
    }

    fn gemm_wgrad_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.gemm(m, n, k, Orientation::Wgrad, dtype)
    }

    fn gemm_bwd_accum_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.gemm(m, n, k, Orientation::Dgrad, dtype) + self.gemm_wgrad_accum_s(m, n, k, dtype)
    }

    fn gemm_wgrad_accum_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.gemm_out(m, n, k, Orientation::Wgrad, dtype, MAIN_GRAD_ACCUM_BYTES)
    }

    fn matmul_flops_s(&self, flops: f64, dtype: Dtype) -> f64 {
        let (peak, rel) = dtype_rate(&self.hw, &self.fit.gemm, dtype);
        flops / (peak * self.fit.gemm.mainloop_eff * rel * self.clock(dtype))
    }

    fn attention_s(&self, shape: &AttnShape) -> (f64, f64) {
        let (f, b) = attn_burst_s(&self.hw, &self.fit.attention, shape);
        (f / self.sustained, b / self.sustained)
    }

    fn memory_s(&self, bytes: f64) -> f64 {
        bytes / self.mem_bw
    }

    fn optimizer_s(&self, bytes: f64) -> f64 {
        bytes / self.opt_bw.unwrap_or(self.mem_bw)
    }

    fn sm_count(&self) -> f64 {
        self.hw.sms
    }

    fn flash2_slowdown(&self) -> (f64, f64) {
        // FlashAttention-3's gain comes from the asynchronous tensor-core instructions
        // (wgmma, TMA) that arrived with FP8 tensor cores; before them FlashAttention-2
        // is the calibrated kernel's class.
        if self.hw.fp8 > self.hw.bf16 {
            FLASH2_SLOWDOWN
        } else {
            (1.0, 1.0)
        }
    }
}

/// FlashAttention-3 over FlashAttention-2 throughput on H100 SXM5, head dimension 128,
/// 16K sequence: forward (causal) 616 / 335 TFLOP/s, backward 561 / 322 TFLOP/s (Shah et
/// al. 2024, "FlashAttention-3", figures 5 and 6). The calibration's attention (PyTorch
/// 2.11 SDPA, 594 TFLOP/s forward at 16K) is FlashAttention-3 class.
pub const FLASH2_SLOWDOWN: (f64, f64) = (616.0 / 335.0, 561.0 / 322.0);
