//! A job runs at its slowest chip's clock (`calibrate::lockstep`, docs/model.md section
//! 3): the profiles' chip-to-chip spread from its measurement, and what the kernel model
//! does with it.

use llmplan::analytic::compute::{AttnShape, KernelModel};
use llmplan::calibrate::kernel_model_on;
use llmplan::calibrate::lockstep::{expected_max_normal, spread_from_range};
use llmplan::spec::catalog;
use llmplan::spec::gpu::{Dtype, GpuProfile};
use llmplan::spec::scenario;

fn gpu(name: &str) -> GpuProfile {
    catalog::load(catalog::GPUS, "gpu", name).unwrap()
}

/// The profiles hold the spread their sources measured: ml-engineering
/// (stas00/ml-engineering compute/accelerator/README.md @0359db89) ran one GEMM shape on
/// all 8 GPUs of a node at once: H200 SXM 745-765 TFLOP/s (median 755), B200 1421-1460
/// (median 1439). The GH100 parts at 700 W share the H200's; GB200 the B200's dies.
#[test]
fn profiles_hold_the_measured_spread() {
    let gh100 = spread_from_range(8, 765.0 - 745.0, 755.0).unwrap();
    let b200 = spread_from_range(8, 1460.0 - 1421.0, 1439.0).unwrap();
    for (name, want) in [
        ("h100-sxm", gh100),
        ("h200-sxm", gh100),
        ("h800-sxm", gh100),
        ("b200-sxm", b200),
        ("gb200", b200),
    ] {
        let got = gpu(name).efficiency.chip_spread.unwrap();
        assert!((got - want).abs() < 5e-5, "{name}: {got} vs {want}");
    }
    // Parts nobody measured side by side price no spread.
    for name in ["a100-sxm-80gb", "b300-sxm", "mi300x"] {
        assert_eq!(gpu(name).efficiency.chip_spread, None, "{name}");
    }
}

/// On 64 H100s the clocked kernels run at the slowest chip's clock: attention exactly
/// 1 / (1 - E[max of 64] x 0.0093) longer than on one GPU (~2.2%: E[max of 64] =
/// 2.34), a compute-bound GEMM almost exactly so; memory-bound kernels not at all.
#[test]
fn the_slowest_of_n_chips_slows_clocked_kernels_only() {
    let sc = scenario::load(Some("llama3-405b-h100"), &[]).unwrap();
    let (one, many) = (kernel_model_on(&sc, 1), kernel_model_on(&sc, 64));
    let k64 = expected_max_normal(64);
    assert!((k64 - 2.344).abs() < 0.002, "{k64}");
    let rate = 1.0 - k64 * sc.gpu.efficiency.chip_spread.unwrap();
    let shape = AttnShape {
        b: 1.0,
        heads: 16.0,
        s_q: 8192.0,
        s_kv: 8192.0,
        d_qk: 128.0,
        d_v: 128.0,
        window: f64::INFINITY,
    };
    let (f1, b1) = one.attention_s(&shape);
    let (f64_, b64) = many.attention_s(&shape);
    assert!(
        (f64_ / f1 - 1.0 / rate).abs() < 1e-12,
        "{} vs {}",
        f64_ / f1,
        1.0 / rate
    );
    assert!((b64 / b1 - 1.0 / rate).abs() < 1e-12);
    let g = |k: &dyn KernelModel| k.gemm_s(8192.0, 8192.0, 8192.0, Dtype::Bf16);
    let ratio = g(&many) / g(&one);
    assert!(
        (ratio - 1.0 / rate).abs() < 2e-3,
        "{ratio} vs {}",
        1.0 / rate
    );
    assert_eq!(many.memory_s(1e9), one.memory_s(1e9));
    // The estimate's kernel note says so.
    assert!(
        many.describe().contains("slowest of 64 chips"),
        "{}",
        many.describe()
    );
    assert!(!one.describe().contains("slowest"));
}
