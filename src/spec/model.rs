//! Model architectures: dense and Mixture-of-Experts transformers, with GQA/MQA and
//! DeepSeek's multi-head latent attention (MLA).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Normalisation layer kind (decides its parameter count: LayerNorm has a bias).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// LayerNorm: scale and bias, 2h parameters.
    Layernorm,
    /// RMSNorm: scale only, h parameters (the default: every 2024-26 open model).
    #[default]
    Rmsnorm,
}

/// How positions enter the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PositionEmbedding {
    /// Learned absolute table of `max_position x hidden` parameters (GPT-3, OPT).
    Learned,
    /// Rotary (no parameters; the default).
    #[default]
    Rope,
    /// ALiBi biases (no parameters).
    Alibi,
}

/// Multi-head latent attention (DeepSeek-V2/V3): low-rank Q and KV projections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mla {
    /// Rank of the query down-projection; `None` = full-rank query projection.
    #[serde(default)]
    pub q_lora_rank: Option<u64>,
    /// Rank of the joint key/value compression.
    pub kv_lora_rank: u64,
    /// Per-head query/key dimension without rotary part.
    pub qk_nope_head_dim: u64,
    /// Per-head rotary query/key dimension (the rotary key is shared by all heads).
    pub qk_rope_head_dim: u64,
    /// Per-head value dimension.
    pub v_head_dim: u64,
}

/// Mixture-of-Experts feed-forward blocks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Moe {
    /// Routed experts per MoE layer.
    pub experts: u32,
    /// Routed experts each token visits.
    pub top_k: u32,
    /// Shared experts every token visits, each of `expert_ffn_hidden`.
    #[serde(default)]
    pub shared_experts: u32,
    /// Hidden size of one expert's FFN.
    pub expert_ffn_hidden: u64,
    /// Leading layers that stay dense (DeepSeek-V3: 3).
    #[serde(default)]
    pub first_dense_layers: u32,
    /// Every `layer_freq`-th layer after those is MoE (1 = all of them).
    #[serde(default = "one")]
    pub layer_freq: u32,
    /// Node-limited routing: each token goes to experts on at most this many nodes and
    /// crosses the network once per node (DeepSeek-V3: 4). `None` = unrestricted.
    #[serde(default)]
    pub max_nodes_per_token: Option<u32>,
}

fn one() -> u32 {
    1
}

/// A published parameter count, to check the architecture against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedCounts {
    /// Total parameters as published.
    pub params_total: f64,
    /// Active parameters per token as published (MoE); equals total for dense.
    #[serde(default)]
    pub params_active: Option<f64>,
    /// Where the figures come from.
    pub source: String,
}

/// Sliding-window (local) attention on some layers (Mistral 7B, Gemma 2/3, gpt-oss).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlidingWindow {
    /// Tokens each query attends to on a windowed layer.
    pub tokens: u64,
    /// Every `full_every`-th layer (1-based: layers `full_every - 1`, `2 * full_every - 1`,
    /// ...) keeps full attention; 0 = every layer is windowed. Gemma 2 and gpt-oss: 2;
    /// Gemma 3: 6; Mistral 7B v0.1: 0.
    #[serde(default)]
    pub full_every: u32,
}

/// A vision encoder trained with the language model (Llama 4's early fusion; the
/// structure of transformers' `Llama4VisionModel`): a ViT over `image_size`-pixel tiles
/// cut into `patch_size` patches (biased attention and GELU MLP, LayerNorms, a class
/// token and a learned position table), a pixel-shuffle MLP adapter and a projector to
/// the language model's width. Its parameters are held and trained on the first
/// pipeline stage (weights, gradients and optimizer states); its FLOPs are not priced,
/// since the step models a stream of text tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vision {
    /// Encoder layers (HF `num_hidden_layers`).
    pub layers: u32,
    /// Encoder width (HF `hidden_size`).
    pub hidden: u64,
    /// Encoder MLP inner width (HF `intermediate_size`); also the adapter's input width.
    pub ffn_hidden: u64,
    /// Side of an image tile, pixels (HF `image_size`).
    pub image_size: u64,
    /// Side of a patch, pixels (HF `patch_size`).
    pub patch_size: u64,
    /// Colour channels of a pixel; default 3.
    #[serde(default = "three")]
    pub channels: u64,
    /// Inner width of the pixel-shuffle adapter MLP (HF `projector_input_dim`).
    pub adapter_hidden: u64,
    /// Output width of the adapter MLP (HF `projector_output_dim`).
    pub adapter_out: u64,
    /// Width of the encoder's output that the projector maps to the model's `hidden`
    /// (HF `vision_output_dim`).
    pub output_dim: u64,
}

fn three() -> u64 {
    3
}

