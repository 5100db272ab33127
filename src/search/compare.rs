//! Layouts side by side: full analytic estimates, and the difference between each
//! layout and the first explained term by term (compute, bubble, each exposed
//! communication, data-parallel sync, optimizer, memory, days and dollars), with the
//! knob changes that drive each term.

use crate::analytic::estimate::StepBreakdown;
use crate::analytic::{Estimate, EstimateOptions};
use crate::error::{Error, Result};
use crate::spec::layout::{Layout, Schedule};
use crate::spec::training::Recompute;
use crate::spec::Scenario;
use crate::units::{thousands, GIB};

use super::recompute_name;
use super::space::SCHEDULES;

/// One compared layout.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The `--layout` text as given.
    pub spec: String,
    /// Its estimate.
    pub estimate: Estimate,
}

/// Parses `tp=8,pp=16,ep=16,...` on top of `base` (the scenario's layout). Keys: tp,
/// pp, dp, ep, cp, vpp, micro_batch (mb), sequence_parallel (sp), zero, schedule,
/// recompute. dp, the schedule and the per-stage layer split go back to their
/// defaults unless given, so a new tp or pp does not clash with the old ones.
pub fn parse_layout(spec: &str, base: &Layout, rc: Recompute) -> Result<(Layout, Recompute)> {
    let mut l = base.clone();
    l.dp = None;
    l.layers_per_stage = None;
    let mut schedule_given = false;
    let mut rc = rc;
    let bad = |m: String| Error::Usage(format!("--layout {spec}: {m}"));
    for kv in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad(format!("'{kv}': expected key=value")))?;
        let (k, v) = (k.trim().trim_start_matches("layout."), v.trim());
        let num = || {
            v.parse::<u32>()
                .map_err(|_| bad(format!("{k}: '{v}' is not a whole number")))
        };
        match k {
            "tp" => l.tp = num()?,
            "pp" => l.pp = num()?,
            "dp" => l.dp = Some(num()?),
            "ep" => l.ep = num()?,
            "etp" => l.etp = Some(num()?),
            "cp" => l.cp = num()?,
            "vpp" => l.vpp = num()?,
            "micro_batch" | "mb" => l.micro_batch = num()?,
            "zero" => {
                l.zero = u8::try_from(num()?).map_err(|_| bad("zero must be 0-3".into()))?
            }
            "sequence_parallel" | "sp" => {
                l.sequence_parallel = match v {
                    "true" | "on" | "1" | "yes" => true,
                    "false" | "off" | "0" | "no" => false,
                    _ => return Err(bad(format!("{k}: '{v}' is not true/false"))),
                }
            }
            "schedule" => {
                schedule_given = true;
                l.schedule = Some(
                    SCHEDULES
                        .iter()
                        .copied()
                        .find(|s| s.name() == v)
                        .ok_or_else(|| bad(format!("schedule '{v}': expected gpipe, 1f1b, interleaved, zb-h1 or dualpipe")))?,
                )
            }
            "recompute" => {
                rc = match v {
                    "none" => Recompute::None,
                    "selective" => Recompute::Selective,
                    "full" => Recompute::Full,
                    _ => return Err(bad(format!("recompute '{v}': expected none, selective or full"))),
                }
            }
            _ => {
                return Err(bad(format!(
                    "unknown key '{k}'; known: tp, pp, dp, ep, etp, cp, vpp, micro_batch, sequence_parallel, zero, schedule, recompute"
                )))
            }
        }
    }
    if !schedule_given {
        // Keep a written schedule only where it still fits the (new) vpp.
        let keep = match base.schedule {
            Some(Schedule::Interleaved) => l.vpp > 1,
            Some(_) => l.vpp == 1,
            None => false,
        };
        if !keep {
            l.schedule = None;
        }
    }
    Ok((l, rc))
}

/// Estimates each layout of `specs` on `sc`.
pub fn compare(sc: &Scenario, specs: &[String]) -> Result<Vec<Compared>> {
    if specs.is_empty() {
        return Err(Error::Usage(
            "compare: give at least one --layout (e.g. --layout tp=8,pp=16,ep=16)".into(),
        ));
    }
    specs
        .iter()
        .map(|spec| {
            let (layout, rc) = parse_layout(spec, &sc.layout, sc.training.recompute)?;
            let mut s = sc.clone();
            s.layout = layout;
            s.training.recompute = rc;
            let estimate = crate::setup::estimate(&s, &EstimateOptions::default())
                .map_err(|e| Error::Usage(format!("--layout {spec}: {e}")))?;
            Ok(Compared {
                spec: spec.clone(),
                estimate,
            })
        })
        .collect()
}

