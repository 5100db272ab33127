//! The event engine: a schedule compiled into flat arrays once, then run as often as
//! needed (Monte Carlo reruns it with other durations) without allocating per event.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::schedule::{OpKind, Shape, Step};
use super::{Lane, SimResult, Span, SpanKind, StageResult};
use crate::error::{Error, Result};
use crate::spec::layout::Schedule;

mod compile;
mod nic;

const NONE: u32 = u32::MAX;

/// Where an operation's output goes: the operation that consumes it and the p2p
/// transfer on the way (`link_s < 0`: same rank, no transfer).
#[derive(Debug, Clone, Copy)]
struct Succ {
    target: u32,
    link_s: f64,
}

const NO_SUCC: Succ = Succ {
    target: NONE,
    link_s: -1.0,
};

/// A schedule compiled for one [`SimInput`]: every rank's operations with their
/// dependencies and durations, ready to run.
#[derive(Debug, Clone)]
pub struct Program {
    schedule: Schedule,
    shape: Shape,
    /// Operations grouped by rank, each rank's in its order.
    steps: Vec<Step>,
    rank_of: Vec<u32>,
    /// Offsets of each rank's operations in `steps` (length p + 1).
    rank_start: Vec<u32>,
    succ: Vec<[Succ; 2]>,
    ndeps: Vec<u8>,
    /// Duration of each operation with no jitter, seconds.
    base: Vec<f64>,
    /// Per rank and chunk: the operation that finishes the chunk's weight gradients,
    /// and the seconds of gradient reduction that chunk then starts.
    last_wgrad: Vec<(u32, f64)>,
    buckets: Vec<u32>,
    param_exposed: Vec<f64>,
    optimizer: Vec<f64>,
    p2p_blocking: bool,
    dp_overlap: bool,
    /// Per operation: its expert all-to-all on the NIC with the NIC alone, seconds
    /// (empty when no operation's shares the NIC with the data-parallel stream).
    ep_nic: Vec<f64>,
    /// The p2p sends share each rank's NIC with its data-parallel stream.
    nic_p2p: bool,
    /// Offsets of each rank's gradient buckets (chunk x bucket) in one flat array
    /// (length p + 1).
    bucket_off: Vec<u32>,
    peak_in_flight: Vec<f64>,
    peak_pending_w: Vec<f64>,
    closed_form_s: f64,
}

/// Per-run mutable state, reused across runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Workspace {
    pending: Vec<u8>,
    ready: Vec<f64>,
    start: Vec<f64>,
    end: Vec<f64>,
    next: Vec<u32>,
    free: Vec<f64>,
    running: Vec<bool>,
    send_free: Vec<f64>,
    send_busy: Vec<f64>,
    recv_busy: Vec<f64>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    pub events: u64,
    /// Whether the NIC's shared-link delays below are priced and apply to this run.
    priced: bool,
    /// Per operation, each send's (start, end) in the last run, seconds (NIC sharing
    /// with p2p only).
    send_win: Vec<[(f64, f64); 2]>,
    /// Per operation, each send's extra seconds from sharing the NIC.
    link_extra: Vec<[f64; 2]>,
    /// Durations with the shared NIC's delays, seconds, one per operation.
    dur2: Vec<f64>,
    /// Per gradient bucket ([`Program::bucket_off`]), its extra seconds from sharing
    /// the NIC.
    dp_extra: Vec<f64>,
    /// Scratch: one rank's gradient buckets (ready or start, seconds, end or seconds, slot).
    bk: Vec<(f64, f64, u32)>,
}

/// Timing of one run after the data-parallel sync and the optimizer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StepTimes {
    pub step_s: f64,
}

impl Program {
    /// Operations, count.
    pub fn ops(&self) -> usize {
        self.steps.len()
    }

    /// Pipeline ranks, count.
    pub fn pp(&self) -> usize {
        self.shape.p as usize
    }

    /// Rank of operation `i`.
    pub(crate) fn rank(&self, i: usize) -> u32 {
        self.rank_of[i]
    }

    /// Durations with no jitter, seconds, one per operation.
    pub(crate) fn base(&self) -> &[f64] {
        &self.base
    }

    /// Peak in-flight micro-batches per rank (see [`StageResult::peak_in_flight`]).
    pub fn peak_in_flight(&self) -> &[f64] {
        &self.peak_in_flight
    }

