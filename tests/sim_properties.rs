//! Properties of the simulator over random pipelines (proptest): bounds on the
//! makespan, monotonicity in micro-batches and slowdowns, and seeded determinism.

use llmplan::sim::{
    monte_carlo, simulate, Jitter, NicShare, Program, SimInput, StageSpec, Straggler,
};
use llmplan::spec::layout::Schedule;
use proptest::prelude::*;

/// A valid (schedule, p, v, m) and random stage times, p2p links and blocking mode.
fn pipeline() -> impl Strategy<Value = SimInput> {
    let shape = prop_oneof![
        (1u32..7, 1u32..13).prop_map(|(p, m)| (Schedule::Gpipe, p, 1, m)),
        (1u32..9, 1u32..20).prop_map(|(p, m)| (Schedule::OneFOneB, p, 1, m)),
        (1u32..9, 1u32..20).prop_map(|(p, m)| (Schedule::ZbH1, p, 1, m)),
        (1u32..6, 2u32..4, 1u32..4).prop_map(|(p, v, k)| (Schedule::Interleaved, p, v, p * k)),
        (1u32..4, 0u32..4).prop_map(|(h, extra)| (Schedule::DualPipe, 2 * h, 1, 4 * h + 2 * extra)),
    ];
    shape.prop_flat_map(|(s, p, v, m)| {
        (
            prop::collection::vec((0.1f64..3.0, 0.1f64..5.0, 0.0f64..1.0), p as usize),
            prop::collection::vec(0.0f64..0.5, p as usize),
            any::<bool>(),
        )
            .prop_map(move |(st, links, blocking)| SimInput {
                schedule: s,
                microbatches: m,
                vpp: v,
                stages: st
                    .into_iter()
                    .map(|(f, b, wf)| {
                        let mut x = StageSpec::compute_only(f, b);
                        x.wgrad_s = b * wf;
                        x
                    })
                    .collect(),
                p2p_s: links,
                p2p_blocking: blocking,
                dp_overlap: true,
                nic: NicShare::default(),
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn makespan_bounds(inp in pipeline()) {
        let r = simulate(&inp).unwrap();
        let tol = 1e-9 * r.pipeline_s.max(1.0);
        prop_assert!(r.pipeline_s + tol >= inp.critical_path_s(), "{} < critical path {}", r.pipeline_s, inp.critical_path_s());
        let busiest = r.stages.iter().map(|s| s.compute_s).fold(0.0, f64::max);
        prop_assert!(r.pipeline_s + tol >= busiest);
        prop_assert!(r.step_s + tol >= r.pipeline_s);
        for s in &r.stages {
            prop_assert!((-1e-12..=1.0).contains(&s.bubble));
        }
    }

    /// Holds for any stage times when transfers take no time. With p2p latency the
    /// steady state can alternate between two periods, and utilisation then dips by
    /// fractions of a percent from odd to even m (see the test below).
    #[test]
    fn more_microbatches_never_lower_1f1b_utilisation(
        p in 1u32..9,
        m in 1u32..24,
        st in prop::collection::vec((0.1f64..3.0, 0.1f64..5.0), 8),
    ) {
        let link = 0.0;
        let mk = |m: u32| SimInput {
            schedule: Schedule::OneFOneB,
            microbatches: m,
            vpp: 1,
            stages: st[..p as usize].iter().map(|&(f, b)| StageSpec::compute_only(f, b)).collect(),
            p2p_s: vec![link; p as usize],
            p2p_blocking: false,
            dp_overlap: true,
            nic: NicShare::default(),
        };
        let util = |m: u32| {
            let r = simulate(&mk(m)).unwrap();
            1.0 - r.mean_bubble()
        };
        let (a, b) = (util(m), util(m + 1));
        prop_assert!(b + 1e-9 >= a, "m {m}: {a} -> m + 1: {b}");
    }

    #[test]
    fn a_straggler_never_speeds_a_step_up(inp in pipeline(), stage in 0usize..8, factor in 1.0f64..3.0) {
        let base = simulate(&inp).unwrap();
        let mut slow = inp.clone();
        let k = stage % slow.stages.len();
        let s = &mut slow.stages[k];
        s.fwd_s *= factor;
        s.bwd_s *= factor;
        s.wgrad_s *= factor;
        let r = simulate(&slow).unwrap();
        prop_assert!(r.step_s + 1e-9 * base.step_s >= base.step_s, "{} < {}", r.step_s, base.step_s);
        // The same through the Monte Carlo's paired runs.
        let prog = Program::compile(&inp).unwrap();
        let j = Jitter { cv: 0.0, straggler: Some(Straggler { factor, stage: Some(k as u32) }) };
        let mc = monte_carlo(&prog, &j, 2, 0).unwrap();
        prop_assert!(mc.straggler.unwrap().expected_cost_s >= -1e-9 * base.step_s);
    }

    #[test]
    fn same_seed_same_output(inp in pipeline(), seed in any::<u64>(), cv in 0.01f64..0.3) {
        let prog = Program::compile(&inp).unwrap();
        let j = Jitter { cv, straggler: Some(Straggler { factor: 1.25, stage: None }) };
        let a = monte_carlo(&prog, &j, 16, seed).unwrap();
        let b = monte_carlo(&prog, &j, 16, seed).unwrap();
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        prop_assert_eq!(a, b);
    }
}

#[test]
fn with_p2p_latency_1f1b_utilisation_can_dip_by_a_hair() {
    // Two uneven stages and a 0.2 s hop: the steady state alternates between periods of
    // 2.33 s and 1.97 s, so odd m sit slightly below the trend. Not a simulator bug: the
    // pipeline's max-plus recurrence has cyclicity 2.
    let util = |m: u32| {
        let inp = SimInput {
            schedule: Schedule::OneFOneB,
            microbatches: m,
            vpp: 1,
            stages: vec![
                StageSpec::compute_only(0.1, 1.83),
                StageSpec::compute_only(0.94, 1.03),
            ],
            p2p_s: vec![0.2; 2],
            p2p_blocking: false,
            dp_overlap: true,
            nic: NicShare::default(),
        };
        1.0 - simulate(&inp).unwrap().mean_bubble()
    };
    assert!(util(15) < util(14));
    assert!(util(16) > util(14) && util(20) > util(16));
}
