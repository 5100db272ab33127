//! Discrete-event pipeline simulator.
//!
//! Each pipeline rank is a resource with a compute stream, a send stream and a
//! data-parallel stream (receive time is accounted per rank too; transfers queue on
//! the sender's stream, in its program order, which keeps the model monotone: a
//! slower operation never shortens the step). A schedule ([`Schedule`]) gives every rank its ordered list of
//! operations (forward, backward, and for the zero-bubble schedules input-gradient and
//! weight-gradient parts; DualPipe also fuses a forward with a backward); an event
//! queue ordered by time, ties broken by operation id, runs each operation as soon as
//! its rank is free and its inputs have arrived over the p2p links. After the last
//! backward each rank reduces its gradients in buckets on the data-parallel stream
//! (overlapped with the backward still running when `dp_overlap`), all ranks meet
//! (gradient-norm clipping needs every stage) and run the optimizer.
//!
//! Where the data-parallel stream's traffic crosses the network it shares each GPU's
//! NIC with what else is on it at the same time ([`NicShare`]): the expert all-to-all
//! inside backward operations and the p2p sends. The step is run once with every flow
//! alone to find what overlaps; each overlap is priced with the shared-link model
//! ([`crate::analytic::comm::shared_link_s`], the analytic model's): the operation or
//! send is lengthened by its delay and the overlapped gradient buckets by theirs; the
//! step is then run again with those durations (one pass, to first order: overlaps
//! that the delays themselves create or remove are not priced again).
//!
//! On uniform stages with no communication the simulator reproduces the closed forms
//! of [`crate::analytic::pipeline`]: GPipe and 1F1B `(m + p - 1)(t_f + t_b)`,
//! interleaved `(m + (p - 1)/v)(t_f + t_b)`, ZB-H1 `m(t_F + t_B + t_W) + (p - 1)(t_F +
//! t_B - t_W)` (for `m >= p` and `t_W <= t_F`). On uneven stages the closed forms are
//! approximations (they charge every stage's fill and drain and the slowest stage's
//! steady state on top of each other); the simulator is the reference there.
//!
//! The inputs ([`SimInput`]) are plain per-stage times, so the simulator does not
//! depend on YAML; [`build`] derives them from the analytic model.

mod bounds;
pub mod build;
mod engine;
mod schedule;
pub mod stochastic;
pub mod trace;

use serde::Serialize;

pub use bounds::{check as check_passes, check_timeline, passes, MAX_PASSES, MAX_TIMELINE_PASSES};
pub use build::{prepare, Prepared, SimPipeline};
pub use engine::Program;
pub use stochastic::{monte_carlo, Jitter, MonteCarlo, Straggler};

use crate::error::Result;
use crate::spec::layout::Schedule;

/// One model pipeline stage as the simulator sees it: per-micro-batch times of the
/// whole stage (all of its virtual chunks together), seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSpec {
    /// Forward of one micro-batch, compute plus exposed tensor/expert/context-parallel
    /// communication, p2p excluded, seconds.
    pub fwd_s: f64,
    /// Full backward of one micro-batch (input and weight gradients, recomputation
    /// included), p2p excluded, seconds.
    pub bwd_s: f64,
    /// The weight-gradient part of `bwd_s`, seconds: what ZB-H1 and DualPipe split off
    /// and defer. Must not exceed `bwd_s`.
    pub wgrad_s: f64,
    /// Data-parallel gradient reduction of the stage's parameters (all-reduce, or
    /// reduce-scatter with a sharded optimizer), seconds on the data-parallel stream.
    pub dp_grad_s: f64,
    /// Gradient buckets the reduction is split into (launched as the last backward
    /// produces them), count, at least 1.
    pub dp_buckets: u32,
    /// Parameter all-gather after the optimizer that the next step's forward does not
    /// hide, seconds.
    pub param_exposed_s: f64,
    /// Optimizer update, seconds.
    pub optimizer_s: f64,
    /// Expert all-to-all of one micro-batch's backward that crosses the network on each
    /// GPU's NIC, with the NIC to itself, seconds (part of `bwd_s`); 0 where the expert
    /// group stays inside an NVLink domain. Shares the NIC with the data-parallel
    /// stream when [`SimInput::nic`] says that stream is on it.
    pub ep_nic_s: f64,
    /// Of `fwd_s` and `bwd_s`, the work of the stage's first model chunk only (the
    /// embedding), seconds (forward, backward): under the interleaved schedule it runs
    /// in that chunk, not spread over the stage's virtual stages. Negative where that
    /// chunk lacks layers the stage's other chunks hold (less the embedding): the rest,
    /// `fwd_s - first - last`, is then the fuller chunks' even share times the chunks.
    pub first_chunk_s: (f64, f64),
    /// Of `fwd_s` and `bwd_s`, the work of the stage's last model chunk only (the output
    /// layer, loss and MTP modules), seconds (forward, backward); negative as
    /// `first_chunk_s` where that chunk lacks layers.
    pub last_chunk_s: (f64, f64),
}

