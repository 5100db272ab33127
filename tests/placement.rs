//! NVL72-aware placement: groups that fit in a 72-GPU NVLink domain are priced at
//! NVLink bandwidth, groups that leave it at the scale-out network's, and the search
//! enumerates and ranks the layouts that use the domain.
//!
//! Bandwidths come from the catalog profiles and their sources
//! (hardware-profiles/clusters/): NVLink5 900 GB/s per GPU per direction on GB200 NVL72
//! and DGX B200 (NVIDIA GB200 NVL72 specifications, 130 TB/s / 72; DGX B200 datasheet,
//! 14.4 TB/s / 8 / 2) at NCCL efficiency 0.80, i.e. 720 GB/s; 400 Gb/s ConnectX-7 per
//! GPU (50 GB/s) at 0.90, i.e. 45 GB/s; latency 1 us per NVLink hop, 5 us per network hop.

use llmplan::analytic::comm::{inner_span, segment, Comm, Group, TokenRoute};
use llmplan::analytic::EstimateOptions;
use llmplan::search::space::{Space, SpaceLimits};
use llmplan::search::{full_estimate, search, SearchOptions};
use llmplan::spec::layout::{resolve, Adjustments, ResolvedLayout};
use llmplan::spec::scenario::{self, Scenario};

fn scenario(name: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    scenario::load(Some(name), &sets).unwrap()
}

fn resolved(sc: &Scenario) -> ResolvedLayout {
    resolve(
        &sc.layout,
        &sc.model,
        sc.gpus,
        &sc.training,
        &mut Adjustments::default(),
    )
    .unwrap()
}

/// DeepSeek-V3 with tp 8 x ep 8 (experts unfolded: etp = tp, so the expert group is 8
/// ranks 8 apart, 64 GPUs) on 1,024 GPUs of `cluster`.
fn tp8_ep8(cluster: &str) -> Scenario {
    scenario(
        "deepseek-v3-h800",
        &[
            &format!("cluster={cluster}"),
            "gpus=1024",
            "layout.tp=8",
            "layout.ep=8",
            "layout.etp=8",
            "layout.pp=16",
            "layout.schedule=1f1b",
            "layout.overlap.comm_sms=0",
            // Exposed, so the breakdown shows the whole all-to-all.
            "layout.overlap.ep_comm=false",
        ],
    )
}

#[test]
fn segments_of_whole_nodes_that_the_inner_groups_tile() {
    // NVL72: 18 trays of 4 GPUs. Spans dividing 72 fill the rack.
    for w in [1, 2, 4, 8, 24, 36, 72] {
        assert_eq!(segment(72, 4, w), 72, "span {w}");
    }
    // Powers of two above 8 do not divide 72: 16 trays (64 GPUs) per rack.
    for w in [16, 32, 64] {
        assert_eq!(segment(72, 4, w), 64, "span {w}");
    }
    // 48 tiles 48 (12 trays), not 72.
    assert_eq!(segment(72, 4, 48), 48);
    // Wider than the domain: the largest segment of whole trays dividing the span.
    assert_eq!(segment(72, 4, 128), 64);
    assert_eq!(segment(72, 4, 144), 72);
    assert_eq!(segment(72, 4, 96), 48);
    // A domain of one node (DGX, Infinity Fabric) has nothing to choose.
    assert_eq!(segment(8, 8, 64), 8);
    assert_eq!(segment(8, 8, 3), 8);
}

/// The brief's hand calculation: the MoE dispatch of 4,096 tokens x top-8 x 7,168 BF16
/// values (DeepSeek-V3's hidden width) over ep 8 at stride tp 8 (64 GPUs).
///
/// - GB200 NVL72: the 64 GPUs fill 16 trays of one rack, all on NVLink: 7/8 of the 8
///   copies leave the GPU, 7 x 4096 x 14,336 B = 411.04 MB at 720 GB/s = 570.89 us,
///   + 1 us = 571.89 us.
/// - DGX B200 (8-GPU nodes): every member on its own node, the same 411.04 MB on the
///   400G NIC at 45 GB/s = 9,134.26 us, + 5 us = 9,139.26 us: 16x the NVL72's.
/// - NVL72 ranks packed 72 per rack (the placement before segments): the 64-wide groups
///   do not tile 72, so some straddle two racks, 4 members each side: 4 of the 8 copies
///   cross the network, 234.88 MB at 45 GB/s = 5,219.58 us + 5 us = 5,224.58 us.
#[test]
fn all_to_all_inside_an_nvl72_rack_vs_dgx_b200_nodes() {
    let (t, k, b) = (4096.0, 8.0, 7168.0 * 2.0);
    let nvl = tp8_ep8("gb200-nvl72");
    let dgx = tp8_ep8("dgx-b200");
    let (rn, rd) = (resolved(&nvl), resolved(&dgx));
    assert_eq!((rn.tp, rn.ep, rn.etp), (8, 8, 8));
    assert_eq!(inner_span(&rn), 64);
    let g = Group { size: 8, stride: 8 };
    let cn = Comm::for_layout(&nvl.cluster, &rn);
    let cd = Comm::for_layout(&dgx.cluster, &rd);
    assert_eq!((cn.segment(), cd.segment()), (64, 8));
    assert!(cn.place(g).intra());
    assert_eq!(cd.place(g).domains, 8);
    let close = |got: f64, want_us: f64| (got * 1e6 - want_us).abs() < 0.01;
    let a_nvl = cn.moe_all_to_all_s(t, k, b, g, TokenRoute::PerCopy);
    let a_dgx = cd.moe_all_to_all_s(t, k, b, g, TokenRoute::PerCopy);
    assert!(close(a_nvl, 571.89), "{a_nvl}");
    assert!(close(a_dgx, 9139.26), "{a_dgx}");
    let packed = Comm::new(&nvl.cluster).moe_all_to_all_s(t, k, b, g, TokenRoute::PerCopy);
    assert!(close(packed, 5224.58), "{packed}");
}

