//! Transformer Engine's userbuffers overlap of the tensor-parallel collectives
//! (Megatron-Core `--tp-comm-overlap`, sequence parallelism on): each collective hides
//! under the one GEMM it is paired with, not under the whole layer, and the pipelined
//! reduce-scatters hold SMs the GEMM beside them would use.
//!
//! Sources: Transformer Engine v1.8 `pytorch/module/base.py` (`initialize_ub`: the
//! default methods: ring-exchange all-gathers for `qkv_fprop`, `fc1_fprop`,
//! `proj_dgrad`, `fc2_dgrad`; pipelined reduce-scatters in `num_splits` = 4 chunks with
//! `num_sm` = 16 communication SMs for `proj_fprop` and `fc2_fprop`; bulk overlaps for
//! `qkv_dgrad`/`fc1_dgrad` (the all-gather of the norm output the weight gradient needs)
//! and `qkv_wgrad`/`fc1_wgrad` (the reduce-scatter of the input gradient); FP8
//! all-gather buffers) and `pytorch/csrc/comm_gemm_overlap.h` (`split_overlap_ag`: the
//! GEMM runs on each chunk while the next one arrives; `split_overlap_rs`: chunk i's
//! reduce-scatter runs beside chunk i+1's GEMM, the last one alone; `bulk_overlap`: one
//! collective beside one GEMM). NeMo's tuned configs (NeMo-Framework-Launcher
//! `conf/training/tp_overlap/ub_cfg_h100_*.yaml` @24.07) keep these methods and use 16-24
//! SMs for the pipelined reduce-scatters.

use super::PricedGemm;

/// SMs a pipelined reduce-scatter's kernel holds while it runs (TE `add_ub`'s default
/// `num_sm`), count.
pub const RS_SMS: f64 = 16.0;

/// Chunks of a pipelined reduce-scatter (TE's default `num_splits` for `pipeline`).
pub const RS_SPLITS: f64 = 4.0;

/// What the userbuffers overlap leaves exposed in one dense layer, and the GEMM time
/// the reduce-scatters' SMs add, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UbExposed {
    /// Tensor-parallel communication not hidden in forward.
    pub fwd_s: f64,
    /// Not hidden in backward.
    pub bwd_s: f64,
    /// Forward GEMM time added: the reduce-scatters' GEMMs on `sms - RS_SMS` SMs.
    pub slowdown_s: f64,
}

/// A collective of `c` seconds split into `chunks` pieces, each beside one of the
/// GEMM's (`g` seconds) chunks but the first (ring exchange: the first chunk is local).
fn ring_exchange(c: f64, g: f64, chunks: f64) -> f64 {
    (c - g * (chunks - 1.0) / chunks).max(0.0)
}

/// A reduce-scatter of `c` seconds after a GEMM of `g` seconds, pipelined in
/// [`RS_SPLITS`]: chunk i's piece beside chunk i+1's GEMM, the last piece alone.
fn pipelined_rs(c: f64, g: f64) -> f64 {
    let (c1, g1) = (c / RS_SPLITS, g / RS_SPLITS);
    (RS_SPLITS - 1.0) * (c1 - g1).max(0.0) + c1
}

/// The exposure of a dense layer's tensor-parallel collectives under userbuffers: `ag`
/// and `rs` the seconds of one all-gather and one reduce-scatter of the layer's hidden
/// activations over the tp group, `tp` its size, `sms` the GPU's SMs (0: unknown, no
/// slowdown). `None` unless the layer has the four GEMMs TE pairs (qkv, proj, fc1, fc2).
pub fn exposure(priced: &[PricedGemm], ag: f64, rs: f64, tp: f64, sms: f64) -> Option<UbExposed> {
    let time = |name: &str| {
        priced
            .iter()
            .find(|p| p.gemm.name == name)
            .map(|p| (p.time.fwd_s, p.time.bwd_s - p.time.wgrad_s, p.time.wgrad_s))
    };
    let (qkv, proj, fc1, fc2) = (time("qkv")?, time("proj")?, time("fc1")?, time("fc2")?);
    let slow = if sms > RS_SMS {
        sms / (sms - RS_SMS)
    } else {
        1.0
    };
    let fwd_s = ring_exchange(ag, qkv.0, tp)
        + pipelined_rs(rs, proj.0 * slow)
        + ring_exchange(ag, fc1.0, tp)
        + pipelined_rs(rs, fc2.0 * slow);
    // Backward: the row-parallel GEMMs' input gradients wait on the all-gather of the
    // output gradient (ring exchange); the column-parallel ones re-gather their input
    // for the weight gradient beside the input gradient, and reduce-scatter the input
    // gradient beside the weight gradient (bulk).
    let bulk = |c: f64, g: f64| (c - g).max(0.0);
    let bwd_s = ring_exchange(ag, proj.1, tp)
        + ring_exchange(ag, fc2.1, tp)
        + bulk(ag, qkv.1)
        + bulk(rs, qkv.2)
        + bulk(ag, fc1.1)
        + bulk(rs, fc1.2);
    Some(UbExposed {
        fwd_s,
        bwd_s,
        slowdown_s: (proj.0 + fc2.0) * (slow - 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_by_hand() {
        // Ring exchange over 4 ranks: 3 of the GEMM's 4 chunks hide the all-gather.
        assert_eq!(ring_exchange(1.0, 1.0, 4.0), 0.25);
        assert_eq!(ring_exchange(1.0, 2.0, 4.0), 0.0);
        // Pipelined reduce-scatter in 4: 3 pieces of 0.25 beside GEMM chunks of 0.125
        // expose 0.125 each, the last piece 0.25 alone: 0.625.
        assert_eq!(pipelined_rs(1.0, 0.5), 0.625);
        // A long GEMM hides all but the last piece.
        assert_eq!(pipelined_rs(1.0, 4.0), 0.25);
    }
}
