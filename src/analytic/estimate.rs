//! One layout evaluated end to end: stages, pipeline, data-parallel sync, optimizer,
//! model FLOPs and utilisation, memory, and the run's budget.

use serde::Serialize;

use super::budget::{budget, Budget, BudgetInputs};
use super::params::{count, ParamCounts};
use super::pipeline::{busiest_stage, device_load, ideal_s, in_flight, partner, pipeline_s};
use super::reliability::{self, ReliabilityOut};
use super::setup::Setup;
use super::stage::{
    dp_sync, fragmentation_share, p2p_chain_s, stages, MemoryBreakdown, StageCost, StageInputs,
};
use crate::error::{Error, Result};
use crate::spec::layout::ResolvedLayout;
use crate::spec::training::{Recompute, Training};
use crate::spec::Scenario;
use crate::units::GIB;

mod breakdown;
mod outputs;
pub use breakdown::StepBreakdown;
use outputs::{layout_out, memory_out, stage_outs};

/// How the step time was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// The closed-form cost model.
    Analytic,
    /// A given MFU: step = model FLOPs / (GPUs x peak x MFU), the back-of-envelope path.
    Mfu,
}

/// Options for [`estimate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EstimateOptions {
    /// Skip the time model and assume this model-FLOPs utilisation (0-1].
    pub mfu: Option<f64>,
}

/// What a [`PipelineModel`] reports for one layout.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRun {
    /// Compute makespan of the pipeline (first forward to last backward), seconds.
    pub pipeline_s: f64,
    /// When each stage finishes its last backward work, seconds from the step's start.
    pub last_backward_end_s: Vec<f64>,
    /// Peak micro-batches each stage holds in flight, whole-stage micro-batches.
    pub in_flight: Vec<f64>,
}

/// A pipeline model that replaces the closed forms of [`super::pipeline`] for the
/// pipeline part of the step (time, per-stage drain, in-flight micro-batches);
/// `llmplan::sim::SimPipeline` plugs in the event simulator (`estimate --engine sim`).
pub trait PipelineModel {
    /// Times the pipeline of `stages` under the layout in `inp`.
    fn run(&self, inp: &StageInputs, stages: &[StageCost]) -> Result<PipelineRun>;
}

/// Model FLOPs of the whole run and per step.
#[derive(Debug, Clone, Serialize)]
pub struct Flops {
    /// 6 x active matmul parameters x training tokens, FLOPs (the seed's and Llama 3's
    /// convention; what `mfu` counts).
    pub model_total: f64,
    /// Attention-score FLOPs on top, PaLM convention: 6 x seq x heads x (d_qk + d_v)
    /// per layer per token (12 x layers x seq x hidden for plain MHA), FLOPs.
    pub attention_total: f64,
    /// Extra forward FLOPs that recomputation adds over the run (what `hfu` adds).
    pub recompute_total: f64,
    /// `model_total` per optimizer step, FLOPs.
    pub model_per_step: f64,
    /// Which convention each utilisation figure uses, in words.
    pub convention: &'static str,
}

/// Step time and run length.
#[derive(Debug, Clone, Serialize)]
pub struct Time {
    /// Seconds per optimizer step.
    pub step_s: f64,
    /// Optimizer steps.
    pub steps: f64,
    /// Training days (wall clock, no failures).
    pub days: f64,
    /// Critical-path breakdown (analytic engine only).
    pub breakdown: StepBreakdown,
    /// Of the step, what NIC contention adds (traffic of different parallelisms sharing
    /// a GPU's NIC at once, the shared-link model); the step without it is `step_s`
    /// minus this. Counted inside `breakdown.dp_comm_s`. Seconds.
    pub nic_contention_s: f64,
}

/// Parameter counts in the output.
#[derive(Debug, Clone, Serialize)]
pub struct ModelOut {
    /// Catalog name.
    pub name: String,
    /// All parameters.
    pub params_total: f64,
    /// Parameters one token touches (embeddings included).
    pub params_active: f64,
    /// Active parameters that are matmuls (6 x this per token = model FLOPs).
    pub params_active_matmul: f64,
    /// Breakdown.
    pub counts: ParamCounts,
}

