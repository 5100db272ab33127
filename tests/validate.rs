//! Predictions against published training runs (tests/data/published), with the error
//! bounds the validation issue sets. Every expected value is the published figure of
//! the row named; the bound is the unless a comment says why not.

use llmplan::validate::{validate_builtin, Prediction, Report};

/// The shipped tables' report, computed once for every test here (rows without a
/// layout run a search each).
fn report() -> Report {
    static R: std::sync::OnceLock<Report> = std::sync::OnceLock::new();
    R.get_or_init(|| validate_builtin(None).unwrap()).clone()
}

fn rows<'a>(r: &'a Report, prefix: &str, quantity: &str) -> Vec<&'a Prediction> {
    r.predictions
        .iter()
        .filter(|p| p.row_id.starts_with(prefix) && p.quantity == quantity)
        .collect()
}

fn mape(p: &[&Prediction]) -> f64 {
    p.iter().map(|x| x.error_pct.abs()).sum::<f64>() / p.len() as f64
}

/// Asserts that each row's two predicted quantities in `a` and `b` (the same rows, in
/// order) carry the same error within `tol` percentage points, except the rows in
/// `skip`: where a source's two published figures agree with each other, so must the
/// predictions'.
fn assert_errors_agree(a: &[&Prediction], b: &[&Prediction], tol: f64, skip: &[&str]) {
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.row_id, y.row_id);
        if skip.contains(&x.row_id.as_str()) {
            continue;
        }
        assert!(
            (x.error_pct - y.error_pct).abs() < tol,
            "{}: {} {:+.1}% vs {} {:+.1}%",
            x.row_id,
            x.quantity,
            x.error_pct,
            y.quantity,
            y.error_pct
        );
    }
}

