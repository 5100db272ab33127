//! Activation offloading to host memory (`training.activation_offload_layers`,
//! Megatron-Core's `cpu_offloading_num_layers` through Transformer Engine's CPU offload
//! context): the GPU keeps `L - n` layers' activations per micro-batch (TE
//! cpu_offload.py: peak `(num_layers - num_offloaded_layers) x T`), and the copies over
//! the host link cost what the layers' compute does not hide. Hand calculations
//! against the model's own per-layer numbers.

use llmplan::analytic::layer::layer_cost;
use llmplan::analytic::offload::exposed_copies_s;
use llmplan::analytic::setup::Setup;
use llmplan::analytic::EstimateOptions;
use llmplan::error::Error;
use llmplan::setup::estimate;
use llmplan::spec::Scenario;

/// Llama 3 70B as Megatron-Bridge's GB300 FP8-CS preset runs it (micro-batch 2,
/// sequence 8192, tp 1, pp 1, 64 GPUs; llama3_workload_base_configs.py @00b7660b),
/// with the distributed optimizer instead of Megatron-FSDP and no recomputation.
fn llama70b(sets: &[&str]) -> Result<Scenario, Error> {
    let yaml = "name: Llama 3 70B offload\nmodel: llama3-70b\ncluster: gb300-nvl72\ngpus: 64\n\
                training:\n  tokens: 1e12\n  seq_len: 8192\n  global_batch_seqs: 256\n\
                \x20 precision: fp8\n  fp8_recipe: current\n  recompute: none\n\
                layout:\n  tp: 1\n  pp: 1\n  micro_batch: 2\n  zero: 3\n";
    let dir = std::env::temp_dir().join(format!("llmplan-offload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: tests run in parallel threads of one process, and two with the
    // same settings would otherwise write, read and remove the same path at once.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(
        "l70-{call}-{}.yaml",
        sets.join("-").replace(['/', '='], "_")
    ));
    std::fs::write(&path, yaml).unwrap();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = llmplan::spec::scenario::load(Some(path.to_str().unwrap()), &sets);
    let _ = std::fs::remove_file(&path);
    sc
}

/// One layer's stored activations and its forward and backward seconds per
/// micro-batch, as the stage sums them (every Llama layer is the same).
fn layer(sc: &Scenario) -> (f64, f64, f64) {
    let k = llmplan::calibrate::kernel_model_for(sc);
    let setup = Setup::resolve(sc, &k).unwrap();
    let inp = setup.stage_inputs();
    let c = layer_cost(&inp.ctx, 0, inp.kernels, &inp.comm);
    let ov = &setup.layout.overlap;
    (c.stored_bytes, c.fwd_s(ov), c.bwd_s(ov))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-30)
}

/// Offloading n layers takes n layers' stored activations off the GPU (one micro-batch
/// in flight at pp 1) and puts them in host memory; nothing else moves.
#[test]
fn offloading_n_layers_frees_n_layers_of_activations() {
    let base = llama70b(&[]).unwrap();
    let (t, _, _) = layer(&base);
    // A Llama 3 70B layer at 16,384 tokens keeps gigabytes (Korthikanti et al. 2022's
    // 34 s b h bytes in BF16 would be 4.6 GB; FP8 GEMM inputs keep less).
    assert!(t > 2e9 && t < 5e9, "{t}");
    let e0 = estimate(&base, &EstimateOptions::default()).unwrap();
    for n in [5u32, 20, 40] {
        let sc = llama70b(&[&format!("training.activation_offload_layers={n}")]).unwrap();
        let e = estimate(&sc, &EstimateOptions::default()).unwrap();
        let (m0, m) = (&e0.memory.breakdown, &e.memory.breakdown);
        let saved = m0.activations - m.activations;
        assert!(
            rel(saved, f64::from(n) * t) < 1e-9,
            "n {n}: {saved} vs {}",
            f64::from(n) * t
        );
        assert!(rel(m.host_offloaded, f64::from(n) * t) < 1e-9);
        assert_eq!(m0.weights, m.weights);
        assert_eq!(m0.host_offloaded, 0.0);
    }
}

/// On GB300's NVLink-C2C share (225 GB/s per GPU per direction) the copies hide under
/// the other layers' compute: no exposed time, the same step.
#[test]
fn copies_that_hide_cost_nothing() {
    let base = llama70b(&[]).unwrap();
    let sc = llama70b(&["training.activation_offload_layers=20"]).unwrap();
    let (t, f, b) = layer(&sc);
    // 20 copies of t / 225 GB/s against 78 layers of compute, both directions.
    assert!(20.0 * t / 225e9 < 78.0 * f.min(b), "t {t} f {f} b {b}");
    let (e0, e) = (
        estimate(&base, &EstimateOptions::default()).unwrap(),
        estimate(&sc, &EstimateOptions::default()).unwrap(),
    );
    assert_eq!(e.time.breakdown.offload_s, 0.0);
    assert_eq!(e.time.step_s, e0.time.step_s);
}

