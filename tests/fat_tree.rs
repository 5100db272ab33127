//! Oversubscription per fat-tree tier (`cluster.tiers`, `analytic::comm`'s
//! `tier_factor`): a group whose ranks span several blocks of a tier (pods) sends part
//! of its network traffic over that tier's oversubscribed uplinks.
//!
//! Numbers: DGX H100's scale-out, 400 Gb/s NDR per GPU = 50 GB/s at NCCL efficiency
//! 0.90 (hardware-profiles/clusters/dgx-h100.yaml), 45 GB/s, 5 us per hop; the tier of
//! Llama 3's RoCE cluster (Llama 3 Herd of Models, arXiv 2407.21783, section 3.3.1):
//! 3,072-GPU pods with full bisection, oversubscribed 1:7 between pods.

use llmplan::analytic::comm::{Comm, Group, TokenRoute};
use llmplan::analytic::EstimateOptions;
use llmplan::setup::estimate;
use llmplan::spec::catalog;
use llmplan::spec::cluster::{ClusterProfile, Tier};
use llmplan::spec::scenario;

fn dgx_h100(tiers: &[(u64, f64)]) -> ClusterProfile {
    let mut c: ClusterProfile = catalog::load(catalog::CLUSTERS, "cluster", "dgx-h100").unwrap();
    c.tiers = tiers
        .iter()
        .map(|&(gpus, oversubscription)| Tier {
            gpus,
            oversubscription,
        })
        .collect();
    c
}

fn close(got_s: f64, want_us: f64) -> bool {
    (got_s * 1e6 - want_us).abs() < 0.05
}

/// An expert all-to-all over ep 16 at stride 8 (one member per DGX) on blocks of 64
/// GPUs oversubscribed 1:7: 8 members per block, so of each member's 15 remote copies
/// 8 leave the block: the uplinks stretch those bytes 7 x 8/15 = 3.733x. 4,096 tokens x
/// top-2 x 16,384 B: 1.875 x 4096 x 16384 = 125.83 MB at 45 GB/s = 2,796.2 us; with the
/// tier x 56/15 = 10,439.16 us; + 5 us each.
#[test]
fn all_to_all_across_pods_pays_the_upper_tier() {
    let g = Group {
        size: 16,
        stride: 8,
    };
    let flat = dgx_h100(&[]);
    let tiered = dgx_h100(&[(64, 7.0)]);
    let (t, k, b) = (4096.0, 2.0, 16384.0);
    let a = Comm::new(&flat).moe_all_to_all_s(t, k, b, g, TokenRoute::PerCopy);
    let c = Comm::new(&tiered);
    assert!((c.tier_factor(g, |m| (16.0 - m) / 15.0) - 7.0 * 8.0 / 15.0).abs() < 1e-12);
    let x = c.moe_all_to_all_s(t, k, b, g, TokenRoute::PerCopy);
    assert!(close(a, 2801.2), "{a}");
    assert!(close(x, 10444.16), "{x}");
    // Inside one block (ep 8 at stride 8 spans 64 GPUs) nothing changes.
    let inside = Group { size: 8, stride: 8 };
    assert_eq!(
        Comm::new(&tiered).moe_all_to_all_s(t, k, b, inside, TokenRoute::PerCopy),
        Comm::new(&flat).moe_all_to_all_s(t, k, b, inside, TokenRoute::PerCopy)
    );
}

/// A ring leaves each block once: a data-parallel all-reduce over 64 ranks at stride
/// 8 on 64-GPU blocks has 8 hops per block and one crosses, so a 1:7 tier costs nothing
/// (7/8 < 1) and a 1:16 tier doubles the network part. 1 GB: reduce-scatter 63/64 x
/// 1 GB / 45 GB/s = 21,875 us + 63 x 5 us, twice for the all-reduce: 44,380 us; with
/// 1:16, 2 x (43,750 + 315) = 88,130 us.
#[test]
fn a_ring_crosses_each_pod_once() {
    let g = Group {
        size: 64,
        stride: 8,
    };
    let flat = Comm::new(&dgx_h100(&[])).all_reduce_s(1e9, g);
    let c7 = dgx_h100(&[(64, 7.0)]);
    let c16 = dgx_h100(&[(64, 16.0)]);
    assert!(close(flat, 44380.0), "{flat}");
    assert_eq!(Comm::new(&c7).all_reduce_s(1e9, g), flat);
    let x = Comm::new(&c16).all_reduce_s(1e9, g);
    assert!(close(x, 88130.0), "{x}");
}

