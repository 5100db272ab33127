//! Collective algorithms (`training.collective`, `analytic::collective`) against public
//! nccl-tests figures for catalog clusters, and what a flat ring does to ZeRO-3 at
//! a thousand GPUs.
//!
//! nccl-tests report bus bandwidth: for all-reduce, 2 (n - 1)/n x bytes / time; for
//! all-gather and reduce-scatter, (n - 1)/n x bytes / time. Each figure below says
//! where it was published.

use llmplan::analytic::comm::{Comm, Group};
use llmplan::analytic::EstimateOptions;
use llmplan::setup::estimate;
use llmplan::spec::catalog;
use llmplan::spec::cluster::ClusterProfile;
use llmplan::spec::scenario;
use llmplan::spec::training::Collective;

fn cluster(name: &str) -> ClusterProfile {
    catalog::load(catalog::CLUSTERS, "cluster", name).unwrap()
}

/// All-reduce bus bandwidth of `bytes` over `n` consecutive ranks, GB/s.
fn ar_busbw(c: &Comm, bytes: f64, n: u64) -> f64 {
    let t = c.all_reduce_s(bytes, Group { size: n, stride: 1 });
    2.0 * (n as f64 - 1.0) / n as f64 * bytes / t / 1e9
}

fn within(got: f64, want: f64, tol: f64) -> bool {
    (got / want - 1.0).abs() <= tol
}

/// DGX A100 with 8 x 200 Gb/s HDR per node: NVIDIA measures 192 GB/s all-reduce bus
/// bandwidth across nodes (NCCL maintainer, NVIDIA/nccl issue 812, 2023-03). A flat
/// ring, pipelined, runs at its slowest hop: min(NVLink 300 x 0.77 = 231, eight NICs
/// 8 x 25 x 0.9 = 180) = 180 GB/s, 6% under. Summing an NVLink phase and a network
/// phase (the hierarchical model) gives ~107 GB/s, 44% under: NCCL's collectives are
/// pipelined, not phased.
#[test]
fn dgx_a100_multi_node_all_reduce() {
    let c = cluster("dgx-a100");
    let ring = ar_busbw(&Comm::new(&c).with_collective(Collective::Ring), 8e9, 128);
    assert!(within(ring, 192.0, 0.08), "ring {ring:.1} GB/s");
    let hier = ar_busbw(&Comm::new(&c), 8e9, 128);
    assert!(hier < 0.6 * 192.0, "hierarchical {hier:.1} GB/s");
    // Inside one node the two are the same ring: 231 GB/s against ~230 measured
    // (the catalog's efficiency comes from that figure).
    let one = ar_busbw(&Comm::new(&c).with_collective(Collective::Ring), 8e9, 8);
    assert!(within(one, 230.0, 0.02), "{one:.1}");
}

/// DGX H100: the ring inside a node reaches 365-370 GB/s bus bandwidth (NVIDIA/nccl
/// issue 1455; "370GB/s ... with NCCL_ALGO=RING", NVIDIA/nccl-tests issue 212);
/// across nodes each NDR 400 Gb/s NIC gives 46-48 GB/s (NCCL maintainer, NVIDIA/nccl-
/// tests issue 290), 8 per node: a ring over 16 nodes at min(365, 8 x 45) = 360 GB/s,
/// 45 GB/s per NIC, 44.2 with the ring's 254 steps of latency on 8 GB: 6% under 47.
#[test]
fn dgx_h100_ring_inside_and_across_nodes() {
    let c = cluster("dgx-h100");
    let comm = Comm::new(&c).with_collective(Collective::Ring);
    let one = ar_busbw(&comm, 8e9, 8);
    assert!(within(one, 367.5, 0.02), "{one:.1}");
    let across = ar_busbw(&comm, 8e9, 128);
    assert!(
        within(across / 8.0, 47.0, 0.07),
        "{:.1} GB/s per NIC",
        across / 8.0
    );
}

