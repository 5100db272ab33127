//! Failures, restarts and checkpoints: the inputs of the goodput model
//! ([`crate::analytic::reliability`]).
//!
//! Every default is derived from a published figure, or marked as an assumption
//! with the reasoning behind it. The failure rates come from one source only: the
//! Llama 3 paper (Llama Team, "The Llama 3 Herd of Models", arXiv 2407.21783,
//! section 3.3.4): during a 54-day snapshot of pre-training on 16,384 H100 GPUs
//! (2,048 eight-GPU hosts) the job was interrupted 466 times: 47 planned
//! (maintenance, configuration) and 419 unexpected, of which GPU issues were 58.7%
//! and confirmed or suspected hardware about 78%; effective training time stayed
//! above 90%.
//!
//! Derivation of the defaults (tested in `tests/reliability.rs`):
//! - exposure: 16,384 GPUs x 54 d x 24 h = 21,233,664 GPU-hours, 2,048 hosts x
//!   1,296 h = 2,654,208 host-hours;
//! - interruptions charged to GPUs: 0.587 x 419 = 245.95, so the per-GPU MTBF is
//!   21,233,664 / 245.95 = 86,332 h (about 9.9 years);
//! - all other interruptions (the 173 non-GPU unexpected ones and the 47 planned
//!   ones, 220.05) are charged to hosts: 2,654,208 / 220.05 = 12,062 h per host;
//! - together a 16,384-GPU job is interrupted every 1,296 h / 466 = 2.78 h.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Llama 3 (arXiv 2407.21783, section 3.3.4): GPUs in the job.
pub const LLAMA3_GPUS: f64 = 16384.0;
/// Llama 3: GPUs per host (Grand Teton / DGX-style eight-GPU servers, section 3.3.1).
pub const LLAMA3_GPUS_PER_NODE: f64 = 8.0;
/// Llama 3: length of the snapshot, days.
pub const LLAMA3_DAYS: f64 = 54.0;
/// Llama 3: job interruptions in the snapshot (planned and unexpected).
pub const LLAMA3_INTERRUPTIONS: f64 = 466.0;
/// Llama 3: unexpected interruptions in the snapshot.
pub const LLAMA3_UNEXPECTED: f64 = 419.0;
/// Llama 3: share of unexpected interruptions caused by GPU issues.
pub const LLAMA3_GPU_SHARE: f64 = 0.587;
/// Llama 3: share of unexpected interruptions that were (confirmed or suspected) hardware.
pub const LLAMA3_HARDWARE_SHARE: f64 = 0.78;

/// Default MTBF of one GPU, hours: Llama 3's GPU-caused interruptions over its
/// GPU-hours (86,332 h; module docs).
pub const DEFAULT_GPU_MTBF_HOURS: f64 =
    LLAMA3_GPUS * LLAMA3_DAYS * 24.0 / (LLAMA3_GPU_SHARE * LLAMA3_UNEXPECTED);

/// Default MTBF of one host (everything but its GPUs: CPU, memory, NICs, switches and
/// cables it hangs off, power, software, planned maintenance), hours: Llama 3's other
/// interruptions over its host-hours (12,062 h; module docs).
pub const DEFAULT_NODE_MTBF_HOURS: f64 = LLAMA3_GPUS / LLAMA3_GPUS_PER_NODE * LLAMA3_DAYS * 24.0
    / (LLAMA3_INTERRUPTIONS - LLAMA3_GPU_SHARE * LLAMA3_UNEXPECTED);

/// Default share of interruptions that take a host out of the job (its replacement
/// must come from a spare or a provider): Llama 3's hardware share of the unexpected
/// interruptions over all interruptions, 0.78 x 419 / 466 = 0.701.
pub const DEFAULT_HARDWARE_FRACTION: f64 =
    LLAMA3_HARDWARE_SHARE * LLAMA3_UNEXPECTED / LLAMA3_INTERRUPTIONS;

/// Failure-time distribution of the whole job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureDistribution {
    /// Memoryless: a Poisson process at the summed rate (what many independent
    /// components add up to).
    Exponential,
    /// Weibull times between interruptions with `weibull_shape` (< 1: failures come in
    /// bursts after restarts) and the same mean.
    Weibull,
}

/// When a checkpoint stalls training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointMode {
    /// Training waits while every node writes its shard to storage (Megatron-LM's
    /// default, `--async-save` off).
    Sync,
    /// Training waits only for the device-to-host snapshot; the write to storage runs in
    /// the background and must finish before the next checkpoint starts.
    Async,
}

