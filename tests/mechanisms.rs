//! Mechanisms added while validating, each checked against a hand calculation: the
//! power-capped GEMM clock, FlashAttention-2 on Hopper, FP8 quantization passes,
//! interleaved p2p, the MTP module and DualPipe's stage pairs; and the layer's GEMM
//! list, which is what the layer is priced on.

use llmplan::analytic::comm::Comm;
use llmplan::analytic::compute::{AttnShape, KernelModel};
use llmplan::analytic::layer::{layer_cost, layer_gemm_times, layer_gemms, LayerCost, LayerCtx};
use llmplan::analytic::pipeline::pipeline_s;
use llmplan::analytic::{count, EstimateOptions};
use llmplan::calibrate::kernel_model_for;
use llmplan::calibrate::model::FLASH2_SLOWDOWN;
use llmplan::setup::estimate;
use llmplan::spec::gpu::Dtype;
use llmplan::spec::layout::{resolve, Adjustments, Schedule};
use llmplan::spec::scenario::{self, Scenario};
use llmplan::spec::training::{AttentionKernel, Precision, Recompute};

fn load(name: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    scenario::load(Some(name), &sets).unwrap()
}

/// Layer 0 of `sc` under its own resolved layout, timed by `k`.
fn first_layer(sc: &Scenario, k: &dyn KernelModel) -> LayerCost {
    let mut adj = Adjustments::default();
    let rl = resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
    let ctx = LayerCtx {
        model: &sc.model,
        layout: &rl,
        training: &sc.training,
    };
    layer_cost(&ctx, 0, k, &Comm::new(&sc.cluster))
}

#[test]
fn h100_gemms_run_at_the_sustained_throughput() {
    // sustained.csv: 8192^3 BF16 GEMMs back to back for 20 s settle at 666.7 TFLOP/s
    // (median of the 1 s windows); training on one GPU runs every GEMM at that clock.
    let sc = load("llama3-405b-h100", &[]);
    let rate = |k: &dyn KernelModel| {
        2.0 * 8192f64.powi(3) / k.gemm_s(8192.0, 8192.0, 8192.0, Dtype::Bf16) / 1e12
    };
    let one = rate(&llmplan::calibrate::kernel_model_on(&sc, 1));
    assert!((one / 666.7 - 1.0).abs() < 0.005, "{one:.1} TFLOP/s");
    // The scenario's 16,384 chips run at the slowest one's clock: 3.6% lower
    // (E[max of 16,384 normals] = 3.9 chip-to-chip standard deviations of 0.93%).
    let all = rate(&kernel_model_for(&sc));
    let slowest =
        llmplan::calibrate::lockstep::slowest_chip_rate(sc.gpus, sc.gpu.efficiency.chip_spread);
    assert!((slowest - 0.964).abs() < 0.002, "{slowest}");
    assert!(
        (all / one - slowest).abs() < 2e-3,
        "{all:.1} vs {one:.1} TFLOP/s"
    );
}

#[test]
fn flash2_is_slower_on_hopper_only() {
    // FA3 paper (Shah et al. 2024) figures 5-6, H100 SXM5, head dim 128, 16K: forward
    // 616 vs 335 TFLOP/s, backward 561 vs 322.
    let h100 = kernel_model_for(&load("llama3-405b-h100", &[]));
    assert_eq!(h100.flash2_slowdown(), FLASH2_SLOWDOWN);
    assert!((FLASH2_SLOWDOWN.0 - 1.839).abs() < 1e-3);
    assert!((FLASH2_SLOWDOWN.1 - 1.742).abs() < 1e-3);
    // FlashAttention-2 is the A100's own class of kernel.
    let a100 = kernel_model_for(&load("gpt3-175b-a100", &[]));
    assert_eq!(a100.flash2_slowdown(), (1.0, 1.0));
    // A layer with it pays exactly the ratio on its attention.
    let mut sc = load("llama3-405b-h100", &[]);
    sc.training.attention_kernel = AttentionKernel::Flash2;
    let slow = first_layer(&sc, &h100).attn_fwd_s;
    sc.training.attention_kernel = AttentionKernel::Flash3;
    let fast = first_layer(&sc, &h100).attn_fwd_s;
    assert!((slow / fast / FLASH2_SLOWDOWN.0 - 1.0).abs() < 1e-12);
}