/// NVLink SHARP on 8 H100: NCCL's maintainer gives ~480 GB/s peak bus bandwidth
/// (NVIDIA/nccl-tests issue 212), "a 30% improvement" over the ring (NVIDIA/nccl issue
/// 1442). The catalog's nvls_all_reduce_bw (275 GB/s algorithm bandwidth) is that
/// figure; the test is its ratio to the catalog's ring: 480 / 365 = 1.31.
#[test]
fn nvls_all_reduce_beats_the_ring_by_thirty_percent() {
    let c = cluster("dgx-h100");
    let ring = ar_busbw(&Comm::new(&c).with_collective(Collective::Ring), 8e9, 8);
    let nvls = ar_busbw(&Comm::new(&c).with_collective(Collective::Nvls), 8e9, 8);
    assert!(within(nvls, 480.0, 0.01), "{nvls:.1}");
    assert!(within(nvls / ring, 1.30, 0.03), "x{:.3}", nvls / ring);
    // Without NVLS in the profile (A100), nvls is the ring.
    let a = cluster("dgx-a100");
    assert_eq!(
        Comm::new(&a)
            .with_collective(Collective::Nvls)
            .all_reduce_s(1e9, Group { size: 8, stride: 1 }),
        Comm::new(&a)
            .with_collective(Collective::Ring)
            .all_reduce_s(1e9, Group { size: 8, stride: 1 })
    );
    // Across nodes (NVLSTree) the network sets the pace: 2 x 1 GB / 8 NICs at 45 GB/s.
    let t = Comm::new(&c)
        .with_collective(Collective::Nvls)
        .all_reduce_s(
            1e9,
            Group {
                size: 64,
                stride: 1,
            },
        );
    let want = 2.0 / 8.0 / 45.0 + 1e-6 + 2.0 * 3.0 * 5e-6;
    assert!((t - want).abs() < 1e-12, "{t} vs {want}");
}

/// A flat ring's latency grows with every rank: an all-gather of 1 MB over 1,536 A100
/// (192 DGX) takes 191 x 5 us + 1,344 x 3 us = 4.987 ms of latency, against 0.962 ms
/// for the hierarchical model's 7 NVLink and 191 network hops. The bytes cost
/// 1535/1536 MB / 180 GB/s = 5.6 us.
#[test]
fn ring_latency_at_1536_gpus() {
    let c = cluster("dgx-a100");
    let g = Group {
        size: 1536,
        stride: 1,
    };
    let ring = Comm::new(&c)
        .with_collective(Collective::Ring)
        .all_gather_s(1e6, g);
    let bytes = 1535.0 / 1536.0 * 1e6 / 8.0 / 22.5e9;
    assert!((ring - (bytes + 191.0 * 5e-6 + 1344.0 * 3e-6)).abs() < 1e-12);
    let hier = Comm::new(&c).all_gather_s(1e6, g);
    assert!(ring > 4.0 * hier, "ring {ring} hierarchical {hier}");
}

/// ZeRO-3 over every GPU, one micro-batch of one sequence per GPU (weak scaling), GPT-3
/// 175B on DGX A100: each block is gathered before forward and backward and its
/// gradients reduce-scattered, a collective each. On a flat ring (`collective: ring`)
/// those latencies grow with the rank count and throughput per GPU falls from 384 to
/// 1,536 GPUs; the hierarchical model's grow 8x slower.
#[test]
fn zero3_throughput_falls_with_gpu_count_on_a_ring() {
    let tflops = |gpus: u32, algo: &str| {
        let sets: Vec<String> = [
            format!("gpus={gpus}"),
            "layout.tp=1".into(),
            "layout.pp=1".into(),
            "layout.zero=3".into(),
            "layout.micro_batch=1".into(),
            format!("training.global_batch_seqs={gpus}"),
            "training.recompute=full".into(),
            format!("training.collective={algo}"),
        ]
        .to_vec();
        let sc = scenario::load(Some("gpt3-175b-a100"), &sets).unwrap();
        let e = estimate(&sc, &EstimateOptions::default()).unwrap();
        e.mfu * e.peak_flops / 1e12
    };
    let ring: Vec<f64> = [384, 768, 1536]
        .iter()
        .map(|&n| tflops(n, "ring"))
        .collect();
    let hier: Vec<f64> = [384, 768, 1536]
        .iter()
        .map(|&n| tflops(n, "hierarchical"))
        .collect();
    eprintln!("ZeRO-3 GPT-3 175B TFLOP/s per GPU at 384/768/1536: ring {ring:.1?}, hierarchical {hier:.1?}");
    assert!(ring[0] > ring[1] && ring[1] > ring[2], "{ring:?}");
    assert!(ring[2] / ring[0] < hier[2] / hier[0], "{ring:?} {hier:?}");
}

