//! Settings a framework's shipped config for one model family makes, where they differ
//! from the framework's defaults (`validation/model_configs.csv`, documented in
//! docs/validation.md): e.g. NeMo's Nemotron-4 340B config keeps Adam's moments in
//! BF16; Megatron-Bridge's Llama 3 70B presets offload some layers' activations to the
//! Grace CPU on GB200/GB300. A row takes the first entry whose framework pattern its
//! framework contains, whose model pattern its model cell contains, whose GPU (when
//! the entry names one) is the row's `gpu_type` and whose precision pattern (when
//! given) its precision cell contains; an empty setting keeps the framework's. Each
//! entry cites the config.

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
    /// The row's `gpu_type`, lower case; empty: any GPU.
    pub gpu: String,
    /// Lower-case pattern of the precision cell; empty: any precision.
    pub precision: String,
    /// Bytes per gradient element (4: FP32, 2: BF16); `None`: the framework's.
    pub grad_bytes: Option<f64>,
    /// Optimizer-state bytes per parameter on the ranks it is sharded over; `None`: the
    /// framework's.
    pub optimizer_bytes: Option<f64>,
    /// Layers whose activations go to host memory (Megatron-Core
    /// `cpu_offloading_num_layers`); `None`: the framework's (none).
    pub activation_offload_layers: Option<u32>,
    /// Megatron-Core's fused cross-entropy (`cross_entropy_loss_fusion`); `None`: the
    /// framework's.
    pub fused_cross_entropy: Option<bool>,
    /// Dropout layers present (`hidden_dropout`, `attention_dropout` above 0); `None`:
    /// the framework's.
    pub dropout: Option<bool>,
    /// The config it comes from.
    pub source: String,
}

fn bad(r: &Row, col: &str, what: String) -> Error {
    Error::invalid(
        format!("validation/model_configs.csv:{}", r.line),
        format!("{col}: '{}' {what}", r.text(col)),
    )
}

/// An optional cell of bytes among `allowed` (empty: `None`).
fn bytes(r: &Row, col: &str, allowed: &[f64]) -> Result<Option<f64>> {
    let v = r.text(col);
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<f64>()
        .ok()
        .filter(|b| allowed.contains(b))
        .map(Some)
        .ok_or_else(|| bad(r, col, format!("is not one of {allowed:?}")))
}

/// An optional count of layers (empty: `None`).
fn layers(r: &Row, col: &str) -> Result<Option<u32>> {
    let v = r.text(col);
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<u32>()
        .map(Some)
        .map_err(|_| bad(r, col, "is not a whole number of layers".to_string()))
}

/// An optional yes/no cell (empty: `None`).
fn flag(r: &Row, col: &str) -> Result<Option<bool>> {
    match r.text(col) {
        "" => Ok(None),
        "yes" => Ok(Some(true)),
        "no" => Ok(Some(false)),
        _ => Err(bad(r, col, "is not yes or no".to_string())),
    }
}

