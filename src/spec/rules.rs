//! The layout rules, checked without allocating, the stable short reason each
//! rejection is counted under, and the explanation of each.
//!
//! One rule set: a search checks millions of layouts with [`check_inner`] and
//! [`check_outer`] and counts the [`Reason`]s; [`crate::spec::layout::resolve`] runs
//! the same two functions and, on a rejection, [`explain`]s it with its numbers and
//! what would fit (microseconds, paid once per error).

use serde::Serialize;

use super::layout::{Layout, Schedule};
use super::model::{divisors, ModelSpec};
use super::training::Training;
use crate::error::Error;

/// Why a layout was rejected. The order is the order the rules are checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Reason {
    /// tp does not divide the attention heads or the kv heads.
    TpHeads,
    /// ep does not divide the routed experts.
    EpExperts,
    /// ep > 1 on a dense model.
    EpDense,
    /// cp does not divide the sequence length.
    CpSeq,
    /// dp was fixed and tp x cp x pp x dp is not the GPU count.
    DpGpus,
    /// Fewer GPUs than one replica (tp x cp x pp, with ep inside dp x cp) needs.
    TooFewGpus,
    /// ep x etp does not divide tp x cp x dp (MoE layers fold a stage's tp x cp x dp
    /// GPUs into etp x ep x expert-dp).
    EpDpCp,
    /// pp x vpp model chunks exceed the layers.
    PpLayers,
    /// `training.activation_offload_layers` not below the layers of the smallest stage.
    OffloadLayers,
    /// vpp > 1 with a schedule other than interleaved.
    VppSchedule,
    /// Interleaved schedule with vpp < 2.
    InterleavedVpp,
    /// DualPipe with an odd pp.
    DualPipeOddPp,
    /// Global batch (sequences) not divisible by dp x micro_batch.
    Batch,
    /// Interleaved 1F1B with micro-batches not a multiple of pp.
    InterleavedMicrobatches,
    /// DualPipe without an even number of micro-batches of at least 2 x pp.
    DualPipeMicrobatches,
    /// The global batch, rounded to whole micro-batches per replica, strays from the
    /// requested one by more than the search's tolerance (a different training run).
    BatchDrift,
    /// Peak memory above capacity minus the headroom.
    Memory,
    /// Anything else `resolve` or the cost model refused (non-finite numbers, overflow).
    Other,
}

impl Reason {
    /// Every reason, in check order.
    pub const ALL: [Reason; 18] = [
        Reason::TpHeads,
        Reason::EpExperts,
        Reason::EpDense,
        Reason::CpSeq,
        Reason::DpGpus,
        Reason::TooFewGpus,
        Reason::EpDpCp,
        Reason::PpLayers,
        Reason::OffloadLayers,
        Reason::VppSchedule,
        Reason::InterleavedVpp,
        Reason::DualPipeOddPp,
        Reason::Batch,
        Reason::InterleavedMicrobatches,
        Reason::DualPipeMicrobatches,
        Reason::BatchDrift,
        Reason::Memory,
        Reason::Other,
    ];

