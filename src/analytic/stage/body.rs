//! A stage's work and holdings before its pipeline sends and ZeRO traffic ([`StageBody`]),
//! built by [`super::stage_body`].

/// One stage's per-micro-batch work before pipeline sends and ZeRO traffic, and what
/// it holds: the sum of its layers plus the embedding (first stage) or the output
/// layer, loss and MTP modules (last stage).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageBody {
    /// Transformer layers of the model on the stage (MTP blocks not counted).
    pub layers: u32,
    /// Forward work, exposed communication included, seconds.
    pub fwd_s: f64,
    /// Backward work (with recomputation), seconds.
    pub bwd_s: f64,
    /// Of `bwd_s`, the weight-gradient GEMMs, seconds.
    pub wgrad_s: f64,
    /// Pure compute, forward + backward + recompute, seconds.
    pub compute_s: f64,
    /// Exposed tensor-parallel communication, forward + backward, seconds.
    pub tp_comm_s: f64,
    /// Exposed expert all-to-all, forward + backward, seconds.
    pub ep_comm_s: f64,
    /// The backward's expert all-to-all with the network to itself, seconds.
    pub ep_bwd_s: f64,
    /// Exposed context-parallel traffic, forward + backward, seconds.
    pub cp_comm_s: f64,
    /// Parameters replicated across expert parallelism.
    pub dense_params: f64,
    /// Routed-expert parameters.
    pub expert_params: f64,
    /// Activations kept on the GPU per micro-batch in flight, bytes.
    pub stored_bytes: f64,
    /// Activations moved to host memory per micro-batch in flight, bytes.
    pub offloaded_bytes: f64,
    /// Exposed offload copies, forward plus backward (in `fwd_s` and `bwd_s`), seconds.
    pub offload_s: f64,
    /// One layer's full activations while full recompute replays it, bytes.
    pub working_bytes: f64,
    /// Logits kept for the loss (last stage), bytes.
    pub logits_bytes: f64,
    /// Of `compute_s`: FP8 casts and transposes, seconds.
    pub fp8_cast_s: f64,
    /// Of `compute_s`: MoE token permute and un-permute, seconds.
    pub moe_permute_s: f64,
    /// Of `compute_s`: the cross-entropy loss, forward plus backward, seconds.
    pub loss_s: f64,
    /// Of `fwd_s` and `bwd_s`, the work of the first model chunk only (the embedding,
    /// first stage), seconds (forward, backward): [`super::StageCost::first_chunk_s`].
    pub first_chunk_s: (f64, f64),
    /// Of `fwd_s` and `bwd_s`, the work of the last model chunk only (the output layer,
    /// loss and MTP modules, last stage), seconds (forward, backward).
    pub last_chunk_s: (f64, f64),
    /// FP8 weight casts of the whole stage, once per step (on its first micro-batch),
    /// seconds.
    pub weight_cast_s: f64,
    /// Transformer blocks on the stage (MTP blocks included): what the amax
    /// reduction carries.
    pub blocks: f64,
    /// Parameters outside the transformer blocks: the word (and position) embeddings
    /// on the first stage, the output layer and MTP projections on the last (in
    /// `dense_params`): the unit a sharded-parameter framework gathers first and reduces
    /// last ([`crate::analytic::dp_sync::zero3_edges`]).
    pub outside_params: f64,
}