/// InfiniBand SHARP (`training.collective: sharp`) on DGX H100, by hand: no published
/// nccl-tests figure with SHARP across nodes was found, so the SHARP rate here is an
/// input of the test, NDR's 50 GB/s at the catalog's NCCL efficiency 0.9, 45 GB/s per
/// GPU. A 1 GB all-reduce over 8 nodes of 8 (consecutive ranks): inside each node NVLS
/// at 275 GB/s, 3.636 ms, pipelined with each NIC's 1/8 GB at 45 GB/s, 2.778 ms;
/// latency 2 (1 + 7 x 0.4) us + 31 us + 2 x 5 us = 48.6 us (NCCL tuning.cc, CollNet
/// Direct): 3.685 ms. The flat ring takes 2 x (63/64/8 GB at 45 GB/s + 7 x 5 us + 56 x
/// 3 us) = 5.875 ms and NVLSTree max(3.636, 2/8 GB at 45 GB/s = 5.556) ms + 31 us =
/// 5.587 ms. Reduce-scatter: 7/8 GB at 364.5 GB/s = 2.401 ms beside 2.778 ms + 48.6 us
/// = 2.826 ms against the ring's 2.937 ms; all-gather has nothing to reduce: the ring.
/// Without `sharp_all_reduce_bw` the choice falls back to NVLS.
#[test]
fn sharp_all_reduce_by_hand() {
    let c = cluster("dgx-h100");
    let mut with = c.clone();
    with.sharp_all_reduce_bw = Some(45e9);
    let g = Group {
        size: 64,
        stride: 1,
    };
    let ms = |t: f64| t * 1e3;
    let close = |got: f64, want: f64| (ms(got) - want).abs() < 5e-4;
    let ring = Comm::new(&c).with_collective(Collective::Ring);
    let nvls = Comm::new(&c).with_collective(Collective::Nvls);
    assert!(
        close(ring.all_reduce_s(1e9, g), 5.8747),
        "{}",
        ms(ring.all_reduce_s(1e9, g))
    );
    assert!(
        close(nvls.all_reduce_s(1e9, g), 5.5866),
        "{}",
        ms(nvls.all_reduce_s(1e9, g))
    );
    let unset = Comm::new(&c)
        .with_collective(Collective::Sharp)
        .all_reduce_s(1e9, g);
    assert_eq!(unset, nvls.all_reduce_s(1e9, g));
    let sharp = Comm::new(&with).with_collective(Collective::Sharp);
    assert!(
        close(sharp.all_reduce_s(1e9, g), 3.6850),
        "{}",
        ms(sharp.all_reduce_s(1e9, g))
    );
    assert!(
        close(sharp.reduce_scatter_s(1e9, g), 2.8264),
        "{}",
        ms(sharp.reduce_scatter_s(1e9, g))
    );
    assert_eq!(sharp.all_gather_s(1e9, g), ring.all_gather_s(1e9, g));
}

