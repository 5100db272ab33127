//! Parameter counts, layer by layer.
//!
//! Every layer reports its own parameters (the Calculon discipline); the model is
//! the sum. Formulas: attention `h*(q + 2*kv)*d + q*d*h` (plus biases), MLA's low-rank
//! projections as DeepSeek-V2/V3 define them, MLP `2*h*f` (`3*h*f` gated), experts E
//! times that plus a router `h*E`, embeddings `V*h` (twice if untied), and a vision
//! encoder trained with the model ([`vision_params`]).

use serde::Serialize;

use crate::spec::model::{ModelSpec, Norm, PositionEmbedding, Vision};

/// Parameters of one transformer layer, by block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LayerParams {
    /// Attention projections (and their biases).
    pub attention: f64,
    /// Dense MLP, or a MoE layer's shared experts.
    pub mlp: f64,
    /// All routed experts of the layer (zero on dense layers).
    pub experts: f64,
    /// The routed experts one token visits (top-k of them).
    pub experts_active: f64,
    /// Router weights.
    pub router: f64,
    /// Normalisation scales and biases.
    pub norms: f64,
}

impl LayerParams {
    /// Every parameter of the layer.
    pub fn total(&self) -> f64 {
        self.attention + self.mlp + self.experts + self.router + self.norms
    }

    /// Parameters one token touches.
    pub fn active(&self) -> f64 {
        self.attention + self.mlp + self.experts_active + self.router + self.norms
    }

    /// Parameters that are not routed experts (replicated over expert parallelism).
    pub fn dense(&self) -> f64 {
        self.attention + self.mlp + self.router + self.norms
    }
}

/// Whole-model parameter counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParamCounts {
    /// All parameters.
    pub total: f64,
    /// Parameters one token touches (both embeddings included, as Mixtral and
    /// DeepSeek publish their "active" counts).
    pub active: f64,
    /// Parameters that multiply activations per token: active minus the input
    /// embedding and position table (lookups, not matmuls). 6 x this is the
    /// model-FLOPs-per-token convention.
    pub active_matmul: f64,
    /// Sum of attention projections over layers.
    pub attention: f64,
    /// Sum of dense MLPs and shared experts over layers.
    pub mlp: f64,
    /// Sum of routed experts over layers.
    pub experts: f64,
    /// Routers.
    pub router: f64,
    /// Normalisation parameters (layers + final norm).
    pub norms: f64,
    /// Input embedding table.
    pub embedding: f64,
    /// Output projection (zero when tied to the input embedding).
    pub output: f64,
    /// Learned position table.
    pub position: f64,
    /// A vision encoder trained with the model ([`vision_params`]): in `total`, not in
    /// `active` or `active_matmul` (text tokens do not pass through it). Omitted from
    /// JSON when zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub vision: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// A vision encoder's parameters by part, as transformers' `Llama4VisionModel` and
/// `Llama4MultiModalProjector` build them (src/transformers/models/llama4/modeling_llama4.py,
/// huggingface/transformers commit 000c33f).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct VisionParams {
    /// Patch embedding (`Llama4UnfoldConvolution`: a linear of channels x patch^2 -> h,
    /// no bias), the class token (h) and the learned position table
    /// ((image / patch)^2 + 1 rows of h).
    pub embeddings: f64,
    /// Encoder layers: q, k, v, o of h x h with biases, the GELU MLP h -> f -> h with
    /// biases, two LayerNorms (scale and bias); plus the pre and post LayerNorms.
    pub layers: f64,
    /// The pixel-shuffle MLP (`Llama4VisionMLP2`): f -> adapter_hidden and
    /// adapter_out -> adapter_out, no biases.
    pub adapter: f64,
    /// The projector from the encoder's output to the language model's width (no bias).
    pub projector: f64,
}

impl VisionParams {
    /// Every parameter of the encoder, adapter and projector.
    pub fn total(&self) -> f64 {
        self.embeddings + self.layers + self.adapter + self.projector
    }
}

/// Parameters of the vision encoder `v` feeding a language model of width `text_hidden`.
pub fn vision_params(v: &Vision, text_hidden: u64) -> VisionParams {
    let h = v.hidden as f64;
    let f = v.ffn_hidden as f64;
    let side = (v.image_size / v.patch_size.max(1)) as f64;
    let patch_in = (v.channels * v.patch_size * v.patch_size) as f64;
    let attention = 4.0 * (h * h + h);
    let mlp = 2.0 * h * f + f + h;
    let norms = 2.0 * 2.0 * h;
    VisionParams {
        embeddings: patch_in * h + h + (side * side + 1.0) * h,
        layers: v.layers as f64 * (attention + mlp + norms) + 2.0 * 2.0 * h,
        adapter: f * v.adapter_hidden as f64 + (v.adapter_out * v.adapter_out) as f64,
        projector: (v.output_dim * text_hidden) as f64,
    }
}

/// Parameters of `m`'s vision encoder with its adapter and projector ([`vision_params`]),
/// 0 without one.
pub fn vision_total(m: &ModelSpec) -> f64 {
    m.vision
        .as_ref()
        .map_or(0.0, |v| vision_params(v, m.hidden).total())
}

