//! The simulator against the closed forms and the papers' statements, on uniform
//! stages with no communication (issue 3, "Done when").

use llmplan::analytic::pipeline::{in_flight, pipeline_s};
use llmplan::sim::{simulate, SimInput, SimResult, StageSpec};
use llmplan::spec::layout::Schedule;

fn uniform(s: Schedule, p: u32, m: u32, v: u32, f: f64, b: f64) -> SimResult {
    simulate(&SimInput::uniform(s, p, m, v, f, b)).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn gpipe_and_1f1b_take_m_plus_p_minus_1_slots() {
    for (p, m) in [(1, 1), (2, 1), (4, 8), (8, 3), (16, 64), (7, 13)] {
        for (f, b) in [(1.0, 2.0), (0.013, 0.029), (3.5e-3, 7.1e-3)] {
            let want = (m + p - 1) as f64 * (f + b);
            for s in [Schedule::Gpipe, Schedule::OneFOneB] {
                let r = uniform(s, p, m, 1, f, b);
                assert!(
                    rel(r.step_s, want) < 1e-9,
                    "{s:?} p {p} m {m}: {} vs {want}",
                    r.step_s
                );
                // Bubble (p - 1)/(m + p - 1) of the step on every stage.
                let bubble = (p - 1) as f64 / (m + p - 1) as f64;
                for st in &r.stages {
                    assert!(
                        (st.bubble - bubble).abs() < 1e-9,
                        "{s:?} bubble {} vs {bubble}",
                        st.bubble
                    );
                }
            }
        }
    }
}

#[test]
fn interleaved_matches_its_closed_form() {
    for (p, v, m) in [
        (2, 2, 4),
        (4, 2, 8),
        (4, 3, 8),
        (8, 2, 16),
        (8, 4, 32),
        (16, 2, 64),
    ] {
        let (f, b) = (1.0, 2.0);
        let r = uniform(Schedule::Interleaved, p, m, v, f, b);
        // (m + (p - 1)/v)(t_f + t_b), bubble (p - 1)/(v m + p - 1).
        let want = (m as f64 + (p - 1) as f64 / v as f64) * (f + b);
        assert!(
            rel(r.step_s, want) < 1e-9,
            "p {p} v {v} m {m}: {} vs {want}",
            r.step_s
        );
        let closed = pipeline_s(
            Schedule::Interleaved,
            &vec![f; p as usize],
            &vec![b; p as usize],
            m,
            v,
        );
        assert!(rel(r.step_s, closed) < 1e-9);
        let bubble = (p - 1) as f64 / (v * m + p - 1) as f64;
        assert!(
            (r.stages[0].bubble - bubble).abs() < 1e-9,
            "{} vs {bubble}",
            r.stages[0].bubble
        );
    }
}

#[test]
fn zb_h1_matches_its_paper() {
    for (p, m) in [(4, 8), (4, 4), (8, 16), (8, 24), (16, 64)] {
        // t_F = 1, t_B = t_W = 1 (backward 2 split evenly): Qi et al.'s uniform case.
        let zb = uniform(Schedule::ZbH1, p, m, 1, 1.0, 2.0);
        let want = m as f64 * 3.0 + (p - 1) as f64 * (1.0 + 1.0 - 1.0);
        assert!(
            rel(zb.step_s, want) < 1e-9,
            "p {p} m {m}: {} vs {want}",
            zb.step_s
        );
        let closed = pipeline_s(
            Schedule::ZbH1,
            &vec![1.0; p as usize],
            &vec![2.0; p as usize],
            m,
            1,
        );
        assert!(rel(zb.step_s, closed) < 1e-9);
        // Bubble a third of 1F1B's (p - 1)(t_F + t_B + t_W) ...
        let f1b = uniform(Schedule::OneFOneB, p, m, 1, 1.0, 2.0);
        let (bz, b1) = (zb.step_s - 3.0 * m as f64, f1b.step_s - 3.0 * m as f64);
        assert!(rel(bz * 3.0, b1) < 1e-9, "bubble {bz} vs 1F1B {b1}");
        // ... at 1F1B's memory: activations for B peak at p - i per stage, micro-batches
        // awaiting W never above 1F1B's peak p.
        for (i, st) in zb.stages.iter().enumerate() {
            assert_eq!(st.peak_in_flight, f1b.stages[i].peak_in_flight);
            assert!(st.peak_pending_wgrad <= p.min(m) as f64);
        }
    }
    // Uneven split of the backward: (p - 1)(t_F + t_B - t_W) with t_B = 1.2, t_W = 0.8.
    let mut inp = SimInput::uniform(Schedule::ZbH1, 8, 16, 1, 1.0, 2.0);
    for s in &mut inp.stages {
        s.wgrad_s = 0.8;
    }
    let r = simulate(&inp).unwrap();
    assert!(
        rel(r.step_s, 16.0 * 3.0 + 7.0 * (1.0 + 1.2 - 0.8)) < 1e-9,
        "{}",
        r.step_s
    );
}

#[test]
fn one_f_one_b_in_flight_is_min_p_minus_i_m() {
    for (p, m) in [(4, 8), (8, 3), (16, 16), (16, 40), (1, 5)] {
        let r = uniform(Schedule::OneFOneB, p, m, 1, 1.0, 2.0);
        for (i, st) in r.stages.iter().enumerate() {
            assert_eq!(
                st.peak_in_flight,
                (p - i as u32).min(m) as f64,
                "p {p} m {m} stage {i}"
            );
            assert_eq!(
                st.peak_in_flight,
                in_flight(Schedule::OneFOneB, i as u32, p, m, 1)
            );
        }
        let g = uniform(Schedule::Gpipe, p, m, 1, 1.0, 2.0);
        assert!(g.stages.iter().all(|s| s.peak_in_flight == m as f64));
    }
}

#[test]
fn interleaved_in_flight_matches_korthikanti() {
    // Stage i holds 2(p - i - 1) + (v - 1)p + 1 chunks of 1/v each; stage 0
    // p(1 + (p - 1)/(p v)) micro-batches (Korthikanti et al. 2022, section 4.2.3).
    for (p, v, m) in [(4, 2, 8), (8, 3, 64), (16, 2, 64)] {
        let r = uniform(Schedule::Interleaved, p, m, v, 1.0, 2.0);
        for (i, st) in r.stages.iter().enumerate() {
            let want = in_flight(Schedule::Interleaved, i as u32, p, m, v);
            assert!(
                (st.peak_in_flight - want).abs() < 1e-9,
                "p {p} v {v} stage {i}: {} vs {want}",
                st.peak_in_flight
            );
        }
        let s0 = p as f64 * (1.0 + (p - 1) as f64 / (p * v) as f64);
        assert!((r.stages[0].peak_in_flight - s0).abs() < 1e-9);
    }
}

#[test]
fn dualpipe_matches_deepseek_v3_table_2() {
    // DeepSeek-V3 report, Table 2: bubble (PP/2 - 1)(F&B + B - 3W) with B the full
    // backward, activations PP + 1 chunks per rank. The overlapped pair F&B lasts F + B.
    for (p, m) in [(4, 8), (8, 16), (8, 32), (16, 64)] {
        for (f, b, w) in [(1.0, 2.0, 1.0), (1.0, 2.0, 0.8), (0.7, 1.5, 0.6)] {
            let mut inp = SimInput::uniform(Schedule::DualPipe, p, m, 1, f, b);
            for s in &mut inp.stages {
                s.wgrad_s = w;
            }
            let r = simulate(&inp).unwrap();
            let bubble = (p / 2 - 1) as f64 * ((f + b) + b - 3.0 * w);
            let want = m as f64 * (f + b) + bubble;
            if w * 2.0 == b {
                assert!(
                    rel(r.step_s, want) < 1e-9,
                    "p {p} m {m} f {f} b {b}: {} vs {want}",
                    r.step_s
                );
            } else {
                // With a weight gradient unequal to the input gradient the table's
                // bubble is an upper bound: the schedule fills some of it.
                assert!(
                    r.step_s <= want + 1e-9,
                    "p {p} m {m} f {f} b {b} w {w}: {} vs {want}",
                    r.step_s
                );
            }
            let f1b = uniform(Schedule::OneFOneB, p, m, 1, f, b);
            assert!(r.step_s < f1b.step_s);
            for st in &r.stages {
                assert_eq!(st.peak_in_flight, (p + 1) as f64);
            }
        }
    }
}

#[test]
fn uneven_stages_show_where_the_closed_form_is_approximate() {
    // A heavy last stage (output layer and loss): the closed form charges every stage's
    // fill and drain plus the slowest stage's steady state; the schedule overlaps some.
    let mut inp = SimInput::uniform(Schedule::OneFOneB, 8, 32, 1, 1.0, 2.0);
    inp.stages[7] = StageSpec::compute_only(1.5, 3.0);
    let r = simulate(&inp).unwrap();
    assert!(r.step_s <= r.closed_form_s + 1e-9);
    assert!(r.step_s >= r.ideal_s);
    let err = (r.closed_form_s - r.step_s) / r.step_s;
    assert!(err < 0.05, "closed form off by {err}");
}

#[test]
fn schedules_that_do_not_apply_are_refused_with_the_rule() {
    let e = simulate(&SimInput::uniform(Schedule::Interleaved, 4, 6, 2, 1.0, 2.0)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("multiple") && msg.contains("4 or 8"), "{msg}");
    let e = simulate(&SimInput::uniform(Schedule::DualPipe, 5, 20, 1, 1.0, 2.0)).unwrap_err();
    assert!(e.to_string().contains("even pp"), "{e}");
    let e = simulate(&SimInput::uniform(Schedule::DualPipe, 4, 6, 1, 1.0, 2.0)).unwrap_err();
    assert!(e.to_string().contains("at least"), "{e}");
    let mut bad = SimInput::uniform(Schedule::ZbH1, 4, 8, 1, 1.0, 2.0);
    bad.stages[1].wgrad_s = 3.0;
    assert!(simulate(&bad).is_err());
    bad.stages[1].wgrad_s = f64::NAN;
    assert!(simulate(&bad).is_err());
}

/// Megatron's interleaved schedule runs the output layer and loss in the last model
/// chunk of the last stage (and the embedding in the first chunk of the first), not
/// spread over the stage's virtual stages. The same work pinned there is slower than
/// spread: the heavy chunk holds back the chunks that wait for it. One chunk per stage
/// (1F1B) cannot tell the two apart. Here Nemotron-22B's shape on 64 H100s (NeMo
/// 24.07): 4 stages of 10 one-layer chunks, 16 micro-batches, an output layer over a
/// 256k vocabulary worth 6 layers' forward and 4.5 layers' backward, and overlapped
/// sends of a tenth of a layer's forward (that row's 0.5 ms against 4.5 ms). With
/// free sends the schedule's slack absorbs the heavy chunk exactly; with these it
/// costs 1% (729.6 -> 736.8 layer-forwards; the row itself: 3.358 -> 3.443 s).
#[test]
fn an_output_layer_runs_in_the_last_chunk_only() {
    const P2P: f64 = 0.1;
    let run = |s: Schedule, v: u32, pinned: bool| {
        let mut inp = SimInput::uniform(s, 4, 16, v, 10.0, 20.0);
        inp.p2p_s = vec![P2P; 4];
        let last = &mut inp.stages[3];
        *last = StageSpec::compute_only(10.0 + 6.0, 20.0 + 9.0);
        if pinned {
            last.last_chunk_s = (6.0, 9.0);
        }
        simulate(&inp).unwrap()
    };
    let (spread, pinned) = (
        run(Schedule::Interleaved, 10, false),
        run(Schedule::Interleaved, 10, true),
    );
    assert!(
        pinned.step_s > spread.step_s * 1.005,
        "{} vs {}",
        pinned.step_s,
        spread.step_s
    );
    // Same work: the steady state's bound does not move.
    assert!(rel(pinned.ideal_s, spread.ideal_s) < 1e-12);
    let one = |p| run(Schedule::OneFOneB, 1, p).step_s;
    assert_eq!(one(true), one(false));
}

/// Overlapped sends still cost something under the interleaved schedule: micro-batch
/// 0's forward visits all p x v model chunks in turn, and stage 0 has exactly p
/// micro-batches of chunk work per round to hide the round's p sends under, so each
/// send of the chain waits; the backward mirrors it. The closed form charges
/// 2 (p v - 1) sends (`send_chain_s`), and the simulator, playing Megatron's order
/// event by event, shows exactly that over its compute-only closed form, whatever m
/// (hand count: p 4, v 5 -> 38 sends; p 8, v 10 -> 158), on uniform stages and with
/// the output layer pinned to the last chunk, where the heavy chunk leaves no slack.
#[test]
fn interleaved_overlapped_sends_cost_the_fill_and_drain_chain() {
    use llmplan::analytic::pipeline::send_chain_s;
    const SEND: f64 = 0.3;
    for (p, v) in [(2u32, 2u32), (4, 5), (4, 10), (8, 5), (8, 10), (16, 2)] {
        for m in [2 * p, 4 * p, 8 * p] {
            for pinned in [false, true] {
                let mut inp = SimInput::uniform(Schedule::Interleaved, p, m, v, 10.0, 20.0);
                inp.p2p_s = vec![SEND; p as usize];
                if pinned {
                    let last = &mut inp.stages[p as usize - 1];
                    *last = StageSpec::compute_only(16.0, 29.0);
                    last.last_chunk_s = (6.0, 9.0);
                }
                let r = simulate(&inp).unwrap();
                let fwd: Vec<f64> = inp.stages.iter().map(|s| s.fwd_s).collect();
                let bwd: Vec<f64> = inp.stages.iter().map(|s| s.bwd_s).collect();
                let closed = pipeline_s(Schedule::Interleaved, &fwd, &bwd, m, v)
                    + send_chain_s(Schedule::Interleaved, p, v, SEND, true);
                let hand = 2.0 * (f64::from(p * v) - 1.0) * SEND;
                assert!(rel(send_chain_s(Schedule::Interleaved, p, v, SEND, true), hand) < 1e-12);
                assert!(
                    rel(r.step_s, closed) < 1e-9,
                    "p {p} v {v} m {m} pinned {pinned}: sim {} vs closed form {closed}",
                    r.step_s
                );
                // The closed form `simulate` reports beside its own is the same.
                assert!(rel(r.closed_form_s, closed) < 1e-12);
            }
        }
    }
    // Blocking sends are in each stage's time instead (one per chunk each way, as
    // `estimate` prices them); other schedules have no chain.
    let mut inp = SimInput::uniform(Schedule::Interleaved, 4, 16, 5, 10.0, 20.0);
    inp.p2p_s = vec![SEND; 4];
    inp.p2p_blocking = true;
    let r = simulate(&inp).unwrap();
    let with_sends = pipeline_s(
        Schedule::Interleaved,
        &[10.0 + 5.0 * SEND; 4],
        &[20.0 + 5.0 * SEND; 4],
        16,
        5,
    );
    assert!(rel(r.closed_form_s, with_sends) < 1e-12);
    assert_eq!(send_chain_s(Schedule::Interleaved, 4, 5, SEND, false), 0.0);
    assert_eq!(send_chain_s(Schedule::OneFOneB, 4, 1, SEND, true), 0.0);
    assert_eq!(send_chain_s(Schedule::Interleaved, 1, 5, SEND, true), 0.0);
}

/// A stage's end chunk may lack layers (negative pinned work), but no chunk may end up
/// with a negative duration, and pinned work must be finite.
#[test]
fn end_chunk_work_that_leaves_a_chunk_negative_is_refused() {
    let mut inp = SimInput::uniform(Schedule::Interleaved, 4, 8, 2, 10.0, 20.0);
    inp.stages[3].last_chunk_s = (-4.0, -8.0);
    // Forward chunks 7 and 3 s, backward 14 and 6 s: fine.
    assert!(simulate(&inp).is_ok());
    // 10/2 - 12/2 = -1 s for the last chunk's forward.
    inp.stages[3].last_chunk_s = (-12.0, -8.0);
    let e = simulate(&inp).unwrap_err().to_string();
    assert!(e.contains("stages[3]") && e.contains("negative"), "{e}");
    inp.stages[3].last_chunk_s = (f64::NAN, 0.0);
    assert!(simulate(&inp).unwrap_err().to_string().contains("finite"));
}
