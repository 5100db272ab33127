//! Compiling a schedule for one [`SimInput`] into a [`Program`]'s flat arrays, in
//! named phases: the ranks' orders laid end to end, each operation's successors and
//! dependency count, durations, where gradient reduction starts, per-rank costs and
//! the activations each rank holds. Runs once per input; what allocates here never
//! allocates again when the program runs.

use super::{Program, Succ, NONE, NO_SUCC};
use crate::analytic::pipeline::{pipeline_s, send_chain_s};
use crate::error::{Error, Result};
use crate::sim::schedule::{self, OpKind, Shape, Step};
use crate::sim::{SimInput, StageSpec};
use crate::spec::layout::Schedule;

impl Program {
    /// Checks that the schedule applies and compiles it.
    pub fn compile(input: &SimInput) -> Result<Program> {
        let p = input.pp();
        let v = input.vpp.max(1);
        let m = input.microbatches;
        schedule::check(input.schedule, p, input.vpp, m)?;
        super::super::bounds::check(input).and_then(|()| validate_times(input))?;
        let shape = Shape {
            p,
            v,
            m,
            dual: input.schedule == Schedule::DualPipe,
        };
        let orders = schedule::orders(input.schedule, &shape);
        let n: usize = orders.iter().map(Vec::len).sum();
        if n > (NONE - 1) as usize {
            return Err(Error::invalid(
                "microbatches",
                format!("{n} operations is more than the simulator indexes"),
            ));
        }
        let (steps, rank_of, rank_start) = flatten(&orders, &shape, n);
        let (succ, ndeps) = wire(&steps, &shape, input);
        let (peak_in_flight, peak_pending_w) = activation_peaks(&steps, &rank_start, &shape);
        let closed_form_s = closed_form(input, m, v);
        let bucket_n = buckets(&shape, input);
        Ok(Program {
            schedule: input.schedule,
            base: durations(&steps, &shape, input),
            ep_nic: ep_on_nic(&steps, &shape, input),
            nic_p2p: input.nic.dp && input.nic.p2p && input.p2p_s.iter().any(|x| *x > 0.0),
            bucket_off: std::iter::once(0)
                .chain(bucket_n.iter().scan(0u32, |acc, nb| {
                    *acc += nb * shape.chunks();
                    Some(*acc)
                }))
                .collect(),
            last_wgrad: reduction_starts(&steps, &rank_of, &shape, input),
            buckets: bucket_n,
            param_exposed: per_rank(&shape, input, |s| s.param_exposed_s),
            optimizer: per_rank(&shape, input, |s| s.optimizer_s),
            shape,
            steps,
            rank_of,
            rank_start,
            succ,
            ndeps,
            p2p_blocking: input.p2p_blocking,
            dp_overlap: input.dp_overlap,
            peak_in_flight,
            peak_pending_w,
            closed_form_s,
        })
    }
}

/// Share of a stage's work one chunk does: a virtual stage holds `1 / v` of the
/// stage's layers; a DualPipe direction runs the whole stage.
#[inline]
fn per_chunk(shape: &Shape) -> f64 {
    if shape.dual {
        1.0
    } else {
        1.0 / shape.v as f64
    }
}

/// The ranks' orders laid end to end (`n` operations in all): the operations, the
/// rank of each, and where each rank's run starts (p + 1 offsets).
fn flatten(orders: &[Vec<Step>], shape: &Shape, n: usize) -> (Vec<Step>, Vec<u32>, Vec<u32>) {
    let mut steps = Vec::with_capacity(n);
    let mut rank_of = Vec::with_capacity(n);
    let mut rank_start = Vec::with_capacity(shape.p as usize + 1);
    for (r, o) in orders.iter().enumerate() {
        debug_assert!(o.iter().all(|s| shape.rank(s.pos) == r as u32));
        rank_start.push(steps.len() as u32);
        steps.extend_from_slice(o);
        rank_of.extend(std::iter::repeat_n(r as u32, o.len()));
    }
    rank_start.push(steps.len() as u32);
    (steps, rank_of, rank_start)
}

/// Which operation holds each (position, micro-batch)'s forward and which its
/// backward (input-gradient part under zero-bubble schedules), indexed `pos x m + mb`;
/// [`NONE`] where no operation does.
fn op_index(steps: &[Step], shape: &Shape) -> (Vec<u32>, Vec<u32>) {
    let m = shape.m as usize;
    let positions = (shape.len() * shape.paths()) as usize;
    let at = |pos: u32, mb: u32| pos as usize * m + mb as usize;
    let mut f_op = vec![NONE; positions * m];
    let mut b_op = vec![NONE; positions * m];
    for (i, s) in steps.iter().enumerate() {
        match s.kind {
            OpKind::F => f_op[at(s.pos, s.mb)] = i as u32,
            OpKind::B | OpKind::BInput => b_op[at(s.pos, s.mb)] = i as u32,
            OpKind::FB => {
                f_op[at(s.pos, s.mb)] = i as u32;
                b_op[at(s.pos2, s.mb2)] = i as u32;
            }
            OpKind::W => {}
        }
    }
    (f_op, b_op)
}