/// The layout in the output.
#[derive(Debug, Clone, Serialize)]
pub struct LayoutOut {
    /// Tensor parallel.
    pub tp: u32,
    /// Pipeline stages.
    pub pp: u32,
    /// Data-parallel replicas.
    pub dp: u32,
    /// Expert parallel.
    pub ep: u32,
    /// Expert tensor parallel (tp unless MoE parallel folding sets it apart).
    pub etp: u32,
    /// Context parallel.
    pub cp: u32,
    /// Virtual stages per GPU.
    pub vpp: u32,
    /// Sequences per micro-batch.
    pub micro_batch: u32,
    /// Micro-batches per step.
    pub microbatches: u32,
    /// Global batch used, sequences.
    pub global_batch_seqs: u64,
    /// Schedule name.
    pub schedule: &'static str,
    /// ZeRO stage.
    pub zero: u8,
    /// Sequence parallelism.
    pub sequence_parallel: bool,
    /// Recomputation.
    pub recompute: Recompute,
    /// Layers on each stage.
    pub layers_per_stage: Vec<u32>,
}

/// Memory in the output.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryOut {
    /// Peak over stages, bytes.
    pub peak_bytes: f64,
    /// GPU memory, bytes.
    pub capacity_bytes: f64,
    /// Whether the peak fits.
    pub fits: bool,
    /// Stage with the peak (0-based).
    pub busiest_stage: usize,
    /// Breakdown of the busiest stage.
    pub breakdown: MemoryBreakdown,
}

/// Cost in the output.
#[derive(Debug, Clone, Serialize)]
pub struct CostOut {
    /// GPU-hours billed.
    pub gpu_hours: f64,
    /// US dollars.
    pub usd: f64,
    /// Price applied, $/GPU-hour.
    pub usd_per_gpu_hour: f64,
    /// GPUs billed.
    pub gpus_billed: u64,
    /// Energy cost at the pricing's $/kWh (informational unless added), US dollars.
    pub energy_usd: f64,
}

/// Energy in the output.
#[derive(Debug, Clone, Serialize)]
pub struct EnergyOut {
    /// Facility energy, MWh.
    pub mwh: f64,
}

/// One stage in the output (per micro-batch figures in seconds).
#[derive(Debug, Clone, Serialize)]
pub struct StageOut {
    /// Layers.
    pub layers: u32,
    /// Forward per micro-batch, blocking pipeline sends included, seconds.
    pub fwd_s: f64,
    /// Backward per micro-batch, blocking pipeline sends included, seconds.
    pub bwd_s: f64,
    /// Memory at peak.
    pub memory: MemoryBreakdown,
    /// Total of `memory`, bytes.
    pub memory_bytes: f64,
}

/// Everything `llmplan estimate` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Scenario title.
    pub scenario: String,
    /// How the step time was obtained.
    pub engine: Engine,
    /// GPUs the layout uses.
    pub gpus: u64,
    /// GPUs the scenario asked for.
    pub gpus_requested: u64,
    /// GPU profile name.
    pub gpu: String,
    /// Cluster profile name.
    pub cluster: String,
    /// Layout.
    pub layout: LayoutOut,
    /// Model.
    pub model: ModelOut,
    /// FLOPs.
    pub flops: Flops,
    /// Time.
    pub time: Time,
    /// Model FLOPs utilisation: `flops.model_total` / (time x GPUs x dense peak of the
    /// training precision).
    pub mfu: f64,
    /// MFU counting attention-score FLOPs too (PaLM's and Korthikanti's MFU).
    pub mfu_with_attention: f64,
    /// Hardware FLOPs utilisation: attention and recomputation counted (Narayanan's eq. 3).
    pub hfu: f64,
    /// Dense peak used for the utilisation figures, FLOP/s per GPU.
    pub peak_flops: f64,
    /// Cost.
    pub cost: CostOut,
    /// Energy.
    pub energy: EnergyOut,
    /// Memory.
    pub memory: MemoryOut,
    /// Per-stage detail.
    pub stages: Vec<StageOut>,
    /// Expected days and dollars with failures, checkpoints and restarts (`null` when
    /// turned off or when the run could not make progress; a warning says why).
    pub reliability: Option<ReliabilityOut>,
    /// Everything the user should know: adjustments made, assumptions, problems.
    pub warnings: Vec<String>,
    /// What timed the pipeline: "closed form" or "simulated".
    pub pipeline_model: &'static str,
    /// Error band from published runs of this regime (`validate::band::attach`);
    /// `null` until attached or where too few rows exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<super::uncertainty::Uncertainty>,
}

