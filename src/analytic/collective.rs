//! The collective algorithms NCCL runs on a group of `a` ranks per NVLink domain over
//! `b` domains, in the alpha-beta model: each function takes the group's shape and
//! the links' rates and latencies and returns seconds (`training.collective` picks
//! which one prices a group; `analytic::comm` places the group and calls these).
//!
//! Sources (facts, not code): NCCL's own cost model, `src/graph/tuning.cc`
//! (NVIDIA/nccl @5067397): a ring all-gather or reduce-scatter takes `nRanks - 1`
//! steps, `nNodes - 1` of them over the network and the rest inside a node, and
//! "inter-node rings still have to launch nsteps * net overhead" (every step of a ring
//! that crosses nodes costs at least the network's per-message overhead, 1 us on x86
//! CPUs, tripled for the Simple protocol large collectives use); the tree all-reduce's
//! latency is `2 ((nRanks/nNodes - 1) intra + log2(nNodes) inter)`; NVLS all-reduce
//! pays one intra-node and one inter-node latency. Bandwidths: a ring is pipelined
//! (chunks flow through every hop at once), so it runs at its slowest hop's pace, not
//! the sum of its hops'; NVLS all-reduce on 8 H100 reaches ~275 GB/s of algorithm
//! bandwidth (480 GB/s nccl-tests bus bandwidth; NVIDIA/nccl-tests issue 212, NCCL's
//! maintainer), which is each GPU sending and receiving the buffer about once through
//! the switch, against 2 (n-1)/n of it for a ring. InfiniBand SHARP (CollNet
//! Direct): tuning.cc's latencies (31 us on the network, 0.4 us per local rank) and its
//! algorithm bandwidth being half the bus bandwidth it reports (each NIC sends and
//! receives its shard once; NVIDIA/nccl issue 320 for what CollNet is).

/// Per-step cost of a ring step that does not cross the network, when the ring does
/// (NCCL tuning.cc: `netOverhead` 1 us on x86, x3 for the Simple protocol), seconds.
pub const NET_STEP_OVERHEAD_S: f64 = 3.0e-6;

/// A group's shape and the rates its hops run at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Members per NVLink domain.
    pub a: f64,
    /// NVLink domains the group spans.
    pub b: f64,
    /// NVLink bandwidth a member drives to the others, bytes/s per direction.
    pub up_bw: f64,
    /// Network bandwidth per GPU, bytes/s per direction (already divided by the
    /// leaf's oversubscription).
    pub net_bw: f64,
    /// Per-hop latency on NVLink, seconds.
    pub up_lat: f64,
    /// Per-hop latency on the network, seconds.
    pub net_lat: f64,
    /// How much longer network bytes take on oversubscribed upper tiers, >= 1.
    pub tiers: f64,
}

impl Shape {
    fn n(&self) -> f64 {
        self.a * self.b
    }
}

/// Reduce-scatter (or all-gather) of a `bytes` buffer in two levels, one after the
/// other: a ring inside each domain, then a ring over the domains on the 1/a shards,
/// each GPU on its own NIC. Seconds.
pub fn hierarchical_rs_s(bytes: f64, s: &Shape) -> f64 {
    let (a, b) = (s.a, s.b);
    let intra = if a > 1.0 {
        (a - 1.0) / a * bytes / s.up_bw + (a - 1.0) * s.up_lat
    } else {
        0.0
    };
    let inter = if b > 1.0 {
        (b - 1.0) / b * (bytes / a) / s.net_bw * s.tiers + (b - 1.0) * s.net_lat
    } else {
        0.0
    };
    intra + inter
}

/// The bandwidth term of a flat ring moving (n-1)/n of `bytes` through every member,
/// seconds: pipelined, so the slowest hop sets the pace. Each member's NVLink carries
/// all of it; where the ring crosses domains, the a crossings of a domain's rings
/// (one per channel, spread over the domain's NICs, one per GPU when rail-optimised)
/// share the a GPUs' network bandwidth, so each NIC carries 1/a of it.
pub fn ring_bw_s(bytes: f64, s: &Shape) -> f64 {
    let n = s.n();
    if n <= 1.0 {
        return 0.0;
    }
    let moved = (n - 1.0) / n * bytes;
    let up = if s.a > 1.0 { moved / s.up_bw } else { 0.0 };
    let net = if s.b > 1.0 {
        moved / s.a / s.net_bw * s.tiers
    } else {
        0.0
    };
    up.max(net)
}

