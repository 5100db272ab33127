//! Collectives in the alpha-beta model, on the tier each group spans.
//!
//! Ranks are laid out tp -> cp -> ep -> dp -> pp (tp innermost, Megatron-LM's order).
//! A group is `size` ranks `stride` apart; it stays inside one NVLink domain when
//! `stride x size <= domain` and its span tiles the domain. Where a domain holds
//! several nodes (an NVL72 rack of 4-GPU trays), the job's ranks fill a [`segment`] of
//! whole nodes per domain that the layout's widest inner group tiles (64 of 72 for a
//! 64-wide tp x ep), as Slurm's `--segment` places jobs on NVL72 racks. A group that spans domains runs hierarchically: the
//! NVLink part first, then the network part on the 1/a-sized shards, each GPU using
//! its own NIC (rail-optimised), which is how NCCL's tree/ring over NVLS and IB
//! behaves at scale. Ring reduce-scatter and all-gather move (n-1)/n of the buffer
//! per GPU; all-reduce is the two in sequence.

use serde::Serialize;

use super::collective::{self, Shape};
use crate::spec::cluster::{ClusterProfile, Link};
use crate::spec::layout::{gcd, RankOrder, ResolvedLayout};
use crate::spec::training::Collective;

/// A communication group: `size` ranks, `stride` apart in the global rank order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Ranks in the group.
    pub size: u64,
    /// Distance between consecutive members in the global rank order.
    pub stride: u64,
}

/// A group with its shape on the cluster ([`Comm::shaped`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shaped {
    /// The group.
    pub group: Group,
    shape: Shape,
}

/// How a group lies on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// Members that share each NVLink domain.
    pub per_domain: u64,
    /// NVLink domains the group spans.
    pub domains: u64,
}

impl Placement {
    /// `true` when the whole group is inside one NVLink domain.
    pub fn intra(&self) -> bool {
        self.domains <= 1
    }

    /// "NVLink" or "network" for tables.
    pub fn tier(&self) -> &'static str {
        if self.intra() {
            "NVLink"
        } else {
            "network"
        }
    }
}

/// Where `g` falls on a cluster with NVLink domains of `domain` GPUs.
pub fn place(g: Group, domain: u64) -> Placement {
    if g.size <= 1 {
        return Placement {
            per_domain: 1,
            domains: 1,
        };
    }
    let span = g.stride * g.size;
    if span <= domain && !domain.is_multiple_of(span) {
        // Groups that do not tile the domain (tp 3 on 8-GPU nodes) leave some of them
        // straddling a boundary; a collective runs at its slowest group's pace.
        return Placement {
            per_domain: g.size.div_ceil(2),
            domains: 2,
        };
    }
    let per_domain = if g.stride >= domain {
        1
    } else {
        (domain / g.stride).clamp(1, g.size)
    };
    Placement {
        per_domain,
        domains: g.size.div_ceil(per_domain),
    }
}

/// GPUs of each NVLink domain a job's ranks fill, when a domain of `domain` GPUs holds
/// nodes of `per_node` and the layout's widest group kept together spans `span` ranks
/// ([`inner_span`]). The scheduler allocates whole nodes per domain (Slurm's
/// `--segment`: a job's nodes in segments of N nodes, each inside one topology block;
/// Megatron-Bridge's launcher uses it on GB200/GB300 NVL72 racks) and ranks fill the
/// segments in order, so a group stays on NVLink when the segment is a multiple of its
/// span. The largest such segment of whole nodes is taken: the whole domain when the
/// span divides it (8, 24, 36 or 72 on an NVL72), else the rest of the rack left idle
/// or to another job (a 64-wide group: 16 of 18 trays; NVIDIA's MLPerf Training GB200
/// and GB300 Llama 3.1 405B runs used 2,496, 2,560 and 5,120 GPUs: 39, 40 and 80 x 64,
/// none a whole number of 72-GPU racks). A span wider than the domain
/// takes the largest segment that divides it (128 -> 64: two whole segments per group
/// instead of uneven shares of three racks). A domain inside one node has nothing to
/// choose. GPUs.
pub fn segment(domain: u64, per_node: u64, span: u64) -> u64 {
    if domain <= per_node || per_node == 0 || span <= 1 {
        return domain;
    }
    let fits = |s: u64| {
        if span <= domain {
            s.is_multiple_of(span)
        } else {
            span.is_multiple_of(s)
        }
    };
    (1..=domain / per_node)
        .rev()
        .map(|k| k * per_node)
        .find(|&s| fits(s))
        .unwrap_or(domain)
}

