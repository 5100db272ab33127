//! The validation residuals every estimate's error band rests on, computed once per
//! process from the shipped published tables (never per searched layout).

use crate::analytic::estimate::Estimate;
use crate::analytic::uncertainty::{self, Residual};
use crate::spec::Scenario;

/// Signed step-time errors of the headline quantity of every predicted row of the
/// shipped tables (per-layer microbenchmarks left out: they time one layer, not a step).
pub fn residuals() -> &'static [Residual] {
    static R: std::sync::OnceLock<Vec<Residual>> = std::sync::OnceLock::new();
    R.get_or_init(|| match super::builtin_rows() {
        Ok(rows) => from_report(&super::validate_with(&rows, None, false)),
        Err(_) => Vec::new(),
    })
}

/// The residuals of a validation report.
pub fn from_report(r: &super::Report) -> Vec<Residual> {
    r.predictions
        .iter()
        .filter(|p| p.headline && !p.layout_searched && p.row_type != "per_layer_microbenchmark")
        .filter_map(|p| {
            Some(Residual {
                row: p.row_id.clone(),
                regime: p.regime?,
                error: p.time_error_pct / 100.0,
            })
        })
        .collect()
}

/// Sets `e.uncertainty` from the residuals of `sc`'s regime (left `None` when fewer than
/// [`uncertainty::MIN_ROWS`] rows exist at all, or for a given-MFU estimate).
pub fn attach(e: &mut Estimate, sc: &Scenario) {
    if e.engine != crate::analytic::estimate::Engine::Analytic {
        return;
    }
    let regime = uncertainty::Regime::of(sc, e.gpus);
    e.uncertainty = uncertainty::band(residuals(), &regime).map(|b| uncertainty::apply(e, &b));
}