/// The latency of a flat ring's `n - 1` steps, seconds: `b - 1` cross the network at
/// the network's latency; the other `n - b` stay on NVLink but, in a ring that
/// crosses the network, each still pays the network's per-message overhead
/// ([`NET_STEP_OVERHEAD_S`]).
pub fn ring_lat_s(s: &Shape) -> f64 {
    let n = s.n();
    if n <= 1.0 {
        return 0.0;
    }
    if s.b <= 1.0 {
        return (n - 1.0) * s.up_lat;
    }
    (s.b - 1.0) * s.net_lat + (n - s.b) * s.up_lat.max(NET_STEP_OVERHEAD_S)
}

/// Flat-ring reduce-scatter (or all-gather) of a `bytes` buffer, seconds.
pub fn ring_rs_s(bytes: f64, s: &Shape) -> f64 {
    ring_bw_s(bytes, s) + ring_lat_s(s)
}

/// Double-binary-tree all-reduce of `bytes`, seconds: the ring's bandwidth (a
/// pipelined tree moves each byte up and down once per GPU, as a ring's two phases
/// do), with log-depth latency across domains, `2 ((a - 1) alpha_up + ceil(log2 b)
/// alpha_net)`. Inside one domain NCCL runs the ring.
pub fn tree_ar_s(bytes: f64, s: &Shape) -> f64 {
    if s.b <= 1.0 {
        return 2.0 * ring_rs_s(bytes, s);
    }
    2.0 * ring_bw_s(bytes, s) + 2.0 * ((s.a - 1.0) * s.up_lat + s.b.log2().ceil() * s.net_lat)
}

/// All-reduce of `bytes` through the NVSwitch (NVLS) at `nvls_bw`, the measured
/// algorithm bandwidth per GPU, seconds. Inside a domain each GPU sends and receives
/// the buffer once through the switch (never slower than the ring: NCCL picks the
/// faster, and on 2-4 GPUs the two measure alike, NVIDIA/nccl issue 1455); across
/// domains (NVLSTree) the domains' shards go up and down a tree over the network,
/// 2 x bytes / a per NIC, at the slower of the two levels, with one NVLink latency
/// and the tree's network depth.
pub fn nvls_ar_s(bytes: f64, s: &Shape, nvls_bw: f64) -> f64 {
    if s.b <= 1.0 {
        let ring = 2.0 * ring_rs_s(bytes, s);
        return ring.min(bytes / nvls_bw + s.up_lat);
    }
    let net = 2.0 * bytes / s.a / s.net_bw * s.tiers;
    (bytes / nvls_bw).max(net) + s.up_lat + 2.0 * s.b.log2().ceil() * s.net_lat
}

/// NCCL's CollNet Direct latency on the network with the Simple protocol (tuning.cc,
/// `hwLatencies[NET][CollNetDirect][Simple]`), seconds.
pub const SHARP_NET_LAT_S: f64 = 31e-6;

/// CollNet Direct's arity serialization per local rank (tuning.cc: "Add 0.4 us arity
/// serialization latency"), seconds.
pub const SHARP_ARITY_S: f64 = 0.4e-6;

/// Latency of a SHARP (CollNet Direct) collective across domains, as NCCL's tuning.cc
/// prices it: `2 (min(1, a - 1) alpha_up + (a - 1) 0.4 us) + 31 us` plus the network's
/// own latency twice (once more for the Simple protocol's flush). Seconds.
pub fn sharp_lat_s(s: &Shape) -> f64 {
    let local = s.a - 1.0;
    2.0 * (local.min(1.0) * s.up_lat + local * SHARP_ARITY_S) + SHARP_NET_LAT_S + 2.0 * s.net_lat
}

