//! torchtitan TOML, in the schema of its last TOML presets
//! (`torchtitan/models/llama3/train_configs/llama3_405b.toml` before commit 9810191,
//! `torchtitan/config/job_config.py` of that tree).

use super::{cannot, embedding_and_loss_as_layers, even_chunk, is_fp8, Exported, Target};
use crate::error::Result;
use crate::spec::layout::{ResolvedLayout, Schedule};
use crate::spec::scenario::Scenario;
use crate::spec::training::{Elementwise, Recompute};

const T: Target = Target::Torchtitan;

fn schedule(l: &ResolvedLayout) -> Result<&'static str> {
    Ok(match (l.schedule, l.vpp > 1) {
        (Schedule::Gpipe, false) => "GPipe",
        (Schedule::OneFOneB, false) => "1F1B",
        (Schedule::Interleaved, true) => "Interleaved1F1B",
        (Schedule::ZbH1, true) => "InterleavedZeroBubble",
        (s, _) => {
            return Err(cannot(
                T,
                "layout.schedule",
                format!(
                    "its schedules are GPipe, 1F1B, Interleaved1F1B and the looped zero-bubble ones; not {} with {} virtual stage(s)",
                    s.name(),
                    l.vpp
                ),
            ))
        }
    })
}

/// `(first and last stages carry one layer fewer, layers per virtual stage)`.
fn split(sc: &Scenario, l: &ResolvedLayout) -> Result<(bool, u32)> {
    if let Some(n) = even_chunk(sc, l) {
        return Ok((false, n));
    }
    if embedding_and_loss_as_layers(sc, l) {
        return Ok((true, (sc.model.layers + 2) / (l.pp * l.vpp)));
    }
    Err(cannot(
        T,
        "layout.layers_per_stage",
        format!(
            "it splits layers evenly, optionally with one fewer on the first and last stage; not {:?}",
            l.layers_per_stage
        ),
    ))
}

/// The `[parallelism]` data-parallel keys: FSDP (sharded) or DDP (replicated).
fn data_parallel(l: &ResolvedLayout) -> Result<Vec<String>> {
    let (replicate, shard, reshard) = match l.zero {
        0 => (l.dp, 1, None),
        // FSDP2 that keeps parameters gathered from forward to backward: gradients and
        // optimizer states sharded, weights not (ZeRO-2).
        2 => (1, l.dp, Some("never")),
        3 => (1, l.dp, None),
        _ => {
            return Err(cannot(
                T,
                "layout.zero",
                "it shards with FSDP2 (ZeRO-3, or ZeRO-2 with reshard_after_forward = \"never\") or replicates (ZeRO-0); ZeRO-1 has no equivalent",
            ))
        }
    };
    let mut v = vec![
        format!("data_parallel_replicate_degree = {replicate}"),
        format!("data_parallel_shard_degree = {shard}"),
    ];
    if let Some(r) = reshard {
        v.push(format!("fsdp_reshard_after_forward = \"{r}\""));
    }
    Ok(v)
}

/// `[compile] enable`: how the scenario runs its memory-bound ops. torch.compile fuses
/// them (`training.elementwise: compiled`, or `fused`); without it they run op by op
/// (`eager`). This schema has no fused RMSNorm kernel outside compile (`norm_type` is
/// gone from its `job_config.py`), so `eager_fused_norm` cannot be exported.
fn compile(sc: &Scenario) -> Result<bool> {
    match sc.training.elementwise {
        Elementwise::Fused | Elementwise::Compiled => Ok(true),
        Elementwise::Eager => Ok(false),
        Elementwise::EagerFusedNorm => Err(cannot(
            T,
            "training.elementwise",
            "this config schema has no fused RMSNorm without torch.compile: `fused` exports compile enable = true, `eager` enable = false; not eager_fused_norm",
        )),
    }
}

