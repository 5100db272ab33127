//! How big a simulation may be: checked before anything is allocated.

use super::SimInput;
use crate::error::{Error, Result};

/// Micro-batch passes (micro-batches x stages x virtual stages) the simulator holds in
/// memory at once: ~180 bytes each (measured: 100,000 micro-batches x 16 stages took
/// 290 MB), so 2^20 of them is ~0.19 GB. Every caller is held to it (the `simulate`
/// command, `estimate --engine sim`, the search's re-timing): a layout with 10M
/// micro-batches on 16 stages asked for ~29 GB and aborted on allocation. The seed at
/// 2^22 passes took 3.3 s of CPU idle and 7.0 s loaded (fuzz driver, seed 20261130008,
/// input 10,163), and at 2^21 with ZB-H1 (whose split backward adds a third pass kind)
/// 5.4 s loaded (seed 20261130009, input 5,201): over the 5 s an input may take. A real
/// step has thousands of micro-batches per replica, not tens of thousands.
pub const MAX_PASSES: u64 = 1 << 20;

/// Passes `input` would hold: micro-batches x stages x virtual stages.
pub fn passes(input: &SimInput) -> u64 {
    u64::from(input.microbatches) * input.pp() as u64 * u64::from(input.vpp.max(1))
}

/// Memory the simulator holds per micro-batch pass, bytes (measured: see [`MAX_PASSES`]).
const PASS_BYTES: f64 = 180.0;

/// `Err` naming the micro-batch count when `input` exceeds [`MAX_PASSES`].
pub fn check(input: &SimInput) -> Result<()> {
    within(input, MAX_PASSES, "simulator's", "here", |n| {
        format!("~{:.2} GB at ~180 bytes each", n * PASS_BYTES / 1e9)
    })
}

/// `Ok` when `input`'s passes are at most `limit`, else the one error both bounds give:
/// the passes, the `what` limit, `size` of that many passes, and the most micro-batches
/// that fit (`scope` says where).
fn within(
    input: &SimInput,
    limit: u64,
    what: &str,
    scope: &str,
    size: impl Fn(f64) -> String,
) -> Result<()> {
    let n = passes(input);
    if n <= limit {
        return Ok(());
    }
    let m = input.microbatches;
    let per_mb = (n / u64::from(m.max(1))).max(1);
    Err(Error::invalid(
        "microbatches",
        format!(
            "{m} micro-batches x {per_mb} stage passes = {n:.3e} passes is over the {what} limit of {limit:.3e} ({}); at most {} micro-batches per step {scope}",
            size(n as f64),
            limit / per_mb
        ),
    ))
}

/// Micro-batch passes a timeline may record for a Gantt chart or a Chrome trace: 2^18.
/// Measured (release build, GPT-3 175B, 16 stages x 16,384 micro-batches = 2^18
/// passes): the trace took 1.6 s, 166 MB on disk and 400 MB of memory, the Gantt chart
/// 0.4 s; both grow linearly, so the simulator's own bound (2^20) would mean a 0.7 GB
/// trace after ~6 s. Perfetto and a PNG show a step's shape long before this.
pub const MAX_TIMELINE_PASSES: u64 = 1 << 18;

/// Chrome-trace bytes per micro-batch pass (measured with [`MAX_TIMELINE_PASSES`]:
/// 166,410,093 bytes for 262,144 passes).
const TRACE_BYTES_PER_PASS: f64 = 635.0;

/// `Err` naming the micro-batch count when a timeline of `input` would exceed
/// [`MAX_TIMELINE_PASSES`].
pub fn check_timeline(input: &SimInput) -> Result<()> {
    within(
        input,
        MAX_TIMELINE_PASSES,
        "timeline's",
        "for a timeline",
        |n| format!("a trace of ~{:.1} GB", n * TRACE_BYTES_PER_PASS / 1e9),
    )
}
