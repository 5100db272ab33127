//! Failures, checkpoints and goodput: what a run costs once the cluster breaks.
//!
//! An ideal estimate prices a run as step time x steps. A synchronous job of
//! thousands of GPUs stops whenever any of them (or their hosts) fails: Llama 3 saw
//! 466 interruptions in 54 days on 16,384 H100 (arXiv 2407.21783, section 3.3.4;
//! the inputs and their sources are in [`crate::spec::reliability`]). This module
//! turns an [`Estimate`] into expected days and dollars with those interruptions.
//!
//! # The model
//! - Failure rate of the job: `lambda = GPUs / MTBF_gpu + nodes / MTBF_node + racks /
//!   MTBF_rack` (independent components; any failure stops the whole synchronous job;
//!   the rack term, a fault taking a whole NVLink domain out, in [`rack`]). `M = 1 / lambda`.
//! - Checkpoint size: what a restart needs, `C = params x (2 + optimizer_bytes_per_param)`
//!   bytes: bf16 weights plus fp32 master weights and Adam moments (12 B by default);
//!   gradients are not saved (a checkpoint is taken after the optimizer step).
//! - Write bandwidth: every node writes its shard at once, `B = min(nodes x
//!   write_bw_per_node, filesystem_bw)`; write time `W = C / B`. A restart reads the
//!   same bytes back at the same bandwidth.
//! - Stall per checkpoint `delta`: `W` when synchronous; when asynchronous only the
//!   device-to-host snapshot of what each GPU holds (its weights and optimizer shard)
//!   at `snapshot_bw_per_gpu`, and the checkpoint is durable `W` later.
//! - Interval: Young's first-order optimum `tau = sqrt(2 x delta x M)` (J. W. Young,
//!   "A first order approximation to the optimum checkpoint interval", CACM 17(9),
//!   1974; J. T. Daly, "A higher order estimate of the optimum checkpoint interval for
//!   restart dumps", FGCS 22(3), 2006), rounded to whole steps; at least one step, and
//!   for asynchronous checkpoints at least `W` so one write ends before the next starts.
//! - Lost work per failure: half a segment plus, for asynchronous checkpoints, the write
//!   lag: `L = (tau + delta) / 2 (+ W)`; downtime per failure `D = restart_s + W +
//!   hardware_fraction x P(no spare) x replacement_wait_s`, with `P(no spare)` the
//!   Erlang-B blocking probability of `spare_nodes` servers offered
//!   `hardware_fraction x (interruptions / wall) x node_repair_s` erlangs (A. K. Erlang,
//!   1917; insensitive to the repair-time distribution), solved together with the wall
//!   time it shortens; with no spares it is 1.
//! - Closed form (first order in the failure rate): useful time `T` (the ideal
//!   training time) needs `T + n_ckpt x delta` of running time without failures; every
//!   running second fails with rate `lambda` and each failure re-runs `L`, so running
//!   time is `(T + n_ckpt x delta) / (1 - lambda x L)`, interruptions are `lambda x
//!   running`, wall time is `running + interruptions x D`, and goodput is `T / wall`.
//! - Monte Carlo: the whole run replayed failure by failure (exponential or Weibull
//!   times between interruptions with mean `M`, statrs), spares tracked one by one, each
//!   run on its own ChaCha8 stream of the seed so the numbers do not depend on thread
//!   count; p10/p50/p90 of days and dollars and the mean number of interruptions.
//!   Dollars scale with wall time (GPUs are billed while the job waits) plus the spares.

use serde::Serialize;

use super::estimate::Estimate;
use crate::spec::reliability::{CheckpointMode, FailureDistribution, Reliability};
use crate::spec::Scenario;

mod monte_carlo;
pub mod rack;
pub use monte_carlo::{mc_runs_for, monte_carlo};
pub use rack::{rack_term, RackTerm};

/// Bytes of the bf16 working copy of the weights in a checkpoint.
pub const WEIGHT_BYTES: f64 = 2.0;