/// The widest group a layout keeps inside a domain: tp x cp (attention's tp group and
/// the cp ring over it) and etp x ep (the experts' tp and all-to-all groups), whose
/// least common multiple every such group's span divides. Ranks.
pub fn inner_span(l: &ResolvedLayout) -> u64 {
    let span = span_of(l.tp, l.cp, l.ep, l.etp);
    match l.rank_order {
        RankOrder::TpCpDpPp => span,
        // A whole replica's tp x cp x pp GPUs are numbered together (dense only).
        RankOrder::TpCpPpDp => span * u64::from(l.pp),
    }
}

/// The dense data-parallel group (dp x cp ranks: the gradient reduction's and the
/// distributed optimizer's) on domains of `domain` GPUs. In Megatron's order its
/// members are tp apart. With pp inside dp (tp -> cp -> pp -> dp) a replica's cp
/// members are tp apart and the replicas tp x cp x pp apart, which no single stride
/// describes; placement only counts members per domain, so the group gets the stride
/// that puts as many in each: cp per replica times the replicas a domain holds, or a
/// replica's cp members when a replica does not fit, or one.
pub fn dense_dp_group(l: &ResolvedLayout, domain: u64) -> Group {
    let (tp, cp, pp) = (u64::from(l.tp), u64::from(l.cp), u64::from(l.pp));
    let size = u64::from(l.dp) * cp;
    let stride = match l.rank_order {
        RankOrder::TpCpDpPp => tp,
        RankOrder::TpCpPpDp => {
            let per = if tp * cp * pp <= domain {
                cp * (domain / (tp * cp * pp))
            } else if tp * cp <= domain {
                cp
            } else {
                1
            };
            (domain / per.max(1)).max(1)
        }
    };
    Group { size, stride }
}

/// Ranks between consecutive pipeline stages: tp x cp x dp in Megatron's order, tp x cp
/// with pp inside dp.
pub fn pp_stride(l: &ResolvedLayout) -> u64 {
    let inner = u64::from(l.tp) * u64::from(l.cp);
    match l.rank_order {
        RankOrder::TpCpDpPp => inner * u64::from(l.dp),
        RankOrder::TpCpPpDp => inner,
    }
}

/// [`inner_span`] of a layout given by its sizes, ranks.
pub fn span_of(tp: u32, cp: u32, ep: u32, etp: u32) -> u64 {
    let attn = u64::from(tp) * u64::from(cp);
    let experts = u64::from(etp) * u64::from(ep);
    attn / gcd(attn, experts).max(1) * experts
}

/// Finish times of `N` flows that start together on one shared link and split it
/// fairly (processor sharing, as concurrent NCCL channels on one NIC do to first
/// order): `alone[i]` is flow `i`'s time with the link to itself, seconds. While `j`
/// flows remain each gets 1/j of the link, so the shortest finishes at N x its own
/// time and the last at the sum of all (the link never idles). Seconds per flow.
pub fn shared_link_s<const N: usize>(alone: [f64; N]) -> [f64; N] {
    let mut order = [0usize; N];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
    order.sort_by(|&a, &b| alone[a].total_cmp(&alone[b]));
    let mut finish = [0.0; N];
    let (mut now, mut done) = (0.0, 0.0);
    for (rank, &i) in order.iter().enumerate() {
        let active = (N - rank) as f64;
        now += active * (alone[i].max(0.0) - done);
        done = alone[i].max(0.0);
        finish[i] = now;
    }
    finish
}

/// Most CTAs a NCCL ring collective launches per GPU (MAXCHANNELS, NCCL through 2.18).
pub const MAX_RING_CTAS: u64 = 32;

/// How a MoE token reaches its experts' NVLink domains ([`Comm::moe_all_to_all_s`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRoute {
    /// Each routed copy is a message of its own (Megatron-Core's `alltoall` dispatcher).
    PerCopy,
    /// One message per destination domain, forwarded over NVLink there (DeepEP,
    /// HybridEP); `Some(M)`: routing limited to M domains per token (DeepSeek-V3).
    PerDomain(Option<u32>),
}

/// Collective cost calculator for one cluster.
#[derive(Debug, Clone, Copy)]
pub struct Comm<'a> {
    cluster: &'a ClusterProfile,
    /// GPUs of each NVLink domain the job's ranks fill ([`segment`]).
    domain: u64,
    /// The algorithm groups spanning domains run (`training.collective`).
    algo: Collective,
}

