//! The built-in catalog: GPU, cluster and model profiles and the seed scenario,
//! embedded in the binary so `llmplan` works from any directory.

use serde::de::DeserializeOwned;

use super::yaml::Source;
use crate::error::{Error, Result};

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)))),*]
    };
}

/// Built-in GPU profiles: (path, text).
pub const GPUS: &[(&str, &str)] = embed![
    "hardware-profiles/gpus/v100-sxm2-32gb.yaml",
    "hardware-profiles/gpus/a100-sxm-40gb.yaml",
    "hardware-profiles/gpus/a100-sxm-80gb.yaml",
    "hardware-profiles/gpus/h100-sxm.yaml",
    "hardware-profiles/gpus/h100-sxm-96gb.yaml",
    "hardware-profiles/gpus/h100-pcie.yaml",
    "hardware-profiles/gpus/h800-sxm.yaml",
    "hardware-profiles/gpus/h200-sxm.yaml",
    "hardware-profiles/gpus/b200-sxm.yaml",
    "hardware-profiles/gpus/gb200.yaml",
    "hardware-profiles/gpus/b300-sxm.yaml",
    "hardware-profiles/gpus/gb300.yaml",
    "hardware-profiles/gpus/mi300x.yaml",
    "hardware-profiles/gpus/mi325x.yaml",
    "hardware-profiles/gpus/mi350x.yaml",
    "hardware-profiles/gpus/mi355x.yaml",
];

/// Built-in cluster profiles.
pub const CLUSTERS: &[(&str, &str)] = embed![
    "hardware-profiles/clusters/dgx1-v100.yaml",
    "hardware-profiles/clusters/dgx-a100.yaml",
    "hardware-profiles/clusters/dgx-a100-40gb.yaml",
    "hardware-profiles/clusters/dgx-h100.yaml",
    "hardware-profiles/clusters/grand-teton-h100.yaml",
    "hardware-profiles/clusters/dgx-h200.yaml",
    "hardware-profiles/clusters/hgx-h800.yaml",
    "hardware-profiles/clusters/dgx-b200.yaml",
    "hardware-profiles/clusters/gb200-nvl72.yaml",
    "hardware-profiles/clusters/pcie-h100.yaml",
    "hardware-profiles/clusters/dgx-b300.yaml",
    "hardware-profiles/clusters/gb300-nvl72.yaml",
    "hardware-profiles/clusters/mi300x-8.yaml",
    "hardware-profiles/clusters/mi325x-8.yaml",
    "hardware-profiles/clusters/mi350x-8.yaml",
    "hardware-profiles/clusters/mi355x-8.yaml",
];

/// Built-in model specs.
pub const MODELS: &[(&str, &str)] = embed![
    "models/gpt3-175b.yaml",
    "models/megatron-1t.yaml",
    "models/llama2-70b.yaml",
    "models/llama3-8b.yaml",
    "models/llama3-70b.yaml",
    "models/llama3-405b.yaml",
    "models/mixtral-8x7b.yaml",
    "models/deepseek-v3.yaml",
    "models/bloom-176b.yaml",
    "models/opt-175b.yaml",
    "models/gpt4-moe-1.8t.yaml",
    "models/gpt3-5b.yaml",
    "models/gpt3-20b.yaml",
    "models/llama2-7b.yaml",
    "models/llama2-13b.yaml",
    "models/llama2-34b.yaml",
    "models/nemotron-3-8b.yaml",
    "models/nemotron-3-22b.yaml",
    "models/nemotron-4-340b.yaml",
    "models/qwen3-30b-a3b.yaml",
    "models/qwen3-235b-a22b.yaml",
    "models/mixtral-8x22b.yaml",
    "models/gpt-oss-20b.yaml",
    "models/gpt-oss-120b.yaml",
];

/// Ready scenarios shipped with llmplan; the first is the seed.
pub const SCENARIOS: &[(&str, &str)] = embed![
    "scenarios/gpt4-moe-a100.yaml",
    "scenarios/gpt4-moe-h100.yaml",
    "scenarios/gpt3-175b-a100.yaml",
    "scenarios/llama3-405b-h100.yaml",
    "scenarios/deepseek-v3-h800.yaml",
    "scenarios/llama3-405b-gb300.yaml",
];

/// Name of a catalog entry: the file stem.
fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".yaml").unwrap_or(file)
}

/// Names of the entries of one table, in catalog order.
pub fn names(table: &'static [(&'static str, &'static str)]) -> Vec<&'static str> {
    table.iter().map(|(p, _)| stem(p)).collect()
}

/// The built-in source text for `name` in `table`.
pub fn source(table: &[(&str, &str)], name: &str) -> Option<Source> {
    table
        .iter()
        .find(|(p, _)| stem(p) == name)
        .map(|(p, t)| Source {
            name: format!("builtin:{p}"),
            text: (*t).to_string(),
        })
}

/// Parses the built-in entry `name` of `table`; `kind` names the table in errors.
pub fn load<T: DeserializeOwned + schemars::JsonSchema>(
    table: &[(&str, &str)],
    kind: &'static str,
    name: &str,
) -> Result<T> {
    match source(table, name) {
        Some(src) => src.parse_checked(),
        None => Err(Error::UnknownName {
            kind,
            name: name.to_string(),
            known: table
                .iter()
                .map(|(p, _)| stem(p))
                .collect::<Vec<_>>()
                .join(", "),
            location: None,
        }),
    }
}
