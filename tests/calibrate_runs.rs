//! `llmplan calibrate runs`: recovering known factors from perturbed published runs,
//! and reading real public training logs.

use llmplan::analytic::EstimateOptions;
use llmplan::spec::yaml::Source;
use llmplan::spec::{ClusterProfile, GpuProfile};
use llmplan::validate::runs::{self, Factors};
use llmplan::validate::{builtin_rows, logs};

/// Published A100 runs (Narayanan 2021 Table 1, Korthikanti 2022) as runs whose
/// "measured" step is the model's own with `truth` applied to the profiles.
fn perturbed(truth: &Factors) -> Vec<runs::Run> {
    let rows: Vec<_> = builtin_rows()
        .unwrap()
        .into_iter()
        .filter(|r| r.id().starts_with("N21-T1") || r.id().starts_with("K22-0"))
        .collect();
    let (mut rs, _) = runs::runs_from_rows(&rows);
    assert!(rs.len() >= 15, "{}", rs.len());
    for r in &mut rs {
        let (c, g) = runs::profiles(&r.scenario, truth, "truth");
        let mut sc = r.scenario.clone();
        sc.cluster = c;
        sc.gpu = g;
        r.measured_step_s = llmplan::setup::estimate(&sc, &EstimateOptions::default())
            .unwrap()
            .time
            .step_s;
    }
    rs
}

#[test]
fn recovers_a_perturbation_of_published_runs() {
    // Stated tolerance: clock within 0.02, per-step overhead within 0.1 s, each network
    // efficiency within 15% (exposed communication is a few percent of these steps, so
    // the network factors are the least determined), and the calibrated model within 2%
    // of every perturbed step.
    let truth = Factors {
        scale_up: 0.8,
        scale_out: 0.7,
        clock: 0.93,
        overhead_s: 0.4,
    };
    let rs = perturbed(&truth);
    let c = runs::calibrate(&rs, "test").unwrap();
    let f = c.factors;
    let show = format!("{f:?}\n{:#?}", c.runs);
    assert!((f.clock - truth.clock).abs() <= 0.02, "{show}");
    assert!((f.overhead_s - truth.overhead_s).abs() <= 0.1, "{show}");
    assert!((f.scale_up / truth.scale_up - 1.0).abs() <= 0.15, "{show}");
    assert!(
        (f.scale_out / truth.scale_out - 1.0).abs() <= 0.15,
        "{show}"
    );
    assert!(c.mape_before > 5.0, "{show}");
    for r in &c.runs {
        assert!(r.after_error_pct.abs() <= 2.0, "{show}");
    }
    assert!(c.mape_loo < c.mape_before, "{show}");
}

#[test]
fn unperturbed_runs_fit_the_identity() {
    let rs = perturbed(&Factors::IDENTITY);
    let c = runs::calibrate(&rs, "test").unwrap();
    let f = c.factors;
    assert!(
        (f.clock - 1.0).abs() < 0.005 && f.overhead_s < 0.02,
        "{f:?}"
    );
    assert!(c.mape_after < 0.5, "{}", c.mape_after);
}

#[test]
fn calibrated_profiles_load_back_as_profiles() {
    let rs = perturbed(&Factors::IDENTITY);
    let truth = Factors {
        scale_up: 0.9,
        scale_out: 0.8,
        clock: 0.95,
        overhead_s: 0.25,
    };
    let (c, g) = runs::profiles(&rs[0].scenario, &truth, "ours");
    // Written as JSON (YAML's subset) by `calibrate runs --write`.
    let back: ClusterProfile = Source {
        name: "c.yaml".into(),
        text: serde_json::to_string_pretty(&c).unwrap(),
    }
    .parse()
    .unwrap();
    assert_eq!(back, c);
    assert_eq!(back.step_overhead_s, 0.25);
    let back: GpuProfile = Source {
        name: "g.yaml".into(),
        text: serde_json::to_string_pretty(&g).unwrap(),
    }
    .parse()
    .unwrap();
    assert_eq!(back, g);
    assert_eq!(c.gpu, g.name);
}

#[test]
fn parses_public_megatron_and_torchtitan_logs() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/logs/");
    let m = std::fs::read_to_string(format!("{dir}megatron_mixtral_8x7b_16xh100.log")).unwrap();
    let t = logs::parse("megatron", &m).unwrap();
    // The three lines' "elapsed time per iteration (ms)": 5444.9, 5533.8, 5718.6.
    assert_eq!(t.format, "megatron");
    assert_eq!(t.step_s, vec![5.4449, 5.5338, 5.7186]);
    assert!((logs::median(&t.step_s) - 5.5338).abs() < 1e-12);
    let x = std::fs::read_to_string(format!("{dir}torchtitan_steps.log")).unwrap();
    let t = logs::parse("torchtitan", &x).unwrap();
    // Timestamps 22:30:50.322, 22:31:04.970, 22:31:18.934, 22:31:32.895 ten steps apart.
    assert_eq!(t.format, "torchtitan");
    let want = [1.4648, 1.3964, 1.3961];
    assert_eq!(t.step_s.len(), 3);
    for (a, b) in t.step_s.iter().zip(want) {
        assert!((a - b).abs() < 1e-9, "{:?}", t.step_s);
    }
    assert!(logs::parse("empty", "no times here\n").is_err());
}