/// The DGX B200 dispatch above through DeepEP's normal kernels (`training.moe_dispatcher:
/// deepep`), which send a token once to each node holding one of its experts (DeepEP
/// README, "asymmetric-domain bandwidth forwarding"; its internode test counts RDMA
/// bytes per destination node). With 8 copies spread evenly over 8 single-member nodes,
/// each of the 7 other nodes gets one with probability 1 - (7/8)^8: 7 x 0.656391 =
/// 4.594738 crossings instead of 7, 269.80 MB at 45 GB/s = 5,995.65 us + 5 us =
/// 6,000.65 us. Node-limited routing to 4 nodes (DeepSeek-V3) caps it at 4 x 7/8 = 3.5
/// crossings: 205.52 MB, 4,567.13 us + 5 us = 4,572.13 us.
#[test]
fn deepep_sends_a_token_once_per_node() {
    let (t, k, b) = (4096.0, 8.0, 7168.0 * 2.0);
    let dgx = tp8_ep8("dgx-b200");
    let rd = resolved(&dgx);
    let g = Group { size: 8, stride: 8 };
    let c = Comm::for_layout(&dgx.cluster, &rd);
    let close = |got: f64, want_us: f64| (got * 1e6 - want_us).abs() < 0.01;
    let per_node = c.moe_all_to_all_s(t, k, b, g, TokenRoute::PerDomain(None));
    assert!(close(per_node, 6000.65), "{per_node}");
    let limited = c.moe_all_to_all_s(t, k, b, g, TokenRoute::PerDomain(Some(4)));
    assert!(close(limited, 4572.13), "{limited}");
    // Inside one node nothing crosses the network: both routes cost the same.
    let inside = Group { size: 8, stride: 1 };
    assert_eq!(
        c.moe_all_to_all_s(t, k, b, inside, TokenRoute::PerDomain(None)),
        c.moe_all_to_all_s(t, k, b, inside, TokenRoute::PerCopy)
    );
}

/// The same through `estimate`: the expert all-to-all of tp 8 x ep 8 on GB200 NVL72 is
/// priced on NVLink, and the estimate says where the groups lie. On DGX B200 the
/// scenario's node-limited routing (DeepSeek-V3: at most 4 nodes per token) sends a
/// token over the network to 4 x 7/8 = 3.5 nodes on average instead of 7 copies, so
/// the ratio is 720/45 x 3.5/7 = 8, latencies and the imbalance factor alike aside.
#[test]
fn estimate_prices_a_rack_sized_group_on_nvlink() {
    let opts = EstimateOptions::default();
    let nvl = llmplan::setup::estimate(&tp8_ep8("gb200-nvl72"), &opts).unwrap();
    let dgx = llmplan::setup::estimate(&tp8_ep8("dgx-b200"), &opts).unwrap();
    let (en, ed) = (nvl.time.breakdown.ep_comm_s, dgx.time.breakdown.ep_comm_s);
    assert!(
        en > 0.0 && (ed / en - 8.0).abs() < 0.1,
        "NVL72 {en} s, DGX B200 {ed} s"
    );
    let note = nvl
        .warnings
        .iter()
        .find(|w| w.starts_with("placement:"))
        .expect("no placement note");
    assert!(
        note.contains("64 GPUs (16 nodes of 4) of each 72-GPU NVLink domain")
            && note.contains("ep 8 on NVLink")
            && note.contains("tp 8 on NVLink"),
        "{note}"
    );
    // Eight-GPU nodes have nothing to place.
    assert!(!dgx.warnings.iter().any(|w| w.starts_with("placement:")));
}

/// On NVL72 the search tries tp 16, 32 and 64 (they fill 64 GPUs of a rack) besides the
/// divisors of 72; on 8-GPU nodes tp stops at 8.
#[test]
fn search_space_has_tp_up_to_the_rack() {
    let lim = SpaceLimits::default();
    let nvl = Space::default_for(&scenario("llama3-405b-gb300", &[]), &lim);
    assert_eq!(nvl.tp, vec![1, 2, 4, 8]);
    // Llama 3 405B's 8 kv heads cap tp at 8; DeepSeek-V3's 128 MLA heads do not.
    let ds = |c: &str| {
        Space::default_for(
            &scenario("deepseek-v3-h800", &[&format!("cluster={c}")]),
            &lim,
        )
        .tp
    };
    assert_eq!(ds("gb200-nvl72"), vec![1, 2, 4, 8, 16, 32, 64]);
    assert_eq!(ds("dgx-b200"), vec![1, 2, 4, 8]);
}