/// One transformer architecture.
///
/// Only `layers`, `hidden`, `heads`, `ffn_hidden` and `vocab` are required; every other
/// field has the default of a 2024-26 open decoder (RMSNorm, RoPE, SwiGLU, untied
/// embeddings, no biases, `kv_heads = heads`, `head_dim = hidden / heads`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Catalog name, e.g. `llama3-405b`; defaults to the file's stem (or `custom` inline).
    #[serde(default)]
    pub name: String,
    /// Human-readable name; defaults to `name`.
    #[serde(default)]
    pub display_name: String,
    /// Where the architecture comes from (free text; optional).
    #[serde(default)]
    pub source: String,
    /// Transformer layers.
    pub layers: u32,
    /// Model (residual) width.
    pub hidden: u64,
    /// Query heads.
    pub heads: u32,
    /// Key/value heads (GQA/MQA); defaults to `heads`.
    #[serde(default)]
    pub kv_heads: Option<u32>,
    /// Per-head dimension; defaults to `hidden / heads`.
    #[serde(default)]
    pub head_dim: Option<u64>,
    /// Dense FFN hidden size.
    pub ffn_hidden: u64,
    /// SwiGLU-style gated MLP (three matrices instead of two); default true.
    #[serde(default = "yes")]
    pub gated_mlp: bool,
    /// Vocabulary size (padded as trained).
    pub vocab: u64,
    /// Input and output embeddings share one matrix; default false.
    #[serde(default)]
    pub tied_embeddings: bool,
    /// Every linear layer carries a bias (GPT-3, OPT, BLOOM, gpt-oss incl. experts and router).
    #[serde(default)]
    pub bias: bool,
    /// Only the query/key/value projections carry biases (Qwen2, GLM-4.5).
    #[serde(default)]
    pub qkv_bias: bool,
    /// RMSNorm over each head's queries and keys (Qwen3, Gemma 3, GLM-4.5): 2 x head_dim
    /// parameters per layer.
    #[serde(default)]
    pub qk_norm: bool,
    /// One learned sink logit per query head and layer (gpt-oss).
    #[serde(default)]
    pub attention_sinks: bool,
    /// Sliding-window attention, when used.
    #[serde(default)]
    pub sliding_window: Option<SlidingWindow>,
    /// Normalisation kind; default rmsnorm.
    #[serde(default)]
    pub norm: Norm,
    /// Position encoding; default rope.
    #[serde(default)]
    pub position_embedding: PositionEmbedding,
    /// Rows of a learned position table.
    #[serde(default)]
    pub max_position: Option<u64>,
    /// Multi-head latent attention, when used.
    #[serde(default)]
    pub mla: Option<Mla>,
    /// Mixture-of-Experts, when used.
    #[serde(default)]
    pub moe: Option<Moe>,
    /// Multi-token-prediction modules trained beside the model (DeepSeek-V3 report,
    /// section 2.2): each adds a Transformer block like the last layer, a 2h x h
    /// projection and one more pass through the shared output head, all on the last
    /// pipeline stage. They cost time and memory but are not counted in the model's
    /// parameters or model FLOPs (as published).
    #[serde(default)]
    pub mtp_depth: u32,
    /// A vision encoder trained with the model (Llama 4), when there is one.
    #[serde(default)]
    pub vision: Option<Vision>,
    /// Published counts for checking.
    #[serde(default)]
    pub published: Option<PublishedCounts>,
}

fn yes() -> bool {
    true
}

impl ModelSpec {
    /// Fills the names a user may leave out: `name` from `fallback` (a file stem, or
    /// `custom` for an inline model), `display_name` from `name`.
    pub fn fill_names(&mut self, fallback: &str) {
        if self.name.is_empty() {
            self.name = fallback.to_string();
        }
        if self.display_name.is_empty() {
            self.display_name = self.name.clone();
        }
    }

    /// Whether layer `i` (0-based) attends through the sliding window.
    pub fn is_windowed_layer(&self, i: u32) -> bool {
        match &self.sliding_window {
            None => false,
            Some(w) => w.full_every == 0 || !(i + 1).is_multiple_of(w.full_every),
        }
    }

    /// Key/value heads (defaults to query heads).
    pub fn kv_heads(&self) -> u32 {
        self.kv_heads.unwrap_or(self.heads)
    }

    /// Per-head dimension for standard attention.
    pub fn head_dim(&self) -> u64 {
        self.head_dim
            .unwrap_or(self.hidden / u64::from(self.heads.max(1)))
    }

    /// Query/key dimension per head (MLA: nope + rope parts).
    pub fn qk_head_dim(&self) -> u64 {
        match &self.mla {
            Some(m) => m.qk_nope_head_dim + m.qk_rope_head_dim,
            None => self.head_dim(),
        }
    }

    /// Value dimension per head.
    pub fn v_head_dim(&self) -> u64 {
        match &self.mla {
            Some(m) => m.v_head_dim,
            None => self.head_dim(),
        }
    }

    /// Whether layer `i` (0-based) is a MoE layer.
    pub fn is_moe_layer(&self, i: u32) -> bool {
        match &self.moe {
            None => false,
            Some(m) => {
                i >= m.first_dense_layers
                    && (i - m.first_dense_layers).is_multiple_of(m.layer_freq.max(1))
            }
        }
    }