impl StageSpec {
    /// A stage with forward `fwd_s` and backward `bwd_s` seconds, the backward split
    /// evenly into input and weight gradients, and no data-parallel work.
    pub fn compute_only(fwd_s: f64, bwd_s: f64) -> Self {
        StageSpec {
            fwd_s,
            bwd_s,
            wgrad_s: bwd_s / 2.0,
            dp_grad_s: 0.0,
            dp_buckets: 1,
            param_exposed_s: 0.0,
            optimizer_s: 0.0,
            ep_nic_s: 0.0,
            first_chunk_s: (0.0, 0.0),
            last_chunk_s: (0.0, 0.0),
        }
    }
}

/// Which of a rank's traffic crosses the network on its GPUs' NICs, so that it shares
/// them with the data-parallel stream (the shared-link model,
/// [`crate::analytic::comm::shared_link_s`]). The default puts nothing on a shared NIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct NicShare {
    /// The data-parallel stream's gradient reduction crosses the network (its group
    /// spans NVLink domains) and the cluster has NIC contention on; without it nothing
    /// is shared.
    pub dp: bool,
    /// The p2p sends cross the network (consecutive stages in different NVLink domains).
    pub p2p: bool,
}

/// Everything one simulated step needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimInput {
    /// Pipeline schedule.
    pub schedule: Schedule,
    /// Micro-batches per step, count.
    pub microbatches: u32,
    /// Virtual stages (model chunks) per rank, count; above 1 only for interleaved.
    pub vpp: u32,
    /// The model's pipeline stages in model order (stage 0 holds the embedding). For
    /// DualPipe rank `r` runs stage `r` in one direction and stage `p - 1 - r` in the
    /// other.
    pub stages: Vec<StageSpec>,
    /// Point-to-point transfer of one micro-batch's activations (or their gradients)
    /// over the link between rank `i` and rank `(i + 1) mod p`, seconds, per link.
    /// Empty means no communication.
    pub p2p_s: Vec<f64>,
    /// Whether a send holds the sender's compute stream until it completes (Megatron
    /// without p2p overlap); otherwise sends run on the send stream beside compute.
    pub p2p_blocking: bool,
    /// Whether gradient buckets are reduced while the last backward still runs.
    pub dp_overlap: bool,
    /// Traffic that shares each rank's NIC with the data-parallel stream.
    pub nic: NicShare,
}

impl SimInput {
    /// `p` identical stages with forward `fwd_s` and backward `bwd_s` seconds, no
    /// communication: the case the closed forms describe exactly.
    pub fn uniform(schedule: Schedule, p: u32, m: u32, v: u32, fwd_s: f64, bwd_s: f64) -> Self {
        SimInput {
            schedule,
            microbatches: m,
            vpp: v,
            stages: vec![StageSpec::compute_only(fwd_s, bwd_s); p as usize],
            p2p_s: Vec::new(),
            p2p_blocking: false,
            dp_overlap: true,
            nic: NicShare::default(),
        }
    }

    /// Pipeline ranks, count.
    pub fn pp(&self) -> u32 {
        self.stages.len() as u32
    }

    /// Lower bound on the compute makespan from data dependencies alone: the longest
    /// forward-then-backward chain of one micro-batch through every stage, with its
    /// p2p hops and input-gradient (not weight-gradient) backward parts, seconds.
    pub fn critical_path_s(&self) -> f64 {
        let p = self.stages.len();
        if p == 0 {
            return 0.0;
        }
        let split = matches!(self.schedule, Schedule::ZbH1 | Schedule::DualPipe);
        let chain: f64 = self
            .stages
            .iter()
            .map(|s| s.fwd_s + if split { s.bwd_s - s.wgrad_s } else { s.bwd_s })
            .sum();
        let hops = |links: usize| -> f64 {
            // A single rank passes chunks to itself without a transfer.
            if self.p2p_s.is_empty() || p == 1 {
                0.0
            } else {
                (0..links).map(|i| self.p2p_s[i % p]).sum::<f64>()
            }
        };
        // The path visits p x v chunks (p for DualPipe), crossing a link between each.
        let v = if self.schedule == Schedule::Interleaved {
            self.vpp.max(1) as usize
        } else {
            1
        };
        let links = (p * v).saturating_sub(1);
        let tail = if split {
            // The last weight-gradient part of the first stage still has to run.
            self.stages[0].wgrad_s / v as f64
        } else {
            0.0
        };
        chain + 2.0 * hops(links) + tail
    }
}

/// Which stream of a rank a timeline span occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// The compute stream (kernels of forward and backward chunks, optimizer).
    Compute,
    /// Outgoing p2p transfers.
    Send,
    /// Data-parallel gradient reduction and parameter gathering.
    DataParallel,
}

