//! FP8 as Transformer Engine runs it, each mechanism against a hand calculation:
//! cast-transpose passes per GEMM (fused into the norm where TE fuses them), the
//! output layer and router in BF16, weights cast once per step and cached with their
//! transposes, the global amax reduction, and the cross-entropy's passes.

use llmplan::analytic::comm::Comm;
use llmplan::analytic::compute::{AttnShape, KernelModel};
use llmplan::analytic::fp8::fp8_amax_s;
use llmplan::analytic::head::{
    head_cost, HeadCost, CE_BWD_BYTES, CE_FWD_BYTES, UNFUSED_CE_BWD_BYTES, UNFUSED_CE_FWD_BYTES,
};
use llmplan::analytic::layer::{layer_cost, LayerCost, LayerCtx};
use llmplan::analytic::stage::model_states;
use llmplan::analytic::EstimateOptions;
use llmplan::setup::estimate;
use llmplan::spec::gpu::Dtype;
use llmplan::spec::layout::{resolve, Adjustments, ResolvedLayout};
use llmplan::spec::scenario::{self, Scenario};
use llmplan::spec::training::{Fp8Recipe, Precision};

fn load(name: &str) -> Scenario {
    scenario::load(Some(name), &[]).unwrap()
}

fn resolved(sc: &Scenario) -> ResolvedLayout {
    let mut adj = Adjustments::default();
    resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap()
}

fn first_layer(sc: &Scenario, k: &dyn KernelModel) -> LayerCost {
    let rl = resolved(sc);
    let ctx = LayerCtx {
        model: &sc.model,
        layout: &rl,
        training: &sc.training,
    };
    layer_cost(&ctx, 0, k, &Comm::new(&sc.cluster))
}

/// Memory traffic only, a byte costs 1 ps; GEMMs cost 1 s per FLOP in FP8 and 2 s in
/// BF16 so that a GEMM's precision shows.
struct BytesOnly;

