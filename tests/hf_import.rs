//! Hugging Face configs in, parameter counts out: each stored real `config.json`
//! (tests/data/hf, sources in its README) imported and counted against the totals its
//! publisher states (source per row). Tolerance 0.5%.

use std::path::Path;

use llmplan::analytic;
use llmplan::analytic::params::vision_params;
use llmplan::spec::hf;

/// Which count a published figure is, as its publisher counts.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Every parameter.
    Total,
    /// Without input embedding and output layer.
    NonEmbedding,
    /// Touched per token, both embedding tables included (Mixtral's convention).
    Active,
    /// Touched per token without the input embedding, a lookup (DeepSeek-V3's 36.6B
    /// "including 0.9B for the output head"; gpt-oss's 5.13B = attention + 4 of 128
    /// experts + unembedding).
    ActiveNoInputEmbedding,
    /// Touched per token without either embedding table (GLM-4.5's convention: its
    /// 106B/12B for Air are the counts without embeddings, rounded).
    ActiveNonEmbedding,
}
use Kind::*;

/// (directory, [(kind, published figure, unit of its last published digit)], source)
type Row = (&'static str, &'static [(Kind, f64, f64)], &'static str);
const PUBLISHED: &[Row] = &[
    ("llama-3.1-8b", &[(Total, 8.03e9, 0.01e9)], "Hugging Face model page of meta-llama/Llama-3.1-8B: 8.03B params (safetensors)"),
    ("llama-3.1-70b", &[(Total, 70.6e9, 0.1e9)], "Hugging Face model page of meta-llama/Llama-3.1-70B: 70.6B params (safetensors)"),
    ("qwen2.5-7b", &[(Total, 7.61e9, 0.01e9), (NonEmbedding, 6.53e9, 0.01e9)], "Qwen2.5-7B model card: 7.61B parameters, 6.53B non-embedding"),
    ("qwen3-8b", &[(Total, 8.2e9, 0.1e9), (NonEmbedding, 6.95e9, 0.01e9)], "Qwen3-8B model card: 8.2B parameters, 6.95B non-embedding"),
    ("qwen3-30b-a3b", &[(Total, 30.5e9, 0.1e9), (NonEmbedding, 29.9e9, 0.1e9)], "Qwen3-30B-A3B model card: 30.5B total, 29.9B non-embedding (its 3.3B activated matches no convention here: 3.35B with both embeddings)"),
    ("mixtral-8x7b", &[(Total, 46.7e9, 0.1e9), (Active, 12.9e9, 0.1e9)], "Mistral AI, 'Mixtral of experts' (2023-12-11): 46.7B total, 12.9B per token"),
    ("deepseek-r1", &[(Total, 671e9, 1e9), (ActiveNoInputEmbedding, 36.6e9, 0.1e9)], "DeepSeek-V3 Technical Report (arXiv 2412.19437): 671B total; DeepSeek-V3 README_WEIGHTS: 36.6B activated including 0.9B output head (MTP module excluded)"),
    ("gpt-oss-120b", &[(Total, 116.83e9, 0.01e9), (ActiveNoInputEmbedding, 5.13e9, 0.01e9)], "OpenAI gpt-oss-120b & gpt-oss-20b model card (2025-08-05), Table 1: 116.83B total, 5.13B active"),
    ("gemma-2-9b", &[(Total, 9_241_705_984.0, 1.0), (NonEmbedding, 8_324_201_984.0, 1.0)], "Gemma 2 report (arXiv 2408.00118) Table 2: 917,504,000 embedding + 8,324,201,984 non-embedding"),
    ("gemma-3-1b", &[(Total, 1.0e9, 1e6), (NonEmbedding, 698e6, 1e6)], "Gemma 3 Technical Report (arXiv 2503.19786) Table 1: 302M embedding + 698M non-embedding"),
    ("phi-3.5-mini", &[(Total, 3.82e9, 0.01e9)], "Hugging Face model page of microsoft/Phi-3.5-mini-instruct: 3.82B params (safetensors)"),
    ("mistral-7b-v0.1", &[(Total, 7.24e9, 0.01e9)], "Hugging Face model page of mistralai/Mistral-7B-v0.1: 7.24B params (safetensors)"),
    ("ministral-8b", &[(Total, 8_019_808_256.0, 1.0)], "Model card of mistralai/Ministral-8B-Instruct-2410, 'Ministral 8B Architecture': Parameters 8,019,808,256"),
    ("glm-4.5-air", &[(NonEmbedding, 106e9, 1e9), (ActiveNonEmbedding, 12e9, 1e9)], "GLM-4.5 report (arXiv 2508.06471) Table 1: GLM-4.5-Air 106B total, 12B activated (without embeddings: 105.6B and 12.2B here; with them 106.9B, 13.4B)"),
    ("nemotron-mini-4b", &[(Total, 4.2e9, 0.1e9), (NonEmbedding, 2.6e9, 0.1e9)], "Minitron (arXiv 2407.14679) Table 1: Minitron 4B, 4.2B total, 2.6B non-embedding"),
    ("llama-4-scout-17b-16e", &[(Total, 109e9, 1e9), (Active, 17e9, 1e9)], "Meta, 'The Llama 4 herd' (ai.meta.com/blog/llama-4-multimodal-intelligence, 2025-04-05): Llama 4 Scout, 17B active parameters, 16 experts, 109B total (the vision encoder included: the text model alone is 107.77B, -1.1%)"),
    ("llama-4-maverick-17b-128e", &[(Total, 400e9, 1e9), (Active, 17e9, 1e9)], "Meta, 'The Llama 4 herd' (2025-04-05): Llama 4 Maverick, 17B active parameters, 128 experts, 400B total"),
];

fn import(dir: &str) -> llmplan::spec::ModelSpec {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hf")
        .join(dir)
        .join("config.json");
    let m = hf::load(&p).unwrap_or_else(|e| panic!("{dir}: {e}"));
    m.validate().unwrap_or_else(|e| panic!("{dir}: {e}"));
    m
}

/// Within 0.5%, or within the rounding of a figure published to fewer digits (2.6B is
/// 2.55-2.65B).
#[test]
fn counts_match_published_figures() {
    let mut bad = Vec::new();
    for (dir, figures, src) in PUBLISHED {
        let c = analytic::count(&import(dir));
        for &(kind, want, unit) in *figures {
            let got = match kind {
                Total => c.total,
                NonEmbedding => c.total - c.embedding - c.output,
                Active => c.active,
                ActiveNoInputEmbedding => c.active_matmul,
                ActiveNonEmbedding => c.active - c.embedding - c.output,
            };
            let err = got / want - 1.0;
            let tol = 0.005_f64.max(0.5 * unit / want);
            println!(
                "{dir:18} {kind:?} {got:.0} vs {want:.0} ({:+.2}%)",
                err * 100.0
            );
            if err.abs() > tol {
                bad.push(format!(
                    "{dir} {kind:?}: {got:.4e} vs {want:.4e} ({:+.2}%; {src})",
                    err * 100.0
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "off by more than the tolerance:\n{}",
        bad.join("\n")
    );
}

/// Llama 4 Scout's vision encoder, part by part, against the parameters of each module
/// of transformers' `Llama4VisionModel` and `Llama4MultiModalProjector` for this config
/// (modeling_llama4.py @000c33f), by hand: patch linear 3 x 14^2 x 1408 = 827,904, class
/// token 1408, position table (24^2 + 1) x 1408 = 812,416; per layer q, k, v, o
/// 4 x (1408^2 + 1408) = 7,935,488, fc1 1408 x 5632 + 5632 and fc2 5632 x 1408 + 1408
/// = 15,866,752, two LayerNorms 5632: 23,807,872, times 34 plus the pre and post norms
/// 5632; adapter 5632 x 4096 + 4096^2 = 39,845,888; projector 4096 x 5120 = 20,971,520.
/// The text model alone by hand: 48 x (62,914,560 attention + 17 x 125,829,120
/// experts + 81,920 router + 10,240 norms) + 2 x 202048 x 5120 + 5120 = 107,769,861,120.
#[test]
fn llama4_scout_vision_encoder_by_part() {
    let m = import("llama-4-scout-17b-16e");
    let v = vision_params(m.vision.as_ref().expect("vision_config read"), m.hidden);
    assert_eq!(v.embeddings, 827_904.0 + 1408.0 + 812_416.0);
    assert_eq!(v.layers, 34.0 * 23_807_872.0 + 5632.0);
    assert_eq!(v.adapter, 39_845_888.0);
    assert_eq!(v.projector, 20_971_520.0);
    let c = analytic::count(&m);
    assert_eq!(c.vision, 871_932_416.0);
    assert_eq!(c.total - c.vision, 107_769_861_120.0);
    // Text tokens do not pass through the encoder.
    assert_eq!(c.active, analytic::count(&without_vision(&m)).active);
}

fn without_vision(m: &llmplan::spec::ModelSpec) -> llmplan::spec::ModelSpec {
    let mut t = m.clone();
    t.vision = None;
    t
}

/// Maverick interleaves: `interleave_moe_layer_step` 2 makes layers 1, 3, ..., 47 MoE
/// (Llama4TextConfig's `moe_layers = range(step - 1, layers, step)`), the others dense
/// SwiGLU of `intermediate_size_mlp` 16384; one shared expert per MoE layer.
#[test]
fn llama4_maverick_interleaves_dense_and_moe_layers() {
    let m = import("llama-4-maverick-17b-128e");
    assert_eq!(m.moe_layers(), 24);
    assert!(!m.is_moe_layer(0) && m.is_moe_layer(1) && m.is_moe_layer(47));
    assert_eq!(m.ffn_hidden, 16384);
    let moe = m.moe.as_ref().unwrap();
    assert_eq!((moe.experts, moe.top_k, moe.shared_experts), (128, 1, 1));
    assert_eq!(moe.expert_ffn_hidden, 8192);
}

/// Scout imported by `model: hf:` and estimated: the vision encoder's 871,932,416
/// parameters sit on the first pipeline stage (split over tp 4) as BF16 weights, FP32
/// main gradients and the optimizer's bytes sharded over dp x cp (ZeRO-1), the other
/// stages and the model FLOPs do not move, and the estimate says that the encoder's
/// FLOPs are not counted.
#[test]
fn llama4_vision_encoder_is_held_on_the_first_stage() {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hf/llama-4-scout-17b-16e/config.json");
    let yaml = format!(
        "name: scout\nmodel: hf:{}\ncluster: dgx-h100\ngpus: 256\ntraining:\n  tokens: 1.0e12\n  \
         seq_len: 8192\n  global_batch_seqs: 512\n  precision: bf16\nlayout:\n  tp: 4\n  pp: 4\n  zero: 1\n",
        cfg.display()
    );
    let dir = std::env::temp_dir().join(format!("llmplan-hf-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scout.yaml");
    std::fs::write(&path, yaml).unwrap();
    let sc = llmplan::spec::scenario::load(Some(path.to_str().unwrap()), &[]).unwrap();
    let _ = std::fs::remove_file(&path);
    let mut text = sc.clone();
    text.model.vision = None;
    let opts = analytic::EstimateOptions::default();
    let with = llmplan::setup::estimate(&sc, &opts).unwrap();
    let without = llmplan::setup::estimate(&text, &opts).unwrap();
    let per_gpu = 871_932_416.0 / 4.0;
    let (dp, tr) = (256.0 / 16.0, &sc.training);
    let want = [
        2.0 * per_gpu,
        tr.grad_bytes_per_param * per_gpu,
        tr.optimizer_bytes_per_param * per_gpu / dp,
    ];
    let parts = |e: &analytic::Estimate, i: usize| {
        let m = &e.stages[i].memory;
        [m.weights, m.gradients, m.optimizer]
    };
    let (a, b) = (parts(&with, 0), parts(&without, 0));
    for k in 0..3 {
        assert!(
            (a[k] - b[k] - want[k]).abs() < 1.0,
            "part {k}: {} vs {}",
            a[k] - b[k],
            want[k]
        );
    }
    for i in 1..4 {
        assert_eq!(parts(&with, i), parts(&without, i), "stage {i}");
    }
    assert_eq!(with.flops.model_total, without.flops.model_total);
    assert!(
        with.warnings
            .iter()
            .any(|w| w.contains("vision encoder (0.87B parameters)")
                && w.contains("FLOPs are not counted")),
        "{:?}",
        with.warnings
    );
}
