//! `llmplan export --to FRAMEWORK [SCENARIO]`: the launch configuration of a layout.

use clap::Args;

use llmplan::export::{self, Target};
use llmplan::report::layout::LayoutSummary;
use llmplan::search::{self, SearchOptions};
use llmplan::spec::scenario;
use llmplan::Error;

/// Arguments of `llmplan export`.
#[derive(Args)]
pub struct ExportArgs {
    /// Framework: megatron, megatron-bridge, torchtitan, deepspeed or nemo.
    #[arg(long = "to", value_name = "FRAMEWORK", value_parser = Target::NAMES.to_vec())]
    to: String,
    /// Scenario YAML file or built-in scenario name; the seed when left out.
    scenario: Option<String>,
    /// GPUs to use instead of the scenario's.
    #[arg(long)]
    gpus: Option<u64>,
    /// Override a scenario field, e.g. `--set layout.tp=4` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Export the best layout a search finds (default options, ranked by time) instead
    /// of the scenario's own.
    #[arg(long)]
    best: bool,
}

/// Runs the export: the launch text on stdout, notes on stderr.
pub fn run(a: ExportArgs) -> Result<String, Error> {
    let target = Target::parse(&a.to)?;
    let mut overrides = a.set;
    if let Some(g) = a.gpus {
        overrides.push(format!("gpus={g}"));
    }
    let mut sc = scenario::load(a.scenario.as_deref(), &overrides)?;
    if a.best {
        let out = search::search(&sc, &SearchOptions::for_scenario(&sc), None)?;
        let top = out.results.first().ok_or_else(|| {
            Error::Usage("the search found no layout that fits; nothing to export".into())
        })?;
        sc = search::scenario_for(&sc, &top.layout, top.gpus);
        eprintln!(
            "note: best layout found: {:#} on {} GPUs",
            LayoutSummary::of_ranked(top),
            top.gpus
        );
    }
    let out = export::export(target, &sc)?;
    for n in &out.notes {
        eprintln!("note: {n}");
    }
    Ok(out.text)
}
