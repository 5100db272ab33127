//! `llmplan calibrate runs FILE...`: fit cluster-level factors to measured step times
//! (published-format CSVs, or Megatron-LM / torchtitan logs with `--scenario`), print
//! before/after and leave-one-out errors, and write the calibrated profiles.

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
    let mut t = llmplan::report::table::styled(None);
    t.set_header(vec![
        "run",
        "measured s",
        "model s",
        "error",
        "calibrated s",
        "error",
        "leave-one-out",
    ]);
    for r in &c.runs {
        t.add_row(vec![
            r.id.clone(),
            format!("{:.3}", r.measured_step_s),
            format!("{:.3}", r.before_step_s),
            format!("{:+.1}%", r.before_error_pct),
            format!("{:.3}", r.after_step_s),
            format!("{:+.1}%", r.after_error_pct),
            format!("{:+.1}%", r.loo_error_pct),
        ]);
    }
    let f = &c.factors;
    let b = &c.bounds;
    out.push_str(&format!("{t}\n"));
    out.push_str(&format!(
        "mean |error|: {:.1}% before, {:.1}% after, {:.1}% leave-one-out\n\
         factors (bounds):\n  scale-up efficiency x {:.3} ({:.2}-{:.2}) -> {:.3}\n  scale-out efficiency x {:.3} ({:.2}-{:.2}) -> {:.3}\n  \
         sustained clock x {:.3} ({:.2}-{:.2}) -> {:.3}\n  per-step overhead {:.3} s ({:.0}-{:.0} s)\n",
        c.mape_before,
        c.mape_after,
        c.mape_loo,
        f.scale_up, b[0].0, b[0].1, c.cluster.scale_up.efficiency,
        f.scale_out, b[1].0, b[1].1, c.cluster.scale_out.efficiency,
        f.clock, b[2].0, b[2].1, c.gpu.efficiency.sustained_clock,
        f.overhead_s, b[3].0, b[3].1,
    ));
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
