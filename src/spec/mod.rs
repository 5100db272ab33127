//! Validated inputs: hardware, cluster, model, training, layout, pricing, scenario.
//!
//! Everything downstream (analytic, search, report) takes these types and may
//! assume they passed their checks.

pub mod catalog;
pub mod check;
pub mod cluster;
pub mod gpu;
pub mod hf;
pub mod layout;
pub mod model;
pub mod pricing;
pub mod reliability;
pub mod rules;
pub mod scenario;
pub mod schema;
pub mod training;
pub mod yaml;

pub use cluster::{ClusterProfile, Link};
pub use gpu::{Dtype, Efficiency, GpuProfile, PeakFlops};
pub use layout::{Layout, Overlap, ResolvedLayout, Schedule};
pub use model::{Mla, ModelSpec, Moe};
pub use pricing::Pricing;
pub use scenario::{Scenario, ScenarioFile};
pub use training::{AttentionKernel, Precision, Recompute, RecomputeModule, Training};
