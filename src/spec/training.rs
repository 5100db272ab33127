//! What is trained: tokens, sequence, batch, precision, optimizer, recompute.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod kinds;
pub use kinds::{AttentionKernel, Collective, Elementwise, GradClip, MoeDispatcher};

/// Activation recomputation policy (Korthikanti et al. 2022).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Recompute {
    /// Keep every activation.
    None,
    /// Recompute the attention score/softmax part only.
    Selective,
    /// Keep only each layer's input; redo the whole forward in backward.
    Full,
}

/// A part of a layer that selective recomputation can drop and redo (Megatron-LM's
/// `--recompute-modules`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RecomputeModule {
    /// The attention core (scores, softmax, dropout): the s x s terms (Korthikanti 2022).
    /// Free under flash attention, whose backward recomputes scores anyway.
    CoreAttn,
    /// MLA's query and key/value up-projections: keep the latents, redo Q, K, V
    /// (DeepSeek-V3 report, section 3.2.3).
    MlaUpProj,
    /// Normalisation layers: keep their inputs, redo their outputs.
    Layernorm,
    /// The dense MLP's activation function: keep its input, redo its output.
    MlpAct,
    /// The experts' activation function.
    MoeAct,
    /// torchtitan's op-level policy (`selective_ac_option = "op"`,
    /// torchtitan/distributed/activation_checkpoint.py): in each block the output of
    /// every second matmul is dropped and recomputed, with every memory-bound op; the
    /// other matmuls' and attention's outputs are kept.
    AlternateMatmuls,
}

/// An activation a recipe caches for backward in fewer bits than BF16 (DeepSeek-V3
/// report, section 3.3.3, "Low-Precision Storage and Communication").
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LowPrecisionCache {
    /// The inputs of the experts' SwiGLU (the fc1 outputs), cached in FP8 (1 byte,
    /// fine-grained scales left out); the SwiGLU output is recomputed from them.
    SwigluInput,
    /// The attention output, input of the output projection and of the attention
    /// backward, cached in a 12-bit E5M6 format (1.5 bytes).
    AttentionOutput,
}

impl LowPrecisionCache {
    /// Bytes per element cached.
    pub fn bytes(self) -> f64 {
        match self {
            LowPrecisionCache::SwigluInput => 1.0,
            LowPrecisionCache::AttentionOutput => 1.5,
        }
    }
}

/// Where a mixed-precision recipe keeps its weights and master copies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MixedPrecision {
    /// Megatron-LM / NeMo: BF16 (or FP16) weights in the model, FP32 main gradients,
    /// FP32 master weights inside the optimizer with its moments.
    #[default]
    Megatron,
    /// PyTorch AMP (`torch.autocast`): the model's FP32 parameters are the master
    /// weights; autocast casts each weight to BF16 when a matmul uses it and keeps
    /// the cast for that step's backward; FP32 gradients are allocated in backward
    /// (`zero_grad(set_to_none=True)`, PyTorch's default since 2.0); the optimizer
    /// holds only its moments and updates the FP32 parameters in place.
    TorchAmp,
}

/// Arithmetic precision of the GEMMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// BF16 mixed precision (fp32 master weights).
    Bf16,
    /// FP16 mixed precision with loss scaling (same cost model as BF16).
    Fp16,
    /// FP8 GEMMs (Transformer Engine style, per-tensor or per-block scales), BF16 elsewhere.
    Fp8,
    /// MXFP8 GEMMs (OCP microscaling: one E8M0 scale per 32 values along the reduction),
    /// Blackwell's and CDNA 4's FP8 training recipe; BF16 elsewhere.
    Mxfp8,
    /// NVFP4 linear-layer GEMMs (forward, input and weight gradients; one E4M3 scale per
    /// 16 values and a per-tensor FP32 scale), with about 16% of the layers kept in BF16,
    /// Hadamard-transformed weight-gradient inputs and stochastic rounding (NVIDIA,
    /// "Pretraining Large Language Models with NVFP4", 2025). Attention, embeddings,
    /// the output layer and the optimizer stay in BF16/FP32.
    Nvfp4,
    /// MXFP4 linear-layer GEMMs (one E8M0 scale per 32 values), with the same recipe as
    /// NVFP4 (CDNA 4 and Blackwell both run it).
    Mxfp4,
}

