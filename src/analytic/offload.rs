//! Activation offloading to host memory: Megatron-Core's `cpu_offloading_num_layers`
//! (`training.activation_offload_layers`), which Megatron-Core hands to Transformer
//! Engine's `get_cpu_offload_context` (megatron/core/transformer/transformer_block.py).
//!
//! What Transformer Engine does (transformer_engine/pytorch/cpu_offload.py, the
//! `OffloadSynchronizer` of TE 2.10 and later; the older double-buffer handler, still
//! behind `NVTE_CPU_OFFLOAD_V1=1`, spreads the same copies over the same layers):
//! - the first `n` of a chunk's `L` layers are offloaded: the tensors each saves for
//!   backward (weights excluded, `mark_is_weight`; tensors under 1 Mi elements stay,
//!   which at training sizes is none of a layer's activations) are copied to pinned
//!   host memory on a side stream once the layer's forward is done, and layer `i`'s
//!   GPU copy is freed when the forward of layer `L - n + i` starts, which waits for
//!   that copy; in backward layer `i`'s reload starts when the backward of layer
//!   `L - n + i - 1` starts and the backward of layer `i` waits for it. The GPU holds
//!   at most `L - n` layers' activations (TE's docstring: peak `(L - n) x T`), so the
//!   stage stores `n` layers fewer per micro-batch;
//! - `n <= L - 1` (TE asserts it): the last layer is never offloaded.
//!
//! Time: each copy has `L - n - 1` layers of compute to hide under, and copies run one
//! after another on one stream. With `c` seconds per layer's copy and `x` per layer's
//! forward (or backward), the longest path through compute and copies gives an exposed
//! time per pass of `max(0, n c - (L - 2) x)` when `L - n >= 2`, and `n c` when
//! `L - n = 1` (each layer then waits for the previous layer's whole copy)
//! ([`exposed_copies_s`]). Device-to-host copies run in forward, host-to-device in
//! backward, each on its own copy engine and direction of the host link.
//!
//! HBM traffic of the copies is not counted: the copy engine reads (or writes) each byte
//! once at the host link's rate, 225 GB/s against HBM's 8 TB/s on GB200 (under 3%), for
//! the part of a layer's time the copy runs.

/// One stage's offloading per micro-batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageOffload {
    /// Activations moved to host memory (and back), bytes.
    pub bytes: f64,
    /// Forward time the device-to-host copies do not hide, seconds.
    pub fwd_s: f64,
    /// Backward time the host-to-device copies do not hide, seconds.
    pub bwd_s: f64,
}

/// Exposed time of `n` copies of `copy_s` seconds each, one after another, from the
/// first `n` of `layers` layers of `layer_s` seconds of compute each, under TE's
/// schedule (module docs), seconds: `max(0, n c - (L - 2) x)` with two or more layers
/// kept on the GPU, `n c` with one. 0 when `n` is 0.
pub fn exposed_copies_s(n: u32, layers: u32, copy_s: f64, layer_s: f64) -> f64 {
    if n == 0 || layers == 0 {
        return 0.0;
    }
    let nc = f64::from(n) * copy_s;
    if layers.saturating_sub(n) <= 1 {
        // Layer i + 1 starts only when layer i's copy is done: nothing hides.
        return nc;
    }
    (nc - f64::from(layers - 2) * layer_s).max(0.0)
}

/// The offloading of a stage of `layers` transformer layers when `n` of them go to
/// host memory over `host_bw` bytes/s per direction: `stored`, `fwd_s` and `bwd_s`
/// are the stage's layer totals per micro-batch (bytes, seconds) over its `blocks`
/// blocks, each layer taken at the mean (a stage mixing dense and MoE layers moves its
/// mean layer's bytes).
pub fn stage_offload(
    n: u32,
    layers: u32,
    (stored, fwd_s, bwd_s): (f64, f64, f64),
    blocks: f64,
    host_bw: f64,
) -> StageOffload {
    if n == 0 || layers == 0 || blocks <= 0.0 {
        return StageOffload::default();
    }
    let per_layer = stored / blocks;
    let copy_s = per_layer / host_bw;
    StageOffload {
        bytes: f64::from(n) * per_layer,
        fwd_s: exposed_copies_s(n, layers, copy_s, fwd_s / blocks),
        bwd_s: exposed_copies_s(n, layers, copy_s, bwd_s / blocks),
    }
}

/// DeepSpeed's CPU checkpointing (`training.checkpoint_offload`) on a stage of `layers`
/// layers whose full-recompute checkpoints are `ckpt` bytes each per micro-batch: every
/// checkpoint goes to host memory in forward and comes back in backward over `host_bw`
/// bytes/s, each copy blocking the host thread that launches the next layer, so all
/// of it is exposed: `layers x ckpt / host_bw` per pass.
pub fn blocking_checkpoint_offload(layers: u32, ckpt: f64, host_bw: f64) -> StageOffload {
    let bytes = f64::from(layers) * ckpt;
    let s = bytes / host_bw;
    StageOffload {
        bytes,
        fwd_s: s,
        bwd_s: s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand calculations of the exposure rule.
    #[test]
    fn copies_hide_under_the_kept_layers_or_are_exposed() {
        // 20 of 80 layers, 10 ms copies under 20 ms layers: 200 ms of copies under
        // 78 x 20 ms of compute, nothing exposed.
        assert_eq!(exposed_copies_s(20, 80, 0.010, 0.020), 0.0);
        // A slow link: 20 copies of 100 ms = 2.0 s against 78 x 20 ms = 1.56 s:
        // 0.44 s exposed.
        assert!((exposed_copies_s(20, 80, 0.100, 0.020) - 0.44).abs() < 1e-12);
        // One layer kept: every copy is waited for, 79 x 1 ms.
        assert!((exposed_copies_s(79, 80, 0.001, 0.020) - 0.079).abs() < 1e-12);
        assert_eq!(exposed_copies_s(0, 80, 1.0, 0.0), 0.0);
    }

    #[test]
    fn a_stage_moves_its_mean_layer_per_offloaded_layer() {
        // 80 layers of 4 GB each, 20 offloaded over 200 GB/s: 80 GB moved; 20 ms
        // copies under 40 ms forward and 80 ms backward layers hide.
        let o = stage_offload(20, 80, (320e9, 3.2, 6.4), 80.0, 200e9);
        assert_eq!(o.bytes, 80e9);
        assert_eq!((o.fwd_s, o.bwd_s), (0.0, 0.0));
        assert_eq!(
            stage_offload(0, 80, (320e9, 3.2, 6.4), 80.0, 200e9).bytes,
            0.0
        );
    }
}
