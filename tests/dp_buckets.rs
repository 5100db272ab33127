//! Data-parallel gradient buckets as Megatron-Core forms them (docs/model.md section 5):
//! its default size, a config's own size, and buckets on pipeline stage 0's first model
//! chunk only, every other chunk reducing as one collective after its last backward.

use llmplan::analytic::dp_sync::{bucket_params, buckets, dp_sync, DpSync};
use llmplan::analytic::setup::Setup;
use llmplan::analytic::stage::{stages, StageCost};
use llmplan::calibrate::kernel_model_for;
use llmplan::spec::scenario::{self, Scenario};

fn load(name: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    scenario::load(Some(name), &sets).unwrap()
}

/// Llama 3 405B on 16K H100 (Table 4: tp 8, pp 16, vpp 8, dp 128) with Megatron's
/// distributed optimizer (ZeRO-1) in place of the paper's FSDP, so its gradients reduce
/// once per step after the backward, in buckets.
const ZERO1: &[&str] = &["layout.zero=1"];

/// Each stage's cost and data-parallel sync under `sc`.
fn synced(sc: &Scenario) -> Vec<(StageCost, DpSync)> {
    let k = kernel_model_for(sc);
    let setup = Setup::resolve(sc, &k).unwrap();
    let inp = setup.stage_inputs();
    stages(&inp)
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s, dp_sync(&inp, &s, i == 0)))
        .collect()
}

fn params(s: &StageCost) -> f64 {
    s.dense_params + s.expert_params
}

#[test]
fn megatron_default_bucket_grows_with_the_data_parallel_group() {
    // Megatron-Core DDP: bucket_size = max(40000000, 1000000 * dp_group.size()).
    let k = |sc: &Scenario| {
        let km = kernel_model_for(sc);
        let l = Setup::resolve(sc, &km).unwrap().layout;
        (l.dp, bucket_params(&sc.training, &l))
    };
    // GPT-3 175B on 1,024 A100 at tp 8, pp 16: dp 8, below the floor.
    assert_eq!(k(&load("gpt3-175b-a100", &[])), (8, 40e6));
    // Llama 3 405B at dp 128: 128M parameters.
    assert_eq!(k(&load("llama3-405b-h100", ZERO1)), (128, 128e6));
    // A config's own size wins (MLPerf's Llama 3.1 8B configs: BUCKET_SIZE=768000000).
    let own = load(
        "llama3-405b-h100",
        &["layout.zero=1", "training.dp_bucket_params=768e6"],
    );
    assert_eq!(k(&own), (128, 768e6));
}

#[test]
fn only_the_first_chunk_of_stage_0_reduces_in_buckets() {
    let sc = load("llama3-405b-h100", ZERO1);
    let k = kernel_model_for(&sc);
    let l = Setup::resolve(&sc, &k).unwrap().layout;
    assert_eq!(l.vpp, 8);
    let st = synced(&sc);
    // Stage 0: 7 layers and the embedding on a GPU at tp 8. A layer is 16384 x (16384
    // + 2 x 1024) + 16384^2 attention and 3 x 16384 x 53248 MLP weights = 3.187B, 398M
    // at tp 8; the embedding 128256 x 16384 / 8 = 263M: 3.052B in 8 chunks of 381M,
    // each 3 buckets of at most 128M, so 8 x 3 = 24 (equal chunks, as the model splits
    // them).
    let p0 = params(&st[0].0);
    assert!(
        (p0 / 3.052e9 - 1.0).abs() < 1e-3,
        "{p0:.4e} parameters on stage 0"
    );
    assert_eq!(buckets(p0, &sc.training, &l, true), 24.0);
    // Every later stage: one collective per chunk, whatever its size.
    for (s, _) in &st[1..] {
        assert_eq!(buckets(params(s), &sc.training, &l, false), 8.0);
    }
    // What each leaves after its last backward, alone on its links (no expert
    // all-to-all shares them here): the reduction's overrun of one micro-batch's
    // backward, or its last bucket, whichever is longer.
    for (i, (s, d)) in st.iter().enumerate() {
        assert_eq!(d.contention_s, 0.0);
        let n = if i == 0 { 24.0 } else { 8.0 };
        let by_hand = (d.grad_s - s.pipeline_bwd_s()).max(d.grad_s / n);
        let exposed = d.grad_exposed_s - d.collective_sm_s;
        assert!(
            (exposed - by_hand).abs() < 1e-12,
            "stage {i}: {exposed} vs {by_hand}"
        );
        assert!(d.grad_s > 0.0);
    }
}

#[test]
fn a_larger_bucket_leaves_more_of_the_reduction_after_the_backward() {
    // The rumoured GPT-4 MoE on 8,192 H100 (pp 16, dp 64, ZeRO-1): Megatron's default
    // bucket at dp 64 is max(40M, 64 x 1M) = 64M. Stage 0 holds 1.349B parameters on a
    // GPU (analytic::params's count, whose model totals tests/params.rs checks against
    // the rumoured 1.8T), so ceil(1.349B / 64M) = 22 buckets, and ceil(1.349B / 768M) = 2
    // at 768M. Its gradients take less than one micro-batch's backward to reduce, so
    // what is left after its last backward is the last bucket, g / 22, then g / 2.
    // Stage 0 ends its backward last (the drain ends there), so the step grows by
    // exactly the change in stage 0's exposed sync.
    let base = load("gpt4-moe-h100", &[]);
    let big = load("gpt4-moe-h100", &["training.dp_bucket_params=768e6"]);
    let (s0, d0) = synced(&base)[0];
    let (_, d1) = synced(&big)[0];
    let p0 = params(&s0);
    assert!((p0 / 1.349e9 - 1.0).abs() < 1e-3, "{p0:.4e}");
    let n = ((p0 / 64e6).ceil(), (p0 / 768e6).ceil());
    assert_eq!(n, (22.0, 2.0));
    assert_eq!((d0.buckets, d1.buckets), n);
    assert!(d0.grad_s < s0.pipeline_bwd_s());
    for (d, n) in [(d0, n.0), (d1, n.1)] {
        let alone = d.grad_exposed_s - d.collective_sm_s - d.contention_s;
        assert!(
            (alone - d0.grad_s / n).abs() < 1e-12,
            "{alone} vs {} / {n}",
            d0.grad_s
        );
    }
    let step = |sc: &Scenario| {
        llmplan::setup::estimate(sc, &Default::default())
            .unwrap()
            .time
            .step_s
    };
    let grew = step(&big) - step(&base);
    let want = d1.grad_exposed_s - d0.grad_exposed_s;
    assert!(want > 0.04, "{want} s");
    assert!((grew - want).abs() < 1e-9, "+{grew} s, want +{want} s");
}

#[test]
fn a_bucket_size_must_be_a_positive_count() {
    for bad in ["0", "-5", "nan", "1e14"] {
        let sets = vec![format!("training.dp_bucket_params={bad}")];
        let e = scenario::load(Some("llama3-405b-h100"), &sets).unwrap_err();
        assert!(
            e.to_string().contains("training.dp_bucket_params"),
            "{bad}: {e}"
        );
    }
}
