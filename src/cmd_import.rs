//! `llmplan import hf CONFIG [-o model.yaml]`: a Hugging Face config.json as a model YAML.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use llmplan::analytic;
use llmplan::report::units;
use llmplan::spec::hf;
use llmplan::Error;

/// Arguments of `llmplan import`.
#[derive(Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    from: ImportFrom,
}

#[derive(Subcommand)]
enum ImportFrom {
    /// A Hugging Face `config.json` (Llama 3/4, Qwen2/3, Qwen3-MoE, Mixtral, DeepSeek-V3,
    /// gpt-oss, Gemma 2/3, Phi-3, Mistral, GLM-4.5, Nemotron).
    Hf {
        /// Path to config.json; the model is named after its directory.
        config: PathBuf,
        /// Write the model YAML here instead of printing it.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// Runs the import; returns what to print.
pub fn run(args: ImportArgs) -> Result<String, Error> {
    let ImportFrom::Hf { config, output } = args.from;
    let m = hf::load(&config)?;
    m.validate()?;
    let c = analytic::count(&m);
    let header = format!(
        "# Imported by `llmplan import hf {}`: {} parameters, {} active per token.\n",
        config.display(),
        units::count(c.total),
        units::count(c.active)
    );
    let text = format!("{header}{}", hf::to_yaml(&m));
    match output {
        None => Ok(text),
        Some(p) => {
            std::fs::write(&p, &text).map_err(|source| Error::Write {
                path: p.display().to_string(),
                source,
            })?;
            Ok(format!("wrote {} ({})\n", p.display(), m.name))
        }
    }
}
