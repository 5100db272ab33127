//! When a command's answer is a failure: a search where no layout fits, a sweep where
//! no point does, a plan that does not fit under `--strict`. Each becomes an
//! [`Error::Unmet`] (exit 1) that says why and what would fit.

use llmplan::analytic::Estimate;
use llmplan::report::layout::LayoutSummary;
use llmplan::report::units;
use llmplan::search::rules::Reason;
use llmplan::search::{self, Outcome, SearchOptions};
use llmplan::spec::scenario::Scenario;
use llmplan::Error;

/// Largest factor by which the nearest-fit probe multiplies the GPU count.
const MAX_GROWTH: u64 = 1 << 12;

/// `None` when the search found a layout; else why none fits (the three most common
/// rejections) and the nearest GPU count at which one does, searched by doubling.
pub fn nothing_fits(sc: &Scenario, o: &SearchOptions, out: &Outcome) -> Option<Error> {
    if !out.results.is_empty() {
        return None;
    }
    let counts = out
        .gpus
        .iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut msg = format!(
        "no layout fits on {counts} x {} ({} enumerated, {} evaluated)",
        sc.gpu.name, out.enumerated, out.evaluated
    );
    let mut reasons = out.rejected.clone();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    if !reasons.is_empty() {
        let top: Vec<String> = reasons
            .iter()
            .take(3)
            .map(|(r, n)| format!("{} ({n})", r.key()))
            .collect();
        msg.push_str(&format!("; most rejected by: {}", top.join(", ")));
    }
    // More GPUs help only when memory or the replica size was what stopped them; a
    // `--fix` the model's shape rules out fails on any count.
    let gpu_bound = reasons
        .iter()
        .any(|(r, _)| matches!(r, Reason::Memory | Reason::TooFewGpus));
    if gpu_bound {
        msg.push_str(&nearest(sc, o));
    } else {
        msg.push_str("; no GPU count changes these rules: relax --fix or the scenario's layout");
    }
    Some(Error::Unmet(msg))
}

/// The nearest fit: the same search with the GPU count doubled until a layout fits.
fn nearest(sc: &Scenario, o: &SearchOptions) -> String {
    let Some(&start) = o.gpus.iter().max() else {
        return String::new();
    };
    let mut probe = o.clone();
    probe.top = 1;
    probe.sim_top = 0;
    let mut g = start;
    while g < start.saturating_mul(MAX_GROWTH) {
        g = g.saturating_mul(2);
        probe.gpus = vec![g];
        let Ok(found) = search::search(sc, &probe, None) else {
            break;
        };
        if let Some(r) = found.results.first() {
            return format!(
                "; the nearest that fits: {g} GPUs with {} ({} of {} per GPU)",
                LayoutSummary::of_ranked(r),
                units::gib(r.memory_peak_bytes),
                units::gib(r.memory_capacity_bytes)
            );
        }
    }
    format!(
        "; nothing fits with up to {} GPUs either: a larger-memory GPU or a smaller model would",
        start.saturating_mul(MAX_GROWTH)
    )
}

/// Under `--strict`, a plan that does not fit in GPU memory is a failure (exit 1).
pub fn strict(est: &Estimate) -> Option<Error> {
    let m = &est.memory;
    (!m.fits).then(|| {
        Error::Unmet(format!(
            "--strict: the plan does not fit: {} per GPU against {} of memory",
            units::gib(m.peak_bytes),
            units::gib(m.capacity_bytes)
        ))
    })
}
