//! Data-parallel traffic of a stage: the groups it runs over, ZeRO-2/3's traffic per
//! micro-batch, the gradient reduction and parameter gather at the end of the step with
//! what overlap hides of them, the optimizer step, and the SMs an overlapped collective
//! takes from compute while it runs.

use serde::Serialize;

use super::comm::{Comm, Group, Shaped};
use super::stage::{StageBody, StageCost, StageInputs};
use crate::spec::gpu::GpuProfile;
use crate::spec::layout::{Overlap, ResolvedLayout};
use crate::spec::training::{GradClip, MixedPrecision, Training};

/// Smallest default gradient bucket for overlapped data-parallel reduction,
/// parameters (Megatron-Core DDP: `max(40000000, 1000000 * dp_group.size())`,
/// megatron/core/distributed/distributed_data_parallel.py).
pub const MIN_BUCKET_PARAMS: f64 = 40e6;

/// What Megatron-Core's default bucket grows by per GPU of the data-parallel group
/// (context parallelism not counted: its `dp_group` is built without it), parameters:
/// larger groups cut each bucket into more ring chunks, and the default keeps the
/// chunks large enough to stay bandwidth-bound.
pub const BUCKET_PARAMS_PER_DP_RANK: f64 = 1e6;

/// Parameters per data-parallel gradient bucket: `training.dp_bucket_params` when
/// the scenario sets it, else Megatron-Core's default for the layout's `dp`.
pub fn bucket_params(tr: &Training, l: &ResolvedLayout) -> f64 {
    tr.dp_bucket_params
        .unwrap_or_else(|| MIN_BUCKET_PARAMS.max(BUCKET_PARAMS_PER_DP_RANK * l.dp as f64))
}

/// Buckets a stage of `params` parameters reduces its gradients in, count (at least
/// one per model chunk). Megatron-Core buckets only the first model chunk of pipeline
/// stage 0 (`first_stage`): its DDP turns bucketing off on every other pipeline rank,
/// whose reduction is off the critical path, and its training loop for every model
/// chunk after the first (megatron/core/distributed/distributed_data_parallel.py:
/// `if disable_bucketing or pp_rank > 0: self.bucket_size = None`;
/// megatron/training/models/dist_utils.py and NeMo's megatron_parallel.py:
/// `disable_bucketing = model_chunk_idx > 0 or overlap_param_gather_with_optimizer_step`).
/// Such a chunk reduces as one bucket when its last backward ends. Each of the stage's
/// `layout.vpp` chunks holds an equal share of its parameters. Under ZeRO-2/3 (FSDP
/// units, DeepSpeed's buckets, not Megatron's DDP) every stage's end-of-step traffic
/// goes in [`MIN_BUCKET_PARAMS`] pieces.
pub fn buckets(params: f64, tr: &Training, l: &ResolvedLayout, first_stage: bool) -> f64 {
    if l.zero >= 2 {
        return (params / MIN_BUCKET_PARAMS).ceil().max(1.0);
    }
    let chunks = l.vpp.max(1) as f64;
    if !first_stage {
        return chunks;
    }
    chunks * (params / chunks / bucket_params(tr, l)).ceil().max(1.0)
}

/// SMs an overlapped collective competes with compute for: the GPU's, or 0 when the
/// layout reserves SMs for communication for the whole step (`overlap.comm_sms`: compute
/// already runs on the rest, [`crate::calibrate::kernel_model_for`]). Count.
pub fn gpu_sms_for_collectives(gpu: &GpuProfile, ov: &Overlap) -> f64 {
    if ov.comm_sms > 0 {
        0.0
    } else {
        f64::from(gpu.sm_count)
    }
}

/// Share of the GPU's compute a collective over `g` takes while it runs beside compute:
/// its CTAs' SMs ([`Comm::collective_ctas`]) over the GPU's `gpu_sms`
/// ([`gpu_sms_for_collectives`]). Fraction.
pub fn collective_sm_share(comm: &Comm, gpu_sms: f64, g: Group) -> f64 {
    if gpu_sms <= 0.0 {
        return 0.0;
    }
    (f64::from(comm.collective_ctas(g)) / gpu_sms).min(1.0)
}

