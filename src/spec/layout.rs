//! The parallel layout and the rules that make one valid.
//!
//! Placement follows Megatron-LM's rank order tp -> cp -> ep -> dp -> pp (tp
//! innermost): that order decides which groups stay inside an NVLink domain. MoE
//! layers fold the same tp x cp x dp ranks of a stage into their own grid, etp -> ep
//! -> expert-dp (Megatron-Core's "MoE parallel folding", Liu et al. 2025, arXiv
//! 2504.14960; `parallel_state.py` builds the expert ranks as tp = etp, ep, dp =
//! world / (etp x ep x pp)), so `ep x etp` must divide `tp x cp x dp`. With etp = tp
//! (Megatron's default) that is `ep` dividing `dp x cp`.

use serde::{Deserialize, Serialize};

use super::model::ModelSpec;
pub use super::rules::gcd;
use super::rules::{self, Asked, Reason, RuleCtx};
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

/// The order ranks are numbered in, innermost first: it decides which groups share an
/// NVLink domain.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash, schemars::JsonSchema,
)]
pub enum RankOrder {
    /// Megatron-Core's default, tp -> cp -> ep -> dp -> pp: data-parallel peers close,
    /// pipeline stages outermost.
    #[default]
    #[serde(rename = "tp-cp-dp-pp")]
    TpCpDpPp,
    /// Megatron-Core's `--use-tp-pp-dp-mapping` (NVIDIA's MLPerf Training v5.1 configs:
    /// `TP_PP_DP_MAPPING=True`): tp -> cp -> pp -> dp, each model replica's tp x cp x pp
    /// GPUs together, data parallelism outermost. Dense models only here.
    #[serde(rename = "tp-cp-pp-dp")]
    TpCpPpDp,
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
    /// Expert-parallel width (within tp x cp x dp / etp).
    #[serde(default = "one")]
    pub ep: u32,
    /// Expert tensor-parallel width: how many GPUs split each routed expert's weights
    /// (Megatron-Core `expert_tensor_parallel_size`); `None` = tp. Experts fold the
    /// stage's tp x cp x dp GPUs into etp x ep x expert-dp, so ep x etp must divide
    /// tp x cp x dp: etp 1 lets ep span the attention's tensor-parallel ranks.
    #[serde(default)]
    pub etp: Option<u32>,
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
    /// Rank order (which groups share an NVLink domain).
    #[serde(default)]
    pub rank_order: RankOrder,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            tp: 1,
            pp: 1,
            dp: None,
            ep: 1,
            etp: None,
            cp: 1,
            vpp: 1,
            micro_batch: 1,
            sequence_parallel: true,
            zero: 1,
            schedule: None,
            layers_per_stage: None,
            overlap: Overlap::default(),
            rank_order: RankOrder::default(),
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
    /// Expert tensor-parallel width (tp unless folded).
    pub etp: u32,
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
    /// Rank order.
    pub rank_order: RankOrder,
}

impl ResolvedLayout {
    /// Expert-data-parallel width: replicas of each expert, tp x cp x dp / (etp x ep)
    /// (dp x cp / ep when etp = tp).
    pub fn expert_dp(&self) -> u32 {
        (u64::from(self.tp) * u64::from(self.cp) * u64::from(self.dp)
            / (u64::from(self.etp) * u64::from(self.ep))) as u32
    }