/// `training.zero3_reduce_blocks_backward` (DeepSpeed ZeRO-3 with `offload_optimizer`,
/// whose blocking copy of each reduced gradient holds the host until the
/// reduce-scatter is done): the backward's ZeRO-3 traffic is all exposed. GPT-3 175B
/// over 128 DGX A100 (16 nodes), ZeRO-3 on a flat ring, four collectives per block
/// (384 per pass), FP16 weights and gradients, `overlap.dp_comm` on. By hand from the ring's own functions:
/// the backward gathers the 174.6B weights and reduce-scatters their gradients, each
/// in 384 collectives of 1/384 of the bytes, `zb`; the forward's gather `zf` the same
/// as the backward's. With the flag the step's data-parallel time holds all of `zb`
/// plus what the forward leaves of `zf` (at most all of it); without it, under the
/// backward's 5 s of compute, less than `zb`.
#[test]
fn blocking_reduce_exposes_the_backward_traffic() {
    let run = |blocks: bool| {
        let sets: Vec<String> = vec![
            "gpus=128".into(),
            "layout.tp=1".into(),
            "layout.pp=1".into(),
            "layout.zero=3".into(),
            "layout.overlap.dp_comm=true".into(),
            "layout.micro_batch=1".into(),
            "training.global_batch_seqs=128".into(),
            "training.seq_len=1024".into(),
            "training.recompute=full".into(),
            "training.collective=ring".into(),
            "training.grad_bytes_per_param=2".into(),
            "training.zero3_collectives_per_layer=4".into(),
            format!("training.zero3_reduce_blocks_backward={blocks}"),
        ];
        let sc = scenario::load(Some("gpt3-175b-a100"), &sets).unwrap();
        let e = estimate(&sc, &EstimateOptions::default()).unwrap();
        (e.time.breakdown.dp_comm_s, e.model.params_total)
    };
    let (off, params) = run(false);
    let (on, _) = run(true);
    let dgx = cluster("dgx-a100");
    let c = Comm::new(&dgx).with_collective(Collective::Ring);
    let g = Group {
        size: 128,
        stride: 1,
    };
    let per = params * 2.0 / 384.0;
    let zf = 384.0 * c.all_gather_s(per, g);
    let zb = zf + 384.0 * c.reduce_scatter_s(per, g);
    eprintln!("zf {zf:.3} s, zb {zb:.3} s; DP time without the flag {off:.3} s, with {on:.3} s");
    assert!(
        on >= zb - 1e-9 && on <= zb + zf + 1e-9,
        "{on} vs {zb} + {zf}"
    );
    assert!(off < zb, "{off} vs {zb}");
}

