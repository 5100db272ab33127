//! `llmplan report`: a planning report (Markdown, self-contained HTML, JSON, CSV and
//! charts) for one scenario, or for every built-in scenario with `--all`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use llmplan::report::plan::{self, PlanOptions};
use llmplan::spec::catalog;
use llmplan::Error;

/// Arguments of `llmplan report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Scenario YAML file or built-in scenario name; the seed when left out.
    scenario: Option<String>,
    /// Directory to write into (with --all: one subdirectory per built-in scenario).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
    /// Overwrite files in a directory that is not empty.
    #[arg(long)]
    force: bool,
    /// Also predict the published runs and write validation.csv.
    #[arg(long)]
    validation: bool,
    /// Every built-in scenario, each into DIR/<name> (how `reports/` is regenerated).
    #[arg(long, conflicts_with = "scenario")]
    all: bool,
    /// Layouts of the search to compare with the plan's own.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Override a scenario field, e.g. `--set layout.tp=4` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// Runs the command; returns what to print.
pub fn run(a: ReportArgs) -> Result<String, Error> {
    let opts = PlanOptions {
        validation: a.validation,
        top: a.top,
        ..PlanOptions::default()
    };
    let mut out = String::new();
    let jobs: Vec<(Option<String>, PathBuf)> = if a.all {
        catalog::names(catalog::SCENARIOS)
            .into_iter()
            .map(|n| (Some(n.to_string()), a.out.join(n)))
            .collect()
    } else {
        vec![(a.scenario.clone(), a.out.clone())]
    };
    if a.all && a.out.exists() && !a.force {
        return Err(Error::Usage(format!(
            "{}: already exists; pass --force to regenerate the reports in it",
            a.out.display()
        )));
    }
    for (name, dir) in jobs {
        let start = Instant::now();
        let files = plan::generate(name.as_deref(), &a.set, &dir, &opts, a.force)?;
        out.push_str(&format!(
            "{}: {} files in {:.2} s\n",
            dir.display(),
            files.len(),
            start.elapsed().as_secs_f64()
        ));
        for f in files {
            out.push_str(&format!("  {}\n", rel(&f, &dir)));
        }
    }
    Ok(out)
}

fn rel(f: &Path, dir: &Path) -> String {
    f.strip_prefix(dir).unwrap_or(f).display().to_string()
}
