//! The report folder: summary.json, layouts.csv, validation.csv, the charts as SVG and
//! PNG, report.md and report.html.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::charts::{
    bar_of, compact_file, layouts_chart, memory_chart, own_chart, tornado_chart, validation_chart,
};
use super::render::{html, markdown};
use super::text::short_name;
use super::{build, Plan, PlanOptions};
use crate::charts::{gantt, write_atomic};
use crate::error::{Error, Result};
use crate::search;
use crate::units::GIB;
use crate::validate;

/// The search's layouts as CSV (this plan's first), with the step split.
pub fn layouts_csv(p: &Plan) -> String {
    let mut out = String::from(
        "rank,gpus,gpus_used,tp,pp,dp,ep,cp,vpp,micro_batch,microbatches,global_batch_seqs,sequence_parallel,recompute,zero,schedule,step_s,compute_s,bubble_s,exposed_comm_s,other_s,mfu,days,usd,memory_peak_gib,memory_capacity_gib\n",
    );
    for c in &p.compared {
        let e = &c.est;
        let l = &e.layout;
        let bar = bar_of(c);
        let rank = if c.ranked.is_some() {
            c.tag.trim_start_matches("search #").to_string()
        } else {
            "plan".to_string()
        };
        let _ = writeln!(
            out,
            "{rank},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4},{:.2},{:.3},{:.3}",
            e.gpus_requested,
            e.gpus,
            l.tp,
            l.pp,
            l.dp,
            l.ep,
            l.cp,
            l.vpp,
            l.micro_batch,
            l.microbatches,
            l.global_batch_seqs,
            l.sequence_parallel,
            search::recompute_name(l.recompute),
            l.zero,
            l.schedule,
            e.time.step_s,
            bar.compute_s,
            bar.bubble_s,
            bar.comm_s,
            bar.other_s,
            e.mfu,
            e.time.days,
            e.cost.usd,
            e.memory.peak_bytes / GIB,
            e.memory.capacity_bytes / GIB
        );
    }
    out
}

/// Published runs against predictions, one row each.
pub fn validation_csv(r: &validate::Report) -> String {
    let mut out = String::from("row_id,group,quantity,published,predicted,error_pct\n");
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    for x in &r.predictions {
        let _ = writeln!(
            out,
            "{},{},{},{},{:.6},{:.2}",
            q(&x.row_id),
            q(&x.group),
            q(x.quantity),
            x.published,
            x.predicted,
            x.error_pct
        );
    }
    out
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
        put("validation.csv", validation_csv(v).as_bytes())?;
    }

    // Charts: each as SVG (kept for the page) and PNG.
    let mut svgs: Vec<(&str, String)> = Vec::new();
    let mut chart_files = Vec::new();
    if let Some(r) = &p.sim {
        for ext in ["svg", "png"] {
            let path = dir.join(format!("timeline.{ext}"));
            gantt::write(r, &short_name(&p.est.scenario), &path)?;
            chart_files.push(path);
        }
        svgs.push(("timeline", compact_file(&dir.join("timeline.svg"))?));
    }
    let mem = memory_chart(p);
    let lay = layouts_chart(p);
    let tor = tornado_chart(p);
    svgs.push(("memory", own_chart(&mem, dir, "memory", &mut chart_files)?));
    svgs.push((
        "layouts",
        own_chart(&lay, dir, "layouts", &mut chart_files)?,
    ));
    for ext in ["svg", "png"] {
        let path = dir.join(format!("sweep.{ext}"));
        search::chart::write(&p.sweep, &path)?;
        chart_files.push(path);
    }
    svgs.push(("sweep", compact_file(&dir.join("sweep.svg"))?));
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