fn show(p: &[&Prediction]) -> String {
    p.iter()
        .map(|x| {
            format!(
                "{} {}: published {} predicted {:.3} ({:+.1}%)",
                x.row_id, x.quantity, x.published, x.predicted, x.error_pct
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn narayanan_2021_table1_tflops() {
    let r = report();
    let p = rows(&r, "N21-T1", "tflops_per_gpu");
    assert_eq!(p.len(), 10, "{}", show(&p));
    assert!(p.iter().all(|x| x.error_pct.abs() <= 15.0), "{}", show(&p));
    assert!(mape(&p) < 8.0, "MAPE {:.1}%\n{}", mape(&p), show(&p));
}

#[test]
fn korthikanti_2022_iteration_times() {
    let r = report();
    let p = rows(&r, "K22-0", "iteration_time_s");
    assert_eq!(p.len(), 10, "{}", show(&p));
    assert!(p.iter().all(|x| x.error_pct.abs() <= 15.0), "{}", show(&p));
    assert!(mape(&p) < 8.0, "MAPE {:.1}%\n{}", mape(&p), show(&p));
    // Selective recompute + sequence parallelism over full recompute: the paper's
    // speed-ups (Table 5) against the model's, each within 5 points.
    for model in ["K22-01", "K22-02", "K22-03", "K22-04"] {
        let full = p
            .iter()
            .find(|x| x.row_id == format!("{model}-full"))
            .unwrap();
        let sel = p
            .iter()
            .find(|x| x.row_id == format!("{model}-selSP"))
            .unwrap();
        let paper = full.published / sel.published - 1.0;
        let ours = full.predicted / sel.predicted - 1.0;
        assert!(
            (paper - ours).abs() <= 0.05,
            "{model}: paper speed-up {:.1}%, model {:.1}%",
            paper * 100.0,
            ours * 100.0
        );
    }
}

#[test]
fn korthikanti_2022_per_layer_times() {
    let r = report();
    let mut p = rows(&r, "K22-T4", "layer_fwd_ms");
    p.extend(rows(&r, "K22-T4", "layer_bwd_ms"));
    assert_eq!(p.len(), 10);
    assert!(p.iter().all(|x| x.error_pct.abs() <= 20.0), "{}", show(&p));
}

#[test]
fn llama3_table4_mfu() {
    let r = report();
    let p = rows(&r, "L3-T4", "mfu_pct");
    // Issue bound: MFU within 5 percentage points on every Table 4 layout (8K and 16K
    // GPUs at 8K sequence, 16K GPUs at 131K with context parallel 16), with the setup
    // section 3.3.2 describes: one layer per model chunk (8 virtual stages), async p2p,
    // FSDP sharding gradients with FP32 reduce-scatters, and FlashAttention-2.
    assert_eq!(p.len(), 3, "{}", show(&p));
    for x in &p {
        assert!((x.predicted - x.published).abs() <= 5.0, "{}", show(&p));
    }
}

#[test]
fn end_to_end_gpu_hours() {
    let r = report();
    let p = rows(&r, "E2E", "gpu_hours");
    // Issue bound: GPU-hours within 30% wherever the layout is published: MT-NLG (3
    // scales), BLOOM, Llama 3.1 405B (Table 4's layout) and DeepSeek-V3 pre-training.
    // Published GPU-hours also include evaluation, restarts beyond the failure model and
    // batch-size ramps (see docs/validation.md).
    for id in [
        "E2E-MTNLG-2240",
        "E2E-MTNLG-2800",
        "E2E-MTNLG-3360",
        "E2E-BLOOM-176B",
        "E2E-Llama-3.1-405B",
        "E2E-DeepSeek-V3-pretrain",
    ] {
        let x = p
            .iter()
            .find(|x| x.row_id == id)
            .unwrap_or_else(|| panic!("{id} not predicted"));
        assert!(x.error_pct.abs() <= 30.0, "{}", show(&p));
    }
}

#[test]
fn csv_format_has_the_documented_columns() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_llmplan"))
        .args(["validate", "--format", "csv", "--group", "Narayanan2021"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("row_id,group,quantity,published,predicted,error_pct")
    );
    assert!(lines.count() >= 11, "{text}");
}

#[test]
fn skipped_rows_say_why() {
    let r = report();
    let tpu = r
        .skipped
        .iter()
        .find(|s| s.row_id == "E2E-PALM-540B")
        .unwrap();
    assert!(tpu.reason.contains("TPU v4"), "{}", tpu.reason);
}

/// GPT-3 on V100 (Patterson et al.'s 10,000 GPUs): Volta has no BF16 and no flash
/// attention, so the row's "mixed" precision runs FP16 and attention unfused, both said;
/// MFU is quoted against the FP16 peak (125 TFLOP/s, as PaLM's 21.3% is).
#[test]
fn gpt3_on_v100_runs_fp16_without_flash_attention() {
    let r = report();
    let p = r
        .predictions
        .iter()
        .find(|p| p.row_id == "E2E-GPT3-175B" && p.quantity == "mfu_pct")
        .expect("predicted");
    let said = p.assumptions.join("; ");
    assert!(
        said.contains("FP16") && said.contains("attention unfused"),
        "{said}"
    );
}

/// NeMo 25.11 on DGX-GB300/GB200/B200 (tests/data/published/blackwell_runs_public.csv):
/// every row is predicted, as seconds per iteration, on the recipe Megatron-Bridge ran
/// (launcher segments, the presets' recompute, MTP as the table prints it, FP8 current
/// scaling and the quantizing recipes' casts, p2p overlap only with VP); docs/validation.md
/// says which mechanisms are still missing. Measured 14.0%, worst row -25.4%. Main's
/// bound before this generic path was 13% on 11.7%, reached with recipe assumptions the
/// Megatron-Bridge presets do not run (selective recompute of the attention core, the
/// expert all-to-all overlapped, p2p exposed under VP); the bound here holds what the
/// presets' own inputs give, so that it cannot silently get worse.
#[test]
fn blackwell_nemo_25_11_iteration_times() {
    let r = report();
    let p = rows(&r, "BW-", "iteration_time_s");
    assert_eq!(p.len(), 17, "{}", show(&p));
    assert!(p.iter().all(|x| x.error_pct.abs() <= 30.0), "{}", show(&p));
    assert!(mape(&p) < 14.5, "MAPE {:.1}%\n{}", mape(&p), show(&p));
}

/// MLPerf Training v5.1 Llama 3.1 pretraining step times (tests/data/published/
/// mlperf_training_v51_public.csv: NVIDIA's implementation on GB200, GB300, B200 and
/// B300, AMD's on MI355X and MI350X), each row with its config's recipe (BF16 gradient reduction,
/// FP8 parameters where set, NVFP4 with no layer kept in BF16, TP overlap as set, ranks
/// in the order tp -> cp -> pp -> dp as TP_PP_DP_MAPPING sets). Every
/// NVIDIA Blackwell row comes out too fast (-6% to -47%); the 12% aim is not
/// met and the bounds hold what the configs' own inputs give (docs/validation.md says
/// where the misses point).
#[test]
fn mlperf_v51_llama31_iteration_times() {
    let r = report();
    let p = rows(&r, "MLP51-", "iteration_time_s");
    assert_eq!(p.len(), 17, "{}", show(&p));
    let amd = rows(&r, "MLP51-MI355X", "iteration_time_s");
    // AMD's MI355X: 1.0429 s (median of the logged throughput, 30.68 samples/s of 32).
    assert!(
        amd.len() == 1 && amd[0].error_pct.abs() < 10.0,
        "{}",
        show(&amd)
    );
    // AMD's MI350X, the same config at 1000 W: 1.2851 s published, 1.135 s predicted
    // (-11.7%) on its derived profile (no MAMF published: the MI355X's clock carried to
    // 1000 W); the published MI350X/MI355X step ratio is 1.232, predicted 1.174.
    let mi350 = rows(&r, "MLP51-MI350X", "iteration_time_s");
    assert!(
        mi350.len() == 1 && mi350[0].error_pct.abs() < 15.0,
        "{}",
        show(&mi350)
    );
    assert!(mi350[0].predicted > amd[0].predicted, "{}", show(&p));
    assert!(p.iter().all(|x| x.error_pct.abs() <= 50.0), "{}", show(&p));
    assert!(mape(&p) < 17.5, "MAPE {:.1}%\n{}", mape(&p), show(&p));
}

/// The same NVIDIA 8-GPU NVFP4 config (TP 1, MBS 2, GBS 16) on four GPUs: published
/// step times GB300 0.3470, B300 0.3949, GB200 0.4066, B200 0.4535 s. llmplan must keep
/// that order and each GPU's step relative to GB300's within 10% of the published ratio
/// (1.138, 1.172, 1.307): what separates the GPUs (peaks, power caps, NVLink) is
/// modelled even where the absolute level is not.
#[test]
fn mlperf_v51_same_config_orders_the_blackwell_gpus() {
    let r = report();
    let step = |id: &str| {
        let p = rows(&r, id, "iteration_time_s");
        assert_eq!(p.len(), 1, "{id}");
        (p[0].published, p[0].predicted)
    };
    let ids = [
        "MLP51-GB300-8B-8",
        "MLP51-B300-8B-8",
        "MLP51-GB200-8B-8",
        "MLP51-B200-8B-8",
    ];
    let s: Vec<(f64, f64)> = ids.iter().map(|id| step(id)).collect();
    for w in s.windows(2) {
        assert!(w[0].1 < w[1].1, "predicted order differs: {s:?}");
    }
    for (id, (pubd, pred)) in ids.iter().zip(&s).skip(1) {
        let (want, got) = (pubd / s[0].0, pred / s[0].1);
        assert!(
            (got / want - 1.0).abs() < 0.10,
            "{id}: ratio to GB300 published {want:.3}, predicted {got:.3}"
        );
    }
}

#[test]
fn nemo_24_07_fp8_tflops() {
    // NeMo 24.07's performance summary (FP8, H100), on NeMo's FLOP convention (full
    // non-causal attention), every quantity of the 12 rows. The target: MAPE <=
    // 8% with no row beyond 15%. FP8 casts, the BF16 output layer and the
    // cross-entropy's passes took the TFLOP/s MAPE from 24.5% to 19.7%, FP32
    // main-gradient accumulation in the weight-gradient GEMMs to 14.9%, the SMs the
    // overlapped data-parallel collectives hold to 14.5%; NeMo 24.07's own recipe (BF16
    // gradients) 16.2%, Transformer Engine's userbuffers 14.7%, FP8's GEMM efficiency
    // from its measured speed-up over BF16 11.5%; over all quantities, the slowest chip's
    // clock 10.55 -> 8.71%, the interleaved fill and drain's sends 8.71 -> 8.02%. Then
    // what the runs ran: the launcher's 24.07 environment disables cuDNN's fused
    // attention (NVTE_FUSED_ATTN=0), so Transformer Engine 1.8 runs FlashAttention-2,
    // and its GPT-3 configs train with dropout 0.1 (validation/frameworks.csv,
    // validation/model_configs.csv): 8.02 -> 4.16%, worst |error| 18.4 -> 8.5%.
    let r = report();
    let p: Vec<&Prediction> = r
        .predictions
        .iter()
        .filter(|x| x.row_id.starts_with("NEMO2407"))
        .collect();
    assert_eq!(p.len(), 36, "{}", show(&p));
    assert!(p.iter().all(|x| x.error_pct.abs() <= 15.0), "{}", show(&p));
    assert!(mape(&p) <= 8.0, "MAPE {:.1}%\n{}", mape(&p), show(&p));
    let t = rows(&r, "NEMO2407", "tflops_per_gpu");
    assert!(
        mape(&t) <= 8.0,
        "TFLOP/s MAPE {:.1}%\n{}",
        mape(&t),
        show(&t)
    );
}

/// torchtitan FSDP2 on 64 A100 80GB (tests/data/published/fsdp_zero_public.csv,
/// pytorch/torchtitan docs/performance.md @0413364): 8 rows, tokens/s per GPU, run as
/// ZeRO-3 (FSDP2 full sharding, reshard after forward) with each row's activation
/// checkpointing: "full", "selective layer" (every 2nd block fully checkpointed:
/// recompute_layer_share 1/2) and "selective op" (torchtitan's op policy: every second
/// matmul of a block and every memory-bound op recomputed, the `alternate_matmuls`
/// module), with the memory-bound ops run eagerly (torchtitan's presets set
/// compile = false; the 8B and 13B presets use the fused RMSNorm kernel) and FSDP2's
/// copy-out of each gathered block on the compute stream. All rows are
/// at one GPU count, so the fall of throughput with scale is not tested here. The
/// bound holds the measured MAPE (see docs/validation.md); issue 15 aims at 10%.
#[test]
fn torchtitan_fsdp2_tokens_per_gpu() {
    let r = report();
    let p = rows(&r, "TT-A100-", "tokens_per_s_per_gpu");
    assert_eq!(p.len(), 8, "{}", show(&p));
    assert!(
        r.predictions
            .iter()
            .filter(|x| x.row_id.starts_with("TT-A100-"))
            .all(|x| x
                .assumptions
                .iter()
                .any(|a| a.contains("ZeRO") || a.contains("torchtitan"))),
        "rows not run on the torchtitan recipe"
    );
    assert!(mape(&p) < FSDP_BOUND, "MAPE {:.1}%\n{}", mape(&p), show(&p));
}

/// torchtitan's MFU is its own count (`get_num_flop_per_token`: 6 x all parameters +
/// 12 l h q t per token), not 6 x matmul parameters: under it each row's two published
/// figures, MFU and tokens/s per GPU, agree with each other, so the predicted MFU must
/// carry the same error as the predicted tokens/s. On the default count the 8B
/// "selective layer" row read -11.5% on MFU and +20.0% on tokens/s: the MFU rows hid the
/// error.
#[test]
fn torchtitan_mfu_on_torchtitan_convention() {
    let r = report();
    let mfu = rows(&r, "TT-A100-", "mfu_pct");
    let tps = rows(&r, "TT-A100-", "tokens_per_s_per_gpu");
    assert_eq!(mfu.len(), 8);
    // Published pairs agree to the published rounding (0.1 MFU points, ~0.2%).
    assert_errors_agree(&mfu, &tps, 0.5, &[]);
}

/// Megatron-Bridge's TFLOP/s are its own count (`flop_utils.py`: 6 x matmul parameters,
/// the logits included, plus the causal half of the attention), so on each dense
/// Blackwell row the predicted TFLOP/s carries the predicted tokens/s's error. Hand
/// check of the count: Llama 3 8B at sequence 8192 is 12 x 32 x 4096 x (1.5 x 14336 +
/// 4096 x (1 + 8/32 + 8192/4096/2)) + 6 x 4096 x 128256 = 51.47 GFLOP per token, and
/// the DGX-H100 row of the same table prints 744 TFLOP/s at 14,451 tokens/s (51.48).
/// On the default count (whole s x s attention) the Llama 3 8B GB300 row read +8.9% on
/// TFLOP/s and -3.3% on tokens/s.
#[test]
fn blackwell_tflops_on_megatron_bridge_convention() {
    let r = report();
    let tf = rows(&r, "BW-", "tflops_per_gpu");
    let tps = rows(&r, "BW-", "tokens_per_s_per_gpu");
    assert_eq!(tf.len(), 17);
    let per_token: f64 = 12.0 * 32.0 * 4096.0 * (1.5 * 14336.0 + 4096.0 * (1.0 + 0.25 + 1.0))
        + 6.0 * 4096.0 * 128256.0;
    assert!((per_token / 51.47e9 - 1.0).abs() < 1e-3, "{per_token}");
    // DeepSeek-V3 with MTP (BW-B200-05): Bridge counts the MTP block's projections and
    // logits only, not its transformer layer. Dense rows agree to the published
    // rounding; the MoE rows within a point (Bridge leaves out the router's GEMM).
    assert_errors_agree(&tf, &tps, 1.0, &["BW-B200-05"]);
    // The count itself: predicted TFLOP/s over predicted tokens/s on the Llama 3 8B row.
    let f = tf.iter().find(|p| p.row_id == "BW-GB300-01").unwrap();
    let t = tps.iter().find(|p| p.row_id == "BW-GB300-01").unwrap();
    let counted = f.predicted * 1e12 / t.predicted;
    assert!((counted / per_token - 1.0).abs() < 0.005, "{counted}");
}

/// Megatron-Bridge's FP8 runs on DGX-H100 (tests/data/published/bridge_h100_public.csv:
/// Llama 3 70B on 64 GPUs and Llama 3.1 405B on 1,024, the same layouts in six NeMo
/// releases, 25.11 to 26.06), tokens/s per GPU. Measured 4.1% (70B -1.4% to -4.1%, 405B
/// +2.2% to +12.3%, the 12.3% in the oldest release: the same layout gained 12% in
/// published throughput from 25.11 to 26.04.01 with no change of recipe). The issue's
/// aim for dense FP8 is 8%; the bounds guard what the model gives.
#[test]
fn megatron_bridge_h100_fp8_tokens() {
    let r = report();
    let p = rows(&r, "BR-H100-", "tokens_per_s_per_gpu");
    assert_eq!(p.len(), 9, "{}", show(&p));
    assert!(mape(&p) < 5.0, "MAPE {:.1}%\n{}", mape(&p), show(&p));
    assert!(p.iter().all(|x| x.error_pct.abs() < 13.0), "{}", show(&p));
}

/// Megatron-Bridge's MoE runs on DGX-H100 (tests/data/published/bridge_h100_moe_public.csv,
/// the DGX-H100 rows of docs/performance-summary-archive.md @067f987d, NeMo 25.11 to
/// 26.04.01), tokens/s per GPU, each row on its release's preset (recompute, etp,
/// all-to-all overlap, token dispatcher; docs/validation.md). Measured: MAPE 51.6%
/// (53.2% before the job ran at its slowest chip's clock, `calibrate::lockstep`: every
/// row 1.5-2 points slower); GPT-OSS 120B (BF16, PP 4, EP 8) +37.5% to +41.9%
/// (+39.7% to +44.0% before the slowest chip; +43.7% to +48.3% before the
/// all-to-all dispatcher's sort into local-expert order was priced; +38.7% to +43.0%
/// before its 128-token windows were priced: half its layers' attention computes 187.5
/// keys per query, not 2,048; +44.1% to +48.7% before its later stages reduced their
/// gradients as one bucket each), Qwen3 235B-A22B (FP8-CS, TP 2, PP 8, EP 32, etp 1)
/// +19.1% to +28.0% (+20.1% to +29.2% before the slowest chip; +29.3% to +39.1% before
/// its overlapped all-to-all's 16 SMs were
/// charged, and the copies padding its experts' FP8 inputs were priced),
/// Qwen3 30B-A3B at EP 16 over two nodes +49.4% and +50.4% (-12.1% and -11.5% while its
/// HybridEP dispatch was priced as Megatron-Core's all-to-all, 4 copies of each token
/// over InfiniBand instead of ~1: MAPE 60.4% then), at PP 2 and EP 8 inside one node
/// +48.4% (+67.6% before DeepEP's 20 SMs were charged and its experts' FP8 padding
/// copies priced), +162.9% (26.02, whose published throughput is 0.56 of 26.02.01's on
/// the same layout and preset) and +155.7% (25.11, the all-to-all dispatcher).
/// Every row is predicted too fast:
/// the published per-layer time of Qwen3 30B-A3B is ~9.4 ms per micro-batch in both
/// layouts, the model's compute ~4.5-4.9 ms, and with the exchange priced as it runs
/// the two layouts now agree, as published. The aim for MoE is 12%; the bounds
/// guard what the model gives today.
#[test]
fn megatron_bridge_h100_moe_tokens() {
    let r = report();
    let p = rows(&r, "MB-H100-", "tokens_per_s_per_gpu");
    assert_eq!(p.len(), 15, "{}", show(&p));
    assert!(mape(&p) < 52.5, "MAPE {:.1}%\n{}", mape(&p), show(&p));
    assert!(p.iter().all(|x| x.error_pct > 15.0), "{}", show(&p));
    let of = |model: &str| -> Vec<&Prediction> {
        p.iter()
            .copied()
            .filter(|x| x.row_id.ends_with(model))
            .collect()
    };
    // GPT-OSS and Qwen3 235B: too fast on every release, within the measured spread.
    for x in of("GPT-OSS-120B") {
        assert!(x.error_pct > 35.0 && x.error_pct < 45.0, "{}", show(&[x]));
    }
    for x in of("Q3-235B") {
        assert!(x.error_pct > 15.0 && x.error_pct < 30.0, "{}", show(&[x]));
    }
    let q30 = of("Q3-30B");
    assert_eq!(q30.len(), 5);
    // The same per-layer gap in both layouts: EP 16 over two nodes (HybridEP, 26.04.x)
    // within 20 points of EP 8 inside one node on the release before (26.02.01).
    let ep8 = q30.iter().find(|x| x.row_id.contains("26.02.01")).unwrap();
    for x in q30.iter().filter(|x| x.row_id.contains("26.04")) {
        assert!(
            (x.error_pct - ep8.error_pct).abs() < 20.0,
            "{}",
            show(&[x, ep8])
        );
    }
}

/// How a row states Megatron-Core settings the framework table does not fix: the
/// experts' tensor-parallel size (`expert_tensor_parallel_size = N`, MoE parallel
/// folding) and the expert all-to-all overlap (`moe_a2a_overlap`, which Megatron-Bridge's
/// performance scripts turn into overlap_moe_expert_parallel_comm,
/// scripts/performance/utils/overrides.py). Without etp the Qwen3 235B layout (tp 2, pp
/// 8, ep 32 on 256 GPUs) needs ep x etp = 64 to divide tp x dp = 32 and is refused.
#[test]
fn rows_state_expert_tensor_parallelism_and_all_to_all_overlap() {
    use llmplan::validate::recipe::{config_count, for_framework, refine};
    let key = "expert_tensor_parallel_size";
    assert_eq!(
        config_count("a; expert_tensor_parallel_size = 1 (preset)", key),
        Some(1)
    );
    assert_eq!(config_count("expert_tensor_parallel_size=4", key), Some(4));
    // A longer name that ends in the key is another setting.
    assert_eq!(config_count("moe_expert_tensor_parallel_size=4", key), None);
    assert_eq!(
        config_count("expert_tensor_parallel_size (not set)", key),
        None
    );
    // A flag's key is read at the end of a longer name: NeMo's ub_tp_comm_overlap is
    // Megatron's tp_comm_overlap (a false one must not fall back to "overlapped").
    use llmplan::validate::recipe::config_flag;
    assert_eq!(
        config_flag("ub_tp_comm_overlap=false", "tp_comm_overlap"),
        Some(false)
    );
    let mb = for_framework("Megatron-Bridge (NeMo 26.04.01 container, Megatron-Core); DDP");
    assert!(!mb.ep_overlap);
    let (on, said) = refine(mb, "moe_a2a_overlap = true (h100 preset)");
    assert!(on.ep_overlap && said.len() == 1, "{said:?}");
    let (off, _) = refine(&on, "moe_a2a_overlap = false");
    assert!(!off.ep_overlap);
    // The shipped 235B row with and without its etp statement.
    let all = llmplan::validate::builtin_rows().unwrap();
    let row = all
        .iter()
        .find(|x| x.id() == "MB-H100-26.04.01-Q3-235B")
        .unwrap()
        .clone();
    let with = llmplan::validate::validate(std::slice::from_ref(&row), None);
    assert_eq!(with.skipped.len(), 0);
    assert!(with.predictions[0]
        .assumptions
        .iter()
        .any(|a| a == "expert tensor parallel 1 as the row states"));
    let mut without = row;
    for (_, v) in without.cells.iter_mut() {
        *v = v.replace("expert_tensor_parallel_size = 1", "");
    }
    let r = llmplan::validate::validate(&[without], None);
    assert_eq!(r.predictions.len(), 0);
    assert!(
        r.skipped[0].reason.contains("etp"),
        "{}",
        r.skipped[0].reason
    );
}

/// Measured 9.7% (every row predicted too fast: +3.0 to +13.1%): 8.2% when the
/// gathers and reduce-scatters ran hierarchically (an NVLink phase, then a network
/// phase); torchtitan runs them on NCCL's flat ring (`training.collective: ring`),
/// pipelined, so each takes its slowest hop's time instead of the sum and holds its
/// SMs for less. 12.5% before the SMs that the overlapped gathers and reduce-scatters
/// hold (16 of 108 per A100, `Comm::collective_ctas`), 14.5% before FSDP2's copy-out,
/// 27.3% before the eager memory-bound ops and the op-level policy, 31.9% before the
/// layer-share recompute. Guards it from getting worse.
const FSDP_BOUND: f64 = 10.0;

#[test]
fn every_shipped_row_is_predicted_or_says_why() {
    // tests/data/published holds published_runs_public.csv (56 rows),
    // nemo_24_07_perf.csv (12), blackwell_runs_public.csv (17), fsdp_zero_public.csv
    // (8) and mlperf_training_v51_public.csv (17); other tables dropped there join automatically, so the counts are per file.
    let rows = llmplan::validate::builtin_rows().unwrap();
    let r = report();
    let in_file = |file: &str| {
        let ids: Vec<&str> = rows
            .iter()
            .filter(|x| x.file == file)
            .map(|x| x.id())
            .collect();
        let predicted = ids
            .iter()
            .filter(|id| r.predictions.iter().any(|p| p.row_id == **id))
            .count();
        let skipped = ids
            .iter()
            .filter(|id| r.skipped.iter().any(|s| s.row_id == **id))
            .count();
        (ids.len(), predicted, skipped)
    };
    // 56 rows: 52 predicted (15 of them without a published layout, on the layout the
    // search finds; GPT-3 on the V100 profile, Llama 2 34B from the catalog, the 4 Llama
    // 3 model-card rows at the assumed 4M-token batch; DeepSeek-V3's two-phase context
    // extension on a layout searched per phase); skipped: 2 TPU rows (no profile), the
    // GPT-4 rumour and DeepSeek-V3's total (no seq_len).
    assert_eq!(in_file("published_runs_public.csv"), (56, 52, 4));
    // 12 rows, all predicted (the catalog has GPT3 5B/20B, Llama 2 7B/13B and
    // Nemotron 8B/22B/340B).
    assert_eq!(in_file("nemo_24_07_perf.csv"), (12, 12, 0));
    // Every Blackwell (17) and torchtitan FSDP2 (8) row is predicted.
    assert_eq!(in_file("blackwell_runs_public.csv"), (17, 17, 0));
    assert_eq!(in_file("fsdp_zero_public.csv"), (8, 8, 0));
    // MLPerf Training v5.1 (17 rows): all predicted, the MI350X row on its own profile
    // (the air-cooled 1000 W part, not an MI355X).
    assert_eq!(in_file("mlperf_training_v51_public.csv"), (17, 17, 0));
    // torchtitan FSDP2 at several GPU counts (8/128 H100, 32/64 H200): all predicted.
    assert_eq!(in_file("fsdp_scaling_public.csv"), (8, 8, 0));
    // Megatron-Bridge on DGX-H100, FP8 (9 rows, NeMo 25.11 to 26.06): all predicted.
    assert_eq!(in_file("bridge_h100_public.csv"), (9, 9, 0));
    // Megatron-Bridge's MoE runs on DGX-H100 (15 rows: GPT-OSS 120B, Qwen3 30B-A3B and
    // 235B-A22B, NeMo 25.11 to 26.04.01): all predicted, the 235B layout (tp 2, pp 8,
    // ep 32 on 256 GPUs) through the etp 1 its row states.
    assert_eq!(in_file("bridge_h100_moe_public.csv"), (15, 15, 0));
    let why = |id: &str| {
        r.skipped
            .iter()
            .find(|s| s.row_id == id)
            .map_or("", |s| s.reason.as_str())
    };
    // Two phases (phases.rs); the row's layout is pre-training's (dp derived = 2048 /
    // 16), which runs neither: 1920 sequences are 15 micro-batches per replica, fewer
    // than DualPipe's 2 x pp = 32, and 480 do not divide among 128 replicas. DeepSeek
    // publishes no context-extension layout, so each phase runs on the layout the search
    // finds on the row's 2,048 GPUs, said and kept out of the error bands.
    let ctx: Vec<&Prediction> = r
        .predictions
        .iter()
        .filter(|p| p.row_id == "E2E-DeepSeek-V3-ctxext")
        .collect();
    assert_eq!(ctx.len(), 1, "{}", why("E2E-DeepSeek-V3-ctxext"));
    assert_eq!(ctx[0].quantity, "gpu_hours");
    assert!(ctx[0].layout_searched);
    let said = ctx[0].assumptions.join("\n");
    for phase in [
        "phase 1: published layout cannot run 1920 sequences",
        "phase 2: published layout cannot run 480 sequences",
    ] {
        assert!(
            said.contains(phase) && said.contains("layout searched"),
            "{said}"
        );
    }
    assert!(
        said.contains("DualPipe") && said.contains("not divisible"),
        "{said}"
    );
    assert!(why("E2E-DeepSeek-V3-total").contains("add seq_len"));
    for s in &r.skipped {
        let names_a_column = ["add ", "gpu_type", "rumoured", "not published", "phase"]
            .iter()
            .any(|k| s.reason.contains(k));
        assert!(names_a_column, "{}: {}", s.row_id, s.reason);
    }
}

/// A row of two phases (phases.rs: one value per phase, steps from `train_steps`) is
/// predicted as the sum of its phases predicted as rows of their own: MT-NLG's layout
/// (tp 8, pp 35, dp 8 on 2,240 A100) run 10 steps of 1920 sequences, then 20 of 960.
#[test]
fn a_row_of_phases_sums_its_phases() {
    let rows = llmplan::validate::builtin_rows().unwrap();
    let base = rows.iter().find(|r| r.id() == "E2E-MTNLG-2240").unwrap();
    let with = |sets: &[(&str, &str)]| {
        let mut r = base.clone();
        for (k, v) in sets {
            r.cells.insert(k.to_string(), v.to_string());
        }
        r
    };
    let hours = |r: llmplan::validate::rows::Row| {
        let rep = llmplan::validate::validate_with(&[r], None, false);
        let p = rep
            .predictions
            .iter()
            .find(|p| p.quantity == "gpu_hours")
            .unwrap_or_else(|| panic!("{:?}", rep.skipped));
        p.predicted
    };
    let two = hours(with(&[
        ("global_batch_seqs", "1920 / 960"),
        ("seq_len", "2048 then 2048"),
        ("train_steps", "10; 20"),
        ("train_tokens", ""),
    ]));
    let first = hours(with(&[
        ("global_batch_seqs", "1920"),
        ("train_tokens", &(10.0 * 1920.0 * 2048.0).to_string()),
    ]));
    let second = hours(with(&[
        ("global_batch_seqs", "960"),
        ("train_tokens", &(20.0 * 960.0 * 2048.0).to_string()),
    ]));
    assert!(
        (two / (first + second) - 1.0).abs() < 1e-9,
        "{two} vs {first} + {second}"
    );
}

#[test]
fn rows_without_a_batch_say_the_assumed_one() {
    // The Llama 3 model-card rows publish seq_len 8192 and no batch: 4M tokens (2^22)
    // assumed = 512 sequences, named in the row's assumptions.
    let r = report();
    let p = r
        .predictions
        .iter()
        .find(|p| p.row_id == "E2E-Llama-3-8B")
        .expect("predicted");
    assert!(
        p.assumptions
            .iter()
            .any(|a| a.contains("4M tokens assumed") && a.contains("512 sequences")),
        "{:?}",
        p.assumptions
    );
}

#[test]
fn group_names_do_not_change_predictions() {
    // The recipe comes from the framework, precision, recompute and notes cells and the
    // convention from the source: renaming every group (and prefixing every row id)
    // moves no number.
    // Without the layout search (rows without a layout are skipped in both runs).
    let rows = llmplan::validate::builtin_rows().unwrap();
    let before = llmplan::validate::validate_with(&rows, None, false);
    let renamed: Vec<_> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let id = format!("Z-{}", r.id());
            r.cells.insert("group".into(), "renamed group".into());
            r.cells.insert("row_id".into(), id);
            r
        })
        .collect();
    let after = llmplan::validate::validate_with(&renamed, None, false);
    // Row-specific documented assumptions are keyed by row id (E2E-Llama-3.1-405B,
    // E2E-DeepSeek-V3-pretrain); with renamed ids those rows lose them, so they are left
    // out; every other prediction must be the same number.
    let documented = ["E2E-Llama-3.1-405B", "E2E-DeepSeek-V3-pretrain"];
    let key = |id: &str, q: &str| format!("{} {q}", id.trim_start_matches("Z-"));
    let a: Vec<(String, f64)> = before
        .predictions
        .iter()
        .filter(|p| !documented.contains(&p.row_id.as_str()))
        .map(|p| (key(&p.row_id, p.quantity), p.predicted))
        .collect();
    let b: Vec<(String, f64)> = after
        .predictions
        .iter()
        .filter(|p| !documented.contains(&p.row_id.trim_start_matches("Z-")))
        .map(|p| (key(&p.row_id, p.quantity), p.predicted))
        .collect();
    assert!(a.len() > 100, "{}", a.len());
    assert_eq!(a, b);
}

#[test]
fn leave_one_out_bands_cover_the_published_value() {
    // Issue bound: for >= 75% of the published rows, the band built from the other rows
    // (leave one out) covers the row's published value (its signed error lies inside).
    use llmplan::analytic::uncertainty::band;
    let all = llmplan::validate::band::from_report(&report());
    assert!(all.len() >= 30, "{} rows", all.len());
    let mut covered = 0;
    let mut missed = Vec::new();
    for (i, r) in all.iter().enumerate() {
        let others: Vec<_> = all
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, x)| x.clone())
            .collect();
        let b = band(&others, &r.regime).expect("enough rows");
        if b.error_lo <= r.error && r.error <= b.error_hi {
            covered += 1;
        } else {
            missed.push(format!(
                "{} {:+.1}% outside [{:+.1}%, {:+.1}%] ({})",
                r.row,
                r.error * 100.0,
                b.error_lo * 100.0,
                b.error_hi * 100.0,
                b.regime
            ));
        }
    }
    let share = covered as f64 / all.len() as f64;
    eprintln!("leave-one-out: {covered} of {} covered", all.len());
    assert!(
        share >= 0.75,
        "{covered} of {} covered:\n{}",
        all.len(),
        missed.join("\n")
    );
}

