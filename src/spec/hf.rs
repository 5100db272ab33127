//! Hugging Face `config.json` -> [`ModelSpec`].
//!
//! Each supported architecture (the `architectures[0]` class name) maps its fields
//! explicitly; docs/hf-import.md has the table, field by field with its HF name. What
//! a class hard-codes rather than configures (Qwen2's q/k/v biases, Qwen3's QK-norm,
//! Nemotron's LayerNorm and squared-ReLU MLP) comes from the class, and the defaults of
//! absent fields are the ones of the class's `PretrainedConfig` (Gemma ties its
//! embeddings, Llama does not). An architecture not listed fails with the fields a
//! reading would need and which of them are missing, rather than being guessed.

use std::path::Path;

use serde_json::{Map, Value};

use super::model::{Mla, ModelSpec, Moe, Norm, SlidingWindow, Vision};
use crate::error::{Error, Result};

/// The architecture families the importer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Llama,
    Llama4,
    Mistral,
    Mixtral,
    Qwen2,
    Qwen3,
    Qwen3Moe,
    DeepseekV3,
    GptOss,
    Gemma2,
    Gemma3,
    Phi3,
    Glm4Moe,
    Nemotron,
}

/// Supported `architectures` class names and their family.
pub const ARCHITECTURES: &[&str] = &[
    "LlamaForCausalLM",
    "Llama4ForCausalLM",
    "Llama4ForConditionalGeneration",
    "MistralForCausalLM",
    "MinistralForCausalLM",
    "Ministral3ForCausalLM",
    "MixtralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
    "Qwen3MoeForCausalLM",
    "DeepseekV3ForCausalLM",
    "DeepseekV2ForCausalLM",
    "GptOssForCausalLM",
    "Gemma2ForCausalLM",
    "Gemma3ForCausalLM",
    "Gemma3ForConditionalGeneration",
    "Phi3ForCausalLM",
    "Glm4MoeForCausalLM",
    "NemotronForCausalLM",
];

fn family(arch: &str) -> Option<Family> {
    Some(match arch {
        "LlamaForCausalLM" => Family::Llama,
        "Llama4ForCausalLM" | "Llama4ForConditionalGeneration" => Family::Llama4,
        "MistralForCausalLM" | "MinistralForCausalLM" | "Ministral3ForCausalLM" => Family::Mistral,
        "MixtralForCausalLM" => Family::Mixtral,
        "Qwen2ForCausalLM" => Family::Qwen2,
        "Qwen3ForCausalLM" => Family::Qwen3,
        "Qwen3MoeForCausalLM" => Family::Qwen3Moe,
        "DeepseekV3ForCausalLM" | "DeepseekV2ForCausalLM" => Family::DeepseekV3,
        "GptOssForCausalLM" => Family::GptOss,
        "Gemma2ForCausalLM" => Family::Gemma2,
        "Gemma3ForCausalLM" | "Gemma3ForConditionalGeneration" => Family::Gemma3,
        "Phi3ForCausalLM" => Family::Phi3,
        "Glm4MoeForCausalLM" => Family::Glm4Moe,
        "NemotronForCausalLM" => Family::Nemotron,
        _ => return None,
    })
}

/// Reads `path` (a `config.json`) and maps it; the model is named after its directory.
pub fn load(path: &Path) -> Result<ModelSpec> {
    // Capped and device-checked like every other input file.
    let text = crate::input::read_text(path)?;
    let file = path.display().to_string();
    let cfg: Value = serde_json::from_str(&text).map_err(|e| {
        Error::invalid(
            "model",
            format!("{file}:{}:{}: not JSON: {e}", e.line(), e.column()),
        )
    })?;
    let dir = path
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|d| d.to_str())
        .unwrap_or("hf-model");
    from_config(&cfg, dir, &file)
}

/// The fields of one config object, read with their HF names; collects every missing
/// or mistyped field instead of stopping at the first.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// Name of the section for messages (`config.json` or `config.json: text_config`).
    at: String,
    missing: Vec<String>,
}

impl<'a> Fields<'a> {
    fn get(&self, k: &str) -> Option<&'a Value> {
        self.map.get(k).filter(|v| !v.is_null())
    }

    /// A whole number that must be present.
    fn need(&mut self, k: &str) -> u64 {
        match self.get(k).and_then(Value::as_u64) {
            Some(v) => v,
            None => {
                self.missing.push(k.to_string());
                0
            }
        }
    }

    fn opt(&self, k: &str) -> Option<u64> {
        self.get(k).and_then(Value::as_u64)
    }

    fn flag(&self, k: &str, default: bool) -> bool {
        self.get(k).and_then(Value::as_bool).unwrap_or(default)
    }

    fn finish(self, arch: &str) -> Result<()> {
        if self.missing.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(
            "model",
            format!(
                "{}: {arch} needs fields that are missing or not whole numbers: {}",
                self.at,
                self.missing.join(", ")
            ),
        ))
    }
}

