//! `llmplan calibrate runs FILE...`: fit cluster-level factors to measured step times
//! (published-format CSVs, or Megatron-LM / torchtitan logs with `--scenario`), print
//! before/after and leave-one-out errors (`llmplan::report::calibration`), and write the
//! calibrated profiles.

use std::path::PathBuf;

use llmplan::spec::scenario;
use llmplan::validate::{logs, rows, runs};
use llmplan::Error;

/// Arguments of `calibrate runs`.
#[derive(clap::Args)]
pub struct RunsArgs {
    /// CSVs in the published-runs columns, or training logs (Megatron-LM, torchtitan).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The scenario each log ran (scenario file or built-in name); needed for logs.
    #[arg(long)]
    scenario: Option<String>,
    /// Override a scenario field for the logs' scenario, e.g. `--set layout.tp=4`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Name of the calibrated profiles (suffix to the cluster's and GPU's names).
    #[arg(long, default_value = "calibrated")]
    name: String,
    /// Directory to write `<cluster>-<name>.yaml` and `<gpu>-<name>.yaml` into.
    #[arg(long)]
    write: Option<PathBuf>,
}

fn read(p: &std::path::Path) -> Result<String, Error> {
    llmplan::input::read_text(p)
}

/// Runs the calibration and renders the report.
pub fn run(a: RunsArgs) -> Result<String, Error> {
    let mut all = Vec::new();
    let mut out = String::new();
    for f in &a.files {
        let name = f.display().to_string();
        let text = read(f)?;
        if name.ends_with(".csv") {
            let (r, skipped) = runs::runs_from_rows(&rows::parse(&name, &text)?);
            for (id, why) in skipped {
                out.push_str(&format!("{name}: {id} not used: {why}\n"));
            }
            all.extend(r);
        } else {
            let times = logs::parse(&name, &text)?;
            let sc = scenario::load(
                Some(a.scenario.as_deref().ok_or_else(|| {
                    Error::Usage(format!(
                        "{name} is a log: name the scenario it ran with --scenario"
                    ))
                })?),
                &a.set,
            )?;
            let step = logs::median(&times.step_s);
            out.push_str(&format!(
                "{name}: {} log, {} iteration times, median {:.3} s\n",
                times.format,
                times.step_s.len(),
                step
            ));
            all.push(runs::Run {
                id: name,
                scenario: sc,
                measured_step_s: step,
            });
        }
    }
    let c = runs::calibrate(&all, &a.name)?;
    out.push_str(&llmplan::report::calibration::runs_report(&c));
    if let Some(dir) = &a.write {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let gpu_path = dir.join(format!("{}.yaml", c.gpu.name));
        let cluster_path = dir.join(format!("{}.yaml", c.cluster.name));
        write(&gpu_path, &c.gpu)?;
        write(&cluster_path, &c.cluster)?;
        out.push_str(&format!(
            "wrote {} and {}; name them in a scenario:\n  cluster: {}\n  gpu: {}\n",
            cluster_path.display(),
            gpu_path.display(),
            cluster_path.display(),
            gpu_path.display()
        ));
    }
    Ok(out)
}

/// Writes a profile as JSON, which is YAML: the scenario loader reads it as any profile.
fn write<T: serde::Serialize>(path: &std::path::Path, v: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::Usage(e.to_string()))? + "\n";
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}
