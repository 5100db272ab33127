//! Memory a real run sees: every published run that ran on hardware fits in its GPUs'
//! memory under the layout it published (tests/data/published), and the shipped
//! DeepSeek-V3 scenario fits with DeepSeek's layout, term by term.

use llmplan::analytic::estimate::{evaluate, Estimate, EstimateOptions};
use llmplan::analytic::setup::Setup;
use llmplan::analytic::stage::{CUDA_CONTEXT_BYTES, NCCL_COMM_BYTES};
use llmplan::spec::scenario::Scenario;
use llmplan::validate::rows::build;
use llmplan::validate::{apply_documented, builtin_rows};

const GIB: f64 = 1073741824.0;

fn estimate(sc: &Scenario) -> Estimate {
    let k = llmplan::calibrate::kernel_model_for(sc);
    let setup = Setup::resolve(sc, &k).unwrap();
    evaluate(&setup, &EstimateOptions::default()).unwrap()
}

/// A run measured on hardware (a benchmark, a production run, a whole training run, a
/// layer timed on a GPU) had the memory it needed: the prediction must fit. The
/// expected value is the row's own existence; projections and rumours are left out.
#[test]
fn every_published_run_that_ran_fits() {
    // Every shipped table but the Blackwell one (checked below): the validation table,
    // torchtitan's FSDP2 tables, NeMo 24.07's FP8 table (its recipe: BF16 gradients and
    // apex's 10-byte optimizer state, validation/frameworks.csv; Nemotron-4 340B's BF16
    // moments, validation/model_configs.csv), MLPerf v5.1 and DeepSpeed's ZeRO-3 Azure
    // runs (optimizer states in host memory, as their script's offload_optimizer sets).
    let rows: Vec<_> = builtin_rows()
        .unwrap()
        .into_iter()
        .filter(|r| r.file != "blackwell_runs_public.csv")
        .collect();
    let mut checked = Vec::new();
    let mut misses = Vec::new();
    for row in &rows {
        let ran = matches!(
            row.text("row_type"),
            "benchmark_throughput"
                | "production_throughput"
                | "end_to_end_run"
                | "per_layer_microbenchmark"
        );
        let (row2, _) = apply_documented(row);
        let Ok(b) = build(&row2) else { continue };
        // Rows without a published layout run on the layout the search finds, which
        // fits by construction.
        if !ran || b.search_layout {
            continue;
        }
        let e = estimate(&b.scenario);
        checked.push(row.id().to_string());
        if !e.memory.fits {
            let m = &e.memory.breakdown;
            misses.push(format!(
                "{}: {:.1} GiB of {:.1} (weights {:.1}, grads {:.1}, optimizer {:.1}, activations {:.1}, other {:.1})",
                row.id(),
                e.memory.peak_bytes / GIB,
                e.memory.capacity_bytes / GIB,
                m.weights / GIB,
                m.gradients / GIB,
                m.optimizer / GIB,
                m.activations / GIB,
                m.other / GIB
            ));
        }
    }
    // The rows llmplan builds today (Narayanan, Korthikanti, Megatron, MT-NLG, BLOOM,
    // Llama 3 Table 4 and 405B, DeepSeek-V3, torchtitan): the check must not pass on an
    // empty set.
    assert!(
        checked.len() >= 54,
        "only {} rows: {checked:?}",
        checked.len()
    );
    for id in [
        "TT-A100-L2-13B-none",
        "TT-A100-L2-70B-sel-op",
        "E2E-BLOOM-176B",
        "L3-T4-1",
        "E2E-Llama-3.1-405B",
        "E2E-DeepSeek-V3-pretrain",
        // NeMo 24.07: GPT3-20B at TP 2 (74.6 GiB of 79.2), GPT3-175B at micro-batch 2,
        // Nemotron-4 340B, Llama 3 8B at CP 2 (all over 79.2 GiB before the recipe).
        "NEMO2407-02",
        "NEMO2407-04",
        "NEMO2407-10",
        "NEMO2407-11",
        // DeepSpeed ZeRO-3, GPT-3 175B, micro-batch 16 on 128 A100: 84.4 GiB of 80 with
        // the optimizer states on the GPU.
        "DS-AZ-175B-s1024-mb16-128",
    ] {
        assert!(checked.iter().any(|c| c == id), "{id} not checked");
    }
    assert!(
        misses.is_empty(),
        "reported as not fitting:\n{}",
        misses.join("\n")
    );
}

