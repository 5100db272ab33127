//! GPU profiles: what one accelerator can do, from its datasheet, and how close to
//! that real kernels get (efficiency factors).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Number formats a GEMM can run in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// IEEE single precision.
    Fp32,
    /// TensorFloat-32 tensor-core math.
    Tf32,
    /// bfloat16.
    Bf16,
    /// IEEE half precision.
    Fp16,
    /// 8-bit floating point (e4m3/e5m2; per-tensor, per-block or MXFP8 scales).
    Fp8,
    /// 4-bit floating point (e2m1) with block scales: NVFP4 (one E4M3 scale per 16
    /// values) or MXFP4 (one E8M0 scale per 32).
    Fp4,
}

impl Dtype {
    /// Bytes per element in memory.
    pub fn bytes(self) -> f64 {
        match self {
            Dtype::Fp32 | Dtype::Tf32 => 4.0,
            Dtype::Bf16 | Dtype::Fp16 => 2.0,
            Dtype::Fp8 => 1.0,
            Dtype::Fp4 => 0.5,
        }
    }
}

/// Dense (non-sparse) tensor-core peak per dtype, FLOP/s.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeakFlops {
    /// FP32 (non-tensor-core) peak, FLOP/s.
    pub fp32: f64,
    /// TF32 dense peak, FLOP/s.
    pub tf32: f64,
    /// BF16 dense peak, FLOP/s; absent on GPUs without BF16 tensor cores (Volta: its
    /// 16-bit tensor cores take FP16 only).
    #[serde(default)]
    pub bf16: Option<f64>,
    /// FP16 dense peak, FLOP/s.
    pub fp16: f64,
    /// FP8 dense peak, FLOP/s; absent on GPUs without FP8 tensor cores.
    #[serde(default)]
    pub fp8: Option<f64>,
    /// FP4 (NVFP4/MXFP4) dense peak, FLOP/s; absent on GPUs without FP4 tensor cores.
    #[serde(default)]
    pub fp4: Option<f64>,
}

impl PeakFlops {
    /// The 16-bit tensor-core peak, FLOP/s: BF16's, or FP16's on a GPU without BF16.
    /// What 16-bit GEMMs run at and what MFU is quoted against.
    pub fn half(&self) -> f64 {
        self.bf16.unwrap_or(self.fp16)
    }

    /// Peak for `dtype`, FLOP/s; `None` if the GPU lacks that format.
    pub fn get(&self, dtype: Dtype) -> Option<f64> {
        match dtype {
            Dtype::Fp32 => Some(self.fp32),
            Dtype::Tf32 => Some(self.tf32),
            Dtype::Bf16 => self.bf16,
            Dtype::Fp16 => Some(self.fp16),
            Dtype::Fp8 => self.fp8,
            Dtype::Fp4 => self.fp4,
        }
    }
}

/// How close real kernels come to the datasheet, as fractions in (0, 1].
///
/// Until the calibration crate fits a shape-aware model these are constants per GPU,
/// each with its provenance in the profile's `sources`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Efficiency {
    /// Large tensor-core GEMMs at boost clock, fraction of dense peak.
    pub gemm: f64,
    /// Flash-attention kernels (forward and backward), fraction of dense peak,
    /// counting only the causal half of the score matrix.
    pub attention: f64,
    /// Memory-bound kernels, fraction of datasheet HBM bandwidth.
    pub memory: f64,
    /// Sustained clock under the power cap relative to the burst clock at which the
    /// kernel figures above were measured (1.0 = no throttling).
    pub sustained_clock: f64,
    /// The fused AdamW update (many tensors streamed through `multi_tensor_apply`),
    /// fraction of datasheet HBM bandwidth; absent: as `memory`.
    #[serde(default)]
    pub optimizer: Option<f64>,
    /// FP8 GEMMs' mainloop efficiency relative to BF16's (share of the FP8 peak over the
    /// share of the BF16 peak), where this GPU's tensor cores differ from those of the
    /// GPU its kernel model is derived from; absent: the calibrated GPU's. Only a derived
    /// model reads it. Dimensionless.
    #[serde(default)]
    pub fp8_relative: Option<f64>,
    /// Chip-to-chip spread of the sustained GEMM rate at the power limit: the standard
    /// deviation between chips of this model, each at its own saturated clock (the
    /// silicon lottery), as a fraction of the median chip's rate. A synchronous step
    /// waits for its slowest chip ([`crate::calibrate::lockstep`]). Absent: not
    /// measured, and not priced.
    #[serde(default)]
    pub chip_spread: Option<f64>,
    /// `true` if these factors came from measurements on this GPU, `false` if they
    /// are derived from the datasheet and the same model form as a measured GPU.
    pub measured: bool,
}

/// One GPU model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GpuProfile {
    /// Catalog name, e.g. `h100-sxm`.
    pub name: String,
    /// Human-readable name.
    pub display_name: String,
    /// Usable device memory, bytes.
    pub memory_bytes: f64,
    /// HBM bandwidth, bytes/s (datasheet, read+write combined).
    pub hbm_bandwidth: f64,
    /// Dense peak per dtype.
    pub peak_flops: PeakFlops,
    /// Board power limit, watts.
    pub tdp_w: f64,
    /// Streaming multiprocessors (tiles run in waves over them).
    pub sm_count: u32,
    /// L2 cache, bytes (where split-K partial sums can stay).
    pub l2_bytes: f64,
    /// Typical market rental price, US dollars per GPU-hour.
    pub usd_per_hour: f64,
    /// Kernel efficiency factors (the constant model, and the memory and clock factors
    /// a derived fit uses).
    pub efficiency: Efficiency,
    /// Fused flash-attention kernels exist for this GPU (FlashAttention-2, cuDNN and
    /// Transformer Engine fused attention need Ampere or newer; Volta has none, so
    /// attention there keeps the whole score matrix). Absent: yes.
    #[serde(default = "yes")]
    pub flash_attention: bool,
    /// Name of the kernel fit to use (`hardware-profiles/calibration/<name>/fit.json`):
    /// this GPU's own measurements when `efficiency.measured`, else a measured GPU of
    /// the same model form whose constants carry over. `None` = constant efficiencies.
    #[serde(default)]
    pub calibration: Option<String>,
    /// Where each number comes from, keyed by field name (`peak_flops.bf16`, ...).
    pub sources: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

impl GpuProfile {
    /// Fields that must carry a `sources` entry; checked by the catalog tests.
    pub const SOURCED_FIELDS: &'static [&'static str] = &[
        "memory_bytes",
        "hbm_bandwidth",
        "peak_flops",
        "tdp_w",
        "sm_count",
        "l2_bytes",
        "usd_per_hour",
        "efficiency",
    ];
}
