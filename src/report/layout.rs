//! A layout as every output prints it: one summary type, built from a searched layout or
//! an estimate's, whose fields are the only place a layout's knobs are listed for people
//! and tools. Text comes from its `Display` (two styles of the same fields), JSON from
//! serde, CSV cells from [`LayoutSummary::cells`] (columns in
//! [`crate::report::csv::LAYOUT_COLUMNS`]), so a knob cannot be shown in one output and
//! missing from another.
//!
//! - `{}`, words: "tp 8 pp 16 dp 192 ep 16 cp 1 vpp 1 | micro-batch 1 x 38 per step |
//!   1f1b | zero 1 | sp on | recompute full" (estimate's and the report's layout line).
//! - `{:#}`, compact: "tp8 pp16 dp192 ep16 cp1 vpp1 mb1 x38 1f1b z1 rc:full sp" (narrow
//!   table cells and chart labels).
//!
//! `etp` is printed after `ep` where MoE parallel folding sets it apart from `tp`;
//! every other knob is always printed.

use std::fmt;

use serde::Serialize;

use crate::analytic::estimate::LayoutOut;
use crate::search::{recompute_name, Ranked};

/// One layout's knobs and batching, as every output reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LayoutSummary {
    /// Tensor parallel size.
    pub tp: u32,
    /// Pipeline stages.
    pub pp: u32,
    /// Data-parallel replicas.
    pub dp: u32,
    /// Expert parallel size.
    pub ep: u32,
    /// Expert tensor parallel size (tp unless MoE parallel folding sets it apart).
    pub etp: u32,
    /// Context parallel size.
    pub cp: u32,
    /// Virtual stages per GPU.
    pub vpp: u32,
    /// Sequences per micro-batch.
    pub micro_batch: u32,
    /// Micro-batches per step.
    pub microbatches: u32,
    /// Sequences per optimizer step.
    pub global_batch_seqs: u64,
    /// Megatron-style sequence parallelism.
    pub sequence_parallel: bool,
    /// Recompute policy as written in YAML.
    pub recompute: &'static str,
    /// ZeRO stage.
    pub zero: u8,
    /// Schedule as written in YAML.
    pub schedule: &'static str,
}

impl LayoutSummary {
    /// The summary of a searched layout.
    pub fn of_ranked(r: &Ranked) -> Self {
        let l = &r.layout;
        LayoutSummary {
            tp: l.tp,
            pp: l.pp,
            dp: l.dp,
            ep: l.ep,
            etp: l.etp,
            cp: l.cp,
            vpp: l.vpp,
            micro_batch: l.micro_batch,
            microbatches: r.microbatches,
            global_batch_seqs: r.global_batch_seqs,
            sequence_parallel: l.sequence_parallel,
            recompute: recompute_name(l.recompute),
            zero: l.zero,
            schedule: l.schedule.name(),
        }
    }

    /// The summary of an estimate's layout.
    pub fn of_estimate(l: &LayoutOut) -> Self {
        LayoutSummary {
            tp: l.tp,
            pp: l.pp,
            dp: l.dp,
            ep: l.ep,
            etp: l.etp,
            cp: l.cp,
            vpp: l.vpp,
            micro_batch: l.micro_batch,
            microbatches: l.microbatches,
            global_batch_seqs: l.global_batch_seqs,
            sequence_parallel: l.sequence_parallel,
            recompute: recompute_name(l.recompute),
            zero: l.zero,
            schedule: l.schedule,
        }
    }

    /// The parallel sizes, in the order every output prints them: tp, pp, dp, ep, etp
    /// (only where it differs from tp), cp, vpp.
    fn sizes(&self) -> impl Iterator<Item = (&'static str, u32)> {
        let etp = (self.etp != self.tp).then_some(("etp", self.etp));
        [
            ("tp", self.tp),
            ("pp", self.pp),
            ("dp", self.dp),
            ("ep", self.ep),
        ]
        .into_iter()
        .chain(etp)
        .chain([("cp", self.cp), ("vpp", self.vpp)])
    }

