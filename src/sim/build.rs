//! Simulator inputs from the analytic model: per-stage forward and backward times,
//! the p2p link each boundary uses, data-parallel sync and optimizer per stage.

use serde::Serialize;

use super::engine::Program;
use super::{NicShare, SimInput, SimResult, StageSpec};
use crate::analytic::comm::{pp_stride, Group};
use crate::analytic::estimate::{PipelineModel, PipelineRun};
use crate::analytic::setup::Setup;
use crate::analytic::stage::{dp_groups, dp_sync, p2p_transfer_s, stages, StageCost, StageInputs};
use crate::error::{Error, Result};
use crate::spec::layout::{balanced_split, ResolvedLayout};

/// Builds the simulator's input from the analytic stage costs `st` of the layout in
/// `inp`: each stage's work (pipeline sends not included) with its weight-gradient
/// GEMMs (what ZB-H1 and DualPipe defer) as the layer model counts them, and the p2p
/// transfer on the link between stages, blocking unless `overlap.p2p`.
pub fn input_from_analytic(inp: &StageInputs, st: &[StageCost]) -> SimInput {
    let l = inp.ctx.layout;
    let c = &inp.comm;
    // What crosses the network, on each GPU's NIC: the data-parallel stream shares it
    // (when the cluster has contention on) with the expert all-to-all and p2p sends.
    let nic = NicShare {
        dp: c.contention() && c.crosses_network(dp_groups(l, c).0),
        p2p: c.crosses_network(Group {
            size: 2,
            stride: pp_stride(l),
        }),
    };
    let ep_on_nic = c.crosses_network(inp.ctx.ep_group());
    let stages = st
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let d = dp_sync(inp, s, i == 0);
            StageSpec {
                fwd_s: s.fwd_s,
                bwd_s: s.bwd_s,
                wgrad_s: s.wgrad_s.min(s.bwd_s),
                dp_grad_s: d.grad_s,
                dp_buckets: d.buckets.min(1e6) as u32,
                param_exposed_s: d.param_exposed_s,
                optimizer_s: d.optimizer_s,
                ep_nic_s: if ep_on_nic { s.ep_bwd_s } else { 0.0 },
                first_chunk_s: less_layers(s.first_chunk_s, s, lacking(l, i, 0)),
                last_chunk_s: less_layers(s.last_chunk_s, s, lacking(l, i, l.pp - 1)),
            }
        })
        .collect();
    let link = p2p_transfer_s(inp);
    SimInput {
        schedule: l.schedule,
        microbatches: l.microbatches,
        vpp: l.vpp,
        stages,
        p2p_s: vec![link; l.pp as usize],
        p2p_blocking: !l.overlap.p2p,
        dp_overlap: l.overlap.dp_comm,
        nic,
    }
}

/// Layers the end chunk of stage `i` lacks when `i` is `end` (the first or the last
/// stage) and it holds fewer layers than the fullest stage: Megatron counts the
/// embedding and the loss as a layer of the first and last virtual stage
/// (`account_for_embedding_in_pipeline_split`, `account_for_loss_in_pipeline_split`,
/// the split [`crate::spec::layout::balanced_split`] makes and `llmplan export` writes
/// for an uneven interleaved split), so the layers the end stage lacks are missing
/// from its end chunk, not spread over its chunks. At most one chunk's share; 0 with
/// one chunk per stage.
fn lacking(l: &ResolvedLayout, i: usize, end: u32) -> f64 {
    let lps = &l.layers_per_stage;
    if l.vpp <= 1 || i != end as usize || i >= lps.len() {
        return 0.0;
    }
    let full = lps.iter().copied().max().unwrap_or(0);
    let short = full.saturating_sub(lps[i]);
    f64::from(short).min(f64::from(full) / f64::from(l.vpp))
}

/// An end chunk's pinned work `pinned` less `layers` of the stage's layers at its mean
/// layer time (its work outside the pinned parts and the exposed ZeRO traffic, which
/// stays spread over the chunks, over its layers), seconds.
fn less_layers(pinned: (f64, f64), s: &StageCost, layers: f64) -> (f64, f64) {
    if layers <= 0.0 || s.layers == 0 {
        return pinned;
    }
    let n = f64::from(s.layers);
    let per_layer = |whole: f64, zero: f64, a: f64, b: f64| (whole - zero - a - b).max(0.0) / n;
    let (f, b) = (s.first_chunk_s, s.last_chunk_s);
    (
        pinned.0 - layers * per_layer(s.fwd_s, s.zero_fb_s.0, f.0, b.0),
        pinned.1 - layers * per_layer(s.bwd_s, s.zero_fb_s.1, f.1, b.1),
    )
}

/// A scenario made ready to simulate.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Scenario title.
    pub title: String,
    /// The resolved layout (micro-batches overridden where asked).
    pub layout: ResolvedLayout,
    /// The analytic stage costs.
    pub stages: Vec<StageCost>,
    /// The simulator's input.
    pub input: SimInput,
    /// Adjustments made while resolving the layout.
    pub notes: Vec<String>,
}

