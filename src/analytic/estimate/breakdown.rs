//! The step's time on the critical path, split into disjoint parts and the named
//! shares inside them.

use serde::Serialize;

/// Where the step's time goes on the critical path, seconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StepBreakdown {
    /// Compute of the slowest stage over all micro-batches (recompute included).
    pub compute_s: f64,
    /// Pipeline fill and drain (and imbalance) beyond the slowest stage's work.
    pub bubble_s: f64,
    /// Exposed tensor-parallel collectives.
    pub tp_comm_s: f64,
    /// Exposed expert all-to-all.
    pub ep_comm_s: f64,
    /// Exposed context-parallel ring traffic.
    pub cp_comm_s: f64,
    /// Exposed pipeline sends.
    pub p2p_s: f64,
    /// Exposed data-parallel gradient and parameter traffic: the sync after the last
    /// backward and, under ZeRO-2/3, the traffic of every micro-batch.
    pub dp_comm_s: f64,
    /// Optimizer update, gradient clipping included.
    pub optimizer_s: f64,
    /// Activation copies to and from host memory the layers' compute does not hide
    /// (`training.activation_offload_layers`, [`crate::analytic::offload`]).
    pub offload_s: f64,
    /// Of `compute_s`: FP8 casts, transposes, weight casts and amax reductions.
    pub fp8_cast_s: f64,
    /// Of `compute_s`: MoE token permute and un-permute copies, seconds.
    pub moe_permute_s: f64,
    /// Of `compute_s`: the cross-entropy loss's memory-bound passes over the
    /// vocabulary-parallel logits (fused or not, `training.fused_cross_entropy`), seconds.
    pub loss_s: f64,
    /// Of `optimizer_s`: gradient clipping, its passes over the gradient shard and the
    /// norm's all-reduce (`training.grad_clip`), seconds.
    pub grad_clip_s: f64,
    /// Of `dp_comm_s`: compute slowed while overlapped data-parallel collectives hold
    /// SMs (a collective's CTAs never share an SM with compute), seconds.
    pub collective_sm_s: f64,
    /// Of `dp_comm_s`: ZeRO-3's first-unit gather each forward waits for and last-unit
    /// reduction after the last backward (then the whole end-of-step sync), which no
    /// compute hides ([`crate::analytic::dp_sync::zero3_edges`]), seconds.
    pub zero3_edges_s: f64,
}

impl StepBreakdown {
    /// The step's disjoint parts added up (the "of ..." shares are inside them), seconds:
    /// the step time they explain.
    pub fn parts_s(&self) -> f64 {
        self.compute_s
            + self.bubble_s
            + self.tp_comm_s
            + self.ep_comm_s
            + self.cp_comm_s
            + self.p2p_s
            + self.dp_comm_s
            + self.optimizer_s
            + self.offload_s
    }
}
