//! Parameter counts against published figures, and catalog hygiene.

use llmplan::analytic::count;
use llmplan::spec::{catalog, ClusterProfile, GpuProfile, ModelSpec};

fn model(name: &str) -> ModelSpec {
    catalog::load(catalog::MODELS, "model", name).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b
}

/// Asserts `got` within `tol` (relative) of `want`, naming where `want` comes from.
fn close(what: &str, got: f64, want: f64, tol: f64, source: &str) {
    assert!(
        rel(got, want) <= tol,
        "{what}: computed {got:.4e}, published {want:.4e} ({source}), off by {:.2}% > {:.1}%",
        rel(got, want) * 100.0,
        tol * 100.0
    );
}

#[test]
fn gpt3_175b() {
    // Exact count of the GPT-3 architecture (Brown et al. 2020, Table 2.1: 96 layers,
    // d_model 12288, vocab 50257, 2048 learned positions, biases) is 174.6B, which the
    // paper rounds to 175B.
    close(
        "GPT-3 total",
        count(&model("gpt3-175b")).total,
        174.6e9,
        0.01,
        "GPT-3 paper, exact count",
    );
}

#[test]
fn llama3_405b() {
    close(
        "Llama 3 405B",
        count(&model("llama3-405b")).total,
        405e9,
        0.01,
        "Llama 3 paper, Table 3",
    );
}

#[test]
fn mixtral_8x7b_total_and_active() {
    let c = count(&model("mixtral-8x7b"));
    close(
        "Mixtral total",
        c.total,
        46.7e9,
        0.01,
        "Mixtral of Experts (Jiang et al. 2024), section 2",
    );
    close(
        "Mixtral active",
        c.active,
        12.9e9,
        0.01,
        "Mixtral of Experts, section 2",
    );
}

#[test]
fn deepseek_v3_total_and_active() {
    let c = count(&model("deepseek-v3"));
    close(
        "DeepSeek-V3 total",
        c.total,
        671e9,
        0.01,
        "DeepSeek-V3 report, abstract (MTP module excluded)",
    );
    // "37B activated" has two significant digits: it stands for anything in
    // [36.5B, 37.5B). The count with both embeddings is 37.55B, with the input table
    // (a lookup) left out 36.63B; both lie within 1% of that rounding interval.
    let lo = 36.5e9 * 0.99;
    let hi = 37.5e9 * 1.01;
    assert!(
        (lo..=hi).contains(&c.active) && (lo..=hi).contains(&c.active_matmul),
        "DeepSeek-V3 active {:.4e} / matmul {:.4e} outside 37B +- rounding +- 1%",
        c.active,
        c.active_matmul
    );
}

#[test]
fn seed_gpt4_moe() {
    let c = count(&model("gpt4-moe-1.8t"));
    // The rumour's own parts: 16 experts x 111B + 55B shared = 1.831T ("1.8T" rounded);
    // 2 x 111B + 55B = 277B active, which the report rounds to ~280B.
    close(
        "seed total",
        c.total,
        16.0 * 111e9 + 55e9,
        0.01,
        "SemiAnalysis GPT-4 report via DESIGN.md",
    );
    close(
        "seed active",
        c.active,
        280e9,
        0.01,
        "SemiAnalysis GPT-4 report via DESIGN.md",
    );
    // ~111B per expert over 120 layers, ~55B of attention.
    close(
        "seed one expert",
        c.experts / 16.0,
        111e9,
        0.01,
        "the rumour's ~111B per expert",
    );
    close(
        "seed attention",
        c.attention,
        55e9,
        0.01,
        "the rumour's ~55B shared",
    );
}

#[test]
fn every_published_count_matches_within_two_percent() {
    // Broader net over the whole catalog: dense models publish rounded totals (Llama 2
    // "70B" is 68.98B counted exactly, 1.5% below), so 2% here; the 1% checks are above.
    for name in catalog::names(catalog::MODELS) {
        let m = model(name);
        m.validate().unwrap();
        let c = count(&m);
        if let Some(p) = &m.published {
            close(
                &format!("{name} total"),
                c.total,
                p.params_total,
                0.02,
                &p.source,
            );
        }
    }
}

