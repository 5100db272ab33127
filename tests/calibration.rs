//! The fitted kernel model against the H100 measurements it was fitted to, the
//! committed fit against a fresh fit, and the numbers flowing into estimates.

use llmplan::analytic::compute::KernelModel;
use llmplan::analytic::{evaluate, EstimateOptions, Setup};
use llmplan::calibrate::model::{FittedKernels, KernelFit};
use llmplan::calibrate::{builtin, data, fit, kernel_model};
use llmplan::spec::layout::{resolve, Adjustments};
use llmplan::spec::{catalog, scenario, Dtype, GpuProfile};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/hardware-profiles/calibration/h100-sxm"
);

fn h100() -> GpuProfile {
    catalog::load(catalog::GPUS, "gpu", "h100-sxm").unwrap()
}

fn committed() -> KernelFit {
    builtin("h100-sxm").expect("fit.json parses").clone()
}

#[test]
fn fit_reproduces_the_h100_measurements() {
    let meas = data::read_dir(std::path::Path::new(DIR)).unwrap();
    let rep = fit::errors(&h100(), &committed(), &meas);
    let s = rep.summary;
    // gemm.csv + gemm_m.csv, every dtype and orientation: 545 points.
    assert_eq!(s.gemm_points, 545);
    assert!(
        s.gemm_median < 0.05,
        "GEMM median error {:.1}%",
        s.gemm_median * 100.0
    );
    // Bound from the issue: every point within 20% (the fit reaches 18.4%; the worst
    // is a 256-row input-gradient GEMM that cuBLAS runs 26% slower than the same
    // output and reduction in the forward orientation).
    assert!(
        s.gemm_worst < 0.20,
        "GEMM worst error {:.1}%",
        s.gemm_worst * 100.0
    );
    assert_eq!(s.attn_points, 22);
    assert!(
        s.attn_median < 0.10,
        "attention median error {:.1}%",
        s.attn_median * 100.0
    );
    // Every class the CLI table shows stays within the bounds too.
    for c in &rep.classes {
        assert!(
            c.median_err < 0.10,
            "{}: median {:.1}%",
            c.class,
            c.median_err * 100.0
        );
    }
}

#[test]
fn committed_fit_is_not_stale() {
    let meas = data::read_dir(std::path::Path::new(DIR)).unwrap();
    let fresh = serde_json::to_value(fit::fit(&h100(), &meas).unwrap()).unwrap();
    let old = serde_json::to_value(committed()).unwrap();
    // Every constant within 1e-6 relative: debug and release builds may round the last
    // bit differently (powi), nothing more.
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                assert_eq!(x.len(), y.len(), "{path}");
                for (k, v) in x {
                    walk(v, &y[k], &format!("{path}.{k}"));
                }
            }
            (serde_json::Value::Number(x), serde_json::Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!(
                    (x - y).abs() <= 1e-6 * x.abs().max(y.abs()),
                    "fit.json is stale at {path}: {y} committed, {x} fitted now; run \
                     `llmplan calibrate fit hardware-profiles/calibration/h100-sxm --write`"
                );
            }
            _ => assert_eq!(a, b, "{path}"),
        }
    }
    walk(&fresh, &old, "fit");
}

#[test]
fn large_gemms_run_near_the_measured_sustained_rate() {
    // 8192^3 BF16 back to back settles at ~666 TFLOP/s under the 700 W cap
    // (sustained.csv); the training-time model should be within 10% of that.
    let k = kernel_model(&h100());
    let n = 8192.0;
    let tflops = 2.0 * n * n * n / k.gemm_s(n, n, n, Dtype::Bf16) / 1e12;
    assert!((600.0..=733.0).contains(&tflops), "{tflops:.0} TFLOP/s");
    // Backward is dgrad + wgrad: about twice the forward.
    let r = k.gemm_bwd_s(n, n, n, Dtype::Bf16) / k.gemm_s(n, n, n, Dtype::Bf16);
    assert!((1.9..=2.2).contains(&r), "{r}");
}

#[test]
fn derived_gpus_use_their_own_datasheet() {
    // A100: same model form, its own 108 SMs and 312 TFLOP/s peak, its profile's clock.
    let a100: GpuProfile = catalog::load(catalog::GPUS, "gpu", "a100-sxm-80gb").unwrap();
    assert!(!a100.efficiency.measured);
    let k = kernel_model(&a100);
    let n = 8192.0;
    let frac = 2.0 * n * n * n / k.gemm_s(n, n, n, Dtype::Bf16) / a100.peak_flops.half();
    assert!(
        (0.6..=0.9).contains(&frac),
        "A100 large GEMM at {:.0}% of peak",
        frac * 100.0
    );
    let est =
        llmplan::setup::estimate(&scenario::load(None, &[]).unwrap(), &Default::default()).unwrap();
    assert!(
        est.warnings.iter().any(|w| w.contains("derived")),
        "{:?}",
        est.warnings
    );
}

#[test]
fn estimates_follow_the_calibration_table() {
    // The H100 seed scenario with the committed fit, then with a 10% slower mainloop:
    // the step must slow down, by less than 10% (communication and bubbles do not scale).
    let sc = scenario::load(Some("gpt4-moe-h100"), &[]).unwrap();
    let mut adj = Adjustments::default();
    let rl = resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
    // The scenario's chips run at the slowest one's clock, as estimate() builds it.
    let lockstep =
        llmplan::calibrate::lockstep::slowest_chip_rate(sc.gpus, sc.gpu.efficiency.chip_spread);
    let mut base = FittedKernels::new(&sc.gpu, &committed());
    base.scale_clock(lockstep);
    let mut slow_fit = committed();
    slow_fit.gemm.mainloop_eff *= 0.9;
    let mut slow = FittedKernels::new(&sc.gpu, &slow_fit);
    slow.scale_clock(lockstep);
    let opts = EstimateOptions::default();
    let a = evaluate(&Setup::with_layout(&sc, &base, rl.clone()), &opts).unwrap();
    let b = evaluate(&Setup::with_layout(&sc, &slow, rl), &opts).unwrap();
    let ratio = b.time.step_s / a.time.step_s;
    assert!(ratio > 1.03 && ratio < 1.111, "step ratio {ratio}");
    // And estimate() uses the fitted model, not the constant one.
    let e = llmplan::setup::estimate(&sc, &opts).unwrap();
    assert!((e.time.step_s - a.time.step_s).abs() < 1e-9 * a.time.step_s);
}
