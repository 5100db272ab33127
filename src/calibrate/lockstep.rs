//! A synchronous training step runs at the pace of its slowest chip.
//!
//! Chips of one model, each saturated at the same power limit, settle at different
//! clocks: at the same power a better die holds a higher clock (the silicon lottery).
//! Every collective of a step is a barrier, and a chip's clock is a lasting property of
//! the die, so the whole job computes at the rate of the slowest of its N chips. The
//! calibration measured one chip, a median one in expectation; with the chips' rates
//! spread normally with relative standard deviation `spread`, the slowest of N sits
//! `E[max of N standard normals] x spread` below the median.
//!
//! The spread is a measurement per GPU model (`efficiency.chip_spread`): ml-engineering
//! (stas00/ml-engineering, compute/accelerator/README.md @0359db89, "How precise these
//! numbers are") ran one GEMM shape on every GPU of an 8-GPU node at once, all pinned at
//! their power limit: H200 SXM 745-765 TFLOP/s at 685-688 W, B200 1421-1460 TFLOP/s. The
//! expected range of 8 normal samples is 2.847 standard deviations.

/// Relative standard deviation implied by the range of `n` samples of one chip model
/// measured side by side: `range / (d2(n) x median)` with `d2` the expected range of `n`
/// standard normal samples (8 samples: 2.847). Only `n = 8` is tabulated (the size of
/// the measured nodes); other sizes return `None`.
pub fn spread_from_range(n: u32, range: f64, median: f64) -> Option<f64> {
    // Expected range of 8 standard normals (Tippett 1925; the d2 constant of
    // control-chart tables).
    const D2_8: f64 = 2.847;
    (n == 8 && median > 0.0).then(|| range / (D2_8 * median))
}

/// The slowest of `gpus` chips' sustained rate relative to the median chip's, for
/// chips spread by `spread` (relative standard deviation): `1 - E[max_N] x spread`,
/// at least 0.5 (a spread that large is not a measurement of this kind). 1 for one
/// GPU or no spread.
pub fn slowest_chip_rate(gpus: u64, spread: Option<f64>) -> f64 {
    match spread {
        Some(s) if s > 0.0 && gpus > 1 => (1.0 - expected_max_normal(gpus) * s).max(0.5),
        _ => 1.0,
    }
}

/// Expected maximum of `n` independent standard normal samples (0 for one), by
/// integrating `x n phi(x) Phi(x)^(n-1)` with Simpson's rule.
pub fn expected_max_normal(n: u64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let (lo, hi) = (-9.0_f64, 9.0_f64);
    let steps = 3600usize;
    let h = (hi - lo) / steps as f64;
    let nf = n as f64;
    let f = |x: f64| {
        let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        // Phi(x)^(n-1) through its logarithm: for a million chips Phi sits within
        // 1e-7 of 1 in the tail that matters.
        let ln_cdf = normal_cdf(x).max(f64::MIN_POSITIVE).ln();
        x * nf * pdf * ((nf - 1.0) * ln_cdf).exp()
    };
    let mut sum = f(lo) + f(hi);
    for i in 1..steps {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(lo + i as f64 * h);
    }
    sum * h / 3.0
}

/// Standard normal cumulative distribution, from the complementary error function.
fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function, fractional error below 1.2e-7 everywhere (the
/// Chebyshev fit of Press et al., Numerical Recipes, section 6.2, `erfcc`).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_maxima_match_the_tables() {
        // Two samples: 1/sqrt(pi) exactly. The rest: Harter (1961), "Expected values of
        // normal order statistics", Biometrika 48, table of the largest of n.
        let cases = [
            (2, 1.0 / std::f64::consts::PI.sqrt()),
            (8, 1.423_60),
            (10, 1.538_75),
            (20, 1.867_48),
            (50, 2.249_07),
            (100, 2.507_59),
        ];
        for (n, want) in cases {
            let got = expected_max_normal(n);
            assert!((got - want).abs() < 2e-4, "n={n}: {got} vs {want}");
        }
        assert_eq!(expected_max_normal(1), 0.0);
        // Growth slows as sqrt(2 ln n): 16,384 chips sit under 4 standard deviations.
        let big = expected_max_normal(16_384);
        assert!(big > 3.7 && big < 4.0, "{big}");
    }

    #[test]
    fn the_measured_node_gives_a_spread_under_one_percent() {
        // H200 SXM: 745-765 TFLOP/s over 8 GPUs, median 755 (ml-engineering MSMF).
        let s = spread_from_range(8, 20.0, 755.0).unwrap();
        assert!((s - 0.0093).abs() < 1e-4, "{s}");
        // The slowest of those 8 in expectation: 1.42 standard deviations down.
        let r = slowest_chip_rate(8, Some(s));
        assert!((r - (1.0 - 1.4236 * s)).abs() < 1e-5);
        assert_eq!(slowest_chip_rate(1, Some(s)), 1.0);
        assert_eq!(slowest_chip_rate(1024, None), 1.0);
    }
}
