//! The framework behaviours a run names by kind: gradient clipping, the collective
//! algorithm, the MoE token dispatcher, how memory-bound ops run, the attention
//! kernel generation.

use serde::{Deserialize, Serialize};

/// How a framework clips gradients by their global norm (max norm 1.0 in every
/// published recipe here) each step, on the GPU's gradient shard before the optimizer
/// updates it: the norm is a pass reading the FP32 gradients (4 B per parameter) and a
/// scalar all-reduce over the ranks holding shards; what differs is the scaling.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GradClip {
    /// The norm only; the gradients are scaled only when the norm exceeds the max
    /// (Megatron-LM and Megatron-Core `clip_grad_norm_fp32`: `multi_tensor_l2norm`,
    /// then `multi_tensor_scale` if `clip_coeff < 1`, which a converging run rarely
    /// needs), or the scale rides in the fused Adam kernel (apex
    /// `DistributedFusedAdam`, NeMo 1).
    #[default]
    Norm,
    /// The norm, then every gradient multiplied by the clamped coefficient whatever
    /// the norm, a read and a write (4 + 4 B per parameter): PyTorch's
    /// `clip_grad_norm_` (`torch.nn.utils.clip_grads_with_norm_`: `_foreach_mul_` by
    /// `clamp(max_norm / norm, max=1)`; torchtitan, FSDP), DeepSpeed's
    /// `unscale_and_clip_grads` (unscales by the loss scale and clips in one pass).
    NormAndScale,
    /// No clipping.
    None,
}

impl GradClip {
    /// Bytes per parameter of the gradient shard the clipping moves on the GPU.
    pub fn bytes_per_param(self) -> f64 {
        match self {
            GradClip::Norm => 4.0,
            GradClip::NormAndScale => 12.0,
            GradClip::None => 0.0,
        }
    }
}

/// The collective algorithm a group spanning NVLink domains runs
/// (`training.collective`; see `analytic::collective` for each one's cost).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Collective {
    /// The NVLink part first, then the network part on the 1/a-sized shards, one
    /// after the other (two-level collectives: ZeRO++ hpZ/qgZ, MiCS, HSDP-like).
    #[default]
    Hierarchical,
    /// One flat ring over all ranks, pipelined (NCCL's ring: all-gather and
    /// reduce-scatter always, all-reduce at large sizes).
    Ring,
    /// All-reduce on NCCL's double binary tree (log-depth latency across nodes); a
    /// ring for all-gather and reduce-scatter.
    Tree,
    /// All-reduce through the NVSwitch (NVLink SHARP, NCCL's NVLS/NVLSTree) where the
    /// cluster has it; a ring for the rest and where it has not.
    Nvls,
    /// All-reduce and reduce-scatter across NVLink domains reduced in the InfiniBand
    /// switches (SHARP, NCCL's CollNet) where the cluster has it
    /// (`cluster.sharp_all_reduce_bw`), NVLS for the part inside a domain where the
    /// cluster has that; a ring for the rest and where it has neither.
    Sharp,
}

/// MoE token dispatcher across NVLink domains (`training.moe_dispatcher`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MoeDispatcher {
    /// Every routed copy of a token is its own message to its expert's rank.
    #[default]
    #[serde(alias = "alltoall")]
    AllToAll,
    /// A token crosses the network once per destination NVLink domain and fans out
    /// over NVLink there (DeepEP's normal kernels; Megatron-Core's `flex` dispatcher's
    /// default backend).
    #[serde(alias = "flex")]
    Deepep,
    /// As `deepep`, and each expert's tokens arrive padded to the quantized GEMM's
    /// alignment (HybridEP's `pad_multiple`).
    Hybridep,
}

impl MoeDispatcher {
    /// Megatron-Core's `moe_flex_dispatcher_backend` for a dispatcher that sends a
    /// token once per destination NVLink domain; `None` for the all-to-all.
    pub fn flex_backend(self) -> Option<&'static str> {
        match self {
            MoeDispatcher::AllToAll => None,
            MoeDispatcher::Deepep => Some("deepep"),
            MoeDispatcher::Hybridep => Some("hybridep"),
        }
    }

    /// Whether a token crosses the network once per destination NVLink domain.
    pub fn per_domain(self) -> bool {
        self.flex_backend().is_some()
    }
}

/// How a framework runs the memory-bound ops of a layer (norms, rotary embedding, the
/// MLP's activation, the loss): the bytes each moves through HBM differ several-fold.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Elementwise {
    /// Fused kernels: each norm, rotary embedding and activation reads its input once
    /// and writes its output once (Megatron-Core, Transformer Engine, Apex, or
    /// `torch.compile`'s generated kernels).
    #[default]
    Fused,
    /// PyTorch eager mode: every op of the model code is its own kernel through HBM,
    /// with FP32 upcasts (the Llama reference code torchtitan trains without
    /// `torch.compile`: RMSNorm in seven kernels, rotary embedding through complex FP32,
    /// SiLU and the gate product apart); see [`crate::analytic::elementwise`].
    Eager,
    /// Eager mode with a fused RMSNorm kernel (torchtitan's `norm_type =
    /// "fused_rmsnorm"`, a Triton kernel): the norms as [`Elementwise::Fused`], the rest
    /// as [`Elementwise::Eager`].
    #[serde(rename = "eager_fused_norm")]
    EagerFusedNorm,
    /// `torch.compile` over PyTorch model code (torchtitan's Llama, compiled block by
    /// block): Inductor fuses the norms, rotary embedding and activations as
    /// [`Elementwise::Fused`], but the copies the code makes for the kernels Inductor
    /// calls rather than generates stay: the grouped-query keys and values widened to
    /// every head (`repeat_kv`) before SDPA, and the attention output made contiguous
    /// for `wo`'s matmul.
    Compiled,
}

/// Generation of the fused attention kernel a framework runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKernel {
    /// The kernel the GPU's calibration measured (PyTorch 2.11's SDPA on H100:
    /// FlashAttention-3 class, 570-600 TFLOP/s forward at long sequences).
    #[default]
    Flash3,
    /// FlashAttention-2, the fused kernel Hopper runs had before FlashAttention-3 (July
    /// 2024): without Hopper's asynchronous tensor-core instructions it reaches ~55% of
    /// FlashAttention-3's throughput there (Shah et al. 2024, figures 5-6).
    Flash2,
}
