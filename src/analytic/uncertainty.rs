//! Error bands: how far llmplan's step time has been from published runs like this one.
//! The validation residuals (signed step-time errors of published rows, computed once
//! by `validate::band`) are grouped by regime: dense or MoE, BF16 or FP8, GPU
//! generation, and scale. An estimate's band comes from the most specific regime with
//! enough rows; the interval is the pair of order statistics a split-conformal
//! prediction interval uses (j = floor(0.1 (n+1)), k = ceil(0.9 (n+1)) of n sorted
//! errors), which covers a new run exchangeable with those rows with probability at
//! least (k - j) / (n + 1) >= 80%: wider than the sample's p10-p90 when rows are few.

use serde::Serialize;

use super::estimate::Estimate;
use crate::spec::training::Precision;
use crate::spec::Scenario;

/// Fewest rows a band may rest on: ceil(0.9 (n+1)) <= n needs n >= 9.
pub const MIN_ROWS: usize = 9;

/// GPU generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    /// A100.
    Ampere,
    /// H100, H800, H200, GH200.
    Hopper,
    /// B200, GB200, B300, GB300.
    Blackwell,
    /// Anything else.
    Other,
}

/// Cluster scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Up to 512 GPUs.
    Small,
    /// 513 to 4,096 GPUs.
    Medium,
    /// Over 4,096 GPUs.
    Large,
}

/// The regime of an estimate or a published row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Regime {
    /// Mixture-of-Experts model.
    pub moe: bool,
    /// Low-precision GEMMs (FP8, MXFP8, NVFP4/MXFP4).
    pub fp8: bool,
    /// GPU generation.
    pub generation: Generation,
    /// GPUs used.
    pub scale: Scale,
}

impl Regime {
    /// The regime of `sc` on `gpus` GPUs.
    pub fn of(sc: &Scenario, gpus: u64) -> Self {
        let chip = sc.gpu.name.split('-').next().unwrap_or("");
        let generation = match chip.trim_start_matches('g').chars().next() {
            Some('a') => Generation::Ampere,
            Some('h') => Generation::Hopper,
            Some('b') => Generation::Blackwell,
            _ => Generation::Other,
        };
        Regime {
            moe: sc.model.moe.is_some(),
            // Low-precision GEMMs of any format (FP8, MXFP8, FP4) are one regime: the
            // residuals of BF16 runs say nothing about their cast and scaling costs.
            fp8: !matches!(sc.training.precision, Precision::Bf16 | Precision::Fp16),
            generation,
            scale: match gpus {
                0..=512 => Scale::Small,
                513..=4096 => Scale::Medium,
                _ => Scale::Large,
            },
        }
    }

    /// Whether `other` falls in this regime at `level` (0: every dimension; 1: scale
    /// dropped; 2: and the generation; 3: and the precision; 4: every row).
    fn matches(&self, other: &Regime, level: usize) -> bool {
        (level >= 4 || self.moe == other.moe)
            && (level >= 3 || self.fp8 == other.fp8)
            && (level >= 2 || self.generation == other.generation)
            && (level >= 1 || self.scale == other.scale)
    }

    /// The regime at `level` in words: "dense BF16 Hopper runs on 513-4,096 GPUs".
    fn label(&self, level: usize) -> String {
        let mut w: Vec<&str> = Vec::new();
        if level < 4 {
            w.push(if self.moe { "MoE" } else { "dense" });
        }
        if level < 3 {
            w.push(if self.fp8 { "FP8" } else { "BF16/FP16" });
        }
        if level < 2 {
            w.push(match self.generation {
                Generation::Ampere => "Ampere",
                Generation::Hopper => "Hopper",
                Generation::Blackwell => "Blackwell",
                Generation::Other => "other-GPU",
            });
        }
        let scale = match self.scale {
            Scale::Small => " on up to 512 GPUs",
            Scale::Medium => " on 513-4,096 GPUs",
            Scale::Large => " on over 4,096 GPUs",
        };
        if w.is_empty() {
            return "all regimes".to_string();
        }
        format!("{}{}", w.join(" "), if level < 1 { scale } else { "" })
    }
}

/// One published row's signed step-time error.
#[derive(Debug, Clone, Serialize)]
pub struct Residual {
    /// Row identifier.
    pub row: String,
    /// Its regime.
    pub regime: Regime,
    /// predicted step / published step - 1.
    pub error: f64,
}

/// The interval of signed errors an estimate's band uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    /// The regime the rows came from, in words.
    pub regime: String,
    /// Rows it rests on.
    pub rows: usize,
    /// Lower and upper signed error (predicted / published - 1).
    pub error_lo: f64,
    /// See `error_lo`.
    pub error_hi: f64,
}

