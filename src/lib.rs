//! llmplan: a training-cost and parallelism planner for large language models.
//!
//! From a model, a cluster and a parallel layout it predicts step time, MFU, memory
//! per GPU, training days, GPU-hours, dollars and energy, from first principles and
//! kernel efficiencies measured on real GPUs.
//!
//! Data flows one way: [`spec`] (validated inputs) -> [`analytic`] (costs per layer,
//! stage and step) -> [`report`] (tables, JSON, CSV).
//!
//! ```
//! let sc = llmplan::spec::scenario::load(None, &[]).unwrap(); // the built-in seed
//! let est = llmplan::setup::estimate(&sc, &Default::default()).unwrap();
//! assert!(est.time.days > 0.0);
//! ```

#![warn(missing_docs)]

pub mod analytic;
pub mod calibrate;
pub mod charts;
pub mod error;
pub mod export;
pub mod input;
pub mod report;
pub mod search;
pub mod setup;
pub mod sim;
pub mod spec;
pub mod units;
pub mod validate;

pub use error::{Error, Result};