fn link_bw(l: &Link) -> f64 {
    l.bandwidth * l.efficiency
}

impl<'a> Comm<'a> {
    /// One GPU's link to host memory per direction, bytes/s (`cluster.host_link_bw`).
    pub fn host_link_bw(&self) -> f64 {
        self.cluster.host_link_bw()
    }

    /// One GPU's share of its node's host memory bandwidth (`cluster.host_memory_bw`
    /// over the node's GPUs, whose processes step their optimizers at once), bytes/s;
    /// `None` where the cluster does not give it.
    pub fn host_memory_bw_per_gpu(&self) -> Option<f64> {
        let c = self.cluster;
        c.host_memory_bw
            .map(|bw| bw / f64::from(c.gpus_per_node.max(1)))
    }

    /// For `cluster`, ranks filling each NVLink domain whole.
    pub fn new(cluster: &'a ClusterProfile) -> Self {
        Comm {
            cluster,
            domain: u64::from(cluster.nvlink_domain),
            algo: Collective::Hierarchical,
        }
    }

    /// The same cluster and placement, collectives run as `algo`.
    pub fn with_collective(self, algo: Collective) -> Self {
        Comm { algo, ..self }
    }

    /// The algorithm this calculator prices collectives with.
    pub fn collective(&self) -> Collective {
        self.algo
    }

    /// For layout `l` on `cluster`: ranks fill the [`segment`] of each domain that
    /// `l`'s inner groups tile.
    pub fn for_layout(cluster: &'a ClusterProfile, l: &ResolvedLayout) -> Self {
        Comm {
            cluster,
            domain: segment(
                u64::from(cluster.nvlink_domain),
                u64::from(cluster.gpus_per_node),
                inner_span(l),
            ),
            algo: Collective::Hierarchical,
        }
    }

    /// GPUs of each NVLink domain the ranks fill.
    pub fn segment(&self) -> u64 {
        self.domain
    }

    /// CTAs (one SM each) a ring collective over `g` runs on each GPU, count. NCCL's
    /// topology search finds one ring channel per NIC the node's members drive (one per
    /// member inside an NVLink domain), `connectRings` doubles them (NCCL
    /// `src/graph/connect.cc`), and each channel is one CTA that never shares its SM with
    /// compute: 2 SMs with a single NIC, 16 on a DGX with 8 NICs (NCCL maintainers,
    /// github.com/NVIDIA/nccl issue 689); at most 32 (NCCL's MAXCHANNELS through 2.18).
    /// `cluster.collective_sms` overrides it.
    pub fn collective_ctas(&self, g: Group) -> u32 {
        if let Some(n) = self.cluster.collective_sms {
            return n;
        }
        if g.size <= 1 {
            return 0;
        }
        let p = self.place(g);
        let c = self.cluster;
        let members = p.per_domain.max(1);
        let channels = if p.intra() {
            members
        } else {
            // The NICs of the members' own nodes' share (one per GPU on rail-optimised nodes).
            let per_gpu = f64::from(c.nics_per_node) / f64::from(c.gpus_per_node.max(1));
            ((members as f64 * per_gpu).ceil() as u64).max(1)
        };
        (2 * channels).min(MAX_RING_CTAS) as u32
    }

    /// `true` when traffic of different groups sharing a NIC slows each other here.
    pub fn contention(&self) -> bool {
        self.cluster.nic_contention
    }

    /// `true` when `g`'s traffic crosses the network (on each member's NIC): it has
    /// members in more than one NVLink domain.
    pub fn crosses_network(&self, g: Group) -> bool {
        g.size > 1 && !self.place(g).intra()
    }

    /// Placement of `g` on this cluster.
    pub fn place(&self, g: Group) -> Placement {
        place(g, self.domain)
    }

