//! The parallel layout and the rules that make one valid.
//!
//! Placement follows Megatron-LM's rank order tp -> cp -> ep -> dp -> pp (tp
//! innermost): that order decides which groups stay inside an NVLink domain. Expert
//! parallelism is carved out of the data-parallel (x context-parallel) ranks, so
//! `ep` must divide `dp x cp`.

use serde::{Deserialize, Serialize};

use super::model::{divisors, ModelSpec};
use super::training::Training;
use crate::error::{Error, Result};

/// Pipeline schedules.
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
pub enum Schedule {
    /// All forwards, then all backwards (Huang et al. 2019).
    #[serde(rename = "gpipe")]
    Gpipe,
    /// One-forward-one-backward, PipeDream-flush (Narayanan et al. 2021).
    #[serde(rename = "1f1b")]
    OneFOneB,
    /// Interleaved 1F1B with `vpp` virtual stages per GPU (Narayanan et al. 2021).
    #[serde(rename = "interleaved")]
    Interleaved,
    /// Zero-bubble ZB-H1: backward split into input- and weight-gradient parts (Qi et al. 2024).
    #[serde(rename = "zb-h1")]
    ZbH1,
    /// DualPipe, bidirectional with overlapped forward/backward (DeepSeek-V3, 2024).
    #[serde(rename = "dualpipe")]
    DualPipe,
}

impl Schedule {
    /// Name as written in YAML.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Gpipe => "gpipe",
            Schedule::OneFOneB => "1f1b",
            Schedule::Interleaved => "interleaved",
            Schedule::ZbH1 => "zb-h1",
            Schedule::DualPipe => "dualpipe",
        }
    }
}

/// Which communication is overlapped with compute (each `true` hides what fits
/// under the compute it can run beside).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overlap {
    /// Data-parallel gradient reduction and parameter all-gather, bucketed.
    #[serde(default = "yes")]
    pub dp_comm: bool,
    /// Tensor-parallel collectives (userbuffers / TP-comm-overlap).
    #[serde(default)]
    pub tp_comm: bool,
    /// Pipeline point-to-point sends.
    #[serde(default)]
    pub p2p: bool,
    /// Expert all-to-all (DualPipe-style overlap of one micro-batch's compute with another's dispatch).
    #[serde(default)]
    pub ep_comm: bool,
    /// SMs reserved for communication kernels while compute runs beside them
    /// (DeepSeek-V3 dedicates 20 of the H800's 132 SMs to its all-to-all); compute
    /// kernels get the rest.
    #[serde(default)]
    pub comm_sms: u32,
}

impl Default for Overlap {
    fn default() -> Self {
        Overlap {
            dp_comm: true,
            tp_comm: false,
            p2p: false,
            ep_comm: false,
            comm_sms: 0,
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_zero() -> u8 {
    1
}

/// A layout as written: `dp` may be left out (it follows from the GPU count).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Tensor-parallel width.
    #[serde(default = "one")]
    pub tp: u32,
    /// Pipeline stages.
    #[serde(default = "one")]
    pub pp: u32,
    /// Data-parallel replicas; `None` = as many as the GPUs allow.
    #[serde(default)]
    pub dp: Option<u32>,
    /// Expert-parallel width (within dp x cp).
    #[serde(default = "one")]
    pub ep: u32,
    /// Context-parallel width (sequence split across GPUs for attention).
    #[serde(default = "one")]
    pub cp: u32,
    /// Virtual pipeline stages (model chunks) per GPU.
    #[serde(default = "one")]
    pub vpp: u32,
    /// Sequences per micro-batch.
    #[serde(default = "one")]
    pub micro_batch: u32,
    /// Megatron sequence parallelism in the tp group.
    #[serde(default = "yes")]
    pub sequence_parallel: bool,
    /// ZeRO stage: 0 none, 1 optimizer states sharded (Megatron distributed
    /// optimizer), 2 + gradients, 3 + weights.
    #[serde(default = "default_zero")]
    pub zero: u8,
    /// Pipeline schedule; defaults to interleaved when `vpp > 1`, else 1F1B.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// Layers per pipeline stage, first to last; `None` = as even as possible.
    #[serde(default)]
    pub layers_per_stage: Option<Vec<u32>>,
    /// Communication/compute overlap switches.
    #[serde(default)]
    pub overlap: Overlap,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            tp: 1,
            pp: 1,
            dp: None,
            ep: 1,
            cp: 1,
            vpp: 1,
            micro_batch: 1,
            sequence_parallel: true,
            zero: 1,
            schedule: None,
            layers_per_stage: None,
            overlap: Overlap::default(),
        }
    }
}