#[test]
fn estimate_json_carries_the_uncertainty_fields() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_llmplan"))
        .args(["estimate", "llama3-405b-h100", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let u = &v["uncertainty"];
    for k in [
        "regime",
        "rows",
        "step_s_p10",
        "step_s_p90",
        "days_p10",
        "days_p90",
        "usd_p10",
        "usd_p90",
    ] {
        assert!(!u[k].is_null(), "uncertainty.{k} missing: {u}");
    }
    let (lo, hi) = (
        u["step_s_p10"].as_f64().unwrap(),
        u["step_s_p90"].as_f64().unwrap(),
    );
    assert!(0.0 < lo && lo < hi, "{u}");
    assert!(u["rows"].as_u64().unwrap() >= 9);
}

/// DeepSpeed 0.6.2 ZeRO-3 on Azure (GPT-3 175B, one sequence of 1,024 tokens per GPU,
/// Figure 5(b) of the DeepSpeed-on-Azure post): published throughput per GPU falls
/// 95 -> 82 -> 72 -> 50 TFLOP/s from 128 to 1,024 GPUs, and the prediction must fall
/// at every step too. What makes it fall: a flat NCCL ring over all GPUs (its latency
/// grows with every rank), paid by four gathers per block per pass and a reduce-scatter
/// per linear layer, and a backward that waits for every reduce-scatter (the DeepSpeed
/// recipe's sources, validation/frameworks.csv `deepspeed 0.6`). It falls less than
/// the published (docs/validation.md says by how much), so only the direction is held.
/// (The post's 530B and 1T figures do not fall from 512 to 1,024 GPUs; not held.)
#[test]
fn deepspeed_zero3_azure_throughput_falls_with_gpu_count() {
    let r = report();
    let p: Vec<&Prediction> = [128, 256, 512, 1024]
        .iter()
        .flat_map(|n| rows(&r, &format!("DS-AZ-175B-s1024-mb1-{n}"), "tflops_per_gpu"))
        .collect();
    assert_eq!(p.len(), 4, "{}", show(&p));
    assert!(
        p.iter().all(|x| x
            .assumptions
            .iter()
            .any(|a| a.contains("DeepSpeed 0.6 ZeRO-3"))),
        "rows not run on the DeepSpeed 0.6 recipe"
    );
    for w in p.windows(2) {
        assert!(w[1].published < w[0].published, "{}", show(&p));
        assert!(w[1].predicted < w[0].predicted, "{}", show(&p));
    }
    // The same model at sequence 512 (Figure 5(a)): 53.3 -> 43.4 -> 37.2 TFLOP/s from
    // 128 to 512 GPUs at micro-batch 1, and the prediction falls too.
    let p: Vec<&Prediction> = [128, 256, 512]
        .iter()
        .flat_map(|n| rows(&r, &format!("DS-AZ-175B-s512-mb1-{n}"), "tflops_per_gpu"))
        .collect();
    assert_eq!(p.len(), 3, "{}", show(&p));
    for w in p.windows(2) {
        assert!(w[1].published < w[0].published, "{}", show(&p));
        assert!(w[1].predicted < w[0].predicted, "{}", show(&p));
    }
}

/// torchtitan's FSDP2 scaling tables (Llama 3.1 8B; pytorch/torchtitan
/// benchmarks/llama3_h100_202412_torchtitan.md and the H200 table, validation rows
/// TT-H100-*, TT-H200-*): tokens per second per GPU fall from 8 to 128 H100s (BF16,
/// compiled, float8) and from 32 to 64 H200s, and the prediction must fall too. What
/// makes it fall: the job runs at its slowest chip's clock, E[max of N] chip-to-chip
/// standard deviations below the median chip (`calibrate::lockstep`, the spread
/// measured on an 8x H200 node); the data-parallel work per GPU is the same at every
/// count. It falls less than the published (-0.4..-0.6% against -1.8..-2.7%; the
/// figures are in docs/validation.md), so only the direction is held.
#[test]
fn torchtitan_fsdp2_throughput_falls_with_gpu_count() {
    let r = report();
    let pairs = [
        ("TT-H100-L31-8B-bf16-8", "TT-H100-L31-8B-bf16-128"),
        ("TT-H100-L31-8B-compile-8", "TT-H100-L31-8B-compile-128"),
        ("TT-H100-L31-8B-fp8-8", "TT-H100-L31-8B-fp8-128"),
        ("TT-H200-L31-8B-fp8-32", "TT-H200-L31-8B-fp8-64"),
    ];
    for (few, many) in pairs {
        let q = "tokens_per_s_per_gpu";
        let (a, b) = (rows(&r, few, q), rows(&r, many, q));
        assert!(a.len() == 1 && b.len() == 1, "{few} / {many} missing");
        let both = [a[0], b[0]];
        assert!(b[0].published < a[0].published, "{}", show(&both));
        assert!(b[0].predicted < a[0].predicted, "{}", show(&both));
    }
}

/// The FSDP column of Megatron-Bridge's table, carried in the framework cell ("...;
/// FSDP"), is read from that cell alone: a note that mentions FSDP in passing is not a
/// statement about the run.
#[test]
fn only_the_framework_cell_marks_megatron_fsdp() {
    use llmplan::validate::recipe::{for_framework, refine};
    use llmplan::validate::rows::framework_zero;
    let cell = "Megatron-Bridge (NeMo 25.11 container, Megatron-Core); FSDP";
    assert_eq!(framework_zero(cell), Some(3));
    assert_eq!(
        framework_zero("Megatron-Bridge (NeMo 25.11 container)"),
        None
    );
    assert_eq!(framework_zero("torchtitan (FSDP2)"), None);
    let old = for_framework("Megatron-LM (2021-22)");
    let (r, _) = refine(old, "unlike the other rows; fsdp = 0 in the table");
    assert_eq!(r.zero, old.zero);
}

/// DeepSpeed 0.6 as the 2022 Azure rows ran it (validation/frameworks.csv): ZeRO-3 on a
/// flat ring with a blocking gradient reduce and small-gradient buckets, and the row's
/// own statements of host-memory offload (optimizer states; checkpoints) read from its
/// text.
#[test]
fn deepspeed_0_6_runs_zero3_on_a_ring_with_a_blocking_reduce() {
    use llmplan::spec::training::Collective;
    use llmplan::validate::recipe::{for_framework, parse, refine, FRAMEWORKS_CSV};
    // The Azure rows' framework cell names Megatron-DeepSpeed too: the DeepSpeed 0.6
    // entry comes first.
    let cell = "DeepSpeed 0.6.2 ZeRO-3 (with CPU offload of optimizer states and activations) + Megatron-DeepSpeed";
    let r = for_framework(cell);
    assert_eq!(r.name, "DeepSpeed 0.6 ZeRO-3 + Megatron-DeepSpeed (2022)");
    assert!(r.zero == 3 && r.zero3_reduce_blocks && r.dp_overlap);
    assert_eq!((r.collective, r.zero3_collectives), (Collective::Ring, 4));
    assert!(!for_framework("Megatron-DeepSpeed").zero3_reduce_blocks);
    // A cell that is neither yes nor no is an error naming the column.
    let bad = FRAMEWORKS_CSV.replacen(",ring,4,yes,", ",ring,4,maybe,", 1);
    let e = parse(&bad).unwrap_err().to_string();
    assert!(e.contains("zero3_reduce_blocks: 'maybe'"), "{e}");
    // Small-parameter gradient buckets: DeepSpeed 0.6 reduces three per block on their
    // own; a framework without the column reduces none apart.
    assert_eq!(r.zero3_small_buckets, 3);
    assert_eq!(for_framework("Megatron-DeepSpeed").zero3_small_buckets, 0);
    let bad = FRAMEWORKS_CSV.replacen(",ring,4,yes,3,", ",ring,4,yes,three,", 1);
    let e = parse(&bad).unwrap_err().to_string();
    assert!(e.contains("zero3_small_buckets: 'three'"), "{e}");
    // The reuse distance the Azure scripts set (stage3_max_reuse_distance 3e9), and
    // DeepSpeed's own default (1e9) for later DeepSpeed; none where a framework keeps
    // the recompute's gathers for the backward (FSDP).
    assert_eq!(r.zero3_reuse_distance, Some(3e9));
    assert_eq!(for_framework("DeepSpeed").zero3_reuse_distance, Some(1e9));
    assert_eq!(for_framework("torchtitan").zero3_reuse_distance, None);
    let bad = FRAMEWORKS_CSV.replacen(",ring,4,yes,3,3e9,", ",ring,4,yes,3,far,", 1);
    let e = parse(&bad).unwrap_err().to_string();
    assert!(e.contains("zero3_reuse_distance: 'far'"), "{e}");
    // Host memory only where the row says so: the recompute cell's "checkpoints
    // offloaded to CPU" and the framework cell's "offload of optimizer states".
    assert!(!r.optimizer_offload && !r.checkpoint_offload);
    let said = "full (activation checkpointing, checkpoints offloaded to cpu); deepspeed 0.6.2 zero-3 (with cpu offload of optimizer states and activations)";
    let (o, _) = refine(r, said);
    assert!(o.optimizer_offload && o.checkpoint_offload);
}

#[test]
fn a_row_sets_megatron_buckets_not_deepspeeds() {
    use llmplan::validate::recipe::{for_framework, refine};
    // MLPerf's Llama 3.1 8B configs export BUCKET_SIZE=768000000 (config_common_8b.sh),
    // which the rows quote; Megatron-Core's default stands where nothing is said.
    let mlperf = for_framework("NVIDIA MLPerf Training v5.1 implementation (NeMo 25.09)");
    assert_eq!(mlperf.dp_bucket, None);
    let (r, said) = refine(mlperf, "bucket_size=768000000 (config_common_8b.sh)");
    assert_eq!(r.dp_bucket, Some(768e6));
    assert!(said[0].contains("768000000 parameters"), "{said:?}");
    // DeepSpeed's ZeRO buckets are other buffers: not read as Megatron's.
    let ds = for_framework("DeepSpeed 0.6.2 ZeRO-3");
    let (r, said) = refine(ds, "reduce_bucket_size=90000000; allgather_bucket_size=5e8");
    assert_eq!(r.dp_bucket, None, "{said:?}");
    // The rows that say it reach the scenario.
    let rows = llmplan::validate::builtin_rows().unwrap();
    let row = rows
        .iter()
        .find(|r| r.id() == "MLP51-GB200-8B-512")
        .unwrap();
    let b = llmplan::validate::rows::build(row).unwrap();
    assert_eq!(b.scenario.training.dp_bucket_params, Some(768e6));
}

#[test]
fn nemo_1_and_old_megatron_run_the_unfused_loss() {
    use llmplan::validate::recipe::{for_framework, refine};
    // Megatron-Core's cross_entropy_loss_fusion defaults to False
    // (megatron/core/model_parallel_config.py @core_r0.8.0) and NeMo 1 sets it only where
    // a model's config names it (build_transformer_config passes such keys through,
    // NVIDIA/NeMo @v2.0.0rc0); Megatron-LM of 2021 has only the unfused loss
    // (megatron/mpu/cross_entropy.py @v2.5). Megatron-Bridge's GPTModelProvider and
    // NeMo 2's GPTConfig turn it on.
    assert!(!for_framework("NeMo 24.07 (Megatron-Core)").fused_cross_entropy);
    assert!(!for_framework("Megatron-LM").fused_cross_entropy);
    assert!(for_framework("Megatron-Bridge (NeMo 26.04 container)").fused_cross_entropy);
    assert!(for_framework("NeMo 2").fused_cross_entropy);
    // A config the row quotes wins, either way.
    let (r, said) = refine(
        for_framework("Megatron-Core"),
        "cross_entropy_loss_fusion=true",
    );
    assert!(r.fused_cross_entropy, "{said:?}");
    // The NeMo 24.07 rows reach the scenario with their model's config: the launcher's
    // GPT-3 configs @24.07 do not name it, its Nemotron 8B config sets it true
    // (validation/model_configs.csv).
    let rows = llmplan::validate::builtin_rows().unwrap();
    let fused = |id: &str| {
        let row = rows.iter().find(|r| r.id() == id).unwrap();
        llmplan::validate::rows::build(row)
            .unwrap()
            .scenario
            .training
            .fused_cross_entropy
    };
    assert!(!fused("NEMO2407-01"));
    assert!(fused("NEMO2407-08"));
    // A row's own words win over its model's config: the Nemotron-8B row saying so.
    let text = include_str!("data/published/nemo_24_07_perf.csv");
    let head = text.lines().next().unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("NEMO2407-08,"))
        .unwrap();
    let said = line.replacen(
        ",\"Table also",
        ",\"cross_entropy_loss_fusion=false. Table also",
        1,
    );
    assert_ne!(said, line);
    let row = llmplan::validate::rows::parse("t.csv", &format!("{head}\n{said}\n")).unwrap();
    let b = llmplan::validate::rows::build(&row[0]).unwrap();
    assert!(!b.scenario.training.fused_cross_entropy);
}