    /// The stable short key reports and JSON use.
    pub fn key(self) -> &'static str {
        match self {
            Reason::TpHeads => "tp does not divide heads",
            Reason::EpExperts => "ep does not divide experts",
            Reason::EpDense => "ep on a dense model",
            Reason::CpSeq => "cp does not divide seq_len",
            Reason::DpGpus => "tp x cp x pp x dp != gpus",
            Reason::TooFewGpus => "too few gpus for one replica",
            Reason::EpDpCp => "ep x etp does not divide tp x cp x dp",
            Reason::PpLayers => "pp x vpp exceeds layers",
            Reason::OffloadLayers => "activation offload >= stage layers",
            Reason::VppSchedule => "vpp > 1 needs interleaved",
            Reason::InterleavedVpp => "interleaved needs vpp >= 2",
            Reason::DualPipeOddPp => "dualpipe needs even pp",
            Reason::Batch => "batch not divisible by dp x micro_batch",
            Reason::InterleavedMicrobatches => "interleaved needs m % pp == 0",
            Reason::DualPipeMicrobatches => "dualpipe needs even m >= 2 x pp",
            Reason::BatchDrift => "batch rounds too far from requested",
            Reason::Memory => "memory exceeds capacity - headroom",
            Reason::Other => "other",
        }
    }

    /// Index into a counter array.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The reason a `resolve` error stands for (by its field and rule text).
    pub fn from_error(e: &Error) -> Reason {
        let Error::Invalid { field, message, .. } = e else {
            return Reason::Other;
        };
        match field.as_str() {
            "layout.tp" if message.contains("not divisible by tp") => Reason::TpHeads,
            "layout.ep" if message.contains("experts") && message.contains("not divisible") => {
                Reason::EpExperts
            }
            "layout.ep" | "layout.etp" if message.contains("dense model") => Reason::EpDense,
            "layout.ep" if message.contains("does not divide tp") => Reason::EpDpCp,
            "layout.cp" => Reason::CpSeq,
            "layout.dp" if message.contains("GPUs, but the scenario has") => Reason::DpGpus,
            "gpus" if message.contains("cannot hold one replica") => Reason::TooFewGpus,
            "layout.pp" if message.contains("cannot fill") => Reason::PpLayers,
            "training.activation_offload_layers" => Reason::OffloadLayers,
            "layout.schedule" if message.contains("needs the interleaved schedule") => {
                Reason::VppSchedule
            }
            "layout.schedule" if message.contains("interleaved needs vpp") => {
                Reason::InterleavedVpp
            }
            "layout.schedule" if message.contains("even pp") => Reason::DualPipeOddPp,
            "layout.schedule" if message.contains("multiple of pp") => {
                Reason::InterleavedMicrobatches
            }
            "layout.schedule" if message.contains("DualPipe needs an even number") => {
                Reason::DualPipeMicrobatches
            }
            "training.global_batch_seqs" if message.contains("not divisible by dp") => {
                Reason::Batch
            }
            _ => Reason::Other,
        }
    }
}

/// The most data-parallel replicas `gpus` hold with `inner` = tp x cp x pp GPUs each
/// and the experts' etp x ep dividing tp x cp x dp (0 when not even one fits).
pub fn most_replicas(gpus: u64, inner: u64, tp: u32, cp: u32, ep: u32, etp: u32) -> u64 {
    let (ranks, experts) = (
        u64::from(tp) * u64::from(cp),
        u64::from(ep) * u64::from(etp),
    );
    let mut dp = gpus / inner;
    while dp > 0 && !(dp * ranks).is_multiple_of(experts) {
        dp -= 1;
    }
    dp
}

/// The fewest data-parallel replicas whose tp x cp x dp GPUs the experts' etp x ep
/// tile: etp x ep / gcd(etp x ep, tp x cp).
pub fn min_replicas(tp: u32, cp: u32, ep: u32, etp: u32) -> u64 {
    let experts = u64::from(ep) * u64::from(etp);
    experts / gcd(experts, u64::from(tp) * u64::from(cp))
}

/// A batch asked for in tokens (`requested` sequences, maybe fractional) rounded to
/// whole micro-batches of `per_step` sequences, at least one, sequences.
pub fn rounded_batch(requested: f64, per_step: u64) -> u64 {
    (requested / per_step as f64).round().max(1.0) as u64 * per_step
}

/// Scenario constants the rules read, computed once.
#[derive(Debug, Clone, Copy)]
pub struct RuleCtx {
    /// Attention heads.
    pub heads: u32,
    /// Key/value heads.
    pub kv_heads: u32,
    /// Routed experts (`None` for a dense model).
    pub experts: Option<u32>,
    /// Sequence length.
    pub seq_len: u64,
    /// Transformer layers.
    pub layers: u32,
    /// Global batch in sequences when fixed in sequences.
    pub batch_seqs: Option<u64>,
    /// Requested batch in sequences (tokens / seq_len when given in tokens).
    pub requested_seqs: f64,
    /// Layers per stage whose activations go to host memory (0: none).
    pub offload_layers: u32,
}

