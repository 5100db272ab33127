//! A rack's failure domain in the goodput model (`analytic::reliability::rack`): a
//! fault that stops a whole NVL72 rack is one more interruption term, `racks /
//! rack_mtbf`, counted only when `reliability.rack_mtbf_hours` is set (no published
//! rate exists for NVL72 racks), and shown in the goodput output.

use llmplan::analytic::{Estimate, EstimateOptions};
use llmplan::report::estimate::estimate_table;
use llmplan::setup::estimate;
use llmplan::spec::reliability::{DEFAULT_GPU_MTBF_HOURS, DEFAULT_NODE_MTBF_HOURS};
use llmplan::spec::scenario;

fn est(name: &str, sets: &[&str]) -> Estimate {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = scenario::load(Some(name), &sets).unwrap();
    estimate(&sc, &EstimateOptions::default()).unwrap()
}

fn rack_note(e: &Estimate) -> Option<&String> {
    e.warnings.iter().find(|w| w.contains("rack-level faults"))
}

/// Without a rate the term is zero, the job's rate is the GPU and host terms alone, and
/// the estimate says that rack faults are not counted. Llama 3 405B on 9,216 GB300
/// (tp 8 tiles 72): 128 racks, 2,304 trays of 4.
#[test]
fn without_a_rate_rack_faults_are_named_and_not_counted() {
    let e = est("llama3-405b-gb300", &[]);
    let r = e.reliability.as_ref().unwrap();
    assert_eq!((r.nvlink_domains, r.nodes), (128, 2304));
    assert_eq!(
        (r.rack_failure_rate_per_hour, r.rack_interruptions),
        (0.0, 0.0)
    );
    let base = 9216.0 / DEFAULT_GPU_MTBF_HOURS + 2304.0 / DEFAULT_NODE_MTBF_HOURS;
    assert!((r.failure_rate_per_hour - base).abs() < 1e-12);
    let note = rack_note(&e).expect("no rack note");
    assert!(
        note.contains("not counted")
            && note.contains("rack_mtbf_hours")
            && note.contains("128 racks"),
        "{note}"
    );
    // Eight-GPU nodes: an NVLink domain is a host, whose faults the host term counts.
    let dgx = est("llama3-405b-h100", &[]);
    assert!(rack_note(&dgx).is_none());
    assert_eq!(dgx.reliability.unwrap().rack_failure_rate_per_hour, 0.0);
}

/// With a rate (5,000 h per rack here: an input for the arithmetic, not a published
/// figure) the job's rate gains 128 / 5,000 = 0.0256 per hour, interruptions rise in
/// proportion to the rate over the run, the rack share of them is 0.0256 / lambda,
/// goodput falls, and the goodput row shows the rack-level interruptions.
#[test]
fn a_rack_rate_adds_interruptions_in_proportion() {
    let base = est("llama3-405b-gb300", &[]);
    let with = est("llama3-405b-gb300", &["reliability.rack_mtbf_hours=5000"]);
    let (b, r) = (
        base.reliability.unwrap(),
        with.reliability.as_ref().unwrap(),
    );
    assert!((r.rack_failure_rate_per_hour - 128.0 / 5000.0).abs() < 1e-12);
    assert!((r.failure_rate_per_hour - (b.failure_rate_per_hour + 0.0256)).abs() < 1e-12);
    let share = 0.0256 / r.failure_rate_per_hour;
    assert!((r.rack_interruptions / r.interruptions - share).abs() < 1e-12);
    assert!(r.interruptions > b.interruptions && r.goodput < b.goodput);
    assert!(r.days_expected > b.days_expected);
    let note = rack_note(&with).unwrap();
    assert!(
        note.contains("one per 5000 h per rack over 128 racks"),
        "{note}"
    );
    let table = estimate_table(&with);
    let shown = format!(
        "{:.0} of them rack-level over 128 racks",
        r.rack_interruptions
    );
    assert!(table.contains(&shown), "{table}");
}

/// A job in 64-GPU segments (tp 8 x ep 8 on GB200 NVL72) occupies one rack per 64
/// GPUs: 1,024 GPUs, 16 racks (15 would hold them packed 72 per rack).
#[test]
fn racks_follow_the_segment_the_layout_fills() {
    let e = est(
        "deepseek-v3-h800",
        &[
            "cluster=gb200-nvl72",
            "gpus=1024",
            "layout.tp=8",
            "layout.ep=8",
            "layout.etp=8",
            "layout.schedule=1f1b",
            "reliability.rack_mtbf_hours=5000",
        ],
    );
    let r = e.reliability.unwrap();
    assert_eq!(r.nvlink_domains, 16);
    assert!((r.rack_failure_rate_per_hour - 16.0 / 5000.0).abs() < 1e-12);
}

#[test]
fn a_bad_rack_rate_is_an_input_error() {
    let sets = vec!["reliability.rack_mtbf_hours=-1".to_string()];
    let e = scenario::load(Some("llama3-405b-gb300"), &sets).unwrap_err();
    assert!(e.to_string().contains("reliability.rack_mtbf_hours"), "{e}");
}