/// The p2p seconds of the hop from position `lo` to `lo + 1`, or -1 when both run on
/// one rank (no transfer). The hop crosses link `i` (rank i to i + 1, mod p): on
/// direction 0 ranks rise along the path, on direction 1 they fall. Naming the link by
/// the hop, not by the two ranks, keeps p = 2 (two links between the same pair, one
/// of them the interleaved wrap) unambiguous.
fn link_s(shape: &Shape, input: &SimInput, lo: u32) -> f64 {
    let (from, to) = (shape.rank(lo), shape.rank(lo + 1));
    if from == to {
        return -1.0;
    }
    if input.p2p_s.is_empty() {
        return 0.0;
    }
    let l = if lo / shape.len() == 0 { from } else { to };
    input.p2p_s[l as usize % input.p2p_s.len()]
}

/// Each operation's successors (the forward's consumer downstream, or its own backward
/// at the path's end; the backward's consumer upstream) with the link between, and
/// how many predecessors it waits for.
fn wire(steps: &[Step], shape: &Shape, input: &SimInput) -> (Vec<[Succ; 2]>, Vec<u8>) {
    let (f_op, b_op) = op_index(steps, shape);
    let m = shape.m as usize;
    let at = |pos: u32, mb: u32| pos as usize * m + mb as usize;
    let len = shape.len();
    let n = steps.len();
    let mut succ = vec![[NO_SUCC; 2]; n];
    let mut ndeps = vec![0u8; n];
    for (i, s) in steps.iter().enumerate() {
        let mut out = [NO_SUCC; 2];
        let (fwd, bwd) = match s.kind {
            OpKind::F => (Some((s.pos, s.mb)), None),
            OpKind::B | OpKind::BInput => (None, Some((s.pos, s.mb))),
            OpKind::FB => (Some((s.pos, s.mb)), Some((s.pos2, s.mb2))),
            OpKind::W => (None, None),
        };
        if let Some((pos, mb)) = fwd {
            let k = pos % len;
            if k > 0 {
                ndeps[i] += 1;
            }
            let target = if k + 1 < len {
                f_op[at(pos + 1, mb)]
            } else {
                b_op[at(pos, mb)]
            };
            out[0] = Succ {
                target,
                link_s: if k + 1 < len {
                    link_s(shape, input, pos)
                } else {
                    -1.0
                },
            };
        }
        if let Some((pos, mb)) = bwd {
            ndeps[i] += 1;
            if pos % len > 0 {
                let target = b_op[at(pos - 1, mb)];
                out[1] = Succ {
                    target,
                    link_s: link_s(shape, input, pos - 1),
                };
            }
        }
        succ[i] = out;
    }
    (succ, ndeps)
}

/// The stage whose layers position `pos` runs.
#[inline]
fn stage_of<'a>(shape: &Shape, input: &'a SimInput, pos: u32) -> &'a StageSpec {
    &input.stages[shape.model_stage(pos) as usize]
}

/// Each operation's duration with no jitter, seconds: its chunk's share of the stage's
/// forward, backward, or the backward's input- and weight-gradient parts. The work
/// pinned to a stage's end chunks (embedding, output layer and loss:
/// [`StageSpec::first_chunk_s`], [`StageSpec::last_chunk_s`]) runs in those chunks
/// only; the rest is spread evenly over the stage's chunks.
fn durations(steps: &[Step], shape: &Shape, input: &SimInput) -> Vec<f64> {
    let per_chunk = per_chunk(shape);
    let f_s = |pos: u32| chunk_s(shape, input, pos, per_chunk, |s| s.fwd_s, |e| e.0);
    let b_s = |pos: u32| chunk_s(shape, input, pos, per_chunk, |s| s.bwd_s, |e| e.1);
    let w_s = |pos: u32| stage_of(shape, input, pos).wgrad_s * per_chunk;
    steps
        .iter()
        .map(|s| match s.kind {
            OpKind::F => f_s(s.pos),
            OpKind::B => b_s(s.pos),
            OpKind::BInput => b_s(s.pos) - w_s(s.pos),
            OpKind::W => w_s(s.pos),
            OpKind::FB => f_s(s.pos) + b_s(s.pos2),
        })
        .collect()
}