/// Counts memory traffic only: GEMMs and attention cost nothing, a byte costs 1 ps.
struct BytesOnly;

impl KernelModel for BytesOnly {
    fn gemm_s(&self, _: f64, _: f64, _: f64, _: Dtype) -> f64 {
        0.0
    }
    fn gemm_bwd_s(&self, _: f64, _: f64, _: f64, _: Dtype) -> f64 {
        0.0
    }
    fn matmul_flops_s(&self, _: f64, _: Dtype) -> f64 {
        0.0
    }
    fn attention_s(&self, _: &AttnShape) -> (f64, f64) {
        (0.0, 0.0)
    }
    fn memory_s(&self, bytes: f64) -> f64 {
        bytes * 1e-12
    }
}

#[test]
fn fp8_gemm_operands_pay_a_quantization_pass() {
    // Llama 3 405B layer at tp 8 under DeepSeek-V3's blockwise recipe: the four GEMM
    // inputs are quantized in the forward, 3 bytes per element (read BF16, write FP8);
    // the backward quantizes each output gradient both ways (4 bytes) and re-quantizes
    // each cached input (2 bytes). (Transformer Engine's recipes: tests/fp8.rs.)
    let mut sc = load("llama3-405b-h100", &[]);
    let bf16 = first_layer(&sc, &BytesOnly);
    sc.training.precision = Precision::Fp8;
    sc.training.fp8_recipe = llmplan::spec::training::Fp8Recipe::Blockwise;
    let fp8 = first_layer(&sc, &BytesOnly);
    let (t, h, tp) = (8192.0, 16384.0, 8.0);
    let (q, kv, f) = (128.0 * 128.0, 2.0 * 8.0 * 128.0, 53248.0);
    // (m, n, k) of qkv, output projection, fc1 (gate and up), fc2.
    let gemms = [
        (t, (q + kv) / tp, h),
        (t, h, q / tp),
        (t, 2.0 * f / tp, h),
        (t, h, f / tp),
    ];
    let fwd: f64 = gemms.iter().map(|&(m, _, k)| 3.0 * m * k).sum();
    let bwd: f64 = gemms
        .iter()
        .map(|&(m, n, k)| 4.0 * m * n + 2.0 * m * k)
        .sum();
    let dfwd = (fp8.fwd_compute_s - bf16.fwd_compute_s) * 1e12;
    let dbwd = (fp8.bwd_compute_s - bf16.bwd_compute_s) * 1e12;
    assert!((dfwd / fwd - 1.0).abs() < 1e-9, "{dfwd} vs {fwd} bytes");
    assert!((dbwd / bwd - 1.0).abs() < 1e-9, "{dbwd} vs {bwd} bytes");
}

#[test]
fn checkpointing_every_second_block_replays_half_the_forwards() {
    // torchtitan's selective_ac_option = 2 wraps every 2nd block in a full checkpoint
    // (distributed/activation_checkpoint.py): per layer on average, half a forward
    // replayed, and stored bytes halfway between keeping everything and keeping the
    // layer input only.
    let mut sc = load("llama3-405b-h100", &[]);
    let k = kernel_model_for(&sc);
    sc.training.recompute = Recompute::None;
    let none = first_layer(&sc, &k);
    sc.training.recompute = Recompute::Full;
    let full = first_layer(&sc, &k);
    sc.training.recompute_layer_share = 0.5;
    let half = first_layer(&sc, &k);
    assert_eq!(full.forward_replays, 1.0);
    assert_eq!(half.forward_replays, 0.5);
    assert!((half.recompute_s / full.recompute_s - 0.5).abs() < 1e-12);
    let mid = (none.stored_bytes + full.stored_bytes) / 2.0;
    assert!((half.stored_bytes / mid - 1.0).abs() < 1e-12);
}

#[test]
fn interleaving_sends_once_per_chunk() {
    // Each micro-batch crosses every stage once per model chunk: vpp sends forward and
    // vpp backward. One send: a 8192 x 16384 BF16 activation split over tp 8, to the
    // rank tp x cp x dp = 1024 away.
    let sets = ["layout.overlap.p2p=false", "layout.vpp=4"];
    let sc = load("llama3-405b-h100", &sets);
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    let one = Comm::new(&sc.cluster).p2p_s(8192.0 * 16384.0 * 2.0 / 8.0, 1024);
    let m = e.layout.microbatches as f64;
    let want = m * 2.0 * 4.0 * one;
    assert!(
        (e.time.breakdown.p2p_s / want - 1.0).abs() < 1e-9,
        "{} vs {want}",
        e.time.breakdown.p2p_s
    );
}

