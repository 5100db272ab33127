//! How many GPUs, and which: the best layout for each GPU count and GPU type, and the
//! Pareto frontier of (days, dollars) over all of them.
//!
//! Each GPU type runs on its catalog cluster (`a100` -> `dgx-a100`, `h100` ->
//! `dgx-h100`, ...). The scenario's price per GPU-hour applies to its own GPU; other
//! GPUs are priced at their profile's list price.

use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::spec::catalog;
use crate::spec::cluster::ClusterProfile;
use crate::spec::gpu::GpuProfile;
use crate::spec::Scenario;

use super::{search, Objective, Ranked, SearchOptions};

/// Short GPU-type names and the catalog cluster each runs on.
pub const GPU_TYPES: &[(&str, &str)] = &[
    ("a100", "dgx-a100"),
    ("a100-40gb", "dgx-a100-40gb"),
    ("h100", "dgx-h100"),
    ("h100-pcie", "pcie-h100"),
    ("h200", "dgx-h200"),
    ("h800", "hgx-h800"),
    ("b200", "dgx-b200"),
    ("gb200", "gb200-nvl72"),
    ("b300", "dgx-b300"),
    ("gb300", "gb300-nvl72"),
    ("mi300x", "mi300x-8"),
    ("mi325x", "mi325x-8"),
    ("mi355x", "mi355x-8"),
];

/// A GPU type resolved to its cluster and GPU profile.
#[derive(Debug, Clone)]
pub struct GpuType {
    /// The name as given (or the scenario's GPU).
    pub label: String,
    /// Cluster profile.
    pub cluster: ClusterProfile,
    /// GPU profile.
    pub gpu: GpuProfile,
}

/// Resolves `name`: a short type (`h100`), a cluster name (`dgx-h100`) or a GPU
/// profile name (`h100-sxm`, run on the first cluster built from it).
pub fn gpu_type(name: &str) -> Result<GpuType> {
    let n = name.trim().to_ascii_lowercase();
    let cluster_name = if let Some((_, c)) = GPU_TYPES.iter().find(|(s, _)| *s == n) {
        (*c).to_string()
    } else if catalog::names(catalog::CLUSTERS).contains(&n.as_str()) {
        n.clone()
    } else if catalog::names(catalog::GPUS).contains(&n.as_str()) {
        catalog::names(catalog::CLUSTERS)
            .into_iter()
            .find(|c| {
                catalog::load::<ClusterProfile>(catalog::CLUSTERS, "cluster", c)
                    .is_ok_and(|cl| cl.gpu == n)
            })
            .ok_or_else(|| Error::Usage(format!("--gpu {name}: no catalog cluster uses this GPU")))?
            .to_string()
    } else {
        return Err(Error::Usage(format!(
            "--gpu {name}: unknown GPU type; known: {}, or a cluster ({}) or GPU ({}) name",
            GPU_TYPES.iter().map(|t| t.0).collect::<Vec<_>>().join(", "),
            catalog::names(catalog::CLUSTERS).join(", "),
            catalog::names(catalog::GPUS).join(", ")
        )));
    };
    let cluster: ClusterProfile = catalog::load(catalog::CLUSTERS, "cluster", &cluster_name)?;
    let gpu: GpuProfile = catalog::load(catalog::GPUS, "gpu", &cluster.gpu)?;
    Ok(GpuType {
        label: n,
        cluster,
        gpu,
    })
}

/// `sc` moved onto `t` (same model, training and layout knobs); the scenario's price
/// only where the GPU is the scenario's own.
pub fn scenario_on(sc: &Scenario, t: &GpuType) -> Scenario {
    let mut s = sc.clone();
    if t.gpu.name != sc.gpu.name {
        s.pricing.usd_per_gpu_hour = None;
    }
    s.cluster = t.cluster.clone();
    s.gpu = t.gpu.clone();
    s
}

/// Sweep settings.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// GPU counts.
    pub gpus: Vec<u64>,
    /// GPU types (empty: the scenario's own).
    pub types: Vec<String>,
    /// Search settings for each point (its `gpus` and `top` are overridden).
    pub search: SearchOptions,
}

