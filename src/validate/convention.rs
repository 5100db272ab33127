//! FLOP conventions as data: what each source counts when it quotes TFLOP/s, MFU or
//! HFU. A row names its convention in a `flops_convention` column, or the per-source
//! table `validation/conventions.csv` gives it by the row's `source` citation; a new
//! source is a table row, not code.

use crate::analytic::estimate::Estimate;
use crate::error::{Error, Result};
use crate::spec::ModelSpec;

/// The shipped per-source table.
pub const CONVENTIONS_CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/validation/conventions.csv"
));

/// What a quoted FLOP rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    /// Narayanan et al. 2021 eq. 3, recompute counted: 96 B s l h^2 (1 + s/6h + V/16lh).
    NarayananEq3,
    /// Megatron-Core's model FLOPs (Korthikanti 2022): 72 B s l h^2 (1 + s/6h + V/12lh)
    /// for GPT, in general 6 x active matmul parameters per token plus the whole s x s
    /// attention (6 s heads (d_qk + d_v) per layer per token).
    MegatronCore,
    /// NeMo's per-family `flops_callback` formulas: the same terms as Megatron-Core
    /// (full non-causal attention, no recompute; agree within ~1% on dense rows).
    Nemo,
    /// PaLM's MFU with attention: the same count as Megatron-Core.
    PalmAttention,
    /// Megatron-Bridge's `num_floating_point_operations` (`training/utils/flop_utils.py`):
    /// 6 x active matmul parameters (the output layer's included) plus the causal half of
    /// the s x s attention (`seq_length / 2`), per token.
    MegatronBridge,
    /// 6 x active matmul parameters x tokens.
    SixNd,
    /// torchtitan's `get_num_flop_per_token`: 6 x all parameters (embedding included)
    /// plus 12 x layers x heads x head_dim x sequence (the attention's two forward and
    /// four backward matmuls, causal sparsity not taken off, flash attention's
    /// recomputation not counted), per token.
    Torchtitan,
    /// 8 x total parameters x tokens (BLOOM's logs: forward, backward, recomputed forward).
    EightNd,
    /// Hardware FLOPs: model FLOPs, attention and the recompute the layout runs.
    Hfu,
}

impl Convention {
    /// Parses a convention name as the tables write it.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_lowercase().as_str() {
            "narayanan-eq3" | "narayanan" => Self::NarayananEq3,
            "megatron-core" | "korthikanti" => Self::MegatronCore,
            "nemo" => Self::Nemo,
            "palm-attention" | "palm" => Self::PalmAttention,
            "megatron-bridge" | "bridge" => Self::MegatronBridge,
            "6nd" | "6n" => Self::SixNd,
            "torchtitan" => Self::Torchtitan,
            "8nd" | "8n" => Self::EightNd,
            "hfu" => Self::Hfu,
            _ => return None,
        })
    }

    /// The convention in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NarayananEq3 => {
                "Narayanan eq. 3: 96 B s l h^2 (1 + s/6h + V/16lh), recompute counted"
            }
            Self::MegatronCore => {
                "Megatron-Core model FLOPs: 72 B s l h^2 (1 + s/6h + V/12lh) (6N + full attention)"
            }
            Self::Nemo => {
                "NeMo per-family model FLOPs (6N + full non-causal attention, no recompute)"
            }
            Self::PalmAttention => {
                "PaLM MFU with attention FLOPs (6N + 6 s heads (d_qk + d_v) per layer)"
            }
            Self::MegatronBridge => {
                "Megatron-Bridge flop_utils: 6N + causal attention (s/2), output layer counted"
            }
            Self::SixNd => "6 x active matmul parameters x tokens",
            Self::Torchtitan => {
                "torchtitan: 6 x all parameters + 12 x layers x heads x head_dim x sequence, per token"
            }
            Self::EightNd => "8 x parameters x tokens (forward, backward, recomputed forward)",
            Self::Hfu => "hardware FLOPs: model + attention + recompute as modelled",
        }
    }

    /// FLOPs per optimizer step of `e` on this convention.
    pub fn flops_per_step(self, e: &Estimate, m: &ModelSpec, seq_len: f64) -> f64 {
        let f = &e.flops;
        let per_step = |total: f64| {
            if f.model_total > 0.0 {
                total / f.model_total * f.model_per_step
            } else {
                0.0
            }
        };
        let tokens = e.layout.global_batch_seqs as f64 * seq_len;
        match self {
            Self::NarayananEq3 => {
                let (l, h, v) = (m.layers as f64, m.hidden as f64, m.vocab as f64);
                96.0 * tokens * l * h * h * (1.0 + seq_len / (6.0 * h) + v / (16.0 * l * h))
            }
            Self::MegatronCore | Self::Nemo | Self::PalmAttention => {
                per_step(f.model_total + f.attention_total)
            }
            // The attention count above is the whole s x s score matrix; Bridge counts
            // the causal half.
            Self::MegatronBridge => per_step(f.model_total + f.attention_total / 2.0),
            Self::SixNd => f.model_per_step,
            Self::EightNd => 8.0 * e.model.params_total * tokens,
            Self::Torchtitan => {
                let attention = 12.0 * m.layers as f64 * m.heads as f64 * m.head_dim() as f64;
                tokens * (6.0 * e.model.params_total + attention * seq_len)
            }
            Self::Hfu => per_step(f.model_total + f.attention_total + f.recompute_total),
        }
    }
}

