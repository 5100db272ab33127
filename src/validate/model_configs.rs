//! Settings a framework's shipped config for one model family makes, where they differ
//! from the framework's defaults (`validation/model_configs.csv`, documented in
//! docs/validation.md): e.g. NeMo's Nemotron-4 340B config keeps Adam's moments in
//! BF16. A row takes the first entry whose framework pattern its framework contains and
//! whose model pattern its model cell contains; each entry cites the config.

use super::recipe::Recipe;
use super::rows::{parse, Row};
use crate::error::{Error, Result};

/// The shipped table.
pub const MODEL_CONFIGS_CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/validation/model_configs.csv"
));

/// One family's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Lower-case pattern of the framework.
    pub framework: String,
    /// Lower-case pattern of the model cell.
    pub model: String,
    /// Bytes per gradient element (4: FP32, 2: BF16).
    pub grad_bytes: f64,
    /// Optimizer-state bytes per parameter on the ranks it is sharded over.
    pub optimizer_bytes: f64,
    /// The config it comes from.
    pub source: String,
}

fn bytes(r: &Row, col: &str, allowed: &[f64]) -> Result<f64> {
    let v = r.text(col);
    v.parse::<f64>()
        .ok()
        .filter(|b| allowed.contains(b))
        .ok_or_else(|| {
            Error::invalid(
                format!("validation/model_configs.csv:{}", r.line),
                format!("{col}: '{v}' is not one of {allowed:?}"),
            )
        })
}

/// Parses a model-config table.
pub fn parse_table(text: &str) -> Result<Vec<ModelConfig>> {
    parse("validation/model_configs.csv", text)?
        .iter()
        .map(|r| {
            Ok(ModelConfig {
                framework: r.text("framework_pattern").to_lowercase(),
                model: r.text("model_pattern").to_lowercase(),
                grad_bytes: bytes(r, "grad_bytes", &[4.0, 2.0])?,
                optimizer_bytes: bytes(r, "optimizer_bytes", &[12.0, 10.0, 8.0, 4.0])?,
                source: r.text("source").to_string(),
            })
        })
        .collect()
}

fn table() -> &'static [ModelConfig] {
    static T: std::sync::OnceLock<Vec<ModelConfig>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        parse_table(MODEL_CONFIGS_CSV).expect("validation/model_configs.csv parses (tested)")
    })
}

/// The entry for `framework` running `model` (either cell, any case), if the table has one.
pub fn for_model(framework: &str, model: &str) -> Option<&'static ModelConfig> {
    let (f, m) = (framework.to_lowercase(), model.to_lowercase());
    table().iter().find(|c| {
        !c.framework.is_empty()
            && !c.model.is_empty()
            && f.contains(c.framework.as_str())
            && m.contains(c.model.as_str())
    })
}

/// `rc` with the settings of `framework`'s config for `model`, and the sentence saying
/// so (`None` when the table has no entry).
pub fn apply(rc: &Recipe, framework: &str, model: &str) -> (Recipe, Option<String>) {
    let mut r = rc.clone();
    let Some(c) = for_model(framework, model) else {
        return (r, None);
    };
    r.grad_bytes = c.grad_bytes;
    r.optimizer_bytes = c.optimizer_bytes;
    let said = format!(
        "gradients {} B and optimizer state {} B per parameter, as the framework's config for this model sets them ({})",
        c.grad_bytes, c.optimizer_bytes, c.source
    );
    (r, Some(said))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_matches_by_framework_and_model() {
        assert!(!table().is_empty());
        // NeMo 24.07's Nemotron-4 340B config: BF16 moments, no master (2 + 2 bytes),
        // BF16 gradients (launcher nemotron_340b.yaml @24.07).
        let c = for_model("NeMo 24.07 (Megatron-Core)", "Nemotron-340B").unwrap();
        assert_eq!((c.grad_bytes, c.optimizer_bytes), (2.0, 4.0));
        // Another framework, or another model of the same framework, takes no entry.
        assert!(for_model("Megatron-Bridge (NeMo 25.11)", "Nemotron-340B").is_none());
        assert!(for_model("NeMo 24.07 (Megatron-Core)", "Nemotron-22B").is_none());
    }

    #[test]
    fn a_bad_cell_names_its_line_and_column() {
        let e = parse_table(
            "framework_pattern,model_pattern,grad_bytes,optimizer_bytes,source\nx,y,3,12,z\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("model_configs.csv:2") && e.contains("grad_bytes"),
            "{e}"
        );
    }
}