/// What an estimate says about a model's vision encoder, when it has one: where its
/// parameters are counted, and that its FLOPs are not.
pub fn vision_note(m: &ModelSpec) -> Option<String> {
    m.vision.as_ref()?;
    let n = vision_total(m);
    Some(format!(
        "vision encoder ({:.2}B parameters) held and trained on the first pipeline stage \
         (weights, gradients, optimizer states); its FLOPs are not counted: the step prices \
         a stream of text tokens",
        n / 1e9
    ))
}

fn norm_params(model: &ModelSpec, width: u64) -> f64 {
    match model.norm {
        Norm::Layernorm => 2.0 * width as f64,
        Norm::Rmsnorm => width as f64,
    }
}

/// Attention projection parameters of one layer.
pub fn attention_params(m: &ModelSpec) -> f64 {
    let h = m.hidden as f64;
    let q = m.heads as f64;
    let kv = m.kv_heads() as f64;
    match &m.mla {
        Some(mla) => {
            let qk = (mla.qk_nope_head_dim + mla.qk_rope_head_dim) as f64;
            let q_proj = match mla.q_lora_rank {
                Some(r) => h * r as f64 + norm_params(m, r) + r as f64 * q * qk,
                None => h * q * qk,
            };
            let kv_down = h * (mla.kv_lora_rank + mla.qk_rope_head_dim) as f64
                + norm_params(m, mla.kv_lora_rank);
            let kv_up =
                mla.kv_lora_rank as f64 * q * (mla.qk_nope_head_dim + mla.v_head_dim) as f64;
            let out = q * mla.v_head_dim as f64 * h;
            q_proj + kv_down + kv_up + out
        }
        None => {
            let d = m.head_dim() as f64;
            let w = h * (q + 2.0 * kv) * d + q * d * h;
            let b = if m.bias {
                (q + 2.0 * kv) * d + h
            } else if m.qkv_bias {
                (q + 2.0 * kv) * d
            } else {
                0.0
            };
            w + b + attention_extras(m)
        }
    }
}

/// QK-norm scales (one RMSNorm of head_dim for queries, one for keys) and gpt-oss's
/// per-head sink logits: small, but part of the published totals.
fn attention_extras(m: &ModelSpec) -> f64 {
    let qk_norm = if m.qk_norm {
        2.0 * m.qk_head_dim() as f64
    } else {
        0.0
    };
    let sinks = if m.attention_sinks {
        m.heads as f64
    } else {
        0.0
    };
    qk_norm + sinks
}

/// Parameters of one MLP of inner width `f`.
pub fn mlp_params(m: &ModelSpec, f: u64) -> f64 {
    let h = m.hidden as f64;
    let f = f as f64;
    let (mats, up_rows) = if m.gated_mlp { (3.0, 2.0) } else { (2.0, 1.0) };
    // A gated MLP's fused gate/up projection has 2f outputs, each with a bias (gpt-oss).
    let b = if m.bias { up_rows * f + h } else { 0.0 };
    mats * h * f + b
}

/// Parameters of layer `i` (0-based).
pub fn layer_params(m: &ModelSpec, i: u32) -> LayerParams {
    let attention = attention_params(m);
    let norms = 2.0 * norm_params(m, m.hidden);
    match (&m.moe, m.is_moe_layer(i)) {
        (Some(moe), true) => {
            let one = mlp_params(m, moe.expert_ffn_hidden);
            LayerParams {
                attention,
                mlp: moe.shared_experts as f64 * one,
                experts: moe.experts as f64 * one,
                experts_active: moe.top_k as f64 * one,
                router: (m.hidden as f64 + f64::from(u8::from(m.bias))) * moe.experts as f64,
                norms,
            }
        }
        _ => LayerParams {
            attention,
            mlp: mlp_params(m, m.ffn_hidden),
            norms,
            ..Default::default()
        },
    }
}

/// Whole-model counts.
pub fn count(m: &ModelSpec) -> ParamCounts {
    let mut c = ParamCounts::default();
    let mut active_layers = 0.0;
    for i in 0..m.layers {
        let l = layer_params(m, i);
        c.attention += l.attention;
        c.mlp += l.mlp;
        c.experts += l.experts;
        c.router += l.router;
        c.norms += l.norms;
        active_layers += l.active();
    }
    c.norms += norm_params(m, m.hidden); // final norm
    let h = m.hidden as f64;
    c.embedding = m.vocab as f64 * h;
    c.output = if m.tied_embeddings {
        0.0
    } else {
        m.vocab as f64 * h
    };
    c.position = match m.position_embedding {
        PositionEmbedding::Learned => m.max_position.unwrap_or(0) as f64 * h,
        _ => 0.0,
    };
    c.vision = vision_total(m);
    let layers_total = c.attention + c.mlp + c.experts + c.router + c.norms;
    c.total = layers_total + c.embedding + c.output + c.position + c.vision;
    let final_norm = norm_params(m, m.hidden);
    c.active = active_layers + final_norm + c.embedding + c.output + c.position;
    // The output projection is a matmul even when tied to the input table.
    c.active_matmul = active_layers + final_norm + m.vocab as f64 * h;
    c
}