/// Maps a parsed `config.json`; `name` names the model, `file` the source in messages.
pub fn from_config(cfg: &Value, name: &str, file: &str) -> Result<ModelSpec> {
    let top = cfg
        .as_object()
        .ok_or_else(|| Error::invalid("model", format!("{file}: expected a JSON object")))?;
    let arch = top
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(fam) = family(arch) else {
        return Err(unknown(top, arch, file));
    };
    // Multimodal classes keep the language model in `text_config`.
    let (map, at) = match top.get("text_config").and_then(Value::as_object) {
        Some(t) => (t, format!("{file}: text_config")),
        None => (top, file.to_string()),
    };
    let mut f = Fields {
        map,
        at,
        missing: Vec::new(),
    };
    let mut m = common(&mut f, fam);
    m.moe = moe(&mut f, fam);
    m.mla = mla(&mut f, fam);
    m.sliding_window = window(&f, fam, m.layers)?;
    f.finish(arch)?;
    m.vision = vision(top, fam, file)?;
    m.name = name.to_string();
    m.display_name = name.to_string();
    let what = match (&m.vision, std::ptr::eq(map, top)) {
        (Some(_), _) => "; text model and vision encoder (`vision_config`)",
        (None, true) => "",
        (None, false) => "; text model only (the vision encoder is not counted)",
    };
    m.source =
        format!("Hugging Face config.json ({arch}) read from {file} by `llmplan import hf`{what}");
    Ok(m)
}

/// Llama 4's vision encoder from `vision_config` (transformers' `Llama4VisionModel`);
/// other families' encoders are not read.
fn vision(top: &Map<String, Value>, fam: Family, file: &str) -> Result<Option<Vision>> {
    let Some(map) = top.get("vision_config").and_then(Value::as_object) else {
        return Ok(None);
    };
    if fam != Family::Llama4 {
        return Ok(None);
    }
    let mut f = Fields {
        map,
        at: format!("{file}: vision_config"),
        missing: Vec::new(),
    };
    let v = Vision {
        layers: f.need("num_hidden_layers") as u32,
        hidden: f.need("hidden_size"),
        ffn_hidden: f.need("intermediate_size"),
        image_size: f.need("image_size"),
        patch_size: f.need("patch_size"),
        channels: f.opt("num_channels").unwrap_or(3),
        // Some of Llama4VisionConfig's defaults are not the released models' values
        // (hidden_size 768, image_size 448, vision_output_dim 7680): sizes must be given.
        adapter_hidden: f.need("projector_input_dim"),
        adapter_out: f.need("projector_output_dim"),
        output_dim: f.need("vision_output_dim"),
    };
    f.finish("Llama4ForConditionalGeneration's vision encoder")?;
    // A config with the encoder cut out (a text-only fine-tune's) has no layers.
    Ok((v.layers > 0).then_some(v))
}

/// Fields every family shares, with the family's own defaults and hard-coded choices.
fn common(f: &mut Fields, fam: Family) -> ModelSpec {
    use Family::*;
    let heads = f.need("num_attention_heads") as u32;
    let ffn = match fam {
        // Llama 4's dense layers use `intermediate_size_mlp`; `intermediate_size` is an expert's.
        Llama4 => f.need("intermediate_size_mlp"),
        _ => f.need("intermediate_size"),
    };
    let attention_bias = f.flag("attention_bias", fam == GptOss);
    ModelSpec {
        layers: f.need("num_hidden_layers") as u32,
        hidden: f.need("hidden_size"),
        heads,
        kv_heads: f.opt("num_key_value_heads").map(|k| k as u32),
        head_dim: f.opt("head_dim"),
        ffn_hidden: ffn,
        vocab: f.need("vocab_size"),
        // Nemotron's MLP is squared ReLU on one up-projection; every other family gates.
        gated_mlp: fam != Nemotron,
        // PretrainedConfig's own default is true; these classes set false except Gemma.
        tied_embeddings: f.flag("tie_word_embeddings", matches!(fam, Gemma2 | Gemma3)),
        // gpt-oss: biases on every projection, its experts and its router.
        bias: fam == GptOss && attention_bias,
        // Qwen2 hard-codes q/k/v biases; GLM-4.5 and Llama take them from attention_bias.
        qkv_bias: fam == Qwen2 || (matches!(fam, Glm4Moe | Llama) && attention_bias),
        qk_norm: matches!(fam, Qwen3 | Qwen3Moe | Gemma3)
            || (fam == Glm4Moe && f.flag("use_qk_norm", false)),
        attention_sinks: fam == GptOss,
        // Nemotron's LayerNorm1p has a scale and a bias.
        norm: if fam == Nemotron {
            Norm::Layernorm
        } else {
            Norm::Rmsnorm
        },
        mtp_depth: f.opt("num_nextn_predict_layers").unwrap_or(0) as u32,
        ..ModelSpec::default()
    }
}