impl KernelModel for BytesOnly {
    fn gemm_s(&self, m: f64, n: f64, k: f64, dt: Dtype) -> f64 {
        2.0 * m * n * k * if dt == Dtype::Fp8 { 1.0 } else { 2.0 }
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

/// Llama 3 405B layer at tp 8 with sequence parallelism: (m, n, k) of QKV, output
/// projection, fc1 (gate and up) and fc2.
fn llama405_gemms() -> [(f64, f64, f64); 4] {
    let (t, h, tp) = (8192.0, 16384.0, 8.0);
    let (q, kv, f) = (128.0 * 128.0, 2.0 * 8.0 * 128.0, 53248.0);
    [
        (t, (q + kv) / tp, h),
        (t, h, q / tp),
        (t, 2.0 * f / tp, h),
        (t, h, f / tp),
    ]
}

#[test]
fn delayed_scaling_casts_as_transformer_engine() {
    // TE's cast-transpose: read 2, write FP8 and its transpose (1 + 1) = 4 B per input
    // element of the output projection and fc2; QKV and fc1 read a norm that writes FP8
    // itself (1 B less than BF16), so only the transpose (read 1, write 1) remains: net
    // 1 B. Backward: each output gradient cast and transposed, 4 B.
    let mut sc = load("llama3-405b-h100");
    sc.training.precision = Precision::Fp8;
    sc.training.fp8_recipe = Fp8Recipe::Delayed;
    let c = first_layer(&sc, &BytesOnly);
    let g = llama405_gemms();
    let fwd = 1.0 * g[0].0 * g[0].2
        + 4.0 * g[1].0 * g[1].2
        + 1.0 * g[2].0 * g[2].2
        + 4.0 * g[3].0 * g[3].2;
    let bwd: f64 = g.iter().map(|&(m, n, _)| 4.0 * m * n).sum();
    let got = c.fp8_cast_s * 1e12;
    assert!(
        (got / (fwd + bwd) - 1.0).abs() < 1e-9,
        "{got} vs {} bytes",
        fwd + bwd
    );
    // Weights: read BF16, write FP8 and its transpose, once per step.
    let w: f64 = g.iter().map(|&(_, n, k)| n * k).sum();
    assert!((c.fp8_weight_cast_s * 1e12 / (4.0 * w) - 1.0).abs() < 1e-9);
}

#[test]
fn current_scaling_adds_an_amax_pass() {
    // FP8-CS: each tensor's amax is read (2 B) before its cast, and the norm no longer
    // writes FP8 itself: 6 B per input and per output-gradient element; plus two
    // latency-bound amax all-reduces over tp in forward and two in backward.
    let mut sc = load("llama3-405b-h100");
    sc.training.precision = Precision::Fp8;
    sc.training.fp8_recipe = Fp8Recipe::Current;
    let c = first_layer(&sc, &BytesOnly);
    let g = llama405_gemms();
    let bytes: f64 = g.iter().map(|&(m, n, k)| 6.0 * m * k + 6.0 * m * n).sum();
    let rl = resolved(&sc);
    let ctx = LayerCtx {
        model: &sc.model,
        layout: &rl,
        training: &sc.training,
    };
    let ar = Comm::new(&sc.cluster).all_reduce_s(4.0, ctx.tp_group());
    let want = bytes * 1e-12 + 4.0 * ar;
    assert!(
        (c.fp8_cast_s / want - 1.0).abs() < 1e-9,
        "{} vs {want}",
        c.fp8_cast_s
    );
}

/// The output layer and loss of `sc` on layout `rl`, bytes priced at 1 TB/s.
fn head_of(sc: &Scenario, rl: &ResolvedLayout) -> HeadCost {
    head_cost(
        &LayerCtx {
            model: &sc.model,
            layout: rl,
            training: &sc.training,
        },
        &BytesOnly,
    )
}

#[test]
fn output_layer_stays_bf16_under_fp8() {
    // Megatron-Core's output layer is outside Transformer Engine; DeepSeek-V3 keeps the
    // head in BF16: the same GEMM time under FP8 as under BF16.
    let mut sc = load("llama3-405b-h100");
    let rl = resolved(&sc);
    let ctx = |sc: &Scenario| head_of(sc, &rl);
    let bf16 = ctx(&sc);
    sc.training.precision = Precision::Fp8;
    let fp8 = ctx(&sc);
    assert_eq!(bf16, fp8);
    // t x V/tp logits: 8192 x 128256/8; 22 B forward and 6 B backward per logit.
    let logits = 8192.0 * 128256.0 / 8.0;
    assert!((fp8.ce_fwd_s * 1e12 / (logits * 22.0) - 1.0).abs() < 1e-9);
    assert!((fp8.ce_bwd_s * 1e12 / (logits * 6.0) - 1.0).abs() < 1e-9);
    assert_eq!(
        (CE_FWD_BYTES, CE_BWD_BYTES),
        (2.0 + 4.0 + 4.0 + 4.0 + 4.0 + 4.0, 4.0 + 2.0)
    );
}

#[test]
fn unfused_cross_entropy_moves_megatrons_passes() {
    // Megatron-Core's unfused vocab_parallel_cross_entropy (its default, so NeMo 1's
    // where a model's config leaves it; 2021 Megatron-LM's only loss), pass by pass
    // (megatron/core/tensor_parallel/cross_entropy.py @core_r0.8.0): forward FP32 copy
    // r2 w4, max r4, subtract r4 w4, exp r4 w4, sum r4, divide r4 w4 = 38 B per logit;
    // backward scale r4 w4 and the cast to BF16 r4 w2 = 14 B, against the fused
    // kernel's 22 and 6.
    assert_eq!((UNFUSED_CE_FWD_BYTES, UNFUSED_CE_BWD_BYTES), (38.0, 14.0));
    let mut sc = load("llama3-405b-h100");
    let rl = resolved(&sc);
    let cost = |sc: &Scenario| head_of(sc, &rl);
    let fused = cost(&sc);
    sc.training.fused_cross_entropy = false;
    let unfused = cost(&sc);
    let logits = 8192.0 * 128256.0 / 8.0;
    assert!((unfused.ce_fwd_s * 1e12 / (logits * 38.0) - 1.0).abs() < 1e-9);
    assert!((unfused.ce_bwd_s * 1e12 / (logits * 14.0) - 1.0).abs() < 1e-9);
    // The output layer's GEMM is the same either way.
    assert_eq!(fused.gemm_s, unfused.gemm_s);
}

#[test]
fn router_stays_bf16() {
    // DeepSeek-V3 layer 3 (MoE): the router GEMM (T x 256 x 7168) is timed in BF16.
    let mut sc = load("deepseek-v3-h800");
    sc.training.precision = Precision::Fp8;
    let rl = resolved(&sc);
    let ctx = LayerCtx {
        model: &sc.model,
        layout: &rl,
        training: &sc.training,
    };
    struct RouterOnly;
    impl KernelModel for RouterOnly {
        fn gemm_s(&self, _: f64, n: f64, _: f64, dt: Dtype) -> f64 {
            // Only the router has 256 output columns.
            if n == 256.0 && dt == Dtype::Bf16 {
                1.0
            } else {
                0.0
            }
        }
        fn matmul_flops_s(&self, _: f64, _: Dtype) -> f64 {
            0.0
        }
        fn attention_s(&self, _: &AttnShape) -> (f64, f64) {
            (0.0, 0.0)
        }
        fn memory_s(&self, _: f64) -> f64 {
            0.0
        }
    }
    let c = layer_cost(&ctx, 3, &RouterOnly, &Comm::new(&sc.cluster));
    assert_eq!(c.fwd_compute_s, 1.0);
}

#[test]
fn fp8_weight_cache_memory() {
    // BF16 weights (2 B) plus TE's FP8 copy and its transpose (1 + 1 B) under delayed
    // scaling; DeepSeek-V3's 128x128 blocks serve both orientations (1 B); MXFP8 keeps
    // row- and column-wise copies with a scale per 32 (2 x (1 + 1/32)).
    let mut sc = load("llama3-405b-h100");
    let rl = resolved(&sc);
    let bytes = |sc: &Scenario| model_states(&rl, &sc.training, 1.0e9, 0.0).0 / 1.0e9;
    assert_eq!(bytes(&sc), 2.0);
    sc.training.precision = Precision::Fp8;
    assert_eq!(bytes(&sc), 4.0);
    sc.training.fp8_recipe = Fp8Recipe::Blockwise;
    assert_eq!(bytes(&sc), 3.0);
    sc.training.precision = Precision::Mxfp8;
    assert_eq!(bytes(&sc), 4.0625);
    // NVFP4: row- and column-wise copies of 0.5 B with an E4M3 scale per 16.
    sc.training.precision = Precision::Nvfp4;
    assert_eq!(bytes(&sc), 3.125);
}

#[test]
fn delayed_scaling_reduces_amaxes_per_micro_batch() {
    // One all-reduce of the stage's amaxes over its tp x cp x dp ranks per forward and
    // per backward under delayed scaling; none under MXFP8 (local block scales).
    let mut sc = load("llama3-405b-h100");
    sc.training.precision = Precision::Fp8;
    let rl = resolved(&sc);
    let comm = Comm::new(&sc.cluster);
    let amax = |sc: &Scenario| {
        fp8_amax_s(
            &LayerCtx {
                model: &sc.model,
                layout: &rl,
                training: &sc.training,
            },
            &comm,
            8.0,
        )
    };
    assert!(amax(&sc) > 0.0);
    sc.training.precision = Precision::Mxfp8;
    assert_eq!(amax(&sc), 0.0);
}

#[test]
fn breakdown_names_fp8_casts() {
    let mut sc = load("llama3-405b-h100");
    sc.training.precision = Precision::Fp8;
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    let b = &e.time.breakdown;
    assert!(b.fp8_cast_s > 0.0 && b.fp8_cast_s < b.compute_s);
    let csv = llmplan::report::estimate_csv(&e);
    assert!(csv.contains("fp8_cast_s"), "{csv}");
    // The table names it too (unwrapped, whatever the column width).
    let text = llmplan::report::estimate_table(&e).replace(['│', '┆', '\n'], " ");
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(words.windows(2).any(|w| w == ["FP8", "casts"]), "{text}");
    sc.training.precision = Precision::Bf16;
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    assert_eq!(e.time.breakdown.fp8_cast_s, 0.0);
}

#[test]
fn fp8_parameters_replace_the_bf16_weights() {
    // Megatron-Core's --fp8-param-gather (Megatron-Bridge's FP8 and MXFP8 precision
    // configs set it): the FP8 weight and its transpose are the weights, no BF16 copy;
    // the parameter all-gather moves the FP8 weight.
    use llmplan::analytic::fp8::{gather_bytes, weight_bytes};
    let mut tr = load("llama3-405b-h100").training;
    tr.precision = Precision::Fp8;
    tr.fp8_recipe = Fp8Recipe::Current;
    // BF16 2 + FP8 copy 1 + transpose 1, gathered in BF16.
    assert_eq!((weight_bytes(&tr), gather_bytes(&tr)), (4.0, 2.0));
    tr.fp8_param_gather = true;
    assert_eq!((weight_bytes(&tr), gather_bytes(&tr)), (2.0, 1.0));
    // MXFP8: 1 byte and a 1-byte scale per 32 elements, row- and column-wise.
    tr.precision = Precision::Mxfp8;
    assert_eq!((weight_bytes(&tr), gather_bytes(&tr)), (2.0625, 1.03125));
    // Under BF16 there is nothing to quantize: the flag changes nothing.
    tr.precision = Precision::Bf16;
    assert_eq!((weight_bytes(&tr), gather_bytes(&tr)), (2.0, 2.0));
}

#[test]
fn nvfp4_layers_kept_in_bf16_follow_the_scenario() {
    // NVIDIA's NVFP4 recipe keeps 10 of 62 blocks in BF16 (its pre-training paper); the
    // MLPerf Training v5.1 NVFP4 configs keep none (first_last_layers_bf16 off), which
    // `training.fp4_bf16_layer_share: 0` says. The share sets both the BF16 part of the
    // weights held and the bytes each activation operand is cast to.
    use llmplan::analytic::fp8::weight_bytes;
    let mut tr = load("llama3-405b-h100").training;
    tr.precision = Precision::Nvfp4;
    tr.fp8_param_gather = true;
    let paper = 10.0 / 62.0;
    assert_eq!(tr.bf16_layer_share(), paper);
    // Quantized weights: row- and column-wise NVFP4 copies, 2 x (0.5 + 1/16) bytes.
    let q = 2.0 * 0.5625;
    assert!((weight_bytes(&tr) - ((1.0 - paper) * q + paper * 2.0)).abs() < 1e-12);
    tr.fp4_bf16_layer_share = Some(0.0);
    assert_eq!(tr.bf16_layer_share(), 0.0);
    assert!((weight_bytes(&tr) - q).abs() < 1e-12);
    // Only a 4-bit recipe reads it.
    tr.precision = Precision::Fp8;
    assert_eq!(tr.bf16_layer_share(), 0.0);
    tr.fp4_bf16_layer_share = Some(1.5);
    assert!(tr.validate().is_err());
}