/// A layout's data-parallel groups ([`dp_groups`]) placed and shaped on the cluster,
/// and the compute share their overlapped collectives take: the same for every stage
/// of the layout, so computed once per layout (the search prices millions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpGroups {
    /// Dense parameters' group.
    pub dense: Shaped,
    /// Routed experts' group.
    pub expert: Shaped,
    /// [`collective_sm_share`] of the dense group (the one whose traffic overlaps
    /// compute), fraction.
    pub sm_share: f64,
}

impl DpGroups {
    /// For layout `l` on `comm`'s cluster, on a GPU whose compute runs on `gpu_sms` SMs.
    pub fn new(l: &ResolvedLayout, comm: &Comm, gpu_sms: f64) -> Self {
        let (dense, expert) = dp_groups(l, comm);
        DpGroups {
            dense: comm.shaped(dense),
            expert: comm.shaped(expert),
            sm_share: collective_sm_share(comm, gpu_sms, dense),
        }
    }
}

/// ZeRO-2/3 traffic paid on every micro-batch: ZeRO-2 reduce-scatters gradients after
/// each backward (it keeps no full gradient buffer to accumulate in); ZeRO-3 also
/// all-gathers the weights before each forward and again before each backward. Each
/// of the stage's `blocks` (times `training.zero3_collectives_per_layer`) is its own
/// collective, as FSDP and ZeRO-3 issue them, so each pays the collective's latency:
/// at a thousand ranks a flat ring's latency, not its bytes, sets the cost. ZeRO-3's
/// backward also reduces `training.zero3_small_reduce_scatters_per_layer` buckets of
/// small parameters per block, a latency each.
/// Returns (forward, backward) seconds before overlap.
pub(super) fn zero_per_microbatch(
    inp: &StageInputs,
    dense: f64,
    expert: f64,
    blocks: f64,
) -> (f64, f64) {
    let l = inp.ctx.layout;
    if l.zero < 2 {
        return (0.0, 0.0);
    }
    let c = &inp.comm;
    let (dg, eg) = (&inp.dp.dense, &inp.dp.expert);
    let tr = inp.ctx.training;
    // One collective per sharding unit (a block, or the framework's modules of it):
    // the bytes split over them, each paying the collective's latency. ZeRO-2 reduces
    // in large buckets: one collective.
    let units = if l.zero >= 3 {
        (blocks * f64::from(tr.zero3_collectives_per_layer.max(1))).max(1.0)
    } else {
        1.0
    };
    let per_unit = |f: &dyn Fn(f64, &Shaped) -> f64, bytes: f64, g: &Shaped| {
        if bytes <= 0.0 {
            0.0
        } else {
            units * f(bytes / units, g)
        }
    };
    let rs_f = |b: f64, g: &Shaped| c.reduce_scatter_on(b, g);
    let ag_f = |b: f64, g: &Shaped| c.all_gather_on(b, g);
    let small = if l.zero >= 3 && dense > 0.0 {
        blocks * f64::from(tr.zero3_small_reduce_scatters_per_layer) * c.small_reduce_scatter_on(dg)
    } else {
        0.0
    };
    let rs = small
        + per_unit(&rs_f, dense * tr.grad_bytes_per_param, dg)
        + per_unit(&rs_f, expert * tr.grad_bytes_per_param, eg);
    let w = super::fp8::gather_bytes(tr);
    let ag = if l.zero >= 3 {
        per_unit(&ag_f, dense * w, dg) + per_unit(&ag_f, expert * w, eg)
    } else {
        0.0
    };
    // A weight kept is 0 parameters: skipped here, not priced at zero, because placing
    // a collective's group is work the search would repeat for every ZeRO layout.
    let regather: f64 = regathered_params(&inp.ctx)
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| c.all_gather_on(p * w, dg))
        .sum();
    let regather = blocks * tr.replayed_share() * regather;
    (ag, ag + regather + rs)
}

