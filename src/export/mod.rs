//! Launch configuration for a planned layout, in a training framework's own terms.
//!
//! Each target writes what its public launch scripts write for the same layout
//! (Megatron-LM's `examples/`, torchtitan's `train_configs/`, DeepSpeed's JSON,
//! NeMo 2 / Megatron-Bridge recipe overrides). A layout part a framework cannot express
//! (a schedule it lacks, an uneven split it cannot place, a ZeRO stage it does not
//! have) is an error that says so, never a silently different launch.

mod deepspeed;
mod megatron;
mod torchtitan;

use crate::error::{Error, Result};
use crate::spec::layout::{Adjustments, ResolvedLayout};
use crate::spec::scenario::Scenario;
use crate::spec::training::Precision;

/// Frameworks `llmplan export` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Megatron-LM `pretrain_gpt.py` command-line flags.
    Megatron,
    /// Megatron-Bridge `ConfigContainer` overrides (`model.*`, `train.*`, `ddp.*`).
    MegatronBridge,
    /// torchtitan TOML (`[parallelism]`, `[activation_checkpoint]`, float8).
    Torchtitan,
    /// DeepSpeed JSON config (ZeRO stage, micro-batch, accumulation) and its Megatron-DeepSpeed flags.
    Deepspeed,
    /// NeMo 2 recipe overrides (`trainer.strategy.*`, `data.*`).
    Nemo,
}

impl Target {
    /// Parses a target name as the CLI writes it.
    pub fn parse(s: &str) -> Result<Target> {
        Ok(match s {
            "megatron" | "megatron-lm" => Target::Megatron,
            "megatron-bridge" | "bridge" => Target::MegatronBridge,
            "torchtitan" => Target::Torchtitan,
            "deepspeed" => Target::Deepspeed,
            "nemo" => Target::Nemo,
            other => {
                return Err(Error::Usage(format!(
                    "unknown export target '{other}'; known: {}",
                    Target::NAMES.join(", ")
                )))
            }
        })
    }

    /// Names accepted by [`Target::parse`], one per target.
    pub const NAMES: &'static [&'static str] = &[
        "megatron",
        "megatron-bridge",
        "torchtitan",
        "deepspeed",
        "nemo",
    ];

    /// The framework's name in messages.
    pub fn framework(self) -> &'static str {
        match self {
            Target::Megatron => "Megatron-LM",
            Target::MegatronBridge => "Megatron-Bridge",
            Target::Torchtitan => "torchtitan",
            Target::Deepspeed => "DeepSpeed",
            Target::Nemo => "NeMo",
        }
    }
}

/// What a layout becomes in one framework.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The launch text: flags, TOML, JSON or overrides.
    pub text: String,
    /// What the text assumes or leaves to the user (one line each).
    pub notes: Vec<String>,
}

/// Resolves the scenario's layout and writes it for `target`.
pub fn export(target: Target, sc: &Scenario) -> Result<Exported> {
    let mut adj = Adjustments::default();
    let l = crate::spec::layout::resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj)?;
    deepspeed_only(target, sc)?;
    let mut out = match target {
        Target::Megatron => megatron::flags(sc, &l)?,
        Target::MegatronBridge => megatron::bridge(sc, &l)?,
        Target::Nemo => megatron::nemo(sc, &l)?,
        Target::Torchtitan => torchtitan::toml(sc, &l)?,
        Target::Deepspeed => deepspeed::json(sc, &l)?,
    };
    out.notes.extend(adj.notes);
    out.notes.extend(vision_note(target, sc));
    out.notes.extend(bucket_note(target, sc, &l));
    Ok(out)
}

/// `training.dp_bucket_params` is Megatron-Core's gradient bucket: the Megatron targets
/// write it unless the layout shards parameters (ZeRO-3 is FSDP there); elsewhere the
/// framework buckets its data-parallel traffic its own way, which is said.
fn bucket_note(target: Target, sc: &Scenario, l: &ResolvedLayout) -> Option<String> {
    let n = sc.training.dp_bucket_params?;
    let megatron = matches!(
        target,
        Target::Megatron | Target::MegatronBridge | Target::Nemo
    );
    if megatron && megatron::bucket_size(sc, l).is_some() {
        return None;
    }
    let how = if megatron {
        "runs ZeRO-3 as FSDP, which gathers and reduces per unit"
    } else {
        "buckets its data-parallel traffic its own way"
    };
    Some(format!(
        "training.dp_bucket_params ({n:.0} parameters) is Megatron-Core's data-parallel \
         gradient bucket, not written here: {} {how}",
        target.framework()
    ))
}

/// A model's vision encoder is planned (its memory on the first stage) but no target
/// here writes it: each configures the language model alone.
fn vision_note(target: Target, sc: &Scenario) -> Option<String> {
    sc.model.vision.as_ref()?;
    let n = crate::analytic::params::vision_total(&sc.model);
    Some(format!(
        "the vision encoder ({:.2}B parameters, planned on the first pipeline stage) is not in this \
         {} configuration, which describes the language model; add it with the framework's \
         multimodal model",
        n / 1e9,
        target.framework()
    ))
}

