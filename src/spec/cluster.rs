//! Cluster profiles: how GPUs are wired, inside a node and between nodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One interconnect tier as the collectives see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Bandwidth per GPU per direction, bytes/s.
    pub bandwidth: f64,
    /// Per-hop latency (alpha), seconds.
    pub latency_s: f64,
    /// Fraction of `bandwidth` that NCCL collectives achieve as bus bandwidth.
    pub efficiency: f64,
}

/// One tier of a fat tree above the leaf switches: blocks of `gpus` GPUs (a pod under
/// one layer of switches) whose uplinks to the next layer are oversubscribed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// GPUs in one block of this tier (consecutive ranks fill a block), count.
    pub gpus: u64,
    /// Injection bandwidth of the block's GPUs over its uplinks' bandwidth (1.0 = full
    /// bisection; 7.0 = Llama 3's 1:7 above its 3,072-GPU pods), ratio.
    pub oversubscription: f64,
}

/// A cluster: nodes of GPUs, an NVLink (or PCIe) domain, and a scale-out network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterProfile {
    /// Catalog name, e.g. `dgx-h100`.
    pub name: String,
    /// Human-readable name.
    pub display_name: String,
    /// GPU catalog name this cluster is built from by default.
    pub gpu: String,
    /// GPUs per server (billing and failure unit).
    pub gpus_per_node: u32,
    /// GPUs that share the fast domain (8 for a DGX, 72 for GB200 NVL72).
    pub nvlink_domain: u32,
    /// The fast domain (NVLink/NVSwitch, or PCIe on a PCIe node).
    pub scale_up: Link,
    /// `true` when the fast domain is a full mesh of point-to-point links (AMD Infinity
    /// Fabric) rather than a switch: `scale_up.bandwidth` is the sum over a GPU's
    /// `nvlink_domain - 1` links, of which a group of `a` GPUs uses `a - 1`.
    #[serde(default)]
    pub scale_up_mesh: bool,
    /// The scale-out network (InfiniBand/RoCE), per GPU (one NIC per GPU).
    pub scale_out: Link,
    /// NICs per node.
    pub nics_per_node: u32,
    /// SMs (CUs) a collective's kernel holds on each GPU while it runs, count; unset:
    /// NCCL's ring channels for the group (`analytic::comm::Comm::collective_ctas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collective_sms: Option<u32>,
    /// Traffic of different parallelisms that is on a GPU's NIC at the same time shares
    /// it (the shared-link model of `analytic::comm::shared_link_s`); `false` gives
    /// every collective the NIC to itself.
    #[serde(default = "yes")]
    pub nic_contention: bool,
    /// Network oversubscription above the leaf switches (1.0 = full bisection): the
    /// leaf's uplinks carry 1/oversubscription of what its GPUs inject. Paid by every
    /// network transfer when `leaf_gpus` is unset; with it, only by the share of a
    /// group's traffic that leaves a leaf (`analytic::comm`, `tier_factor`).
    pub oversubscription: f64,
    /// GPUs (NIC ports) one leaf switch of the scale-out network connects, count (32 in
    /// the DGX SuperPOD's scalable units: 8 rail leaves per 32 nodes). Unset: the leaf
    /// is not modelled and every network transfer pays `oversubscription`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_gpus: Option<u64>,
    /// `true` (the default): a rail-optimised fabric, NIC i of every node on leaf (rail)
    /// switch i, so a leaf of `leaf_gpus` ports holds one GPU of each of `leaf_gpus`
    /// nodes; traffic between GPUs of different nodes stays under one leaf for that
    /// many nodes (NCCL's PXN moves data bound for another rail over NVLink to the GPU
    /// on that rail first). `false`: a leaf holds whole nodes (`leaf_gpus /
    /// gpus_per_node`), and inter-node traffic reaches the oversubscribed uplinks
    /// sooner. Used only with `leaf_gpus`.
    #[serde(default = "yes")]
    pub rail_optimized: bool,
    /// Fat-tree tiers above the leaf, innermost first: a group whose ranks span more
    /// than one block of a tier sends part of its network traffic over that tier's
    /// oversubscribed uplinks (`analytic::comm`, `tier_factor`). Empty: every tier at
    /// `oversubscription`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Tier>,
    /// NVLink SHARP (NVLS): the algorithm bandwidth of an all-reduce through the
    /// NVSwitch inside one NVLink domain, bytes/s per GPU (each GPU sends and receives
    /// the buffer about once; nccl-tests bus bandwidth x n / (2 (n - 1))). Absent where
    /// the switch has no in-network reduction (A100, AMD); used by
    /// `training.collective: nvls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvls_all_reduce_bw: Option<f64>,
    /// InfiniBand SHARP (in-network reduction in the Quantum switches, NCCL's CollNet):
    /// the algorithm bandwidth of the network part of an all-reduce across NVLink
    /// domains, bytes/s per GPU: each GPU's NIC sends its 1/a shard once and receives
    /// the reduced shard once, against 2 (b - 1)/b of it for a ring. Absent where the
    /// fabric reduces nothing (RoCE, no aggregation manager); used by
    /// `training.collective: sharp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharp_all_reduce_bw: Option<f64>,
    /// Bandwidth from one GPU to host memory per direction while every GPU of the node
    /// copies at once, bytes/s: what `training.activation_offload_layers` copies over.
    /// Unset: [`PCIE_GEN5_X16_BW`] (a GPU on its own PCIe Gen5 x16 link, as on HGX
    /// H100/H200/B200/B300 boards); GB200/GB300 NVL72 set their NVLink-C2C share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_link_bw: Option<f64>,
    /// Host (CPU) memory bandwidth of one node, all sockets together, bytes/s: what a
    /// host-side optimizer step (`training.optimizer_offload`, DeepSpeed's CPU Adam)
    /// streams its states through, shared by the node's GPUs' processes. The memory
    /// channels' datasheet rate. Unset: the host step is not priced (the estimate says
    /// so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_memory_bw: Option<f64>,
    /// Wall power per GPU including its share of CPUs, NICs, fans, watts.
    pub power_per_gpu_w: f64,
    /// Fixed time every optimizer step pays beyond the modelled work (data loading,
    /// logging, launch gaps), seconds; 0 unless set by `llmplan calibrate runs` from the
    /// cluster's own measured step times.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub step_overhead_s: f64,
    /// Where each number comes from.
    pub sources: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// PCIe Gen5 x16 per direction, bytes/s: 32 GT/s x 16 lanes with 128b/130b encoding
/// (PCI-SIG PCIe 5.0 base specification), 32e9 x 16 x 128/130 / 8 = 63.0 GB/s, before
/// protocol (TLP header) overhead.
pub const PCIE_GEN5_X16_BW: f64 = 32e9 * 16.0 * 128.0 / 130.0 / 8.0;

impl ClusterProfile {
    /// [`Self::host_link_bw`], or [`PCIE_GEN5_X16_BW`] when unset, bytes/s per direction.
    pub fn host_link_bw(&self) -> f64 {
        self.host_link_bw.unwrap_or(PCIE_GEN5_X16_BW)
    }

    /// Fields that must carry a `sources` entry; checked by the catalog tests.
    pub const SOURCED_FIELDS: &'static [&'static str] = &[
        "nvlink_domain",
        "scale_up",
        "scale_out",
        "oversubscription",
        "power_per_gpu_w",
    ];
}