/// The weights of one transformer block that DeepSpeed ZeRO-3 gathers a second time
/// in the backward, parameters on this GPU each: those whose [`reuse_distances`]
/// exceed `training.zero3_reuse_distance_params` (DeepSpeed releases such a weight
/// after the recompute and gathers it again: runtime/zero/partitioned_param_coordinator.py
/// `__params_to_release` @v0.6.2). In [`block_weights`]' order, 0 for a weight kept;
/// all 0 without ZeRO-3, full recomputation or the setting, and for MLA and MoE blocks.
pub fn regathered_params(ctx: &super::layer::LayerCtx) -> [f64; 4] {
    let (l, tr) = (ctx.layout, ctx.training);
    let Some(limit) = tr.zero3_reuse_distance_params else {
        return [0.0; 4];
    };
    if l.zero < 3 || tr.replayed_share() <= 0.0 {
        return [0.0; 4];
    }
    let Some(w) = block_weights(ctx) else {
        return [0.0; 4];
    };
    let d = distances(&w);
    std::array::from_fn(|i| if d[i] > limit { w[i] } else { 0.0 })
}

/// For each of [`block_weights`], the parameters fetched between its use in a block's
/// recompute and its use in that block's backward, which runs the weights in reverse
/// order: the block's later weights twice (recompute, then backward), parameters on
/// this GPU. GPT with an MLP of 4h: 18h^2, 16h^2, 8h^2, 0. `None` as for
/// [`block_weights`].
pub fn reuse_distances(ctx: &super::layer::LayerCtx) -> Option<[f64; 4]> {
    block_weights(ctx).map(|w| distances(&w))
}

fn distances(w: &[f64; 4]) -> [f64; 4] {
    std::array::from_fn(|i| 2.0 * w[i + 1..].iter().sum::<f64>())
}

/// A dense transformer block's four weights in the order its forward (and a
/// recompute) runs them: QKV, attention output, MLP in, MLP out; parameters on this
/// GPU (tensor-parallel shards). `None` for MLA and MoE blocks, whose attention and
/// expert modules are not these four (not modelled).
pub fn block_weights(ctx: &super::layer::LayerCtx) -> Option<[f64; 4]> {
    let (m, l) = (ctx.model, ctx.layout);
    if m.mla.is_some() || m.moe.is_some() {
        return None;
    }
    let (h, hd, tp) = (m.hidden as f64, m.head_dim() as f64, f64::from(l.tp));
    let (q, kv) = (f64::from(m.heads) * hd, f64::from(m.kv_heads()) * hd);
    let ffn_in = if m.gated_mlp { 2.0 } else { 1.0 } * m.ffn_hidden as f64;
    Some([
        h * (q + 2.0 * kv) / tp,
        q * h / tp,
        h * ffn_in / tp,
        m.ffn_hidden as f64 * h / tp,
    ])
}

/// Under ZeRO-3, the gather of a stage's first sharding unit and the reduce-scatter
/// of its last, seconds: (fill, drain). Nothing runs before the first unit's gather
/// (each micro-batch's forward waits for it: every unit is freed after the backward)
/// and nothing after the last unit's reduction (the optimizer waits for it), so a
/// prefetching framework hides neither. A unit is one of the stage's
/// `blocks x zero3_collectives_per_layer` shares of its block parameters, plus the
/// parameters outside the blocks (`outside_params`: embeddings and output layer),
/// which PyTorch FSDP's root module holds (torchtitan's `fully_shard(model)` after its
/// blocks: gathered before the first block, reduced after the embedding's gradient);
/// DeepSpeed gathers the embedding first and reduces its gradient last as well. Those
/// stay BF16 under FP8 parameter gathers. (0, 0) without ZeRO-3.
pub fn zero3_edges(inp: &StageInputs, b: &StageBody) -> (f64, f64) {
    let l = inp.ctx.layout;
    let tr = inp.ctx.training;
    if l.zero < 3 {
        return (0.0, 0.0);
    }
    let c = &inp.comm;
    let (dg, eg) = (&inp.dp.dense, &inp.dp.expert);
    let units = (b.blocks * f64::from(tr.zero3_collectives_per_layer.max(1))).max(1.0);
    let block_dense = (b.dense_params - b.outside_params).max(0.0) / units;
    let expert = b.expert_params / units;
    // A collective with no bytes (no experts) costs nothing (`Comm`).
    let w = super::fp8::gather_bytes(tr);
    let gb = tr.grad_bytes_per_param;
    let outside = b.outside_params * super::fp8::BF16;
    let fill = c.all_gather_on(block_dense * w + outside, dg) + c.all_gather_on(expert * w, eg);
    let drain = c.reduce_scatter_on((block_dense + b.outside_params) * gb, dg)
        + c.reduce_scatter_on(expert * gb, eg);
    (fill, drain)
}