/// Monte Carlo budget: simulated interruptions over all runs of one estimate. Past it
/// the run count shrinks (never below [`MIN_MC_RUNS`]).
pub const MC_EVENT_BUDGET: f64 = 2e7;
/// Fewest Monte Carlo runs kept when the budget shrinks the count.
pub const MIN_MC_RUNS: u32 = 16;
/// Past this many interruptions per run the Monte Carlo is skipped for the normal
/// approximation of [`clt_percentiles`] (the total of 1e5 costs is normal to well under
/// a percent).
pub const MC_MAX_EVENTS_PER_RUN: f64 = 1e5;
/// Largest `lambda x L` the first-order closed form is trusted with; beyond it the run
/// re-does more than half its work and the estimate says so instead of a number.
pub const MAX_LOSS_RATE: f64 = 0.5;

/// The reliability block of an estimate (`reliability` in JSON). Seconds, bytes,
/// US dollars; fractions in 0-1.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReliabilityOut {
    /// Useful training time over wall time, closed form.
    pub goodput: f64,
    /// Interruptions expected over the run, closed form.
    pub interruptions: f64,
    /// Training seconds between checkpoints (whole steps).
    pub checkpoint_interval_s: f64,
    /// Steps between checkpoints.
    pub checkpoint_interval_steps: f64,
    /// Young's optimum before rounding: sqrt(2 x stall x MTBF), seconds.
    pub young_daly_interval_s: f64,
    /// Whether the interval was set in the scenario (false: Young/Daly).
    pub interval_from_scenario: bool,
    /// Wall-clock days without failures (the ideal estimate).
    pub days_ideal: f64,
    /// Dollars without failures (the ideal estimate).
    pub usd_ideal: f64,
    /// Expected wall-clock days with failures, closed form.
    pub days_expected: f64,
    /// Expected dollars with failures (spares included), closed form.
    pub usd_expected: f64,
    /// Expected GPU-hours billed with failures (spares included).
    pub gpu_hours_expected: f64,
    /// Monte Carlo mean of the days.
    pub days_mc_mean: f64,
    /// Monte Carlo 10th percentile of the days.
    pub days_p10: f64,
    /// Monte Carlo median of the days.
    pub days_p50: f64,
    /// Monte Carlo 90th percentile of the days.
    pub days_p90: f64,
    /// Monte Carlo 10th percentile of the dollars.
    pub usd_p10: f64,
    /// Monte Carlo median of the dollars.
    pub usd_p50: f64,
    /// Monte Carlo 90th percentile of the dollars.
    pub usd_p90: f64,
    /// Monte Carlo mean number of interruptions.
    pub interruptions_mc_mean: f64,
    /// Monte Carlo runs done (0 when a run has over 1e5 interruptions: the percentiles
    /// are then the normal approximation, [`clt_percentiles`]).
    pub mc_runs: u32,
    /// Seed of the Monte Carlo.
    pub seed: u64,
    /// Failures per hour of the whole job.
    pub failure_rate_per_hour: f64,
    /// Mean time between interruptions of the job, hours.
    pub job_mtbf_hours: f64,
    /// Nodes the job occupies.
    pub nodes: u64,
    /// NVLink domains the job occupies ([`rack`]): racks of an NVL72 cluster, hosts
    /// where a domain is one node.
    pub nvlink_domains: u64,
    /// Rack-level faults per hour of the job (in `failure_rate_per_hour`; 0 without
    /// `reliability.rack_mtbf_hours`).
    pub rack_failure_rate_per_hour: f64,
    /// Of `interruptions`, the rack-level ones expected, closed form.
    pub rack_interruptions: f64,
    /// Checkpoint size, bytes.
    pub checkpoint_bytes: f64,
    /// Aggregate write bandwidth, bytes/s.
    pub checkpoint_write_bw: f64,
    /// Time to write (or read back) one checkpoint, seconds.
    pub checkpoint_write_s: f64,
    /// Training stall per checkpoint, seconds.
    pub checkpoint_stall_s: f64,
    /// Checkpoint stalls as a share of the ideal training time.
    pub checkpoint_overhead: f64,
    /// Running time re-done per interruption, seconds.
    pub lost_work_s: f64,
    /// Downtime per interruption (restart, checkpoint read, wait for a host), seconds.
    pub downtime_s: f64,
    /// Probability that a failed host finds no free spare.
    pub no_spare_probability: f64,
    /// Hot-standby nodes billed.
    pub spare_nodes: u32,
    /// Dollars of the spares (in `usd_expected`).
    pub spare_usd: f64,
    /// Synchronous or asynchronous checkpoints.
    pub checkpoint_mode: CheckpointMode,
    /// Failure-time distribution of the Monte Carlo.
    pub distribution: FailureDistribution,
}