#[test]
fn every_profile_number_has_a_source() {
    for name in catalog::names(catalog::GPUS) {
        let g: GpuProfile = catalog::load(catalog::GPUS, "gpu", name).unwrap();
        assert_eq!(g.name, name, "file name and name field differ");
        for f in GpuProfile::SOURCED_FIELDS {
            assert!(
                g.sources.get(*f).is_some_and(|s| s.len() > 10),
                "{name}: no source for {f}"
            );
        }
    }
    for name in catalog::names(catalog::CLUSTERS) {
        let c: ClusterProfile = catalog::load(catalog::CLUSTERS, "cluster", name).unwrap();
        assert_eq!(c.name, name);
        for f in ClusterProfile::SOURCED_FIELDS {
            assert!(
                c.sources.get(*f).is_some_and(|s| s.len() > 10),
                "{name}: no source for {f}"
            );
        }
        // The cluster's default GPU must exist.
        catalog::load::<GpuProfile>(catalog::GPUS, "gpu", &c.gpu).unwrap();
    }
}

#[test]
fn nemotron_4_340b() {
    // Nemotron-4 340B report (arXiv 2406.11704) section 2.1: 9.4B embedding and 331.6B
    // non-embedding parameters.
    close(
        "Nemotron-4 340B",
        count(&model("nemotron-4-340b")).total,
        341.0e9,
        0.005,
        "Nemotron-4 340B report, section 2.1",
    );
}

#[test]
fn llama2_7b_and_13b() {
    // Released checkpoints: 6,738,415,616 and 13,015,864,320 parameters.
    close(
        "Llama 2 7B",
        count(&model("llama2-7b")).total,
        6_738_415_616.0,
        0.001,
        "Llama-2-7b-hf",
    );
    close(
        "Llama 2 13B",
        count(&model("llama2-13b")).total,
        13_015_864_320.0,
        0.001,
        "Llama-2-13b-hf",
    );
}

#[test]
fn llama2_34b() {
    // Never released; Code Llama 34B has its shapes (models/llama2-34b.yaml): 33.7B
    // parameters on its Hugging Face page (codellama/CodeLlama-34b-hf). By hand: 48 x
    // (2 x 8192^2 + 2 x 8192 x 1024 + 3 x 8192 x 22016 + 2 x 8192) + 2 x 32000 x 8192 +
    // 8192 = 33,743,970,304.
    close(
        "Llama 2 34B",
        count(&model("llama2-34b")).total,
        33.7e9,
        0.003,
        "CodeLlama-34b-hf",
    );
}

#[test]
fn nemo_named_models() {
    // NeMo names these by size only: GPT-3 5B and 20B, Nemotron-3 8B (2.1B of it in
    // 256K-token embeddings) and 22B; the counts land within a few percent of the names.
    for (name, size, tol) in [
        ("gpt3-5b", 5.0e9, 0.02),
        ("gpt3-20b", 20.0e9, 0.02),
        ("nemotron-3-8b", 8.0e9, 0.07),
        ("nemotron-3-22b", 22.0e9, 0.04),
    ] {
        close(
            name,
            count(&model(name)).total,
            size,
            tol,
            "the model's name",
        );
    }
}

#[test]
fn moe_catalog_totals_and_active() {
    // Totals and active counts as the model cards publish them (sources in each YAML).
    // gpt-oss counts its active parameters without the input embedding (201088 x 2880 =
    // 0.58B): the card's 5.13B and 3.61B plus that table are this count's active.
    for (name, total, active, emb_excluded) in [
        ("qwen3-30b-a3b", 30.5e9, 3.3e9, 0.0),
        ("qwen3-235b-a22b", 235.0e9, 22.0e9, 0.0),
        ("mixtral-8x22b", 141.0e9, 39.0e9, 0.0),
        ("gpt-oss-120b", 116.83e9, 5.13e9, 201088.0 * 2880.0),
        ("gpt-oss-20b", 20.91e9, 3.61e9, 201088.0 * 2880.0),
    ] {
        let c = count(&model(name));
        close(&format!("{name} total"), c.total, total, 0.01, "model card");
        close(
            &format!("{name} active"),
            c.active - emb_excluded,
            active,
            0.02,
            "model card",
        );
    }
}