/// The data-parallel groups: dense parameters over dp x cp (stride tp in Megatron's rank
/// order; [`super::comm::dense_dp_group`]), routed experts over their dp x cp / ep
/// replicas (stride tp x ep).
pub fn dp_groups(l: &ResolvedLayout, comm: &Comm) -> (Group, Group) {
    (
        super::comm::dense_dp_group(l, comm.segment()),
        // Experts: etp -> ep -> expert-dp over the stage's tp x cp x dp GPUs.
        Group {
            size: l.expert_dp().into(),
            stride: u64::from(l.etp) * u64::from(l.ep),
        },
    )
}

/// Data-parallel synchronisation of one stage at the end of a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DpSync {
    /// Gradient reduction (reduce-scatter, or all-reduce without a sharded optimizer), seconds.
    pub grad_s: f64,
    /// Parameter all-gather after a sharded optimizer step, seconds.
    pub param_s: f64,
    /// Of the gradient reduction, what the last backward does not hide, seconds; with
    /// NIC contention, also the delay its traffic causes to that backward's expert
    /// all-to-all ([`DpSync::contention_s`]).
    pub grad_exposed_s: f64,
    /// Of `grad_exposed_s`, the compute the overlapped gradient reduction and parameter
    /// gather slow while they hold SMs ([`collective_sm_share`]), seconds.
    pub collective_sm_s: f64,
    /// Of `grad_exposed_s`, the part due to NIC contention (the overlapped reduction
    /// and the last backward's expert all-to-all sharing each GPU's NIC), seconds.
    pub contention_s: f64,
    /// Of the parameter gather, what the next forward does not hide, seconds.
    pub param_exposed_s: f64,
    /// Optimizer update on this GPU, gradient clipping included, seconds (memory-bound).
    pub optimizer_s: f64,
    /// Of `optimizer_s`, the gradient clipping ([`grad_clip_s`]), seconds.
    pub grad_clip_s: f64,
    /// Buckets the gradient reduction runs in ([`buckets`]), count.
    pub buckets: f64,
}

/// The overlapped gradient reduction (`grad_s` with the NIC to itself) and the last
/// micro-batch's backward expert all-to-all on the same NICs at the same time, under
/// the shared-link model: returns (when the reduction finishes, how much later the
/// all-to-all finishes than alone), seconds. Only when both groups cross the network.
fn nic_contention(inp: &StageInputs, stage: &StageCost, grad_s: f64) -> (f64, f64) {
    let c = &inp.comm;
    if !c.contention()
        || !c.crosses_network(inp.ctx.ep_group())
        || !c.crosses_network(inp.dp.dense.group)
    {
        return (grad_s, 0.0);
    }
    let [ep_done, grad_done] = super::comm::shared_link_s([stage.ep_bwd_s, grad_s]);
    (grad_done, ep_done - stage.ep_bwd_s)
}

/// What a gradient reduction started with the last backward (of `bwd_s`) leaves
/// exposed after that backward's end as it is without contention, seconds: the
/// reduction ends at `grad_done`, and the backward ends `delay` later (its all-to-all
/// slowed by sharing the NIC) with its last bucket (`last_bucket_s`) still to reduce
/// after it; the later of the two. Alone, `grad_done` is the reduction's own time and
/// `delay` 0.
fn exposed_after_backward(bwd_s: f64, last_bucket_s: f64, grad_done: f64, delay: f64) -> f64 {
    (grad_done - bwd_s).max(delay + last_bucket_s)
}

/// Host memory traffic of DeepSpeed's CPU-offloaded optimizer step per parameter of
/// the GPU's shard, bytes: `DeepSpeedCPUAdam` reads the FP32 parameter, gradient and
/// both moments and writes the parameter and moments back (16 + 12 B), after ZeRO-3's
/// `unscale_and_clip_grads` has scaled the FP32 gradient in place (4 + 4 B; deepspeed
/// runtime/zero/stage3.py `step`, ops/adam/cpu_adam.py @v0.6.2). Adam's arithmetic
/// (~15 FLOPs a parameter on AVX2 cores) is far below what the cores sustain, so the
/// step streams at the memory's rate.
pub const HOST_ADAM_BYTES_PER_PARAM: f64 = 36.0;

