//! Closed forms for pipeline schedules: step time over per-stage micro-batch times,
//! and the micro-batches each stage holds in flight (which sizes activation memory).
//!
//! Uniform stages reproduce the papers: GPipe and 1F1B take (m + p - 1)(t_f + t_b)
//! (Narayanan et al. 2021, bubble (p-1)/m of the ideal); interleaved with v chunks
//! (m + (p-1)/v)(t_f + t_b); ZB-H1 leaves a bubble of (p-1)(t_F + t_B - t_W) (Qi et
//! al. 2024), which with the backward split evenly into input and weight gradients is
//! (p-1) t_f; DualPipe's (p/2 - 1)(t_F&B + t_B - 3 t_W) (DeepSeek-V3 report, Table 2)
//! reduces the same way to (p/2 - 1) t_f. Uneven stages: the slowest stage sets the
//! steady state, every stage adds its own fill and drain.

use crate::spec::layout::Schedule;

/// Pipeline time for one step, seconds, given each stage's forward and backward
/// time per micro-batch (`fwd[i]`, `bwd[i]`), `m` micro-batches and `v` virtual stages.
pub fn pipeline_s(schedule: Schedule, fwd: &[f64], bwd: &[f64], m: u32, v: u32) -> f64 {
    let p = fwd.len();
    if p == 0 {
        return 0.0;
    }
    let m = m as f64;
    let mut sum = 0.0;
    let mut max_fb: f64 = 0.0;
    let mut max_f: f64 = 0.0;
    for i in 0..p {
        let fb = fwd[i] + bwd[i];
        sum += fb;
        max_fb = max_fb.max(device_load(schedule, fwd, bwd, i));
        max_f = max_f.max(fwd[i]);
    }
    let pf = p as f64;
    match schedule {
        Schedule::Gpipe | Schedule::OneFOneB => (m - 1.0) * max_fb + sum,
        Schedule::Interleaved => {
            let v = v.max(1) as f64;
            (m - 1.0 / v) * max_fb + sum / v
        }
        Schedule::ZbH1 => m * max_fb + (pf - 1.0) * max_f,
        Schedule::DualPipe => {
            let max_fh = (0..p)
                .map(|i| {
                    let j = partner(schedule, i, p);
                    (fwd[i] + bwd[i] / 2.0 + fwd[j] + bwd[j] / 2.0) / 2.0
                })
                .fold(0.0, f64::max);
            m * max_fb + (pf / 2.0 - 1.0).max(0.0) * max_fh
        }
    }
}

/// Pipeline sends on the critical path of an interleaved schedule whose sends overlap
/// compute, seconds per step: `2 (p v - 1) x send_s`. Micro-batch 0's forward visits
/// all `p v` model chunks in order, one send between each pair; stage 0 fills each
/// round with its other `p - 1` micro-batches' chunks, which cover the round's compute
/// hops but not its sends (Megatron's interleaved warm-up runs `p` micro-batches per
/// chunk, so it has exactly that much work to hide them under). The backward's chain
/// is the mirror image. In the steady state the sends hide under compute. 0 for the
/// other schedules (1F1B's sends are in each stage's time: it alternates, so it waits
/// on every send) and when `p = 1`. The event simulator plays the same schedule and
/// shows the same `2 (p v - 1)` sends over its closed form (tests/sim_schedules.rs).
pub fn send_chain_s(schedule: Schedule, p: u32, v: u32, send_s: f64, overlapped: bool) -> f64 {
    if schedule != Schedule::Interleaved || !overlapped || p <= 1 {
        return 0.0;
    }
    2.0 * (f64::from(p) * f64::from(v.max(1)) - 1.0) * send_s
}

/// The stage whose work shares a GPU with stage `i` of `p`: DualPipe's rank `i` runs
/// stage `i` of one direction and stage `p - 1 - i` of the other, half the
/// micro-batches each (DeepSeek-V3 report, section 3.2.1); otherwise `i` itself.
pub fn partner(schedule: Schedule, i: usize, p: usize) -> usize {
    if schedule == Schedule::DualPipe {
        p - 1 - i
    } else {
        i
    }
}

/// Forward plus backward work per micro-batch on the GPU that runs stage `i`,
/// seconds: the stage's own, or under DualPipe the mean of its pair (so a heavy last
/// stage shares a GPU with the light first one).
pub fn device_load(schedule: Schedule, fwd: &[f64], bwd: &[f64], i: usize) -> f64 {
    let j = partner(schedule, i, fwd.len());
    (fwd[i] + bwd[i] + fwd[j] + bwd[j]) / 2.0
}