/// One chunk's part of a stage's forward or backward (`whole` picks which, `end` the
/// same direction of a pinned pair): an even share of the stage's spread work, plus the
/// pinned work where `pos` is the stage's first or last chunk. With one chunk per stage
/// (or DualPipe's whole-stage directions) that is the whole stage.
fn chunk_s(
    shape: &Shape,
    input: &SimInput,
    pos: u32,
    per_chunk: f64,
    whole: impl Fn(&StageSpec) -> f64,
    end: impl Fn((f64, f64)) -> f64,
) -> f64 {
    let st = stage_of(shape, input, pos);
    if shape.dual || shape.chunks() <= 1 {
        return whole(st) * per_chunk;
    }
    let (first, last) = (end(st.first_chunk_s), end(st.last_chunk_s));
    let chunk = shape.chunk(pos);
    let pinned = if chunk == 0 { first } else { 0.0 }
        + if chunk + 1 == shape.chunks() {
            last
        } else {
            0.0
        };
    (whole(st) - first - last) * per_chunk + pinned
}

/// Each operation's expert all-to-all on the NIC (its chunk's share of the stage's
/// backward `ep_nic_s`; the backward half of a DualPipe pair, the input-gradient part
/// of a split backward), seconds; empty when the data-parallel stream is not on the
/// NIC or no stage has any.
fn ep_on_nic(steps: &[Step], shape: &Shape, input: &SimInput) -> Vec<f64> {
    if !input.nic.dp || input.stages.iter().all(|s| s.ep_nic_s <= 0.0) {
        return Vec::new();
    }
    let per_chunk = per_chunk(shape);
    let e = |pos: u32| stage_of(shape, input, pos).ep_nic_s * per_chunk;
    steps
        .iter()
        .map(|s| match s.kind {
            OpKind::B | OpKind::BInput => e(s.pos),
            OpKind::FB => e(s.pos2),
            OpKind::F | OpKind::W => 0.0,
        })
        .collect()
}

/// Per rank and chunk: the operation that finishes the chunk's weight gradients, and
/// the seconds of gradient reduction that chunk then starts (reduction, per chunk,
/// starts with the chunk's last weight gradient).
fn reduction_starts(
    steps: &[Step],
    rank_of: &[u32],
    shape: &Shape,
    input: &SimInput,
) -> Vec<(u32, f64)> {
    let chunks = shape.chunks();
    let per_chunk = per_chunk(shape);
    let mut last_wgrad = vec![(NONE, 0.0); (shape.p * chunks) as usize];
    for (i, s) in steps.iter().enumerate() {
        let pos = match s.kind {
            OpKind::B | OpKind::W => s.pos,
            OpKind::FB => s.pos2,
            _ => continue,
        };
        let r = rank_of[i];
        let slot = (r * chunks + shape.chunk(pos)) as usize;
        last_wgrad[slot] = (i as u32, stage_of(shape, input, pos).dp_grad_s * per_chunk);
    }
    last_wgrad
}

/// A per-stage cost `f` (seconds) per rank: under DualPipe a rank holds stages r and
/// p - 1 - r and pays both.
fn per_rank(shape: &Shape, input: &SimInput, f: impl Fn(&StageSpec) -> f64) -> Vec<f64> {
    let p = shape.p;
    (0..p)
        .map(|r| {
            if shape.dual {
                f(&input.stages[r as usize]) + f(&input.stages[(p - 1 - r) as usize])
            } else {
                f(&input.stages[r as usize])
            }
        })
        .collect()
}

/// Gradient buckets per chunk on each rank, count (at least 1): the stage's buckets
/// shared among its chunks.
fn buckets(shape: &Shape, input: &SimInput) -> Vec<u32> {
    let chunks = shape.chunks();
    (0..shape.p)
        .map(|r| {
            let s = &input.stages[r as usize];
            s.dp_buckets.max(1).div_ceil(chunks).max(1)
        })
        .collect()
}

