//! The run replayed failure by failure: exponential or Weibull times between
//! interruptions, spares tracked one by one, each run on its own ChaCha8 stream.

use rand::distr::Distribution;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use statrs::distribution::{Exp, Weibull};

use super::{closed_form, McSummary, Plan, MC_EVENT_BUDGET, MC_MAX_EVENTS_PER_RUN, MIN_MC_RUNS};
use crate::spec::reliability::FailureDistribution;

/// Draws running time until the next interruption.
enum Ttf {
    Exp(Exp),
    Weibull(Weibull),
}

impl Ttf {
    fn new(p: &Plan) -> Option<Ttf> {
        match p.distribution {
            FailureDistribution::Exponential => Exp::new(1.0 / p.mtbf_s).ok().map(Ttf::Exp),
            FailureDistribution::Weibull => {
                let k = p.weibull_shape;
                // Mean of Weibull(k, s) is s x Gamma(1 + 1/k): pick s for mean M.
                let scale = p.mtbf_s / statrs::function::gamma::gamma(1.0 + 1.0 / k);
                Weibull::new(k, scale).ok().map(Ttf::Weibull)
            }
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> f64 {
        match self {
            Ttf::Exp(d) => d.sample(rng),
            Ttf::Weibull(d) => d.sample(rng),
        }
    }
}

/// One replay of the whole run: (wall seconds, interruptions).
fn simulate_run(p: &Plan, ttf: &Ttf, rng: &mut ChaCha8Rng, max_events: u64) -> (f64, u64) {
    let tau = p.interval_s;
    let seg = tau + p.stall_s;
    let lag = p.durable_lag_s;
    let asynchronous = lag > 0.0;
    let mut wall = 0.0;
    let mut done = 0.0; // work completed since the start, seconds
    let mut durable = 0.0; // work level safe on storage
    let mut pending: Option<f64> = None; // async: snapshot being written, durable `lag` into the next segment
    let mut failures = 0u64;
    let mut repairs: Vec<f64> = Vec::new(); // wall times at which busy spares come back
    let mut f = ttf.draw(rng); // running time to the next failure
    while done < p.work_s && failures < max_events {
        let remaining = p.work_s - done;
        // Whole segments (compute + checkpoint) before the last one, all at once.
        let before_last = ((remaining / tau).ceil() - 1.0).max(0.0);
        let k = before_last.min((f / seg).floor());
        if k >= 1.0 {
            wall += k * seg;
            f -= k * seg;
            done += k * tau;
            if asynchronous {
                durable = done - tau;
                pending = Some(done);
            } else {
                durable = done;
            }
            continue;
        }
        // The next segment: the last one (no checkpoint after it) or one that fails.
        let last = before_last < 1.0;
        let c = if last { remaining } else { tau };
        let len = if last { c } else { seg };
        if f >= len {
            wall += len;
            f -= len;
            done += c;
            if asynchronous {
                if let Some(s) = pending {
                    durable = s;
                }
                pending = (!last).then_some(done);
            } else {
                durable = done;
            }
            continue;
        }
        // Failure `f` into the segment: roll back to the last durable checkpoint.
        wall += f;
        failures += 1;
        if let Some(s) = pending.take() {
            if f >= lag {
                durable = s;
            }
        }
        done = durable;
        let mut down = p.restart_s;
        if rng.random::<f64>() < p.hardware_fraction {
            if p.spare_nodes > 0 {
                repairs.retain(|&t| t > wall);
                if (repairs.len() as u64) < p.spare_nodes as u64 {
                    repairs.push(wall + p.node_repair_s);
                } else {
                    down += p.replacement_wait_s;
                }
            } else {
                down += p.replacement_wait_s;
            }
        }
        wall += down;
        f = ttf.draw(rng);
    }
    (wall, failures)
}

/// Linear-interpolated percentile of sorted values, `q` in 0-1.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let x = q * (sorted.len() - 1) as f64;
    let i = x.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (sorted[j] - sorted[i]) * (x - i as f64)
}

/// Replays the run `runs` times on ChaCha8 streams `0..runs` of `seed` (rayon over
/// runs; same seed, same numbers on any thread count). `None` when the distribution
/// cannot be built.
pub fn monte_carlo(p: &Plan, runs: u32, seed: u64) -> Option<McSummary> {
    let ttf = Ttf::new(p)?;
    if runs == 0 {
        return None;
    }
    // A run that would replay far more interruptions than expected is cut off there;
    // the cap only guards against pathological inputs.
    let expected = closed_form(p).interruptions;
    let max_events = (expected * 100.0 + 1e4).min(1e9) as u64;
    let results: Vec<(f64, u64)> = (0..runs)
        .into_par_iter()
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64);
            simulate_run(p, &ttf, &mut rng, max_events)
        })
        .collect();
    let n = results.len() as f64;
    let wall_mean_s = results.iter().map(|r| r.0).sum::<f64>() / n;
    let interruptions_mean = results.iter().map(|r| r.1 as f64).sum::<f64>() / n;
    let mut walls: Vec<f64> = results.iter().map(|r| r.0).collect();
    walls.sort_by(f64::total_cmp);
    Some(McSummary {
        runs,
        wall_mean_s,
        wall_p10_s: percentile(&walls, 0.1),
        wall_p50_s: percentile(&walls, 0.5),
        wall_p90_s: percentile(&walls, 0.9),
        interruptions_mean,
    })
}

/// Monte Carlo runs to do for a plan: the scenario's count, shrunk to the event budget.
pub fn mc_runs_for(requested: u32, interruptions_per_run: f64) -> u32 {
    if !interruptions_per_run.is_finite() || interruptions_per_run > MC_MAX_EVENTS_PER_RUN {
        return 0;
    }
    let budget = (MC_EVENT_BUDGET / interruptions_per_run.max(1.0)).floor();
    let budget = if budget >= u32::MAX as f64 {
        u32::MAX
    } else {
        budget as u32
    };
    requested.min(budget.max(MIN_MC_RUNS))
}
