//! Kernel calibration: measurements in, a fitted efficiency model out.
//!
//! `data` reads the CSVs the calibration crate (or the shared H100 set) provides,
//! `fit` turns them into the constants of the physical model in `model`, and
//! [`kernel_model`] picks what the analytic model uses for a GPU: its own fit, or a
//! measured GPU's fit carried over through its datasheet.

pub mod data;
pub mod fit;
pub mod model;

use crate::analytic::compute::{ConstantEfficiency, KernelModel};
use crate::spec::gpu::GpuProfile;
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

/// The kernel model for a scenario's GPU as its layout uses it: SMs reserved for
/// communication (`layout.overlap.comm_sms`) are taken away from compute, which loses
/// their share of the dense peak (memory bandwidth stays).
pub fn kernel_model_for(sc: &crate::spec::Scenario) -> Box<dyn KernelModel + Send + Sync> {
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
    p.bf16 *= share;
    p.fp16 *= share;
    p.fp8 = p.fp8.map(|f| f * share);
    kernel_model(&g)
}

/// The kernel model for `gpu`: the fit its profile names (its own measurements, or a
/// measured GPU's constants with this GPU's datasheet), else constant efficiencies.
pub fn kernel_model(gpu: &GpuProfile) -> Box<dyn KernelModel + Send + Sync> {
    match gpu.calibration.as_deref().and_then(builtin) {
        Some(fit) => Box::new(FittedKernels::new(gpu, fit)),
        None => Box::new(ConstantEfficiency::new(gpu)),
    }
}