#[test]
fn mtp_module_costs_time_on_the_last_stage_but_no_model_flops() {
    let sc = load("deepseek-v3-h800", &[]);
    assert_eq!(sc.model.mtp_depth, 1);
    let mut no_mtp = sc.clone();
    no_mtp.model.mtp_depth = 0;
    let with = estimate(&sc, &EstimateOptions::default()).unwrap();
    let without = estimate(&no_mtp, &EstimateOptions::default()).unwrap();
    // Published counts (671B total, 37B active) exclude the MTP module.
    assert_eq!(count(&sc.model).total, with.model.params_total);
    assert_eq!(with.model.params_total, without.model.params_total);
    assert_eq!(with.flops.model_total, without.flops.model_total);
    let p = with.stages.len();
    for i in 0..p - 1 {
        assert_eq!(with.stages[i].fwd_s, without.stages[i].fwd_s, "stage {i}");
    }
    // The last stage gains at least one MoE block (a middle stage holds four).
    let block = with.stages[1].fwd_s / with.stages[1].layers as f64;
    let gain = with.stages[p - 1].fwd_s - without.stages[p - 1].fwd_s;
    assert!(gain > block, "{gain} vs one block {block}");
}

#[test]
fn dualpipe_pairs_stage_i_with_p_minus_1_minus_i() {
    // Forward [1, 2, 2, 3], backward twice that: per-GPU loads pair (0, 3) and (1, 2),
    // (3 + 9) / 2 = (6 + 6) / 2 = 6 per micro-batch; bubble (p/2 - 1) x the pair mean
    // of F + B/2: ((1 + 1) + (3 + 3)) / 2 = 4. With m = 8: 8 x 6 + 1 x 4 = 52 (the
    // slowest single stage alone would give 8 x 9 + 6 = 78).
    let f = [1.0, 2.0, 2.0, 3.0];
    let b = [2.0, 4.0, 4.0, 6.0];
    let t = pipeline_s(Schedule::DualPipe, &f, &b, 8, 1);
    assert!((t - 52.0).abs() < 1e-12, "{t}");
    // 1F1B keeps the slowest stage: (m - 1) x 9 + sum 24 = 87.
    let t = pipeline_s(Schedule::OneFOneB, &f, &b, 8, 1);
    assert!((t - 87.0).abs() < 1e-12, "{t}");
}

#[test]
fn weight_gradients_accumulate_into_fp32_main_grads() {
    // Megatron keeps FP32 main gradients across micro-batches and fuses the accumulation
    // into the weight-gradient GEMM (gradient_accumulation_fusion): its epilogue reads
    // and writes 4 + 4 B per weight instead of writing 2 B. A memory-bound case shows it
    // whole: 64 tokens against an 8192 x 8192 weight (the output dominates the traffic)
    // pays 6 B x 8192^2 more at the bandwidth every SM streaming reaches (copy bandwidth,
    // capped by bw_saturation), by hand.
    use llmplan::calibrate::data::Orientation;
    use llmplan::calibrate::model::{gemm_s, Hardware, Problem, MAIN_GRAD_ACCUM_BYTES};
    let sc = load("llama3-405b-h100", &[]);
    let k = kernel_model_for(&sc);
    let fit = llmplan::calibrate::builtin("h100-sxm").unwrap();
    let hw = Hardware::of(&sc.gpu);
    let bw = sc.gpu.hbm_bandwidth * fit.memory_eff;
    let (m, n, kk) = (64.0, 8192.0, 8192.0);
    let wgrad = |out: f64| {
        let mut p = Problem::of(m, n, kk, Orientation::Wgrad, Dtype::Bf16);
        p.out_bytes = out;
        gemm_s(&hw, &fit.gemm, bw, fit.sustained_clock, &p)
    };
    let extra = wgrad(MAIN_GRAD_ACCUM_BYTES) - wgrad(2.0);
    let want =
        (MAIN_GRAD_ACCUM_BYTES - 2.0) * n * kk / (bw * (1.0 / fit.gemm.bw_saturation).min(1.0));
    assert!((extra / want - 1.0).abs() < 1e-9, "{extra} s vs {want} s");
    // The kernel model hands the same difference to the layer costs.
    let via_model = k.gemm_bwd_accum_s(m, n, kk, Dtype::Bf16) - k.gemm_bwd_s(m, n, kk, Dtype::Bf16);
    assert!(
        (via_model / extra - 1.0).abs() < 1e-9,
        "{via_model} vs {extra}"
    );
    // Under PyTorch AMP (no main-grad buffer) the layer's backward does not pay it.
    let amp = load("llama3-405b-h100", &["training.mixed_precision=torch_amp"]);
    let (a, b) = (first_layer(&sc, &k), first_layer(&amp, &k));
    assert!(
        a.bwd_compute_s > b.bwd_compute_s,
        "{} vs {}",
        a.bwd_compute_s,
        b.bwd_compute_s
    );
    // The extra time is all in the weight-gradient GEMMs, which zero-bubble schedules
    // defer: their deferred share grows by the same seconds as the backward.
    let (dw, db) = (a.wgrad_s - b.wgrad_s, a.bwd_compute_s - b.bwd_compute_s);
    assert!((dw / db - 1.0).abs() < 1e-9, "{dw} s vs {db} s");
}