    /// A workspace sized for this program.
    pub(crate) fn workspace(&self) -> Workspace {
        let n = self.steps.len();
        let p = self.pp();
        Workspace {
            pending: vec![0; n],
            ready: vec![0.0; n],
            start: vec![0.0; n],
            end: vec![0.0; n],
            next: vec![0; p],
            free: vec![0.0; p],
            running: vec![false; p],
            send_free: vec![0.0; p],
            send_busy: vec![0.0; p],
            recv_busy: vec![0.0; p],
            heap: BinaryHeap::with_capacity(p + 1),
            events: 0,
            priced: false,
            send_win: vec![[(0.0, 0.0); 2]; if self.nic_p2p { n } else { 0 }],
            link_extra: vec![[0.0; 2]; if self.nic_p2p { n } else { 0 }],
            dur2: vec![0.0; if self.shares_nic() { n } else { 0 }],
            dp_extra: vec![
                0.0;
                if self.shares_nic() {
                    *self.bucket_off.last().unwrap_or(&0) as usize
                } else {
                    0
                }
            ],
            bk: Vec::new(),
        }
    }

    /// Runs the compute and p2p part of one step with durations `dur` (one per
    /// operation, seconds), recording send spans into `rec` when given. Returns the
    /// compute makespan.
    pub(crate) fn run(
        &self,
        ws: &mut Workspace,
        dur: &[f64],
        mut rec: Option<&mut Vec<Span>>,
    ) -> Result<f64> {
        debug_assert_eq!(dur.len(), self.steps.len());
        let p = self.pp();
        ws.pending.copy_from_slice(&self.ndeps);
        ws.ready.fill(0.0);
        ws.next.copy_from_slice(&self.rank_start[..p]);
        ws.free.fill(0.0);
        ws.running.fill(false);
        ws.send_free.fill(0.0);
        ws.send_busy.fill(0.0);
        ws.recv_busy.fill(0.0);
        ws.heap.clear();
        ws.events = 0;
        if self.nic_p2p {
            ws.send_win.fill([(0.0, 0.0); 2]);
        }
        for r in 0..p {
            self.try_start(ws, dur, r);
        }
        let mut makespan = 0.0f64;
        while let Some(Reverse((bits, o))) = ws.heap.pop() {
            let t = f64::from_bits(bits);
            let o = o as usize;
            let r = self.rank_of[o] as usize;
            ws.events += 1;
            ws.end[o] = t;
            ws.running[r] = false;
            ws.next[r] += 1;
            ws.free[r] = t;
            makespan = makespan.max(t);
            let arrival = self.transfer(ws, o, r, t, rec.as_deref_mut());
            for (k, s) in self.succ[o].iter().enumerate() {
                if s.target == NONE {
                    continue;
                }
                let tg = s.target as usize;
                ws.ready[tg] = ws.ready[tg].max(arrival[k]);
                ws.pending[tg] -= 1;
                if ws.pending[tg] == 0 {
                    self.try_start(ws, dur, self.rank_of[tg] as usize);
                }
            }
            self.try_start(ws, dur, r);
        }
        for r in 0..p {
            if ws.next[r] != self.rank_start[r + 1] {
                let s = &self.steps[ws.next[r] as usize];
                return Err(Error::invalid(
                    "layout.schedule",
                    format!(
                        "the {} order deadlocks: rank {r} waits forever at {:?} of micro-batch {}",
                        self.schedule.name(),
                        s.kind,
                        s.mb
                    ),
                ));
            }
        }
        Ok(makespan)
    }

    /// Reserves the transfers of operation `o` (rank `r`, done at `t`) and returns when
    /// each of its two outputs arrives, seconds. A blocking send holds this rank's
    /// stream, which decides when its next operation may start. With contention priced
    /// ([`Workspace::priced`]) each send takes its extra seconds too.
    fn transfer(
        &self,
        ws: &mut Workspace,
        o: usize,
        r: usize,
        t: f64,
        mut rec: Option<&mut Vec<Span>>,
    ) -> [f64; 2] {
        let mut arrival = [t; 2];
        let mut cursor = t;
        for (k, s) in self.succ[o].iter().enumerate() {
            if s.target == NONE || s.link_s < 0.0 {
                continue;
            }
            let dst = self.rank_of[s.target as usize] as usize;
            let ready = if self.p2p_blocking { cursor } else { t };
            let link_s = if ws.priced && self.nic_p2p {
                s.link_s + ws.link_extra[o][k]
            } else {
                s.link_s
            };
            // Transfers queue on the sender's stream only, in its program order;
            // arrivals from two neighbours use two links and may overlap. Queuing on
            // the receiver too would order transfers by completion time, and then a
            // slower operation can reorder them and shorten the step (a Graham
            // anomaly) where the real runtime posts its receives in program order.
            let start = ready.max(ws.send_free[r]);
            let end = start + link_s;
            ws.send_free[r] = end;
            ws.send_busy[r] += link_s;
            ws.recv_busy[dst] += link_s;
            ws.events += 1;
            if self.nic_p2p {
                ws.send_win[o][k] = (start, end);
            }
            if self.p2p_blocking {
                cursor = end;
                ws.free[r] = end;
            }
            arrival[k] = end;
            if let Some(rec) = rec.as_deref_mut() {
                if link_s > 0.0 {
                    let st = &self.steps[o];
                    let (mb, pos) = if k == 1 && st.kind == OpKind::FB {
                        (st.mb2, st.pos2)
                    } else {
                        (st.mb, st.pos)
                    };
                    rec.push(Span {
                        rank: r as u32,
                        lane: Lane::Send,
                        kind: SpanKind::Send,
                        mb,
                        chunk: self.shape.chunk(pos),
                        start_s: start,
                        end_s: end,
                    });
                }
            }
        }
        arrival
    }

