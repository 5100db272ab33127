//! Hugging Face configs in, parameter counts out: each stored real `config.json`
//! (tests/data/hf, sources in its README) imported and counted against the totals its
//! publisher states (source per row). Tolerance 0.5%.

use std::path::Path;

use llmplan::analytic;
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
    ("glm-4.5-air", &[(NonEmbedding, 106e9, 1e9), (ActiveNonEmbedding, 12e9, 1e9)], "GLM-4.5 report (arXiv 2508.06471) Table 1: GLM-4.5-Air 106B total, 12B activated (without embeddings: 105.6B and 12.2B here; with them 106.9B, 13.4B)"),
    ("nemotron-mini-4b", &[(Total, 4.2e9, 0.1e9), (NonEmbedding, 2.6e9, 0.1e9)], "Minitron (arXiv 2407.14679) Table 1: Minitron 4B, 4.2B total, 2.6B non-embedding"),
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
