//! The estimate's output records built from the stages: memory of the busiest GPU,
//! the resolved layout as reported, each stage's times and memory.

use super::{LayoutOut, MemoryOut, StageOut};
use crate::analytic::stage::StageCost;
use crate::spec::layout::ResolvedLayout;
use crate::spec::Scenario;

/// Memory per GPU: the stage with the most bytes (the first of equals), against the
/// GPU's `capacity` bytes.
pub(super) fn memory_out(st: &[StageCost], capacity: f64) -> MemoryOut {
    let (busiest, peak_mem) = st
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.memory.total()))
        .fold((0, 0.0), |acc, x| if x.1 > acc.1 { x } else { acc });
    MemoryOut {
        peak_bytes: peak_mem,
        capacity_bytes: capacity,
        fits: peak_mem <= capacity,
        busiest_stage: busiest,
        breakdown: st[busiest].memory,
    }
}

/// The resolved layout as the estimate reports it.
pub(super) fn layout_out(sc: &Scenario, rl: &ResolvedLayout) -> LayoutOut {
    LayoutOut {
        tp: rl.tp,
        pp: rl.pp,
        dp: rl.dp,
        ep: rl.ep,
        etp: rl.etp,
        cp: rl.cp,
        vpp: rl.vpp,
        micro_batch: rl.micro_batch,
        microbatches: rl.microbatches,
        global_batch_seqs: rl.global_batch_seqs,
        schedule: rl.schedule.name(),
        zero: rl.zero,
        sequence_parallel: rl.sequence_parallel,
        recompute: sc.training.recompute,
        layers_per_stage: rl.layers_per_stage.clone(),
    }
}

/// Each stage's layers, forward and backward per micro-batch on the pipeline
/// (seconds) and memory (bytes).
pub(super) fn stage_outs(st: &[StageCost]) -> Vec<StageOut> {
    st.iter()
        .map(|s| StageOut {
            layers: s.layers,
            fwd_s: s.pipeline_fwd_s(),
            bwd_s: s.pipeline_bwd_s(),
            memory: s.memory,
            memory_bytes: s.memory.total(),
        })
        .collect()
}