    #[inline]
    fn try_start(&self, ws: &mut Workspace, dur: &[f64], r: usize) {
        if ws.running[r] || ws.next[r] == self.rank_start[r + 1] {
            return;
        }
        let o = ws.next[r] as usize;
        if ws.pending[o] > 0 {
            return;
        }
        let start = ws.free[r].max(ws.ready[o]);
        ws.start[o] = start;
        ws.running[r] = true;
        ws.heap
            .push(Reverse(((start + dur[o]).to_bits(), o as u32)));
    }

    /// Gradient sync and optimizer after a run; fills `rec` with their spans and
    /// `out` with per-rank (dp end, step end) when given.
    pub(crate) fn finish(
        &self,
        ws: &Workspace,
        pipeline_s: f64,
        mut rec: Option<&mut Vec<Span>>,
        mut out: Option<&mut Vec<(f64, f64, f64, f64)>>,
    ) -> StepTimes {
        let p = self.pp();
        let mut dp_end = vec![0.0f64; p];
        let mut dp_busy = vec![0.0f64; p];
        let mut last_end = vec![0.0f64; p];
        let mut buckets: Vec<(f64, f64, u32)> = Vec::new();
        for r in 0..p {
            last_end[r] = self.last_end(ws, r);
            self.buckets_of(ws, r, last_end[r], &mut buckets);
            let nb = self.buckets[r].max(1);
            let mut free = 0.0f64;
            for &(ready, d, slot) in &buckets {
                let st = ready.max(free);
                free = st + d;
                dp_busy[r] += d;
                if let Some(rec) = rec.as_deref_mut() {
                    rec.push(Span {
                        rank: r as u32,
                        lane: Lane::DataParallel,
                        kind: SpanKind::GradReduce,
                        mb: 0,
                        chunk: slot / nb,
                        start_s: st,
                        end_s: free,
                    });
                }
            }
            dp_end[r] = free.max(last_end[r]);
        }
        // Gradient clipping needs the norm over every stage: the optimizer starts when
        // the last rank's gradients are reduced.
        let barrier = dp_end.iter().cloned().fold(pipeline_s, f64::max);
        let mut step = barrier;
        for r in 0..p {
            let opt_end = barrier + self.optimizer[r];
            let end = opt_end + self.param_exposed[r];
            step = step.max(end);
            if let Some(rec) = rec.as_deref_mut() {
                if self.optimizer[r] > 0.0 {
                    rec.push(Span {
                        rank: r as u32,
                        lane: Lane::Compute,
                        kind: SpanKind::Optimizer,
                        mb: 0,
                        chunk: 0,
                        start_s: barrier,
                        end_s: opt_end,
                    });
                }
                if self.param_exposed[r] > 0.0 {
                    rec.push(Span {
                        rank: r as u32,
                        lane: Lane::DataParallel,
                        kind: SpanKind::ParamGather,
                        mb: 0,
                        chunk: 0,
                        start_s: opt_end,
                        end_s: end,
                    });
                }
            }
            if let Some(out) = out.as_deref_mut() {
                out.push((
                    last_end[r],
                    dp_end[r],
                    end,
                    dp_busy[r] + self.param_exposed[r],
                ));
            }
        }
        StepTimes { step_s: step }
    }

    /// End of rank `r`'s last operation in the last run, seconds.
    fn last_end(&self, ws: &Workspace, r: usize) -> f64 {
        let last = self.rank_start[r + 1] as usize;
        if last > self.rank_start[r] as usize {
            ws.end[last - 1]
        } else {
            0.0
        }
    }

