//! Step-time variability: every operation's duration scaled by a log-normal factor of
//! mean 1 and a given coefficient of variation, optionally one slow rank, over many
//! simulated steps in parallel.
//!
//! Step `k` draws from ChaCha8 stream `k` of the seed, so results do not depend on
//! how rayon splits the work: the same seed gives the same numbers, byte for byte.

use rand::distr::Distribution;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::LogNormal;

use super::engine::Program;
use crate::error::{Error, Result};

/// A slow GPU: every compute operation of one pipeline rank takes `factor` times as
/// long (a thermally throttled or degraded GPU, a noisy neighbour on its NIC).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Straggler {
    /// Slowdown, at least 1 (1.2 = 20% slower).
    pub factor: f64,
    /// The slow rank, 0-based; `None` draws one uniformly for each step (where a
    /// failing GPU lands is not known in advance).
    pub stage: Option<u32>,
}

/// Variability to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Jitter {
    /// Coefficient of variation of each operation's duration (standard deviation over
    /// mean), 0 for none.
    pub cv: f64,
    /// An optional slow rank.
    pub straggler: Option<Straggler>,
}

/// Percentiles of step time over the simulated steps, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Mean.
    pub mean_s: f64,
    /// Median (nearest rank).
    pub p50_s: f64,
    /// 90th percentile (nearest rank).
    pub p90_s: f64,
    /// 99th percentile (nearest rank).
    pub p99_s: f64,
    /// Fastest step.
    pub min_s: f64,
    /// Slowest step.
    pub max_s: f64,
}

impl Percentiles {
    fn of(mut v: Vec<f64>) -> Percentiles {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let q = |x: f64| v[((x * n as f64).ceil() as usize).clamp(1, n) - 1];
        Percentiles {
            mean_s: v.iter().sum::<f64>() / n as f64,
            p50_s: q(0.50),
            p90_s: q(0.90),
            p99_s: q(0.99),
            min_s: v[0],
            max_s: v[n - 1],
        }
    }
}

/// What a straggler costs, from paired runs (the same jitter draws with and without it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StragglerCost {
    /// The straggler simulated.
    pub straggler: Straggler,
    /// Step times with the straggler.
    pub with: Percentiles,
    /// Mean extra step time the straggler causes, seconds.
    pub expected_cost_s: f64,
    /// `expected_cost_s` over the mean step without it, 0-1 and beyond.
    pub expected_cost_frac: f64,
}

/// Result of a Monte Carlo run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonteCarlo {
    /// Steps simulated, count.
    pub steps: u32,
    /// Seed.
    pub seed: u64,
    /// Coefficient of variation applied.
    pub cv: f64,
    /// Step time with no jitter, seconds.
    pub deterministic_s: f64,
    /// Step times with jitter (no straggler).
    pub jitter: Percentiles,
    /// The straggler's cost, when one was given.
    pub straggler: Option<StragglerCost>,
}