/// One per-source rule: a row whose `source` contains `pattern` quotes `quantity` on
/// `convention`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Lower-case text the `source` cell contains (empty: every source).
    pub pattern: String,
    /// Column the rule is for (`tflops_per_gpu`, `mfu_pct`, `hfu_pct`).
    pub quantity: String,
    /// The convention.
    pub convention: Convention,
}

/// Parses a convention table.
pub fn parse(text: &str) -> Result<Vec<Rule>> {
    let rows = super::rows::parse("validation/conventions.csv", text)?;
    rows.iter()
        .map(|r| {
            let c = r.text("convention");
            Ok(Rule {
                pattern: r.text("source_pattern").to_lowercase(),
                quantity: r.text("quantity").to_string(),
                convention: Convention::parse(c).ok_or_else(|| {
                    Error::invalid(
                        format!("validation/conventions.csv:{}", r.line),
                        format!("convention: unknown '{c}'"),
                    )
                })?,
            })
        })
        .collect()
}

/// The shipped table, parsed once.
pub fn table() -> &'static [Rule] {
    static T: std::sync::OnceLock<Vec<Rule>> = std::sync::OnceLock::new();
    T.get_or_init(|| parse(CONVENTIONS_CSV).expect("validation/conventions.csv parses (tested)"))
}

/// The convention of `quantity` for a row citing `source`, unless the row names one in
/// `flops_convention` (which then applies to TFLOP/s and MFU).
pub fn for_row(source: &str, quantity: &str, column: &str) -> Result<Convention> {
    if !column.is_empty() && quantity != "hfu_pct" {
        return Convention::parse(column).ok_or_else(|| {
            Error::invalid(
                "flops_convention",
                format!(
                    "unknown convention '{column}' (known: narayanan-eq3, megatron-core, nemo, palm-attention, megatron-bridge, 6nd, 8nd, torchtitan, hfu)"
                ),
            )
        });
    }
    let s = source.to_lowercase();
    table()
        .iter()
        .find(|r| r.quantity == quantity && s.contains(r.pattern.as_str()))
        .map(|r| r.convention)
        .ok_or_else(|| Error::invalid(quantity, "no convention rule applies"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_with_a_default_per_quantity() {
        let t = parse(CONVENTIONS_CSV).unwrap();
        for q in ["tflops_per_gpu", "mfu_pct", "hfu_pct"] {
            assert!(
                t.iter().any(|r| r.quantity == q && r.pattern.is_empty()),
                "{q}"
            );
        }
    }

    #[test]
    fn sources_pick_their_convention() {
        let c = |s: &str, q: &str| for_row(s, q, "").unwrap();
        assert_eq!(
            c("Narayanan et al. 2021, arXiv 2104.04473", "tflops_per_gpu"),
            Convention::NarayananEq3
        );
        assert_eq!(
            c("NVIDIA/NeMo docs/source/performance", "tflops_per_gpu"),
            Convention::Nemo
        );
        assert_eq!(
            c("Llama 3 Herd of Models", "mfu_pct"),
            Convention::PalmAttention
        );
        assert_eq!(c("a source never seen", "mfu_pct"), Convention::SixNd);
        assert_eq!(
            c(
                "NVIDIA-NeMo/Megatron-Bridge docs/performance-summary.md @00b7660b",
                "tflops_per_gpu"
            ),
            Convention::MegatronBridge
        );
        assert_eq!(
            for_row("Narayanan", "tflops_per_gpu", "6nd").unwrap(),
            Convention::SixNd
        );
        assert!(for_row("x", "tflops_per_gpu", "flops-by-vibes").is_err());
    }
}