/// Estimates the set-up layout, with the run's failures and restarts.
pub fn estimate(setup: &Setup, opts: &EstimateOptions) -> Result<Estimate> {
    estimate_with(setup, opts, None)
}

/// [`estimate`] with the pipeline timed by `pipeline` instead of the closed forms.
pub fn estimate_with(
    setup: &Setup,
    opts: &EstimateOptions,
    pipeline: Option<&dyn PipelineModel>,
) -> Result<Estimate> {
    let mut est = evaluate_with(setup, opts, pipeline)?;
    // Failures are a property of the whole run, and their Monte Carlo costs ~10 ms:
    // estimated once here, not for every layout a search evaluates.
    let (rel, notes) = reliability::assess(setup.sc, &est);
    est.reliability = rel;
    est.warnings.extend(notes);
    Ok(est)
}

/// Dense peak of the training precision, FLOP/s.
pub fn precision_peak(sc: &Scenario) -> f64 {
    let p = &sc.gpu.peak_flops;
    // A GPU without FP8 tensor cores runs FP8 training at its 16-bit rate.
    p.get(sc.training.precision.dtype()).unwrap_or(p.half())
}

/// Whole-run FLOPs for a scenario's model and training.
pub fn run_flops(sc: &Scenario, counts: &ParamCounts, tokens_per_step: f64) -> Flops {
    let m = &sc.model;
    let tokens = sc.training.tokens;
    let s = sc.training.seq_len as f64;
    let attn_per_token =
        6.0 * s * m.heads as f64 * (m.qk_head_dim() + m.v_head_dim()) as f64 * m.layers as f64;
    let model_total = 6.0 * counts.active_matmul * tokens;
    let attention_total = attn_per_token * tokens;
    // A replayed forward is a third of fwd+bwd; the output layer is not recomputed.
    let recompute_total = match sc.training.recompute {
        Recompute::Full => {
            sc.training.replayed_share()
                * (2.0 * (counts.active_matmul - m.vocab as f64 * m.hidden as f64)
                    + attn_per_token / 3.0)
                * tokens
        }
        Recompute::Selective => attention_total / 3.0,
        Recompute::None => 0.0,
    };
    Flops {
        model_total,
        attention_total,
        recompute_total,
        model_per_step: 6.0 * counts.active_matmul * tokens_per_step,
        convention: "mfu: 6 x active matmul params x tokens; mfu_with_attention: + PaLM attention \
                     (6 x seq x heads x (d_qk + d_v) per layer per token, full score matrix); \
                     hfu: + recomputed forward FLOPs",
    }
}

/// Evaluates the set-up layout (no reliability model).
pub fn evaluate(setup: &Setup, opts: &EstimateOptions) -> Result<Estimate> {
    evaluate_with(setup, opts, None)
}

