//! The closed-form cost model: parameters, FLOPs, kernel times, collectives, memory,
//! pipeline schedules, step time and the run's budget. Microseconds per layout.
//!
//! Data flows layer -> stage -> pipeline -> step -> budget; nothing here reads files
//! or prints.

pub mod budget;
pub mod collective;
pub mod comm;
pub mod compute;
pub mod dp_sync;
pub mod elementwise;
pub mod estimate;
pub mod fp8;
pub mod head;
pub mod layer;
pub mod layer_comm;
pub mod memory;
pub mod offload;
pub mod params;
pub mod pipeline;
pub mod reliability;
pub mod setup;
pub mod stage;
pub mod uncertainty;

pub use estimate::{estimate, evaluate, Engine, Estimate, EstimateOptions};
pub use params::{count, ParamCounts};
pub use setup::Setup;