/// The step-time terms in display order: (name, seconds).
pub fn terms(b: &StepBreakdown, step_s: f64) -> [(&'static str, f64); 10] {
    let known = b.parts_s();
    [
        ("compute", b.compute_s),
        ("pipeline bubble", b.bubble_s),
        ("TP comm (exposed)", b.tp_comm_s),
        ("EP all-to-all (exposed)", b.ep_comm_s),
        ("CP ring (exposed)", b.cp_comm_s),
        ("PP p2p (exposed)", b.p2p_s),
        ("DP sync (exposed)", b.dp_comm_s),
        ("optimizer", b.optimizer_s),
        ("host offload (exposed)", b.offload_s),
        // Overlap residues: what the terms above do not itemise (the pipeline closed
        // form against the slowest stage's sums). Rounding leaves a residue of a few
        // ulps where nothing is missing.
        ("other (overlap residue)", {
            let r = step_s - known;
            if r.abs() < 1e-9 * step_s {
                0.0
            } else {
                r
            }
        }),
    ]
}

fn knob_changes(a: &Estimate, b: &Estimate) -> Vec<String> {
    let (x, y) = (&a.layout, &b.layout);
    let mut v = Vec::new();
    let mut num = |name: &str, p: u64, q: u64| {
        if p != q {
            v.push(format!("{name} {p}->{q}"));
        }
    };
    num("tp", x.tp.into(), y.tp.into());
    num("pp", x.pp.into(), y.pp.into());
    num("dp", x.dp.into(), y.dp.into());
    num("ep", x.ep.into(), y.ep.into());
    num("cp", x.cp.into(), y.cp.into());
    num("vpp", x.vpp.into(), y.vpp.into());
    num("micro-batch", x.micro_batch.into(), y.micro_batch.into());
    num(
        "micro-batches",
        x.microbatches.into(),
        y.microbatches.into(),
    );
    num("ZeRO", x.zero.into(), y.zero.into());
    if x.schedule != y.schedule {
        v.push(format!("schedule {}->{}", x.schedule, y.schedule));
    }
    if x.recompute != y.recompute {
        v.push(format!(
            "recompute {}->{}",
            recompute_name(x.recompute),
            recompute_name(y.recompute)
        ));
    }
    if x.sequence_parallel != y.sequence_parallel {
        v.push(format!(
            "sequence parallel {}->{}",
            onoff(x.sequence_parallel),
            onoff(y.sequence_parallel)
        ));
    }
    v
}

fn onoff(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// What changing the recompute policy from `a` to `b` does to the compute, in words
/// that name only the policies involved.
fn recompute_effect(a: Recompute, b: Recompute) -> &'static str {
    match (a, b) {
        (_, Recompute::Full) => {
            "full replays the whole forward in backward, about +1/3 of the work"
        }
        (Recompute::Full, _) => "no longer replaying the whole forward in backward",
        (_, Recompute::Selective) => "selective replays the chosen modules' forward in backward",
        _ => "no longer replaying the selected modules",
    }
}

/// Why a term moved, from the knobs that drive it.
fn driver(term: &str, a: &Estimate, b: &Estimate) -> String {
    let (x, y) = (&a.layout, &b.layout);
    let mut why: Vec<String> = Vec::new();
    let ch = |n: &str, p: u32, q: u32| (p != q).then(|| format!("{n} {p}->{q}"));
    let per_stage = |e: &Estimate| e.stages.iter().map(|s| s.layers).max().unwrap_or(0);
    match term {
        "compute" => {
            if x.recompute != y.recompute {
                why.push(format!(
                    "recompute {}->{} ({})",
                    recompute_name(x.recompute),
                    recompute_name(y.recompute),
                    recompute_effect(x.recompute, y.recompute)
                ));
            }
            why.extend(ch(
                "layers on the busiest stage",
                per_stage(a),
                per_stage(b),
            ));
            why.extend(ch("tp", x.tp, y.tp));
            why.extend(ch("cp", x.cp, y.cp));
            why.extend(ch("ep", x.ep, y.ep));
            if x.micro_batch * x.microbatches != y.micro_batch * y.microbatches {
                why.push(format!(
                    "sequences per replica per step {}->{}",
                    x.micro_batch * x.microbatches,
                    y.micro_batch * y.microbatches
                ));
            }
        }
        "pipeline bubble" => {
            why.extend(ch("pp", x.pp, y.pp));
            why.extend(ch("vpp", x.vpp, y.vpp));
            why.extend(ch("micro-batches", x.microbatches, y.microbatches));
            if x.schedule != y.schedule {
                why.push(format!("schedule {}->{}", x.schedule, y.schedule));
            }
            let share = |e: &Estimate| e.time.breakdown.bubble_s / e.time.step_s * 100.0;
            why.push(format!("bubble share {:.1}%->{:.1}%", share(a), share(b)));
            let uneven = |e: &Estimate| {
                let mn = e.stages.iter().map(|s| s.layers).min().unwrap_or(0);
                per_stage(e) != mn
            };
            if uneven(a) || uneven(b) {
                why.push(format!(
                    "layer split {}->{} (the heaviest stage sets the pace; lighter ones wait)",
                    split(a),
                    split(b)
                ));
            }
        }
        "TP comm (exposed)" => {
            why.extend(ch("tp", x.tp, y.tp));
            why.extend(ch("micro-batch", x.micro_batch, y.micro_batch));
            why.extend(ch("micro-batches", x.microbatches, y.microbatches));
            if x.recompute != y.recompute
                && (x.recompute == Recompute::Full || y.recompute == Recompute::Full)
            {
                why.push("full recompute replays the forward collectives".into());
            }
        }
        "EP all-to-all (exposed)" => {
            why.extend(ch("ep", x.ep, y.ep));
            why.extend(ch("tp", x.tp, y.tp));
            if x.tp * x.ep != y.tp * y.ep {
                why.push(format!(
                    "EP group spans {} -> {} GPUs in rank order (beyond the NVLink domain it goes over the network)",
                    x.tp * x.ep,
                    y.tp * y.ep
                ));
            }
            why.extend(ch("micro-batches", x.microbatches, y.microbatches));
        }
        "CP ring (exposed)" => {
            why.extend(ch("cp", x.cp, y.cp));
        }
        "PP p2p (exposed)" => {
            why.extend(ch("pp", x.pp, y.pp));
            why.extend(ch("micro-batches", x.microbatches, y.microbatches));
            why.extend(ch("tp", x.tp, y.tp));
        }
        "DP sync (exposed)" | "optimizer" | "other (overlap residue)" => {
            why.extend(ch("dp", x.dp, y.dp));
            why.extend(ch("ZeRO", x.zero.into(), y.zero.into()));
            why.extend(ch("pp", x.pp, y.pp));
            why.extend(ch("tp", x.tp, y.tp));
        }
        _ => {}
    }
    why.join(", ")
}

/// `3,145,728`, or `3,145,728 -> 1,572,864` when the batch changed.
fn tokens_change(a: u64, b: u64) -> String {
    if a == b {
        thousands(a)
    } else {
        format!("{} -> {}", thousands(a), thousands(b))
    }
}

/// Sentences explaining how `b` differs from `a`, biggest effect first.
pub fn explain(a: &Estimate, b: &Estimate, name_a: &str, name_b: &str) -> Vec<String> {
    let mut out = Vec::new();
    let knobs = knob_changes(a, b);
    let d_step = b.time.step_s - a.time.step_s;
    out.push(format!(
        "{name_b} vs {name_a}: {}; step {:.2} s -> {:.2} s ({:+.2} s, {:+.1}%), {} tokens per step",
        if knobs.is_empty() {
            "same layout".to_string()
        } else {
            knobs.join(", ")
        },
        a.time.step_s,
        b.time.step_s,
        d_step,
        pct(d_step, a.time.step_s),
        tokens_change(
            a.layout.global_batch_seqs * seq_of(a),
            b.layout.global_batch_seqs * seq_of(b)
        ),
    ));
    let ta = terms(&a.time.breakdown, a.time.step_s);
    let tb = terms(&b.time.breakdown, b.time.step_s);
    let mut deltas: Vec<(&str, f64, f64, f64)> = ta
        .iter()
        .zip(tb.iter())
        .map(|(x, y)| (x.0, x.1, y.1, y.1 - x.1))
        .filter(|d| d.3.abs() > 1e-3 * a.time.step_s.max(b.time.step_s))
        .collect();
    deltas.sort_by(|p, q| q.3.abs().total_cmp(&p.3.abs()).then(p.0.cmp(q.0)));
    for (name, va, vb, d) in deltas {
        let why = driver(name, a, b);
        out.push(format!(
            "  {name}: {:.2} s -> {:.2} s ({:+.2} s){}",
            va,
            vb,
            d,
            if why.is_empty() {
                String::new()
            } else {
                format!(" - {why}")
            }
        ));
    }
    // Memory, part by part on the busiest stage.
    let gib = |x: f64| x / GIB;
    let (ma, mb) = (&a.memory.breakdown, &b.memory.breakdown);
    let parts = [
        ("weights", ma.weights, mb.weights),
        ("gradients", ma.gradients, mb.gradients),
        ("optimizer", ma.optimizer, mb.optimizer),
        ("activations", ma.activations, mb.activations),
        ("other", ma.other, mb.other),
    ];
    let moved: Vec<String> = parts
        .iter()
        .filter(|p| (p.2 - p.1).abs() > 0.05 * GIB)
        .map(|p| format!("{} {:+.1} GiB", p.0, gib(p.2 - p.1)))
        .collect();
    out.push(format!(
        "  memory: {:.1} GiB -> {:.1} GiB of {:.1} GiB ({:+.1} GiB{}){}",
        gib(a.memory.peak_bytes),
        gib(b.memory.peak_bytes),
        gib(b.memory.capacity_bytes),
        gib(b.memory.peak_bytes - a.memory.peak_bytes),
        if moved.is_empty() {
            String::new()
        } else {
            format!(": {}", moved.join(", "))
        },
        if b.memory.fits { "" } else { " - does NOT fit" }
    ));
    let steps_note = if (a.time.steps - b.time.steps).abs() > 0.5 {
        format!(
            "; {:.0} -> {:.0} steps (the batch rounds differently)",
            a.time.steps, b.time.steps
        )
    } else {
        String::new()
    };
    out.push(format!(
        "  run: {:.1} -> {:.1} days ({:+.1}%), ${:.2}M -> ${:.2}M ({:+.1}%), MFU {:.1}% -> {:.1}%, GPUs {} -> {}{}",
        a.time.days,
        b.time.days,
        pct(b.time.days - a.time.days, a.time.days),
        a.cost.usd / 1e6,
        b.cost.usd / 1e6,
        pct(b.cost.usd - a.cost.usd, a.cost.usd),
        a.mfu * 100.0,
        b.mfu * 100.0,
        a.gpus,
        b.gpus,
        steps_note
    ));
    out
}

fn seq_of(e: &Estimate) -> u64 {
    // Model FLOPs per step are 6 x active matmul parameters per token.
    let per_seq = e.flops.model_per_step / e.layout.global_batch_seqs.max(1) as f64;
    (per_seq / (6.0 * e.model.params_active_matmul)).round() as u64
}

/// "8x8+8x7" (stages x layers).
fn split(e: &Estimate) -> String {
    let mut counts: Vec<(u32, u32)> = Vec::new();
    for s in &e.stages {
        match counts.iter_mut().find(|c| c.0 == s.layers) {
            Some(c) => c.1 += 1,
            None => counts.push((s.layers, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.0));
    counts
        .iter()
        .map(|(l, n)| format!("{n}x{l}"))
        .collect::<Vec<_>>()
        .join("+")
}

fn pct(d: f64, base: f64) -> f64 {
    if base == 0.0 {
        0.0
    } else {
        d / base * 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::tokens_change;

    #[test]
    fn tokens_are_grouped_and_shown_once_when_unchanged() {
        // GPT-3 175B's batch: 1,536 sequences x 2,048 tokens = 3,145,728.
        assert_eq!(tokens_change(3_145_728, 3_145_728), "3,145,728");
        assert_eq!(
            tokens_change(3_145_728, 1_572_864),
            "3,145,728 -> 1,572,864"
        );
    }
}