/// Everything the goodput arithmetic needs, in seconds (closed form and Monte Carlo
/// share it, so tests can build one directly).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Useful training time (ideal), seconds.
    pub work_s: f64,
    /// Compute between checkpoints, seconds.
    pub interval_s: f64,
    /// Training stall per checkpoint, seconds.
    pub stall_s: f64,
    /// Extra lag until a checkpoint is durable (asynchronous write), seconds.
    pub durable_lag_s: f64,
    /// Restart plus checkpoint read, seconds.
    pub restart_s: f64,
    /// Mean time between interruptions of the job, seconds.
    pub mtbf_s: f64,
    /// Share of interruptions that need a replacement host.
    pub hardware_fraction: f64,
    /// Hot spares.
    pub spare_nodes: u32,
    /// Wait when no spare is free, seconds.
    pub replacement_wait_s: f64,
    /// Repair time of a failed host, seconds.
    pub node_repair_s: f64,
    /// Time between interruptions.
    pub distribution: FailureDistribution,
    /// Weibull shape.
    pub weibull_shape: f64,
}

/// Closed-form result for a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedForm {
    /// Checkpoints taken (none after the last segment).
    pub checkpoints: f64,
    /// Running time re-done per interruption, seconds.
    pub lost_work_s: f64,
    /// Downtime per interruption, seconds.
    pub downtime_s: f64,
    /// Probability a failed host finds no spare.
    pub no_spare_probability: f64,
    /// Running time (training, stalls, re-done work), seconds.
    pub running_s: f64,
    /// Interruptions expected.
    pub interruptions: f64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// `work_s / wall_s`.
    pub goodput: f64,
}

/// Monte Carlo summary of a [`Plan`] (wall times in seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct McSummary {
    /// Runs done.
    pub runs: u32,
    /// Mean wall time.
    pub wall_mean_s: f64,
    /// 10th percentile of wall time.
    pub wall_p10_s: f64,
    /// Median wall time.
    pub wall_p50_s: f64,
    /// 90th percentile of wall time.
    pub wall_p90_s: f64,
    /// Mean interruptions per run.
    pub interruptions_mean: f64,
}

/// Interruptions per second of a job on `gpus` GPUs in `nodes` nodes.
pub fn job_failure_rate(r: &Reliability, gpus: f64, nodes: f64) -> f64 {
    gpus / (r.gpu_mtbf_hours * 3600.0) + nodes / (r.node_mtbf_hours * 3600.0)
}

/// Young's optimum interval of useful work between checkpoints: `sqrt(2 x stall x
/// MTBF)`, seconds (first order; Daly's higher-order correction subtracts `stall`).
pub fn young_daly_interval(stall_s: f64, mtbf_s: f64) -> f64 {
    (2.0 * stall_s * mtbf_s).sqrt()
}

/// Erlang-B blocking probability: `servers` busy-or-free servers offered `load`
/// erlangs; the share of arrivals that find all busy. Stable recursion.
pub fn erlang_b(servers: u32, load: f64) -> f64 {
    if load.is_nan() || load <= 0.0 {
        return if servers == 0 { 1.0 } else { 0.0 };
    }
    let mut b = 1.0;
    for n in 1..=servers {
        b = load * b / (n as f64 + load * b);
        if b < 1e-300 {
            return 0.0;
        }
    }
    b
}

