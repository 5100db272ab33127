//! `llmplan-calibrate`: CUDA micro-benchmarks that measure the kernel tables llmplan's
//! analytic model is calibrated on.
//!
//! It times, on an NVIDIA GPU, what a training step is made of: cuBLASLt GEMMs in the
//! forward, input-gradient (dgrad) and weight-gradient (wgrad) orientations, memory-bound
//! kernels compiled with NVRTC (copy, norms, activations, the fused Adam update), and
//! sustained back-to-back GEMM throughput with clocks and power. It writes CSV tables in
//! the columns of `hardware-profiles/calibration/h100-sxm/` plus an `env.json`.
//!
//! Every CUDA library (libcuda, libcublasLt, libnvrtc) is opened at run time, so the
//! crate builds and its host-side code is tested on machines with no GPU; without one
//! the binary exits with code 2 ([`error::CalError::exit_code`]).
//!
//! Host-side modules ([`shapes`], [`scenario`], [`stats`], [`output`], [`smi`],
//! [`compare`]) need no GPU; [`gpu`] holds everything that talks to CUDA.

#![warn(missing_docs)]

pub mod compare;
pub mod error;
pub mod gpu;
pub mod kernels;
pub mod output;
pub mod scenario;
pub mod shapes;
pub mod smi;
pub mod stats;

pub use error::{CalError, Result};
