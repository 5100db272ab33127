//! Layout search throughput: the analytic fast path in layouts per second, and a whole
//! search of the seed scenario over one GPU count.

use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use llmplan::calibrate::kernel_model_for;
use llmplan::search::fast::{Env, Scratch};
use llmplan::search::space::{Space, SpaceLimits};
use llmplan::search::{search, SearchOptions};
use llmplan::spec::layout::{balanced_split, resolve, Adjustments};
use llmplan::spec::scenario;

fn bench(c: &mut Criterion) {
    // 1. The fast path alone: the seed's layer costs, every (pp, vpp, schedule, ZeRO)
    //    that resolves, timed and memory-checked.
    let mut sc = scenario::load(Some("gpt4-moe-a100"), &[]).unwrap();
    sc.reliability.enabled = false;
    let k = kernel_model_for(&sc);
    let env = Env::new(&sc, &k, 0.1);
    let mut adj = Adjustments::default();
    let base = resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
    let inner = env.inner(&base);
    let space = Space::default_for(&sc, &SpaceLimits::default());
    let layouts: Vec<_> = space
        .outer()
        .into_iter()
        .filter_map(|o| {
            let mut l = sc.layout.clone();
            l.pp = o.pp;
            l.vpp = o.vpp;
            l.schedule = Some(o.schedule);
            l.zero = o.zero;
            resolve(
                &l,
                &sc.model,
                sc.gpus,
                &sc.training,
                &mut Adjustments::default(),
            )
            .ok()
        })
        .collect();
    assert!(layouts
        .iter()
        .all(|l| l.layers_per_stage == balanced_split(120, l.pp)));
    let mut g = c.benchmark_group("search");
    g.throughput(Throughput::Elements(layouts.len() as u64));
    g.bench_function(
        format!("fast path, {} seed layouts (1 thread)", layouts.len()),
        |b| {
            let mut s = Scratch::default();
            b.iter(|| {
                let mut ok = 0u32;
                for rl in &layouts {
                    if env.eval(&inner, black_box(rl), sc.gpus, &mut s).is_ok() {
                        ok += 1;
                    }
                }
                ok
            })
        },
    );

    // 2. The whole seed search over one GPU count (all threads).
    let sc = scenario::load(Some("gpt4-moe-a100"), &[]).unwrap();
    let mut o = SearchOptions::for_scenario(&sc);
    o.sim_top = 0;
    let probe = search(&sc, &o, None).unwrap();
    g.throughput(Throughput::Elements(probe.enumerated));
    g.sample_size(10);
    g.bench_function(
        format!(
            "whole seed search, 25,000 A100 ({} layouts enumerated, {} evaluated)",
            probe.enumerated, probe.evaluated
        ),
        |b| b.iter(|| search(black_box(&sc), &o, None).unwrap().results.len()),
    );
    g.finish();
    let t = Instant::now();
    let out = search(&sc, &o, None).unwrap();
    eprintln!(
        "seed search: {} enumerated, {} evaluated, {} fit, {:.3} s ({:.2}M enumerated/s, {:.2}M evaluated/s)",
        out.enumerated,
        out.evaluated,
        out.feasible,
        t.elapsed().as_secs_f64(),
        out.enumerated as f64 / t.elapsed().as_secs_f64() / 1e6,
        out.evaluated as f64 / t.elapsed().as_secs_f64() / 1e6
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