/// What NeMo 24.07's published runs ran, from the launcher at that tag: its environment
/// disables cuDNN's fused attention for every job (launcher_scripts/conf/config.yaml
/// @24.07, `NVTE_FUSED_ATTN: 0`), so Transformer Engine 1.8 (the container's) runs
/// FlashAttention-2; and its GPT-3 configs (training/gpt3/5b.yaml, 20b.yaml, 175b.yaml)
/// train with hidden and attention dropout 0.1, which the Llama and Nemotron configs
/// set to 0. Each row's scenario carries both, and FlashAttention-2 prices the
/// attention core slower by the FlashAttention-3 paper's measured ratio (Shah et al.
/// 2024, figures 5 and 6).
#[test]
fn nemo_24_07_rows_run_flash_attention_2_and_gpt3_dropout() {
    use llmplan::spec::training::AttentionKernel;
    let rows = llmplan::validate::builtin_rows().unwrap();
    let training = |id: &str| {
        let row = rows.iter().find(|r| r.id() == id).unwrap();
        llmplan::validate::rows::build(row)
            .unwrap()
            .scenario
            .training
    };
    for id in ["NEMO2407-01", "NEMO2407-05", "NEMO2407-08", "NEMO2407-12"] {
        let t = training(id);
        assert!(t.flash_attention, "{id}");
        assert_eq!(t.attention_kernel, AttentionKernel::Flash2, "{id}");
    }
    for (id, dropout) in [
        ("NEMO2407-01", true),
        ("NEMO2407-02", true),
        ("NEMO2407-04", true),
        ("NEMO2407-05", false),
        ("NEMO2407-08", false),
        ("NEMO2407-11", false),
    ] {
        assert_eq!(training(id).dropout, dropout, "{id}");
    }
    // The slowdown is the FlashAttention-3 paper's FA3 / FA2 throughput on H100.
    let k = llmplan::calibrate::kernel_model_for(&{
        let row = rows.iter().find(|r| r.id() == "NEMO2407-05").unwrap();
        llmplan::validate::rows::build(row).unwrap().scenario
    });
    use llmplan::analytic::compute::KernelModel;
    let (f, b) = k.flash2_slowdown();
    assert!((f - 616.0 / 335.0).abs() < 1e-12 && (b - 561.0 / 322.0).abs() < 1e-12);
}
