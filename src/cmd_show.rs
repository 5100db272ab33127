//! `llmplan show model|gpu|cluster NAME-or-FILE`: one entry in detail, from the catalog,
//! a YAML file, or (models) a Hugging Face config.json; printed by
//! `llmplan::report::catalog`.

use std::path::Path;

use llmplan::spec::yaml::Source;
use llmplan::spec::{catalog, hf, ClusterProfile, GpuProfile, ModelSpec};
use llmplan::Error;

fn is_file(name: &str) -> bool {
    name.contains('/')
        || name.ends_with(".yaml")
        || name.ends_with(".yml")
        || name.ends_with(".json")
}

/// A model by catalog name, YAML file, `hf:PATH` or a `config.json` path.
pub fn load_model(name: &str) -> Result<ModelSpec, Error> {
    let hf_path = name
        .strip_prefix("hf:")
        .or(name.ends_with(".json").then_some(name));
    let mut m: ModelSpec = match hf_path {
        Some(p) => hf::load(Path::new(p))?,
        None if is_file(name) => Source::read(Path::new(name))?.parse_checked()?,
        None => catalog::load(catalog::MODELS, "model", name)?,
    };
    let stem = Path::new(name.trim_start_matches("hf:"))
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("custom");
    m.fill_names(stem);
    m.validate()?;
    Ok(m)
}

/// A GPU by catalog name or YAML file.
pub fn load_gpu(name: &str) -> Result<GpuProfile, Error> {
    if is_file(name) {
        Source::read(Path::new(name))?.parse_checked()
    } else {
        catalog::load(catalog::GPUS, "gpu", name)
    }
}

/// A cluster by catalog name or YAML file.
pub fn load_cluster(name: &str) -> Result<ClusterProfile, Error> {
    if is_file(name) {
        Source::read(Path::new(name))?.parse_checked()
    } else {
        catalog::load(catalog::CLUSTERS, "cluster", name)
    }
}
