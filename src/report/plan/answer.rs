//! The report's first section: the answer in a few lines.

use super::text::{days, layout_text, secs, short_layout};
use super::Plan;
use crate::analytic::Estimate;
use crate::report::units::{gib, pct, span, thousands, usd};

/// The answer as (fact, value) lines: GPUs, layout, time, cost, MFU, memory, failures,
/// energy and the best layout the search found.
pub(super) fn answer(p: &Plan) -> Vec<(String, String)> {
    let mut f = headline(p);
    outlook(p, &mut f);
    f
}

/// GPUs, layout, training time, cost and MFU.
fn headline(p: &Plan) -> Vec<(String, String)> {
    let e = &p.est;
    let mut f = Vec::new();
    let gpus = if e.gpus == e.gpus_requested {
        format!(
            "{} x {} ({})",
            thousands(e.gpus),
            p.scenario.gpu.display_name,
            e.cluster
        )
    } else {
        format!(
            "{} of {} requested x {} ({}); the layout uses whole replicas",
            thousands(e.gpus),
            thousands(e.gpus_requested),
            p.scenario.gpu.display_name,
            e.cluster
        )
    };
    f.push(("GPUs".into(), gpus));
    f.push(("Layout".into(), layout_text(e)));
    f.push((
        "Training time".into(),
        format!(
            "{} without failures ({} per step, {} steps)",
            days(e.time.days),
            secs(e.time.step_s),
            thousands(e.time.steps.round() as u64)
        ),
    ));
    if let Some(u) = &e.uncertainty {
        f.push((
            "Error band".into(),
            format!(
                "{}; {} to {}: step-time errors {:+.0}% to {:+.0}% on those runs",
                crate::analytic::uncertainty::describe_days(u),
                usd(u.usd_p10),
                usd(u.usd_p90),
                u.error_pct[0],
                u.error_pct[1]
            ),
        ));
    }
    if let Some(c) = nic_contention(e) {
        f.push(("NIC contention".into(), c));
    }
    f.push((
        "Cost".into(),
        format!(
            "{} ({} GPU-hours at ${:.2}/GPU-hour{})",
            usd(e.cost.usd),
            thousands(e.cost.gpu_hours.round() as u64),
            e.cost.usd_per_gpu_hour,
            if e.cost.gpus_billed != e.gpus {
                format!(", {} GPUs billed", thousands(e.cost.gpus_billed))
            } else {
                String::new()
            }
        ),
    ));
    f.push((
        "MFU".into(),
        format!(
            "{} (with attention FLOPs {}, HFU {})",
            pct(e.mfu),
            pct(e.mfu_with_attention),
            pct(e.hfu)
        ),
    ));
    f
}

/// Memory, failures, energy and the best layout found.
fn outlook(p: &Plan, f: &mut Vec<(String, String)>) {
    let e = &p.est;
    let free = e.memory.capacity_bytes - e.memory.peak_bytes;
    f.push((
        "Memory".into(),
        if e.memory.fits {
            format!(
                "peak {} of {} per GPU (stage {}): {} headroom ({})",
                gib(e.memory.peak_bytes),
                gib(e.memory.capacity_bytes),
                e.memory.busiest_stage,
                gib(free),
                pct(free / e.memory.capacity_bytes)
            )
        } else {
            format!(
                "DOES NOT FIT: peak {} of {} per GPU (stage {}), {} over",
                gib(e.memory.peak_bytes),
                gib(e.memory.capacity_bytes),
                e.memory.busiest_stage,
                gib(-free)
            )
        },
    ));
    match &e.reliability {
        Some(r) => f.push((
            "With failures".into(),
            format!(
                "expected {} and {} (P10-P90 {:.1}-{:.1} days); ~{} interruptions, goodput {}",
                days(r.days_expected),
                usd(r.usd_expected),
                r.days_p10,
                r.days_p90,
                thousands(r.interruptions.round() as u64),
                pct(r.goodput)
            ),
        )),
        None => f.push((
            "With failures".into(),
            "not estimated (see warnings)".into(),
        )),
    }
    f.push((
        "Energy".into(),
        format!("{:.0} MWh at the facility", e.energy.mwh),
    ));
    if let Some(best) = p.compared.iter().find(|c| c.ranked.is_some()) {
        let rank = p
            .search
            .baseline
            .as_ref()
            .and_then(|b| b.rank)
            .map_or("is not among the feasible layouts".to_string(), |r| {
                format!("ranks #{r} of {}", thousands(p.search.feasible))
            });
        f.push((
            "Best layout found".into(),
            format!(
                "{}: {}, {} (MFU {}); this plan's layout {} by training days",
                short_layout(&best.est),
                days(best.est.time.days),
                usd(best.est.cost.usd),
                pct(best.est.mfu),
                rank
            ),
        ));
    }
}

/// What sharing each GPU's NIC between parallelisms costs this layout: the step and
/// the run's wall clock with the shared-link model next to every collective alone on
/// its NIC. `None` when no traffic overlaps on a NIC (or the cluster turns contention
/// off).
fn nic_contention(e: &Estimate) -> Option<String> {
    let c = e.time.nic_contention_s;
    if c <= 0.0 {
        return None;
    }
    Some(format!(
        "+{} per step ({}; {} of wall clock over the run): {} per step with shared NICs, {} with every collective alone on its NIC",
        secs(c),
        pct(c / e.time.step_s),
        span(c * e.time.steps),
        secs(e.time.step_s),
        secs(e.time.step_s - c),
    ))
}
