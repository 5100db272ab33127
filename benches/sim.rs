//! The event engine on the target case: 16 stages x 1,024 micro-batches,
//! interleaved 1F1B with v = 2 (65,536 compute operations plus their transfers), with
//! and without compiling the schedule, and a 64-step Monte Carlo of the seed.

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use llmplan::sim::{monte_carlo, prepare, Jitter, Program, SimInput};
use llmplan::spec::layout::Schedule;
use llmplan::spec::scenario;

fn target() -> SimInput {
    let mut inp = SimInput::uniform(Schedule::Interleaved, 16, 1024, 2, 0.010, 0.020);
    inp.p2p_s = vec![0.0005; 16];
    inp
}

fn bench(c: &mut Criterion) {
    let inp = target();
    let prog = Program::compile(&inp).unwrap();
    let r = prog.simulate(false);
    // Events per second of the whole simulate call, printed once for the notes.
    let n = 20;
    let t0 = Instant::now();
    for _ in 0..n {
        black_box(Program::compile(black_box(&inp)).unwrap().simulate(false));
    }
    let per = t0.elapsed().as_secs_f64() / n as f64;
    eprintln!(
        "16 x 1024 interleaved v=2: {} operations, {} events, {:.2} ms per simulate, {:.1} M events/s",
        prog.ops(),
        r.events,
        per * 1e3,
        r.events as f64 / per / 1e6
    );

    c.bench_function(
        "simulate 16 stages x 1024 mb, interleaved v=2 (compile + run)",
        |b| b.iter(|| Program::compile(black_box(&inp)).unwrap().simulate(false)),
    );
    c.bench_function("run 16 stages x 1024 mb, interleaved v=2 (compiled)", |b| {
        b.iter(|| black_box(&prog).simulate(false))
    });
    let sc = scenario::load(Some(scenario::SEED), &[]).unwrap();
    let k = llmplan::calibrate::kernel_model_for(&sc);
    let setup = llmplan::analytic::Setup::resolve(&sc, &k).unwrap();
    let seed = Program::compile(&prepare(&setup, None).unwrap().input).unwrap();
    let j = Jitter {
        cv: 0.05,
        straggler: None,
    };
    c.bench_function("monte carlo: seed scenario, 64 steps, cv 0.05", |b| {
        b.iter(|| monte_carlo(black_box(&seed), &j, 64, 1).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
