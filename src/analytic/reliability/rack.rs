//! A rack's failure domain: faults that take a whole NVLink domain out at once.
//!
//! On a GB200/GB300 NVL72 rack the 72 GPUs share nine NVLink switch trays, the rack's
//! power shelves and its liquid-cooling loop (coolant distribution unit, manifolds). A
//! fault in any of them stops every GPU of the rack together, and the synchronous job
//! restarts from its last checkpoint like after any other interruption. The GPU and
//! host terms ([`super::job_failure_rate`]) charge Llama 3's interruptions to GPUs and
//! 8-GPU hosts (Llama 3 Herd of Models, arXiv 2407.21783, table 5: no rack-wide
//! component in that H100 fleet); this term adds `racks / rack_mtbf` on top.
//!
//! No published rate exists for rack-level faults of NVL72 racks (searched: NVIDIA's
//! GB200/GB300 NVL72 material, operators' deployment notes; no failure counts), so
//! `reliability.rack_mtbf_hours` is an input with no default: without it the term is
//! zero and the estimate says so on clusters whose NVLink domain holds several nodes.
//! A rack is one NVLink domain; the job occupies as many as its GPUs fill at the
//! [`segment`] its layout uses (1,024 GPUs in 64-GPU segments: 16 racks).
//! Replacing a failed rack from spares is not modelled (spares are hosts).

use super::super::comm::{segment, span_of};
use super::super::estimate::Estimate;
use crate::spec::Scenario;

/// The rack term of a job: racks it occupies and their fault rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RackTerm {
    /// NVLink domains (racks) the job's GPUs occupy.
    pub racks: u64,
    /// Rack-level interruptions per second of the job (0 without `rack_mtbf_hours`).
    pub rate_per_s: f64,
}

/// The rack term of `est` on `sc`'s cluster: the job's GPUs over the GPUs of each rack
/// its layout fills, times one over `reliability.rack_mtbf_hours`.
pub fn rack_term(sc: &Scenario, est: &Estimate) -> RackTerm {
    let c = &sc.cluster;
    let l = &est.layout;
    let filled = segment(
        u64::from(c.nvlink_domain),
        u64::from(c.gpus_per_node),
        span_of(l.tp, l.cp, l.ep, l.etp),
    )
    .max(1);
    let racks = est.gpus.div_ceil(filled);
    RackTerm {
        racks,
        rate_per_s: sc
            .reliability
            .rack_mtbf_hours
            .map_or(0.0, |h| racks as f64 / (h * 3600.0)),
    }
}

/// The note an estimate carries about rack faults on a cluster whose NVLink domain
/// holds several nodes (an NVL72 rack); `None` elsewhere.
pub fn rack_note(sc: &Scenario, t: &RackTerm) -> Option<String> {
    let c = &sc.cluster;
    if c.nvlink_domain <= c.gpus_per_node {
        return None;
    }
    Some(match sc.reliability.rack_mtbf_hours {
        None => format!(
            "reliability: rack-level faults (NVLink switch tray, power shelf, cooling loop) that stop all {} GPUs \
             of a rack at once are not counted: no published rate; set reliability.rack_mtbf_hours \
             (the job spans {} racks)",
            c.nvlink_domain, t.racks
        ),
        Some(h) => format!(
            "reliability: rack-level faults at one per {} h per rack over {} racks: one per {:.1} h of the job",
            h,
            t.racks,
            1.0 / (t.rate_per_s * 3600.0)
        ),
    })
}
