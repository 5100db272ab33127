//! Failures, checkpoints and goodput (issue 8): the Llama 3 calibration, the Young/Daly
//! interval, the Monte Carlo against the closed form, spares, asynchronous checkpoints,
//! and the `reliability:` section of a scenario. Each assertion prints its arithmetic.

use llmplan::analytic::reliability::{
    closed_form, erlang_b, job_failure_rate, monte_carlo, young_daly_interval, Plan,
};
use llmplan::analytic::{Estimate, EstimateOptions};
use llmplan::setup::estimate;
use llmplan::spec::reliability::{
    FailureDistribution, Reliability, DEFAULT_GPU_MTBF_HOURS, DEFAULT_NODE_MTBF_HOURS,
};
use llmplan::spec::scenario;

fn est(name: &str, sets: &[&str]) -> Estimate {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = scenario::load(Some(name), &sets).unwrap();
    estimate(&sc, &EstimateOptions::default()).unwrap()
}

fn plan(mtbf_s: f64, stall_s: f64, work_s: f64) -> Plan {
    Plan {
        work_s,
        interval_s: young_daly_interval(stall_s, mtbf_s),
        stall_s,
        durable_lag_s: 0.0,
        restart_s: 600.0,
        mtbf_s,
        hardware_fraction: 0.7,
        spare_nodes: 0,
        replacement_wait_s: 0.0,
        node_repair_s: 86400.0,
        distribution: FailureDistribution::Exponential,
        weibull_shape: 0.7,
    }
}

#[test]
fn default_failure_rate_round_trips_to_llama3_466_interruptions() {
    // 16,384 GPUs x 54 d x 24 h = 21,233,664 GPU-hours over 0.587 x 419 = 245.95 GPU
    // interruptions = 86,332 h per GPU; 2,048 hosts x 1,296 h = 2,654,208 host-hours over
    // 466 - 245.95 = 220.05 = 12,062 h per host.
    assert!(
        (DEFAULT_GPU_MTBF_HOURS - 86_332.2).abs() < 0.1,
        "{DEFAULT_GPU_MTBF_HOURS}"
    );
    assert!(
        (DEFAULT_NODE_MTBF_HOURS - 12_062.0).abs() < 0.1,
        "{DEFAULT_NODE_MTBF_HOURS}"
    );
    let r = Reliability::default();
    let per_s = job_failure_rate(&r, 16384.0, 2048.0);
    let in_54_days = per_s * 54.0 * 86400.0;
    assert!(
        (in_54_days - 466.0).abs() < 1e-6,
        "16,384/86,332 h + 2,048/12,062 h = {:.5}/h x 1,296 h = {in_54_days}",
        per_s * 3600.0
    );
}

#[test]
fn llama3_405b_interruptions_and_goodput() {
    let e = est("llama3-405b-h100", &[]);
    let r = e.reliability.as_ref().expect("reliability block");
    // Interruptions over 54 days of wall time: the job does not fail while restarting,
    // so slightly fewer than the 466 the rate alone gives.
    let per_54 = r.interruptions * 54.0 / r.days_expected;
    assert!(
        (466.0 / 1.5..=466.0 * 1.5).contains(&per_54),
        "{:.1} interruptions over {:.1} days = {per_54:.1} per 54 days vs Llama 3's 466",
        r.interruptions,
        r.days_expected
    );
    // Goodput by hand: lambda = 466 / (54 x 86,400 s); checkpoint = params x (2 + 12) B
    // written at min(2,048 nodes x 25 GB/s, 2 TB/s) = 2 TB/s; interval = Young's
    // sqrt(2 x write x MTBF) rounded to whole steps; lost per failure = (interval + write)/2;
    // down per failure = 600 s restart + the checkpoint read; wall = (T + n_ckpt x write)
    // / (1 - lambda x lost) x (1 + lambda x down).
    let lambda = 466.0 / (54.0 * 86400.0);
    let c = e.model.params_total * 14.0;
    let w = c / 2e12;
    let yd = (2.0 * w / lambda).sqrt();
    let steps = (yd / e.time.step_s).round();
    let tau = steps * e.time.step_s;
    let t = e.time.steps * e.time.step_s;
    let n_ckpt = (t / tau).ceil() - 1.0;
    let lost = (tau + w) / 2.0;
    let down = 600.0 + w;
    let running = (t + n_ckpt * w) / (1.0 - lambda * lost);
    let wall = running * (1.0 + lambda * down);
    let goodput = t / wall;
    let arithmetic = format!(
        "C = {:.3e} params x 14 B = {:.2} TB; write {w:.2} s; MTBF {:.0} s; interval sqrt(2 x {w:.2} x {:.0}) = \
         {yd:.0} s -> {steps} steps = {tau:.0} s; lost {lost:.0} s + down {down:.0} s per failure; \
         T = {:.1} d -> wall {:.1} d; goodput {goodput:.4} (model {:.4})",
        e.model.params_total,
        c / 1e12,
        1.0 / lambda,
        1.0 / lambda,
        t / 86400.0,
        wall / 86400.0,
        r.goodput
    );
    assert!((goodput - r.goodput).abs() < 1e-9, "{arithmetic}");
    assert!((r.checkpoint_bytes - c).abs() / c < 1e-12, "{arithmetic}");
    // Llama 3 reports "higher than 90%" effective training time.
    assert!((0.88..0.97).contains(&r.goodput), "{arithmetic}");
    assert!(r.days_expected > r.days_ideal && r.usd_expected > r.usd_ideal);
    assert!(r.days_p10 <= r.days_p50 && r.days_p50 <= r.days_p90);
    eprintln!("{arithmetic}");
}