impl Precision {
    /// The number format the linear layers' GEMMs run in.
    pub fn dtype(self) -> crate::spec::gpu::Dtype {
        use crate::spec::gpu::Dtype;
        match self {
            Precision::Bf16 => Dtype::Bf16,
            Precision::Fp16 => Dtype::Fp16,
            Precision::Fp8 | Precision::Mxfp8 => Dtype::Fp8,
            Precision::Nvfp4 | Precision::Mxfp4 => Dtype::Fp4,
        }
    }

    /// `true` when the GEMM operands are quantized copies (FP8 or FP4 with scales) that
    /// a cast pass produces from BF16 tensors.
    pub fn quantized(self) -> bool {
        !matches!(self, Precision::Bf16 | Precision::Fp16)
    }

    /// Bytes per element of a quantized operand with its scales: FP8 1 (one scale per
    /// tensor or per 128 values, negligible), MXFP8 1 + 1/32, NVFP4 0.5 + 1/16, MXFP4
    /// 0.5 + 1/32; 2 for BF16/FP16.
    pub fn operand_bytes(self) -> f64 {
        match self {
            Precision::Bf16 | Precision::Fp16 => 2.0,
            Precision::Fp8 => 1.0,
            Precision::Mxfp8 => 1.0 + 1.0 / 32.0,
            Precision::Nvfp4 => 0.5 + 1.0 / 16.0,
            Precision::Mxfp4 => 0.5 + 1.0 / 32.0,
        }
    }

    /// Share of the linear layers the recipe keeps in BF16: the NVFP4 recipe keeps
    /// ~16% (the first two and last eight of the 12B model's 62 blocks: 10/62) to hold
    /// the loss gap to FP8 (NVIDIA 2025, section 4); 0 otherwise.
    pub fn bf16_layer_share(self) -> f64 {
        match self {
            Precision::Nvfp4 | Precision::Mxfp4 => 10.0 / 62.0,
            _ => 0.0,
        }
    }
}

/// How FP8 GEMM operands are scaled (Transformer Engine's recipes, and DeepSeek-V3's).
/// It decides the casting passes around each FP8 GEMM ([`crate::analytic::fp8`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Fp8Recipe {
    /// Per-tensor scales from an amax history (TE `DelayedScaling`, the Hopper default
    /// of Megatron-Core/NeMo 2024): the cast needs no pass of its own to find the scale.
    #[default]
    Delayed,
    /// Per-tensor scales from the tensor's own amax (TE `Float8CurrentScaling`,
    /// "FP8-CS"): an amax pass over each tensor before its cast.
    Current,
    /// Fine-grained tiles (DeepSeek-V3 report, section 3.3.2): activations per 1x128,
    /// weights per 128x128, cast in passes of their own.
    Blockwise,
}

