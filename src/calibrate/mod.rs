//! Kernel calibration: measurements in, a fitted efficiency model out.
//!
//! `data` reads the CSVs the calibration crate (or the shared H100 set) provides,
//! `fit` turns them into the constants of the physical model in `model`, and
//! [`kernel_model`] picks what the analytic model uses for a GPU: its own fit, or a
//! measured GPU's fit carried over through its datasheet.

pub mod data;
pub mod fit;
pub mod lockstep;
pub mod model;

use crate::analytic::compute::{AttnShape, ConstantEfficiency, KernelModel};
use crate::spec::gpu::{Dtype, GpuProfile};
use model::{FittedKernels, KernelFit};

/// Fits shipped with llmplan, one per measured GPU: (name, fit.json text).
pub const BUILTIN_FITS: &[(&str, &str)] = &[(
    "h100-sxm",
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hardware-profiles/calibration/h100-sxm/fit.json"
    )),
)];

/// The shipped fit called `name`, parsed once per process (every estimate asks for it).
pub fn builtin(name: &str) -> Option<&'static KernelFit> {
    static PARSED: std::sync::OnceLock<Vec<(&'static str, Option<KernelFit>)>> =
        std::sync::OnceLock::new();
    PARSED
        .get_or_init(|| {
            BUILTIN_FITS
                .iter()
                .map(|(n, t)| (*n, serde_json::from_str(t).ok()))
                .collect()
        })
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, f)| f.as_ref())
}

/// A kernel model chosen for a GPU, with what it is in words (the estimate's note).
///
/// The two models are held by value, not boxed, so the analytic model's calls reach
/// them through one dynamic dispatch (the `&dyn KernelModel` it is handed).
#[derive(Debug, Clone)]
pub struct Kernels {
    model: Model,
    note: String,
}

#[derive(Debug, Clone)]
enum Model {
    Fitted(Box<FittedKernels>),
    Constant(ConstantEfficiency),
}

impl Kernels {
    /// Runs every clocked kernel at `rate` times the sustained clock (memory-bound
    /// kernels keep their time: HBM runs on its own clock).
    fn scale_clock(&mut self, rate: f64) {
        match &mut self.model {
            Model::Fitted(f) => f.scale_clock(rate),
            Model::Constant(c) => c.scale_clock(rate),
        }
    }

    fn model(&self) -> &dyn KernelModel {
        match &self.model {
            Model::Fitted(f) => f.as_ref(),
            Model::Constant(c) => c,
        }
    }
}

impl KernelModel for Kernels {
    fn gemm_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.model().gemm_s(m, n, k, dtype)
    }
    fn gemm_bwd_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.model().gemm_bwd_s(m, n, k, dtype)
    }
    fn gemm_wgrad_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.model().gemm_wgrad_s(m, n, k, dtype)
    }
    fn gemm_bwd_accum_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.model().gemm_bwd_accum_s(m, n, k, dtype)
    }
    fn gemm_wgrad_accum_s(&self, m: f64, n: f64, k: f64, dtype: Dtype) -> f64 {
        self.model().gemm_wgrad_accum_s(m, n, k, dtype)
    }
    fn matmul_flops_s(&self, flops: f64, dtype: Dtype) -> f64 {
        self.model().matmul_flops_s(flops, dtype)
    }
    fn attention_s(&self, shape: &AttnShape) -> (f64, f64) {
        self.model().attention_s(shape)
    }
    fn flash2_slowdown(&self) -> (f64, f64) {
        self.model().flash2_slowdown()
    }
    fn memory_s(&self, bytes: f64) -> f64 {
        self.model().memory_s(bytes)
    }
    fn optimizer_s(&self, bytes: f64) -> f64 {
        self.model().optimizer_s(bytes)
    }
    fn sm_count(&self) -> f64 {
        self.model().sm_count()
    }
    fn describe(&self) -> String {
        self.note.clone()
    }
}

/// The kernel model for a scenario's GPU as its layout uses it: SMs reserved for
/// communication (`layout.overlap.comm_sms`) are taken away from compute, which loses
/// their share of the dense peak (memory bandwidth stays). Every evaluation of the
/// scenario (estimate, simulate, search, validate) takes its kernel model from here.
///
/// The scenario's GPUs run in lockstep: every kernel that runs at the power-capped clock
/// runs at the expected slowest of `sc.gpus` chips' clock ([`lockstep`]).
pub fn kernel_model_for(sc: &crate::spec::Scenario) -> Kernels {
    kernel_model_on(sc, sc.gpus)
}

/// [`kernel_model_for`] with `gpus` GPUs in lockstep instead of the scenario's count (a
/// search's or a sweep's count).
pub fn kernel_model_on(sc: &crate::spec::Scenario, gpus: u64) -> Kernels {
    let mut k = with_reserved_sms(sc);
    let rate = lockstep::slowest_chip_rate(gpus, sc.gpu.efficiency.chip_spread);
    if rate < 1.0 {
        k.scale_clock(rate);
        k.note.push_str(&format!(
            "; the slowest of {gpus} chips sets the pace: clock x{rate:.4} (chip-to-chip spread {:.2}%)",
            sc.gpu.efficiency.chip_spread.unwrap_or(0.0) * 100.0
        ));
    }
    k
}

/// The kernel model with the SMs `layout.overlap.comm_sms` reserves taken away.
fn with_reserved_sms(sc: &crate::spec::Scenario) -> Kernels {
    let reserved = sc.layout.overlap.comm_sms;
    if reserved == 0 || reserved >= sc.gpu.sm_count {
        return kernel_model(&sc.gpu);
    }
    let mut g = sc.gpu.clone();
    let share = f64::from(g.sm_count - reserved) / f64::from(g.sm_count);
    g.sm_count -= reserved;
    let p = &mut g.peak_flops;
    p.fp32 *= share;
    p.tf32 *= share;
    p.bf16 = p.bf16.map(|f| f * share);
    p.fp16 *= share;
    p.fp8 = p.fp8.map(|f| f * share);
    p.fp4 = p.fp4.map(|f| f * share);
    kernel_model(&g)
}

/// The kernel model for `gpu`: the fit its profile names (its own measurements, or a
/// measured GPU's constants with this GPU's datasheet), else constant efficiencies.
pub fn kernel_model(gpu: &GpuProfile) -> Kernels {
    let e = &gpu.efficiency;
    match gpu.calibration.as_deref().and_then(|c| builtin(c).map(|f| (c, f))) {
        Some((c, fit)) => Kernels {
            model: Model::Fitted(Box::new(FittedKernels::new(gpu, fit))),
            note: if e.measured {
                format!(
                    "kernel times for {} come from the model fitted to its own measurements ({c}: GEMM tiles \
                     and waves, flash attention, power-capped clock {:.3})",
                    gpu.name, fit.sustained_clock
                )
            } else {
                format!(
                    "kernel times for {} are derived, not measured on this GPU: the {c} fit's constants with \
                     this GPU's datasheet (SMs, peaks, HBM, L2), memory efficiency {:.3} and sustained clock \
                     {:.3} from its profile",
                    gpu.name, e.memory, e.sustained_clock
                )
            },
        },
        None => Kernels {
            model: Model::Constant(ConstantEfficiency::new(gpu)),
            note: format!(
                "kernel times for {} use one constant efficiency per kernel class (GEMM {:.3}, attention {:.3}, \
                 memory {:.3}, sustained clock {:.3}); no fitted model applies",
                gpu.name, e.gemm, e.attention, e.memory, e.sustained_clock
            ),
        },
    }
}