/// The first-order closed form for a plan (module docs).
pub fn closed_form(p: &Plan) -> ClosedForm {
    let lambda = 1.0 / p.mtbf_s;
    let checkpoints = ((p.work_s / p.interval_s).ceil() - 1.0).max(0.0);
    let lost_work_s = (p.interval_s + p.stall_s) / 2.0 + p.durable_lag_s;
    let running_s = (p.work_s + checkpoints * p.stall_s) / (1.0 - lambda * lost_work_s);
    let interruptions = lambda * running_s;
    let at = |no_spare: f64| {
        let downtime_s = p.restart_s + p.hardware_fraction * no_spare * p.replacement_wait_s;
        (downtime_s, running_s + interruptions * downtime_s)
    };
    // Spares are offered the host failures per wall second (the job does not fail while
    // it waits), which depends on the wait they save: solve load = h x n / wall(load) x
    // repair by bisection (the right side falls as the load rises).
    let offered = |load: f64| {
        let (_, wall) = at(erlang_b(p.spare_nodes, load));
        p.hardware_fraction * interruptions / wall * p.node_repair_s
    };
    let no_spare_probability = if p.spare_nodes == 0 || p.replacement_wait_s == 0.0 {
        erlang_b(p.spare_nodes, offered(0.0))
    } else {
        let (mut lo, mut hi) = (0.0, offered(0.0));
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if offered(mid) > mid {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        erlang_b(p.spare_nodes, 0.5 * (lo + hi))
    };
    let (downtime_s, wall_s) = at(no_spare_probability);
    ClosedForm {
        checkpoints,
        lost_work_s,
        downtime_s,
        no_spare_probability,
        running_s,
        interruptions,
        wall_s,
        goodput: p.work_s / wall_s,
    }
}

/// p10/p50/p90 of the wall time from the central limit theorem, for runs with too many
/// interruptions to replay: the time lost is a compound Poisson sum of `n` costs
/// `U + D`, with `U` uniform over a segment `s` (exponential failures land uniformly in
/// it) plus the durable lag, and `D` the downtime, so its variance is `n x E[(U + D)^2]`
/// = `n x (s^2/3 + s x (lag + D) + (lag + D)^2)`, widened by `1 / (1 - lambda x L)` for
/// failures during re-done work; the 10th/90th percentiles are 1.2816 standard
/// deviations either side of the closed form (checked against the Monte Carlo in
/// `tests/reliability.rs`).
pub fn clt_percentiles(p: &Plan, cf: &ClosedForm) -> (f64, f64, f64) {
    let s = p.interval_s + p.stall_s;
    let fixed = p.durable_lag_s + cf.downtime_s;
    let second_moment = s * s / 3.0 + s * fixed + fixed * fixed;
    // Re-done work is itself exposed to failures: each cost spawns lambda x L more on
    // average, which widens the spread by about 1 / (1 - lambda x L).
    let branching = 1.0 / (1.0 - cf.lost_work_s / p.mtbf_s);
    let sd = (cf.interruptions * second_moment).sqrt() * branching;
    let z = 1.281_551_565_544_600_5;
    (
        (cf.wall_s - z * sd).max(p.work_s),
        cf.wall_s,
        cf.wall_s + z * sd,
    )
}

/// Checkpoint bytes of a scenario's model: weights plus optimizer state (module docs).
pub fn checkpoint_bytes(sc: &Scenario, params_total: f64) -> f64 {
    params_total * (WEIGHT_BYTES + sc.training.optimizer_bytes_per_param)
}

/// The plan and sizes behind an estimate's reliability figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// The goodput plan.
    pub plan: Plan,
    /// Failures per second of the job (the rack term included).
    pub lambda: f64,
    /// Nodes the job occupies.
    pub nodes: u64,
    /// Racks the job occupies and their fault rate.
    pub rack: RackTerm,
    /// Checkpoint bytes.
    pub checkpoint_bytes: f64,
    /// Aggregate write bandwidth, bytes/s.
    pub write_bw: f64,
    /// Write (and read-back) time, seconds.
    pub write_s: f64,
    /// Young's interval before rounding, seconds.
    pub young_daly_s: f64,
    /// Steps between checkpoints.
    pub interval_steps: f64,
}