/// The `reliability:` section of a scenario. Every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Reliability {
    /// Model failures at all (false: the estimate carries no reliability block).
    pub enabled: bool,
    /// Mean time between job-interrupting failures of one GPU, hours.
    pub gpu_mtbf_hours: f64,
    /// Mean time between job-interrupting failures of one host (node), hours.
    pub node_mtbf_hours: f64,
    /// Mean time between faults that stop a whole rack (NVLink domain) at once, per
    /// rack, hours: an NVL72 rack's NVLink switch trays, power shelves or cooling loop.
    /// `null` (the default) counts none: no published rate exists for NVL72 racks.
    pub rack_mtbf_hours: Option<f64>,
    /// Detection plus restart, seconds: noticing the hang (NCCL watchdog), rescheduling,
    /// process start and communicator setup, before the checkpoint is read back (the
    /// read is added from the checkpoint size and bandwidth). Assumption, 600 s: Llama 3
    /// reports more than 90% effective training time over 466 interruptions in 1,296 h,
    /// which bounds the whole loss per interruption at 0.1 x 1,296 h / 466 = 16.7 min.
    pub restart_s: f64,
    /// Share of interruptions that take a host out and need a replacement host.
    pub hardware_fraction: f64,
    /// Checkpoint write bandwidth of one node to the parallel file system, bytes/s.
    /// 25 GB/s: one 200 Gb/s storage port of a DGX H100 (it has two ConnectX-7 ports
    /// for storage; one port's line rate assumed after protocol overhead).
    pub write_bw_per_node: f64,
    /// Aggregate bandwidth cap of the file system, bytes/s; `null` = no cap. 2 TB/s:
    /// the sustained throughput of Llama 3's Tectonic store (section 3.3.1; 7 TB/s peak).
    pub filesystem_bw: Option<f64>,
    /// Synchronous or asynchronous checkpointing.
    pub checkpoint_mode: CheckpointMode,
    /// Device-to-host snapshot bandwidth per GPU for asynchronous checkpoints, bytes/s.
    /// 25 GB/s: PCIe Gen5 x16 carries 64 GB/s per direction, and on an HGX board two
    /// GPUs share each switch uplink to the host when all copy at once (assumption).
    pub snapshot_bw_per_gpu: f64,
    /// Training seconds between checkpoints; `null` = the Young/Daly optimum.
    pub checkpoint_interval_s: Option<f64>,
    /// Hot-standby hosts, billed for the whole run, that replace a failed host at once.
    pub spare_nodes: u32,
    /// Wait for a replacement host when no spare is free, seconds. 0 = the provider's
    /// pool swaps one in within `restart_s`, as Llama 3's automation did (only three
    /// interruptions needed significant manual work); set it to your provider's
    /// replacement time for a fixed reservation.
    pub replacement_wait_s: f64,
    /// Time a failed host is out (diagnosis, repair) before it is a spare again,
    /// seconds. Assumption: one day.
    pub node_repair_s: f64,
    /// Distribution of the time between interruptions.
    pub distribution: FailureDistribution,
    /// Weibull shape when `distribution: weibull`. 0.7: Schroeder and Gibson, "A
    /// large-scale study of failures in high-performance computing systems" (DSN 2006),
    /// fit times between failures of LANL systems with Weibull shapes of 0.7-0.8.
    pub weibull_shape: f64,
    /// Monte Carlo runs of the whole training run.
    pub mc_runs: u32,
    /// Seed of the Monte Carlo (same seed, same numbers).
    pub seed: u64,
}

impl Default for Reliability {
    fn default() -> Self {
        Reliability {
            enabled: true,
            gpu_mtbf_hours: DEFAULT_GPU_MTBF_HOURS,
            node_mtbf_hours: DEFAULT_NODE_MTBF_HOURS,
            rack_mtbf_hours: None,
            restart_s: 600.0,
            hardware_fraction: DEFAULT_HARDWARE_FRACTION,
            write_bw_per_node: 25e9,
            filesystem_bw: Some(2e12),
            checkpoint_mode: CheckpointMode::Sync,
            snapshot_bw_per_gpu: 25e9,
            checkpoint_interval_s: None,
            spare_nodes: 0,
            replacement_wait_s: 0.0,
            node_repair_s: 86400.0,
            distribution: FailureDistribution::Exponential,
            weibull_shape: 0.7,
            mc_runs: 1000,
            seed: 2407_21783,
        }
    }
}

/// Largest Monte Carlo run count accepted.
pub const MAX_MC_RUNS: u32 = 1_000_000;

impl Reliability {
    /// Range checks: every figure finite and in a range where the model means something.
    pub fn validate(&self) -> Result<()> {
        let positive = |f: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(
                    format!("reliability.{f}"),
                    format!("must be a positive number, got {v}"),
                ))
            }
        };
        let non_negative = |f: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(
                    format!("reliability.{f}"),
                    format!("must be >= 0, got {v}"),
                ))
            }
        };
        positive("gpu_mtbf_hours", self.gpu_mtbf_hours)?;
        positive("node_mtbf_hours", self.node_mtbf_hours)?;
        if let Some(h) = self.rack_mtbf_hours {
            positive("rack_mtbf_hours", h)?;
        }
        non_negative("restart_s", self.restart_s)?;
        positive("write_bw_per_node", self.write_bw_per_node)?;
        if let Some(b) = self.filesystem_bw {
            positive("filesystem_bw", b)?;
        }
        positive("snapshot_bw_per_gpu", self.snapshot_bw_per_gpu)?;
        if let Some(t) = self.checkpoint_interval_s {
            positive("checkpoint_interval_s", t)?;
        }
        non_negative("replacement_wait_s", self.replacement_wait_s)?;
        positive("node_repair_s", self.node_repair_s)?;
        if !(self.hardware_fraction.is_finite() && (0.0..=1.0).contains(&self.hardware_fraction)) {
            return Err(Error::invalid(
                "reliability.hardware_fraction",
                format!("must be between 0 and 1, got {}", self.hardware_fraction),
            ));
        }
        if !(self.weibull_shape.is_finite() && (0.1..=10.0).contains(&self.weibull_shape)) {
            return Err(Error::invalid(
                "reliability.weibull_shape",
                format!("must be between 0.1 and 10, got {}", self.weibull_shape),
            ));
        }
        if !(1..=MAX_MC_RUNS).contains(&self.mc_runs) {
            return Err(Error::invalid(
                "reliability.mc_runs",
                format!("must be between 1 and {MAX_MC_RUNS}, got {}", self.mc_runs),
            ));
        }
        Ok(())
    }
}