/// Activations held, counted along each rank's order (independent of timing), in
/// whole stages' worth of micro-batches: the peak in flight (forward done, backward
/// not) and the peak awaiting weight gradients, per rank.
fn activation_peaks(steps: &[Step], rank_start: &[u32], shape: &Shape) -> (Vec<f64>, Vec<f64>) {
    let p = shape.p as usize;
    let per_chunk = per_chunk(shape);
    let mut peak_in_flight = vec![0.0; p];
    let mut peak_pending_w = vec![0.0; p];
    for r in 0..p {
        let (mut held, mut pend, mut mh, mut mp) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for s in &steps[rank_start[r] as usize..rank_start[r + 1] as usize] {
            match s.kind {
                OpKind::F => {
                    held += per_chunk;
                    pend += per_chunk;
                }
                OpKind::B => {
                    held -= per_chunk;
                    pend -= per_chunk;
                }
                OpKind::BInput => held -= per_chunk,
                OpKind::W => pend -= per_chunk,
                OpKind::FB => {
                    // The forward's activations exist before the backward frees its own.
                    held += per_chunk;
                    pend += per_chunk;
                    mh = mh.max(held);
                    mp = mp.max(pend);
                    held -= per_chunk;
                    pend -= per_chunk;
                }
            }
            mh = mh.max(held);
            mp = mp.max(pend);
        }
        peak_in_flight[r] = mh;
        peak_pending_w[r] = mp;
    }
    (peak_in_flight, peak_pending_w)
}

/// The analytic closed form for the input's stage times and sends, as `estimate`
/// prices them, seconds: blocking sends in each stage's forward and backward (one per
/// model chunk each way), overlapped interleaved sends on the fill and drain's path
/// ([`send_chain_s`]).
fn closed_form(input: &SimInput, m: u32, v: u32) -> f64 {
    let p = input.stages.len();
    let send = if input.p2p_s.is_empty() || p <= 1 {
        0.0
    } else {
        input.p2p_s.iter().sum::<f64>() / input.p2p_s.len() as f64
    };
    let blocking = if input.p2p_blocking {
        f64::from(v.max(1)) * send
    } else {
        0.0
    };
    let fwd: Vec<f64> = input.stages.iter().map(|s| s.fwd_s + blocking).collect();
    let bwd: Vec<f64> = input.stages.iter().map(|s| s.bwd_s + blocking).collect();
    pipeline_s(input.schedule, &fwd, &bwd, m, v)
        + send_chain_s(input.schedule, p as u32, v, send, !input.p2p_blocking)
}

/// A stage's pinned end-chunk work must be finite and leave every chunk a duration of
/// at least 0 s (it may be negative: an end chunk that lacks layers).
fn end_chunks_ok(i: usize, s: &StageSpec, vpp: u32) -> Result<()> {
    for (dir, whole, first, last) in [
        ("forward", s.fwd_s, s.first_chunk_s.0, s.last_chunk_s.0),
        ("backward", s.bwd_s, s.first_chunk_s.1, s.last_chunk_s.1),
    ] {
        if !(first.is_finite() && last.is_finite()) {
            return Err(Error::invalid(
                format!("stages[{i}].first_chunk_s/last_chunk_s"),
                format!("the {dir} parts must be finite times, got {first} and {last}"),
            ));
        }
        let share = (whole - first - last) / f64::from(vpp.max(1));
        let tol = 1e-9 * whole.abs().max(1e-300);
        if vpp > 1 && (share < -tol || share + first < -tol || share + last < -tol) {
            return Err(Error::invalid(
                format!("stages[{i}].first_chunk_s/last_chunk_s"),
                format!(
                    "the {dir} pinned parts {first} s and {last} s leave a chunk a negative \
                     duration (the stage's whole {dir} is {whole} s over {vpp} chunks)"
                ),
            ));
        }
    }
    Ok(())
}

/// Every stage time finite and not negative, and no weight-gradient part longer than
/// its backward: the error names the stage and field.
fn validate_times(input: &SimInput) -> Result<()> {
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    for (i, s) in input.stages.iter().enumerate() {
        for (name, x) in [
            ("fwd_s", s.fwd_s),
            ("bwd_s", s.bwd_s),
            ("wgrad_s", s.wgrad_s),
            ("dp_grad_s", s.dp_grad_s),
            ("param_exposed_s", s.param_exposed_s),
            ("optimizer_s", s.optimizer_s),
            ("ep_nic_s", s.ep_nic_s),
        ] {
            if !ok(x) {
                return Err(Error::invalid(
                    format!("stages[{i}].{name}"),
                    format!("must be a finite time of at least 0 s, got {x}"),
                ));
            }
        }
        end_chunks_ok(i, s, input.vpp)?;
        if s.wgrad_s > s.bwd_s {
            return Err(Error::invalid(
                format!("stages[{i}].wgrad_s"),
                format!(
                    "weight-gradient part {} s exceeds the whole backward {} s",
                    s.wgrad_s, s.bwd_s
                ),
            ));
        }
    }
    if let Some(x) = input.p2p_s.iter().find(|x| !ok(**x)) {
        return Err(Error::invalid(
            "p2p_s",
            format!("must be a finite time of at least 0 s, got {x}"),
        ));
    }
    Ok(())
}