/// Parses a model-config table.
pub fn parse_table(text: &str) -> Result<Vec<ModelConfig>> {
    parse("validation/model_configs.csv", text)?
        .iter()
        .map(|r| {
            Ok(ModelConfig {
                framework: r.text("framework_pattern").to_lowercase(),
                model: r.text("model_pattern").to_lowercase(),
                gpu: r.text("gpu_type").to_lowercase(),
                precision: r.text("precision_pattern").to_lowercase(),
                grad_bytes: bytes(r, "grad_bytes", &[4.0, 2.0])?,
                optimizer_bytes: bytes(r, "optimizer_bytes", &[12.0, 10.0, 8.0, 4.0])?,
                activation_offload_layers: layers(r, "activation_offload_layers")?,
                fused_cross_entropy: flag(r, "ce_fusion")?,
                dropout: flag(r, "dropout")?,
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

/// What a row says of its run: its framework, model, `gpu_type` and precision cells.
#[derive(Debug, Clone, Copy)]
pub struct RunCells<'a> {
    /// The framework (as `recipe::framework_of` settled it).
    pub framework: &'a str,
    /// The model cell.
    pub model: &'a str,
    /// The `gpu_type` cell.
    pub gpu: &'a str,
    /// The precision cell.
    pub precision: &'a str,
}

/// The entry for the run `r` (any case), if the table has one.
pub fn for_run(r: RunCells) -> Option<&'static ModelConfig> {
    let low = |s: &str| s.trim().to_lowercase();
    let (f, m, g, p) = (low(r.framework), low(r.model), low(r.gpu), low(r.precision));
    table().iter().find(|c| {
        !c.framework.is_empty()
            && !c.model.is_empty()
            && f.contains(c.framework.as_str())
            && m.contains(c.model.as_str())
            && (c.gpu.is_empty() || c.gpu == g)
            && p.contains(c.precision.as_str())
    })
}

/// `rc` with the settings of the config the run `r` used, and the sentence saying so
/// (`None` when the table has no entry).
pub fn apply(rc: &Recipe, r: RunCells) -> (Recipe, Option<String>) {
    let mut out = rc.clone();
    let Some(c) = for_run(r) else {
        return (out, None);
    };
    let mut set = Vec::new();
    match (c.grad_bytes, c.optimizer_bytes) {
        (Some(g), Some(o)) => set.push(format!(
            "gradients {g} B and optimizer state {o} B per parameter"
        )),
        (Some(g), None) => set.push(format!("gradients {g} B per parameter")),
        (None, Some(o)) => set.push(format!("optimizer state {o} B per parameter")),
        (None, None) => {}
    }
    if let Some(g) = c.grad_bytes {
        out.grad_bytes = g;
    }
    if let Some(o) = c.optimizer_bytes {
        out.optimizer_bytes = o;
    }
    if let Some(n) = c.activation_offload_layers {
        out.activation_offload_layers = n;
        set.push(format!(
            "activations of {n} layers offloaded to host memory"
        ));
    }
    if let Some(on) = c.fused_cross_entropy {
        out.fused_cross_entropy = on;
        set.push(format!(
            "the {} cross-entropy",
            if on { "fused" } else { "unfused" }
        ));
    }
    if let Some(on) = c.dropout {
        out.dropout = on;
        set.push(if on { "dropout on" } else { "no dropout" }.to_string());
    }
    let said = format!(
        "{}: the framework's config for this model ({})",
        set.join("; "),
        c.source
    );
    (out, Some(said))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'a>(
        framework: &'a str,
        model: &'a str,
        gpu: &'a str,
        precision: &'a str,
    ) -> RunCells<'a> {
        RunCells {
            framework,
            model,
            gpu,
            precision,
        }
    }

    #[test]
    fn the_shipped_table_parses_and_matches_by_framework_and_model() {
        assert!(!table().is_empty());
        // NeMo 24.07's Nemotron-4 340B config: BF16 moments, no master (2 + 2 bytes),
        // BF16 gradients (launcher nemotron_340b.yaml @24.07), on any GPU and precision.
        let nemo = "NeMo 24.07 (Megatron-Core)";
        let c = for_run(run(nemo, "Nemotron-340B", "H100", "FP8")).unwrap();
        assert_eq!((c.grad_bytes, c.optimizer_bytes), (Some(2.0), Some(4.0)));
        assert_eq!(c.activation_offload_layers, None);
        // Another framework, or another model of the same framework, takes no entry.
        let bridge = "Megatron-Bridge (NeMo 25.11 container, Megatron-Core); FSDP";
        assert!(for_run(run(bridge, "Nemotron-340B", "H100", "BF16")).is_none());
        assert!(for_run(run(bridge, "Nemotron-22B", "H100", "BF16")).is_none());
        // NeMo 24.07's Llama 3 and Nemotron 8B/22B configs turn the fused loss on
        // (launcher llama3_8b.yaml, llama3_70b.yaml, nemotron_8b.yaml, nemotron_22b.yaml
        // @24.07: cross_entropy_loss_fusion true); its GPT-3 and Llama 2 configs say
        // nothing, so those keep the recipe's unfused loss.
        for m in ["Nemotron-8B", "Nemotron-22B", "LLAMA3-8B", "LLAMA3-70B"] {
            let c = for_run(run(nemo, m, "H100-SXM", "FP8")).unwrap();
            assert_eq!(c.fused_cross_entropy, Some(true), "{m}");
        }
        assert!(for_run(run(nemo, "LLAMA2-7B", "H100-SXM", "FP8")).is_none());
        // Its GPT-3 configs (gpt3/5b.yaml, 20b.yaml, 175b.yaml @24.07) train with
        // hidden and attention dropout 0.1 and leave the loss alone.
        for m in ["GPT3-5B", "GPT3-20B", "GPT3-175B"] {
            let c = for_run(run(nemo, m, "H100-SXM", "FP8")).unwrap();
            assert_eq!(
                (c.dropout, c.fused_cross_entropy),
                (Some(true), None),
                "{m}"
            );
        }
    }

    /// Megatron-Bridge's Llama 3 70B pre-training presets
    /// (scripts/performance/configs/llama/llama3_workload_base_configs.py @00b7660b):
    /// `cpu_offloading_num_layers` per GPU and precision.
    #[test]
    fn bridge_llama3_70b_presets_offload_per_gpu_and_precision() {
        let bridge = "Megatron-Bridge (NeMo 25.11 container, Megatron-Core); FSDP";
        let cs = "FP8-CS (current scaling)";
        let n = |gpu, precision| {
            for_run(run(bridge, "Llama 3 70B", gpu, precision))
                .and_then(|c| c.activation_offload_layers)
        };
        assert_eq!(n("GB300", cs), Some(20));
        assert_eq!(n("GB200", cs), Some(40));
        assert_eq!(n("B200", cs), Some(5));
        assert_eq!(n("GB300", "BF16"), Some(30));
        assert_eq!(n("GB200", "BF16"), Some(20));
        // No preset offloads on H100, nor with MXFP8 (pp 4 x vpp 5 instead), nor for
        // Llama 3.1 70B or Llama 3 8B.
        assert_eq!(n("H100", cs), None);
        assert_eq!(n("GB300", "MXFP8 (FP8-MX)"), None);
        assert!(for_run(run(bridge, "Llama 3.1 70B", "GB300", cs)).is_none());
        assert!(for_run(run(bridge, "Llama 3 8B", "GB300", cs)).is_none());
    }

    #[test]
    fn a_bad_cell_names_its_line_and_column() {
        let head = "framework_pattern,model_pattern,gpu_type,precision_pattern,grad_bytes,optimizer_bytes,activation_offload_layers,ce_fusion,dropout,source\n";
        for (row, col) in [
            ("x,y,,,3,12,,,,z\n", "grad_bytes"),
            ("x,y,,,,,twenty,,,z\n", "activation_offload_layers"),
            ("x,y,,,,,,maybe,,z\n", "ce_fusion"),
            ("x,y,,,,,,,0.1,z\n", "dropout"),
        ] {
            let e = parse_table(&(head.to_string() + row))
                .unwrap_err()
                .to_string();
            assert!(e.contains("model_configs.csv:2") && e.contains(col), "{e}");
        }
    }
}
