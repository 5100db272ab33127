//! Per-rank operation orders for each schedule.
//!
//! A *position* is a place on a pipeline path: the single path of `p x v` chunks
//! (chunk `c` of rank `r` is position `c p + r`, Megatron's virtual-stage numbering),
//! or, for DualPipe, two paths of `p` positions, direction 0 entering at rank 0 and
//! direction 1 at rank `p - 1`. Positions are numbered `dir x len + k`.

use crate::error::{Error, Result};
use crate::spec::layout::Schedule;

/// What an operation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// Forward of (`mb`, `pos`).
    F,
    /// Full backward (input + weight gradients) of (`mb`, `pos`).
    B,
    /// Input-gradient backward of (`mb`, `pos`); its weight gradient runs as a later `W`.
    BInput,
    /// Weight-gradient part of (`mb`, `pos`).
    W,
    /// Forward of (`mb`, `pos`) overlapped with the full backward of (`mb2`, `pos2`).
    FB,
}

/// One operation in a rank's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub kind: OpKind,
    pub mb: u32,
    pub pos: u32,
    /// Backward half of an `FB`; unused otherwise.
    pub mb2: u32,
    pub pos2: u32,
}

impl Step {
    fn one(kind: OpKind, mb: u32, pos: u32) -> Self {
        Step {
            kind,
            mb,
            pos,
            mb2: 0,
            pos2: 0,
        }
    }
}

/// Shape of the pipeline paths.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub p: u32,
    pub v: u32,
    pub m: u32,
    /// DualPipe: two directions.
    pub dual: bool,
}

impl Shape {
    /// Positions per path.
    pub fn len(&self) -> u32 {
        if self.dual {
            self.p
        } else {
            self.p * self.v
        }
    }

    /// Paths, count.
    pub fn paths(&self) -> u32 {
        if self.dual {
            2
        } else {
            1
        }
    }

    /// Rank that runs position `pos`.
    pub fn rank(&self, pos: u32) -> u32 {
        let (d, k) = (pos / self.len(), pos % self.len());
        if d == 0 {
            k % self.p
        } else {
            self.p - 1 - k
        }
    }

    /// Chunk index on its rank: the virtual stage for interleaved, the direction for
    /// DualPipe.
    pub fn chunk(&self, pos: u32) -> u32 {
        if self.dual {
            pos / self.len()
        } else {
            pos / self.p
        }
    }

    /// Chunks per rank.
    pub fn chunks(&self) -> u32 {
        if self.dual {
            2
        } else {
            self.v
        }
    }

    /// Model stage (0 = embedding end) whose layers position `pos` runs.
    pub fn model_stage(&self, pos: u32) -> u32 {
        let k = pos % self.len();
        if self.dual {
            k
        } else {
            k % self.p
        }
    }
}