#[test]
fn expert_imbalance_slows_the_busiest_rank() {
    // The busiest expert-parallel rank receives 1.25x its balanced share: its all-to-all
    // takes 1.25x as long (the collective ends when it does), and its expert GEMMs get
    // 1.25x the tokens each.
    let sc = load("gpt4-moe-h100", &[]);
    let skew = load("gpt4-moe-h100", &["training.expert_imbalance=1.25"]);
    let k = kernel_model_for(&sc);
    let (a, b) = (first_layer(&sc, &k), first_layer(&skew, &k));
    assert!((b.ep_fwd_s / a.ep_fwd_s - 1.25).abs() < 1e-9);
    assert!((b.ep_bwd_s / a.ep_bwd_s - 1.25).abs() < 1e-9);
    assert!(b.fwd_compute_s > a.fwd_compute_s);
    // Out of range is an input error naming the field.
    let sets = vec!["training.expert_imbalance=0.5".to_string()];
    let e = scenario::load(Some("gpt4-moe-h100"), &sets).unwrap_err();
    assert!(e.to_string().contains("training.expert_imbalance"), "{e}");
}

/// Layer 0's MoE copies of the seed's H100 plan with `sets`, in bytes per element of each
/// routed copy of a token's hidden vector, forward (backward moves each copy's gradient:
/// twice the forward's time).
fn permute_bytes_per_copy(sets: &[&str]) -> f64 {
    let sc = load("gpt4-moe-h100", sets);
    let k = kernel_model_for(&sc);
    let c = first_layer(&sc, &k);
    let moe = sc.model.moe.as_ref().unwrap();
    let mut adj = Adjustments::default();
    let rl = resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
    let t = (rl.micro_batch as u64 * sc.training.seq_len) as f64;
    assert!(sc.model.is_moe_layer(0));
    c.moe_permute_s / (3.0 * k.memory_s(moe.top_k as f64 * sc.model.hidden as f64 * t))
}

#[test]
fn moe_permute_is_named_in_the_breakdown() {
    // Dispatch and combine copies: 8 B per routed copy of a token's hidden vector in
    // forward (permute read 2 + write 2, un-permute read 2 + write 2), twice in backward
    // (ep 16 over 16 experts: one per rank, nothing to sort).
    assert!((permute_bytes_per_copy(&[]) - 8.0).abs() < 1e-9);
    let sc = load("gpt4-moe-h100", &[]);
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    let text = llmplan::report::estimate_table(&e).replace(['│', '┆', '\n'], " ");
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(words.windows(2).any(|w| w == ["MoE", "permute"]), "{text}");
}