impl RuleCtx {
    /// From a model and a training run.
    pub fn new(model: &ModelSpec, training: &Training) -> RuleCtx {
        RuleCtx {
            heads: model.heads,
            kv_heads: model.kv_heads(),
            experts: model.moe.as_ref().map(|m| m.experts),
            seq_len: training.seq_len,
            layers: model.layers,
            batch_seqs: training.global_batch_seqs,
            requested_seqs: training.requested_batch_seqs().unwrap_or(1.0),
            offload_layers: training.activation_offload_layers,
        }
    }
}

/// The rules that depend only on tp, ep, etp and cp (checked once per inner
/// combination).
pub fn check_inner(c: &RuleCtx, tp: u32, ep: u32, etp: u32, cp: u32) -> Result<(), Reason> {
    if tp == 0 || ep == 0 || etp == 0 || cp == 0 {
        return Err(Reason::Other);
    }
    if c.experts.is_none() && etp != tp {
        return Err(Reason::EpDense);
    }
    if !c.heads.is_multiple_of(tp) || !c.kv_heads.is_multiple_of(tp) {
        return Err(Reason::TpHeads);
    }
    match c.experts {
        Some(e) if e % ep != 0 => return Err(Reason::EpExperts),
        None if ep > 1 => return Err(Reason::EpDense),
        _ => {}
    }
    if !c.seq_len.is_multiple_of(u64::from(cp)) {
        return Err(Reason::CpSeq);
    }
    Ok(())
}

/// What the rules fill in for a valid layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Data-parallel replicas.
    pub dp: u32,
    /// Micro-batches per step per pipeline.
    pub microbatches: u32,
    /// Global batch used, sequences.
    pub global_batch_seqs: u64,
    /// GPUs occupied.
    pub gpus_used: u64,
}

/// The remaining rules, in `resolve`'s order, for a layout whose inner rules passed.
#[allow(clippy::too_many_arguments)]
pub fn check_outer(
    c: &RuleCtx,
    gpus: u64,
    tp: u32,
    ep: u32,
    etp: u32,
    cp: u32,
    pp: u32,
    vpp: u32,
    micro_batch: u32,
    schedule: Schedule,
    fixed_dp: Option<u32>,
) -> Result<Shape, Reason> {
    if pp == 0 || vpp == 0 || micro_batch == 0 || fixed_dp == Some(0) || gpus == 0 {
        return Err(Reason::Other);
    }
    let inner = u64::from(tp) * u64::from(cp) * u64::from(pp);
    let dp = match fixed_dp {
        Some(dp) => {
            if inner * u64::from(dp) != gpus {
                return Err(Reason::DpGpus);
            }
            u64::from(dp)
        }
        None => match most_replicas(gpus, inner, tp, cp, ep, etp) {
            0 => return Err(Reason::TooFewGpus),
            dp => dp,
        },
    };
    if dp > u64::from(u32::MAX) {
        return Err(Reason::Other);
    }
    if (dp * u64::from(tp) * u64::from(cp)) % (u64::from(ep) * u64::from(etp)) != 0 {
        return Err(Reason::EpDpCp);
    }
    if c.layers < pp.saturating_mul(vpp) {
        return Err(Reason::PpLayers);
    }
    // A balanced split's smallest stage has layers / pp; a written split is checked
    // against its own smallest stage by `resolve` ([`check_offload`]).
    check_offload(c.offload_layers, c.layers / pp)?;
    if vpp > 1 && schedule != Schedule::Interleaved {
        return Err(Reason::VppSchedule);
    }
    if schedule == Schedule::Interleaved && vpp < 2 {
        return Err(Reason::InterleavedVpp);
    }
    if schedule == Schedule::DualPipe && !pp.is_multiple_of(2) {
        return Err(Reason::DualPipeOddPp);
    }
    let per_step = dp * u64::from(micro_batch);
    let global_batch_seqs = match c.batch_seqs {
        Some(b) => {
            if b % per_step != 0 {
                return Err(Reason::Batch);
            }
            b
        }
        None => rounded_batch(c.requested_seqs, per_step),
    };
    let m = global_batch_seqs / per_step;
    let Ok(microbatches) = u32::try_from(m) else {
        return Err(Reason::Other);
    };
    if schedule == Schedule::Interleaved && microbatches % pp != 0 {
        return Err(Reason::InterleavedMicrobatches);
    }
    if schedule == Schedule::DualPipe && (microbatches < 2 * pp || microbatches % 2 != 0) {
        return Err(Reason::DualPipeMicrobatches);
    }
    Ok(Shape {
        dp: dp as u32,
        microbatches,
        global_batch_seqs,
        gpus_used: inner * dp,
    })
}