    /// Where `l`'s groups lie, in words, on a cluster whose NVLink domain holds several
    /// nodes (an NVL72 rack); `None` where a domain is one node (nothing to choose).
    pub fn placement_note(&self, l: &ResolvedLayout) -> Option<String> {
        let (d, n) = (self.cluster.nvlink_domain, self.cluster.gpus_per_node);
        if d <= n {
            return None;
        }
        let (w, nodes) = (inner_span(l), self.domain / u64::from(n.max(1)));
        let fill = if self.domain < u64::from(d) {
            format!(
                "{} GPUs ({nodes} nodes of {n}) of each {d}-GPU NVLink domain, the most that the layout's \
                 widest inner group ({w} ranks: tp x cp, etp x ep) tiles; {} GPUs per domain left idle or \
                 to another job",
                self.domain,
                u64::from(d) - self.domain
            )
        } else {
            format!(
                "each {d}-GPU NVLink domain ({nodes} nodes of {n}), which the layout's widest inner group \
                 ({w} ranks: tp x cp, etp x ep) tiles"
            )
        };
        let tier = |name: &str, g: Group| {
            let p = self.place(g);
            (g.size > 1).then(|| match p.domains {
                1 => format!("{name} {} on NVLink", g.size),
                k => format!("{name} {} over {k} domains", g.size),
            })
        };
        let groups: Vec<String> = [
            tier(
                "tp",
                Group {
                    size: l.tp.into(),
                    stride: 1,
                },
            ),
            tier(
                "cp",
                Group {
                    size: l.cp.into(),
                    stride: l.tp.into(),
                },
            ),
            tier(
                "ep",
                Group {
                    size: l.ep.into(),
                    stride: l.etp.into(),
                },
            ),
            tier("dp", dense_dp_group(l, self.domain)),
        ]
        .into_iter()
        .flatten()
        .collect();
        Some(format!(
            "placement: ranks fill {fill}; {}",
            if groups.is_empty() {
                "no collectives".to_string()
            } else {
                groups.join(", ")
            }
        ))
    }

    /// Bandwidth inside the fast domain for a group with `a` members there, bytes/s per
    /// GPU per direction. Behind a switch every member reaches the full `scale_up`
    /// bandwidth; in a point-to-point mesh (Infinity Fabric) it drives only the a - 1
    /// links to the other members, out of its `domain - 1` (RCCL runs one ring per link).
    fn up_bw(&self, a: f64) -> f64 {
        let c = self.cluster;
        let full = link_bw(&c.scale_up);
        let links = f64::from(c.nvlink_domain.max(2)) - 1.0;
        if c.scale_up_mesh {
            full * ((a - 1.0).max(1.0) / links).min(1.0)
        } else {
            full
        }
    }

    fn net_bw(&self) -> f64 {
        let c = self.cluster;
        // With the leaf modelled, only what leaves it pays its uplinks ([`Comm::blocks`]).
        let o = if c.leaf_gpus.is_some() {
            1.0
        } else {
            c.oversubscription
        };
        link_bw(&c.scale_out) / o
    }

    /// The fat tree's blocks, innermost first, as (consecutive ranks one block spans,
    /// oversubscription of its uplinks): the leaf switch when `cluster.leaf_gpus` is
    /// set, then `cluster.tiers`. A rail-optimised leaf holds one GPU of each of
    /// `leaf_gpus` nodes, so it spans `leaf_gpus x gpus_per_node` ranks, of which it
    /// connects the ones on its rail; traffic to another rail's GPU in those nodes goes
    /// over NVLink to the GPU on the destination's rail first (NCCL's PXN, on by
    /// default since 2.12; rings and trees connect same-rail GPUs across nodes), so
    /// for the network a block is those nodes. A leaf of a non-rail fabric holds
    /// `leaf_gpus` GPUs of whole nodes: `leaf_gpus` ranks.
    fn blocks(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        let c = self.cluster;
        let leaf = c.leaf_gpus.map(|g| {
            let span = if c.rail_optimized {
                g * u64::from(c.gpus_per_node.max(1))
            } else {
                g
            };
            (span, c.oversubscription)
        });
        leaf.into_iter()
            .chain(c.tiers.iter().map(|t| (t.gpus, t.oversubscription)))
    }

    /// How much longer a group's network transfers take on the fat tree's oversubscribed
    /// tiers ([`Comm::blocks`]: the leaf, `cluster.tiers`), a factor >= 1: for each tier whose blocks hold fewer than all
    /// `size` members (`m` of them per block), `crossing(m)` is the share of a member's
    /// network bytes that leaves its block; every GPU of a block sends at once, and the
    /// block's uplinks carry 1/oversubscription of what its GPUs inject, so those bytes
    /// take oversubscription x share as long (never faster than the NIC). The worst
    /// tier sets the pace.
    pub fn tier_factor(&self, g: Group, crossing: impl Fn(f64) -> f64) -> f64 {
        let mut f = 1.0f64;
        for (gpus, over) in self.blocks() {
            let m = (gpus / g.stride.max(1)).clamp(1, g.size.max(1));
            if m < g.size {
                f = f.max(over * crossing(m as f64).min(1.0));
            }
        }
        f
    }