/// [`evaluate`] with the pipeline timed by `pipeline` instead of the closed forms.
pub fn evaluate_with(
    setup: &Setup,
    opts: &EstimateOptions,
    pipeline: Option<&dyn PipelineModel>,
) -> Result<Estimate> {
    let sc = setup.sc;
    let rl = &setup.layout;
    let mut warnings = setup.notes.clone();
    let inp = setup.stage_inputs();
    let mut st: Vec<StageCost> = stages(&inp);
    let run = match pipeline {
        Some(pm) => Some(pm.run(&inp, &st)?),
        None => None,
    };
    if let Some(r) = &run {
        apply_in_flight(&mut st, rl, &sc.training, &r.in_flight);
    }
    let timing = time_step(setup, &inp, &st, run.as_ref());

    let counts = count(&sc.model);
    let tokens_per_step = rl.global_batch_seqs as f64 * sc.training.seq_len as f64;
    let flops = run_flops(sc, &counts, tokens_per_step);
    let peak = precision_peak(sc);
    let gpus = rl.gpus_used as f64;
    let (engine, step_s) = step_time(opts, timing.analytic_step_s, &flops, gpus * peak)?;
    let steps_exact = sc.training.tokens / tokens_per_step;
    let util = |f: f64| f / steps_exact / (step_s * gpus * peak);
    let mfu = util(flops.model_total);
    let mfu_with_attention = util(flops.model_total + flops.attention_total);
    let hfu = util(flops.model_total + flops.attention_total + flops.recompute_total);
    let breakdown = match engine {
        Engine::Analytic => critical_breakdown(rl, &st, &timing),
        Engine::Mfu => StepBreakdown::default(),
    };

    let usd_per_gpu_hour = sc.pricing.usd_per_gpu_hour.unwrap_or(sc.gpu.usd_per_hour);
    let b: Budget = budget(&BudgetInputs {
        step_s,
        tokens_per_step,
        tokens: sc.training.tokens,
        gpus_used: rl.gpus_used,
        gpus_requested: sc.gpus,
        usd_per_gpu_hour,
        pricing: &sc.pricing,
        cluster: &sc.cluster,
    });
    let memory = memory_out(&st, sc.gpu.memory_bytes);
    add_warnings(
        &mut warnings,
        setup,
        &st,
        memory.busiest_stage,
        memory.peak_bytes,
        memory.capacity_bytes,
    );

    Ok(Estimate {
        scenario: sc.name.clone(),
        engine,
        gpus: rl.gpus_used,
        gpus_requested: sc.gpus,
        gpu: sc.gpu.name.clone(),
        cluster: sc.cluster.name.clone(),
        layout: layout_out(sc, rl),
        model: ModelOut {
            name: sc.model.name.clone(),
            params_total: counts.total,
            params_active: counts.active,
            params_active_matmul: counts.active_matmul,
            counts,
        },
        flops,
        time: Time {
            step_s,
            steps: b.steps,
            days: b.days,
            breakdown,
            nic_contention_s: if engine == Engine::Analytic {
                timing.end_s - timing.end_alone_s
            } else {
                0.0
            },
        },
        mfu,
        mfu_with_attention,
        hfu,
        peak_flops: peak,
        cost: CostOut {
            gpu_hours: b.gpu_hours,
            usd: b.usd,
            usd_per_gpu_hour,
            gpus_billed: b.gpus_billed,
            energy_usd: b.energy_usd,
        },
        energy: EnergyOut { mwh: b.energy_mwh },
        memory,
        stages: stage_outs(&st),
        reliability: None,
        warnings,
        uncertainty: None,
        pipeline_model: if run.is_some() {
            "simulated"
        } else {
            "closed form"
        },
    })
}

/// The step time (seconds) and where it came from: the analytic step, or under a given
/// MFU the step's model FLOPs over `cluster_peak` (all GPUs' dense peak, FLOP/s) x MFU.
/// An error for an MFU outside (0, 1] or a step that is not a positive time.
fn step_time(
    opts: &EstimateOptions,
    analytic_step_s: f64,
    flops: &Flops,
    cluster_peak: f64,
) -> Result<(Engine, f64)> {
    let (engine, step_s) = match opts.mfu {
        Some(mfu) => {
            if !(mfu > 0.0 && mfu <= 1.0) {
                return Err(Error::Usage(format!("--mfu {mfu}: must be in (0, 1]")));
            }
            (Engine::Mfu, flops.model_per_step / (cluster_peak * mfu))
        }
        None => (Engine::Analytic, analytic_step_s),
    };
    if !(step_s.is_finite() && step_s > 0.0) {
        return Err(Error::invalid(
            "layout",
            format!("step time came out as {step_s} s"),
        ));
    }
    Ok((engine, step_s))
}

/// The analytic step and its parts, seconds.
struct StepTiming {
    /// Each stage's forward per micro-batch with its blocking sends, seconds.
    fwd: Vec<f64>,
    /// Each stage's backward per micro-batch with its blocking sends, seconds.
    bwd: Vec<f64>,
    /// Pipeline makespan: first forward to last backward.
    pipe_s: f64,
    /// Of `pipe_s`, the sends the closed form puts on the fill and drain's path.
    p2p_chain_s: f64,
    /// When the last stage finishes its gradient sync.
    end_s: f64,
    /// `end_s` with every collective alone on its NIC (no contention).
    end_alone_s: f64,
    /// Optimizer update, the slowest stage's.
    optimizer_s: f64,
    /// Of `optimizer_s`, that stage's gradient clipping.
    grad_clip_s: f64,
    /// Parameter all-gather the next forward does not hide, the slowest stage's.
    param_exposed_s: f64,
    /// Compute the overlapped gradient sync slows (its SMs' share), the largest stage's.
    sync_sm_s: f64,
    /// The whole analytic step: sync end, optimizer, exposed gather, the cluster's
    /// fixed per-step overhead.
    analytic_step_s: f64,
}