/// Megatron-Core's all-to-all dispatcher delivers tokens grouped by source rank; a rank
/// holding several experts sorts them into local-expert order after the exchange and
/// back before the combine ("Permutation 2", `sort_chunks_by_idxs`): 8 B more per
/// routed copy forward, 16 in all. DeepEP permutes once, on arrival: 8. The seed's 16
/// experts over ep 8 leave 2 per rank; over ep 16, one (nothing to sort).
#[test]
fn the_all_to_all_dispatcher_sorts_tokens_by_local_expert() {
    let permute = permute_bytes_per_copy;
    assert!((permute(&["layout.ep=8"]) - 16.0).abs() < 1e-9);
    assert!((permute(&["layout.ep=8", "training.moe_dispatcher=deepep"]) - 8.0).abs() < 1e-9);
    assert!((permute(&["layout.ep=16"]) - 8.0).abs() < 1e-9);
    // FP8 expert GEMMs need each expert's token count aligned (16 rows): Megatron-Core
    // pads the experts' input and strips their output with a copy each (TEGroupedMLP's
    // quantization_padding, TE Fp8Padding/Fp8Unpadding), 8 B more, unless HybridEP
    // delivered them padded.
    let fp8 = |d: &str| permute(&["layout.ep=8", "training.precision=fp8", d]);
    assert!((fp8("training.moe_dispatcher=all_to_all") - 24.0).abs() < 1e-9);
    assert!((fp8("training.moe_dispatcher=deepep") - 16.0).abs() < 1e-9);
    assert!((fp8("training.moe_dispatcher=hybridep") - 8.0).abs() < 1e-9);
}

/// The forward FLOPs of layer `i`'s GEMM list on one GPU of `sc`'s own layout, with
/// the list's names in order.
fn gemm_list(sc: &Scenario, i: u32) -> (f64, Vec<&'static str>) {
    let mut adj = Adjustments::default();
    let rl = resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
    let ctx = LayerCtx {
        model: &sc.model,
        layout: &rl,
        training: &sc.training,
    };
    let list = layer_gemms(&ctx, i);
    (
        list.iter().map(|g| g.flops()).sum(),
        list.iter().map(|g| g.name).collect(),
    )
}

#[test]
fn the_gemm_list_does_the_layers_matmul_flops() {
    // Seed (models/gpt4-moe-1.8t.yaml): h 10752, 96 heads of 112 (MHA), 16 experts of
    // FFN 43008 (not gated), top-2. Per token: attention 4 h^2 = 462,422,016, router
    // 16 h = 172,032, two experts 2 x 2 x h x 43008 = 1,849,688,064; 2,312,282,112 in
    // all (x 120 layers = 277.5B, the rumour's "2 x 111B + 55B"). Layout tp 8, ep 16
    // (one expert per GPU, receiving its ep group's share), 8,192 tokens per micro-batch:
    // 2 x 8192 x 2,312,282,112 / 8 FLOPs on each GPU (the router runs on the
    // sequence-parallel shard, 1/8 of the tokens, unsplit).
    let seed = load("gpt4-moe-a100", &[]);
    let (flops, names) = gemm_list(&seed, 0);
    assert_eq!(flops, 2.0 * 8192.0 * 2_312_282_112.0 / 8.0);
    assert_eq!(names, ["qkv", "proj", "router", "expert_fc1", "expert_fc2"]);
    // DeepSeek-V3 (HF config.json), tp 1, ep 64, 4,096 tokens. MLA: q_down 7168 x 1536
    // = 11,010,048, kv_down 7168 x 576 = 4,128,768, q_up 1536 x 128 x 192 = 37,748,736,
    // kv_up 512 x 128 x 256 = 16,777,216, proj 128 x 128 x 7168 = 117,440,512:
    // 187,105,280. Dense MLP (SwiGLU) 3 x 7168 x 18432 = 396,361,728; MoE layer: router
    // 7168 x 256 = 1,835,008, eight routed experts 8 x 3 x 7168 x 2048 = 352,321,536,
    // one shared 44,040,192. (3 dense + 58 MoE layers + head and embedding: 37.55B
    // per token, the report's "37B activated".)
    let ds = load("deepseek-v3-h800", &[]);
    let (dense, names) = gemm_list(&ds, 0);
    assert_eq!(dense, 2.0 * 4096.0 * (187_105_280.0 + 396_361_728.0));
    assert_eq!(
        names,
        ["q_down", "kv_down", "q_up", "kv_up", "proj", "fc1", "fc2"]
    );
    let (moe, names) = gemm_list(&ds, 3);
    assert_eq!(
        moe,
        2.0 * 4096.0 * (187_105_280.0 + 1_835_008.0 + 352_321_536.0 + 44_040_192.0)
    );
    assert_eq!(
        names[5..],
        [
            "router",
            "expert_fc1",
            "expert_fc2",
            "shared_fc1",
            "shared_fc2"
        ]
    );
}