/// All-reduce of `bytes` with its network part reduced in the InfiniBand switches
/// (SHARP, NCCL's CollNet) at `sharp_bw`, the algorithm bandwidth per GPU: each GPU's
/// NIC sends its 1/a shard once and receives the reduced shard once, `bytes / a /
/// sharp_bw`, against the ring's 2 (b - 1)/b of it. The part inside a domain is NVLS
/// at `nvls_bw` where given (each GPU sends and receives the buffer once) or the
/// NVLink reduce-scatter and all-gather, 2 (a - 1)/a bytes at the NVLink rate; NCCL
/// pipelines chunks through both, so the slower sets the pace. Each switch forwards
/// one reduced stream up its uplinks, so the oversubscribed tiers are not paid. Never
/// slower than the ring (NCCL's tuner takes the faster); inside one domain, NVLS or
/// the ring. Seconds.
pub fn sharp_ar_s(bytes: f64, s: &Shape, sharp_bw: f64, nvls_bw: Option<f64>) -> f64 {
    let ring = 2.0 * ring_rs_s(bytes, s);
    if s.b <= 1.0 {
        return nvls_bw.map_or(ring, |v| nvls_ar_s(bytes, s, v));
    }
    let intra = match nvls_bw {
        _ if s.a <= 1.0 => 0.0,
        Some(v) => bytes / v,
        None => 2.0 * (s.a - 1.0) / s.a * bytes / s.up_bw,
    };
    let net = bytes / s.a / sharp_bw;
    ring.min(intra.max(net) + sharp_lat_s(s))
}

