//! The scenario's own layout priced as the search prices every layout, the re-timing of
//! results with the simulator, and the full estimate of a ranked layout.

use super::fast::{Env, Scratch};
use super::rules::Reason;
use super::space::Space;
use super::{ranked, Baseline, LayoutKey, Ranked, SearchOptions};
use crate::analytic::compute::KernelModel;
use crate::analytic::{self, Estimate, EstimateOptions, Setup};
use crate::error::Result;
use crate::spec::layout::ResolvedLayout;
use crate::spec::training::Recompute;
use crate::spec::Scenario;

/// The scenario's own layout on `opts.gpus[0]` GPUs, priced as the search prices
/// every layout (its kernel model, its fast path): what `estimate` gives for the same
/// layout, to 1e-9 (`tests/search.rs`). Not ranked (`rank` is `None`).
pub fn price_own_layout(sc: &Scenario, opts: &SearchOptions) -> Baseline {
    let kernels = crate::calibrate::kernel_model_on(sc, opts.gpus[0]);
    baseline(sc, None, &kernels, opts)
}

/// The scenario's own layout; `in_space` says whether `space` (when given) holds it.
pub(super) fn baseline(
    sc: &Scenario,
    space: Option<&Space>,
    kernels: &(dyn KernelModel + Sync),
    opts: &SearchOptions,
) -> Baseline {
    let gpus = opts.gpus[0];
    let setup = match Setup::resolve_on(sc, kernels, gpus) {
        Ok(s) => s,
        Err(e) => {
            return Baseline {
                ranked: None,
                rank: None,
                rejected: Some(format!("{} ({e})", Reason::from_error(&e).key())),
                in_space: false,
            }
        }
    };
    let rl = &setup.layout;
    let rc = sc.training.recompute;
    let in_space = space.is_some_and(|space| {
        space.tp.contains(&rl.tp)
            && space.pp.contains(&rl.pp)
            && space.dp.as_ref().is_none_or(|d| d.contains(&rl.dp))
            && space.ep.contains(&rl.ep)
            && space.etps(rl.tp, rl.ep).contains(&rl.etp)
            && space.cp.contains(&rl.cp)
            && space.vpp.contains(&rl.vpp)
            && space.micro_batch.contains(&rl.micro_batch)
            && (rl.tp == 1 || space.sequence_parallel.contains(&rl.sequence_parallel))
            && space.recompute.contains(&rc)
            && space.zero.contains(&rl.zero)
            && space.schedule.contains(&rl.schedule)
            && space.pairs(rl.pp, rl.vpp, rl.schedule)
            && sc.layout.layers_per_stage.is_none()
    });
    let mut own = sc.clone();
    own.reliability.enabled = false;
    let env = Env::new(&own, kernels, opts.headroom);
    finish_baseline(&env, rl, rc, gpus, opts, in_space)
}

pub(super) fn finish_baseline(
    env: &Env,
    rl: &ResolvedLayout,
    rc: Recompute,
    gpus: u64,
    opts: &SearchOptions,
    in_space: bool,
) -> Baseline {
    let inn = env.inner(rl);
    let mut scratch = Scratch::default();
    let tokens = env.sc.training.tokens;
    match env.eval(&inn, rl, gpus, &mut scratch) {
        Ok(e) => Baseline {
            ranked: Some(ranked(
                rl,
                rc,
                gpus,
                &e,
                tokens,
                env.sc.gpu.memory_bytes,
                opts.objective.score(&e, tokens),
            )),
            rank: None,
            rejected: None,
            in_space,
        },
        Err(r) => Baseline {
            ranked: None,
            rank: None,
            rejected: Some(r.key().to_string()),
            in_space,
        },
    }
}

/// Re-times `results` with the discrete-event simulator ([`crate::sim::SimPipeline`]
/// as the estimate's pipeline model: same stage costs, the schedule played event by
/// event) and fills `sim_step_s`; returns whether any was re-timed. The ranking keeps
/// the analytic order; the simulator's number sits beside it.
pub fn retime_with_sim(sc: &Scenario, results: &mut [Ranked]) -> bool {
    let mut any = false;
    for r in results.iter_mut() {
        let mut s = scenario_for(sc, &r.layout, r.gpus);
        s.reliability.enabled = false;
        let kernels = crate::calibrate::kernel_model_for(&s);
        let Ok(setup) = Setup::resolve_on(&s, &kernels, s.gpus) else {
            continue;
        };
        match analytic::estimate::evaluate_with(
            &setup,
            &EstimateOptions::default(),
            Some(&crate::sim::SimPipeline),
        ) {
            Ok(e) => {
                r.sim_step_s = Some(e.time.step_s);
                any = true;
            }
            Err(e) => r.sim_error = Some(e.to_string()),
        }
    }
    any
}

/// The scenario `sc` with `key`'s layout and recompute policy on `gpus` GPUs.
pub fn scenario_for(sc: &Scenario, key: &LayoutKey, gpus: u64) -> Scenario {
    let mut s = sc.clone();
    s.layout = key.to_layout(&sc.layout);
    s.training.recompute = key.recompute;
    s.gpus = gpus;
    s
}

/// The full analytic estimate of a ranked layout (breakdown, memory parts, warnings).
pub fn full_estimate(sc: &Scenario, r: &Ranked) -> Result<Estimate> {
    let s = scenario_for(sc, &r.layout, r.gpus);
    crate::setup::estimate(&s, &EstimateOptions::default())
}