/// The host-memory offloads llmplan prices as DeepSpeed runs them (ZeRO-Offload's CPU
/// Adam, CPU checkpointing): only the DeepSpeed target writes them.
fn deepspeed_only(target: Target, sc: &Scenario) -> Result<()> {
    if target == Target::Deepspeed {
        return Ok(());
    }
    if sc.training.checkpoint_offload {
        return Err(cannot(
            target,
            "training.checkpoint_offload",
            "its activation checkpointing keeps the checkpoints on the GPU; DeepSpeed's \
             cpu_checkpointing moves them to host memory (llmplan export --to deepspeed)",
        ));
    }
    if sc.training.optimizer_offload {
        return Err(cannot(
            target,
            "training.optimizer_offload",
            "llmplan prices DeepSpeed's ZeRO-Offload (CPU Adam over optimizer states in host \
             memory), which this framework does not run (llmplan export --to deepspeed)",
        ));
    }
    Ok(())
}

/// The error for a layout part `target` cannot express.
fn cannot(target: Target, field: &str, what: impl Into<String>) -> Error {
    Error::invalid(
        field,
        format!(
            "{} cannot express this: {}",
            target.framework(),
            what.into()
        ),
    )
}

/// Layers per virtual stage when every chunk holds the same number; `None` when the
/// split is uneven.
fn even_chunk(sc: &Scenario, l: &ResolvedLayout) -> Option<u32> {
    let chunks = l.pp * l.vpp;
    (!l.uneven() && sc.model.layers.is_multiple_of(chunks)).then(|| sc.model.layers / chunks)
}

/// Layers per model chunk Megatron's block method recomputes when full recomputation
/// covers only `recompute_layer_share` of the layers (at least 1); `None` when it covers
/// all of them (the uniform method, one layer per checkpoint).
fn block_recompute_layers(sc: &Scenario, l: &ResolvedLayout) -> Option<u32> {
    let share = sc.training.replayed_share();
    (sc.training.recompute == crate::spec::training::Recompute::Full && share < 1.0).then(|| {
        let per_chunk = f64::from(sc.model.layers) / f64::from((l.pp * l.vpp).max(1));
        ((share * per_chunk).round() as u32).max(1)
    })
}

/// Whether the uneven split is Llama 3's (section 3.3.2): the embedding and the loss
/// each take one layer's place, so `layers + 2` divide evenly into `pp x vpp` chunks
/// and the first and last stages carry one layer fewer.
fn embedding_and_loss_as_layers(sc: &Scenario, l: &ResolvedLayout) -> bool {
    let slots = sc.model.layers + 2;
    let chunks = l.pp * l.vpp;
    if l.pp < 2 || !slots.is_multiple_of(chunks) {
        return false;
    }
    let per_stage = slots / l.pp;
    let n = l.layers_per_stage.len();
    l.layers_per_stage.iter().enumerate().all(|(i, &x)| {
        let want = if i == 0 || i + 1 == n {
            per_stage - 1
        } else {
            per_stage
        };
        x == want
    })
}

/// The `llmplan export` command that writes `key`'s layout for `scenario` (as the user
/// named it) on `gpus` GPUs to `target`: `--set` overrides that pin every searched
/// choice, so the export reproduces the ranked layout without searching again.
pub fn command_for(
    scenario: &str,
    target: Target,
    key: &crate::search::LayoutKey,
    gpus: u64,
) -> String {
    let rc = crate::search::recompute_name(key.recompute);
    let sets = [
        format!("layout.tp={}", key.tp),
        format!("layout.pp={}", key.pp),
        "layout.dp=null".to_string(),
        format!("layout.ep={}", key.ep),
        // etp left to default to tp unless folded (a scenario's own etp is overridden).
        if key.etp != key.tp {
            format!("layout.etp={}", key.etp)
        } else {
            "layout.etp=null".to_string()
        },
        format!("layout.cp={}", key.cp),
        format!("layout.vpp={}", key.vpp),
        format!("layout.micro_batch={}", key.micro_batch),
        format!("layout.sequence_parallel={}", key.sequence_parallel),
        format!("layout.zero={}", key.zero),
        format!("layout.schedule={}", key.schedule.name()),
        "layout.layers_per_stage=null".to_string(),
        format!("training.recompute={rc}"),
    ];
    let sets: String = sets.iter().map(|s| format!(" --set {s}")).collect();
    let to = Target::NAMES[target as usize];
    format!("llmplan export --to {to} {scenario} --gpus {gpus}{sets}")
}

/// How to launch a ranked layout: the export command for the first framework that can
/// express it (Megatron-LM, torchtitan, DeepSpeed, in that order), or why none can.
pub fn launch_hint(
    scenario: &str,
    sc: &Scenario,
    key: &crate::search::LayoutKey,
    gpus: u64,
) -> std::result::Result<String, String> {
    let s = crate::search::scenario_for(sc, key, gpus);
    let mut first_err = None;
    for t in [Target::Megatron, Target::Torchtitan, Target::Deepspeed] {
        match export(t, &s) {
            Ok(_) => return Ok(command_for(scenario, t, key, gpus)),
            Err(e) => {
                first_err.get_or_insert(e.to_string());
            }
        }
    }
    Err(first_err.unwrap_or_default())
}

/// How to name `sc` on the command line: its built-in name, or the file it came from.
pub fn scenario_arg(sc: &Scenario) -> String {
    let src = &sc.origin.source.name;
    match src.strip_prefix("builtin:scenarios/") {
        Some(f) => f.trim_end_matches(".yaml").to_string(),
        None => src.clone(),
    }
}

fn is_fp8(sc: &Scenario) -> bool {
    sc.training.precision == Precision::Fp8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        for n in Target::NAMES {
            assert!(Target::parse(n).is_ok());
        }
        assert!(Target::parse("jax").is_err());
    }
}