/// Bytes per parameter of the GPU's shard crossing the host link each step with the
/// optimizer in host memory: the reduced FP16 gradient partition down (stage3.py
/// `__partition_grads`: `fp32_grad_tensor.copy_(grad_buffer)`) and the updated FP16
/// parameter partition up (`_reassign_or_swap_out_partitioned_parameters`), 2 B each.
pub const HOST_LINK_BYTES_PER_PARAM: f64 = 4.0;

/// The optimizer step of `local` parameters (the GPU's shard) run on the host (ZeRO-
/// Offload, `training.optimizer_offload`), seconds: the host-memory streaming of CPU
/// Adam at the GPU's share of the node's memory bandwidth (`host_mem_bw`, bytes/s), and
/// the gradient and parameter copies over its host link (`host_link_bw`, bytes/s per
/// direction). All in series with the GPU: the copies are blocking and the next
/// forward needs the updated parameters. The memory at its channels' datasheet rate,
/// so a floor on the host's time.
pub fn host_optimizer_s(local: f64, host_mem_bw: f64, host_link_bw: f64) -> f64 {
    local * HOST_ADAM_BYTES_PER_PARAM / host_mem_bw
        + local * HOST_LINK_BYTES_PER_PARAM / host_link_bw
}

/// Gradient sync and optimizer step for `stage`, pipeline stage 0 when `first_stage`
/// (the one stage whose gradients reduce in buckets of `training.dp_bucket_params`:
/// [`buckets`]).
pub fn dp_sync(inp: &StageInputs, stage: &StageCost, first_stage: bool) -> DpSync {
    let l = inp.ctx.layout;
    let tr = inp.ctx.training;
    let (dense_group, expert_group) = (&inp.dp.dense, &inp.dp.expert);
    let gb = tr.grad_bytes_per_param;
    let w = super::fp8::gather_bytes(tr);
    let c = &inp.comm;
    let (grad_s, param_s) = if l.zero >= 2 {
        // Already reduced per micro-batch (and gathered per use under ZeRO-3), but for
        // the last unit's reduction under ZeRO-3, which nothing follows.
        (
            stage.zero3_drain_s,
            if l.zero == 2 {
                c.all_gather_on(stage.dense_params * w, dense_group)
                    + c.all_gather_on(stage.expert_params * w, expert_group)
            } else {
                0.0
            },
        )
    } else if l.zero == 0 {
        (
            c.all_reduce_on(stage.dense_params * gb, dense_group)
                + c.all_reduce_on(stage.expert_params * gb, expert_group),
            0.0,
        )
    } else {
        (
            c.reduce_scatter_on(stage.dense_params * gb, dense_group)
                + c.reduce_scatter_on(stage.expert_params * gb, expert_group),
            c.all_gather_on(stage.dense_params * w, dense_group)
                + c.all_gather_on(stage.expert_params * w, expert_group),
        )
    };
    // ZeRO-3's drain is one unit's reduction after the backward: exposed whole.
    let buckets = if l.zero >= 3 {
        1.0
    } else {
        buckets(stage.dense_params + stage.expert_params, tr, l, first_stage)
    };
    let (grad_exposed_s, param_exposed_s, contention_s, sm_s) = if l.overlap.dp_comm {
        let (grad_done, delay) = nic_contention(inp, stage, grad_s);
        let bwd = stage.pipeline_bwd_s();
        let alone = exposed_after_backward(bwd, grad_s / buckets, grad_s, 0.0);
        let shared = exposed_after_backward(bwd, grad_s / buckets, grad_done, delay);
        let param_exposed = (param_s - stage.pipeline_fwd_s()).max(param_s / buckets);
        // What runs beside the last backward and the next forward slows them by its
        // SMs' share.
        let beside = (grad_s - alone).max(0.0) + (param_s - param_exposed).max(0.0);
        let sm = beside * inp.dp.sm_share;
        (shared + sm, param_exposed, shared - alone, sm)
    } else {
        (grad_s, param_s, 0.0, 0.0)
    };
    let local = if l.zero >= 1 {
        stage.dense_params / (l.dp * l.cp) as f64 + stage.expert_params / l.expert_dp() as f64
    } else {
        stage.dense_params + stage.expert_params
    };
    // Adam: read and write master weights and both moments, read the FP32 gradient,
    // write the BF16 weight (PyTorch AMP has none: its master weights are the model's).
    let bf16_copy = match tr.mixed_precision {
        MixedPrecision::Megatron => 2.0,
        MixedPrecision::TorchAmp => 0.0,
    };
    let bytes_per_param = 2.0 * tr.optimizer_bytes_per_param + gb + bf16_copy;
    let (optimizer_s, grad_clip_s) = match (tr.optimizer_offload, c.host_memory_bw_per_gpu()) {
        // The host step's bytes hold ZeRO's unscale-and-clip pass already.
        (true, Some(mem)) => (host_optimizer_s(local, mem, c.host_link_bw()), 0.0),
        // Without the host's memory bandwidth the host step is not priced (the
        // estimate warns); the GPU's would-be step stands in.
        _ => {
            let clip = grad_clip_s(inp, local, dense_group);
            (
                inp.kernels.optimizer_s(local * bytes_per_param) + clip,
                clip,
            )
        }
    };
    DpSync {
        grad_s,
        param_s,
        grad_exposed_s,
        contention_s,
        collective_sm_s: sm_s,
        param_exposed_s,
        optimizer_s,
        grad_clip_s,
        buckets,
    }
}