/// Builds the simulator's input for the set-up layout (with `microbatches` per step
/// instead of the batch's, when given).
pub fn prepare(setup: &Setup, microbatches: Option<u32>) -> Result<Prepared> {
    let mut rl = setup.layout.clone();
    if let Some(m) = microbatches {
        if m == 0 {
            return Err(Error::invalid("microbatches", "must be at least 1"));
        }
        rl.microbatches = m;
        rl.global_batch_seqs = u64::from(m) * u64::from(rl.dp) * u64::from(rl.micro_batch);
    }
    let (stages, input) = analyse(&Setup::with_layout(setup.sc, setup.kernels, rl.clone()));
    Ok(Prepared {
        title: setup.sc.name.clone(),
        layout: rl,
        stages,
        input,
        notes: setup.notes.clone(),
    })
}

fn analyse(setup: &Setup) -> (Vec<StageCost>, SimInput) {
    let inp = setup.stage_inputs();
    let st = stages(&inp);
    let input = input_from_analytic(&inp, &st);
    (st, input)
}

/// What an uneven layer split costs against the nearest even split with fewer stages
/// (120 layers on 16 stages against 15 stages of 8), same micro-batches and schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imbalance {
    /// Layers in the model.
    pub layers: u32,
    /// Stages of the uneven split.
    pub pp: u32,
    /// The uneven split in words.
    pub split: String,
    /// Step time of the uneven split, seconds.
    pub step_s: f64,
    /// Mean bubble of the uneven split, 0-1.
    pub bubble: f64,
    /// Stages of the even alternative.
    pub pp_even: u32,
    /// Layers per stage of the even alternative.
    pub layers_per_stage_even: u32,
    /// Step time of the even alternative, seconds.
    pub even_step_s: f64,
    /// Mean bubble of the even alternative, 0-1.
    pub even_bubble: f64,
    /// Extra bubble of the uneven split, fraction of GPU time (percentage points / 100).
    pub extra_bubble: f64,
    /// Of the uneven split's bubble, the part that is steady-state imbalance (lighter
    /// stages waiting on the heaviest every micro-batch), fraction of GPU time.
    pub imbalance_idle: f64,
    /// GPU-seconds per step of one pipeline (pp x step), uneven split.
    pub gpu_s: f64,
    /// GPU-seconds per step of one pipeline, even alternative.
    pub even_gpu_s: f64,
}

/// Compares the prepared uneven split with the nearest even one: `None` when the
/// split is already even or no even split with fewer stages fits the schedule.
pub fn imbalance(setup: &Setup, prep: &Prepared, uneven: &SimResult) -> Result<Option<Imbalance>> {
    let sc = setup.sc;
    let rl = &prep.layout;
    if !rl.uneven() {
        return Ok(None);
    }
    let layers = sc.model.layers;
    let heaviest = layers.div_ceil(rl.pp);
    // The same heaviest stage on fewer GPUs when it divides; else the largest divisor.
    let pp_even = if layers.is_multiple_of(heaviest) {
        layers / heaviest
    } else {
        (1..rl.pp)
            .rev()
            .find(|d| layers.is_multiple_of(*d))
            .unwrap_or(1)
    };
    let mut alt = rl.clone();
    alt.pp = pp_even;
    alt.layers_per_stage = balanced_split(layers, pp_even);
    alt.gpus_used = u64::from(alt.tp) * u64::from(alt.cp) * u64::from(alt.dp) * u64::from(pp_even);
    let (_, input) = analyse(&Setup::with_layout(sc, setup.kernels, alt));
    let Ok(prog) = Program::compile(&input) else {
        return Ok(None);
    };
    let even = prog.simulate(false);
    let work: Vec<f64> = uneven.stages.iter().map(|s| s.compute_s).collect();
    let max = work.iter().cloned().fold(0.0, f64::max);
    let mean = work.iter().sum::<f64>() / work.len() as f64;
    let steady = if uneven.pipeline_s > 0.0 {
        (max - mean) / uneven.pipeline_s
    } else {
        0.0
    };
    Ok(Some(Imbalance {
        layers,
        pp: rl.pp,
        split: rl.split_text(),
        step_s: uneven.step_s,
        bubble: uneven.mean_bubble(),
        pp_even,
        layers_per_stage_even: layers / pp_even,
        even_step_s: even.step_s,
        even_bubble: even.mean_bubble(),
        extra_bubble: uneven.mean_bubble() - even.mean_bubble(),
        imbalance_idle: steady,
        gpu_s: uneven.step_s * f64::from(rl.pp),
        even_gpu_s: even.step_s * f64::from(pp_even),
    }))
}

/// The simulator as the estimate's pipeline model (`estimate --engine sim`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SimPipeline;

impl PipelineModel for SimPipeline {
    fn run(&self, inp: &StageInputs, stages: &[StageCost]) -> Result<PipelineRun> {
        let mut input = input_from_analytic(inp, stages);
        // The estimate prices NIC contention itself on top of the pipeline
        // (`analytic::dp_sync`): the pipeline here runs with every flow alone.
        input.nic = NicShare::default();
        let r = Program::compile(&input)?.simulate(false);
        Ok(PipelineRun {
            pipeline_s: r.pipeline_s,
            last_backward_end_s: r.stages.iter().map(|s| s.last_compute_end_s).collect(),
            in_flight: r.stages.iter().map(|s| s.peak_in_flight).collect(),
        })
    }
}