/// Times the step: the pipeline (closed form, or the `run` a pipeline model made),
/// then each stage's gradient sync from its last backward, the optimizer and the
/// exposed parameter gather.
fn time_step(
    setup: &Setup,
    inp: &StageInputs,
    st: &[StageCost],
    run: Option<&PipelineRun>,
) -> StepTiming {
    let rl = &setup.layout;
    let fwd: Vec<f64> = st.iter().map(StageCost::pipeline_fwd_s).collect();
    let bwd: Vec<f64> = st.iter().map(StageCost::pipeline_bwd_s).collect();
    // The simulator plays the fill and drain's sends itself.
    let p2p_chain_s = if run.is_some() { 0.0 } else { p2p_chain_s(inp) };
    let pipe = run.map_or_else(
        || pipeline_s(rl.schedule, &fwd, &bwd, rl.microbatches, rl.vpp) + p2p_chain_s,
        |r| r.pipeline_s,
    );
    // Each stage ends its last backward when the drain reaches it (stage 0 last),
    // then syncs its gradients; the step ends when the last stage is done.
    let mut end = 0.0f64;
    let mut end_alone = 0.0f64;
    let (mut optimizer_s, mut grad_clip_s) = (0.0f64, 0.0f64);
    let (mut param_exposed, mut sync_sm) = (0.0f64, 0.0f64);
    for (i, s) in st.iter().enumerate() {
        let d = dp_sync(inp, s, i == 0);
        let last_backward = run.map_or_else(
            || pipe - drain_after_stage(&bwd, i),
            |r| r.last_backward_end_s[i],
        );
        end = end.max(last_backward + d.grad_exposed_s);
        end_alone = end_alone.max(last_backward + d.grad_exposed_s - d.contention_s);
        if d.optimizer_s > optimizer_s {
            (optimizer_s, grad_clip_s) = (d.optimizer_s, d.grad_clip_s);
        }
        param_exposed = param_exposed.max(d.param_exposed_s);
        sync_sm = sync_sm.max(d.collective_sm_s);
    }
    StepTiming {
        fwd,
        bwd,
        pipe_s: pipe,
        p2p_chain_s,
        end_s: end,
        end_alone_s: end_alone,
        optimizer_s,
        grad_clip_s,
        param_exposed_s: param_exposed,
        sync_sm_s: sync_sm,
        analytic_step_s: end + optimizer_s + param_exposed + setup.sc.cluster.step_overhead_s,
    }
}

/// The step's breakdown on the critical path, seconds: the most loaded GPU sets the
/// steady state; under DualPipe a GPU runs a pair of stages, half the micro-batches
/// each.
fn critical_breakdown(rl: &ResolvedLayout, st: &[StageCost], t: &StepTiming) -> StepBreakdown {
    let (fwd, bwd) = (&t.fwd, &t.bwd);
    let m = rl.microbatches;
    let crit = busiest_stage(rl.schedule, fwd, bwd);
    let (c, c2) = (&st[crit], &st[partner(rl.schedule, crit, st.len())]);
    let mf = m as f64 / 2.0;
    StepBreakdown {
        compute_s: mf * (c.compute_s + c2.compute_s),
        bubble_s: t.pipe_s - t.p2p_chain_s - ideal_s(rl.schedule, fwd, bwd, m),
        tp_comm_s: mf * (c.tp_comm_s + c2.tp_comm_s),
        ep_comm_s: mf * (c.ep_comm_s + c2.ep_comm_s),
        cp_comm_s: mf * (c.cp_comm_s + c2.cp_comm_s),
        p2p_s: mf * 2.0 * (c.p2p_s + c2.p2p_s) + t.p2p_chain_s,
        dp_comm_s: t.end_s - t.pipe_s + t.param_exposed_s + mf * (c.zero_s() + c2.zero_s()),
        optimizer_s: t.optimizer_s,
        grad_clip_s: t.grad_clip_s,
        offload_s: mf * (c.offload_s + c2.offload_s),
        fp8_cast_s: mf * (c.fp8_cast_s + c2.fp8_cast_s),
        moe_permute_s: mf * (c.moe_permute_s + c2.moe_permute_s),
        loss_s: mf * (c.loss_s + c2.loss_s),
        collective_sm_s: mf * (c.collective_sm_s + c2.collective_sm_s) + t.sync_sm_s,
        zero3_edges_s: mf * (c.zero3_fill_s + c2.zero3_fill_s)
            + if rl.zero >= 3 {
                t.end_s - t.pipe_s
            } else {
                0.0
            },
    }
}