/// Mixture-of-Experts fields, by family.
fn moe(f: &mut Fields, fam: Family) -> Option<Moe> {
    use Family::*;
    let plain = |experts: u64, top_k: u64, ffn: u64| Moe {
        experts: experts as u32,
        top_k: top_k as u32,
        shared_experts: 0,
        expert_ffn_hidden: ffn,
        first_dense_layers: 0,
        layer_freq: 1,
        max_nodes_per_token: None,
    };
    match fam {
        Mixtral | GptOss => {
            let e = f.need("num_local_experts");
            let k = f
                .opt("num_experts_per_tok")
                .or_else(|| f.opt("experts_per_token"));
            let k = k.unwrap_or_else(|| f.need("num_experts_per_tok"));
            Some(plain(e, k, f.need("intermediate_size")))
        }
        Qwen3Moe => {
            let mut m = plain(
                f.need("num_experts"),
                f.need("num_experts_per_tok"),
                f.need("moe_intermediate_size"),
            );
            // Qwen: layer i is sparse when (i + 1) % decoder_sparse_step == 0.
            let step = f.opt("decoder_sparse_step").unwrap_or(1).max(1) as u32;
            m.first_dense_layers = step - 1;
            m.layer_freq = step;
            if f.get("mlp_only_layers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                f.missing.push(
                    "mlp_only_layers (a non-empty list cannot be expressed; write a model YAML)"
                        .into(),
                );
            }
            Some(m)
        }
        Llama4 => {
            // Llama 4: layers `step - 1, 2 * step - 1, ...` are MoE with one shared expert
            // (Llama4TextConfig's `moe_layers`, which an explicit list overrides).
            let step = f.opt("interleave_moe_layer_step").unwrap_or(1).max(1) as u32;
            let mut m = plain(
                f.need("num_local_experts"),
                f.need("num_experts_per_tok"),
                f.need("intermediate_size"),
            );
            m.shared_experts = 1;
            (m.first_dense_layers, m.layer_freq) = (step - 1, step);
            if let Some(list) = f.get("moe_layers").and_then(Value::as_array) {
                match periodic_layers(list, f.opt("num_hidden_layers").unwrap_or(0)) {
                    Some(p) => (m.first_dense_layers, m.layer_freq) = p,
                    None => f.missing.push(
                        "moe_layers (not every k-th layer from the first: write a model YAML)"
                            .into(),
                    ),
                }
            }
            Some(m)
        }
        DeepseekV3 | Glm4Moe => {
            let mut m = plain(
                f.need("n_routed_experts"),
                f.need("num_experts_per_tok"),
                f.need("moe_intermediate_size"),
            );
            m.shared_experts = f.opt("n_shared_experts").unwrap_or(0) as u32;
            m.first_dense_layers = f.opt("first_k_dense_replace").unwrap_or(0) as u32;
            m.layer_freq = f.opt("moe_layer_freq").unwrap_or(1).max(1) as u32;
            Some(m)
        }
        _ => None,
    }
}

/// A list of layer indices as (first, every): `first, first + every, ...` up to `layers`.
fn periodic_layers(list: &[Value], layers: u64) -> Option<(u32, u32)> {
    let ids: Vec<u64> = list.iter().map(Value::as_u64).collect::<Option<_>>()?;
    let first = *ids.first()?;
    // One entry: that layer alone (a period past the last layer).
    let alone = layers.saturating_sub(first).max(1);
    let every = ids.get(1).map_or(alone, |&b| b.saturating_sub(first));
    let want = (first..layers.max(first + 1)).step_by(every.max(1) as usize);
    (every > 0 && ids.iter().copied().eq(want)).then_some((first as u32, every as u32))
}