/// A layout checked against the model, the GPU count and the batch: every number
/// concrete, every rule satisfied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedLayout {
    /// Tensor-parallel width.
    pub tp: u32,
    /// Pipeline stages.
    pub pp: u32,
    /// Data-parallel replicas.
    pub dp: u32,
    /// Expert-parallel width.
    pub ep: u32,
    /// Context-parallel width.
    pub cp: u32,
    /// Virtual stages per GPU.
    pub vpp: u32,
    /// Sequences per micro-batch.
    pub micro_batch: u32,
    /// Micro-batches per step per pipeline.
    pub microbatches: u32,
    /// Global batch actually used, sequences.
    pub global_batch_seqs: u64,
    /// Sequence parallelism on (only meaningful with tp > 1).
    pub sequence_parallel: bool,
    /// ZeRO stage 0-3.
    pub zero: u8,
    /// Pipeline schedule.
    pub schedule: Schedule,
    /// Transformer layers on each pipeline stage, first to last.
    pub layers_per_stage: Vec<u32>,
    /// Overlap switches.
    pub overlap: Overlap,
    /// GPUs the layout occupies (tp x cp x dp x pp).
    pub gpus_used: u64,
}

impl ResolvedLayout {
    /// Expert-data-parallel width: replicas of each expert (dp x cp / ep).
    pub fn expert_dp(&self) -> u32 {
        self.dp * self.cp / self.ep
    }

    /// Whether the layer split is uneven.
    pub fn uneven(&self) -> bool {
        let mx = self.layers_per_stage.iter().max().copied().unwrap_or(0);
        let mn = self.layers_per_stage.iter().min().copied().unwrap_or(0);
        mx != mn
    }