/// Gradient clipping on a GPU holding `local` parameters' gradients
/// (`training.grad_clip`), seconds: its passes over them at the optimizer's streaming
/// rate, and the norm's scalar all-reduce over the data-parallel group `g`, which
/// NCCL runs at a tree's log-depth latency at that size.
pub fn grad_clip_s(inp: &StageInputs, local: f64, g: &Shaped) -> f64 {
    let clip = inp.ctx.training.grad_clip;
    if clip == GradClip::None {
        return 0.0;
    }
    inp.kernels.optimizer_s(local * clip.bytes_per_param())
        + inp.comm.small_all_reduce_on(NORM_BYTES, g)
}

/// The global norm's all-reduce buffer: one FP32 scalar, bytes.
pub const NORM_BYTES: f64 = 4.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytic::comm::shared_link_s;

    #[test]
    fn host_optimizer_by_hand() {
        // GPT-3 175B's 174.6B parameters over 128 GPUs: 1.364B per GPU. DGX A100's host
        // memory, 409.6 GB/s over 8 GPUs = 51.2 GB/s each: 1.364B x 36 B / 51.2 GB/s =
        // 0.959 s; PCIe Gen4 x16 at 31.5 GB/s: 1.364B x 4 B / 31.5 GB/s = 0.173 s.
        let local = 174.6e9 / 128.0;
        let s = host_optimizer_s(local, 409.6e9 / 8.0, 31.5e9);
        let by_hand = local * 36.0 / 51.2e9 + local * 4.0 / 31.5e9;
        assert!((s - by_hand).abs() < 1e-12, "{s} vs {by_hand}");
        assert!((s - 1.132).abs() < 0.001, "{s}");
        // Eight times the GPUs, an eighth of the shard: an eighth of the time.
        let s8 = host_optimizer_s(local / 8.0, 409.6e9 / 8.0, 31.5e9);
        assert!((s8 * 8.0 - s).abs() < 1e-12);
    }

    #[test]
    fn contention_delays_the_step_once() {
        // Last backward 20 ms with an 8 ms all-to-all, reduction 30 ms in 4 buckets.
        // Alone: the reduction ends at 30 ms, 10 ms after the backward. Shared: the
        // all-to-all ends at 16 ms (8 ms late), so the backward at 28 ms; the reduction
        // at 8 + 30 = 38 ms, after the last bucket (28 + 7.5): 18 ms exposed, 8 ms (the
        // all-to-all's delay) more than alone, not 16.
        let alone = exposed_after_backward(20.0, 7.5, 30.0, 0.0);
        let [ep, grad] = shared_link_s([8.0, 30.0]);
        let shared = exposed_after_backward(20.0, 7.5, grad, ep - 8.0);
        assert_eq!((alone, shared), (10.0, 18.0));
        // A reduction hidden under the backward: the delayed backward and its last
        // bucket set the end, 3 + 8 ms.
        let [ep, grad] = shared_link_s([8.0, 12.0]);
        assert_eq!(exposed_after_backward(20.0, 3.0, grad, ep - 8.0), 11.0);
        assert_eq!(exposed_after_backward(20.0, 3.0, 12.0, 0.0), 3.0);
    }
}
