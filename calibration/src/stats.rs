//! Robust summaries of repeated timings.

/// Summary of one benchmark's timed runs, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Timed runs.
    pub runs: usize,
    /// Median, ms: the number the tables report.
    pub median_ms: f64,
    /// Fastest run, ms.
    pub min_ms: f64,
    /// 10th percentile, ms.
    pub p10_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
}

impl Summary {
    /// Summarises `samples_ms`; `None` when empty or any sample is not finite.
    pub fn of(samples_ms: &[f64]) -> Option<Summary> {
        if samples_ms.is_empty() || samples_ms.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut v = samples_ms.to_vec();
        v.sort_by(f64::total_cmp);
        Some(Summary {
            runs: v.len(),
            median_ms: percentile_sorted(&v, 50.0),
            min_ms: v[0],
            p10_ms: percentile_sorted(&v, 10.0),
            p90_ms: percentile_sorted(&v, 90.0),
        })
    }

    /// Relative spread (p90 - p10) / median: a noisy measurement shows up here.
    pub fn spread(&self) -> f64 {
        (self.p90_ms - self.p10_ms) / self.median_ms
    }
}

/// Median of `v` (mean of the two middle values for an even count); NaN when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile_sorted(&s, 50.0)
}

/// Linear-interpolated percentile `p` (0-100) of an ascending slice; NaN when empty.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let x = p.clamp(0.0, 100.0) / 100.0 * (n - 1) as f64;
            let i = x.floor() as usize;
            let f = x - i as f64;
            if i + 1 >= n {
                sorted[n - 1]
            } else {
                sorted[i] * (1.0 - f) + sorted[i + 1] * f
            }
        }
    }
}

/// How many timed runs to make of a kernel whose warm-up took `est_ms` per run: enough
/// to fill `target_ms`, at least `min` and at most `max`.
pub fn runs_for(est_ms: f64, target_ms: f64, min: usize, max: usize) -> usize {
    let max = max.max(min);
    if est_ms.is_nan() || est_ms <= 0.0 || est_ms.is_infinite() {
        return max;
    }
    ((target_ms / est_ms).ceil() as usize).clamp(min, max)
}

/// TFLOP/s of `flops` done in `ms` milliseconds.
pub fn tflops(flops: f64, ms: f64) -> f64 {
    flops / (ms * 1e-3) / 1e12
}

/// GB/s (1 GB = 1e9 B) of `bytes` moved in `ms` milliseconds.
pub fn gbps(bytes: f64, ms: f64) -> f64 {
    bytes / (ms * 1e-3) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_and_outliers() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        // One slow run (a clock dip, a context switch) does not move the median.
        assert_eq!(median(&[1.0, 1.0, 1.0, 1.0, 50.0]), 1.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn summary_percentiles() {
        let v: Vec<f64> = (1..=11).map(f64::from).collect();
        let s = Summary::of(&v).unwrap();
        assert_eq!(s.runs, 11);
        assert_eq!(s.median_ms, 6.0);
        assert_eq!(s.min_ms, 1.0);
        assert_eq!(s.p10_ms, 2.0);
        assert_eq!(s.p90_ms, 10.0);
        assert!((s.spread() - 8.0 / 6.0).abs() < 1e-12);
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn run_counts_and_rates() {
        assert_eq!(runs_for(1.0, 200.0, 10, 100), 100);
        assert_eq!(runs_for(10.0, 200.0, 10, 100), 20);
        assert_eq!(runs_for(100.0, 200.0, 10, 100), 10);
        assert_eq!(runs_for(0.0, 200.0, 10, 100), 100);
        // 8192^3 in 1.39347 ms is the shared table's 789.0 TFLOP/s.
        let f = 2.0 * 8192f64.powi(3);
        assert!((tflops(f, 1.39347) - 789.0).abs() < 0.05);
        assert!((gbps(4294967296.0, 1.4213) - 3021.9).abs() < 0.05);
    }
}