/// The TOML sections a planned layout decides.
pub fn toml(sc: &Scenario, l: &ResolvedLayout) -> Result<Exported> {
    if sc.training.activation_offload_layers > 0 {
        return Err(cannot(
            T,
            "training.activation_offload_layers",
            "its job config has no activation offloading (enable_cpu_offload is FSDP2's offload of parameters, gradients and optimizer states)",
        ));
    }
    let mut p = data_parallel(l)?;
    p.push(format!("tensor_parallel_degree = {}", l.tp));
    if l.tp > 1 {
        p.push(format!(
            "enable_async_tensor_parallel = {}",
            l.overlap.tp_comm
        ));
    }
    p.push(format!("pipeline_parallel_degree = {}", l.pp));
    if l.pp > 1 {
        let (llama_split, per) = split(sc, l)?;
        let less = u32::from(llama_split);
        p.push(format!("pipeline_parallel_schedule = \"{}\"", schedule(l)?));
        p.push(format!("pipeline_parallel_layers_per_stage = {per}"));
        p.push(format!(
            "pipeline_parallel_first_stage_less_layers = {less}"
        ));
        p.push(format!("pipeline_parallel_last_stage_less_layers = {less}"));
        p.push(format!(
            "pipeline_parallel_microbatch_size = {}",
            l.micro_batch
        ));
    } else if l.vpp > 1 {
        return Err(cannot(
            T,
            "layout.vpp",
            "virtual stages need pipeline_parallel_degree > 1",
        ));
    }
    p.push(format!("context_parallel_degree = {}", l.cp));
    if sc.model.moe.is_some() {
        p.push(format!("expert_parallel_degree = {}", l.ep));
        p.push(format!("expert_tensor_parallel_degree = {}", l.etp));
    }
    // One optimizer step sees global_batch_size sequences; local_batch_size is one
    // data-parallel rank's share per step (all micro-batches of a pipeline).
    let local = if l.pp > 1 {
        l.micro_batch * l.microbatches
    } else {
        l.micro_batch
    };
    let mut out = String::new();
    if is_fp8(sc) {
        out.push_str("[model]\nconverters = [\"float8\"]\n\n");
    }
    out.push_str(&format!(
        "[training]\nlocal_batch_size = {local}\nglobal_batch_size = {}\nseq_len = {}\n\n",
        l.global_batch_seqs, sc.training.seq_len
    ));
    out.push_str(&format!("[parallelism]\n{}\n\n", p.join("\n")));
    let share = sc.training.replayed_share();
    let ac = match sc.training.recompute {
        Recompute::None => "mode = \"none\"".to_string(),
        Recompute::Selective => "mode = \"selective\"\nselective_ac_option = \"op\"".to_string(),
        // torchtitan checkpoints every N-th block with selective_ac_option = N.
        Recompute::Full if share < 1.0 => format!(
            "mode = \"selective\"\nselective_ac_option = \"{}\"",
            (1.0 / share.max(1e-3)).round() as u32
        ),
        Recompute::Full => "mode = \"full\"".to_string(),
    };
    out.push_str(&format!("[activation_checkpoint]\n{ac}\n"));
    out.push_str(&format!(
        "\n[compile]\nenable = {}\ncomponents = [\"model\", \"loss\"]\n",
        compile(sc)?
    ));
    if is_fp8(sc) {
        out.push_str(&format!(
            "\n[quantize.linear.float8]\nenable_fsdp_float8_all_gather = {}\nprecompute_float8_dynamic_scale_for_fsdp = {}\nfilter_fqns = [\"output\"]\n",
            l.zero >= 2,
            l.zero >= 2
        ));
    }
    let mut notes = Vec::new();
    if l.pp == 1 && l.microbatches > 1 {
        notes.push(format!(
            "{} micro-batches per step run as gradient accumulation (global_batch_size / (local_batch_size x data-parallel degree))",
            l.microbatches
        ));
    }
    Ok(Exported { text: out, notes })
}