#[test]
fn young_daly_interval_is_sqrt_2_write_mtbf() {
    for (w, m) in [(2.84, 10011.0), (12.8, 6675.0), (60.0, 3600.0), (1.0, 1e6)] {
        let t = young_daly_interval(w, m);
        assert!(
            ((t * t) - 2.0 * w * m).abs() <= 1e-9 * 2.0 * w * m,
            "{t}^2 vs 2 x {w} x {m}"
        );
    }
    // The estimate reports the same optimum, and the interval it picks is that rounded
    // to whole steps.
    let e = est("llama3-405b-h100", &[]);
    let r = e.reliability.unwrap();
    let expect = (2.0 * r.checkpoint_write_s * r.job_mtbf_hours * 3600.0).sqrt();
    assert!((r.young_daly_interval_s - expect).abs() < 1e-9 * expect);
    assert!((r.checkpoint_interval_s - expect).abs() <= e.time.step_s / 2.0 + 1e-9);
    // And it is the optimum of the first-order wall time: neither half nor double beats it.
    let base = plan(
        r.job_mtbf_hours * 3600.0,
        r.checkpoint_stall_s,
        100.0 * 86400.0,
    );
    let wall = |f: f64| {
        closed_form(&Plan {
            interval_s: base.interval_s * f,
            ..base.clone()
        })
        .wall_s
    };
    assert!(wall(1.0) < wall(0.5) && wall(1.0) < wall(2.0));
}

#[test]
fn setting_the_interval_overrides_young_daly() {
    let e = est(
        "llama3-405b-h100",
        &["reliability.checkpoint_interval_s=3600"],
    );
    let r = e.reliability.unwrap();
    assert!(r.interval_from_scenario);
    assert!((r.checkpoint_interval_s - 3600.0).abs() <= e.time.step_s / 2.0 + 1e-9);
    let d = est("llama3-405b-h100", &[]).reliability.unwrap();
    assert!(
        r.goodput < d.goodput,
        "hourly checkpoints lose more than the optimum"
    );
}

#[test]
fn monte_carlo_mean_within_two_percent_of_closed_form() {
    let e = est("llama3-405b-h100", &[]);
    let r = e.reliability.unwrap();
    let rel = (r.days_mc_mean - r.days_expected).abs() / r.days_expected;
    assert!(
        rel < 0.02,
        "MC {:.3} d vs closed form {:.3} d",
        r.days_mc_mean,
        r.days_expected
    );
    let irel = (r.interruptions_mc_mean - r.interruptions).abs() / r.interruptions;
    assert!(
        irel < 0.02,
        "{} vs {}",
        r.interruptions_mc_mean,
        r.interruptions
    );
    // Synthetic plans: short and long MTBF, sync and async, with spares.
    let cases = [
        plan(3600.0, 30.0, 20.0 * 86400.0),
        plan(10_000.0, 3.0, 60.0 * 86400.0),
        Plan {
            durable_lag_s: 40.0,
            interval_s: 400.0,
            ..plan(7200.0, 2.0, 30.0 * 86400.0)
        },
        Plan {
            spare_nodes: 2,
            replacement_wait_s: 4.0 * 3600.0,
            ..plan(7200.0, 10.0, 30.0 * 86400.0)
        },
    ];
    for p in cases {
        let cf = closed_form(&p);
        let mc = monte_carlo(&p, 400, 7).unwrap();
        let rel = (mc.wall_mean_s - cf.wall_s).abs() / cf.wall_s;
        assert!(
            rel < 0.02,
            "{p:?}: MC {} vs closed {}",
            mc.wall_mean_s,
            cf.wall_s
        );
    }
}

