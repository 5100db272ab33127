//! The report's own charts (memory, layouts compared, sensitivity) built from a plan,
//! and the layout bars `layouts.csv` shares with the layouts chart.

use std::path::{Path, PathBuf};

use super::text::{days, exposed_comm, short_layout, short_name};
use super::{Compared, Plan};
use crate::charts::canvas::{self, Chart};
use crate::charts::layouts::{LayoutBar, LayoutsChart};
use crate::charts::memory::MemoryChart;
use crate::charts::tornado::{TornadoChart, TornadoRow};
use crate::charts::write_atomic;
use crate::error::Result;
use crate::report::units::{pct, thousands, usd};

pub(super) fn bar_of(c: &Compared) -> LayoutBar {
    let e = &c.est;
    let b = &e.time.breakdown;
    let comm = exposed_comm(b);
    let other = (e.time.step_s - b.compute_s - b.bubble_s - comm).max(0.0);
    LayoutBar {
        label: format!("{}: {}", c.tag, short_layout(e)),
        compute_s: b.compute_s,
        bubble_s: b.bubble_s.max(0.0),
        comm_s: comm,
        other_s: other,
        note: format!(
            "{} | {} | MFU {}",
            days(e.time.days),
            usd(e.cost.usd),
            pct(e.mfu)
        ),
    }
}

/// The memory chart: memory per GPU by stage against capacity.
pub(super) fn memory_chart(p: &Plan) -> MemoryChart {
    MemoryChart {
        title: format!(
            "{}: memory per GPU by stage ({})",
            short_name(&p.est.scenario),
            p.est.gpu
        ),
        stages: p.est.stages.iter().map(|s| s.memory).collect(),
        capacity_bytes: p.est.memory.capacity_bytes,
    }
}

pub(super) fn layouts_chart(p: &Plan) -> LayoutsChart {
    LayoutsChart {
        title: format!(
            "{}: step time of the best layouts on {} GPUs",
            short_name(&p.est.scenario),
            thousands(p.est.gpus_requested)
        ),
        bars: p.compared.iter().map(bar_of).collect(),
    }
}

pub(super) fn tornado_chart(p: &Plan) -> TornadoChart {
    TornadoChart {
        title: format!(
            "{}: sensitivity to ±{:.0}% on each input",
            short_name(&p.est.scenario),
            p.delta * 100.0
        ),
        delta_pct: p.delta * 100.0,
        base: (p.est.time.days, p.est.cost.usd),
        rows: p
            .sensitivity
            .iter()
            .map(|s| TornadoRow {
                input: s.input.clone(),
                low: s.low,
                high: s.high,
            })
            .collect(),
    }
}

/// Writes `c` as `<stem>.svg` (compact) and `<stem>.png` in `dir`, adds both to
/// `files`, and returns the SVG text for the page.
pub(super) fn own_chart<C: Chart>(
    c: &C,
    dir: &Path,
    stem: &str,
    files: &mut Vec<PathBuf>,
) -> Result<String> {
    let svg = canvas::compact_svg(&canvas::svg(c)?);
    let path = dir.join(format!("{stem}.svg"));
    write_atomic(&path, svg.as_bytes())?;
    files.push(path);
    let png = dir.join(format!("{stem}.png"));
    canvas::write(c, &png)?;
    files.push(png);
    Ok(svg)
}

/// Predicted over published step time per row (headline quantities; rates inverted so
/// every dot reads the same way: above 1 = predicted slower), grouped by source.
pub fn validation_chart(v: &crate::validate::Report) -> crate::charts::validation::ValidationChart {
    crate::charts::validation::ValidationChart {
        title: "llmplan against published training runs: predicted / published step time".into(),
        points: v
            .predictions
            .iter()
            .filter(|p| p.headline)
            .map(|p| crate::charts::validation::Point {
                group: p.group.clone(),
                published: 1.0,
                predicted: 1.0 + p.time_error_pct / 100.0,
            })
            .collect(),
    }
}