/// Over a slow link (2 GB/s) the copies cannot hide: per micro-batch and direction the
/// exposed time is n c - (L - 2) x with c = t / 2 GB/s (module analytic::offload), and
/// the step's breakdown names it and still adds up.
#[test]
fn copies_on_a_slow_link_are_exposed_and_named() {
    let n = 20;
    let mut sc = llama70b(&["training.activation_offload_layers=20"]).unwrap();
    sc.cluster.host_link_bw = Some(2e9);
    let (t, f, b) = layer(&sc);
    let c = t / 2e9;
    let per_mb = (f64::from(n) * c - 78.0 * f) + (f64::from(n) * c - 78.0 * b);
    assert!(per_mb > 0.0);
    assert_eq!(exposed_copies_s(n, 80, c, f), f64::from(n) * c - 78.0 * f);
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    let m = f64::from(e.layout.microbatches);
    let d = &e.time.breakdown;
    assert!(
        rel(d.offload_s, m * per_mb) < 1e-9,
        "{} vs {}",
        d.offload_s,
        m * per_mb
    );
    let parts = d.parts_s();
    assert!(rel(parts, e.time.step_s) < 1e-9);
}

/// Transformer Engine keeps at least one layer of a stage on the GPU: an offload count
/// not below a stage's layers is an input error naming the field and what would fit.
#[test]
fn offloading_every_layer_of_a_stage_is_refused() {
    let e = llama70b(&["training.activation_offload_layers=80"])
        .and_then(|sc| estimate(&sc, &EstimateOptions::default()).map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("training.activation_offload_layers") && e.contains("at most 79"),
        "{e}"
    );
    // pp 4: 20 layers a stage, so 20 is refused and 19 fits the rule.
    let e = llama70b(&["training.activation_offload_layers=20", "layout.pp=4"])
        .and_then(|sc| estimate(&sc, &EstimateOptions::default()).map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("at most 19") && e.contains("pp at most 3"),
        "{e}"
    );
    let sc = llama70b(&["training.activation_offload_layers=19", "layout.pp=4"]).unwrap();
    assert!(estimate(&sc, &EstimateOptions::default()).is_ok());
}

/// The search applies the same rule: with 20 layers offloaded, no layout of more than
/// 3 stages is priced (Llama 3 70B's 80 layers give pp 4 stages of 20), each rejection
/// counted under its reason, and every layout it ranks keeps more than 20 layers a
/// stage.
#[test]
fn the_search_counts_stages_too_small_to_offload() {
    use llmplan::search::rules::Reason;
    use llmplan::search::{search, SearchOptions};
    let sc = llama70b(&["training.activation_offload_layers=20"]).unwrap();
    let mut o = SearchOptions::for_scenario(&sc);
    o.sim_top = 0;
    o.fixes = vec!["cp=1".into(), "micro_batch=2".into()];
    let out = search(&sc, &o, None).unwrap();
    let n = out
        .rejected
        .iter()
        .find(|(r, _)| *r == Reason::OffloadLayers)
        .map_or(0, |(_, n)| *n);
    assert!(n > 0, "{:?}", out.rejected);
    assert!(!out.results.is_empty());
    for r in &out.results {
        assert!(80 / r.layout.pp > 20, "{:?}", r.layout);
    }
}

/// GPT-3 175B as the 2022 DeepSpeed-on-Azure rows ran it (ZeRO-3 over 128 A100, tp 1,
/// pp 1, micro-batch 1, full recompute, both host offloads), with `sets` applied.
fn gpt3_zero3(sets: &[&str]) -> Scenario {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/scenarios/gpt3-175b-zero3-azure.yaml"
    );
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    llmplan::spec::scenario::load(Some(path), &sets).unwrap()
}

/// DeepSpeed's CPU checkpointing (`training.checkpoint_offload`): each layer's checkpoint
/// (its input: 1,024 tokens x 12,288 x 2 bytes = 25.17 MB) leaves the GPU, and each copy
/// blocks, forward and backward, over the host link (DGX A100: 31.5 GB/s, PCIe Gen4
/// x16): 96 x 25.17 MB / 31.5 GB/s = 76.7 ms per pass per micro-batch, two micro-batches
/// per step.
#[test]
fn blocking_checkpoint_copies_are_all_exposed() {
    let base = gpt3_zero3(&["training.checkpoint_offload=false"]);
    let on = gpt3_zero3(&[]);
    let o = EstimateOptions::default();
    let (e0, e) = (estimate(&base, &o).unwrap(), estimate(&on, &o).unwrap());
    let ckpt = 96.0 * 1024.0 * 12288.0 * 2.0;
    let (m0, m) = (&e0.memory.breakdown, &e.memory.breakdown);
    assert!(rel(m0.activations - m.activations, ckpt) < 1e-9);
    assert!(rel(m.host_offloaded, ckpt) < 1e-9);
    let per_pass = ckpt / 31.5e9;
    assert!((per_pass - 0.0767).abs() < 1e-4, "{per_pass}");
    assert!(rel(e.time.breakdown.offload_s, 2.0 * 2.0 * per_pass) < 1e-9);
    // The step grows, by at most the copies: the ZeRO-3 gathers and reduce-scatters on
    // their own stream keep moving while the host waits on a copy, so some of their
    // exposed time hides under it.
    let grew = e.time.step_s - e0.time.step_s;
    assert!(grew > 0.0 && grew <= 2.0 * 2.0 * per_pass + 1e-9, "{grew}");
    // Without full recompute there is no checkpoint to move: the input is refused.
    let mut sc = on.clone();
    sc.training.recompute = llmplan::spec::training::Recompute::None;
    let err = sc.training.validate().unwrap_err().to_string();
    assert!(err.contains("training.checkpoint_offload"), "{err}");
}