    /// Number of MoE layers.
    pub fn moe_layers(&self) -> u32 {
        (0..self.layers).filter(|&i| self.is_moe_layer(i)).count() as u32
    }

    /// Checks internal consistency and reports every rule broken, not just the first.
    pub fn validate(&self) -> Result<()> {
        let mut errs: Vec<Error> = [
            positive("model.layers", self.layers as f64),
            positive("model.hidden", self.hidden as f64),
            positive("model.heads", self.heads as f64),
            positive("model.ffn_hidden", self.ffn_hidden as f64),
            positive("model.vocab", self.vocab as f64),
        ]
        .into_iter()
        .filter_map(|r| r.err())
        .collect();
        errs.extend(self.attention_rules());
        if let Some(m) = &self.moe {
            errs.extend(self.moe_rules(m));
        }
        if let Some(v) = &self.vision {
            errs.extend(vision_rules(v));
        }
        Error::collect(errs).map_or(Ok(()), Err)
    }

    fn attention_rules(&self) -> Vec<Error> {
        let f = |x: &str| format!("model.{x}");
        let mut errs = Vec::new();
        let kv = self.kv_heads();
        if self.heads > 0 && (kv == 0 || !self.heads.is_multiple_of(kv)) {
            errs.push(
                Error::invalid(
                    f("kv_heads"),
                    format!("query heads {} not divisible by kv heads {kv}", self.heads),
                )
                .with_suggestion(format!(
                    "use a divisor of {}: {}",
                    self.heads,
                    divisors_text(self.heads as u64)
                )),
            );
        }
        if self.heads > 0
            && self.mla.is_none()
            && self.head_dim.is_none()
            && !self.hidden.is_multiple_of(u64::from(self.heads))
        {
            errs.push(
                Error::invalid(
                    f("heads"),
                    format!(
                        "hidden {} not divisible by heads {}",
                        self.hidden, self.heads
                    ),
                )
                .with_suggestion("set model.head_dim explicitly".to_string()),
            );
        }
        if self.position_embedding == PositionEmbedding::Learned && self.max_position.is_none() {
            errs.push(Error::invalid(
                f("max_position"),
                "learned position embeddings need max_position (rows of the table)",
            ));
        }
        if self.sliding_window.as_ref().is_some_and(|w| w.tokens == 0) {
            errs.push(Error::invalid(
                f("sliding_window.tokens"),
                "must be positive",
            ));
        }
        errs
    }

    fn moe_rules(&self, m: &Moe) -> Vec<Error> {
        let f = |x: &str| format!("model.{x}");
        let mut errs: Vec<Error> = [
            positive("model.moe.experts", m.experts as f64),
            positive("model.moe.expert_ffn_hidden", m.expert_ffn_hidden as f64),
        ]
        .into_iter()
        .filter_map(|r| r.err())
        .collect();
        if m.top_k == 0 || m.top_k > m.experts {
            errs.push(Error::invalid(
                f("moe.top_k"),
                format!(
                    "top_k {} must be between 1 and experts {}",
                    m.top_k, m.experts
                ),
            ));
        }
        if m.first_dense_layers >= self.layers {
            errs.push(Error::invalid(
                f("moe.first_dense_layers"),
                format!(
                    "{} dense layers leave no MoE layer of {}",
                    m.first_dense_layers, self.layers
                ),
            ));
        }
        errs
    }
}

fn vision_rules(v: &Vision) -> Vec<Error> {
    let mut errs: Vec<Error> = [
        ("layers", v.layers as f64),
        ("hidden", v.hidden as f64),
        ("ffn_hidden", v.ffn_hidden as f64),
        ("patch_size", v.patch_size as f64),
        ("channels", v.channels as f64),
    ]
    .into_iter()
    .filter_map(|(k, x)| positive(&format!("model.vision.{k}"), x).err())
    .collect();
    if v.patch_size > 0 && (v.image_size == 0 || !v.image_size.is_multiple_of(v.patch_size)) {
        errs.push(Error::invalid(
            "model.vision.image_size",
            format!(
                "image_size {} must be a positive multiple of patch_size {}",
                v.image_size, v.patch_size
            ),
        ));
    }
    errs
}

fn positive(field: &str, v: f64) -> Result<()> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("must be positive, got {v}")))
    }
}

/// The divisors of `n` as text, for suggestions ("1, 2, 3, 4, 6, 12").
pub fn divisors_text(n: u64) -> String {
    divisors(n)
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// All divisors of `n` in increasing order. Takes sqrt(n) steps: callers pass counts
/// of heads, experts or ranks, not user numbers that may be near `u64::MAX`.
pub fn divisors(n: u64) -> Vec<u64> {
    let mut small = Vec::new();
    let mut large = Vec::new();
    let mut d = 1;
    // `d <= n / d`, not `d * d <= n`: the square wraps for n near 2^64.
    while d <= n / d {
        if n.is_multiple_of(d) {
            small.push(d);
            if d * d != n {
                large.push(n / d);
            }
        }
        d += 1;
    }
    small.extend(large.into_iter().rev());
    small
}