/// DeepSeek's multi-head latent attention.
fn mla(f: &mut Fields, fam: Family) -> Option<Mla> {
    (fam == Family::DeepseekV3).then(|| Mla {
        q_lora_rank: f.opt("q_lora_rank"),
        kv_lora_rank: f.need("kv_lora_rank"),
        qk_nope_head_dim: f.need("qk_nope_head_dim"),
        qk_rope_head_dim: f.need("qk_rope_head_dim"),
        v_head_dim: f.need("v_head_dim"),
    })
}

/// Sliding-window layers: `layer_types` when given (must repeat one pattern), else the
/// family's rule. A window at least as long as the context is no window (Phi-3.5).
fn window(f: &Fields, fam: Family, layers: u32) -> Result<Option<SlidingWindow>> {
    use Family::*;
    let Some(tokens) = f.opt("sliding_window") else {
        return Ok(None);
    };
    let max_pos = f.opt("max_position_embeddings").unwrap_or(u64::MAX);
    let off = matches!(fam, Qwen2 | Qwen3 | Qwen3Moe) && !f.flag("use_sliding_window", false);
    if tokens >= max_pos || off {
        return Ok(None);
    }
    if let Some(types) = f.get("layer_types").and_then(Value::as_array) {
        let full: Vec<usize> = types
            .iter()
            .enumerate()
            .filter(|(_, t)| t.as_str() == Some("full_attention"))
            .map(|(i, _)| i)
            .collect();
        let every = full.first().map_or(0, |i| i + 1);
        let periodic = (0..types.len().min(layers as usize))
            .all(|i| full.contains(&i) == (every > 0 && (i + 1) % every == 0));
        if !periodic {
            return Err(Error::invalid(
                "model.sliding_window",
                format!("{}: layer_types does not repeat one pattern of windowed and full layers; write a model YAML", f.at),
            ));
        }
        return Ok(Some(SlidingWindow {
            tokens,
            full_every: every as u32,
        }));
    }
    let full_every = match fam {
        // Gemma 2: even layers local, odd layers global.
        Gemma2 => 2,
        // Gemma 3: five local layers, then one global (`sliding_window_pattern`).
        Gemma3 => f.opt("sliding_window_pattern").unwrap_or(6) as u32,
        _ => 0,
    };
    Ok(Some(SlidingWindow { tokens, full_every }))
}

/// The error for an architecture the importer does not know: the class, the supported
/// ones, and which of the fields a Llama-like reading needs are absent.
fn unknown(top: &Map<String, Value>, arch: &str, file: &str) -> Error {
    let needs = [
        "num_hidden_layers",
        "hidden_size",
        "num_attention_heads",
        "intermediate_size",
        "vocab_size",
    ];
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|k| top.get(*k).and_then(Value::as_u64).is_none())
        .collect();
    let class = if arch.is_empty() {
        "no `architectures` entry".to_string()
    } else {
        format!("architecture {arch} is not supported")
    };
    let fields = if missing.is_empty() {
        format!(
            "it has the dense fields ({}), but its attention, MLP and norms are unknown",
            needs.join(", ")
        )
    } else {
        format!("missing fields: {}", missing.join(", "))
    };
    Error::invalid("model", format!("{file}: {class}; {fields}")).with_suggestion(format!(
        "supported: {}; or write a model YAML (`llmplan schema model`)",
        ARCHITECTURES.join(", ")
    ))
}

/// The model as a YAML document (block style), for `llmplan import hf -o model.yaml`.
pub fn to_yaml(m: &ModelSpec) -> String {
    let v = serde_json::to_value(m).unwrap_or(Value::Null);
    let mut out = String::new();
    emit(&v, 0, &mut out);
    out
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let Value::Object(map) = v else { return };
    let pad = " ".repeat(indent);
    for (k, val) in map {
        match val {
            Value::Null => {}
            Value::Object(_) => {
                out.push_str(&format!("{pad}{k}:\n"));
                emit(val, indent + 2, out);
            }
            Value::String(s) => out.push_str(&format!("{pad}{k}: {}\n", quote(s))),
            other => out.push_str(&format!("{pad}{k}: {other}\n")),
        }
    }
}

