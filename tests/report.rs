//! `llmplan report`: every file written, byte-identical reruns, the report's order,
//! a self-contained page, and the committed `reports/` up to date.

use std::path::{Path, PathBuf};

use llmplan::report::plan::{self, PlanOptions};
use llmplan::spec::catalog;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("llmplan-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// With `validation: true` the report also draws the predicted/published dot plot.
const EXPECTED: [&str; 17] = [
    "layouts.csv",
    "layouts.png",
    "layouts.svg",
    "memory.png",
    "memory.svg",
    "report.html",
    "report.md",
    "sensitivity.png",
    "sensitivity.svg",
    "summary.json",
    "sweep.png",
    "sweep.svg",
    "timeline.png",
    "timeline.svg",
    "validation.csv",
    "validation.png",
    "validation.svg",
];

#[test]
fn writes_every_file_byte_identical_and_refuses_to_overwrite() {
    let opts = PlanOptions {
        validation: true,
        ..PlanOptions::default()
    };
    let a = tmp("a");
    let b = tmp("b");
    plan::generate(Some("gpt3-175b-a100"), &[], &a, &opts, false).unwrap();
    plan::generate(Some("gpt3-175b-a100"), &[], &b, &opts, false).unwrap();
    assert_eq!(files(&a), EXPECTED);
    for f in EXPECTED {
        let x = std::fs::read(a.join(f)).unwrap();
        assert!(x.len() > 100, "{f}: {} bytes", x.len());
        assert!(
            x == std::fs::read(b.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    // No temporary files left behind.
    assert!(files(&a).iter().all(|f| !f.contains(".tmp")));
    // An existing report is kept unless forced.
    let err = plan::generate(Some("gpt3-175b-a100"), &[], &a, &opts, false).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    plan::generate(Some("gpt3-175b-a100"), &[], &a, &opts, true).unwrap();

    // summary.json is the estimate's JSON, error band included (`estimate --format json`).
    let sc = llmplan::spec::scenario::load(Some("gpt3-175b-a100"), &[]).unwrap();
    let mut est = llmplan::setup::estimate(&sc, &Default::default()).unwrap();
    llmplan::validate::band::attach(&mut est, &sc);
    assert_eq!(
        std::fs::read_to_string(a.join("summary.json")).unwrap(),
        llmplan::report::estimate_json(&est)
    );
    let v = std::fs::read_to_string(a.join("validation.csv")).unwrap();
    assert!(v.starts_with("row_id,group,quantity,published,predicted,error_pct\n"));
    let l = std::fs::read_to_string(a.join("layouts.csv")).unwrap();
    assert!(l.lines().count() >= 3 && l.lines().nth(1).unwrap().starts_with("plan,"));
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn answer_first_then_assumptions_charts_warnings_and_a_self_contained_page() {
    let sc = llmplan::spec::scenario::load(Some("llama3-405b-h100"), &[]).unwrap();
    let p = plan::build(&sc, &PlanOptions::default()).unwrap();
    let md = plan::markdown(&p);
    let at = |s: &str| {
        md.find(s)
            .unwrap_or_else(|| panic!("no {s:?} in report.md"))
    };
    assert!(at("## The answer") < at("## Assumptions"));
    assert!(at("## Assumptions") < at("## Charts"));
    assert!(at("## Charts") < at("## Tables"));
    assert!(at("## Tables") < at("## Warnings"));
    for k in [
        "**GPUs:**",
        "**Layout:**",
        "**Training time:**",
        "**Cost:**",
        "**MFU:**",
        "**Memory:**",
        "**With failures:**",
        // The band `estimate` prints (from published runs' errors) was never attached
        // to the report's answer: a planning document without its error bars.
        "**Error band:**",
    ] {
        assert!(at(k) < at("## Assumptions"), "{k}");
    }
    assert!(
        md.contains("p10-p90 of") && md.contains("published"),
        "the band names what it comes from"
    );
    // Every hardware number names its source.
    for s in [&sc.model.source, &sc.gpu.sources["memory_bytes"]] {
        let first: String = s.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        assert!(md.contains(&first), "source {first:?} missing");
    }
    for (stem, _) in plan::CHARTS {
        assert!(md.contains(&format!("({stem}.png)")), "{stem}");
    }

    let dir = tmp("page");
    plan::write(&p, &dir, false).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), plan::CHARTS.len());
    assert!(!html.contains("<script"));
    assert!(!html.contains("<img") && !html.contains("<link"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(!html.contains("@import") && !html.contains("url("));
    assert!(html.contains("@media print"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sensitivity_moves_days_and_dollars_the_right_way() {
    let sc = llmplan::spec::scenario::load(Some("gpt3-175b-a100"), &[]).unwrap();
    let p = plan::build(&sc, &PlanOptions::default()).unwrap();
    let row = |k: &str| p.sensitivity.iter().find(|r| r.input == k).unwrap();
    let (d, u) = (p.est.time.days, p.est.cost.usd);
    let t = row("training tokens");
    assert!(t.low.0 < d && t.high.0 > d && t.low.1 < u && t.high.1 > u);
    let f = row("GPU FLOP/s (peak x efficiency)");
    assert!(f.low.0 > d && f.high.0 < d);
    let price = row("price per GPU-hour");
    assert!((price.low.0 - d).abs() < 1e-9 && (price.high.1 / u - 1.2).abs() < 1e-6);
    let net = row("network bandwidth");
    assert!(net.low.0 >= d - 1e-9 && net.high.0 <= d + 1e-9);
    // Largest swing in days first.
    let swing: Vec<f64> = p
        .sensitivity
        .iter()
        .map(|r| (r.high.0 - r.low.0).abs())
        .collect();
    assert!(swing.windows(2).all(|w| w[0] >= w[1]));
    // The sweep covers three GPU types with a Pareto frontier.
    let mut types: Vec<&str> = p.sweep.points.iter().map(|x| x.gpu_type.as_str()).collect();
    types.dedup();
    assert_eq!(types.len(), 3, "{types:?}");
    assert!(p.sweep.points.iter().any(|x| x.pareto));
}

/// The committed reports are what the code produces now. When this fails, run
/// `scripts/regen-reports.sh` and commit `reports/`.
#[test]
fn committed_reports_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    let names = catalog::names(catalog::SCENARIOS);
    let stale: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let root = root.clone();
                s.spawn(move || {
                    let mut stale = Vec::new();
                    let committed = root.join(name);
                    let fresh = tmp(&format!("stale-{name}"));
                    plan::generate(Some(name), &[], &fresh, &PlanOptions::default(), false)
                        .unwrap();
                    for f in files(&fresh) {
                        let new = std::fs::read(fresh.join(&f)).unwrap();
                        if std::fs::read(committed.join(&f)).ok().as_deref() != Some(&new[..]) {
                            stale.push(format!("reports/{name}/{f}"));
                        }
                    }
                    std::fs::remove_dir_all(&fresh).unwrap();
                    stale
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        stale.is_empty(),
        "stale or missing committed reports (run scripts/regen-reports.sh): {stale:?}"
    );
}
