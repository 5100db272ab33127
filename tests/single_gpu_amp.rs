//! One whole training step on one GPU in plain PyTorch (FP32 parameters, BF16
//! autocast, fused AdamW, a GPT of 1.3B parameters): each memory term and the optimizer
//! time against its source. No GPU was available to this work; every figure below is
//! from the cited documentation, code or measurement.

use llmplan::analytic::estimate::{evaluate, Estimate, EstimateOptions};
use llmplan::analytic::setup::Setup;
use llmplan::analytic::stage::CUDA_CONTEXT_BYTES;
use llmplan::spec::scenario::{load, Scenario};

const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/scenarios/single-gpu-amp-gpt-1.3b.yaml"
);

fn estimate(sc: &Scenario) -> Estimate {
    let k = llmplan::calibrate::kernel_model_for(sc);
    let setup = Setup::resolve(sc, &k).unwrap();
    evaluate(&setup, &EstimateOptions::default()).unwrap()
}

/// Within 0.01%: the stage counts every parameter but the final norm's 2 x 2048.
fn close(a: f64, b: f64) -> bool {
    (a / b - 1.0).abs() < 1e-4
}

#[test]
fn memory_terms_per_parameter_follow_pytorch_amp() {
    let sc = load(Some(SCENARIO), &[]).unwrap();
    let e = estimate(&sc);
    let n = e.model.params_total;
    // 24 x 12 x 2048^2 + biases and norms + 50257 x 2048 tied + 2048 x 2048 positions:
    // GPT-3 XL's 1.3B (Brown et al. 2020, Table 2.1).
    assert!((1.30e9..1.33e9).contains(&n), "{n}");
    let m = &e.memory.breakdown;
    // The peak is the end of the forward (activations of 4 x 2048 tokens outweigh the
    // gradients the optimizer step would add), on a micro-batch after the first.
    // Weights: the FP32 parameters (4 B, they are the master weights: torch.autocast
    // leaves parameters in FP32, "CUDA Ops that can autocast to float16/bfloat16" cast
    // inputs only) plus autocast's cached BF16 cast of each (2 B: "cache
    // lower_precision_fp casts of fp32 model weights", aten/src/ATen/autocast_mode.cpp),
    // held by autograd until that layer's backward.
    assert!(
        close(m.weights, 6.0 * n),
        "weights {} B/param",
        m.weights / n
    );
    // Gradients: FP32 like their parameters (4 B); they exist in the forward because
    // the 2nd-4th micro-batches accumulate into them (zero_grad(set_to_none=True),
    // the default since PyTorch 2.0, frees them only between steps).
    assert!(
        close(m.gradients, 4.0 * n),
        "grads {} B/param",
        m.gradients / n
    );
    // Optimizer: AdamW's exp_avg and exp_avg_sq, FP32 like the parameters (8 B; the
    // master weight is the parameter itself, not a copy: torch/optim/adamw.py).
    assert!(
        close(m.optimizer, 8.0 * n),
        "optimizer {} B/param",
        m.optimizer / n
    );
    // So 16 B/param of states plus the 2 B/param transient casts, not Megatron's
    // 2 + 4 + 12 = 18 B/param of states.
    assert!(close(m.weights + m.gradients + m.optimizer, 18.0 * n));
    // One process, no communicator: the CUDA context only, and no recomputation, so no
    // fragmentation charged.
    assert_eq!(m.nccl, 0.0);
    assert_eq!(m.context, CUDA_CONTEXT_BYTES);
    assert_eq!(m.fragmentation, 0.0);
}

#[test]
fn optimizer_step_streams_at_the_measured_rate() {
    let sc = load(Some(SCENARIO), &[]).unwrap();
    let e = estimate(&sc);
    let n = e.model.params_total;
    // torch._fused_adamw_ reads parameter, gradient, exp_avg, exp_avg_sq and writes
    // parameter, exp_avg, exp_avg_sq, all FP32: 7 x 4 = 28 B per parameter
    // (aten/src/ATen/native/cuda/fused_adam_utils.cuh), at the ~2.3 TB/s an H100 SXM
    // streams it (measured; llmplan issue 15), 0.687 of the 3.35 TB/s datasheet.
    let expected = 28.0 * n / (0.687 * 3.35e12);
    let got = e.time.breakdown.optimizer_s;
    assert!(close(got, expected), "{got} s vs {expected} s");
    // ~16 ms: 23% longer than the copy rate (3.02 TB/s, membw.csv) would give.
    assert!((0.0155..0.0165).contains(&got), "{got}");
}

#[test]
fn gradient_clipping_adds_its_passes_to_the_optimizer() {
    let sc = load(Some(SCENARIO), &[]).unwrap();
    let base = estimate(&sc).time.breakdown.optimizer_s;
    // PyTorch's clip_grad_norm_: `_foreach_norm` reads the FP32 gradients (4 B), then
    // `_foreach_mul_` by clamp(max_norm / norm, max=1) reads and writes them (8 B)
    // whatever the norm (torch/nn/utils/clip_grad.py); Megatron-Core's
    // clip_grad_norm_fp32 reads them for the norm and scales only when it exceeds the
    // max. One GPU: no all-reduce. Same streaming rate as the AdamW step.
    for (clip, bytes) in [("norm_and_scale", 12.0), ("norm", 4.0)] {
        let sc = load(Some(SCENARIO), &[format!("training.grad_clip={clip}")]).unwrap();
        let e = estimate(&sc);
        let n = e.model.params_total;
        let expected = bytes * n / (0.687 * 3.35e12);
        let d = &e.time.breakdown;
        assert!(
            close(d.grad_clip_s, expected),
            "{clip}: {} vs {expected}",
            d.grad_clip_s
        );
        assert!(close(d.optimizer_s, base + expected), "{clip}");
    }
    // On 8 GPUs with the gradients sharded (ZeRO-1) each clips its eighth, and the
    // norm's scalar all-reduce inside the node costs NVLink latency only: tens of us.
    let sc = load(
        Some(SCENARIO),
        &[
            "training.grad_clip=norm".into(),
            "gpus=8".into(),
            "layout.zero=1".into(),
            "training.global_batch_seqs=128".into(),
        ],
    )
    .unwrap();
    let e = estimate(&sc);
    let pass = 4.0 * e.model.params_total / 8.0 / (0.687 * 3.35e12);
    let norm = e.time.breakdown.grad_clip_s - pass;
    assert!((1e-6..1e-4).contains(&norm), "all-reduce {norm} s");
}

#[test]
fn megatron_recipe_keeps_18_bytes() {
    // The same model under Megatron's recipe: BF16 weights (2), FP32 main gradients (4),
    // FP32 master weights and moments in the optimizer (12).
    let sc = load(
        Some(SCENARIO),
        &["training.mixed_precision=megatron".into()],
    )
    .unwrap();
    let e = estimate(&sc);
    let n = e.model.params_total;
    let m = &e.memory.breakdown;
    assert!(close(m.weights, 2.0 * n));
    assert!(close(m.gradients, 4.0 * n));
    assert!(close(m.optimizer, 12.0 * n));
    // Its optimizer also writes the BF16 copy: 30 B per parameter.
    let expected = 30.0 * n / (0.687 * 3.35e12);
    assert!(close(e.time.breakdown.optimizer_s, expected));
}