/// Pipeline sends at stride 1,024 on Llama 3's pods: a third of the pairs straddle two
/// pods and all send at once, so 1,024 of a pod's 3,072 GPUs share uplinks built for
/// 3,072 / 7: 7/3 as long. 100 MB: 2,222.2 us alone, 5,185.2 us across the tier.
#[test]
fn pipeline_sends_between_pods() {
    let llama3 = dgx_h100(&[(3072, 7.0)]);
    let c = Comm::new(&llama3);
    assert!((c.p2p_tier_factor(1024) - 7.0 / 3.0).abs() < 1e-12);
    assert!(close(Comm::new(&dgx_h100(&[])).p2p_s(1e8, 1024), 2227.2));
    assert!(close(c.p2p_s(1e8, 1024), 5190.2));
}

/// Llama 3 405B on 16,384 H100 (tp 8, pp 16, dp 128) on Llama 3's cluster: its
/// data-parallel groups span 1,024 GPUs, inside a pod, so the 1:7 tier leaves the
/// gradient sync as it was; the pipeline sends (stride 1,024, 33.5 MB of activations
/// each, 745.7 us + 5 us alone) take 7/3 as long on the network, so with the sends
/// exposed (`overlap.p2p` off) the breakdown's p2p grows by (7/3 x 745.7 + 5) /
/// (745.7 + 5) = 2.32x.
#[test]
fn llama3_on_its_own_cluster() {
    let sc = scenario::load(
        Some("llama3-405b-h100"),
        &["layout.overlap.p2p=false".into()],
    )
    .unwrap();
    let mut pods = sc.clone();
    pods.cluster.tiers = vec![Tier {
        gpus: 3072,
        oversubscription: 7.0,
    }];
    let o = EstimateOptions::default();
    let (a, b) = (estimate(&sc, &o).unwrap(), estimate(&pods, &o).unwrap());
    let (da, db) = (a.time.breakdown, b.time.breakdown);
    // The data-parallel group: 128 ranks at stride tp 8, all 1,024 inside one pod.
    let dp = Group {
        size: 128,
        stride: 8,
    };
    assert_eq!(
        Comm::new(&pods.cluster).reduce_scatter_s(1e9, dp),
        Comm::new(&sc.cluster).reduce_scatter_s(1e9, dp)
    );
    let ratio = db.p2p_s / da.p2p_s;
    let bw = 8192.0 * 16384.0 * 2.0 / 8.0 / 45e9;
    let want = (7.0 / 3.0 * bw + 5e-6) / (bw + 5e-6);
    assert!((ratio - want).abs() < 1e-9, "p2p x{ratio}, want x{want}");
    assert!(b.time.step_s > a.time.step_s);
    eprintln!(
        "llama3-405b-h100, sends exposed: step {:.4} s -> {:.4} s with 3,072-GPU pods at 1:7 (p2p {:.4} -> {:.4} s)",
        a.time.step_s, b.time.step_s, da.p2p_s, db.p2p_s
    );
}

