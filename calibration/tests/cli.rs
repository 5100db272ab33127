//! The binary end to end: the no-GPU exit path and the host-only subcommands run
//! everywhere; the GPU tests run where a GPU is present and say so when they skip.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_llmplan-calibrate"))
}

fn gpu_present() -> bool {
    llmplan_calibrate::gpu::driver_present() && llmplan_calibrate::gpu::Gpu::open(0).is_ok()
}

#[test]
fn without_a_gpu_every_gpu_command_exits_2_with_a_message() {
    if llmplan_calibrate::gpu::driver_present() {
        eprintln!("skipped: libcuda is present here, the no-GPU path cannot be shown");
        return;
    }
    let dir = std::env::temp_dir().join(format!("llmplan-cal-nogpu-{}", std::process::id()));
    let root = dir.to_str().unwrap();
    for args in [
        vec!["all", "--out-root", root],
        vec!["gemm", "--out-root", root],
        vec!["gemm", "--scenario", "llama3-405b-h100", "--out-root", root],
        vec!["membw", "--out-root", root],
        vec!["sustained", "--seconds", "1", "--out-root", root],
        vec!["info"],
    ] {
        let out = bin().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(
                "no CUDA driver found (libcuda.so): llmplan-calibrate needs an NVIDIA GPU"
            ),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // Nothing half-written.
    assert!(!dir.exists());
}

#[test]
fn shapes_prints_the_standard_sweep() {
    let out = bin().arg("shapes").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (g, gm) = llmplan_calibrate::shapes::standard_sweep().unwrap();
    assert_eq!(text.lines().count(), 1 + g.len() + gm.len());
    assert!(text.starts_with("dtype,kind,M,N,K,op,ms,TFLOPs\nbf16,square,512,512,512,fwd,,\n"));
}

#[test]
fn shapes_of_a_scenario() {
    let out = bin()
        .args(["shapes", "--scenario", "gpt4-moe-a100"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for kind in [
        "qkv_",
        "proj_",
        "expert_fc1_",
        "expert_fc2_",
        "router_",
        "lm_head_",
    ] {
        assert!(text.contains(kind), "{kind} missing:\n{text}");
    }
    for op in [",fwd,", ",dgrad,", ",wgrad,"] {
        assert!(text.contains(op));
    }
}

#[test]
fn bad_scenario_is_an_error_not_a_panic() {
    let out = bin()
        .args(["shapes", "--scenario", "no-such-scenario"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-scenario"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn compare_against_the_shared_tables() {
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../hardware-profiles/calibration/h100-sxm"
    );
    let out = bin().args(["compare", shared, shared]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("gemm.csv: 401 rows, median |new/ref - 1| = 0.0%, worst = 0.0%"),
        "{text}"
    );
    assert!(text.contains("membw.csv: 3 rows"), "{text}");
}

#[test]
fn gpu_quick_gemm_and_membw() {
    if !gpu_present() {
        eprintln!(
            "skipped: no CUDA GPU (libcuda, a device, libcublasLt and libnvrtc are all needed)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("llmplan-cal-gpu-{}", std::process::id()));
    let root = dir.to_str().unwrap();
    let out = bin()
        .args([
            "gemm",
            "--quick",
            "--heat-s",
            "0.2",
            "--scenario",
            "llama3-405b-h100",
            "--out-root",
            root,
            "--slug",
            "t",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = std::fs::read_to_string(dir.join("t/gemm_llama3-405b-h100.csv")).unwrap();
    let (_, cases) = llmplan_calibrate::shapes::parse_gemm_table(&t, "out").unwrap();
    assert!(!cases.is_empty());
    let out = bin()
        .args(["membw", "--quick", "--out-root", root, "--slug", "t"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = std::fs::read_to_string(dir.join("t/membw.csv")).unwrap();
    assert_eq!(
        m.lines().count(),
        1 + llmplan_calibrate::gpu::membw::OPS.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