/// A kernel model that writes down every forward GEMM it is asked to price.
#[derive(Default)]
struct Recorder(std::cell::RefCell<Vec<(f64, f64, f64)>>);

impl KernelModel for Recorder {
    fn gemm_s(&self, m: f64, n: f64, k: f64, _: Dtype) -> f64 {
        self.0.borrow_mut().push((m, n, k));
        1e-6 * (m * n * k).cbrt()
    }
    fn gemm_bwd_s(&self, m: f64, n: f64, k: f64, _: Dtype) -> f64 {
        2e-6 * (m * n * k).cbrt()
    }
    fn gemm_wgrad_s(&self, m: f64, n: f64, k: f64, _: Dtype) -> f64 {
        1e-6 * (m * n * k).cbrt()
    }
    fn matmul_flops_s(&self, _: f64, _: Dtype) -> f64 {
        1e-6
    }
    fn attention_s(&self, _: &AttnShape) -> (f64, f64) {
        (1e-6, 2.5e-6)
    }
    fn memory_s(&self, _: f64) -> f64 {
        0.0
    }
}

#[test]
fn layer_cost_prices_exactly_the_gemm_list() {
    // The recording model's forward GEMMs, in the order layer_cost asks for them, are
    // the list's; and the per-GEMM times it hands out add up to the layer's GEMM time
    // (memory kernels, casts and attention are priced apart: memory 0 here, attention 1
    // microsecond).
    for (name, layers) in [("gpt4-moe-a100", &[0][..]), ("deepseek-v3-h800", &[0, 3])] {
        let sc = load(name, &["training.flash_attention=true"]);
        let mut adj = Adjustments::default();
        let rl = resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
        let ctx = LayerCtx {
            model: &sc.model,
            layout: &rl,
            training: &sc.training,
        };
        for &i in layers {
            let rec = Recorder::default();
            let cost = layer_cost(&ctx, i, &rec, &Comm::new(&sc.cluster));
            let list: Vec<_> = layer_gemms(&ctx, i)
                .iter()
                .map(|g| (g.m, g.n, g.k))
                .collect();
            assert_eq!(*rec.0.borrow(), list, "{name} layer {i}");
            let priced = layer_gemm_times(&ctx, i, &rec);
            let fwd: f64 = priced.iter().map(|p| p.time.fwd_s).sum();
            let wgrad: f64 = priced.iter().map(|p| p.time.wgrad_s).sum();
            assert!((cost.fwd_compute_s - cost.attn_fwd_s - fwd).abs() < 1e-12 * fwd);
            assert!((cost.wgrad_s - wgrad).abs() < 1e-12 * wgrad);
        }
    }
}

/// Attention time proportional to the FLOPs the flash kernel computes, 1 ns per GFLOP.
struct KernelFlops;

impl KernelModel for KernelFlops {
    fn gemm_s(&self, _: f64, _: f64, _: f64, _: Dtype) -> f64 {
        0.0
    }
    fn matmul_flops_s(&self, _: f64, _: Dtype) -> f64 {
        0.0
    }
    fn attention_s(&self, shape: &AttnShape) -> (f64, f64) {
        let f = shape.kernel_flops() * 1e-18;
        (f, 2.5 * f)
    }
    fn memory_s(&self, _: f64) -> f64 {
        0.0
    }
}

