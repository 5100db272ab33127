//! A searched layout as the search reports it, and the names of recompute policies.

use serde::Serialize;

use crate::spec::layout::{Layout, Schedule};
use crate::spec::training::Recompute;

/// A layout as the search reports it (the JSON `layout` object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LayoutKey {
    /// Tensor parallel.
    pub tp: u32,
    /// Pipeline stages.
    pub pp: u32,
    /// Data-parallel replicas.
    pub dp: u32,
    /// Expert parallel.
    pub ep: u32,
    /// Expert tensor parallel (tp unless folded).
    pub etp: u32,
    /// Context parallel.
    pub cp: u32,
    /// Virtual stages per GPU.
    pub vpp: u32,
    /// Sequences per micro-batch.
    pub micro_batch: u32,
    /// Recompute policy.
    pub recompute: Recompute,
    /// ZeRO stage.
    pub zero: u8,
    /// Pipeline schedule.
    pub schedule: Schedule,
    /// Sequence parallelism.
    pub sequence_parallel: bool,
}

impl LayoutKey {
    /// Total order for tie-breaks.
    pub(super) fn order(&self) -> impl Ord {
        (
            self.tp,
            self.pp,
            self.dp,
            self.ep,
            self.etp,
            self.cp,
            self.vpp,
            self.micro_batch,
            !self.sequence_parallel,
            self.recompute,
            self.zero,
            self.schedule,
        )
    }

    /// The layout (and recompute policy) as scenario input, overlap taken from `base`.
    /// dp is left to `resolve`, which derives the same value the search did (the most
    /// replicas the GPUs hold with ep dividing dp x cp) without requiring every GPU used.
    pub fn to_layout(&self, base: &Layout) -> Layout {
        Layout {
            tp: self.tp,
            pp: self.pp,
            dp: None,
            ep: self.ep,
            etp: (self.etp != self.tp).then_some(self.etp),
            cp: self.cp,
            vpp: self.vpp,
            micro_batch: self.micro_batch,
            sequence_parallel: self.sequence_parallel,
            zero: self.zero,
            schedule: Some(self.schedule),
            layers_per_stage: None,
            overlap: base.overlap,
            rank_order: base.rank_order,
        }
    }
}

/// Name of a recompute policy as written in YAML.
pub fn recompute_name(r: Recompute) -> &'static str {
    match r {
        Recompute::None => "none",
        Recompute::Selective => "selective",
        Recompute::Full => "full",
    }
}