    /// The parallel sizes alone ("tp 8 pp 16 dp 192 ep 16 cp 1 vpp 1"; `{:#}`
    /// "tp8 pp16 ..."): a table's layout column.
    pub fn sizes_text(&self) -> Sizes<'_> {
        Sizes(self)
    }

    /// Micro-batching, schedule, ZeRO, sequence parallelism and recompute alone
    /// ("micro-batch 1 x 38 per step | 1f1b | zero 1 | sp on | recompute full"; `{:#}`
    /// "mb1 x38 1f1b z1 rc:full sp"): a table's batching column.
    pub fn batching_text(&self) -> Batching<'_> {
        Batching(self)
    }

    /// The cells under [`crate::report::csv::LAYOUT_COLUMNS`], in that order.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.tp.to_string(),
            self.pp.to_string(),
            self.dp.to_string(),
            self.ep.to_string(),
            self.etp.to_string(),
            self.cp.to_string(),
            self.vpp.to_string(),
            self.micro_batch.to_string(),
            self.microbatches.to_string(),
            self.global_batch_seqs.to_string(),
            self.sequence_parallel.to_string(),
            self.recompute.to_string(),
            self.zero.to_string(),
            self.schedule.to_string(),
        ]
    }
}

/// The parallel sizes of a [`LayoutSummary`] as text (see [`LayoutSummary::sizes_text`]).
pub struct Sizes<'a>(&'a LayoutSummary);

impl fmt::Display for Sizes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gap = if f.alternate() { "" } else { " " };
        for (i, (name, v)) in self.0.sizes().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name}{gap}{v}")?;
        }
        Ok(())
    }
}

/// The batching knobs of a [`LayoutSummary`] as text (see
/// [`LayoutSummary::batching_text`]).
pub struct Batching<'a>(&'a LayoutSummary);

impl fmt::Display for Batching<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.0;
        if f.alternate() {
            write!(
                f,
                "mb{} x{} {} z{} rc:{}{}",
                l.micro_batch,
                l.microbatches,
                l.schedule,
                l.zero,
                l.recompute,
                if l.sequence_parallel { " sp" } else { "" }
            )
        } else {
            write!(
                f,
                "micro-batch {} x {} per step | {} | zero {} | sp {} | recompute {}",
                l.micro_batch,
                l.microbatches,
                l.schedule,
                l.zero,
                if l.sequence_parallel { "on" } else { "off" },
                l.recompute
            )
        }
    }
}

impl fmt::Display for LayoutSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{:#} {:#}", self.sizes_text(), self.batching_text())
        } else {
            write!(f, "{} | {}", self.sizes_text(), self.batching_text())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folded MoE layout: etp 1 under tp 8 (DeepSeek-V3-style folding).
    fn folded() -> LayoutSummary {
        LayoutSummary {
            tp: 8,
            pp: 16,
            dp: 192,
            ep: 16,
            etp: 1,
            cp: 1,
            vpp: 2,
            micro_batch: 1,
            microbatches: 38,
            global_batch_seqs: 7296,
            sequence_parallel: true,
            recompute: "full",
            zero: 1,
            schedule: "interleaved",
        }
    }

    #[test]
    fn both_styles_print_the_same_knobs() {
        let l = folded();
        assert_eq!(
            l.to_string(),
            "tp 8 pp 16 dp 192 ep 16 etp 1 cp 1 vpp 2 | micro-batch 1 x 38 per step | interleaved | zero 1 | sp on | recompute full"
        );
        assert_eq!(
            format!("{l:#}"),
            "tp8 pp16 dp192 ep16 etp1 cp1 vpp2 mb1 x38 interleaved z1 rc:full sp"
        );
    }

    #[test]
    fn etp_is_left_out_only_when_it_equals_tp() {
        let l = LayoutSummary {
            etp: 8,
            sequence_parallel: false,
            ..folded()
        };
        assert_eq!(
            l.sizes_text().to_string(),
            "tp 8 pp 16 dp 192 ep 16 cp 1 vpp 2"
        );
        assert_eq!(
            format!("{:#}", l.batching_text()),
            "mb1 x38 interleaved z1 rc:full"
        );
    }

    #[test]
    fn cells_follow_the_csv_columns() {
        let l = folded();
        let cols = crate::report::csv::LAYOUT_COLUMNS;
        let cells = l.cells();
        assert_eq!(cells.len(), cols.len());
        let json = serde_json::to_value(l).unwrap();
        for (c, v) in cols.iter().zip(&cells) {
            let j = &json[*c];
            let text = j.as_str().map_or_else(|| j.to_string(), str::to_string);
            assert_eq!(&text, v, "column {c}");
        }
    }
}