#[test]
fn sliding_window_layers_compute_their_band() {
    // gpt-oss: a 128-token window on every other layer from layer 0 (config.json
    // sliding_window 128, layer_types). Hand counts at 4,096 tokens:
    // - keys a query attends to: the exact sum of min(i + 1, 128) over 4,096 queries is
    //   128 x 129 / 2 + 3,968 x 128 = 516,160, i.e. 126.02 per query; the continuum
    //   form 128 - 128^2 / 8,192 = 126.0 (Megatron-Bridge's calculate_swa_context:
    //   128 - 128 x 127 / 8,192 = 126.02). Full causal: 2,048.
    // - keys the tiled kernel computes: 128-row query tiles touch 128 + 127 key
    //   positions, whole 128-column tiles; the band of 128 + 64 with the diagonal's half
    //   tile taken out: 192 - 192^2 / 8,192 = 187.5.
    let full = AttnShape {
        b: 1.0,
        heads: 64.0,
        s_q: 4096.0,
        s_kv: 4096.0,
        d_qk: 64.0,
        d_v: 64.0,
        window: f64::INFINITY,
    };
    let band = AttnShape {
        window: 128.0,
        ..full
    };
    assert_eq!(full.keys_per_query(), 2048.0);
    assert!((band.keys_per_query() - 126.0).abs() < 1e-9);
    assert!((band.kernel_keys_per_query() - 187.5).abs() < 1e-9);
    assert_eq!(
        (band.longest_tile_keys(), full.longest_tile_keys()),
        (256.0, 4096.0)
    );
    // A window as long as the sequence is full causal attention.
    let whole = AttnShape {
        window: 4096.0,
        ..full
    };
    assert_eq!(whole.kernel_flops(), full.kernel_flops());
    // Over windows from 1 token to past the sequence: never more keys than causal
    // attention, the kernel never below the band it computes, both growing with w.
    let mut last = (0.0, 0.0);
    for w in [1.0, 64.0, 128.0, 1000.0, 3000.0, 4095.0, 4096.0, 1e6] {
        let s = AttnShape { window: w, ..full };
        let (keys, kernel) = (s.keys_per_query(), s.kernel_keys_per_query());
        assert!(
            keys <= 2048.0 && kernel <= 2048.0 && kernel >= keys,
            "w {w}"
        );
        assert!(keys >= last.0 && kernel >= last.1, "w {w}");
        last = (keys, kernel);
    }

    // The layer: every gpt-oss layer is MoE, half of them windowed, so its attention is
    // (1 + 187.5 / 2,048) / 2 = 0.5458 of the same model's without windows.
    let sets = [
        "model=gpt-oss-120b",
        "gpus=64",
        "layout.tp=1",
        "layout.pp=4",
        "layout.ep=8",
        "layout.dp=16",
        "training.seq_len=4096",
        "training.flash_attention=true",
    ];
    // Layer 0's attention with the model's windows over the same without them.
    let windowed_over_full = |sets: &[&str]| {
        let sc = load("gpt4-moe-h100", sets);
        let mut dense = sc.clone();
        dense.model.sliding_window = None;
        first_layer(&sc, &KernelFlops).attn_fwd_s / first_layer(&dense, &KernelFlops).attn_fwd_s
    };
    let expected = 0.5 * (1.0 + 187.5 / 2048.0);
    assert!((windowed_over_full(&sets) - expected).abs() < 1e-9);
    // Ring attention (cp 2) computes every K/V block it receives: no saving priced.
    let mut cp = sets.to_vec();
    cp.extend(["layout.cp=2", "layout.dp=8"]);
    assert_eq!(windowed_over_full(&cp), 1.0);
    // The estimate says how the windows were priced.
    let note = |sets: &[&str]| {
        let e = estimate(&load("gpt4-moe-h100", sets), &EstimateOptions::default()).unwrap();
        e.warnings.into_iter().find(|w| w.contains("-token window"))
    };
    let n = note(&sets).unwrap();
    assert!(
        n.starts_with("18 of 36 layers attend through a 128-token window"),
        "{n}"
    );
    assert!(n.contains("188 keys per query against 2048"), "{n}");
    assert!(note(&cp)
        .unwrap()
        .contains("priced as full causal attention"));
}