/// Builds the plan for an estimate: rates, checkpoint size and bandwidth, interval.
pub fn derive(sc: &Scenario, est: &Estimate) -> Derived {
    let r = &sc.reliability;
    let gpn = sc.cluster.gpus_per_node.max(1) as u64;
    let nodes = est.gpus.div_ceil(gpn);
    let rack = rack_term(sc, est);
    let lambda = job_failure_rate(r, est.gpus as f64, nodes as f64) + rack.rate_per_s;
    let mtbf_s = 1.0 / lambda;
    let checkpoint_bytes = checkpoint_bytes(sc, est.model.params_total);
    let node_bw = nodes as f64 * r.write_bw_per_node;
    let write_bw = r.filesystem_bw.map_or(node_bw, |fs| node_bw.min(fs));
    let write_s = checkpoint_bytes / write_bw;
    let (stall_s, durable_lag_s) = match r.checkpoint_mode {
        CheckpointMode::Sync => (write_s, 0.0),
        CheckpointMode::Async => {
            let b = &est.memory.breakdown;
            ((b.weights + b.optimizer) / r.snapshot_bw_per_gpu, write_s)
        }
    };
    let step_s = est.time.step_s;
    let young_daly_s = young_daly_interval(stall_s, mtbf_s);
    let wanted = r.checkpoint_interval_s.unwrap_or(young_daly_s);
    let mut steps = (wanted / step_s).round().max(1.0);
    if r.checkpoint_mode == CheckpointMode::Async {
        // One background write must end before the next snapshot.
        steps = steps.max((write_s / step_s).ceil());
    }
    let work_s = est.time.steps * step_s;
    Derived {
        plan: Plan {
            work_s,
            interval_s: steps * step_s,
            stall_s,
            durable_lag_s,
            restart_s: r.restart_s + write_s,
            mtbf_s,
            hardware_fraction: r.hardware_fraction,
            spare_nodes: r.spare_nodes,
            replacement_wait_s: r.replacement_wait_s,
            node_repair_s: r.node_repair_s,
            distribution: r.distribution,
            weibull_shape: r.weibull_shape,
        },
        lambda,
        nodes,
        rack,
        checkpoint_bytes,
        write_bw,
        write_s,
        young_daly_s,
        interval_steps: steps,
    }
}

/// The reliability block for an estimate, and notes for its warnings. `None` when the
/// scenario turns reliability off, or when the run could not make progress (the note
/// says why); never a non-finite number.
pub fn assess(sc: &Scenario, est: &Estimate) -> (Option<ReliabilityOut>, Vec<String>) {
    let r = &sc.reliability;
    let mut notes = Vec::new();
    if !r.enabled {
        return (None, notes);
    }
    let d = derive(sc, est);
    let cf = closed_form(&d.plan);
    if let Some(note) = no_progress_note(&d, &cf) {
        notes.push(note);
        return (None, notes);
    }
    let (spread, spread_note) = wall_spread(r, &d.plan, &cf);
    notes.extend(spread_note);
    let out = reliability_out(sc, est, &d, &cf, &spread);
    if !out.all_finite() {
        notes.push(
            "reliability: the goodput arithmetic overflowed for these inputs; no expected days are given"
                .to_string(),
        );
        return (None, notes);
    }
    notes.extend(input_notes(sc));
    notes.extend(rack::rack_note(sc, &d.rack));
    (Some(out), notes)
}

/// Why no expected days are given when the first-order closed form no longer holds:
/// past [`MAX_LOSS_RATE`] the run re-does more than half its work (or the arithmetic is
/// not finite). `None` when the run makes progress.
fn no_progress_note(d: &Derived, cf: &ClosedForm) -> Option<String> {
    let p = &d.plan;
    let loss_rate = d.lambda * cf.lost_work_s;
    if loss_rate.is_finite() && loss_rate < MAX_LOSS_RATE {
        return None;
    }
    Some(format!(
        "reliability: the job fails every {:.0} s on average but a checkpoint segment is {:.0} s \
         (checkpoint write {:.0} s): it would re-do more than half its work, so no expected days \
         are given; add checkpoint bandwidth, lower reliability.checkpoint_interval_s, or use fewer GPUs",
        p.mtbf_s,
        p.interval_s + p.stall_s,
        d.write_s
    ))
}