/// Simulates `steps` steps of `prog` with `jitter`, seeded by `seed`, in parallel.
pub fn monte_carlo(prog: &Program, jitter: &Jitter, steps: u32, seed: u64) -> Result<MonteCarlo> {
    if steps == 0 {
        return Err(Error::invalid("steps", "must be at least 1"));
    }
    if !(jitter.cv.is_finite() && (0.0..=10.0).contains(&jitter.cv)) {
        return Err(Error::invalid(
            "jitter",
            format!(
                "coefficient of variation must be in [0, 10], got {}",
                jitter.cv
            ),
        )
        .with_suggestion("0.05 for 5% run-to-run variation per kernel"));
    }
    let p = prog.pp() as u32;
    if let Some(s) = jitter.straggler {
        if !(s.factor.is_finite() && s.factor >= 1.0) {
            return Err(Error::invalid(
                "straggler",
                format!("slowdown factor must be at least 1, got {}", s.factor),
            )
            .with_suggestion("1.2 for a GPU 20% slower than its peers"));
        }
        if let Some(st) = s.stage {
            if st >= p {
                return Err(Error::invalid(
                    "straggler_stage",
                    format!("stage {st} does not exist with pp {p}"),
                )
                .with_suggestion(format!("a stage in 0..{}", p - 1)));
            }
        }
    }
    let dist = if jitter.cv > 0.0 {
        // Mean 1: sigma^2 = ln(1 + cv^2), mu = -sigma^2 / 2.
        let sigma2 = (1.0 + jitter.cv * jitter.cv).ln();
        Some(
            LogNormal::new(-sigma2 / 2.0, sigma2.sqrt())
                .map_err(|e| Error::invalid("jitter", e.to_string()))?,
        )
    } else {
        None
    };
    let base = prog.base();
    let n = base.len();
    let mut ws0 = prog.workspace();
    let deterministic_s = prog.step_times(&mut ws0, base)?.step_s;

    let runs: Vec<(f64, Option<f64>)> = (0..steps)
        .into_par_iter()
        .map_init(
            || (prog.workspace(), vec![0.0; n], vec![0.0; n]),
            |(ws, dj, ds), k| -> Result<(f64, Option<f64>)> {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(u64::from(k));
                let slow = jitter
                    .straggler
                    .map(|s| (s.factor, s.stage.unwrap_or_else(|| rng.random_range(0..p))));
                match &dist {
                    Some(d) => {
                        for (x, b) in dj.iter_mut().zip(base) {
                            *x = b * d.sample(&mut rng);
                        }
                    }
                    None => dj.copy_from_slice(base),
                }
                let without = prog.step_times(ws, dj)?.step_s;
                let with = match slow {
                    Some((factor, stage)) => {
                        for (i, (x, j)) in ds.iter_mut().zip(dj.iter()).enumerate() {
                            *x = if prog.rank(i) == stage {
                                j * factor
                            } else {
                                *j
                            };
                        }
                        Some(prog.step_times(ws, ds)?.step_s)
                    }
                    None => None,
                };
                Ok((without, with))
            },
        )
        .collect::<Result<Vec<_>>>()?;

    let jitter_p = Percentiles::of(runs.iter().map(|r| r.0).collect());
    let straggler = jitter.straggler.map(|s| {
        let with: Vec<f64> = runs.iter().filter_map(|r| r.1).collect();
        let cost = runs
            .iter()
            .filter_map(|r| r.1.map(|w| w - r.0))
            .sum::<f64>()
            / runs.len() as f64;
        StragglerCost {
            straggler: s,
            with: Percentiles::of(with),
            expected_cost_s: cost,
            expected_cost_frac: cost / jitter_p.mean_s,
        }
    });
    Ok(MonteCarlo {
        steps,
        seed,
        cv: jitter.cv,
        deterministic_s,
        jitter: jitter_p,
        straggler,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimInput;
    use crate::spec::layout::Schedule;

    fn prog() -> Program {
        Program::compile(&SimInput::uniform(Schedule::OneFOneB, 4, 8, 1, 1.0, 2.0)).unwrap()
    }

    #[test]
    fn no_jitter_reproduces_the_deterministic_step() {
        let mc = monte_carlo(&prog(), &Jitter::default(), 3, 1).unwrap();
        assert_eq!(mc.jitter.p50_s, mc.deterministic_s);
        assert_eq!(mc.jitter.max_s, 33.0);
    }

    #[test]
    fn jitter_spreads_and_a_fixed_straggler_costs_time() {
        let j = Jitter {
            cv: 0.1,
            straggler: Some(Straggler {
                factor: 1.5,
                stage: Some(2),
            }),
        };
        let mc = monte_carlo(&prog(), &j, 64, 7).unwrap();
        assert!(mc.jitter.p99_s > mc.jitter.p50_s);
        let s = mc.straggler.unwrap();
        assert!(s.expected_cost_s > 0.0);
        assert!(s.with.p50_s > mc.jitter.p50_s);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let bad = |cv: f64, f: f64, st: Option<u32>| {
            monte_carlo(
                &prog(),
                &Jitter {
                    cv,
                    straggler: Some(Straggler {
                        factor: f,
                        stage: st,
                    }),
                },
                2,
                0,
            )
            .is_err()
        };
        assert!(bad(-0.1, 1.2, None));
        assert!(bad(0.1, 0.8, None));
        assert!(bad(0.1, 1.2, Some(4)));
        assert!(!bad(0.1, 1.2, Some(3)));
    }
}