/// Checks that `schedule` applies to `p` ranks, `v` virtual stages and `m`
/// micro-batches, with the reason and what would fit when it does not.
pub(crate) fn check(schedule: Schedule, p: u32, v: u32, m: u32) -> Result<()> {
    if p == 0 {
        return Err(Error::invalid("layout.pp", "no pipeline stages"));
    }
    if m == 0 {
        return Err(Error::invalid("microbatches", "must be at least 1"));
    }
    if v == 0 {
        return Err(Error::invalid("layout.vpp", "must be at least 1"));
    }
    match schedule {
        Schedule::Interleaved => {
            if v < 2 {
                return Err(Error::invalid(
                    "layout.vpp",
                    "interleaved 1F1B needs vpp of at least 2",
                )
                .with_suggestion("vpp: 2 (or more), or schedule: 1f1b"));
            }
            if !m.is_multiple_of(p) {
                let lo = (m / p).max(1) * p;
                return Err(Error::invalid(
                    "microbatches",
                    format!(
                        "interleaved 1F1B runs micro-batches in groups of pp = {p}; {m} is not a multiple"
                    ),
                )
                .with_suggestion(format!("{lo} or {} micro-batches, or schedule: 1f1b", lo + p)));
            }
        }
        s if v > 1 => {
            return Err(Error::invalid(
                "layout.vpp",
                format!("vpp {v} needs the interleaved schedule, not {}", s.name()),
            )
            .with_suggestion("schedule: interleaved, or vpp: 1"));
        }
        Schedule::DualPipe => {
            if !p.is_multiple_of(2) {
                return Err(Error::invalid(
                    "layout.pp",
                    format!("DualPipe runs two pipelines in opposite directions and needs an even pp, got {p}"),
                )
                .with_suggestion(format!("pp {} or {}", p.saturating_sub(1).max(2), p + 1)));
            }
            if !m.is_multiple_of(2) || m < 2 * p {
                let want = (m.max(2 * p)).div_ceil(2) * 2;
                return Err(Error::invalid(
                    "microbatches",
                    format!(
                        "DualPipe feeds half the micro-batches from each end and needs an even count of at least \
                         2 x pp = {}, got {m}",
                        2 * p
                    ),
                )
                .with_suggestion(format!("{want} micro-batches")));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every rank's ordered operations. `check` must have passed.
pub(crate) fn orders(schedule: Schedule, sh: &Shape) -> Vec<Vec<Step>> {
    (0..sh.p)
        .map(|r| match schedule {
            Schedule::Gpipe => gpipe(sh, r),
            Schedule::OneFOneB => one_f_one_b(sh, r),
            Schedule::Interleaved => interleaved(sh, r),
            Schedule::ZbH1 => zb_h1(sh, r),
            Schedule::DualPipe => dualpipe(sh, r),
        })
        .collect()
}

fn gpipe(sh: &Shape, r: u32) -> Vec<Step> {
    let f = (0..sh.m).map(|j| Step::one(OpKind::F, j, r));
    let b = (0..sh.m).map(|j| Step::one(OpKind::B, j, r));
    f.chain(b).collect()
}

/// PipeDream-flush: `p - r - 1` warm-up forwards, then one forward and one backward
/// in turn, then the remaining backwards.
fn one_f_one_b(sh: &Shape, r: u32) -> Vec<Step> {
    let m = sh.m;
    let warm = (sh.p - r - 1).min(m);
    let mut o = Vec::with_capacity(2 * m as usize);
    o.extend((0..warm).map(|j| Step::one(OpKind::F, j, r)));
    for i in 0..m - warm {
        o.push(Step::one(OpKind::F, warm + i, r));
        o.push(Step::one(OpKind::B, i, r));
    }
    o.extend((m - warm..m).map(|j| Step::one(OpKind::B, j, r)));
    o
}

/// Megatron-LM's interleaved 1F1B (`forward_backward_pipelining_with_interleaving`):
/// virtual micro-batch `k` runs chunk `(k mod pv) / p` forward and chunk
/// `v - 1 - (k mod pv) / p` backward on micro-batch `(k / pv) p + k mod p`; rank `r`
/// warms up with `2(p - r - 1) + (v - 1)p` forwards (all of them when `m = p`), then
/// alternates one forward and one backward.
fn interleaved(sh: &Shape, r: u32) -> Vec<Step> {
    let (p, v, m) = (sh.p, sh.v, sh.m);
    let total = m * v;
    let warm = if m == p {
        total
    } else {
        (2 * (p - r - 1) + (v - 1) * p).min(total)
    };
    let group = p * v;
    let mb = |k: u32| (k / group) * p + k % p;
    let fwd = |k: u32| {
        let c = (k % group) / p;
        Step::one(OpKind::F, mb(k), c * p + r)
    };
    let bwd = |k: u32| {
        let c = v - 1 - (k % group) / p;
        Step::one(OpKind::B, mb(k), c * p + r)
    };
    let mut o = Vec::with_capacity(2 * total as usize);
    o.extend((0..warm).map(fwd));
    for i in 0..total - warm {
        o.push(fwd(warm + i));
        o.push(bwd(i));
    }
    o.extend((total - warm..total).map(bwd));
    o
}

/// ZB-H1 (Qi et al. 2024, section 3.1): 1F1B's order with each backward split into
/// input-gradient `B` and weight-gradient `W`; rank `r` warms up with `min(p - r, m)`
/// forwards and keeps up to `r` weight-gradient passes pending, which run in the
/// drain where 1F1B would idle. Activations held for `B` peak at 1F1B's `p - r`, and
/// micro-batches awaiting `W` at `p` on every rank, 1F1B's peak.
fn zb_h1(sh: &Shape, r: u32) -> Vec<Step> {
    let m = sh.m;
    let warm = (sh.p - r).min(m);
    let mut o = Vec::with_capacity(3 * m as usize);
    o.extend((0..warm).map(|j| Step::one(OpKind::F, j, r)));
    let (mut nf, mut nb, mut nw) = (warm, 0, 0);
    while nb < m {
        o.push(Step::one(OpKind::BInput, nb, r));
        nb += 1;
        if nb - nw > r {
            o.push(Step::one(OpKind::W, nw, r));
            nw += 1;
        }
        if nf < m {
            o.push(Step::one(OpKind::F, nf, r));
            nf += 1;
        }
    }
    o.extend((nw..m).map(|j| Step::one(OpKind::W, j, r)));
    o
}

/// DualPipe (DeepSeek-V3 report, section 3.2.1; the order of deepseek-ai/DualPipe's
/// `DualPipe.step`). Rank `r` runs stage `r` of direction 0 and stage `p - 1 - r` of
/// direction 1; its "phase 0" is the direction it sits early in. Eight steps: forwards
/// of phase 0; forwards of both phases; phase-1 backward + weight + forward; the main
/// loop of overlapped forward-and-backward pairs; backward + pair; backwards of both
/// (the later half with weight gradients deferred); weight + phase-0 backward; the
/// remaining weight gradients.
///
/// Simplifications: an overlapped pair is one operation lasting the sum of its
/// forward and backward (the all-to-all and p2p it hides are already credited in
/// the stage times through the overlap switches); sends are not deferred to the
/// batched `isend`/`irecv` points of the reference code.
fn dualpipe(sh: &Shape, r: u32) -> Vec<Step> {
    let p = sh.p;
    let half_ranks = p / 2;
    let hr = r.min(p - 1 - r);
    let half_m = sh.m / 2;
    let second = r >= half_ranks;
    let middle = r == half_ranks - 1 || r == half_ranks;
    let len = sh.len();
    // Direction, and position on its path, of phase `ph` on this rank.
    let dir = |ph: u32| ph ^ u32::from(second);
    let pos = |ph: u32| {
        let d = dir(ph);
        d * len + if d == 0 { r } else { p - 1 - r }
    };
    struct Cursor {
        f: [u32; 2],
        b: [u32; 2],
        w: std::collections::VecDeque<(u32, u32)>,
    }
    let mut c = Cursor {
        f: [0; 2],
        b: [0; 2],
        w: Default::default(),
    };
    let mut o: Vec<Step> = Vec::with_capacity(3 * sh.m as usize);
    let mbid = |ph: u32, i: u32| dir(ph) * half_m + i;
    let fwd = |c: &mut Cursor, o: &mut Vec<Step>, ph: u32| {
        o.push(Step::one(OpKind::F, mbid(ph, c.f[ph as usize]), pos(ph)));
        c.f[ph as usize] += 1;
    };
    let bwd = |c: &mut Cursor, o: &mut Vec<Step>, ph: u32, zb: bool| {
        let mb = mbid(ph, c.b[ph as usize]);
        c.b[ph as usize] += 1;
        if zb {
            o.push(Step::one(OpKind::BInput, mb, pos(ph)));
            c.w.push_back((mb, pos(ph)));
        } else {
            o.push(Step::one(OpKind::B, mb, pos(ph)));
        }
    };
    let weight = |c: &mut Cursor, o: &mut Vec<Step>| {
        if let Some((mb, ps)) = c.w.pop_front() {
            o.push(Step::one(OpKind::W, mb, ps));
        }
    };
    let fused = |c: &mut Cursor, o: &mut Vec<Step>, fph: u32, bph: u32| {
        let fmb = mbid(fph, c.f[fph as usize]);
        let bmb = mbid(bph, c.b[bph as usize]);
        c.f[fph as usize] += 1;
        c.b[bph as usize] += 1;
        o.push(Step {
            kind: OpKind::FB,
            mb: fmb,
            pos: pos(fph),
            mb2: bmb,
            pos2: pos(bph),
        });
    };

    // Step 1: forwards of phase 0.
    for _ in 0..(half_ranks - hr - 1) * 2 {
        fwd(&mut c, &mut o, 0);
    }
    // Step 2: forwards of both phases.
    for _ in 0..hr + 1 {
        fwd(&mut c, &mut o, 0);
        fwd(&mut c, &mut o, 1);
    }
    // Step 3: phase-1 backward, its weight gradient, phase-1 forward.
    for _ in 0..half_ranks - hr - 1 {
        bwd(&mut c, &mut o, 1, true);
        weight(&mut c, &mut o);
        fwd(&mut c, &mut o, 1);
    }
    // Step 4, the main loop: pairs (F0, B1) and (F1, B0). The middle ranks run their
    // first pair unfused, which the reference does to shorten the bubble.
    for i in 0..half_m + hr + 1 - p {
        if i == 0 && middle {
            fwd(&mut c, &mut o, 0);
            bwd(&mut c, &mut o, 1, false);
        } else {
            fused(&mut c, &mut o, 0, 1);
        }
        fused(&mut c, &mut o, 1, 0);
    }
    // Step 5: phase-1 backward, then the pair (F1, B0).
    for _ in 0..half_ranks - hr - 1 {
        bwd(&mut c, &mut o, 1, false);
        fused(&mut c, &mut o, 1, 0);
    }
    // Step 6: backwards of both phases; from the middle of the step on, weight
    // gradients are deferred.
    let step6 = hr + 1;
    let mut zb = false;
    for i in 0..step6 {
        if i == step6 / 2 && hr % 2 == 1 {
            zb = true;
        }
        bwd(&mut c, &mut o, 1, zb);
        if i == step6 / 2 && hr.is_multiple_of(2) {
            zb = true;
        }
        bwd(&mut c, &mut o, 0, zb);
    }
    // Step 7: a deferred weight gradient, then a phase-0 input-gradient backward.
    for _ in 0..half_ranks - hr - 1 {
        weight(&mut c, &mut o);
        bwd(&mut c, &mut o, 0, true);
    }
    // Step 8: the remaining weight gradients.
    while !c.w.is_empty() {
        weight(&mut c, &mut o);
    }
    debug_assert_eq!(c.f, [half_m; 2]);
    debug_assert_eq!(c.b, [half_m; 2]);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(o: &[Step], k: OpKind) -> usize {
        o.iter().filter(|s| s.kind == k).count()
    }

    #[test]
    fn every_rank_runs_every_microbatch_once_per_chunk() {
        for (sched, p, v, m) in [
            (Schedule::Gpipe, 4, 1, 6),
            (Schedule::OneFOneB, 4, 1, 3),
            (Schedule::Interleaved, 4, 2, 8),
            (Schedule::Interleaved, 4, 3, 4),
            (Schedule::ZbH1, 4, 1, 8),
            (Schedule::ZbH1, 5, 1, 2),
            (Schedule::DualPipe, 4, 1, 8),
            (Schedule::DualPipe, 8, 1, 20),
        ] {
            check(sched, p, v, m).unwrap();
            let sh = Shape {
                p,
                v,
                m,
                dual: sched == Schedule::DualPipe,
            };
            for (r, o) in orders(sched, &sh).iter().enumerate() {
                let fb = count(o, OpKind::FB);
                let f = count(o, OpKind::F) + fb;
                let b = count(o, OpKind::B) + count(o, OpKind::BInput) + fb;
                let expect = (m * sh.chunks() / if sh.dual { 2 } else { 1 }) as usize;
                assert_eq!(f, expect, "{sched:?} rank {r} forwards");
                assert_eq!(b, expect, "{sched:?} rank {r} backwards");
                assert_eq!(count(o, OpKind::W), count(o, OpKind::BInput));
                for s in o {
                    assert_eq!(sh.rank(s.pos), r as u32, "{sched:?} {s:?}");
                    if s.kind == OpKind::FB {
                        assert_eq!(sh.rank(s.pos2), r as u32, "{sched:?} {s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn refusals_name_the_rule() {
        let e = check(Schedule::Interleaved, 4, 2, 6).unwrap_err();
        assert_eq!(e.field(), Some("microbatches"));
        assert!(e.to_string().contains("4 or 8"), "{e}");
        assert!(check(Schedule::DualPipe, 5, 1, 20).is_err());
        assert!(check(Schedule::DualPipe, 4, 1, 6).is_err());
        assert!(check(Schedule::DualPipe, 4, 1, 9).is_err());
        assert!(check(Schedule::ZbH1, 4, 2, 8).is_err());
        assert!(check(Schedule::Interleaved, 4, 1, 8).is_err());
    }
}