/// The spread of the wall time over runs, seconds: the Monte Carlo's, or the normal
/// approximation's when a run has too many interruptions to replay.
struct WallSpread {
    /// Mean wall time, seconds (the closed form's under the normal approximation).
    mean_s: f64,
    /// 10th percentile of wall time, seconds.
    p10_s: f64,
    /// Median wall time, seconds.
    p50_s: f64,
    /// 90th percentile of wall time, seconds.
    p90_s: f64,
    /// Mean interruptions per run.
    interruptions_mean: f64,
    /// Monte Carlo runs done (0: normal approximation).
    runs: u32,
}

/// Replays the run (as many Monte Carlo runs as the event budget allows) or, past it,
/// takes the normal approximation; the note says when the run count was cut.
fn wall_spread(r: &Reliability, p: &Plan, cf: &ClosedForm) -> (WallSpread, Option<String>) {
    let runs = mc_runs_for(r.mc_runs, cf.interruptions);
    let mc = if runs > 0 {
        monte_carlo(p, runs, r.seed)
    } else {
        None
    };
    let note = if runs == 0 {
        Some(format!(
            "reliability: {:.3e} interruptions expected, too many to replay; the percentiles come from \
             the normal approximation around the closed form",
            cf.interruptions
        ))
    } else if runs < r.mc_runs {
        Some(format!(
            "reliability: Monte Carlo limited to {runs} runs of {:.0} interruptions each (asked for {})",
            cf.interruptions, r.mc_runs
        ))
    } else {
        None
    };
    let spread = match &mc {
        Some(m) => WallSpread {
            mean_s: m.wall_mean_s,
            p10_s: m.wall_p10_s,
            p50_s: m.wall_p50_s,
            p90_s: m.wall_p90_s,
            interruptions_mean: m.interruptions_mean,
            runs: m.runs,
        },
        None => {
            let (p10_s, p50_s, p90_s) = clt_percentiles(p, cf);
            WallSpread {
                mean_s: cf.wall_s,
                p10_s,
                p50_s,
                p90_s,
                interruptions_mean: cf.interruptions,
                runs: 0,
            }
        }
    };
    (spread, note)
}

/// What a run costs as its wall time stretches: dollars and GPU-hours accrue with wall
/// time (GPUs are billed while the job waits), and the spares are billed throughout.
struct Billing {
    /// Ideal (failure-free) training time, seconds.
    ideal_s: f64,
    /// Dollars of the ideal run.
    usd_ideal: f64,
    /// GPUs of the hot-standby nodes.
    spare_gpus: f64,
    /// Price, US dollars per GPU-hour.
    usd_per_gpu_hour: f64,
}

impl Billing {
    /// Wall time over the ideal time (1 for an empty run).
    fn stretch(&self, wall_s: f64) -> f64 {
        if self.ideal_s > 0.0 {
            wall_s / self.ideal_s
        } else {
            1.0
        }
    }

    /// Dollars of the spares over `wall_s` seconds.
    fn spare_usd(&self, wall_s: f64) -> f64 {
        self.spare_gpus * wall_s / 3600.0 * self.usd_per_gpu_hour
    }

    /// Dollars of a run that takes `wall_s` seconds, spares included.
    fn usd_at(&self, wall_s: f64) -> f64 {
        self.usd_ideal * self.stretch(wall_s) + self.spare_usd(wall_s)
    }
}