/// The training run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// Tokens to train on.
    pub tokens: f64,
    /// Sequence length, tokens.
    pub seq_len: u64,
    /// Global batch in sequences (exclusive with `global_batch_tokens`).
    #[serde(default)]
    pub global_batch_seqs: Option<u64>,
    /// Global batch in tokens; rounded to whole sequences.
    #[serde(default)]
    pub global_batch_tokens: Option<f64>,
    /// GEMM precision.
    #[serde(default = "default_precision")]
    pub precision: Precision,
    /// Where the recipe keeps weights and master copies.
    #[serde(default)]
    pub mixed_precision: MixedPrecision,
    /// FP8 scaling recipe (with `precision: fp8`; `precision: mxfp8` is TE's MXFP8 block
    /// scaling, NVFP4/MXFP4 their own recipes).
    #[serde(default)]
    pub fp8_recipe: Fp8Recipe,
    /// Share of the linear layers a 4-bit recipe keeps in BF16, 0-1; absent: the
    /// precision's own ([`Precision::bf16_layer_share`], NVFP4 10/62 after NVIDIA's
    /// NVFP4 pre-training paper). NVIDIA's MLPerf Training v5.1 Llama 3.1 runs keep
    /// none (`first_last_layers_bf16` off, no `num_layers_at_start/end_in_bf16`).
    #[serde(default)]
    pub fp4_bf16_layer_share: Option<f64>,
    /// MoE load imbalance: tokens routed to the busiest expert-parallel rank over its
    /// balanced share (1 = balanced routing; capacity-factor token dropping caps it at
    /// the capacity factor). The busiest rank sets the pace of the expert GEMMs and of
    /// the all-to-all every rank waits on.
    #[serde(default = "one")]
    pub expert_imbalance: f64,
    /// Optimizer state bytes per parameter (fp32 master 4 + Adam m 4 + v 4 = 12).
    #[serde(default = "default_optimizer_bytes")]
    pub optimizer_bytes_per_param: f64,
    /// Bytes per gradient element in the reduction and the main-grad buffer (fp32 = 4).
    #[serde(default = "default_grad_bytes")]
    pub grad_bytes_per_param: f64,
    /// Activation recomputation.
    #[serde(default = "default_recompute")]
    pub recompute: Recompute,
    /// What `recompute: selective` redoes; defaults to the attention core.
    #[serde(default = "default_modules")]
    pub recompute_modules: Vec<RecomputeModule>,
    /// Share of the layers `recompute: full` checkpoints, 0-1 (the rest keep all their
    /// activations): torchtitan's `selective_ac_option = N` wraps every N-th block, 1/N
    /// (torchtitan distributed/activation_checkpoint.py); Megatron's block method
    /// recomputes `recompute_num_layers` of each chunk's layers.
    #[serde(default = "one")]
    pub recompute_layer_share: f64,
    /// Activations cached for backward in fewer bits than BF16.
    #[serde(default)]
    pub low_precision_cache: Vec<LowPrecisionCache>,
    /// Dropout layers present (adds masks to activation memory).
    #[serde(default)]
    pub dropout: bool,
    /// Fused flash attention (no s x s score matrix kept).
    #[serde(default = "yes")]
    pub flash_attention: bool,
    /// Which generation of fused attention kernel runs (with `flash_attention`):
    /// `flash3` for Transformer Engine's cuDNN attention, FlashAttention-3, or PyTorch
    /// 2.11+ SDPA on Hopper; `flash2` for PyTorch SDPA on Hopper through torch 2.10,
    /// whose default backend there is FlashAttention-2 (pytorch/pytorch#138522).
    #[serde(default)]
    pub attention_kernel: AttentionKernel,
    /// Quantized-GEMM weights kept as FP8 parameters (Megatron-Core's
    /// `--fp8-param-gather`, Megatron-Bridge's `fp8_param_gather`): no BF16 copy of
    /// them, and the data-parallel parameter all-gather moves FP8. Only with a
    /// quantizing precision.
    #[serde(default)]
    pub fp8_param_gather: bool,
    /// Parameters per data-parallel gradient bucket (Megatron-Core DDP's
    /// `bucket_size`; NeMo's and the MLPerf implementations' `bucket_size`): with
    /// overlapped reduction the gradients reduce bucket by bucket as the backward fills
    /// them, so the last bucket's reduction is left after the backward, and the next
    /// forward waits for its first bucket's parameters. As in Megatron-Core, only the
    /// first model chunk of pipeline stage 0 is bucketed; every other chunk is one
    /// bucket. Megatron's data parallelism only (`layout.zero` 0 or 1). Default:
    /// Megatron-Core's, max(40M, 1M x the data-parallel group's GPUs)
    /// (megatron/core/distributed/distributed_data_parallel.py), parameters.
    #[serde(default)]
    pub dp_bucket_params: Option<f64>,
    /// Sharded weights gathered into a buffer and copied out into the parameters on the
    /// compute stream (PyTorch FSDP2: `foreach_all_gather_copy_out` in
    /// `FSDPParamGroup.wait_for_unshard`), with `layout.zero: 3`: each gather reads and
    /// writes the stage's weights once more.
    #[serde(default)]
    pub unshard_copy: bool,
    /// How the memory-bound ops between the GEMMs run: fused kernels (Megatron, TE,
    /// Apex), one PyTorch eager kernel per op, or PyTorch model code under
    /// `torch.compile`.
    #[serde(default)]
    pub elementwise: Elementwise,
    /// With fused memory-bound ops: the loss runs Megatron-Core's fused
    /// vocabulary-parallel cross-entropy (`cross_entropy_loss_fusion`, on in
    /// Megatron-Bridge's and NeMo 2's GPT configs), 22 bytes per logit forward and 6
    /// backward; `false`: the unfused `vocab_parallel_cross_entropy`, Megatron-Core's
    /// own default and the only one before Megatron-Core 0.8 (FP32 copy, max, subtract,
    /// exp, sum and divide as separate passes), 38 and 14 bytes per logit
    /// (`analytic::head`). Eager elementwise ops price PyTorch's loss instead; under
    /// `compiled` ones, `true` is the loss compiled with the model and `false` the loss
    /// left to PyTorch eager (torchtitan before 2025 did not compile it).
    #[serde(default = "yes")]
    pub fused_cross_entropy: bool,
    /// How NCCL runs the collectives of a group that spans NVLink domains
    /// (`analytic::collective`): `hierarchical` (the NVLink part, then the network
    /// part on 1/a shards; llmplan's model before 2026-11), `ring` (one flat ring over
    /// the whole communicator, as NCCL runs all-gather and reduce-scatter), `tree`
    /// (all-reduce on NCCL's double binary tree, a ring for the rest) or `nvls`
    /// (all-reduce through the NVSwitch, NVLink SHARP, where the cluster gives
    /// `nvls_all_reduce_bw`; a ring elsewhere).
    #[serde(default)]
    pub collective: Collective,
    /// How MoE tokens travel to their experts' ranks and back when the expert-parallel
    /// group spans NVLink domains (`analytic::comm::Comm::moe_all_to_all_s`):
    /// `all_to_all` (one copy per routed expert over the network, Megatron-Core's
    /// `alltoall` dispatcher), `deepep` or `hybridep` (one copy per destination domain,
    /// forwarded over NVLink on arrival and combined there on the way back: DeepEP's
    /// normal kernels and HybridEP, Megatron-Core's `flex` dispatcher; HybridEP also pads
    /// each expert's tokens for FP8 GEMMs as it dispatches, where the others leave it to
    /// a copy before the experts). Node-limited routing (`model.moe.max_nodes_per_token`)
    /// routes as `deepep`.
    #[serde(default)]
    pub moe_dispatcher: MoeDispatcher,
    /// Transformer layers per pipeline stage whose activations saved for backward are
    /// copied to host memory after their forward and back before their backward,
    /// count (Megatron-Core's `cpu_offloading_num_layers`, `--cpu-offloading-num-layers`,
    /// which hands it to Transformer Engine's `get_cpu_offload_context`: the first that
    /// many layers of the model chunk are offloaded, the others stay). Must be below the
    /// layers of every stage (TE keeps at least the last layer on the GPU). 0: none.
    /// The copies run over `cluster.host_link_bw` ([`crate::analytic::offload`]).
    #[serde(default)]
    pub activation_offload_layers: u32,
    /// Gradient-norm clipping each optimizer step, as the framework runs it: `norm`
    /// (a pass reading the FP32 gradient shard and a scalar all-reduce; Megatron-Core,
    /// apex; default), `norm_and_scale` (also scales every gradient each step: PyTorch's
    /// `clip_grad_norm_`, DeepSpeed) or `none`.
    #[serde(default)]
    pub grad_clip: GradClip,
    /// Sharded-parameter collectives per transformer block per pass under
    /// `layout.zero: 3`, count: 1 where each block is one FSDP unit (PyTorch FSDP and
    /// torchtitan's `fully_shard` per block); each pays a collective's latency.
    #[serde(default = "one_u32")]
    pub zero3_collectives_per_layer: u32,
    /// Under `layout.zero: 3`, gradient reduce-scatters per transformer block beyond
    /// the `zero3_collectives_per_layer` that carry the weights: buckets of small
    /// parameters (biases, norms) reduced on their own, each a collective's latency for
    /// a negligible buffer, count. DeepSpeed ZeRO-3 fills a bucket until the next
    /// gradient would overflow `reduce_bucket_size` (runtime/zero/stage3.py
    /// `reduce_independent_p_g_buckets_and_remove_grads` @v0.6.2), so where a small
    /// gradient arrives between two weights larger than the bucket it is reduced alone.
    /// Default 0.
    #[serde(default)]
    pub zero3_small_reduce_scatters_per_layer: u32,
    /// Under `layout.zero: 3`, whether the backward waits for each gradient
    /// reduce-scatter before it goes on, so the backward's ZeRO traffic (its
    /// all-gathers and reduce-scatters) adds to its compute instead of hiding under it:
    /// DeepSpeed ZeRO-3 with `offload_optimizer` copies each reduced gradient partition
    /// into the optimizer's host buffer with a blocking copy (deepspeed
    /// runtime/zero/stage3.py `__partition_grads` @v0.6.2), which holds the host thread
    /// that launches the backward until the reduce-scatter has finished. Default false.
    #[serde(default)]
    pub zero3_reduce_blocks_backward: bool,
    /// Under `layout.zero: 3` with full recomputation, DeepSpeed's
    /// `stage3_max_reuse_distance`, parameters: a weight gathered for a block's
    /// recompute stays gathered for its backward only if at most this many parameters
    /// are fetched in between (the later weights of the block, twice: recompute and
    /// backward); past it DeepSpeed releases it and gathers it again
    /// (runtime/zero/partitioned_param_coordinator.py `__params_to_release` @v0.6.2).
    /// DeepSpeed's default is 1e9 (runtime/zero/config.py). Unset: every recomputed
    /// weight is kept for its backward (PyTorch FSDP unshards a block once for both).
    #[serde(default)]
    pub zero3_reuse_distance_params: Option<f64>,
    /// Optimizer states (FP32 master weights and Adam's moments) held in host memory and
    /// updated on the CPU (DeepSpeed ZeRO-Offload, `offload_optimizer: cpu`; Ren et al.
    /// 2021): they leave GPU memory, and the optimizer step runs on the host at the
    /// cluster's `host_memory_bw` with its gradient and parameter copies over
    /// `host_link_bw` (`analytic::dp_sync::host_optimizer_s`); a cluster without
    /// `host_memory_bw` keeps the GPU's optimizer time (the estimate says so). Default
    /// false.
    #[serde(default)]
    pub optimizer_offload: bool,
    /// Full-recompute checkpoints held in host memory (DeepSpeed activation
    /// checkpointing's `cpu_checkpointing`, Megatron-DeepSpeed's `--checkpoint-in-cpu`):
    /// each layer's checkpoint, its input (2 bytes per hidden element per token), goes
    /// to host memory as the layer's forward ends and comes back before its recompute,
    /// each copy a blocking `.to()` between the GPU and pageable host memory
    /// (`copy_to_device`, `move_to_device` in
    /// deepspeed/runtime/activation_checkpointing/checkpointing.py @v0.6.2), so no
    /// compute hides it; priced over `cluster.host_link_bw` (a floor: pageable copies
    /// are staged through a pinned buffer). Needs `recompute: full`. Default false.
    #[serde(default)]
    pub checkpoint_offload: bool,
}