/// Reduce-scatter of `bytes` with SHARP across domains: the NVLink reduce-scatter
/// inside each domain, (a - 1)/a bytes, pipelined with each GPU's 1/a shard reduced in
/// the switches at `sharp_bw` (NCCL's CollNet Direct reduce-scatter, one NIC per
/// GPU). Its bandwidth barely beats the ring's ((b - 1)/b of the shard); its latency
/// is one switch tree instead of b - 1 ring steps. Never slower than the ring. Seconds.
pub fn sharp_rs_s(bytes: f64, s: &Shape, sharp_bw: f64) -> f64 {
    let ring = ring_rs_s(bytes, s);
    if s.b <= 1.0 {
        return ring;
    }
    let intra = (s.a - 1.0) / s.a * bytes / s.up_bw;
    let net = bytes / s.a / sharp_bw;
    ring.min(intra.max(net) + sharp_lat_s(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dgx(a: f64, b: f64) -> Shape {
        // DGX A100 as the catalog gives it: 300 GB/s x 0.77 NVLink, 25 GB/s x 0.9
        // per NIC, 1 us and 5 us.
        Shape {
            a,
            b,
            up_bw: 231e9,
            net_bw: 22.5e9,
            up_lat: 1e-6,
            net_lat: 5e-6,
            tiers: 1.0,
        }
    }

    fn close(x: f64, y: f64) -> bool {
        (x - y).abs() <= 1e-9 * y.abs().max(1e-12)
    }

    #[test]
    fn ring_by_hand() {
        // 1 GB over 4 nodes of 8: 31/32 GB through each NVLink at 231 GB/s = 4.194 ms;
        // through each NIC 31/32/8 GB at 22.5 GB/s = 5.382 ms: the network sets the
        // pace. Latency 3 x 5 us + 28 x 3 us = 99 us.
        let s = dgx(8.0, 4.0);
        let bw = 31.0 / 32.0 / 8.0 / 22.5;
        assert!(close(ring_bw_s(1e9, &s), bw));
        assert!(close(ring_lat_s(&s), 99e-6));
        assert!(close(ring_rs_s(1e9, &s), bw + 99e-6));
        // Hierarchical: 7/8 GB at 231 GB/s, then 3/4 x 1/8 GB at 22.5 GB/s, in turn;
        // latency 7 x 1 us + 3 x 5 us.
        let h = 7.0 / 8.0 / 231.0 + 0.75 / 8.0 / 22.5 + 22e-6;
        assert!(close(hierarchical_rs_s(1e9, &s), h));
        // Inside one node the two agree.
        let one = dgx(8.0, 1.0);
        assert!(close(ring_rs_s(1e9, &one), hierarchical_rs_s(1e9, &one)));
        // One GPU per node: every step on the network.
        assert!(close(ring_lat_s(&dgx(1.0, 64.0)), 63.0 * 5e-6));
    }

    #[test]
    fn ring_latency_grows_with_every_rank() {
        // 1,536 GPUs in 192 nodes: 191 x 5 us + 1,344 x 3 us = 4.987 ms per
        // collective; hierarchical pays 7 x 1 us + 191 x 5 us = 0.962 ms.
        let s = dgx(8.0, 192.0);
        assert!(close(ring_lat_s(&s), 191.0 * 5e-6 + 1344.0 * 3e-6));
        let h = hierarchical_rs_s(0.0, &s);
        assert!(close(h, 7e-6 + 191.0 * 5e-6));
    }

    #[test]
    fn tree_and_nvls_by_hand() {
        // Tree over 16 nodes of 8: ring bandwidth twice, latency 2 (7 x 1 + 4 x 5) us.
        let s = dgx(8.0, 16.0);
        let t = 2.0 * ring_bw_s(1e9, &s) + 54e-6;
        assert!(close(tree_ar_s(1e9, &s), t));
        // NVLS on one H100 node at 275 GB/s: 1 GB in 3.636 ms + 1 us, against the
        // ring's 2 x 7/8 GB at 365 GB/s = 4.795 ms.
        let h100 = Shape {
            up_bw: 365e9,
            ..dgx(8.0, 1.0)
        };
        assert!(close(nvls_ar_s(1e9, &h100, 275e9), 1.0 / 275.0 + 1e-6));
        // On two GPUs the ring (1/2 x 2 GB at 365 GB/s) is faster and NCCL takes it.
        let two = Shape { a: 2.0, ..h100 };
        assert!(close(
            nvls_ar_s(1e9, &two, 275e9),
            2.0 * ring_rs_s(1e9, &two)
        ));
    }

    #[test]
    fn sharp_by_hand() {
        // 1 GB all-reduce over 16 DGX A100 (a = 8), SHARP at 22.5 GB/s per GPU (an
        // input for this test: the NIC's rate at the ring's efficiency). NVLink
        // reduce-scatter and all-gather 2 x 7/8 GB at 231 GB/s = 7.576 ms, pipelined
        // with the NIC's 1/8 GB at 22.5 GB/s = 5.556 ms; latency 2 (1 + 7 x 0.4) us +
        // 31 us + 2 x 5 us = 48.6 us: 7.624 ms, against the ring's 11.85 ms.
        let s = dgx(8.0, 16.0);
        let sharp = 2.0 * 7.0 / 8.0 / 231.0 + 48.6e-6;
        assert!(close(sharp_lat_s(&s), 48.6e-6));
        assert!(close(sharp_ar_s(1e9, &s, 22.5e9, None), sharp));
        assert!(close(
            2.0 * ring_rs_s(1e9, &s),
            2.0 * (127.0 / 128.0 / 8.0 / 22.5 + 411e-6)
        ));
        // Reduce-scatter: 7/8 GB at 231 GB/s = 3.788 ms beside 5.556 ms on the NIC, +
        // 48.6 us = 5.604 ms; the ring moves 127/128 of the NIC's shard, 5.512 ms, but
        // pays 411 us of latency: 5.923 ms.
        let rs = 1.0 / 8.0 / 22.5 + 48.6e-6;
        assert!(close(sharp_rs_s(1e9, &s, 22.5e9), rs));
        // One GPU per node: no NVLink part, the NIC alone.
        let one = dgx(1.0, 64.0);
        let lat = 31e-6 + 10e-6;
        assert!(close(
            sharp_ar_s(1e9, &one, 22.5e9, Some(275e9)),
            1.0 / 22.5 + lat
        ));
        // Inside a domain SHARP has nothing to do: NVLS, or the ring.
        let node = dgx(8.0, 1.0);
        assert!(close(
            sharp_ar_s(1e9, &node, 22.5e9, None),
            2.0 * ring_rs_s(1e9, &node)
        ));
    }
}
