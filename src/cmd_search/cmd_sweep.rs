//! `llmplan sweep`: the best layout per GPU count and type, with its Pareto frontier
//! (the sweep is `llmplan::search::sweep`'s, its rendering `llmplan::report::sweep`'s).

use super::{load, options, OutputFormat, Progress, SweepArgs};
use llmplan::charts::canvas;
use llmplan::charts::sweep::SweepChart;
use llmplan::search::space::parse_gpus;
use llmplan::search::sweep::{self, SweepOptions};
use llmplan::Error;

/// `llmplan sweep`: what to print, and the failure to end with when no point fits.
pub fn sweep(a: SweepArgs) -> Result<(String, Option<Error>), Error> {
    let sc = load(a.scenario.as_deref(), &a.space.set, None)?;
    let node = sc.cluster.gpus_per_node;
    let mut so = options(&sc, &a.space)?;
    so.sim_top = 0;
    let opts = SweepOptions {
        gpus: parse_gpus(&a.gpus, node)?,
        types: a.gpu.clone(),
        search: so,
    };
    if let Some(dir) = &a.out {
        prepare_out(dir, a.force)?;
    }
    let progress = Progress::new("sweeping");
    let tick = |d: u64, t: u64| progress.tick(d, t);
    let s = sweep::sweep(&sc, &opts, Some(&tick))?;
    progress.finish();
    let mut written = Vec::new();
    if let Some(dir) = &a.out {
        let csv_path = dir.join("sweep.csv");
        llmplan::charts::write_atomic(&csv_path, llmplan::report::csv::sweep_csv(&s).as_bytes())?;
        written.push(csv_path);
        for ext in ["svg", "png"] {
            let p = dir.join(format!("sweep.{ext}"));
            canvas::write(&SweepChart { sweep: &s }, &p)?;
            written.push(p);
        }
    }
    let verdict = s.points.iter().all(|p| p.best.is_none()).then(|| {
        Error::Unmet(format!(
            "no layout fits at any of the {} (GPU type, count) points swept",
            s.points.len()
        ))
    });
    let mut text = match a.format {
        OutputFormat::Csv => llmplan::report::csv::sweep_csv(&s),
        OutputFormat::Json => llmplan::report::sweep::sweep_json(&s),
        OutputFormat::Table => llmplan::report::sweep::sweep_table(&s),
    };
    if a.format == OutputFormat::Table {
        for p in &written {
            text.push_str(&format!("wrote {}\n", p.display()));
        }
    } else {
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok((text, verdict))
}

fn prepare_out(dir: &std::path::Path, force: bool) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.display().to_string(),
        source: e,
    })?;
    if !force {
        for f in ["sweep.csv", "sweep.svg", "sweep.png"] {
            let p = dir.join(f);
            if p.exists() {
                return Err(Error::Usage(format!(
                    "{} exists; pass --force to replace it",
                    p.display()
                )));
            }
        }
    }
    Ok(())
}
