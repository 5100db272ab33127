//! Transformer Engine's userbuffers overlap of tensor-parallel collectives
//! (src/analytic/layer/ub.rs): each collective hides under its paired GEMM only, and the
//! pipelined reduce-scatters hold 16 SMs (TE v1.8 `initialize_ub` defaults).

use llmplan::analytic::comm::Comm;
use llmplan::analytic::layer::{layer_cost, layer_gemm_times, LayerCost, LayerCtx};
use llmplan::analytic::setup::Setup;
use llmplan::spec::scenario::{load, Scenario};

fn cost(sc: &Scenario) -> (LayerCost, f64) {
    let k = llmplan::calibrate::kernel_model_for(sc);
    let s = Setup::resolve(sc, &k).unwrap();
    let ctx = LayerCtx {
        model: &sc.model,
        layout: &s.layout,
        training: &sc.training,
    };
    let comm = Comm::for_layout(&sc.cluster, &s.layout);
    let reduce_scattered_fwd: f64 = layer_gemm_times(&ctx, 1, &k)
        .iter()
        .filter(|p| matches!(p.gemm.name, "proj" | "fc2"))
        .map(|p| p.time.fwd_s)
        .sum();
    (layer_cost(&ctx, 1, &k, &comm), reduce_scattered_fwd)
}

fn llama(overlap: bool) -> Scenario {
    // Llama 3 405B at TP 8 with sequence parallelism on H100 (132 SMs).
    load(
        Some("llama3-405b-h100"),
        &[format!("layout.overlap.tp_comm={overlap}")],
    )
    .unwrap()
}

#[test]
fn userbuffers_pair_each_collective_with_one_gemm() {
    let (on, rs_gemms) = cost(&llama(true));
    let (off, _) = cost(&llama(false));
    let (f, b) = on
        .tp_ub_s
        .expect("a dense TP 8 layer with SP and tp_comm overlap");
    assert!(off.tp_ub_s.is_none());
    // Exposed at most the whole collective time (nothing hidden) and at least the last
    // reduce-scatter pieces (a quarter of each of the two), which nothing hides.
    assert!(
        f <= on.tp_fwd_s && f >= 0.25 * on.tp_fwd_s / 2.0,
        "{f} of {}",
        on.tp_fwd_s
    );
    // Backward: six collectives (two re-gathers for the weight gradients), each at most
    // a quarter of the forward's four.
    assert!(b <= 1.5 * on.tp_fwd_s, "{b}");
    // Hand calculation: proj and fc2 run on 132 - 16 SMs while their reduce-scatters
    // hold 16 (H100 SXM: 132 SMs), 132 / 116 times as long.
    let extra = on.fwd_compute_s - off.fwd_compute_s;
    let want = rs_gemms * (132.0 / 116.0 - 1.0);
    assert!((extra / want - 1.0).abs() < 1e-9, "{extra} vs {want}");
    // The whole-layer rule hides these collectives entirely at this size: the paired
    // rule is the slower one.
    let e_on = on.exposed(&llama(true).layout.overlap);
    assert!(e_on.tp.0 > 0.0 && e_on.tp.0 >= off.exposed(&llama(true).layout.overlap).tp.0);
}