#[test]
fn same_seed_same_numbers() {
    let a = est("llama3-405b-h100", &["reliability.mc_runs=200"]).reliability;
    let b = est("llama3-405b-h100", &["reliability.mc_runs=200"]).reliability;
    assert_eq!(a, b);
    let c = est(
        "llama3-405b-h100",
        &["reliability.mc_runs=200", "reliability.seed=99"],
    )
    .reliability
    .unwrap();
    assert_ne!(a.unwrap().days_p90, c.days_p90);
    // Independent of the thread count: run on a one-thread pool.
    let p = plan(5000.0, 5.0, 10.0 * 86400.0);
    let many = monte_carlo(&p, 64, 1).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let one = pool.install(|| monte_carlo(&p, 64, 1).unwrap());
    assert_eq!(many, one);
}

#[test]
fn weibull_failures_keep_the_mean_rate() {
    let e = est(
        "llama3-405b-h100",
        &[
            "reliability.distribution=weibull",
            "reliability.mc_runs=200",
        ],
    );
    let r = e.reliability.unwrap();
    assert!(r.all_finite());
    // Shape 0.7 bunches failures after restarts, but the mean time between them is the
    // same, so the count stays within a few percent.
    let rel = (r.interruptions_mc_mean - r.interruptions).abs() / r.interruptions;
    assert!(
        rel < 0.1,
        "{} vs {}",
        r.interruptions_mc_mean,
        r.interruptions
    );
    // Shape 1 is the exponential.
    let p = Plan {
        distribution: FailureDistribution::Weibull,
        weibull_shape: 1.0,
        ..plan(5000.0, 5.0, 20.0 * 86400.0)
    };
    let cf = closed_form(&p);
    let mc = monte_carlo(&p, 300, 3).unwrap();
    assert!((mc.wall_mean_s - cf.wall_s).abs() / cf.wall_s < 0.02);
}

#[test]
fn spares_trade_dollars_for_days() {
    assert_eq!(erlang_b(0, 3.0), 1.0);
    assert!((erlang_b(1, 3.0) - 0.75).abs() < 1e-12);
    assert!(erlang_b(20, 3.0) < 1e-6);
    // A fixed reservation that waits 4 h for a replacement host, with and without
    // 16 hot spares (2 repair days each).
    let base = [
        "reliability.replacement_wait_s=14400",
        "reliability.node_repair_s=172800",
        "reliability.mc_runs=100",
    ];
    let none = est("llama3-405b-h100", &base).reliability.unwrap();
    let mut with = base.to_vec();
    with.push("reliability.spare_nodes=16");
    let spare = est("llama3-405b-h100", &with).reliability.unwrap();
    assert!(
        spare.days_expected < none.days_expected,
        "{} d with spares vs {} d without",
        spare.days_expected,
        none.days_expected
    );
    assert!(spare.spare_usd > 0.0 && none.spare_usd == 0.0);
    // The spares cost 128 GPUs for the whole run.
    let expect = 16.0 * 8.0 * spare.days_expected * 24.0 * 2.0;
    assert!((spare.spare_usd - expect).abs() < 1e-6 * expect);
    assert!(spare.no_spare_probability < 0.2 && none.no_spare_probability == 1.0);
    // The Monte Carlo agrees with the Erlang-B closed form.
    for r in [&none, &spare] {
        let rel = (r.days_mc_mean - r.days_expected).abs() / r.days_expected;
        assert!(rel < 0.02, "{} vs {}", r.days_mc_mean, r.days_expected);
    }
}

#[test]
fn async_checkpoints_stall_less() {
    let sync = est("gpt4-moe-a100", &["reliability.mc_runs=100"])
        .reliability
        .unwrap();
    let asy = est(
        "gpt4-moe-a100",
        &[
            "reliability.checkpoint_mode=async",
            "reliability.mc_runs=100",
        ],
    )
    .reliability
    .unwrap();
    assert!(asy.checkpoint_stall_s < sync.checkpoint_stall_s);
    assert!(asy.checkpoint_overhead < sync.checkpoint_overhead);
    assert!(
        asy.goodput > sync.goodput,
        "{} vs {}",
        asy.goodput,
        sync.goodput
    );
    // The background write finishes before the next snapshot.
    assert!(asy.checkpoint_interval_s >= asy.checkpoint_write_s);
    let rel = (asy.days_mc_mean - asy.days_expected).abs() / asy.days_expected;
    assert!(rel < 0.02, "{} vs {}", asy.days_mc_mean, asy.days_expected);
}

