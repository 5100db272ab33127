//! From a step time to days, GPU-hours, dollars and energy.

use serde::Serialize;

use crate::spec::cluster::ClusterProfile;
use crate::spec::pricing::Pricing;

/// The whole run's totals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Budget {
    /// Optimizer steps to see every training token (last one partial, rounded up).
    pub steps: f64,
    /// Wall-clock training time, seconds.
    pub train_s: f64,
    /// Wall-clock training time, days.
    pub days: f64,
    /// GPUs billed (requested, or only those used when idle GPUs are not billed).
    pub gpus_billed: u64,
    /// GPU-hours billed.
    pub gpu_hours: f64,
    /// Price applied, US dollars per GPU-hour.
    pub usd_per_gpu_hour: f64,
    /// Dollars for GPU time (plus energy when the pricing says so).
    pub usd: f64,
    /// Facility energy of the GPUs in use, MWh (node wall power per GPU x PUE).
    pub energy_mwh: f64,
    /// Cost of that energy at the pricing's $/kWh, US dollars.
    pub energy_usd: f64,
}

/// Inputs of the budget arithmetic.
#[derive(Debug, Clone, Copy)]
pub struct BudgetInputs<'a> {
    /// Seconds per optimizer step.
    pub step_s: f64,
    /// Tokens per optimizer step.
    pub tokens_per_step: f64,
    /// Training tokens.
    pub tokens: f64,
    /// GPUs the layout occupies.
    pub gpus_used: u64,
    /// GPUs requested.
    pub gpus_requested: u64,
    /// Price per GPU-hour, US dollars.
    pub usd_per_gpu_hour: f64,
    /// Prices and facility.
    pub pricing: &'a Pricing,
    /// The cluster (for wall power per GPU).
    pub cluster: &'a ClusterProfile,
}

/// Days, GPU-hours, dollars and energy for a run.
pub fn budget(b: &BudgetInputs) -> Budget {
    let steps = (b.tokens / b.tokens_per_step).ceil();
    let train_s = steps * b.step_s;
    let hours = train_s / 3600.0;
    let gpus_billed = if b.pricing.bill_idle_gpus {
        b.gpus_requested.max(b.gpus_used)
    } else {
        b.gpus_used
    };
    let gpu_hours = gpus_billed as f64 * hours;
    let energy_mwh = b.gpus_used as f64 * b.cluster.power_per_gpu_w * hours * b.pricing.pue / 1e6;
    let energy_usd = energy_mwh * 1000.0 * b.pricing.usd_per_kwh;
    let usd = gpu_hours * b.usd_per_gpu_hour
        + if b.pricing.add_energy_cost {
            energy_usd
        } else {
            0.0
        };
    Budget {
        steps,
        train_s,
        days: train_s / 86400.0,
        gpus_billed,
        gpu_hours,
        usd_per_gpu_hour: b.usd_per_gpu_hour,
        usd,
        energy_mwh,
        energy_usd,
    }
}