/// The stage whose GPU is most loaded ([`device_load`]): it sets the steady state, and
/// the step's breakdown is read off it. 0 when there are no stages.
pub fn busiest_stage(schedule: Schedule, fwd: &[f64], bwd: &[f64]) -> usize {
    (0..fwd.len())
        .max_by(|&a, &b| {
            device_load(schedule, fwd, bwd, a).total_cmp(&device_load(schedule, fwd, bwd, b))
        })
        .unwrap_or(0)
}

/// Ideal time (no bubble): m x the most loaded GPU's work per micro-batch, seconds.
pub fn ideal_s(schedule: Schedule, fwd: &[f64], bwd: &[f64], m: u32) -> f64 {
    let max_fb = (0..fwd.len())
        .map(|i| device_load(schedule, fwd, bwd, i))
        .fold(0.0, f64::max);
    m as f64 * max_fb
}

/// Micro-batches whose activations stage `i` (0-based) of `p` holds at its peak,
/// in units of whole-stage micro-batches (interleaved chunks count as 1/v each).
///
/// 1F1B: min(p - i, m) (stage 0 holds p). Interleaved (Megatron's warm-up of
/// 2(p - i - 1) + (v - 1)p chunks, plus the one running): stage 0 holds
/// p (1 + (p-1)/(p v)) (Korthikanti et al. 2022, section 4.2.3). GPipe: all m. ZB-H1
/// keeps 1F1B's peak (Qi et al. 2024). DualPipe: p + 1 (DeepSeek-V3 report, Table 2).
pub fn in_flight(schedule: Schedule, i: u32, p: u32, m: u32, v: u32) -> f64 {
    let (i, p, m, v) = (i as f64, p as f64, m as f64, v.max(1) as f64);
    match schedule {
        Schedule::Gpipe => m,
        Schedule::OneFOneB | Schedule::ZbH1 => (p - i).min(m),
        Schedule::Interleaved => {
            let chunks = (2.0 * (p - i - 1.0) + (v - 1.0) * p + 1.0).min(m * v);
            chunks / v
        }
        Schedule::DualPipe => (p + 1.0).min(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_closed_forms() {
        // p = 4, m = 8, t_f = 1, t_b = 2.
        let f = [1.0; 4];
        let b = [2.0; 4];
        // (m + p - 1)(t_f + t_b) = 11 x 3.
        assert_eq!(pipeline_s(Schedule::OneFOneB, &f, &b, 8, 1), 33.0);
        assert_eq!(pipeline_s(Schedule::Gpipe, &f, &b, 8, 1), 33.0);
        // Interleaved v = 2: (m + (p-1)/v)(t_f + t_b) = 9.5 x 3.
        assert_eq!(
            pipeline_s(Schedule::Interleaved, &[1.0; 4], &[2.0; 4], 8, 2),
            28.5
        );
        // ZB-H1: m(t_f + t_b) + (p-1) t_f = 24 + 3.
        assert_eq!(pipeline_s(Schedule::ZbH1, &f, &b, 8, 1), 27.0);
    }

    /// The search's fast path takes a stage kind's memory at its first stage: outside
    /// DualPipe no later stage holds more micro-batches in flight.
    #[test]
    fn in_flight_never_rises_with_the_stage_index() {
        for s in [
            Schedule::Gpipe,
            Schedule::OneFOneB,
            Schedule::ZbH1,
            Schedule::Interleaved,
        ] {
            for p in 1..=32u32 {
                for m in [1, 2, 3, 7, 16, 64, 1000] {
                    for v in 1..=4 {
                        for i in 1..p {
                            let (a, b) = (in_flight(s, i - 1, p, m, v), in_flight(s, i, p, m, v));
                            assert!(b <= a, "{s:?} p {p} m {m} v {v}: stage {i} {b} > {a}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn interleaved_first_stage_memory_matches_korthikanti() {
        // p (1 + (p-1)/(p v)) for p = 8, v = 3, m large.
        let got = in_flight(Schedule::Interleaved, 0, 8, 64, 3);
        let want = 8.0 * (1.0 + 7.0 / 24.0);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert_eq!(in_flight(Schedule::OneFOneB, 0, 8, 64, 1), 8.0);
        assert_eq!(in_flight(Schedule::OneFOneB, 7, 8, 64, 1), 1.0);
        assert_eq!(in_flight(Schedule::OneFOneB, 0, 8, 3, 1), 3.0);
    }
}
