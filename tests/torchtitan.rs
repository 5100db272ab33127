//! How torchtitan runs a Llama block, checked against hand counts: eager-mode
//! memory-bound ops (src/analytic/elementwise.rs) and the op-level selective
//! checkpointing policy (src/analytic/layer/op_policy.rs).

use llmplan::analytic::comm::Comm;
use llmplan::analytic::compute::{AttnShape, KernelModel};
use llmplan::analytic::layer::{layer_cost, LayerCost, LayerCtx};
use llmplan::spec::gpu::Dtype;
use llmplan::spec::layout::{resolve, Adjustments};
use llmplan::spec::scenario::{self, Scenario};
use llmplan::spec::training::{Elementwise, Recompute, RecomputeModule};

/// A byte costs 1 ps and a FLOP 2 fs (so a GEMM takes 4e-15 m n k seconds, on the
/// scale of the memory terms so that differences keep their precision); attention is
/// free, so that every term below can be written out by hand.
struct ByHand;

impl KernelModel for ByHand {
    fn gemm_s(&self, m: f64, n: f64, k: f64, _: Dtype) -> f64 {
        4e-15 * m * n * k
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

/// The Llama 3 405B scenario (tp 8 with sequence parallelism, 8192-token micro-batch,
/// no recompute): h 16384, 128 query and 8 KV heads of 128, FFN 53248.
fn llama405() -> Scenario {
    scenario::load(Some("llama3-405b-h100"), &[]).unwrap()
}

fn first_layer(sc: &Scenario) -> LayerCost {
    let mut adj = Adjustments::default();
    let rl = resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
    let ctx = LayerCtx {
        model: &sc.model,
        layout: &rl,
        training: &sc.training,
    };
    layer_cost(&ctx, 0, &ByHand, &Comm::new(&sc.cluster))
}

/// The scenario `validate` builds for the published row `id`, its documented
/// assumptions applied.
fn row_scenario(id: &str) -> Scenario {
    use llmplan::validate::rows::build;
    use llmplan::validate::{apply_documented, builtin_rows};
    let row = builtin_rows()
        .unwrap()
        .into_iter()
        .find(|r| r.id() == id)
        .unwrap();
    build(&apply_documented(&row).0).unwrap().scenario
}

/// `other` moves `fwd_bytes` more than `base` in forward and twice that in backward
/// (the memory-bound ops' backward moves twice their forward's bytes), at [`ByHand`]'s
/// 1 ps a byte.
fn assert_moves_more(base: &LayerCost, other: &LayerCost, fwd_bytes: f64) {
    let d_fwd = other.fwd_compute_s - base.fwd_compute_s;
    let d_bwd = other.bwd_compute_s - base.bwd_compute_s;
    assert!((d_fwd / (fwd_bytes * 1e-12) - 1.0).abs() < 1e-9, "{d_fwd}");
    assert!(
        (d_bwd / (2.0 * fwd_bytes * 1e-12) - 1.0).abs() < 1e-9,
        "{d_bwd}"
    );
}

#[test]
fn eager_ops_move_the_bytes_counted_op_by_op() {
    let mut sc = llama405();
    assert_eq!(sc.training.recompute, Recompute::None);
    let fused = first_layer(&sc);
    sc.training.elementwise = Elementwise::Eager;
    let eager = first_layer(&sc);
    // Per micro-batch: t = 8192 tokens, 1024 of them in a sequence-parallel hidden tensor.
    let (t, th, h, f, tp) = (8192.0, 1024.0, 16384.0, 53248.0, 8.0);
    let (q, kv) = (128.0 * 128.0, 8.0 * 128.0);
    let extra_fwd = 2.0 * (36.0 - 4.0) * h * th // two RMSNorms, 36 bytes against 4
        + (10.0 - 6.0) * f * t / tp // SwiGLU apart: 10 against 6
        + (20.0 - 4.0) * (q + kv) * t / tp // rotary embedding through complex FP32
        + 4.0 * q * t / tp // the attention output made contiguous
        + 2.0 * 2.0 * (kv + q) * t / tp; // repeat_kv: read KV heads, write query heads, K and V
    assert_eq!(extra_fwd, 1_715_470_336.0);
    assert_moves_more(&fused, &eager, extra_fwd);
    // Kept for backward: FP32 norm inputs and the normalised tensors (8 bytes per hidden
    // element over both norms), one more FFN-wide tensor, the attention output twice.
    let extra_kept = 8.0 * h * th + 2.0 * f * t / tp + 2.0 * q * t / tp;
    assert_eq!(extra_kept, 276_824_064.0);
    assert!((eager.stored_bytes - fused.stored_bytes - extra_kept).abs() < 1.0);
    // torchtitan's fused_rmsnorm: the norms' bytes and storage are the fused ones.
    sc.training.elementwise = Elementwise::EagerFusedNorm;
    let fused_norm = first_layer(&sc);
    let norms = 2.0 * (36.0 - 4.0) * h * th;
    let d = fused_norm.fwd_compute_s - fused.fwd_compute_s;
    assert!((d / ((extra_fwd - norms) * 1e-12) - 1.0).abs() < 1e-9);
    assert!(
        (fused_norm.stored_bytes - fused.stored_bytes - (extra_kept - 8.0 * h * th)).abs() < 1.0
    );
}

#[test]
fn compiled_blocks_keep_the_copies_for_sdpa_and_the_matmul() {
    // torch.compile fuses the norms, rotary embedding and SwiGLU, but SDPA and `wo`'s
    // matmul are extern kernels reading materialized inputs: repeat_kv's widened keys
    // and values and the contiguous attention output stay (torchtitan
    // models/llama/model.py @9dec370).
    let mut sc = llama405();
    let fused = first_layer(&sc);
    sc.training.elementwise = Elementwise::Compiled;
    let compiled = first_layer(&sc);
    let (t, tp) = (8192.0, 8.0);
    let (q, kv) = (128.0 * 128.0, 8.0 * 128.0);
    let copies = 4.0 * q * t / tp + 2.0 * 2.0 * (kv + q) * t / tp;
    assert_eq!(copies, 138_412_032.0);
    assert_moves_more(&fused, &compiled, copies);
    assert_eq!(compiled.stored_bytes, fused.stored_bytes);
}

#[test]
fn torchtitan_compile_rows_run_compiled_blocks_and_their_loss_as_it_ran() {
    // The H100 rows' torchtitan (train.py @9dec370) comments the loss's compilation out;
    // the H200 rows' (components/loss.py @e7c0cae) compiles it with the model.
    use llmplan::analytic::head::ce_bytes;
    for (id, compiled_loss) in [
        ("TT-H100-L31-8B-compile-8", false),
        ("TT-H100-L31-8B-fp8-128", false),
        ("TT-H200-L31-8B-fp8-32", true),
    ] {
        let sc = row_scenario(id);
        assert_eq!(sc.training.elementwise, Elementwise::Compiled, "{id}");
        assert_eq!(sc.training.fused_cross_entropy, compiled_loss, "{id}");
        // PyTorch's eager loss: 22 bytes per logit forward, 26 backward (module docs of
        // analytic::elementwise); compiled: 22 and 6.
        let expect = if compiled_loss {
            (22.0, 6.0)
        } else {
            (22.0, 26.0)
        };
        assert_eq!(ce_bytes(&sc.training), expect, "{id}");
    }
    assert_eq!(
        row_scenario("TT-H100-L31-8B-bf16-8").training.elementwise,
        Elementwise::Eager
    );
}

#[test]
fn op_policy_redoes_every_second_matmul() {
    let mut sc = llama405();
    sc.training.elementwise = Elementwise::Eager;
    let none = first_layer(&sc);
    sc.training.recompute = Recompute::Selective;
    sc.training.recompute_modules = vec![RecomputeModule::AlternateMatmuls];
    let op = first_layer(&sc);
    let (t, th, h, f, tp) = (8192.0, 1024.0, 16384.0, 53248.0, 8.0);
    let (q, kv) = (128.0 * 128.0, 8.0 * 128.0);
    // The block's matmuls in order: wq wk wv wo w1 w3 w2; wk, wo and w3 are redone.
    let gemm = |m: f64, n: f64, k: f64| 4e-15 * m * n * k;
    let redone = gemm(t, kv / tp, h) + gemm(t, h, q / tp) + gemm(t, f / tp, h);
    // Plus the forward of every memory-bound op: the layer's forward less its GEMMs
    // (fused QKV, projection, fused fc1, fc2; attention is free here).
    let gemms_fwd = gemm(t, (q + 2.0 * kv) / tp, h)
        + gemm(t, h, q / tp)
        + gemm(t, 2.0 * f / tp, h)
        + gemm(t, h, f / tp);
    let memory_fwd = none.fwd_compute_s - gemms_fwd;
    assert!(memory_fwd > 0.0);
    assert!(
        (op.recompute_s / (redone + memory_fwd) - 1.0).abs() < 1e-9,
        "{} vs {}",
        op.recompute_s,
        redone + memory_fwd
    );
    // Kept: the block input (sequence-parallel), attention's output and FP32
    // log-sum-exp, and the outputs of wq, wv, w1 and w2.
    let kept = 2.0 * h * th
        + (2.0 * 128.0 + 4.0) * t * 128.0 / tp
        + 2.0 * t * (q / tp + kv / tp + f / tp + h);
    assert!(
        (op.stored_bytes / kept - 1.0).abs() < 1e-12,
        "{}",
        op.stored_bytes
    );
    assert!(op.stored_bytes < none.stored_bytes);
}

#[test]
fn fsdp2_copies_each_gathered_block_out_on_the_compute_stream() {
    // PyTorch FSDP2's wait_for_unshard copies the all-gather buffer into the parameters
    // (foreach_all_gather_copy_out) on the compute stream: with ZeRO-3 and one
    // micro-batch, a gather before the forward and one before the backward, each
    // reading and writing every BF16 weight of the stage (2 + 2 bytes).
    use llmplan::analytic::estimate::{evaluate, EstimateOptions};
    use llmplan::analytic::setup::Setup;
    let mut sc = row_scenario("TT-A100-L2-13B-none");
    assert!(sc.training.unshard_copy, "the torchtitan recipe sets it");
    let k = llmplan::calibrate::kernel_model_for(&sc);
    let run = |sc: &Scenario| {
        let setup = Setup::resolve(sc, &k).unwrap();
        evaluate(&setup, &EstimateOptions::default()).unwrap()
    };
    let with = run(&sc);
    sc.training.unshard_copy = false;
    let without = run(&sc);
    // tp 1, pp 1: the one stage holds every parameter but the final norm's 5,120
    // weights, which the stages do not count.
    let copy = k.memory_s(4.0 * (with.model.params_total - 5120.0));
    let (f, b) = (
        with.stages[0].fwd_s - without.stages[0].fwd_s,
        with.stages[0].bwd_s - without.stages[0].bwd_s,
    );
    assert!((f / copy - 1.0).abs() < 1e-9, "{f} vs {copy}");
    assert!((b / copy - 1.0).abs() < 1e-9, "{b} vs {copy}");
}

#[test]
fn torchtitan_on_hopper_prices_sdpa_as_flashattention2() {
    // PyTorch's SDPA ran its FlashAttention-2 backend on Hopper through torch 2.10
    // (cuDNN attention opt-in: pytorch/pytorch#138522; on by default only with a runtime
    // cuDNN newer than 9.15.0, first bundled with torch 2.11). torchtitan's H100 runs
    // (torch 2024-12 nightly) and H200 runs (torch 2.8.0a0) therefore ran FA2, which
    // the FlashAttention-3 paper measures at 335 against FA3's 616 TFLOP/s forward.
    use llmplan::analytic::estimate::{evaluate, EstimateOptions};
    use llmplan::analytic::setup::Setup;
    use llmplan::calibrate::model::FLASH2_SLOWDOWN;
    use llmplan::spec::training::AttentionKernel;
    use llmplan::validate::rows::build;
    use llmplan::validate::{apply_documented, builtin_rows};
    let rows: Vec<_> = builtin_rows()
        .unwrap()
        .into_iter()
        .filter(|r| r.id().starts_with("TT-H"))
        .collect();
    assert_eq!(rows.len(), 8, "the H100 and H200 scaling rows");
    for row in &rows {
        let built = build(&apply_documented(row).0).unwrap();
        assert_eq!(
            built.scenario.training.attention_kernel,
            AttentionKernel::Flash2,
            "{}",
            row.id()
        );
    }
    // The step grows by FA2's slowdown on the attention kernels alone.
    let mut sc = build(&apply_documented(&rows[0]).0).unwrap().scenario;
    let k = llmplan::calibrate::kernel_model_for(&sc);
    let run = |sc: &Scenario| {
        let setup = Setup::resolve(sc, &k).unwrap();
        evaluate(&setup, &EstimateOptions::default()).unwrap()
    };
    let fa2 = run(&sc);
    sc.training.attention_kernel = AttentionKernel::Flash3;
    let fa3 = run(&sc);
    // Llama 3.1 8B: 32 layers, 32 query and 8 KV heads of 128, 8192-token sequences,
    // 2 per GPU; torchtitan's op policy saves the attention output (no recompute).
    let shape = AttnShape {
        b: 2.0,
        heads: 32.0,
        s_q: 8192.0,
        s_kv: 8192.0,
        d_qk: 128.0,
        d_v: 128.0,
        window: f64::INFINITY,
    };
    let (f, b) = k.attention_s(&shape);
    let extra = 32.0 * (f * (FLASH2_SLOWDOWN.0 - 1.0) + b * (FLASH2_SLOWDOWN.1 - 1.0));
    let grew = fa2.time.step_s - fa3.time.step_s;
    assert!((grew / extra - 1.0).abs() < 1e-9, "{grew} vs {extra}");
}

#[test]
fn fsdp2_root_unit_gather_and_last_reduction_are_exposed() {
    // torchtitan wraps each block with fully_shard, then the whole model: the root unit
    // holds the embeddings and the output layer. Each micro-batch's forward waits for
    // the root's and block 0's gather (nothing runs before them), and the optimizer for
    // block 0's and the root's FP32 reduce-scatter (nothing runs after them).
    use llmplan::analytic::estimate::{evaluate, EstimateOptions};
    use llmplan::analytic::setup::Setup;
    let sc = row_scenario("TT-H200-L31-8B-fp8-64");
    let k = llmplan::calibrate::kernel_model_for(&sc);
    let setup = Setup::resolve(&sc, &k).unwrap();
    let e = evaluate(&setup, &EstimateOptions::default()).unwrap();
    assert_eq!((setup.layout.zero, setup.layout.microbatches), (3, 1));
    // Llama 3.1 8B by hand: a block holds q and o (4096 x 4096 each), k and v (4096 x
    // 1024 each), three FFN matrices (4096 x 14336) and two norms (4096); the root
    // holds the embeddings and the output layer (128256 x 4096 each).
    let block = 2.0 * 4096.0 * 4096.0 + 2.0 * 4096.0 * 1024.0 + 3.0 * 4096.0 * 14336.0 + 8192.0;
    let root = 2.0 * 128256.0 * 4096.0;
    assert_eq!((block, root), (218_112_000.0, 1_050_673_152.0));
    let inp = setup.stage_inputs();
    // FP8 all-gather (torchao): the block's weights move at 1 byte, the root's in BF16;
    // gradients reduce in FP32 (torchtitan's mixed_precision_reduce).
    let fill = inp
        .comm
        .all_gather_on(block * 1.0 + root * 2.0, &inp.dp.dense);
    let drain = inp
        .comm
        .reduce_scatter_on((block + root) * 4.0, &inp.dp.dense);
    let edges = e.time.breakdown.zero3_edges_s;
    assert!(
        (edges / (fill + drain) - 1.0).abs() < 1e-9,
        "{edges} vs {fill} + {drain}"
    );
    // 64 H200 over 8 hosts: ~2.3 GB gathered and ~5.1 GB reduced at a ring's pace.
    assert!(edges > 0.015 && edges < 0.03, "{edges}");
}

#[test]
fn torchao_dynamic_scaling_is_current_scaling() {
    // torchao's Float8Linear with tensorwise dynamic scaling takes each tensor's scale
    // from its own amax as it is cast (torchao float8 README: "dynamic" scaling), what
    // Transformer Engine calls current scaling: an amax pass before every cast, and no
    // norm that writes FP8 itself (the Llama block's RMSNorm is not a TE module).
    use llmplan::spec::training::{Fp8Recipe, Precision};
    for id in [
        "TT-H100-L31-8B-fp8-8",
        "TT-H100-L31-8B-fp8-128",
        "TT-H200-L31-8B-fp8-32",
        "TT-H200-L31-8B-fp8-64",
    ] {
        let sc = row_scenario(id);
        assert_eq!(sc.training.precision, Precision::Fp8, "{id}");
        assert_eq!(sc.training.fp8_recipe, Fp8Recipe::Current, "{id}");
    }
}