/// The Blackwell table (Megatron-Bridge's 25.11 performance summary) under its
/// recipe: BF16 gradients and FP8 parameters, as its performance configs set them, and
/// each model's preset (validation/model_configs.csv). Every row fits. Llama 3 70B
/// fits on GB200 and GB300 only because its presets offload 40 (GB200) and 20 (GB300)
/// layers' activations to the Grace CPU (`cpu_offloading_num_layers`,
/// scripts/performance/configs/llama/llama3_workload_base_configs.py @00b7660b);
/// without them each is over capacity (309.6 GiB predicted before offloading existed).
#[test]
fn every_blackwell_run_fits() {
    let mut misses = Vec::new();
    let mut checked = 0;
    for row in builtin_rows()
        .unwrap()
        .into_iter()
        .filter(|r| r.file == "blackwell_runs_public.csv")
    {
        let (row2, _) = apply_documented(&row);
        let b = build(&row2).unwrap();
        checked += 1;
        let e = estimate(&b.scenario);
        let n = b.scenario.training.activation_offload_layers;
        match row.id() {
            "BW-GB300-03" => assert_eq!(n, 20),
            "BW-GB200-03" => assert_eq!(n, 40),
            _ => assert_eq!(n, 0, "{}", row.id()),
        }
        if n > 0 {
            // The same run without offloading does not fit: the mechanism is what fits it.
            let mut sc = b.scenario.clone();
            sc.training.activation_offload_layers = 0;
            assert!(
                !estimate(&sc).memory.fits,
                "{} fits without offloading",
                row.id()
            );
            assert!(e.memory.breakdown.host_offloaded > 0.0);
        }
        if !e.memory.fits {
            misses.push(format!(
                "{}: {:.1} GiB of {:.1}",
                row.id(),
                e.memory.peak_bytes / GIB,
                e.memory.capacity_bytes / GIB
            ));
        }
    }
    assert_eq!(checked, 17);
    assert!(misses.is_empty(), "reported as not fitting: {misses:?}");
}

fn deepseek() -> Estimate {
    let sc = llmplan::spec::scenario::load(Some("deepseek-v3-h800"), &[]).unwrap();
    estimate(&sc)
}

/// `llmplan estimate deepseek-v3-h800` fits with the layout DeepSeek trained with
/// (report section 3.2: PP 16, EP 64, ZeRO-1, DualPipe, no TP, 80 GB H800).
#[test]
fn deepseek_v3_fits_with_its_published_layout() {
    let e = deepseek();
    assert!(
        e.memory.fits,
        "{:.1} GiB of {:.1}: {:?}",
        e.memory.peak_bytes / GIB,
        e.memory.capacity_bytes / GIB,
        e.memory.breakdown
    );
}

/// DualPipe: the GPU of stage i holds stages i and p - 1 - i (DeepSeek-V3 report
/// section 3.2.1), not two copies of one stage: GPU 0 and GPU 15 hold the same
/// parameters (embedding, first layers, last layers, MTP module, output head).
#[test]
fn dualpipe_pairs_stage_i_with_its_mirror() {
    let e = deepseek();
    let s = &e.stages;
    let p = s.len();
    assert_eq!(p, 16);
    for i in 0..p {
        let j = p - 1 - i;
        let (a, b) = (&s[i].memory, &s[j].memory);
        assert!((a.weights - b.weights).abs() < 1.0, "stage {i} vs {j}");
        assert!((a.gradients - b.gradients).abs() < 1.0, "stage {i} vs {j}");
    }
    assert!(s[0].memory.activations > 0.0);
}

/// The fixed terms are named: the CUDA context, NCCL's buffers per communicator (for
/// DeepSeek-V3: expert, dense data-parallel, expert data-parallel, pipeline), and the
/// fragmentation selective recomputation brings (RMSNorm, MLA up-projections, SwiGLU).
#[test]
fn fixed_terms_are_named() {
    let m = deepseek().memory.breakdown;
    assert_eq!(m.context, CUDA_CONTEXT_BYTES);
    assert_eq!(m.nccl, 4.0 * NCCL_COMM_BYTES);
    assert!((m.fragmentation - 0.15 * m.activations).abs() < 1.0);
    assert!((m.other - (m.context + m.nccl + m.fragmentation)).abs() < 1.0);
}

/// ZeRO-Offload: the optimizer states leave GPU memory, nothing else does. Hand
/// calculation for the DeepSpeed Azure row (GPT-3 175B, ZeRO-3 over 128 A100): 12 bytes
/// (FP32 master, Adam's two moments) x 174.6B parameters / 128 = 16.4 GB on each GPU.
#[test]
fn optimizer_offload_moves_the_optimizer_states_to_the_host() {
    let row = builtin_rows()
        .unwrap()
        .into_iter()
        .find(|r| r.id() == "DS-AZ-175B-s1024-mb16-128")
        .unwrap();
    let b = build(&apply_documented(&row).0).unwrap();
    assert!(b.scenario.training.optimizer_offload);
    let off = estimate(&b.scenario);
    let mut sc = b.scenario.clone();
    sc.training.optimizer_offload = false;
    let on = estimate(&sc);
    let (a, b2) = (&off.memory.breakdown, &on.memory.breakdown);
    assert_eq!(a.optimizer, 0.0);
    let params = on.model.params_total;
    let want = 12.0 * params / 128.0;
    assert!(
        (b2.optimizer / want - 1.0).abs() < 0.01,
        "{} vs {want}",
        b2.optimizer
    );
    assert_eq!((a.weights, a.gradients), (b2.weights, b2.gradients));
    // The post offloads both the optimizer states and the checkpoints: either one lets
    // micro-batch 16 fit in 80 GB, neither does.
    assert!(b.scenario.training.checkpoint_offload);
    let mut neither = sc.clone();
    neither.training.checkpoint_offload = false;
    assert!(off.memory.fits && on.memory.fits && !estimate(&neither).memory.fits);
    assert!(off.warnings.iter().any(|w| w.contains("optimizer_offload")));
}