    /// Whether the experts fold the ranks differently from attention (etp != tp).
    pub fn folded(&self) -> bool {
        self.etp != self.tp
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
/// The rules are the search's ([`rules::check_inner`], [`rules::check_outer`]); a
/// rejection is [`rules::explain`]ed with its numbers and what would fit. Two things
/// are adjusted rather than refused, with a note: a GPU count that no `dp` fits
/// exactly (dp left out) uses the largest count below it that works; a batch given in
/// tokens is rounded to a whole number of micro-batches per replica.
pub fn resolve(
    layout: &Layout,
    model: &ModelSpec,
    gpus: u64,
    training: &Training,
    adj: &mut Adjustments,
) -> Result<ResolvedLayout> {
    let l = layout;
    check_fields(l, gpus)?;
    let schedule = l.schedule.unwrap_or(if l.vpp > 1 {
        Schedule::Interleaved
    } else {
        Schedule::OneFOneB
    });
    let requested = training.requested_batch_seqs()?;
    let asked = Asked {
        layout: l,
        schedule,
        model,
        training,
        gpus,
    };
    let why = |r: Reason| rules::explain(r, &asked);
    let mut ctx = RuleCtx::new(model, training);
    if l.layers_per_stage.is_some() {
        // An explicit split says where the layers go, and a chunk may hold none: Llama 3
        // 405B runs pp 16 x vpp 8 = 128 chunks over 126 layers, its first and last chunk
        // holding only the embedding and the output layer (arXiv 2407.21783, section
        // 3.3.2). Only a balanced split needs pp x vpp <= layers.
        ctx.layers = ctx.layers.max(l.pp.saturating_mul(l.vpp));
    }
    let etp = l.etp.unwrap_or(l.tp);
    if l.rank_order == RankOrder::TpCpPpDp && l.ep > 1 {
        return Err(Error::invalid(
            "layout.rank_order",
            "tp-cp-pp-dp is modelled for dense layers only (ep 1)",
        ));
    }
    rules::check_inner(&ctx, l.tp, l.ep, etp, l.cp).map_err(why)?;
    let shape = rules::check_outer(
        &ctx,
        gpus,
        l.tp,
        l.ep,
        etp,
        l.cp,
        l.pp,
        l.vpp,
        l.micro_batch,
        schedule,
        l.dp,
    )
    .map_err(why)?;
    let layers_per_stage = match &l.layers_per_stage {
        Some(v) => checked_split(v, l.pp, model.layers)?,
        None => balanced_split(model.layers, l.pp),
    };
    let smallest = layers_per_stage.iter().min().copied().unwrap_or(0);
    rules::check_offload(training.activation_offload_layers, smallest).map_err(why)?;
    let rl = ResolvedLayout {
        tp: l.tp,
        pp: l.pp,
        dp: shape.dp,
        ep: l.ep,
        etp,
        cp: l.cp,
        vpp: l.vpp,
        micro_batch: l.micro_batch,
        microbatches: shape.microbatches,
        global_batch_seqs: shape.global_batch_seqs,
        sequence_parallel: l.sequence_parallel && l.tp > 1,
        zero: l.zero,
        schedule,
        layers_per_stage,
        overlap: l.overlap,
        gpus_used: shape.gpus_used,
        rank_order: l.rank_order,
    };
    add_notes(&rl, gpus, model.layers, training, requested, adj);
    Ok(rl)
}

/// Values no layout can have: zero widths, no GPUs, a ZeRO stage past 3.
fn check_fields(l: &Layout, gpus: u64) -> Result<()> {
    for (name, v) in [
        ("tp", l.tp),
        ("pp", l.pp),
        ("ep", l.ep),
        ("etp", l.etp.unwrap_or(1)),
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
    Ok(())
}

/// A layer split written in the scenario: one entry per stage, summing to the layers,
/// none empty.
fn checked_split(v: &[u32], pp: u32, layers: u32) -> Result<Vec<u32>> {
    if v.len() != pp as usize {
        return Err(Error::invalid(
            "layout.layers_per_stage",
            format!("{} entries for pp {pp}", v.len()),
        ));
    }
    let sum: u32 = v.iter().sum();
    if sum != layers {
        return Err(Error::invalid(
            "layout.layers_per_stage",
            format!("entries sum to {sum}, the model has {layers} layers"),
        ));
    }
    if v.contains(&0) {
        return Err(Error::invalid(
            "layout.layers_per_stage",
            "a stage with no layers",
        ));
    }
    Ok(v.to_vec())
}

/// The adjustments resolving made, in words: idle GPUs, unequal chunks, a batch in
/// tokens rounded to whole micro-batches.
fn add_notes(
    rl: &ResolvedLayout,
    gpus: u64,
    layers: u32,
    training: &Training,
    requested: f64,
    adj: &mut Adjustments,
) {
    let inner = u64::from(rl.tp) * u64::from(rl.cp) * u64::from(rl.pp);
    if rl.gpus_used != gpus {
        let experts = if rl.folded() {
            format!("ep {} x etp {} dividing tp x cp x dp", rl.ep, rl.etp)
        } else {
            format!("dp divisible by ep {} / cp", rl.ep)
        };
        adj.notes.push(format!(
            "{gpus} GPUs is not a multiple of tp x cp x pp = {inner} with {experts}; \
             using {} GPUs (dp {}), {} idle",
            rl.gpus_used,
            rl.dp,
            gpus - rl.gpus_used
        ));
    }
    let chunks = rl.pp * rl.vpp;
    if rl.vpp > 1
        && rl.layers_per_stage.iter().any(|&n| n % rl.vpp != 0)
        && !layers.is_multiple_of(chunks)
    {
        adj.notes.push(format!(
            "{layers} layers do not divide into pp {} x vpp {} = {chunks} equal chunks; chunk sizes differ by one layer",
            rl.pp, rl.vpp
        ));
    }
    let b = rl.global_batch_seqs;
    if training.global_batch_seqs.is_none() && (b as f64 - requested).abs() > 1e-9 * requested {
        adj.notes.push(format!(
            "global batch of {:.0} tokens = {:.1} sequences of {} is not a multiple of dp {} x \
             micro_batch {}; using {b} sequences ({:.3}M tokens)",
            requested * training.seq_len as f64,
            requested,
            training.seq_len,
            rl.dp,
            rl.micro_batch,
            b as f64 * training.seq_len as f64 / 1e6
        ));
    }
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
