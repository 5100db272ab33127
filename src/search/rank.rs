//! The search's per-worker accumulator: rejection counts and the best `k` layouts.

use std::collections::BinaryHeap;

use super::rules::Reason;
use super::Ranked;

/// Per-worker accumulator.
pub(super) struct Acc {
    pub(super) counts: [u64; Reason::ALL.len()],
    pub(super) evaluated: u64,
    pub(super) feasible: u64,
    pub(super) better_than_baseline: u64,
    /// The best `k` so far as a max-heap on rank (its top is the worst kept), so each
    /// push costs O(log k) and a search keeps its top k in O(n log k).
    top: BinaryHeap<ByRank>,
}

/// A [`Ranked`] ordered by [`Ranked::cmp_rank`] (smaller is better).
pub(super) struct ByRank(Ranked);

impl PartialEq for ByRank {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for ByRank {}
impl PartialOrd for ByRank {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByRank {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp_rank(&o.0)
    }
}

impl Acc {
    pub(super) fn new() -> Self {
        Acc {
            counts: [0; Reason::ALL.len()],
            evaluated: 0,
            feasible: 0,
            better_than_baseline: 0,
            top: BinaryHeap::new(),
        }
    }

    pub(super) fn push(&mut self, r: Ranked, k: usize) {
        if k == 0 {
            return;
        }
        if self.top.len() == k {
            match self.top.peek() {
                Some(worst) if r.cmp_rank(&worst.0) == std::cmp::Ordering::Less => {
                    self.top.pop();
                }
                _ => return,
            }
        }
        self.top.push(ByRank(r));
    }

    pub(super) fn merge(mut self, o: Acc, k: usize) -> Acc {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        self.evaluated += o.evaluated;
        self.feasible += o.feasible;
        self.better_than_baseline += o.better_than_baseline;
        for r in o.top {
            self.push(r.0, k);
        }
        self
    }

    /// The kept layouts, best first.
    pub(super) fn into_best_first(self) -> Vec<Ranked> {
        self.top
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }
}