/// GPT-3 175B with ZeRO-3 over 128 DGX A100 as the DeepSpeed 0.6 recipe runs it (flat
/// ring, four gathers per block, FP16 gradients, blocking reduce-scatters), with the
/// extra `sets`; the estimate's (DP time, optimizer time, parameters), seconds.
fn deepspeed_zero3(sets: &[&str]) -> (f64, f64, f64) {
    let mut all: Vec<String> = [
        "gpus=128",
        "layout.tp=1",
        "layout.pp=1",
        "layout.zero=3",
        "layout.overlap.dp_comm=true",
        "layout.micro_batch=1",
        "training.global_batch_seqs=128",
        "training.seq_len=1024",
        "training.recompute=full",
        "training.collective=ring",
        "training.grad_bytes_per_param=2",
        "training.zero3_collectives_per_layer=4",
        "training.zero3_reduce_blocks_backward=true",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.extend(sets.iter().map(|s| s.to_string()));
    let sc = scenario::load(Some("gpt3-175b-a100"), &all).unwrap();
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    let b = &e.time.breakdown;
    (b.dp_comm_s, b.optimizer_s, e.model.params_total)
}

/// `training.zero3_small_reduce_scatters_per_layer`: buckets of biases and norms
/// reduced on their own between the weights' gradients (DeepSpeed 0.6's bucket rule),
/// each a ring's latency. With the backward waiting for every reduce-scatter, each adds
/// its whole latency to the step: over 16 nodes of 8 the ring's is 15 x 5 us (network)
/// plus 112 x 3 us (NVLink steps at the network's per-message overhead), 411 us by
/// hand; 3 per block x 96 blocks = 0.1184 s.
#[test]
fn small_gradient_buckets_pay_a_ring_latency_each() {
    let (none, _, _) = deepspeed_zero3(&[]);
    let (three, _, _) = deepspeed_zero3(&["training.zero3_small_reduce_scatters_per_layer=3"]);
    let by_hand = 3.0 * 96.0 * 411e-6;
    assert!(
        ((three - none) - by_hand).abs() < 1e-6,
        "{three} - {none} vs {by_hand}"
    );
}

/// ZeRO-Offload's optimizer step on the host (`training.optimizer_offload` on a cluster
/// with `host_memory_bw`): GPT-3 175B's parameters over 128 GPUs, 1.364B per GPU; CPU
/// Adam streams 36 B per parameter through the GPU's eighth of DGX A100's 409.6 GB/s of
/// host memory (two EPYC 7742, 8 DDR4-3200 channels each), and the FP16 gradient and
/// parameter cross PCIe Gen4 x16 (31.5 GB/s), 2 B each way: 0.959 + 0.173 = 1.132 s,
/// by hand. On the GPU the step would stream 16 B per parameter at HBM speed, ~20 ms.
#[test]
fn host_optimizer_step_by_hand() {
    let (_, gpu, params) = deepspeed_zero3(&[]);
    let (_, host, _) = deepspeed_zero3(&["training.optimizer_offload=true"]);
    let local = params / 128.0;
    let by_hand = local * 36.0 / (409.6e9 / 8.0) + local * 4.0 / 31.5e9;
    // To 1e-6: the stage's parameter count and the model's total differ by ~25k of 174.6B.
    assert!((host / by_hand - 1.0).abs() < 1e-6, "{host} vs {by_hand}");
    assert!((host - 1.132).abs() < 0.002, "{host}");
    assert!(gpu < 0.05, "{gpu}");
}

/// `training.zero3_reuse_distance_params` (DeepSpeed's `stage3_max_reuse_distance`):
/// under full recomputation a weight gathered for a block's recompute is kept for its
/// backward only if at most that many parameters are fetched in between, the block's
/// later weights twice (recompute, then backward in reverse). GPT-3 175B (h = 12288,
/// MLP 4h): QKV 3h^2, attention output h^2, MLP in 4h^2, MLP out 4h^2, so between two
/// uses 18h^2 = 2.72e9 (QKV), 16h^2 = 2.42e9 (output), 8h^2 = 1.21e9 (MLP in), 0 (MLP
/// out). At the Azure scripts' 3e9 nothing is gathered again; at DeepSpeed's default
/// 1e9 all but MLP out are, and at 2e9 QKV and the output only. The backward waits for
/// its ZeRO traffic (blocking reduce-scatters), so each gather adds its ring time on
/// the 128 GPUs, by hand from the ring's own function, once per block.
#[test]
fn reuse_distance_gathers_the_recomputed_weights_again() {
    let (none, _, _) = deepspeed_zero3(&[]);
    let dp = |d: &str| deepspeed_zero3(&[&format!("training.zero3_reuse_distance_params={d}")]).0;
    let dgx = cluster("dgx-a100");
    let c = Comm::new(&dgx).with_collective(Collective::Ring);
    let g = Group {
        size: 128,
        stride: 1,
    };
    let h2 = 12288.0 * 12288.0;
    // FP16 weights: 2 bytes a parameter.
    let gather = |units: &[f64]| -> f64 {
        96.0 * units
            .iter()
            .map(|u| c.all_gather_s(u * h2 * 2.0, g))
            .sum::<f64>()
    };
    assert!((dp("3e9") - none).abs() < 1e-9, "{} vs {none}", dp("3e9"));
    let all_but_out = gather(&[3.0, 1.0, 4.0]);
    let two = gather(&[3.0, 1.0]);
    eprintln!("1e9: +{all_but_out:.3} s, 2e9: +{two:.3} s by hand");
    assert!(((dp("1e9") - none) - all_but_out).abs() < 1e-6 * all_but_out);
    assert!(((dp("2e9") - none) - two).abs() < 1e-6 * two);
    // A distance that is not a parameter count is refused by name.
    let e = scenario::load(
        Some("gpt3-175b-a100"),
        &["training.zero3_reuse_distance_params=-1".to_string()],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("training.zero3_reuse_distance_params"), "{e}");
}