/// A YAML scalar that reads back as the same string.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Llama 4 Scout's text fields (17B active of 16 experts, as Meta names it): one
    /// shared and one routed expert of 8192 per layer, dense width 16384 unused.
    /// Active by hand: 48 x (62.9M attention + 2 x 125.8M experts) + 2 x 1.03B
    /// embeddings = 17.17B.
    #[test]
    fn llama4_text_config_maps_experts() {
        let cfg = json!({"architectures": ["Llama4ForConditionalGeneration"], "text_config": {
            "hidden_size": 5120, "num_hidden_layers": 48, "num_attention_heads": 40,
            "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 8192,
            "intermediate_size_mlp": 16384, "num_local_experts": 16, "num_experts_per_tok": 1,
            "interleave_moe_layer_step": 1, "vocab_size": 202048, "tie_word_embeddings": false}});
        let m = from_config(&cfg, "scout", "config.json").unwrap();
        let moe = m.moe.clone().unwrap();
        assert_eq!((moe.experts, moe.top_k, moe.shared_experts), (16, 1, 1));
        assert_eq!(m.moe_layers(), 48);
        let c = crate::analytic::count(&m);
        assert!((c.active / 17.17e9 - 1.0).abs() < 0.002, "{}", c.active);
        assert!(m.source.contains("text model only"));
    }

    /// Llama4TextConfig's explicit `moe_layers` overrides `interleave_moe_layer_step`
    /// when it is every k-th layer from the first; any other list is refused, naming it.
    /// A `vision_config` with no layers (a text-only fine-tune's) adds no encoder.
    #[test]
    fn llama4_moe_layers_list_and_empty_vision() {
        let cfg = |list: Value| {
            json!({"architectures": ["Llama4ForConditionalGeneration"], "text_config": {
                "hidden_size": 64, "num_hidden_layers": 6, "num_attention_heads": 4,
                "intermediate_size": 32, "intermediate_size_mlp": 128, "num_local_experts": 4,
                "num_experts_per_tok": 1, "vocab_size": 100, "moe_layers": list},
                "vision_config": {"num_hidden_layers": 0, "hidden_size": 8, "intermediate_size": 8,
                "image_size": 28, "patch_size": 14, "projector_input_dim": 8,
                "projector_output_dim": 8, "vision_output_dim": 8}})
        };
        let moe = |list: Value| {
            let m = from_config(&cfg(list), "t", "config.json").unwrap();
            assert!(m.vision.is_none());
            (0..6).filter(|&i| m.is_moe_layer(i)).collect::<Vec<_>>()
        };
        assert_eq!(moe(json!([1, 3, 5])), vec![1, 3, 5]);
        assert_eq!(moe(json!([0, 1, 2, 3, 4, 5])), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(moe(json!([4])), vec![4]);
        let e = from_config(&cfg(json!([1, 2, 5])), "t", "config.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("moe_layers (not every k-th layer"), "{e}");
    }

    #[test]
    fn sliding_window_patterns() {
        let base = json!({"hidden_size": 64, "num_hidden_layers": 6, "num_attention_heads": 4,
            "intermediate_size": 128, "vocab_size": 100, "sliding_window": 16,
            "max_position_embeddings": 1024});
        let with = |arch: &str, extra: Value| {
            let mut c = base.clone();
            c["architectures"] = json!([arch]);
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            from_config(&c, "t", "config.json").unwrap().sliding_window
        };
        let full_every = |w: Option<SlidingWindow>| w.map(|w| w.full_every);
        assert_eq!(full_every(with("MistralForCausalLM", json!({}))), Some(0));
        assert_eq!(full_every(with("Gemma2ForCausalLM", json!({}))), Some(2));
        assert_eq!(
            full_every(with(
                "Gemma3ForCausalLM",
                json!({"sliding_window_pattern": 3})
            )),
            Some(3)
        );
        let types = json!({"num_local_experts": 4, "num_experts_per_tok": 2, "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention"]});
        assert_eq!(full_every(with("GptOssForCausalLM", types)), Some(2));
        assert_eq!(with("Qwen3ForCausalLM", json!({})), None);
        assert_eq!(
            with("Phi3ForCausalLM", json!({"sliding_window": 4096})),
            None
        );
        let mut bad = base.clone();
        bad["architectures"] = json!(["Gemma2ForCausalLM"]);
        bad["layer_types"] = json!([
            "full_attention",
            "sliding_attention",
            "sliding_attention",
            "full_attention",
            "full_attention",
            "full_attention"
        ]);
        assert!(from_config(&bad, "t", "config.json").is_err());
    }

    #[test]
    fn missing_fields_are_listed_together() {
        let cfg =
            json!({"architectures": ["MixtralForCausalLM"], "hidden_size": 64, "vocab_size": 100});
        let e = from_config(&cfg, "t", "x/config.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "num_attention_heads, intermediate_size, num_hidden_layers, num_local_experts"
            ),
            "{e}"
        );
    }
}