#[test]
fn json_carries_the_reliability_fields() {
    let e = est("gpt4-moe-a100", &["reliability.mc_runs=50"]);
    let v: serde_json::Value = serde_json::from_str(&llmplan::report::estimate_json(&e)).unwrap();
    for f in [
        "goodput",
        "interruptions",
        "checkpoint_interval_s",
        "days_expected",
        "usd_expected",
        "days_p90",
        "usd_p90",
        "days_p10",
        "days_p50",
        "checkpoint_bytes",
        "checkpoint_write_s",
        "lost_work_s",
    ] {
        let x = v["reliability"][f].as_f64();
        assert!(x.is_some_and(f64::is_finite), "reliability.{f} = {x:?}");
    }
    let table = llmplan::report::estimate_table(&e);
    assert!(
        table.contains("With failures") && table.contains("Goodput"),
        "{table}"
    );
    let csv = llmplan::report::estimate_csv(&e);
    assert!(csv.contains("days_expected,") && csv.contains("goodput,"));
}

#[test]
fn reliability_section_parses_and_checks_ranges() {
    let dir = std::env::temp_dir().join(format!("llmplan-rel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = "name: t\nmodel: llama3-8b\ncluster: dgx-h100\ngpus: 64\ntraining:\n  tokens: 1e12\n  seq_len: 8192\n  global_batch_seqs: 512\n";
    let write = |name: &str, extra: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("{base}{extra}")).unwrap();
        p.display().to_string()
    };
    let ok = write(
        "ok.yaml",
        "reliability:\n  gpu_mtbf_hours: 50000\n  checkpoint_mode: async\n  spare_nodes: 1\n  mc_runs: 20\n",
    );
    let sc = scenario::load(Some(&ok), &[]).unwrap();
    assert_eq!(sc.reliability.gpu_mtbf_hours, 50000.0);
    assert_eq!(sc.reliability.node_mtbf_hours, DEFAULT_NODE_MTBF_HOURS);
    let e = estimate(&sc, &EstimateOptions::default()).unwrap();
    assert!(e.reliability.unwrap().all_finite());
    let unknown = write("unknown.yaml", "reliability:\n  mtbf: 5\n");
    let err = scenario::load(Some(&unknown), &[]).unwrap_err().to_string();
    assert!(
        err.contains("unknown.yaml") && err.contains("mtbf"),
        "{err}"
    );
    let zero = write("zero.yaml", "reliability:\n  gpu_mtbf_hours: 0\n");
    let err = scenario::load(Some(&zero), &[]).unwrap_err().to_string();
    assert!(
        err.contains("reliability.gpu_mtbf_hours") && err.contains("zero.yaml:10:"),
        "{err}"
    );
    let runs = write("runs.yaml", "reliability:\n  mc_runs: 0\n");
    assert!(scenario::load(Some(&runs), &[]).is_err());
    let off = write("off.yaml", "reliability:\n  enabled: false\n");
    let sc = scenario::load(Some(&off), &[]).unwrap();
    assert!(estimate(&sc, &EstimateOptions::default())
        .unwrap()
        .reliability
        .is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_job_that_cannot_progress_says_so() {
    // One failure every few seconds against a 600 s restart and a multi-second write.
    let e = est("llama3-405b-h100", &["reliability.gpu_mtbf_hours=0.001"]);
    assert!(e.reliability.is_none());
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("re-do more than half")),
        "{:?}",
        e.warnings
    );
    assert!(e.time.days.is_finite());
}

#[test]
fn normal_approximation_matches_the_monte_carlo_spread() {
    // About 1,500 interruptions per run: the Monte Carlo spread and the compound-Poisson
    // normal approximation used past 1e5 interruptions agree.
    let p = plan(1800.0, 20.0, 30.0 * 86400.0);
    let cf = closed_form(&p);
    let (p10, p50, p90) = llmplan::analytic::reliability::clt_percentiles(&p, &cf);
    let mc = monte_carlo(&p, 800, 11).unwrap();
    let width = mc.wall_p90_s - mc.wall_p10_s;
    let rel = ((p90 - p10) - width).abs() / width;
    assert!(
        rel < 0.1,
        "normal {:.0} s vs MC {:.0} s wide",
        p90 - p10,
        width
    );
    assert!((p50 - mc.wall_p50_s).abs() / mc.wall_p50_s < 0.02);
}
