//! Library-level GPU checks: numbers in a plausible range and the cuBLASLt plan cache.
//! Each skips with a message where no GPU is present.

use llmplan_calibrate::gpu::gemm::{self, Lt};
use llmplan_calibrate::gpu::{BenchCfg, Gpu};
use llmplan_calibrate::shapes::{Dtype, GemmCase, Op};

fn open() -> Option<Gpu> {
    if !llmplan_calibrate::gpu::driver_present() {
        eprintln!("skipped: no CUDA driver (libcuda.so) on this machine");
        return None;
    }
    match Gpu::open(0) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

#[test]
fn gemm_orientations_run_and_plans_are_cached() {
    let Some(gpu) = open() else { return };
    let mut lt = Lt::new(&gpu).unwrap();
    let mut cases = Vec::new();
    for op in Op::ALL {
        cases.push(GemmCase {
            dtype: Dtype::Bf16,
            kind: Some("t".into()),
            m: 2048,
            n: 4096,
            k: 1024,
            op,
        });
    }
    if gemm::has_fp8(gpu.cc) {
        cases.push(GemmCase {
            dtype: Dtype::Fp8E4m3,
            kind: Some("t".into()),
            m: 4096,
            n: 4096,
            k: 4096,
            op: Op::Fwd,
        });
    }
    let rows = gemm::run_cases(&gpu, &mut lt, &cases, &BenchCfg::quick(), "test").unwrap();
    assert_eq!(rows.len(), cases.len());
    for r in &rows {
        let tf = llmplan_calibrate::stats::tflops(r.case.flops(), r.ms);
        assert!(tf > 1.0 && tf < 5000.0, "{:?}: {tf} TFLOP/s", r.case);
    }
    let p1 = lt.prepare(&gpu, &cases[0]).unwrap();
    let p2 = lt.prepare(&gpu, &cases[0]).unwrap();
    assert!(std::rc::Rc::ptr_eq(&p1, &p2));
}

#[test]
fn copy_bandwidth_is_plausible() {
    let Some(gpu) = open() else { return };
    let sizes = llmplan_calibrate::gpu::membw::MembwSizes::scaled_down(8);
    let rows = llmplan_calibrate::gpu::membw::run(&gpu, &sizes, &BenchCfg::quick()).unwrap();
    let copy = rows.iter().find(|r| r.op == "copy").unwrap();
    let gbps = llmplan_calibrate::stats::gbps(copy.bytes_moved as f64, copy.ms);
    assert!(gbps > 100.0 && gbps < 20_000.0, "copy {gbps} GB/s");
}
