//! DeepSpeed JSON config, as Megatron-DeepSpeed's
//! `examples_deepspeed/pretrain_llama2_distributed.sh` writes it, with the
//! Megatron-DeepSpeed flags for the model-parallel part.

use serde_json::json;

use super::{cannot, even_chunk, Exported, Target};
use crate::analytic::dp_sync::reuse_distances;
use crate::analytic::layer::LayerCtx;
use crate::error::Result;
use crate::spec::layout::{ResolvedLayout, Schedule};
use crate::spec::scenario::Scenario;
use crate::spec::training::{Precision, Recompute};

const T: Target = Target::Deepspeed;

fn expressible(sc: &Scenario, l: &ResolvedLayout) -> Result<()> {
    if l.pp > 1 && l.zero >= 2 {
        return Err(cannot(
            T,
            "layout.zero",
            "its pipeline engine runs with ZeRO stage 0 or 1 only",
        ));
    }
    if l.vpp > 1 || !matches!(l.schedule, Schedule::OneFOneB | Schedule::Gpipe) {
        return Err(cannot(
            T,
            "layout.schedule",
            format!("its pipeline engine runs one 1F1B-style schedule without virtual stages, not {} (vpp {})", l.schedule.name(), l.vpp),
        ));
    }
    if l.pp > 1 && even_chunk(sc, l).is_none() {
        return Err(cannot(
            T,
            "layout.layers_per_stage",
            "its pipeline engine partitions layers evenly (partition_method \"uniform\")",
        ));
    }
    if l.cp > 1 {
        return Err(cannot(T, "layout.cp", "its sequence parallelism is Ulysses (all-to-all over heads), not the ring/all-gather context parallelism llmplan prices"));
    }
    if sc.model.moe.is_some() {
        return Err(cannot(
            T,
            "model.moe",
            "DeepSpeed-MoE sets its expert parallelism in model code, not in this config",
        ));
    }
    if sc.training.precision.quantized() {
        return Err(cannot(
            T,
            "training.precision",
            "FP8/FP4 GEMMs come from Transformer Engine in model code, not from the DeepSpeed config",
        ));
    }
    if sc.training.optimizer_offload && l.zero == 0 {
        return Err(cannot(
            T,
            "layout.zero",
            "ZeRO-Offload (offload_optimizer) needs ZeRO stage 1, 2 or 3",
        ));
    }
    if sc.training.activation_offload_layers > 0 {
        return Err(cannot(
            T,
            "training.activation_offload_layers",
            "its activation_checkpointing.cpu_checkpointing moves every checkpointed layer's input to the CPU under activation checkpointing, not the saved activations of a number of layers",
        ));
    }
    Ok(())
}

/// The JSON, and the Megatron-DeepSpeed flags that go with it as a note.
pub fn json(sc: &Scenario, l: &ResolvedLayout) -> Result<Exported> {
    expressible(sc, l)?;
    let mut cfg = json!({
        "train_batch_size": l.global_batch_seqs,
        "train_micro_batch_size_per_gpu": l.micro_batch,
        "gradient_accumulation_steps": l.microbatches,
        "zero_optimization": {
            "stage": l.zero,
            "overlap_comm": l.overlap.dp_comm,
            "contiguous_gradients": true,
        },
    });
    // Under full recomputation DeepSpeed keeps the weights a block's recompute gathered
    // for its backward only within stage3_max_reuse_distance parameters (default 1e9):
    // the scenario's setting, else the distance that keeps them all, as estimated.
    if l.zero >= 3 && sc.training.recompute == Recompute::Full {
        let ctx = LayerCtx {
            model: &sc.model,
            layout: l,
            training: &sc.training,
        };
        let keep_all = reuse_distances(&ctx).map(|d| d.iter().copied().fold(0.0, f64::max));
        if let Some(d) = sc.training.zero3_reuse_distance_params.or(keep_all) {
            cfg["zero_optimization"]["stage3_max_reuse_distance"] = json!(d.ceil() as u64);
        }
    }
    // ZeRO-Offload and CPU checkpointing as the Azure benchmark script writes them
    // (Megatron-DeepSpeed examples_deepspeed/azure/run-benchmark-model.sh: offload_optimizer
    // device cpu with --cpu-optimizer; megatron/arguments.py --checkpoint-in-cpu, which
    // Megatron-DeepSpeed hands to deepspeed.checkpointing.configure).
    let mut host = Vec::new();
    if sc.training.optimizer_offload {
        cfg["zero_optimization"]["offload_optimizer"] =
            json!({"device": "cpu", "pin_memory": true});
        host.push("--cpu-optimizer");
    }
    if sc.training.checkpoint_offload {
        cfg["activation_checkpointing"] = json!({"cpu_checkpointing": true});
        host.push("--checkpoint-in-cpu");
    }
    match sc.training.precision {
        Precision::Fp16 => cfg["fp16"] = json!({"enabled": true, "loss_scale": 0}),
        _ => cfg["bf16"] = json!({"enabled": true}),
    }
    let mut flags = vec![
        format!("--tensor-model-parallel-size {}", l.tp),
        format!("--pipeline-model-parallel-size {}", l.pp),
        format!("--micro-batch-size {}", l.micro_batch),
        format!("--global-batch-size {}", l.global_batch_seqs),
        format!("--zero-stage {}", l.zero),
    ];
    if l.sequence_parallel && l.tp > 1 {
        flags.push("--sequence-parallel".into());
    }
    match sc.training.recompute {
        Recompute::None => {}
        Recompute::Selective => flags.push("--recompute-granularity selective".into()),
        Recompute::Full => {
            flags.push("--deepspeed-activation-checkpointing".into());
            flags.push(match super::block_recompute_layers(sc, l) {
                Some(n) => format!(
                    "--recompute-granularity full --recompute-method block --recompute-num-layers {n}"
                ),
                None => "--recompute-granularity full --recompute-method uniform".into(),
            });
        }
    }
    flags.extend(host.iter().map(|f| f.to_string()));
    flags.push("--deepspeed --deepspeed_config ds_config.json".into());
    let text = serde_json::to_string_pretty(&cfg).unwrap_or_default() + "\n";
    Ok(Exported {
        text,
        notes: vec![format!("with Megatron-DeepSpeed: {}", flags.join(" "))],
    })
}
