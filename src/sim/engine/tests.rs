//! The event loop on small pipelines whose answers are known by hand.

use super::*;
use crate::sim::SimInput;

fn run(s: Schedule, p: u32, m: u32, v: u32, f: f64, b: f64) -> SimResult {
    Program::compile(&SimInput::uniform(s, p, m, v, f, b))
        .unwrap()
        .simulate(true)
}

#[test]
fn one_stage_is_serial() {
    let r = run(Schedule::OneFOneB, 1, 5, 1, 1.0, 2.0);
    assert_eq!(r.step_s, 15.0);
    assert_eq!(r.stages[0].bubble, 0.0);
}

#[test]
fn timeline_covers_every_operation_without_overlap_on_a_stream() {
    let r = run(Schedule::Interleaved, 4, 8, 2, 1.0, 2.0);
    let compute: Vec<&Span> = r
        .timeline
        .iter()
        .filter(|s| s.lane == Lane::Compute)
        .collect();
    assert_eq!(compute.len(), 4 * 8 * 2 * 2);
    for w in compute.windows(2) {
        if w[0].rank == w[1].rank {
            assert!(w[0].end_s <= w[1].start_s + 1e-12);
        }
    }
}

#[test]
fn blocking_sends_hold_the_sender() {
    let mut inp = SimInput::uniform(Schedule::OneFOneB, 2, 4, 1, 1.0, 2.0);
    inp.p2p_s = vec![0.5, 0.5];
    inp.p2p_blocking = true;
    let blocking = simulate_inp(&inp);
    inp.p2p_blocking = false;
    let overlapped = simulate_inp(&inp);
    assert!(blocking.step_s > overlapped.step_s);
    // Latency still costs: with two stages every micro-batch's round trip is on
    // the critical path, so overlap hides the send's stream time, not its delay.
    assert!(overlapped.step_s > 5.0 * 3.0, "{}", overlapped.step_s);
    assert!(overlapped.stages[0].util_send > 0.0);
}

fn simulate_inp(i: &SimInput) -> SimResult {
    Program::compile(i).unwrap().simulate(false)
}