/// The reliability block from the plan, its closed form and the spread over runs
/// (days, dollars, GPU-hours; module docs).
fn reliability_out(
    sc: &Scenario,
    est: &Estimate,
    d: &Derived,
    cf: &ClosedForm,
    spread: &WallSpread,
) -> ReliabilityOut {
    let r = &sc.reliability;
    let p = &d.plan;
    let gpn = sc.cluster.gpus_per_node.max(1) as f64;
    let bill = Billing {
        ideal_s: p.work_s,
        usd_ideal: est.cost.usd,
        spare_gpus: r.spare_nodes as f64 * gpn,
        usd_per_gpu_hour: est.cost.usd_per_gpu_hour,
    };
    let day = 86400.0;
    ReliabilityOut {
        goodput: cf.goodput,
        interruptions: cf.interruptions,
        checkpoint_interval_s: p.interval_s,
        checkpoint_interval_steps: d.interval_steps,
        young_daly_interval_s: d.young_daly_s,
        interval_from_scenario: r.checkpoint_interval_s.is_some(),
        days_ideal: est.time.days,
        usd_ideal: est.cost.usd,
        days_expected: cf.wall_s / day,
        usd_expected: bill.usd_at(cf.wall_s),
        gpu_hours_expected: est.cost.gpu_hours * bill.stretch(cf.wall_s)
            + bill.spare_gpus * cf.wall_s / 3600.0,
        days_mc_mean: spread.mean_s / day,
        days_p10: spread.p10_s / day,
        days_p50: spread.p50_s / day,
        days_p90: spread.p90_s / day,
        usd_p10: bill.usd_at(spread.p10_s),
        usd_p50: bill.usd_at(spread.p50_s),
        usd_p90: bill.usd_at(spread.p90_s),
        interruptions_mc_mean: spread.interruptions_mean,
        mc_runs: spread.runs,
        seed: r.seed,
        failure_rate_per_hour: d.lambda * 3600.0,
        job_mtbf_hours: p.mtbf_s / 3600.0,
        nodes: d.nodes,
        nvlink_domains: d.rack.racks,
        rack_failure_rate_per_hour: d.rack.rate_per_s * 3600.0,
        rack_interruptions: cf.interruptions * d.rack.rate_per_s / d.lambda,
        checkpoint_bytes: d.checkpoint_bytes,
        checkpoint_write_bw: d.write_bw,
        checkpoint_write_s: d.write_s,
        checkpoint_stall_s: p.stall_s,
        checkpoint_overhead: if p.work_s > 0.0 {
            cf.checkpoints * p.stall_s / p.work_s
        } else {
            0.0
        },
        lost_work_s: cf.lost_work_s,
        downtime_s: cf.downtime_s,
        no_spare_probability: cf.no_spare_probability,
        spare_nodes: r.spare_nodes,
        spare_usd: bill.spare_usd(cf.wall_s),
        checkpoint_mode: r.checkpoint_mode,
        distribution: r.distribution,
    }
}

/// Notes on inputs that make the figures weaker than they look: Llama 3's failure
/// rates applied to another GPU, and spares that can shorten nothing.
fn input_notes(sc: &Scenario) -> Vec<String> {
    let r = &sc.reliability;
    let mut notes = Vec::new();
    let defaults = Reliability::default();
    if r.gpu_mtbf_hours == defaults.gpu_mtbf_hours
        && r.node_mtbf_hours == defaults.node_mtbf_hours
        && !sc.gpu.name.starts_with("h100")
    {
        notes.push(format!(
            "reliability: failure rates are Llama 3's on H100 (466 interruptions in 54 days on 16,384 GPUs), \
             applied to {}; set reliability.gpu_mtbf_hours and node_mtbf_hours for this fleet",
            sc.gpu.name
        ));
    }
    if r.spare_nodes > 0 && r.replacement_wait_s == 0.0 {
        notes.push(format!(
            "reliability: {} spare nodes are billed but reliability.replacement_wait_s is 0 \
             (a replacement host is always at hand), so they shorten nothing",
            r.spare_nodes
        ));
    }
    notes
}

impl ReliabilityOut {
    /// Every number finite (what [`assess`] guarantees before returning one).
    pub fn all_finite(&self) -> bool {
        [
            self.goodput,
            self.interruptions,
            self.checkpoint_interval_s,
            self.checkpoint_interval_steps,
            self.young_daly_interval_s,
            self.days_ideal,
            self.usd_ideal,
            self.days_expected,
            self.usd_expected,
            self.gpu_hours_expected,
            self.days_mc_mean,
            self.days_p10,
            self.days_p50,
            self.days_p90,
            self.usd_p10,
            self.usd_p50,
            self.usd_p90,
            self.interruptions_mc_mean,
            self.failure_rate_per_hour,
            self.rack_failure_rate_per_hour,
            self.rack_interruptions,
            self.job_mtbf_hours,
            self.checkpoint_bytes,
            self.checkpoint_write_bw,
            self.checkpoint_write_s,
            self.checkpoint_stall_s,
            self.checkpoint_overhead,
            self.lost_work_s,
            self.downtime_s,
            self.no_spare_probability,
            self.spare_usd,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}
