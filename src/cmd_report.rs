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
    if !a.all && !a.force && non_empty(&a.out) {
        return Err(Error::Usage(format!(
            "{}: already exists and is not empty; pass --force to replace it",
            a.out.display()
        )));
    }
    for (name, dir) in jobs {
        let start = Instant::now();
        let spin = super::cmd_progress::spinner(&format!("report {}", dir.display()));
        let files = generate_atomically(name.as_deref(), &a.set, &dir, &opts);
        super::cmd_progress::done(spin);
        let (files, tmp) = files?;
        out.push_str(&format!(
            "{}: {} files in {:.2} s\n",
            dir.display(),
            files.len(),
            start.elapsed().as_secs_f64()
        ));
        for f in files {
            out.push_str(&format!("  {}\n", rel(&f, &tmp)));
        }
    }
    Ok(out)
}

fn non_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// Writes the report into a hidden sibling of `dir`, then renames it into place: an
/// interrupted run (Ctrl-C, a full disk) leaves `dir` as it was, or absent, never
/// half-written. With `--force` the old folder is renamed aside, the new one in, and
/// the old one removed. Returns the files (under the temporary name) and that name.
fn generate_atomically(
    name: Option<&str>,
    set: &[String],
    dir: &Path,
    opts: &PlanOptions,
) -> Result<(Vec<PathBuf>, PathBuf), Error> {
    let werr = |p: &Path| {
        let p = p.display().to_string();
        move |source| Error::Write { path: p, source }
    };
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Usage(format!("{}: not a folder name", dir.display())))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(werr(&parent))?;
    remove_stale(&parent, &base);
    let pid = std::process::id();
    let tmp = parent.join(format!(".{base}.partial-{pid}"));
    let old = parent.join(format!(".{base}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    // Created before any work: an unwritable place fails now, not after the report.
    std::fs::create_dir(&tmp).map_err(werr(&tmp))?;
    let files = match plan::generate(name, set, &tmp, opts, true) {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(dir, &old).map_err(werr(dir))?;
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(werr(dir)(e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok((files, tmp))
}

/// Removes `.{base}.partial-PID` and `.{base}.old-PID` folders that an interrupted run
/// left in `parent`, when process PID is gone (checked through /proc, so on Linux).
fn remove_stale(parent: &Path, base: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let pid = [".partial-", ".old-"].iter().find_map(|k| {
            n.strip_prefix(&format!(".{base}{k}"))
                .and_then(|p| p.parse::<u32>().ok())
        });
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn rel(f: &Path, dir: &Path) -> String {
    f.strip_prefix(dir).unwrap_or(f).display().to_string()
}