    /// `g`'s shape on this cluster with its links' rates and latencies.
    fn shape(&self, g: Group) -> Shape {
        let p = self.place(g);
        let a = p.per_domain as f64;
        Shape {
            a,
            b: p.domains as f64,
            up_bw: self.up_bw(a),
            net_bw: self.net_bw(),
            up_lat: self.cluster.scale_up.latency_s,
            net_lat: self.cluster.scale_out.latency_s,
            // The network ring over the domains leaves a block once per block: of
            // its m / a hops in a block, one crosses.
            tiers: if p.domains > 1 {
                self.tier_factor(g, |m| a / m)
            } else {
                1.0
            },
        }
    }

    /// `g` placed and shaped once, for a group whose collectives are priced many times
    /// (the data-parallel groups: several per stage, several stages per layout).
    pub fn shaped(&self, g: Group) -> Shaped {
        Shaped {
            group: g,
            shape: self.shape(g),
        }
    }

    /// Reduce-scatter (or all-gather) of a `bytes` buffer (full size) over `g` with
    /// the configured algorithm (`analytic::collective`: hierarchical, or NCCL's flat
    /// ring for the others), seconds.
    pub fn reduce_scatter_s(&self, bytes: f64, g: Group) -> f64 {
        if g.size <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        self.reduce_scatter_on(bytes, &self.shaped(g))
    }

    /// [`Comm::reduce_scatter_s`] over a group shaped by [`Comm::shaped`], seconds.
    pub fn reduce_scatter_on(&self, bytes: f64, g: &Shaped) -> f64 {
        if g.group.size <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        match (self.algo, self.cluster.sharp_all_reduce_bw) {
            (Collective::Hierarchical, _) => collective::hierarchical_rs_s(bytes, &g.shape),
            (Collective::Sharp, Some(bw)) => collective::sharp_rs_s(bytes, &g.shape, bw),
            _ => collective::ring_rs_s(bytes, &g.shape),
        }
    }

    /// A reduce-scatter over `g` of a buffer too small for its bytes to count (a bucket
    /// of biases and norms): the configured algorithm's latency, seconds.
    pub fn small_reduce_scatter_on(&self, g: &Shaped) -> f64 {
        self.reduce_scatter_on(f64::MIN_POSITIVE, g)
    }

    /// All-gather of a `bytes` buffer (full size) over `g`, seconds: the reduce-scatter's
    /// cost, except that SHARP reduces and has nothing to add to a gather (the ring).
    pub fn all_gather_s(&self, bytes: f64, g: Group) -> f64 {
        if g.size <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        self.all_gather_on(bytes, &self.shaped(g))
    }

    /// [`Comm::all_gather_s`] over a group shaped by [`Comm::shaped`], seconds.
    pub fn all_gather_on(&self, bytes: f64, g: &Shaped) -> f64 {
        if g.group.size <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        if self.algo == Collective::Sharp {
            return collective::ring_rs_s(bytes, &g.shape);
        }
        self.reduce_scatter_on(bytes, g)
    }

    /// All-reduce of `bytes` over `g`, seconds: reduce-scatter then all-gather, or a
    /// tree, or through the NVSwitch where the cluster has NVLink SHARP
    /// (`nvls_all_reduce_bw`; a ring where it has not), or reduced in the InfiniBand
    /// switches across domains where it has SHARP (`sharp_all_reduce_bw`).
    pub fn all_reduce_s(&self, bytes: f64, g: Group) -> f64 {
        if g.size <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        self.all_reduce_on(bytes, &self.shaped(g))
    }

    /// [`Comm::all_reduce_s`] over a group shaped by [`Comm::shaped`], seconds.
    pub fn all_reduce_on(&self, bytes: f64, g: &Shaped) -> f64 {
        if g.group.size <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        let (nvls, sharp) = (
            self.cluster.nvls_all_reduce_bw,
            self.cluster.sharp_all_reduce_bw,
        );
        match (self.algo, nvls, sharp) {
            (Collective::Tree, _, _) => collective::tree_ar_s(bytes, &g.shape),
            (Collective::Sharp, v, Some(x)) => collective::sharp_ar_s(bytes, &g.shape, x, v),
            (Collective::Nvls | Collective::Sharp, Some(bw), _) => {
                collective::nvls_ar_s(bytes, &g.shape, bw)
            }
            _ => 2.0 * self.reduce_scatter_on(bytes, g),
        }
    }

