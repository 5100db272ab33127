//! A row's model: a model YAML the `model` cell names, a catalog model its name
//! resolves to (architecture columns the row publishes take precedence), or the
//! architecture the row's columns describe.

use super::names;
use super::rows::Row;
use crate::error::{Error, Result};
use crate::spec::catalog;
use crate::spec::model::{ModelSpec, Norm, PositionEmbedding};
use crate::spec::yaml::Source;

/// The model of `row`; what was assumed or matched goes to `assumptions`.
pub fn model(row: &Row, assumptions: &mut Vec<String>) -> Result<ModelSpec> {
    let name = row.text("model");
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        return Source::read(std::path::Path::new(name))?.parse();
    }
    let base = match names::resolve_model(name) {
        Ok(hit) => Ok(hit),
        // "DeepSeek-V3 (pre-training stage)": the name before the parenthesis.
        Err(near) => match name.split_once('(') {
            Some((head, _)) if !head.trim().is_empty() => {
                names::resolve_model(head.trim()).map_err(|_| near)
            }
            _ => Err(near),
        },
    };
    match base {
        Ok((catalog_name, how)) => {
            if let Some(h) = how {
                assumptions.push(h);
            }
            let m: ModelSpec = catalog::load(catalog::MODELS, "model", catalog_name)?;
            Ok(with_row_columns(m, row, assumptions))
        }
        Err(near) => described(row, assumptions).map_err(|e| {
            Error::invalid(
                "model",
                format!(
                    "'{name}' is not in the catalog (nearest: {}) and the row does not describe it ({e}); \
                     add the architecture columns (layers, hidden, heads, ffn_hidden, vocab) or a model \
                     column naming a catalog entry or a model YAML",
                    near.join(", ")
                ),
            )
        }),
    }
}

/// The catalog model with the architecture columns the row publishes.
fn with_row_columns(mut m: ModelSpec, row: &Row, assumptions: &mut Vec<String>) -> ModelSpec {
    let mut changed = Vec::new();
    let set_u32 = |col: &str, field: &mut u32, changed: &mut Vec<String>| {
        if let Some(v) = row.num(col).map(|v| v as u32) {
            if v != *field {
                changed.push(format!("{col} {} -> {v}", *field));
                *field = v;
            }
        }
    };
    set_u32("layers", &mut m.layers, &mut changed);
    set_u32("heads", &mut m.heads, &mut changed);
    let set_u64 = |col: &str, field: &mut u64, changed: &mut Vec<String>| {
        if let Some(v) = row.num(col).map(|v| v as u64) {
            if v != *field {
                changed.push(format!("{col} {} -> {v}", *field));
                *field = v;
            }
        }
    };
    set_u64("hidden", &mut m.hidden, &mut changed);
    set_u64("vocab", &mut m.vocab, &mut changed);
    if m.moe.is_none() {
        set_u64("ffn_hidden", &mut m.ffn_hidden, &mut changed);
    }
    if let Some(kv) = row.num("kv_heads").map(|v| v as u32) {
        if kv != m.kv_heads() {
            changed.push(format!("kv_heads {} -> {kv}", m.kv_heads()));
            m.kv_heads = Some(kv);
        }
    }
    // "DeepSeekV3 (w/o MTP)": the benchmark ran without the multi-token-prediction
    // module (Megatron-Bridge performance summary, 25.11 tables).
    let said = format!("{} {}", row.text("model"), row.text("notes")).to_lowercase();
    if m.mtp_depth > 0 && (said.contains("w/o mtp") || said.contains("without mtp")) {
        changed.push(format!(
            "mtp_depth {} -> 0 (the row says without MTP)",
            m.mtp_depth
        ));
        m.mtp_depth = 0;
    }
    if !changed.is_empty() {
        if changed
            .iter()
            .any(|c| c.starts_with("hidden") || c.starts_with("heads"))
        {
            m.head_dim = None;
        }
        m.published = None;
        assumptions.push(format!(
            "catalog model {} with the row's {}",
            m.name,
            changed.join(", ")
        ));
    }
    m
}

/// A model the row's columns describe: layers, hidden and heads published; the rest by
/// the family's convention where the row leaves it out (each named).
fn described(row: &Row, assumptions: &mut Vec<String>) -> Result<ModelSpec> {
    let name = row.text("model");
    if !row.text("n_experts").is_empty() {
        return Err(Error::invalid(
            "n_experts",
            "a Mixture-of-Experts model needs its expert sizes and routing from a catalog entry or model YAML",
        ));
    }
    let missing: Vec<&str> = ["layers", "hidden", "heads"]
        .into_iter()
        .filter(|c| row.num(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(missing.join(", "), "not published"));
    }
    let layers = row.num("layers").unwrap_or_default() as u32;
    let hidden = row.num("hidden").unwrap_or_default() as u64;
    let heads = row.num("heads").unwrap_or_default() as u32;
    let lower = name.to_lowercase();
    // LLaMA-family conventions (Touvron et al. 2023): SwiGLU, RMSNorm, RoPE, no biases,
    // untied output layer.
    let llama = lower.contains("llama");
    let ffn = match row.num("ffn_hidden") {
        Some(f) => f as u64,
        None if llama => {
            // LLaMA's FFN: 2/3 x 4h rounded up to a multiple of 256 (its model code).
            let f = (8 * hidden / 3).div_ceil(256) * 256;
            assumptions.push(format!(
                "ffn_hidden = 2/3 x 4h rounded up to 256 = {f} (LLaMA)"
            ));
            f
        }
        None => {
            assumptions.push("ffn_hidden = 4 x hidden (GPT convention)".into());
            4 * hidden
        }
    };
    let vocab = match row.num("vocab") {
        Some(v) => v as u64,
        None => {
            assumptions.push("vocab 51200 (GPT-2 BPE padded, as Megatron-LM)".into());
            51200
        }
    };
    let seq = row.num("seq_len").unwrap_or(2048.0) as u64;
    if llama {
        assumptions.push("LLaMA family: SwiGLU, RMSNorm, RoPE, no biases, untied output".into());
    }
    Ok(ModelSpec {
        name: row.id().to_string(),
        display_name: name.to_string(),
        source: row.text("source").to_string(),
        layers,
        hidden,
        heads,
        kv_heads: row.num("kv_heads").map(|k| k as u32),
        head_dim: None,
        ffn_hidden: ffn,
        gated_mlp: llama,
        vocab,
        tied_embeddings: !llama,
        bias: !llama,
        norm: if llama {
            Norm::Rmsnorm
        } else {
            Norm::Layernorm
        },
        position_embedding: if llama {
            PositionEmbedding::Rope
        } else if lower.contains("bloom") {
            PositionEmbedding::Alibi
        } else {
            PositionEmbedding::Learned
        },
        max_position: Some(seq),
        mla: None,
        moe: None,
        mtp_depth: 0,
        published: None,
        ..ModelSpec::default()
    })
}
