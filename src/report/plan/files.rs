//! The report folder: summary.json, layouts.csv, validation.csv, the charts as SVG and
//! PNG, report.md and report.html.

use std::path::{Path, PathBuf};

use super::charts::{
    bar_of, layouts_chart, memory_chart, own_chart, tornado_chart, validation_chart,
};
use super::render::{html, markdown};
use super::text::short_name;
use super::{build, Plan, PlanOptions};
use crate::charts::gantt::Gantt;
use crate::charts::sweep::SweepChart;
use crate::charts::write_atomic;
use crate::error::{Error, Result};

/// The search's layouts as CSV (this plan's first), with the step split.
pub fn layouts_csv(p: &Plan) -> String {
    use crate::report::csv::{days, fraction, gib, seconds, usd, CsvTable};
    let mut header = vec!["rank", "gpus", "gpus_used"];
    header.extend(crate::report::csv::LAYOUT_COLUMNS);
    header.extend([
        "step_s",
        "compute_s",
        "bubble_s",
        "exposed_comm_s",
        "other_s",
        "mfu",
        "days",
        "usd",
        "memory_peak_gib",
        "memory_capacity_gib",
    ]);
    let mut t = CsvTable::new(header);
    for c in &p.compared {
        let e = &c.est;
        let bar = bar_of(c);
        let rank = if c.ranked.is_some() {
            c.tag.trim_start_matches("search #").to_string()
        } else {
            "plan".to_string()
        };
        let mut row = vec![rank, e.gpus_requested.to_string(), e.gpus.to_string()];
        row.extend(crate::report::layout::LayoutSummary::of_estimate(&e.layout).cells());
        row.extend([
            seconds(e.time.step_s),
            seconds(bar.compute_s),
            seconds(bar.bubble_s),
            seconds(bar.comm_s),
            seconds(bar.other_s),
            fraction(e.mfu),
            days(e.time.days),
            usd(e.cost.usd),
            gib(e.memory.peak_bytes),
            gib(e.memory.capacity_bytes),
        ]);
        t.row(row);
    }
    t.finish()
}

/// Writes the report into `dir` and returns the files written, in order. `dir` must
/// not exist or be empty unless `force`; every file goes to a temporary name first.
pub fn write(p: &Plan, dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
    let werr = |e: std::io::Error| Error::Write {
        path: dir.display().to_string(),
        source: e,
    };
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir).map_err(werr)?.next().is_some();
        if non_empty && !force {
            return Err(Error::Usage(format!(
                "{}: already exists and is not empty; pass --force to overwrite",
                dir.display()
            )));
        }
    } else {
        std::fs::create_dir_all(dir).map_err(werr)?;
    }
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(name);
        write_atomic(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    put(
        "summary.json",
        crate::report::estimate_json(&p.est).as_bytes(),
    )?;
    put("layouts.csv", layouts_csv(p).as_bytes())?;
    if let Some(v) = &p.validation {
        put(
            "validation.csv",
            crate::report::csv::validation_csv(v).as_bytes(),
        )?;
    }

    // Charts: each as SVG (kept for the page) and PNG.
    let mut svgs: Vec<(&str, String)> = Vec::new();
    let mut chart_files = Vec::new();
    if let Some(r) = &p.sim {
        let title = short_name(&p.est.scenario);
        let gantt = Gantt {
            result: r,
            title: &title,
        };
        svgs.push((
            "timeline",
            own_chart(&gantt, dir, "timeline", &mut chart_files)?,
        ));
    }
    let mem = memory_chart(p);
    let lay = layouts_chart(p);
    let tor = tornado_chart(p);
    svgs.push(("memory", own_chart(&mem, dir, "memory", &mut chart_files)?));
    svgs.push((
        "layouts",
        own_chart(&lay, dir, "layouts", &mut chart_files)?,
    ));
    let sweep = SweepChart { sweep: &p.sweep };
    svgs.push(("sweep", own_chart(&sweep, dir, "sweep", &mut chart_files)?));
    svgs.push((
        "sensitivity",
        own_chart(&tor, dir, "sensitivity", &mut chart_files)?,
    ));

    if let Some(v) = &p.validation {
        let c = validation_chart(v);
        svgs.push((
            "validation",
            own_chart(&c, dir, "validation", &mut chart_files)?,
        ));
    }

    put("report.md", markdown(p).as_bytes())?;
    put("report.html", html(p, &svgs).as_bytes())?;
    written.extend(chart_files);
    Ok(written)
}

/// Builds and writes the report of the scenario `spec` (a path or built-in name, with
/// `--set` overrides) into `dir`.
pub fn generate(
    spec: Option<&str>,
    overrides: &[String],
    dir: &Path,
    opts: &PlanOptions,
    force: bool,
) -> Result<Vec<PathBuf>> {
    let sc = crate::spec::scenario::load(spec, overrides)?;
    let plan = build(&sc, opts)?;
    write(&plan, dir, force)
}