    /// All-reduce of a few bytes (a global norm) over `g`, seconds: at that size NCCL's
    /// tuner picks the lowest-latency algorithm, a tree's log depth across domains.
    pub fn small_all_reduce_on(&self, bytes: f64, g: &Shaped) -> f64 {
        if g.group.size <= 1 {
            return 0.0;
        }
        collective::tree_ar_s(bytes, &g.shape)
    }

    /// MoE token exchange (dispatch or combine) over the expert-parallel group `g`:
    /// each GPU sends `tokens` x `top_k` copies of `bytes_per_token`, spread evenly over
    /// the experts. Copies for experts on the same NVLink domain go over NVLink. Routed
    /// [`TokenRoute::PerDomain`], a token crosses the network once per destination
    /// domain and fans out over NVLink on arrival (DeepSeek-V3 report, section 3.2.2;
    /// DeepEP's normal kernels); [`TokenRoute::PerCopy`], every remote copy crosses it.
    /// Seconds.
    pub fn moe_all_to_all_s(
        &self,
        tokens: f64,
        top_k: f64,
        bytes_per_token: f64,
        g: Group,
        route: TokenRoute,
    ) -> f64 {
        if g.size <= 1 || tokens <= 0.0 {
            return 0.0;
        }
        let p = self.place(g);
        let n = g.size as f64;
        let a = p.per_domain as f64;
        let d = p.domains as f64;
        let remote_copies = top_k * (n - a) / n;
        let crossings = match route {
            TokenRoute::PerDomain(limit) if p.domains > 1 => {
                // Remote domains a token visits: each holds one of its top_k copies
                // with probability 1 - (1 - 1/d)^top_k; under node-limited routing it
                // visits at most M domains, the remote ones (d - 1) / d of them.
                let visited = (d - 1.0) * (1.0 - (1.0 - 1.0 / d).powf(top_k));
                let limited = limit.map_or(f64::INFINITY, |m| m as f64 * (d - 1.0) / d);
                remote_copies.min(visited).min(limited)
            }
            _ => remote_copies,
        };
        let up = &self.cluster.scale_up;
        // Local copies, plus the fan-out of tokens that arrived once per domain.
        let nvlink_copies = top_k * (a - 1.0) / n
            + if crossings < remote_copies {
                remote_copies
            } else {
                0.0
            };
        let intra = nvlink_copies * tokens * bytes_per_token / self.up_bw(a)
            + if a > 1.0 { up.latency_s } else { 0.0 };
        let inter = if p.domains > 1 {
            // Copies spread evenly over the experts: of the n - a remote members, n - m
            // sit in other blocks.
            let tiers = self.tier_factor(g, |m| (n - m) / (n - a));
            crossings * tokens * bytes_per_token / self.net_bw() * tiers
                + self.cluster.scale_out.latency_s
        } else {
            0.0
        };
        intra.max(inter)
    }

    /// One step of a ring over `g` in which every member sends `bytes` to its neighbour
    /// at once (context-parallel K/V passes). A ring that spans domains has hops on the
    /// network, and a step lasts as long as its slowest hop. Seconds.
    pub fn ring_step_s(&self, bytes: f64, g: Group) -> f64 {
        if g.size <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        if self.place(g).intra() {
            // One neighbour: a single link of a mesh.
            return bytes / self.up_bw(2.0) + self.cluster.scale_up.latency_s;
        }
        let l = &self.cluster.scale_out;
        // One hop of the m in a block leaves it.
        bytes / link_bw(l) * self.tier_factor(g, |m| 1.0 / m) + l.latency_s
    }

    /// Point-to-point send of `bytes` between ranks `stride` apart, seconds.
    pub fn p2p_s(&self, bytes: f64, stride: u64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        let p = self.place(Group { size: 2, stride });
        if p.intra() {
            return bytes / self.up_bw(2.0) + self.cluster.scale_up.latency_s;
        }
        let l = &self.cluster.scale_out;
        bytes / link_bw(l) * self.p2p_tier_factor(stride) + l.latency_s
    }

    /// [`Comm::tier_factor`] of point-to-point sends `stride` ranks apart, all at once:
    /// of a block's GPUs, min(block, stride) send to another block, so their bytes take
    /// oversubscription x min(1, stride / block) as long; the slowest pair sets the pace.
    pub fn p2p_tier_factor(&self, stride: u64) -> f64 {
        let mut f = 1.0f64;
        for (gpus, over) in self.blocks() {
            let share = (stride as f64 / gpus.max(1) as f64).min(1.0);
            f = f.max(over * share);
        }
        f
    }
}

#[cfg(test)]
mod tests;
