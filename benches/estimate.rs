//! How fast the analytic engine evaluates one layout (the unit of work of a search).

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use llmplan::analytic::{evaluate, EstimateOptions, Setup};
use llmplan::spec::layout::{resolve, Adjustments};
use llmplan::spec::scenario;

fn bench(c: &mut Criterion) {
    for name in ["gpt4-moe-a100", "llama3-405b-h100"] {
        let sc = scenario::load(Some(name), &[]).unwrap();
        let mut adj = Adjustments::default();
        let rl = resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
        // The kernel model estimate() uses: the fitted one for this GPU.
        let k = llmplan::calibrate::kernel_model_for(&sc);
        let opts = EstimateOptions::default();
        let setup = Setup::with_layout(&sc, &k, rl);
        c.bench_function(&format!("evaluate one layout ({name})"), |b| {
            b.iter(|| evaluate(black_box(&setup), &opts).unwrap())
        });
        c.bench_function(&format!("resolve + evaluate ({name})"), |b| {
            b.iter(|| {
                let setup = Setup::resolve(black_box(&sc), &k).unwrap();
                evaluate(&setup, &opts).unwrap()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
