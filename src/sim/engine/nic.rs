//! A rank's NIC shared between its data-parallel stream and the other traffic on it at
//! the same time (the expert all-to-all inside backward operations, the p2p sends),
//! priced with the analytic model's shared-link model
//! ([`crate::analytic::comm::shared_link_s`]) and applied by running the step again.

use super::{Program, Workspace};
use crate::analytic::comm::shared_link_s;
use crate::error::Result;

impl Program {
    /// `true` when some traffic shares a NIC with the data-parallel stream, so a step
    /// takes two runs ([`Program::run_step`]).
    pub(crate) fn shares_nic(&self) -> bool {
        !self.ep_nic.is_empty() || self.nic_p2p
    }

    /// Runs the compute and p2p part of one step with durations `dur` (seconds, one per
    /// operation), recording its sends into `rec` when given; returns the compute
    /// makespan. Where traffic shares a NIC with the data-parallel stream, a first run
    /// with every flow alone finds what overlaps, [`Program::price_sharing`] prices it,
    /// and the step is run again with the delays (the events of both runs counted).
    pub(crate) fn run_step(
        &self,
        ws: &mut Workspace,
        dur: &[f64],
        rec: Option<&mut Vec<super::Span>>,
    ) -> Result<f64> {
        ws.priced = false;
        if !self.shares_nic() {
            return self.run(ws, dur, rec);
        }
        self.run(ws, dur, None)?;
        let first = ws.events;
        self.price_sharing(ws, dur);
        ws.priced = true;
        let dur2 = std::mem::take(&mut ws.dur2);
        let out = self.run(ws, &dur2, rec);
        ws.dur2 = dur2;
        ws.events += first;
        out
    }

    /// From a run with every flow alone: each backward operation's expert all-to-all
    /// and each send that overlaps its rank's gradient buckets on the NIC start
    /// together with the buckets' work inside the same window and split the link
    /// fairly ([`shared_link_s`]). The operation (or send) takes the all-to-all's (or
    /// send's) delay longer, into `ws.dur2` (`ws.link_extra`); the buckets in the window
    /// share their delay by their overlap with it, into `ws.dp_extra`. Each overlap is
    /// priced against the buckets alone (an all-to-all and a send in the same window
    /// each slow the buckets; they are not priced against each other).
    fn price_sharing(&self, ws: &mut Workspace, dur: &[f64]) {
        ws.dur2.copy_from_slice(dur);
        ws.dp_extra.fill(0.0);
        ws.link_extra.fill([0.0; 2]);
        let mut bk = std::mem::take(&mut ws.bk);
        for r in 0..self.pp() {
            let last_end = self.last_end(ws, r);
            self.buckets_of(ws, r, last_end, &mut bk);
            // The stream runs the buckets in order: (start, end, slot), sorted by start.
            let mut free = 0.0f64;
            for b in bk.iter_mut() {
                let st = b.0.max(free);
                free = st + b.1;
                *b = (st, free, b.2);
            }
            let Some(&(first, _, _)) = bk.first() else {
                continue;
            };
            let off = self.bucket_off[r] as usize;
            let ops = self.rank_start[r] as usize..self.rank_start[r + 1] as usize;
            for o in ops {
                if ws.end[o] <= first {
                    continue;
                }
                if let Some(&e) = self.ep_nic.get(o).filter(|e| **e > 0.0) {
                    let d = share(&bk, ws.start[o], ws.end[o], e, &mut ws.dp_extra[off..]);
                    ws.dur2[o] += d;
                }
                if self.nic_p2p {
                    for k in 0..2 {
                        let (a, b) = ws.send_win[o][k];
                        if b > a {
                            ws.link_extra[o][k] = share(&bk, a, b, b - a, &mut ws.dp_extra[off..]);
                        }
                    }
                }
            }
        }
        ws.bk = bk;
    }
}

/// A flow of `work` seconds (alone) running in the window `[a, b]` beside the buckets
/// `bk` ((start, end, slot), sorted, not overlapping) of the same NIC: the buckets'
/// busy time `y` in the window and the flow start together and share the link
/// ([`shared_link_s`]). Adds the buckets' delay to `extra` (by slot, in proportion to
/// each bucket's time in the window) and returns the flow's delay, seconds.
fn share(bk: &[(f64, f64, u32)], a: f64, b: f64, work: f64, extra: &mut [f64]) -> f64 {
    let from = bk.partition_point(|s| s.1 <= a);
    let inside = |s: &(f64, f64, u32)| (s.1.min(b) - s.0.max(a)).max(0.0);
    let y: f64 = bk[from..].iter().take_while(|s| s.0 < b).map(inside).sum();
    if y <= 0.0 {
        return 0.0;
    }
    let [flow_done, dp_done] = shared_link_s([work, y]);
    let per = (dp_done - y) / y;
    for s in bk[from..].iter().take_while(|s| s.0 < b) {
        extra[s.2 as usize] += per * inside(s);
    }
    flow_done - work
}