#[test]
fn the_loss_is_named_in_the_breakdown() {
    // NeMo 24.07's GPT3-5B row: one stage, 8 micro-batches of 4 x 2048 tokens over the
    // whole 50,257-token vocabulary (tp 1), its config leaving the loss unfused: 38 B
    // forward + 14 B backward per logit (src/analytic/head.rs) on every micro-batch.
    let rows = llmplan::validate::builtin_rows().unwrap();
    let row = rows.iter().find(|r| r.id() == "NEMO2407-01").unwrap();
    let sc = llmplan::validate::rows::build(row).unwrap().scenario;
    assert!(!sc.training.fused_cross_entropy);
    let k = kernel_model_for(&sc);
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    let logits = 4.0 * 2048.0 * 50257.0;
    let want = 8.0 * (k.memory_s(38.0 * logits) + k.memory_s(14.0 * logits));
    assert!(
        (e.time.breakdown.loss_s / want - 1.0).abs() < 1e-9,
        "{} vs {want}",
        e.time.breakdown.loss_s
    );
    let text = llmplan::report::estimate_table(&e).replace(['│', '┆', '\n'], " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // Compute's parts follow one "of compute:" lead, comma-separated, up to the next ';'.
    let parts = text.split("of compute: ").nth(1).unwrap_or_default();
    let parts = parts.split(';').next().unwrap_or_default();
    assert!(parts.split(", ").any(|p| p.starts_with("loss ")), "{text}");
}

#[test]
fn the_embedding_gradient_is_dense() {
    // PyTorch's embedding backward zero-fills a gradient the size of the vocabulary
    // shard (aten embedding_backward_cuda_kernel: at::zeros({num_weights, ...})) and
    // Megatron's DDP hook adds it into the FP32 main gradient
    // (param.main_grad.add_(param.grad.data)): 2 + 2 + 4 + 4 = 12 bytes per weight of
    // the first stage's table each micro-batch, however few tokens the batch holds.
    // Under ZeRO-1 (the scenario's ZeRO-2 reduces the table's gradient every
    // micro-batch as well).
    let sc = load("llama3-405b-h100", &["layout.zero=1"]);
    assert_eq!(sc.training.grad_bytes_per_param, 4.0);
    let k = kernel_model_for(&sc);
    let mut wider = sc.clone();
    wider.model.vocab *= 2;
    let opts = EstimateOptions::default();
    let (a, b) = (
        estimate(&sc, &opts).unwrap(),
        estimate(&wider, &opts).unwrap(),
    );
    // Llama 3.1 405B: vocabulary 128,256, hidden 16,384, tp 8; stage 0 of 16 holds the
    // table and no output layer, so the vocabulary moves nothing else there.
    let shard = 128_256.0 * 16_384.0 / 8.0;
    let grew = b.stages[0].bwd_s - a.stages[0].bwd_s;
    let expect = k.memory_s(12.0 * 2.0 * shard) - k.memory_s(12.0 * shard);
    assert!((grew / expect - 1.0).abs() < 1e-9, "{grew} vs {expect}");
    assert_eq!(b.stages[0].fwd_s, a.stages[0].fwd_s);
}

/// An expert all-to-all hidden under compute (`overlap.ep_comm`) still holds SMs while
/// it runs, and the compute beside it slows by their share of the GPU's 132: NCCL's
/// channels for Megatron-Core's all-to-all dispatcher (2 per member inside a node: 16
/// for ep 8 on one DGX H100, `Comm::collective_ctas`), DeepEP's 20 (`DEEPEP_SMS`, its
/// `Buffer.num_sms` default). The seed's H100 plan at tp 1, ep 8 (one node, so both
/// dispatchers route alike) hides every all-to-all under its layers: the breakdown's
/// all-to-all is then exactly 16/132 and 20/132 of what it is without the overlap.
#[test]
fn a_hidden_all_to_all_slows_compute_by_its_sms() {
    let ep = |extra: &[&str]| {
        let mut sets = vec![
            "layout.tp=1",
            "layout.ep=8",
            "layout.sequence_parallel=false",
        ];
        sets.extend_from_slice(extra);
        let sc = load("gpt4-moe-h100", &sets);
        estimate(&sc, &EstimateOptions::default())
            .unwrap()
            .time
            .breakdown
            .ep_comm_s
    };
    let exposed = ep(&["layout.overlap.ep_comm=false"]);
    let nccl = ep(&["layout.overlap.ep_comm=true"]);
    let deepep = ep(&[
        "layout.overlap.ep_comm=true",
        "training.moe_dispatcher=deepep",
    ]);
    assert!(exposed > 0.0);
    assert!(
        (nccl / exposed - 16.0 / 132.0).abs() < 1e-9,
        "{nccl} of {exposed}"
    );
    assert!(
        (deepep / exposed - 20.0 / 132.0).abs() < 1e-9,
        "{deepep} of {exposed}"
    );
}
