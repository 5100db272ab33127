//! Money and energy assumptions.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Prices and facility figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// US dollars per GPU-hour; `None` = the GPU profile's market default.
    #[serde(default)]
    pub usd_per_gpu_hour: Option<f64>,
    /// US dollars per kWh of facility energy (for the energy-cost line).
    #[serde(default = "default_kwh")]
    pub usd_per_kwh: f64,
    /// Power usage effectiveness of the data centre (facility / IT power).
    #[serde(default = "default_pue")]
    pub pue: f64,
    /// Bill GPUs that the layout leaves idle (a reservation is paid whole).
    #[serde(default = "yes")]
    pub bill_idle_gpus: bool,
    /// Add the energy cost to the dollars (false when the GPU-hour price includes power).
    #[serde(default)]
    pub add_energy_cost: bool,
}

fn default_kwh() -> f64 {
    // US average industrial electricity price 2024, ~8 cents/kWh (EIA Electric Power Monthly).
    0.08
}
fn default_pue() -> f64 {
    // Uptime Institute global survey 2023 average ~1.58; hyperscale AI halls ~1.1-1.2. 1.2 is
    // a modern purpose-built facility.
    1.2
}
fn yes() -> bool {
    true
}

impl Default for Pricing {
    fn default() -> Self {
        Pricing {
            usd_per_gpu_hour: None,
            usd_per_kwh: default_kwh(),
            pue: default_pue(),
            bill_idle_gpus: true,
            add_energy_cost: false,
        }
    }
}

impl Pricing {
    /// Range checks.
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = self.usd_per_gpu_hour {
            if !(p.is_finite() && p >= 0.0) {
                return Err(Error::invalid(
                    "pricing.usd_per_gpu_hour",
                    format!("must be >= 0, got {p}"),
                ));
            }
        }
        if !(self.usd_per_kwh.is_finite() && self.usd_per_kwh >= 0.0) {
            return Err(Error::invalid("pricing.usd_per_kwh", "must be >= 0"));
        }
        if !(self.pue.is_finite() && (1.0..=5.0).contains(&self.pue)) {
            return Err(Error::invalid(
                "pricing.pue",
                format!("must be between 1 and 5, got {}", self.pue),
            ));
        }
        Ok(())
    }
}