/// `offload` layers of activations per stage sent to host memory need a stage of more
/// than that many layers (`smallest_stage`): Transformer Engine's offload context
/// keeps at least the last layer on the GPU (`get_cpu_offload_context` asserts
/// `num_layers <= model_layers - 1`; Megatron-Core's TransformerConfig refuses
/// `cpu_offloading_num_layers >= num_layers`).
pub fn check_offload(offload: u32, smallest_stage: u32) -> Result<(), Reason> {
    if offload > 0 && offload >= smallest_stage {
        return Err(Reason::OffloadLayers);
    }
    Ok(())
}

/// What [`explain`] reads: the layout as written, with its schedule settled.
pub struct Asked<'a> {
    /// The layout.
    pub layout: &'a Layout,
    /// Its schedule (the default filled in).
    pub schedule: Schedule,
    /// The model.
    pub model: &'a ModelSpec,
    /// The training run.
    pub training: &'a Training,
    /// GPUs the scenario has.
    pub gpus: u64,
}

impl Asked<'_> {
    fn inner(&self) -> u64 {
        let l = self.layout;
        u64::from(l.tp) * u64::from(l.cp) * u64::from(l.pp)
    }

    /// The expert tensor-parallel width asked for (tp when not given).
    fn etp(&self) -> u32 {
        self.layout.etp.unwrap_or(self.layout.tp)
    }

    /// dp as the rules derive it (fixed, or the most replicas that fit).
    fn dp(&self) -> u64 {
        let l = self.layout;
        l.dp.map_or_else(
            || most_replicas(self.gpus, self.inner(), l.tp, l.cp, l.ep, self.etp()),
            u64::from,
        )
    }
}

/// The error `resolve` reports for a layout the rules rejected with `r`: the rule with
/// its numbers, and what would fit.
pub fn explain(r: Reason, a: &Asked) -> Error {
    match r {
        Reason::TpHeads | Reason::EpExperts | Reason::EpDense | Reason::CpSeq => {
            explain_split(r, a)
        }
        Reason::DpGpus | Reason::TooFewGpus | Reason::EpDpCp | Reason::PpLayers => {
            explain_gpus(r, a)
        }
        Reason::OffloadLayers => explain_offload(a),
        _ => explain_schedule(r, a),
    }
}

/// Heads over tp, experts over ep, the sequence over cp.
fn explain_split(r: Reason, a: &Asked) -> Error {
    let (l, model) = (a.layout, a.model);
    let (heads, kv) = (model.heads, model.kv_heads());
    let experts = model.moe.as_ref().map_or(0, |m| m.experts);
    let seq = a.training.seq_len;
    match r {
        Reason::TpHeads => {
            let ok = divisors(gcd(heads as u64, kv as u64));
            let which = if !heads.is_multiple_of(l.tp) {
                format!("heads {heads} not divisible by tp {}", l.tp)
            } else {
                format!("kv heads {kv} not divisible by tp {}", l.tp)
            };
            Error::invalid("layout.tp", which).with_suggestion(format!(
                "tp that divides both heads {heads} and kv heads {kv}: {}",
                join(&ok)
            ))
        }
        Reason::EpExperts => Error::invalid(
            "layout.ep",
            format!("experts {experts} not divisible by ep {}", l.ep),
        )
        .with_suggestion(format!("ep in {}", join(&divisors(experts as u64)))),
        Reason::EpDense if l.ep == 1 => Error::invalid(
            "layout.etp",
            format!(
                "etp {} differs from tp {} on a dense model (no experts)",
                a.etp(),
                l.tp
            ),
        )
        .with_suggestion("leave etp out".to_string()),
        Reason::EpDense => Error::invalid(
            "layout.ep",
            format!("ep {} on a dense model (no experts)", l.ep),
        )
        .with_suggestion("ep 1".to_string()),
        _ => Error::invalid(
            "layout.cp",
            format!("sequence length {seq} not divisible by cp {}", l.cp),
        )
        .with_suggestion(format!("cp in {}", join(&small_divisors(seq, 64)))),
    }
}