    /// Rank `r`'s gradient buckets in the order its data-parallel stream takes them:
    /// (ready, seconds, slot = chunk x buckets + bucket), each chunk's launched as its
    /// last weight-gradient operation produces them (or at `last_end` without
    /// overlap), with the shared NIC's extra seconds when priced.
    fn buckets_of(&self, ws: &Workspace, r: usize, last_end: f64, out: &mut Vec<(f64, f64, u32)>) {
        out.clear();
        let chunks = self.shape.chunks() as usize;
        let nb = self.buckets[r];
        let off = self.bucket_off[r] as usize;
        for c in 0..chunks {
            let (op, grad_s) = self.last_wgrad[r * chunks + c];
            if op == NONE || grad_s <= 0.0 {
                continue;
            }
            let (s, e) = (ws.start[op as usize], ws.end[op as usize]);
            for j in 0..nb {
                let ready = if self.dp_overlap {
                    s + (e - s) * f64::from(j + 1) / f64::from(nb)
                } else {
                    last_end
                };
                let slot = c as u32 * nb + j;
                let extra = if ws.priced {
                    ws.dp_extra[off + slot as usize]
                } else {
                    0.0
                };
                out.push((ready, grad_s / f64::from(nb) + extra, slot));
            }
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
    }

    /// Runs one step with the base durations.
    pub(crate) fn step_times(&self, ws: &mut Workspace, dur: &[f64]) -> Result<StepTimes> {
        let pipe = self.run_step(ws, dur, None)?;
        Ok(self.finish(ws, pipe, None, None))
    }

    /// Simulates one step with the base durations; `timeline` records every span.
    pub fn simulate(&self, timeline: bool) -> SimResult {
        let mut ws = self.workspace();
        let mut spans = Vec::new();
        let pipe = self
            .run_step(&mut ws, &self.base, timeline.then_some(&mut spans))
            .expect("compiled schedules do not deadlock");
        let mut per_rank = Vec::with_capacity(self.pp());
        let t = self.finish(
            &ws,
            pipe,
            timeline.then_some(&mut spans),
            Some(&mut per_rank),
        );
        let p = self.pp();
        let mut compute = vec![0.0f64; p];
        for (i, d) in self.base.iter().enumerate() {
            compute[self.rank_of[i] as usize] += d;
        }
        if timeline {
            for (i, s) in self.steps.iter().enumerate() {
                let (kind, mb, pos) = match s.kind {
                    OpKind::F => (SpanKind::Forward, s.mb, s.pos),
                    OpKind::B => (SpanKind::Backward, s.mb, s.pos),
                    OpKind::BInput => (SpanKind::InputGrad, s.mb, s.pos),
                    OpKind::W => (SpanKind::WeightGrad, s.mb, s.pos),
                    OpKind::FB => (SpanKind::ForwardBackward, s.mb, s.pos),
                };
                spans.push(Span {
                    rank: self.rank_of[i],
                    lane: Lane::Compute,
                    kind,
                    mb,
                    chunk: self.shape.chunk(pos),
                    start_s: ws.start[i],
                    end_s: ws.end[i],
                });
            }
            spans.sort_by(|a, b| {
                (a.rank, a.lane)
                    .cmp(&(b.rank, b.lane))
                    .then(a.start_s.total_cmp(&b.start_s))
                    .then(a.end_s.total_cmp(&b.end_s))
            });
        }
        let step = t.step_s;
        let frac = |x: f64, of: f64| if of > 0.0 { x / of } else { 0.0 };
        let stages = (0..p)
            .map(|r| {
                let (last_end, dp_end, end, dp_busy) = per_rank[r];
                StageResult {
                    compute_s: compute[r],
                    bubble: if pipe > 0.0 {
                        1.0 - compute[r] / pipe
                    } else {
                        0.0
                    },
                    util_compute: frac(compute[r] + self.optimizer[r], step),
                    util_send: frac(ws.send_busy[r], step),
                    util_recv: frac(ws.recv_busy[r], step),
                    util_dp: frac(dp_busy, step),
                    peak_in_flight: self.peak_in_flight[r],
                    peak_pending_wgrad: self.peak_pending_w[r],
                    last_compute_end_s: last_end,
                    dp_end_s: dp_end,
                    end_s: end,
                }
            })
            .collect();
        SimResult {
            schedule: self.schedule,
            pp: self.shape.p,
            microbatches: self.shape.m,
            vpp: self.shape.v,
            step_s: step,
            pipeline_s: pipe,
            ideal_s: compute.iter().cloned().fold(0.0, f64::max),
            closed_form_s: self.closed_form_s,
            stages,
            events: ws.events,
            timeline: spans,
        }
    }
}

#[cfg(test)]
mod tests;
