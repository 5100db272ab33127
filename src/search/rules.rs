//! The layout rules of [`crate::spec::layout::resolve`], checked without allocating,
//! and the stable short reason each rejection is counted under.
//!
//! `resolve` stays the authority: it formats its errors with numbers and suggestions,
//! which costs microseconds; a search checks millions of layouts, so this module
//! re-states the same rules in the same order and returns a [`Reason`] instead. A test
//! (`tests/search.rs`) checks over a grid of layouts that both agree on every verdict,
//! every reason and every resolved number, so a rule added to `resolve` without being
//! added here fails the build's tests.

use serde::Serialize;

use crate::error::Error;
use crate::spec::layout::Schedule;
use crate::spec::model::ModelSpec;
use crate::spec::training::Training;

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
    /// ep does not divide dp x cp (experts live inside the data-parallel group).
    EpDpCp,
    /// pp x vpp model chunks exceed the layers.
    PpLayers,
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
    pub const ALL: [Reason; 17] = [
        Reason::TpHeads,
        Reason::EpExperts,
        Reason::EpDense,
        Reason::CpSeq,
        Reason::DpGpus,
        Reason::TooFewGpus,
        Reason::EpDpCp,
        Reason::PpLayers,
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
            Reason::EpDpCp => "ep does not divide dp x cp",
            Reason::PpLayers => "pp x vpp exceeds layers",
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
            "layout.ep" if message.contains("dense model") => Reason::EpDense,
            "layout.ep" if message.contains("does not divide dp") => Reason::EpDpCp,
            "layout.cp" => Reason::CpSeq,
            "layout.dp" if message.contains("GPUs, but the scenario has") => Reason::DpGpus,
            "gpus" if message.contains("cannot hold one replica") => Reason::TooFewGpus,
            "layout.pp" if message.contains("cannot fill") => Reason::PpLayers,
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
        }
    }
}

/// The rules that depend only on tp, ep and cp (checked once per inner combination).
pub fn check_inner(c: &RuleCtx, tp: u32, ep: u32, cp: u32) -> Result<(), Reason> {
    if tp == 0 || ep == 0 || cp == 0 {
        return Err(Reason::Other);
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
    let (ep64, cp64) = (u64::from(ep), u64::from(cp));
    let dp = match fixed_dp {
        Some(dp) => {
            if inner * u64::from(dp) != gpus {
                return Err(Reason::DpGpus);
            }
            u64::from(dp)
        }
        None => {
            let mut dp = gpus / inner;
            while dp > 0 && !(dp * cp64).is_multiple_of(ep64) {
                dp -= 1;
            }
            if dp == 0 {
                return Err(Reason::TooFewGpus);
            }
            dp
        }
    };
    if dp > u64::from(u32::MAX) {
        return Err(Reason::Other);
    }
    if (dp * cp64) % ep64 != 0 {
        return Err(Reason::EpDpCp);
    }
    if c.layers < pp.saturating_mul(vpp) {
        return Err(Reason::PpLayers);
    }
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
        None => {
            let n = (c.requested_seqs / per_step as f64).round().max(1.0) as u64;
            n * per_step
        }
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