fn default_precision() -> Precision {
    Precision::Bf16
}
fn default_optimizer_bytes() -> f64 {
    12.0
}
fn default_grad_bytes() -> f64 {
    4.0
}
fn default_recompute() -> Recompute {
    Recompute::Selective
}
fn default_modules() -> Vec<RecomputeModule> {
    vec![RecomputeModule::CoreAttn]
}
fn yes() -> bool {
    true
}
fn one_u32() -> u32 {
    1
}

fn one() -> f64 {
    1.0
}

impl Training {
    /// Share of the linear layers kept in BF16 under the run's precision: the scenario's
    /// `fp4_bf16_layer_share` for a 4-bit recipe, else the precision's own.
    pub fn bf16_layer_share(&self) -> f64 {
        match (self.precision, self.fp4_bf16_layer_share) {
            (Precision::Nvfp4 | Precision::Mxfp4, Some(v)) => v,
            (p, _) => p.bf16_layer_share(),
        }
    }

    /// Bytes per element `tensor` is cached in for backward: its low-precision format
    /// when the recipe names it, else BF16's 2.
    pub fn cache_bytes(&self, tensor: LowPrecisionCache) -> f64 {
        if self.low_precision_cache.contains(&tensor) {
            tensor.bytes()
        } else {
            2.0
        }
    }