/// The search ranks DeepSeek-V3's EP 64 on GB200 NVL72 knowing that 64 GPUs fit one
/// rack: its result is the estimate's figure for the same layout (one cost model), the
/// estimate places ep 64 on NVLink, and it beats the same layout on DGX B200, where the
/// all-to-all crosses eight nodes.
#[test]
fn search_ranks_ep64_inside_one_rack() {
    let run = |cluster: &str| {
        let sc = scenario(
            "deepseek-v3-h800",
            &[&format!("cluster={cluster}"), "gpus=1024"],
        );
        let mut o = SearchOptions::for_scenario(&sc);
        o.sim_top = 0;
        o.fixes = ["tp=1", "ep=64", "etp=1", "cp=1", "micro_batch=1", "pp=16"]
            .map(String::from)
            .to_vec();
        let out = search(&sc, &o, None).unwrap();
        let best = out.results.first().expect("nothing fits").clone();
        let e = full_estimate(&sc, &best).unwrap();
        assert!((e.time.step_s - best.step_s).abs() < 1e-9 * best.step_s);
        (best, e)
    };
    let (bn, en) = run("gb200-nvl72");
    let (bd, ed) = run("dgx-b200");
    let note = en
        .warnings
        .iter()
        .find(|w| w.starts_with("placement:"))
        .unwrap();
    assert!(note.contains("ep 64 on NVLink"), "{note}");
    let (an, ad) = (en.time.breakdown.ep_comm_s, ed.time.breakdown.ep_comm_s);
    assert!(
        bn.step_s < bd.step_s && ad > 4.0 * an,
        "NVL72 {} s (all-to-all {an} s) vs DGX B200 {} s ({ad} s)",
        bn.step_s,
        bd.step_s
    );
}

/// Llama 3.1 405B as NVIDIA's MLPerf Training v5.1 run on 5,120 GB200 (tp 4, pp 8, cp 2,
/// dp 80; config_GB200_1280x4x16xtp4pp8cp2_cg_fp4.sh), with the rank order set.
fn mlperf_405b(order: &str) -> Scenario {
    scenario(
        "llama3-405b-gb300",
        &[
            "cluster=gb200-nvl72",
            "gpus=5120",
            "training.global_batch_seqs=1280",
            "layout.tp=4",
            "layout.pp=8",
            "layout.cp=2",
            "layout.dp=80",
            "layout.vpp=8",
            &format!("layout.rank_order={order}"),
        ],
    )
}

#[test]
fn rank_order_decides_where_data_parallelism_runs() {
    use llmplan::analytic::comm::{dense_dp_group, pp_stride};
    // By hand, 64-GPU segments (a replica's tp x cp x pp = 64 GPUs, 16 trays). Megatron's
    // order tp -> cp -> dp -> pp: the 160 dp x cp members are 4 apart, 16 per segment,
    // over 10 segments; stages 640 ranks apart (over the network). tp -> cp -> pp -> dp
    // (TP_PP_DP_MAPPING): one replica per segment, so 2 members (its cp pair) per
    // segment over 80; stages 8 apart (on NVLink).
    let megatron = resolved(&mlperf_405b("tp-cp-dp-pp"));
    let mlperf = resolved(&mlperf_405b("tp-cp-pp-dp"));
    assert_eq!(inner_span(&megatron), 8);
    assert_eq!(inner_span(&mlperf), 64);
    let place = |l: &ResolvedLayout| {
        let p = llmplan::analytic::comm::place(dense_dp_group(l, 64), 64);
        (p.per_domain, p.domains)
    };
    assert_eq!(place(&megatron), (16, 10));
    assert_eq!(place(&mlperf), (2, 80));
    assert_eq!((pp_stride(&megatron), pp_stride(&mlperf)), (640, 8));
    // A replica wider than the domain keeps only its cp members together.
    let mut wide = mlperf.clone();
    wide.pp = 16;
    assert_eq!(
        llmplan::analytic::comm::place(dense_dp_group(&wide, 64), 64).per_domain,
        2
    );
    // With the data-parallel traffic on the network the step is longer.
    let step = |sc: &Scenario| {
        llmplan::setup::estimate(sc, &EstimateOptions::default())
            .unwrap()
            .time
            .step_s
    };
    let (a, b) = (
        step(&mlperf_405b("tp-cp-dp-pp")),
        step(&mlperf_405b("tp-cp-pp-dp")),
    );
    assert!(b > a, "{a} {b}");
}

#[test]
fn pp_inside_dp_is_for_dense_layers() {
    let sc = scenario("deepseek-v3-h800", &["layout.rank_order=tp-cp-pp-dp"]);
    let e = resolve(
        &sc.layout,
        &sc.model,
        sc.gpus,
        &sc.training,
        &mut Adjustments::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("rank_order"), "{e}");
}