    /// "8 stages x 8 layers + 8 stages x 7 layers".
    pub fn split_text(&self) -> String {
        let mut counts: Vec<(u32, u32)> = Vec::new();
        for &l in &self.layers_per_stage {
            match counts.iter_mut().find(|(x, _)| *x == l) {
                Some(c) => c.1 += 1,
                None => counts.push((l, 1)),
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.0));
        counts
            .iter()
            .map(|(l, n)| format!("{n} stage{} x {l} layer{}", plural(*n), plural(*l)))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Adjustments made while resolving (the user asked for X; X cannot work; Y is used).
#[derive(Debug, Clone, Default)]
pub struct Adjustments {
    /// One line per adjustment, for the estimate's warnings.
    pub notes: Vec<String>,
}

/// Checks `layout` against `model`, `gpus` and `training` and fills in what follows.
///
/// Errors name the rule with its numbers and what would fit. Two things are
/// adjusted rather than refused, with a note: a GPU count that no `dp` fits exactly
/// (dp left out) uses the largest count below it that works; a batch given in tokens
/// is rounded to a whole number of micro-batches per replica.
pub fn resolve(
    layout: &Layout,
    model: &ModelSpec,
    gpus: u64,
    training: &Training,
    adj: &mut Adjustments,
) -> Result<ResolvedLayout> {
    let l = layout;
    for (name, v) in [
        ("tp", l.tp),
        ("pp", l.pp),
        ("ep", l.ep),
        ("cp", l.cp),
        ("vpp", l.vpp),
        ("micro_batch", l.micro_batch),
    ] {
        if v == 0 {
            return Err(Error::invalid(
                format!("layout.{name}"),
                "must be at least 1",
            ));
        }
    }
    if l.dp == Some(0) {
        return Err(Error::invalid("layout.dp", "must be at least 1"));
    }
    if gpus == 0 {
        return Err(Error::invalid("gpus", "must be at least 1"));
    }
    if l.zero > 3 {
        return Err(Error::invalid(
            "layout.zero",
            format!("ZeRO stage must be 0-3, got {}", l.zero),
        ));
    }
    // Heads split across tensor-parallel ranks.
    let heads = model.heads;
    let kv = model.kv_heads();
    if !heads.is_multiple_of(l.tp) || !kv.is_multiple_of(l.tp) {
        let ok = divisors(gcd(heads as u64, kv as u64));
        let which = if !heads.is_multiple_of(l.tp) {
            format!("heads {heads} not divisible by tp {}", l.tp)
        } else {
            format!("kv heads {kv} not divisible by tp {}", l.tp)
        };
        return Err(Error::invalid("layout.tp", which).with_suggestion(format!(
            "tp that divides both heads {heads} and kv heads {kv}: {}",
            join(&ok)
        )));
    }
    // Experts split across expert-parallel ranks.
    match &model.moe {
        Some(moe) if moe.experts % l.ep != 0 => {
            return Err(Error::invalid(
                "layout.ep",
                format!("experts {} not divisible by ep {}", moe.experts, l.ep),
            )
            .with_suggestion(format!("ep in {}", join(&divisors(moe.experts as u64)))));
        }
        None if l.ep > 1 => {
            return Err(Error::invalid(
                "layout.ep",
                format!("ep {} on a dense model (no experts)", l.ep),
            )
            .with_suggestion("ep 1".to_string()));
        }
        _ => {}
    }
    if !training.seq_len.is_multiple_of(u64::from(l.cp)) {
        return Err(Error::invalid(
            "layout.cp",
            format!(
                "sequence length {} not divisible by cp {}",
                training.seq_len, l.cp
            ),
        )
        .with_suggestion(format!(
            "cp in {}",
            join(&small_divisors(training.seq_len, 64))
        )));
    }
    // GPUs: tp x cp x dp x pp, with ep dividing dp x cp.
    let inner = u64::from(l.tp) * u64::from(l.cp) * u64::from(l.pp);
    let dp = match l.dp {
        Some(dp) => {
            let used = inner * u64::from(dp);
            if used != gpus {
                return Err(Error::invalid(
                    "layout.dp",
                    format!(
                        "tp {} x cp {} x pp {} x dp {dp} = {used} GPUs, but the scenario has {gpus}",
                        l.tp, l.cp, l.pp
                    ),
                )
                .with_suggestion(gpu_suggestion(gpus, inner, l)));
            }
            dp
        }
        None => {
            let mut dp = gpus / inner;
            while dp > 0 && !(dp * u64::from(l.cp)).is_multiple_of(u64::from(l.ep)) {
                dp -= 1;
            }
            if dp == 0 {
                return Err(Error::invalid(
                    "gpus",
                    format!(
                        "{gpus} GPUs cannot hold one replica of tp {} x cp {} x pp {} with ep {} (needs {} GPUs)",
                        l.tp,
                        l.cp,
                        l.pp,
                        l.ep,
                        inner * u64::from(l.ep) / gcd(u64::from(l.ep), u64::from(l.cp))
                    ),
                )
                .with_suggestion(gpu_suggestion(gpus, inner, l)));
            }
            let used = inner * dp;
            if used != gpus {
                adj.notes.push(format!(
                    "{gpus} GPUs is not a multiple of tp x cp x pp = {inner} with dp divisible by ep {} / cp; \
                     using {used} GPUs (dp {dp}), {} idle",
                    l.ep,
                    gpus - used
                ));
            }
            u32::try_from(dp)
                .map_err(|_| Error::invalid("gpus", "more data-parallel replicas than 2^32"))?
        }
    };
    if (u64::from(dp) * u64::from(l.cp)) % u64::from(l.ep) != 0 {
        return Err(Error::invalid(
            "layout.ep",
            format!("ep {} does not divide dp {dp} x cp {} (experts live inside the data-parallel group)", l.ep, l.cp),
        )
        .with_suggestion(format!(
            "ep in {}",
            join(
                &divisors(u64::from(dp) * u64::from(l.cp))
                    .into_iter()
                    .filter(|e| model.moe.as_ref().is_none_or(|m| u64::from(m.experts) % e == 0))
                    .collect::<Vec<_>>()
            )
        )));
    }
    // Layers over stages (and virtual stages).
    let chunks = l.pp * l.vpp;
    let layers_per_stage = match &l.layers_per_stage {
        Some(v) => {
            if v.len() != l.pp as usize {
                return Err(Error::invalid(
                    "layout.layers_per_stage",
                    format!("{} entries for pp {}", v.len(), l.pp),
                ));
            }
            let sum: u32 = v.iter().sum();
            if sum != model.layers {
                return Err(Error::invalid(
                    "layout.layers_per_stage",
                    format!(
                        "entries sum to {sum}, the model has {} layers",
                        model.layers
                    ),
                ));
            }
            if v.contains(&0) {
                return Err(Error::invalid(
                    "layout.layers_per_stage",
                    "a stage with no layers",
                ));
            }
            v.clone()
        }
        None => {
            if model.layers < chunks {
                return Err(Error::invalid(
                    "layout.pp",
                    format!(
                        "{} layers cannot fill pp {} x vpp {} = {chunks} model chunks",
                        model.layers, l.pp, l.vpp
                    ),
                )
                .with_suggestion(format!("pp x vpp at most {}", model.layers)));
            }
            balanced_split(model.layers, l.pp)
        }
    };
    if l.vpp > 1
        && layers_per_stage.iter().any(|&n| n % l.vpp != 0)
        && !model.layers.is_multiple_of(chunks)
    {
        adj.notes.push(format!(
            "{} layers do not divide into pp {} x vpp {} = {chunks} equal chunks; chunk sizes differ by one layer",
            model.layers, l.pp, l.vpp
        ));
    }
    // Schedule.
    let schedule = l.schedule.unwrap_or(if l.vpp > 1 {
        Schedule::Interleaved
    } else {
        Schedule::OneFOneB
    });
    if l.vpp > 1 && schedule != Schedule::Interleaved {
        return Err(Error::invalid(
            "layout.schedule",
            format!(
                "vpp {} needs the interleaved schedule, not {}",
                l.vpp,
                schedule.name()
            ),
        )
        .with_suggestion("schedule: interleaved, or vpp: 1".to_string()));
    }
    if schedule == Schedule::Interleaved && l.vpp < 2 {
        return Err(
            Error::invalid("layout.schedule", "interleaved needs vpp of at least 2")
                .with_suggestion("vpp: 2 (or more), or schedule: 1f1b".to_string()),
        );
    }
    if schedule == Schedule::DualPipe && !l.pp.is_multiple_of(2) {
        return Err(Error::invalid(
            "layout.schedule",
            format!("DualPipe needs an even pp, got {}", l.pp),
        )
        .with_suggestion(format!("pp {} or {}", l.pp - 1, l.pp + 1)));
    }
    // Batch.
    let per_step = u64::from(dp) * u64::from(l.micro_batch);
    let requested = training.requested_batch_seqs()?;
    let global_batch_seqs = match training.global_batch_seqs {
        Some(b) => {
            if b % per_step != 0 {
                let lo = (b / per_step).max(1) * per_step;
                let hi = (b / per_step + 1) * per_step;
                return Err(Error::invalid(
                    "training.global_batch_seqs",
                    format!(
                        "global batch {b} not divisible by dp {dp} x micro_batch {}",
                        l.micro_batch
                    ),
                )
                .with_suggestion(format!("global batch {lo} or {hi}, or another micro_batch")));
            }
            b
        }
        None => {
            let n = (requested / per_step as f64).round().max(1.0) as u64;
            let b = n * per_step;
            if (b as f64 - requested).abs() > 1e-9 * requested {
                adj.notes.push(format!(
                    "global batch of {:.0} tokens = {:.1} sequences of {} is not a multiple of dp {dp} x \
                     micro_batch {}; using {b} sequences ({:.3}M tokens)",
                    requested * training.seq_len as f64,
                    requested,
                    training.seq_len,
                    l.micro_batch,
                    b as f64 * training.seq_len as f64 / 1e6
                ));
            }
            b
        }
    };
    let m = global_batch_seqs / per_step;
    let microbatches = u32::try_from(m)
        .map_err(|_| Error::invalid("training.global_batch_seqs", "too many micro-batches"))?;
    if schedule == Schedule::Interleaved && microbatches % l.pp != 0 {
        return Err(Error::invalid(
            "layout.schedule",
            format!(
                "interleaved 1F1B needs micro-batches ({microbatches}) to be a multiple of pp {}",
                l.pp
            ),
        )
        .with_suggestion(format!(
            "a global batch of {} or {} sequences, or schedule: 1f1b",
            (m / u64::from(l.pp)).max(1) * u64::from(l.pp) * per_step,
            (m / u64::from(l.pp) + 1) * u64::from(l.pp) * per_step
        )));
    }
    if schedule == Schedule::DualPipe && (microbatches < 2 * l.pp || microbatches % 2 != 0) {
        // The reference implementation (deepseek-ai/DualPipe) feeds half the micro-batches
        // from each end and asserts an even count of at least 2 x pp.
        return Err(Error::invalid(
            "layout.schedule",
            format!(
                "DualPipe needs an even number of micro-batches, at least 2 x pp = {}; got {microbatches}",
                2 * l.pp
            ),
        )
        .with_suggestion("a larger global batch or a smaller micro_batch, or schedule: 1f1b".to_string()));
    }
    Ok(ResolvedLayout {
        tp: l.tp,
        pp: l.pp,
        dp,
        ep: l.ep,
        cp: l.cp,
        vpp: l.vpp,
        micro_batch: l.micro_batch,
        microbatches,
        global_batch_seqs,
        sequence_parallel: l.sequence_parallel && l.tp > 1,
        zero: l.zero,
        schedule,
        layers_per_stage,
        overlap: l.overlap,
        gpus_used: inner * u64::from(dp),
    })
}

/// Splits `layers` over `pp` stages as evenly as possible. Extra layers go to the
/// middle stages first: the first stage also holds the embedding and the last the
/// output layer and loss, so they get the lighter share.
pub fn balanced_split(layers: u32, pp: u32) -> Vec<u32> {
    let base = layers / pp;
    let mut rem = layers % pp;
    let mut v = vec![base; pp as usize];
    let order: Vec<usize> = (1..pp.saturating_sub(1) as usize)
        .chain([0, pp as usize - 1])
        .collect();
    for i in order {
        if rem == 0 {
            break;
        }
        v[i] += 1;
        rem -= 1;
    }
    v
}

fn gpu_suggestion(gpus: u64, inner: u64, l: &Layout) -> String {
    let step = inner * u64::from(l.ep) / gcd(u64::from(l.ep), u64::from(l.cp));
    let lo = gpus / step * step;
    let hi = lo + step;
    if lo == 0 {
        format!("at least {hi} GPUs (multiples of {step})")
    } else {
        format!("{lo} or {hi} GPUs (multiples of {step}), or leave dp out")
    }
}

fn small_divisors(n: u64, max: u64) -> Vec<u64> {
    divisors(n).into_iter().filter(|&d| d <= max).collect()
}

fn join(v: &[u64]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Greatest common divisor.
pub fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_120_over_16_is_8x8_plus_8x7_with_light_ends() {
        let s = balanced_split(120, 16);
        assert_eq!(s.iter().sum::<u32>(), 120);
        assert_eq!(s.iter().filter(|&&x| x == 8).count(), 8);
        assert_eq!(s[0], 7);
        assert_eq!(s[15], 7);
    }

    #[test]
    fn split_even_and_single_stage() {
        assert_eq!(balanced_split(96, 8), vec![12; 8]);
        assert_eq!(balanced_split(5, 1), vec![5]);
        assert_eq!(balanced_split(3, 2), vec![2, 1]);
    }
}