/// What a timeline span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// Forward of one micro-batch through one chunk.
    Forward,
    /// Full backward (input and weight gradients).
    Backward,
    /// Input-gradient part of a split backward (ZB-H1, DualPipe).
    InputGrad,
    /// Weight-gradient part of a split backward.
    WeightGrad,
    /// DualPipe's overlapped forward of one micro-batch and backward of another.
    ForwardBackward,
    /// A p2p transfer to the neighbouring rank.
    Send,
    /// Gradient reduction of one bucket.
    GradReduce,
    /// Optimizer update.
    Optimizer,
    /// Exposed parameter all-gather after the optimizer.
    ParamGather,
}

impl SpanKind {
    /// Short label for charts and traces.
    pub fn label(self) -> &'static str {
        match self {
            SpanKind::Forward => "forward",
            SpanKind::Backward => "backward",
            SpanKind::InputGrad => "backward (input grad)",
            SpanKind::WeightGrad => "weight grad",
            SpanKind::ForwardBackward => "forward+backward",
            SpanKind::Send => "p2p send",
            SpanKind::GradReduce => "dp grad reduce",
            SpanKind::Optimizer => "optimizer",
            SpanKind::ParamGather => "dp param gather",
        }
    }
}

/// One interval of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Span {
    /// Pipeline rank, 0-based.
    pub rank: u32,
    /// Stream.
    pub lane: Lane,
    /// What ran.
    pub kind: SpanKind,
    /// Micro-batch, 0-based (the forward's for a fused forward+backward; 0 where none).
    pub mb: u32,
    /// Model chunk on the rank (virtual stage index for interleaved, direction for
    /// DualPipe), 0-based.
    pub chunk: u32,
    /// Start, seconds from the step's start.
    pub start_s: f64,
    /// End, seconds from the step's start.
    pub end_s: f64,
}

/// Per-rank results of one simulated step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageResult {
    /// Compute-stream busy time (forward, backward, weight-gradient work), seconds.
    pub compute_s: f64,
    /// Idle fraction of the compute stream over the pipeline phase (0 to the last
    /// compute operation of any rank), 0-1.
    pub bubble: f64,
    /// Compute-stream utilisation over the whole step (optimizer included), 0-1.
    pub util_compute: f64,
    /// Send-stream utilisation over the step, 0-1.
    pub util_send: f64,
    /// Receive-stream utilisation over the step, 0-1.
    pub util_recv: f64,
    /// Data-parallel stream utilisation over the step, 0-1.
    pub util_dp: f64,
    /// Peak activations held for a pending input-gradient backward, in whole-stage
    /// micro-batches (an interleaved chunk counts 1/v; a DualPipe chunk, one stage,
    /// counts 1).
    pub peak_in_flight: f64,
    /// Peak micro-batches whose weight-gradient part has not run yet (inputs of the
    /// weight GEMMs are still held), same units; equals `peak_in_flight` for schedules
    /// that do not split the backward.
    pub peak_pending_wgrad: f64,
    /// End of the rank's last compute operation, seconds from the step's start.
    pub last_compute_end_s: f64,
    /// End of the rank's gradient reduction, seconds.
    pub dp_end_s: f64,
    /// End of the rank's optimizer step (and exposed parameter gather), seconds.
    pub end_s: f64,
}

/// The result of simulating one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimResult {
    /// Schedule simulated.
    pub schedule: Schedule,
    /// Pipeline ranks, count.
    pub pp: u32,
    /// Micro-batches, count.
    pub microbatches: u32,
    /// Virtual stages per rank, count.
    pub vpp: u32,
    /// Step time: pipeline, gradient sync, optimizer, seconds.
    pub step_s: f64,
    /// Compute makespan: last compute operation of any rank, seconds.
    pub pipeline_s: f64,
    /// Ideal pipeline time with no bubble: the busiest rank's compute, seconds.
    pub ideal_s: f64,
    /// The analytic closed form for the same stage times and pipeline sends, as
    /// `estimate` prices them (data-parallel sync and optimizer excluded), seconds, for
    /// comparison.
    pub closed_form_s: f64,
    /// Per rank.
    pub stages: Vec<StageResult>,
    /// Events processed (operation completions and transfers), count.
    pub events: u64,
    /// Every span, sorted by rank, lane, start.
    pub timeline: Vec<Span>,
}

impl SimResult {
    /// Mean bubble over ranks, 0-1.
    pub fn mean_bubble(&self) -> f64 {
        if self.stages.is_empty() {
            return 0.0;
        }
        self.stages.iter().map(|s| s.bubble).sum::<f64>() / self.stages.len() as f64
    }
}

/// Simulates one step with the stage times as given (no jitter) and records the
/// timeline.
///
/// ```
/// use llmplan::sim::{simulate, SimInput};
/// use llmplan::spec::layout::Schedule;
/// let r = simulate(&SimInput::uniform(Schedule::OneFOneB, 4, 8, 1, 1.0, 2.0)).unwrap();
/// assert!((r.step_s - 33.0).abs() < 1e-9); // (m + p - 1)(t_f + t_b)
/// assert_eq!(r.stages[0].peak_in_flight, 4.0); // min(p - i, m)
/// ```
pub fn simulate(input: &SimInput) -> Result<SimResult> {
    let prog = Program::compile(input)?;
    Ok(prog.simulate(true))
}
