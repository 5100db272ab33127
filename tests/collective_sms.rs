//! A collective that runs beside compute holds SMs: NCCL launches one CTA per ring
//! channel and a CTA never shares its SM with a compute kernel (NCCL maintainers,
//! github.com/NVIDIA/nccl issue 689: "16 SMs on a DGX with 8 NICs, 2 with a single
//! NIC"). The overlapped part of the data-parallel traffic slows compute by the share of
//! the SMs it holds. Hand calculations against the model's own collective times.

use llmplan::analytic::comm::{Comm, Group};
use llmplan::analytic::setup::Setup;
use llmplan::analytic::stage::{dp_groups, stages};
use llmplan::analytic::EstimateOptions;
use llmplan::setup::estimate;
use llmplan::spec::Scenario;

fn scenario(name: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    llmplan::spec::scenario::load(Some(name), &sets).unwrap()
}

/// torchtitan's FSDP2 layout on 64 A100 (8 DGX A100 nodes): Llama 2 70B, ZeRO-3 over all
/// 64 GPUs, one micro-batch of 4,096 tokens per GPU, BF16, flash attention, overlapped
/// data-parallel traffic (the shape of the published torchtitan rows in
/// tests/data/published/fsdp_zero_public.csv).
fn fsdp_70b() -> Scenario {
    let yaml = "name: FSDP 70B\nmodel: llama2-70b\ncluster: dgx-a100\ngpus: 64\n\
                training:\n  tokens: 1e12\n  seq_len: 4096\n  global_batch_seqs: 64\n\
                \x20 precision: bf16\n  recompute: full\n\
                layout:\n  tp: 1\n  pp: 1\n  micro_batch: 1\n  zero: 3\n";
    let dir = std::env::temp_dir().join(format!("llmplan-csms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fsdp.yaml");
    std::fs::write(&path, yaml).unwrap();
    let sc = scenario(path.to_str().unwrap(), &[]);
    let _ = std::fs::remove_dir_all(&dir);
    sc
}

/// CTAs per GPU by NCCL's rule: two channels per NIC the node's members drive.
#[test]
fn ring_ctas_follow_the_nics_the_group_drives() {
    let sc = fsdp_70b();
    let c = Comm::new(&sc.cluster);
    // DGX A100: 8 GPUs and 8 NICs per node.
    assert_eq!(
        c.collective_ctas(Group {
            size: 64,
            stride: 1
        }),
        16
    );
    // One member per node (stride 8): one NIC, two channels.
    assert_eq!(
        c.collective_ctas(Group {
            size: 64,
            stride: 8
        }),
        2
    );
    // Inside the node: a channel per member, doubled.
    assert_eq!(c.collective_ctas(Group { size: 4, stride: 1 }), 8);
    assert_eq!(c.collective_ctas(Group { size: 1, stride: 1 }), 0);
    // A cluster that states its own count keeps it.
    let mut fixed = sc.cluster.clone();
    fixed.collective_sms = Some(24);
    assert_eq!(
        Comm::new(&fixed).collective_ctas(Group {
            size: 64,
            stride: 1
        }),
        24
    );
}

/// The FSDP step pays 16/108 of every overlapped gather and reduce-scatter: the same
/// layout with collectives that hold no SMs (`collective_sms: 0`) is faster by exactly
/// the reported `collective_sm_s`, which is microbatches x (forward gather + backward
/// gather + gradient reduce-scatter - the first unit's gather, which nothing overlaps)
/// x 16 / 108 (A100: 108 SMs, datasheet) while the traffic is hidden under compute.
#[test]
fn overlapped_fsdp_traffic_slows_compute_by_its_sm_share() {
    let sc = fsdp_70b();
    let with = estimate(&sc, &EstimateOptions::default()).unwrap();
    let mut free = sc.clone();
    free.cluster.collective_sms = Some(0);
    let without = estimate(&free, &EstimateOptions::default()).unwrap();
    assert_eq!(without.time.breakdown.collective_sm_s, 0.0);

    // The traffic by hand from the model's collective times.
    let kernels = llmplan::calibrate::kernel_model_for(&sc);
    let setup = Setup::resolve(&sc, &kernels).unwrap();
    let inp = setup.stage_inputs();
    let st = stages(&inp);
    assert_eq!(st.len(), 1);
    let dense = st[0].dense_params;
    let (g, _) = dp_groups(&setup.layout, &inp.comm);
    assert_eq!((g.size, g.stride), (64, 1));
    // One gather and one reduce-scatter per block (FSDP's unit), each on its share.
    let units = f64::from(st[0].layers);
    let ag = units * inp.comm.all_gather_s(dense * 2.0 / units, g);
    let rs = units * inp.comm.reduce_scatter_s(dense * 4.0 / units, g);
    // Hidden under compute without the SM term (else the overlapped part is smaller),
    // but for the ends: each forward waits for the first unit's gather (a block's share
    // and the embeddings and output layer, 2 x 32000 x 8192, in BF16), the step for the
    // last unit's FP32 reduce-scatter; no compute runs beside them.
    let m = setup.layout.microbatches as f64;
    let outside = 2.0 * 32000.0 * 8192.0;
    let unit = (dense - outside) / units + outside;
    let fill = inp.comm.all_gather_s(unit * 2.0, g);
    let drain = inp.comm.reduce_scatter_s(unit * 4.0, g);
    let b = &without.time.breakdown;
    assert!(
        (b.dp_comm_s - m * fill - drain).abs() < 1e-12,
        "{}",
        b.dp_comm_s
    );
    assert_eq!(b.zero3_edges_s, b.dp_comm_s);
    let expect = m * (ag + ag + rs - fill) * 16.0 / 108.0;
    let got = with.time.breakdown.collective_sm_s;
    assert!((got - expect).abs() < 1e-9 * expect, "{got} vs {expect}");
    let extra = with.time.step_s - without.time.step_s;
    assert!((extra - got).abs() < 1e-9, "{extra} vs {got}");
    // A few per cent of a step that is mostly compute.
    let share = extra / with.time.step_s;
    assert!(share > 0.02 && share < 0.15, "{share}");
}

/// A layout that reserves SMs for communication for the whole step (DeepSeek-V3's 20 of
/// 132) runs its collectives there: compute already lost those SMs and pays nothing more.
#[test]
fn reserved_communication_sms_take_the_place_of_the_term() {
    let sc = scenario("deepseek-v3-h800", &[]);
    assert!(sc.layout.overlap.comm_sms > 0);
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    assert_eq!(e.time.breakdown.collective_sm_s, 0.0);
}