    /// Share of the layers whose forward is replayed in backward: all under full
    /// recomputation unless `recompute_layer_share` says fewer (clamped to 0-1), none
    /// otherwise.
    pub fn replayed_share(&self) -> f64 {
        if self.recompute == Recompute::Full {
            self.recompute_layer_share.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Whether selective recomputation redoes `module`.
    pub fn recomputes(&self, module: RecomputeModule) -> bool {
        self.recompute == Recompute::Selective && self.recompute_modules.contains(&module)
    }

    /// Global batch in sequences before any rounding to the layout.
    pub fn requested_batch_seqs(&self) -> Result<f64> {
        match (self.global_batch_seqs, self.global_batch_tokens) {
            (Some(s), None) => Ok(s as f64),
            (None, Some(t)) => Ok(t / self.seq_len as f64),
            (Some(_), Some(_)) => Err(Error::invalid(
                "training.global_batch_seqs",
                "give either global_batch_seqs or global_batch_tokens, not both",
            )),
            (None, None) => Err(Error::invalid(
                "training.global_batch_seqs",
                "missing: give global_batch_seqs or global_batch_tokens",
            )),
        }
    }

    /// Range checks.
    pub fn validate(&self) -> Result<()> {
        // The upper bound keeps FLOPs, days and dollars finite (1e20 is 5,000 times the
        // largest published run); found by tests/props.rs.
        if !(self.tokens.is_finite() && (1.0..=1e20).contains(&self.tokens)) {
            return Err(Error::invalid(
                "training.tokens",
                format!("must be between 1 and 1e20, got {}", self.tokens),
            ));
        }
        if !(self.expert_imbalance.is_finite() && (1.0..=64.0).contains(&self.expert_imbalance)) {
            return Err(Error::invalid(
                "training.expert_imbalance",
                format!(
                    "must be between 1 (balanced) and 64 (busiest rank over the mean), got {}",
                    self.expert_imbalance
                ),
            ));
        }
        if self.seq_len == 0 {
            return Err(Error::invalid("training.seq_len", "must be positive"));
        }
        if let Some(v) = self.dp_bucket_params {
            if !(v.is_finite() && (1.0..=1e13).contains(&v)) {
                return Err(Error::invalid(
                    "training.dp_bucket_params",
                    format!("must be between 1 and 1e13 parameters, got {v}"),
                ));
            }
        }
        if let Some(v) = self.fp4_bf16_layer_share {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::invalid(
                    "training.fp4_bf16_layer_share",
                    format!("must be between 0 and 1, got {v}"),
                ));
            }
        }
        let b = self.requested_batch_seqs()?;
        if !(b.is_finite() && b >= 1.0) {
            return Err(Error::invalid(
                "training.global_batch_seqs",
                format!("global batch must be at least one sequence, got {b}"),
            ));
        }
        for (f, v) in [
            (
                "training.optimizer_bytes_per_param",
                self.optimizer_bytes_per_param,
            ),
            ("training.grad_bytes_per_param", self.grad_bytes_per_param),
        ] {
            if !(v.is_finite() && (0.0..=64.0).contains(&v)) {
                return Err(Error::invalid(
                    f,
                    format!("must be between 0 and 64 bytes, got {v}"),
                ));
            }
        }
        if self.checkpoint_offload && self.recompute != Recompute::Full {
            return Err(Error::invalid(
                "training.checkpoint_offload",
                "moves full-recompute checkpoints to host memory: needs recompute: full",
            ));
        }
        let share = self.recompute_layer_share;
        if !(share.is_finite() && share > 0.0 && share <= 1.0) {
            return Err(Error::invalid(
                "training.recompute_layer_share",
                format!("must be above 0 and at most 1 (a share of the layers), got {share}"),
            ));
        }
        if let Some(d) = self.zero3_reuse_distance_params {
            if !(d.is_finite() && d >= 0.0) {
                return Err(Error::invalid(
                    "training.zero3_reuse_distance_params",
                    format!("must be a parameter count of 0 or more, got {d}"),
                ));
            }
        }
        Ok(())
    }
}