/// The band for `r`: the most specific regime with at least [`MIN_ROWS`] rows.
pub fn band(residuals: &[Residual], r: &Regime) -> Option<Band> {
    (0..=4).find_map(|level| {
        let mut e: Vec<f64> = residuals
            .iter()
            .filter(|x| r.matches(&x.regime, level))
            .map(|x| x.error)
            .filter(|x| x.is_finite())
            .collect();
        let n = e.len();
        if n < MIN_ROWS {
            return None;
        }
        e.sort_by(f64::total_cmp);
        let j = ((0.1 * (n + 1) as f64).floor() as usize).max(1);
        let k = ((0.9 * (n + 1) as f64).ceil() as usize).min(n);
        Some(Band {
            regime: r.label(level),
            rows: n,
            error_lo: e[j - 1],
            error_hi: e[k - 1],
        })
    })
}

/// An estimate's error band on step time, days and dollars.
#[derive(Debug, Clone, Serialize)]
pub struct Uncertainty {
    /// Regime of the published rows it rests on, in words.
    pub regime: String,
    /// How many published rows.
    pub rows: usize,
    /// Step time, low end of the band, seconds.
    pub step_s_p10: f64,
    /// Step time, high end, seconds.
    pub step_s_p90: f64,
    /// Training days (no failures), low end.
    pub days_p10: f64,
    /// Training days, high end.
    pub days_p90: f64,
    /// Dollars, low end.
    pub usd_p10: f64,
    /// Dollars, high end.
    pub usd_p90: f64,
    /// Signed step-time errors the band spans (predicted / published - 1), percent.
    pub error_pct: [f64; 2],
    /// How the interval is formed.
    pub method: &'static str,
}

/// The band applied to `e`: a published step T relates to the prediction S by
/// S = T (1 + error), so T spans S / (1 + error_hi) .. S / (1 + error_lo); days and
/// dollars scale with the step.
pub fn apply(e: &Estimate, b: &Band) -> Uncertainty {
    let lo = 1.0 / (1.0 + b.error_hi);
    let hi = 1.0 / (1.0 + b.error_lo);
    Uncertainty {
        regime: b.regime.clone(),
        rows: b.rows,
        step_s_p10: e.time.step_s * lo,
        step_s_p90: e.time.step_s * hi,
        days_p10: e.time.days * lo,
        days_p90: e.time.days * hi,
        usd_p10: e.cost.usd * lo,
        usd_p90: e.cost.usd * hi,
        error_pct: [b.error_lo * 100.0, b.error_hi * 100.0],
        method:
            "split-conformal order statistics of the signed step-time errors of published runs \
                 in the regime (>= 80% coverage for a run like them; the p10-p90 of many rows)",
    }
}

/// "95-128 days (p10-p90 of 23 published dense BF16 runs)".
pub fn describe_days(u: &Uncertainty) -> String {
    if u.regime == "all regimes" {
        return format!(
            "{:.0}-{:.0} days (p10-p90 of {} published runs of all regimes: no narrower regime has 9)",
            u.days_p10, u.days_p90, u.rows
        );
    }
    format!(
        "{:.0}-{:.0} days (p10-p90 of {} published {} runs)",
        u.days_p10, u.days_p90, u.rows, u.regime
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(errors: &[f64], moe: bool) -> Vec<Residual> {
        errors
            .iter()
            .map(|&error| Residual {
                row: String::new(),
                regime: Regime {
                    moe,
                    fp8: false,
                    generation: Generation::Hopper,
                    scale: Scale::Small,
                },
                error,
            })
            .collect()
    }

    #[test]
    fn conformal_indices_and_fallback() {
        // 9 rows: j = floor(1.0) = 1, k = ceil(9.0) = 9: the whole range.
        let e: Vec<f64> = (1..=9).map(|i| i as f64 / 100.0).collect();
        let r = res(&e, false);
        let b = band(&r, &r[0].regime).unwrap();
        assert_eq!((b.rows, b.error_lo, b.error_hi), (9, 0.01, 0.09));
        // 19 rows: j = 2, k = 18.
        let e: Vec<f64> = (1..=19).map(|i| i as f64 / 100.0).collect();
        let r = res(&e, false);
        let b = band(&r, &r[0].regime).unwrap();
        assert_eq!((b.error_lo, b.error_hi), (0.02, 0.18));
        // A MoE estimate with no MoE rows widens to every row, and says so.
        let moe = Regime {
            moe: true,
            ..r[0].regime
        };
        let b = band(&r, &moe).unwrap();
        assert_eq!((b.rows, b.regime.as_str()), (19, "all regimes"));
        // Fewer than 9 rows in all: no band.
        assert!(band(&r[..8], &r[0].regime).is_none());
    }
}
