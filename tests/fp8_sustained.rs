//! FP8 GEMMs' own power-capped clock: a measured sustained_fp8.csv flows through the
//! fit into the kernel model, and without one nothing changes.

use llmplan::analytic::compute::KernelModel;
use llmplan::calibrate::data::{self, Files, Orientation};
use llmplan::calibrate::model::{gemm_s, FittedKernels, Hardware, KernelFit, Problem};
use llmplan::calibrate::{builtin, fit};
use llmplan::spec::{catalog, Dtype, GpuProfile};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/hardware-profiles/calibration/h100-sxm"
);

fn gpu(name: &str) -> GpuProfile {
    catalog::load(catalog::GPUS, "gpu", name).unwrap()
}

fn committed() -> KernelFit {
    builtin("h100-sxm").expect("fit.json parses").clone()
}

/// The shared H100 measurements, plus a sustained FP8 table at `tflops` TFLOP/s.
fn with_fp8_table(tflops: f64) -> data::Measurements {
    let mut files = Vec::new();
    for name in data::FILE_NAMES {
        if let Ok(text) = std::fs::read_to_string(std::path::Path::new(DIR).join(name)) {
            files.push((name, text));
        }
    }
    assert!(files.iter().all(|(n, _)| *n != "sustained_fp8.csv"));
    let mut t = String::from("t_s,TFLOPs,sm_clock_mhz,power_w,temp_c\n");
    for i in 1..=5 {
        t.push_str(&format!("{i}.0,{tflops},,,\n"));
    }
    files.push(("sustained_fp8.csv", t));
    data::parse(&Files { files }).unwrap()
}

const N: f64 = 8192.0;

#[test]
fn a_measured_fp8_sustained_rate_sets_fp8_gemms_own_clock() {
    let h100 = gpu("h100-sxm");
    let hw = Hardware::of(&h100);
    let old = committed();
    assert_eq!(
        old.fp8_sustained_clock, None,
        "the shared H100 set has no FP8 run"
    );
    let mem_bw = h100.hbm_bandwidth * old.memory_eff;
    let p = Problem::of(N, N, N, Orientation::Fwd, Dtype::Fp8);
    // What the fit says 8192^3 FP8 back to back would do at the BF16 GEMMs' clock;
    // the table says FP8 settles 10% under that.
    let at_bf16_clock = 2.0 * N.powi(3) / gemm_s(&hw, &old.gemm, mem_bw, old.sustained_clock, &p);
    let measured = 0.9 * at_bf16_clock / 1e12;
    let f = fit::fit(&h100, &with_fp8_table(measured)).unwrap();
    let c = f
        .fp8_sustained_clock
        .expect("fitted from sustained_fp8.csv");
    // Training's kernel model then runs FP8 GEMMs back to back at the table's rate (by
    // construction: the clock is solved for it, launch included).
    let k = FittedKernels::new(&h100, &f);
    let train = 2.0 * N.powi(3) / k.gemm_s(N, N, N, Dtype::Fp8) / 1e12;
    assert!(
        (train / measured - 1.0).abs() < 1e-6,
        "{train} vs {measured}"
    );
    eprintln!(
        "fp8 clock {c:.4}, bf16 {:.4}, fp8 eff {:.4} (was {:.4})",
        f.sustained_clock, f.gemm.fp8, old.gemm.fp8
    );
    // FP8 settling lower than the BF16 clock predicts means a lower FP8 clock.
    assert!(
        c < f.sustained_clock,
        "fp8 clock {c:.3} / bf16 {:.3}",
        f.sustained_clock
    );
    // BF16 is fitted as without the table (same build: the fit is deterministic).
    let base = fit::fit(&h100, &data::read_dir(std::path::Path::new(DIR)).unwrap()).unwrap();
    assert_eq!(f.sustained_clock, base.sustained_clock);
    assert_eq!(f.gemm.mainloop_eff, base.gemm.mainloop_eff);
    assert_eq!(f.gemm_clock(Dtype::Bf16), f.sustained_clock);
    assert_eq!(f.gemm_clock(Dtype::Fp8), c);
}

#[test]
fn fp8_gemms_run_at_their_clock_and_the_ratio_carries_to_derived_gpus() {
    let old = committed();
    let mut slow = old.clone();
    slow.fp8_sustained_clock = Some(0.9 * old.sustained_clock);
    // Compute-bound 8192^3: the part above the launch scales as 1 / clock (gemm_s), so
    // the FP8 GEMM takes exactly 1 / 0.9 as long; BF16 GEMMs do not move.
    for (name, carries) in [("h100-sxm", true), ("h200-sxm", true), ("b200-sxm", false)] {
        let g = gpu(name);
        let (a, b) = (FittedKernels::new(&g, &old), FittedKernels::new(&g, &slow));
        let launch = old.gemm.launch_s;
        let r = (b.gemm_s(N, N, N, Dtype::Fp8) - launch) / (a.gemm_s(N, N, N, Dtype::Fp8) - launch);
        // B200's profile gives FP8 its own efficiency from published MAMF, which then
        // stands for FP8 alone: the H100's FP8 clock does not carry there.
        let want = if carries { 1.0 / 0.9 } else { 1.0 };
        assert!((r - want).abs() < 1e-9, "{name}: {r}");
        assert_eq!(
            b.gemm_s(N, N, N, Dtype::Bf16),
            a.gemm_s(N, N, N, Dtype::Bf16),
            "{name}"
        );
    }
}