/// GPUs against tp x cp x pp x dp, ep inside dp x cp, layers over the model chunks.
fn explain_gpus(r: Reason, a: &Asked) -> Error {
    let (l, gpus, inner) = (a.layout, a.gpus, a.inner());
    match r {
        Reason::DpGpus => {
            let dp = l.dp.unwrap_or(0);
            Error::invalid(
                "layout.dp",
                format!(
                    "tp {} x cp {} x pp {} x dp {dp} = {} GPUs, but the scenario has {gpus}",
                    l.tp,
                    l.cp,
                    l.pp,
                    inner * u64::from(dp)
                ),
            )
            .with_suggestion(gpu_suggestion(gpus, inner, a))
        }
        Reason::TooFewGpus => {
            // Folding (etp 1) lets ep spread over the tensor-parallel ranks too.
            let folded = inner * min_replicas(l.tp, l.cp, l.ep, 1);
            let fold = if a.etp() > 1 && folded <= gpus {
                format!("; or etp: 1 (MoE parallel folding needs {folded} GPUs)")
            } else {
                String::new()
            };
            Error::invalid(
                "gpus",
                format!(
                    "{gpus} GPUs cannot hold one replica of tp {} x cp {} x pp {} with ep {} x etp {} (needs {} GPUs)",
                    l.tp,
                    l.cp,
                    l.pp,
                    l.ep,
                    a.etp(),
                    inner * min_replicas(l.tp, l.cp, l.ep, a.etp())
                ),
            )
            .with_suggestion(gpu_suggestion(gpus, inner, a) + &fold)
        }
        Reason::EpDpCp => {
            let (dp, etp) = (a.dp(), a.etp());
            let ranks = u64::from(l.tp) * u64::from(l.cp) * dp;
            let experts = |e: &u64| {
                a.model
                    .moe
                    .as_ref()
                    .is_none_or(|m| u64::from(m.experts) % e == 0)
            };
            // Only divisors of the expert count can work: with a MoE, the candidates are
            // the divisors of that (sqrt of a u32), never of a rank count the user inflated.
            let base = gcd(ranks, ranks / u64::from(etp).max(1));
            let base = a
                .model
                .moe
                .as_ref()
                .map_or(base, |m| gcd(base, u64::from(m.experts)));
            let fits: Vec<u64> = divisors(base)
                .into_iter()
                .filter(|e| ranks % (e * u64::from(etp)) == 0 && experts(e))
                .collect();
            // Folding: with etp 1 the experts may spread over the attention's tp ranks too.
            let fold = if etp > 1 && ranks % u64::from(l.ep) == 0 {
                format!(
                    "; or etp: 1 (MoE parallel folding: ep {} over tp x cp x dp)",
                    l.ep
                )
            } else {
                String::new()
            };
            Error::invalid(
                "layout.ep",
                format!(
                    "ep {} x etp {etp} does not divide tp {} x cp {} x dp {dp} = {ranks} \
                     (MoE layers fold a stage's tp x cp x dp GPUs into etp x ep x expert-dp)",
                    l.ep, l.tp, l.cp
                ),
            )
            .with_suggestion(format!("ep in {} with etp {etp}{fold}", join(&fits)))
        }
        _ => {
            let layers = a.model.layers;
            Error::invalid(
                "layout.pp",
                format!(
                    "{layers} layers cannot fill pp {} x vpp {} = {} model chunks",
                    l.pp,
                    l.vpp,
                    l.pp * l.vpp
                ),
            )
            .with_suggestion(format!("pp x vpp at most {layers}"))
        }
    }
}

/// Activation offloading against the smallest stage, with what would fit.
fn explain_offload(a: &Asked) -> Error {
    let (l, layers) = (a.layout, a.model.layers);
    let n = a.training.activation_offload_layers;
    let smallest = l
        .layers_per_stage
        .as_ref()
        .and_then(|v| v.iter().min().copied())
        .unwrap_or(layers / l.pp.max(1));
    // The largest pp whose balanced stages keep more than n layers.
    let pp_max = layers / (n + 1);
    let pp = if pp_max >= 1 {
        format!(", or pp at most {pp_max}")
    } else {
        String::new()
    };
    Error::invalid(
        "training.activation_offload_layers",
        format!(
            "{n} offloaded layers is not below the {smallest} layers of the smallest stage \
             (pp {} over {layers} layers): Transformer Engine keeps at least one layer of a \
             stage on the GPU",
            l.pp
        ),
    )
    .with_suggestion(format!("at most {}{pp}", smallest.saturating_sub(1)))
}