/// The best layout for one GPU count and type.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// GPU type label.
    pub gpu_type: String,
    /// GPU profile name.
    pub gpu: String,
    /// Cluster profile name.
    pub cluster: String,
    /// GPUs.
    pub gpus: u64,
    /// Price applied, $/GPU-hour.
    pub usd_per_gpu_hour: f64,
    /// Best layout, or `None` when nothing fits.
    pub best: Option<Ranked>,
    /// Layouts the cost model ran on.
    pub evaluated: u64,
    /// Layouts that fit.
    pub feasible: u64,
    /// On the Pareto frontier of (days, dollars) over every point.
    pub pareto: bool,
}

/// A whole sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    /// Scenario title.
    pub scenario: String,
    /// Objective that picked each point's best layout.
    pub objective: Objective,
    /// Points, by type then GPU count.
    pub points: Vec<Point>,
    /// Wall time, seconds.
    pub elapsed_s: f64,
}

/// Runs the sweep. `progress` is told (points done, points).
pub fn sweep(
    sc: &Scenario,
    opts: &SweepOptions,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<Sweep> {
    let start = Instant::now();
    let types: Vec<GpuType> = if opts.types.is_empty() {
        vec![GpuType {
            label: short_label(&sc.gpu.name),
            cluster: sc.cluster.clone(),
            gpu: sc.gpu.clone(),
        }]
    } else {
        opts.types
            .iter()
            .map(|t| gpu_type(t))
            .collect::<Result<_>>()?
    };
    let total = (types.len() * opts.gpus.len()) as u64;
    let mut points = Vec::new();
    for t in &types {
        let s = scenario_on(sc, t);
        for &g in &opts.gpus {
            let mut so = opts.search.clone();
            so.gpus = vec![g];
            so.top = 1;
            so.sim_top = 0;
            let out = search(&s, &so, None)?;
            points.push(Point {
                gpu_type: t.label.clone(),
                gpu: t.gpu.name.clone(),
                cluster: t.cluster.name.clone(),
                gpus: g,
                usd_per_gpu_hour: s.pricing.usd_per_gpu_hour.unwrap_or(s.gpu.usd_per_hour),
                best: out.results.into_iter().next(),
                evaluated: out.evaluated,
                feasible: out.feasible,
                pareto: false,
            });
            if let Some(p) = progress {
                p(points.len() as u64, total);
            }
        }
    }
    let xy: Vec<Option<(f64, f64)>> = points
        .iter()
        .map(|p| p.best.as_ref().map(|b| (b.days, b.usd)))
        .collect();
    for (p, on) in points.iter_mut().zip(pareto(&xy)) {
        p.pareto = on;
    }
    Ok(Sweep {
        scenario: sc.name.clone(),
        objective: opts.search.objective,
        points,
        elapsed_s: start.elapsed().as_secs_f64(),
    })
}

/// "a100-sxm-80gb" -> "a100".
fn short_label(gpu: &str) -> String {
    GPU_TYPES
        .iter()
        .find(|(s, c)| {
            catalog::load::<ClusterProfile>(catalog::CLUSTERS, "cluster", c)
                .is_ok_and(|cl| cl.gpu == gpu)
                && !s.is_empty()
        })
        .map_or_else(|| gpu.to_string(), |(s, _)| (*s).to_string())
}

/// Which points are on the Pareto frontier of (x, y), both minimised: no other point
/// is at least as good in both and better in one. Missing points are never on it;
/// of exact duplicates, the first is.
pub fn pareto(pts: &[Option<(f64, f64)>]) -> Vec<bool> {
    pts.iter()
        .enumerate()
        .map(|(i, p)| {
            let Some((x, y)) = *p else { return false };
            !pts.iter().enumerate().any(|(j, q)| {
                let Some((qx, qy)) = *q else { return false };
                j != i
                    && ((qx <= x && qy <= y && (qx < x || qy < y)) || (qx == x && qy == y && j < i))
            })
        })
        .collect()
}