/// A tier with no GPUs or an oversubscription below 1 is an input error naming it.
#[test]
fn bad_tiers_are_input_errors() {
    let dir = std::env::temp_dir().join(format!("llmplan-tiers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = catalog::source(catalog::CLUSTERS, "dgx-h100")
        .unwrap()
        .text
        .to_string();
    for (tier, field) in [
        (
            "  - {gpus: 0, oversubscription: 7.0}",
            "cluster.tiers[0].gpus",
        ),
        (
            "  - {gpus: 3072, oversubscription: 0.5}",
            "cluster.tiers[0].oversubscription",
        ),
    ] {
        let path = dir.join("c.yaml");
        std::fs::write(&path, format!("{yaml}\ntiers:\n{tier}\n")).unwrap();
        let set = vec![format!("cluster={}", path.display())];
        let e = scenario::load(Some("llama3-405b-h100"), &set).unwrap_err();
        assert!(e.to_string().contains(field), "{e}");
    }
    let path = dir.join("c.yaml");
    std::fs::write(&path, yaml.replace("leaf_gpus: 32", "leaf_gpus: 0")).unwrap();
    let set = vec![format!("cluster={}", path.display())];
    let e = scenario::load(Some("llama3-405b-h100"), &set).unwrap_err();
    assert!(e.to_string().contains("cluster.leaf_gpus"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// DGX H100 with its SuperPOD leaves (32 GPUs each, `leaf_gpus`), their uplinks
/// oversubscribed 1:4, rail-optimised or not.
fn leaves(rail: bool) -> ClusterProfile {
    let mut c = dgx_h100(&[]);
    c.leaf_gpus = Some(32);
    c.oversubscription = 4.0;
    c.rail_optimized = rail;
    c
}

/// Rail-optimised vs not, by hand. A rail leaf holds GPU i of 32 nodes (256 ranks); a
/// non-rail leaf 4 whole nodes (32 ranks). An expert all-to-all over ep 16 at stride
/// 8 (one member per node, 16 nodes): on rails all 16 members share a leaf, nothing
/// climbs: 1.875 x 4096 x 16384 B = 125.83 MB at 45 GB/s = 2,796.2 us + 5 us. Without
/// rails a leaf holds m = 4 members, so (16 - 4) / 15 = 0.8 of the remote copies leave
/// it over 1:4 uplinks: x 3.2 = 8,947.8 us + 5. Pipeline sends 64 ranks (8 nodes) apart:
/// on rails a leaf's 256 ranks send 64 / 256 of their GPUs' traffic out, 4 x 0.25 = 1,
/// unchanged: 100 MB / 45 GB/s = 2,222.2 us + 5; without rails every send leaves its
/// 32-rank leaf: x 4 = 8,888.9 us + 5.
#[test]
fn rail_optimised_leaves_keep_traffic_below_the_uplinks() {
    let (rail, flat) = (leaves(true), leaves(false));
    let g = Group {
        size: 16,
        stride: 8,
    };
    let (t, k, b) = (4096.0, 2.0, 16384.0);
    let a2a = |c: &ClusterProfile| Comm::new(c).moe_all_to_all_s(t, k, b, g, TokenRoute::PerCopy);
    assert!(close(a2a(&rail), 2801.2), "{}", a2a(&rail));
    assert!(close(a2a(&flat), 8952.8), "{}", a2a(&flat));
    let p2p = |c: &ClusterProfile| Comm::new(c).p2p_s(100e6, 64);
    assert!(close(p2p(&rail), 2227.2), "{}", p2p(&rail));
    assert!(close(p2p(&flat), 8893.9), "{}", p2p(&flat));
    // Beyond one rail leaf (ep 64 at stride 8: 64 nodes, 32 per leaf) the rails climb
    // too: (64 - 32) / 63 of the copies leave, 4 x 32/63 = 2.03x.
    let wide = Group {
        size: 64,
        stride: 8,
    };
    let f = Comm::new(&rail).tier_factor(wide, |m| (64.0 - m) / 63.0);
    assert!((f - 4.0 * 32.0 / 63.0).abs() < 1e-12, "{f}");
    // Without `leaf_gpus` every network transfer pays the oversubscription, as before.
    let mut unset = leaves(true);
    unset.leaf_gpus = None;
    assert!(close(a2a(&unset), 4.0 * 2796.2 + 5.0), "{}", a2a(&unset));
}