/// The schedule's own rules and the batch over dp x micro_batch.
fn explain_schedule(r: Reason, a: &Asked) -> Error {
    let l = a.layout;
    let dp = a.dp();
    let per_step = dp * u64::from(l.micro_batch);
    let batch = a.training.global_batch_seqs.unwrap_or_else(|| {
        rounded_batch(
            a.training.requested_batch_seqs().unwrap_or(1.0),
            per_step.max(1),
        )
    });
    let m = batch / per_step.max(1);
    match r {
        Reason::VppSchedule => Error::invalid(
            "layout.schedule",
            format!(
                "vpp {} needs the interleaved schedule, not {}",
                l.vpp,
                a.schedule.name()
            ),
        )
        .with_suggestion("schedule: interleaved, or vpp: 1".to_string()),
        Reason::InterleavedVpp => {
            Error::invalid("layout.schedule", "interleaved needs vpp of at least 2")
                .with_suggestion("vpp: 2 (or more), or schedule: 1f1b".to_string())
        }
        Reason::DualPipeOddPp => Error::invalid(
            "layout.schedule",
            format!("DualPipe needs an even pp, got {}", l.pp),
        )
        .with_suggestion(format!("pp {} or {}", l.pp - 1, l.pp + 1)),
        Reason::Batch => {
            let lo = (batch / per_step).max(1) * per_step;
            let hi = (batch / per_step + 1) * per_step;
            Error::invalid(
                "training.global_batch_seqs",
                format!(
                    "global batch {batch} not divisible by dp {dp} x micro_batch {}",
                    l.micro_batch
                ),
            )
            .with_suggestion(format!("global batch {lo} or {hi}, or another micro_batch"))
        }
        Reason::InterleavedMicrobatches => {
            let pp = u64::from(l.pp);
            Error::invalid(
                "layout.schedule",
                format!(
                    "interleaved 1F1B needs micro-batches ({m}) to be a multiple of pp {}",
                    l.pp
                ),
            )
            .with_suggestion(format!(
                "a global batch of {} or {} sequences, or schedule: 1f1b",
                (m / pp).max(1) * pp * per_step,
                (m / pp + 1) * pp * per_step
            ))
        }
        // The reference implementation (deepseek-ai/DualPipe) feeds half the micro-batches
        // from each end and asserts an even count of at least 2 x pp.
        Reason::DualPipeMicrobatches => Error::invalid(
            "layout.schedule",
            format!(
                "DualPipe needs an even number of micro-batches, at least 2 x pp = {}; got {m}",
                2 * l.pp
            ),
        )
        .with_suggestion(
            "a larger global batch or a smaller micro_batch, or schedule: 1f1b".to_string(),
        ),
        _ if dp > u64::from(u32::MAX) => {
            Error::invalid("gpus", "more data-parallel replicas than 2^32")
        }
        _ => Error::invalid("training.global_batch_seqs", "too many micro-batches"),
    }
}

fn gpu_suggestion(gpus: u64, inner: u64, a: &Asked) -> String {
    let l = a.layout;
    let step = inner * min_replicas(l.tp, l.cp, l.ep, a.etp());
    let lo = gpus / step * step;
    let hi = lo + step;
    if lo == 0 {
        format!("at least {hi} GPUs (multiples of {step})")
    } else {
        format!("{lo} or {hi} GPUs (multiples of {step}), or leave dp out")
    }
}

/// The divisors of `n` up to `max`, in `max` steps whatever `n` (a sequence length the
/// user set to 2^64 - 1 once made the suggestion loop forever).
fn small_divisors(n: u64, max: u64) -> Vec<u64> {
    (1..=max.min(n)).filter(|d| n.is_multiple_of(*d)).collect()
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