/// Replaces the closed-form in-flight count in each stage's activation memory with
/// `held`. The whole activation term is scaled, including the per-layer working
/// buffer and the logits, which do not grow with in-flight micro-batches: exact where
/// the counts agree (GPipe, 1F1B, ZB-H1, interleaved with m > p), approximate otherwise.
fn apply_in_flight(st: &mut [StageCost], rl: &ResolvedLayout, tr: &Training, held: &[f64]) {
    for (i, s) in st.iter_mut().enumerate() {
        let closed = in_flight(rl.schedule, i as u32, rl.pp, rl.microbatches, rl.vpp);
        let Some(&h) = held.get(i) else { continue };
        if closed > 0.0 && (h - closed).abs() > 1e-12 {
            let old = s.memory.activations;
            s.memory.activations *= h / closed;
            s.memory.host_offloaded *= h / closed;
            let frag = fragmentation_share(tr) * (s.memory.activations - old);
            s.memory.other += frag;
            s.memory.fragmentation += frag;
        }
    }
}

/// Time from stage `i`'s last backward to the end of the pipeline: the backwards
/// of the stages before it still have to run.
fn drain_after_stage(bwd: &[f64], i: usize) -> f64 {
    bwd[..i].iter().sum()
}

fn add_warnings(
    w: &mut Vec<String>,
    setup: &Setup,
    st: &[StageCost],
    busiest: usize,
    peak: f64,
    capacity: f64,
) {
    let (sc, rl) = (setup.sc, &setup.layout);
    if rl.uneven() {
        // Per GPU: under DualPipe a GPU runs a pair of stages.
        let (f, b): (Vec<f64>, Vec<f64>) = st
            .iter()
            .map(|s| (s.pipeline_fwd_s(), s.pipeline_bwd_s()))
            .unzip();
        let work: Vec<f64> = (0..st.len())
            .map(|i| device_load(rl.schedule, &f, &b, i))
            .collect();
        let max = work.iter().cloned().fold(0.0, f64::max);
        let mean = work.iter().sum::<f64>() / work.len() as f64;
        w.push(format!(
            "{} layers over pp {} is uneven: {}; the most loaded GPU does {:.1}% more work than the average, \
             which the steady state pays on every micro-batch",
            sc.model.layers,
            rl.pp,
            rl.split_text(),
            (max / mean - 1.0) * 100.0
        ));
    }
    w.push(setup.kernels.describe());
    w.extend(setup.stage_inputs().comm.placement_note(rl));
    if sc.model.moe.is_some() {
        w.push("expert load is assumed balanced (tokens spread evenly over experts)".to_string());
    }
    w.extend(super::params::vision_note(&sc.model));
    w.extend(super::layer::window_note(&sc.model, &sc.training, rl.cp));
    if sc.training.optimizer_offload {
        w.push(if sc.cluster.host_memory_bw.is_some() {
            "optimizer states in host memory (training.optimizer_offload): the optimizer step runs on \
             the host, its memory streamed at cluster.host_memory_bw's datasheet rate and the gradient \
             and parameter copies at cluster.host_link_bw"
                .to_string()
        } else {
            "optimizer states in host memory (training.optimizer_offload): the cluster gives no \
             host_memory_bw, so the CPU optimizer step is not modelled; the step counts the GPU's \
             optimizer time, so it is a lower bound"
                .to_string()
        });
    }
    if peak > capacity {
        let b = &st[busiest].memory;
        let (what, amount) = [
            ("activations", b.activations),
            ("weights", b.weights),
            ("gradients", b.gradients),
            ("optimizer states", b.optimizer),
        ]
        .into_iter()
        .fold(("", 0.0), |acc, x| if x.1 > acc.1 { x } else { acc });
        let fix = match what {
            "activations" if sc.training.recompute != Recompute::Full => {
                "try training.recompute=full, a smaller micro_batch, or more pp/tp"
            }
            "activations" => "try a smaller micro_batch, more tp or cp, or more pp",
            "optimizer states" if rl.zero == 0 => "try layout.zero=1 (distributed optimizer)",
            _ => "try more tp, pp or ep, or a higher ZeRO stage",
        };
        w.push(format!(
            "does not fit: stage {busiest} needs {:.1} GiB of {:.1} GiB; largest part is {what} at {:.1} GiB; {fix}",
            peak / GIB,
            capacity / GIB,
            amount / GIB
        ));
    }
}
