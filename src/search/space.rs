//! The layouts a search enumerates: one list of values per knob, narrowed by `--fix`.
//!
//! Defaults (for a model with `H` heads, `K` kv heads, `E` experts and `L` layers on a
//! cluster with NVLink domains of `D` GPUs):
//!
//! | knob | values |
//! |---|---|
//! | tp | divisors of gcd(H, K) that tile D, or the segment of whole nodes of it the ranks fill (16, 32, 64 on an NVL72; `allow_tp_beyond_nvlink`: also multiples of D) |
//! | pp | 1..=L (uneven splits allowed, as `resolve` does) |
//! | dp | derived: as many replicas as the GPUs hold (fixable) |
//! | ep | divisors of E (1 for a dense model) |
//! | etp | tp, and 1 where tp > 1 and ep > 1 (MoE parallel folding: experts unsplit, ep over the tp x cp x dp GPUs) |
//! | cp | 1, 2, 4, 8 dividing the sequence length (up to `max_cp`) |
//! | vpp | 1..=`max_vpp` (vpp > 1 only with the interleaved schedule, pp > 1 and L / (pp x vpp) whole, as Megatron-LM needs; `uneven_chunks` lifts the last) |
//! | micro_batch | 1, 2, 4, 8 (up to `max_micro_batch`) |
//! | sequence_parallel | on and off (only meaningful with tp > 1) |
//! | recompute | none, selective, full |
//! | zero | 0, 1, 2, 3 |
//! | schedule | gpipe, 1f1b, zb-h1, dualpipe (vpp = 1), interleaved (vpp > 1); 1f1b alone at pp 1 |
//!
//! Combinations the rules reject (pp x vpp > L, DualPipe with odd pp, a batch that
//! does not divide, ...) are enumerated and counted under their reason.

use crate::analytic::comm::segment;
use crate::error::{Error, Result};
use crate::spec::layout::{gcd, Schedule};
use crate::spec::model::divisors;
use crate::spec::training::Recompute;
use crate::spec::Scenario;

/// Limits of the default space.
#[derive(Debug, Clone, Copy)]
pub struct SpaceLimits {
    /// Let tp exceed the NVLink domain.
    pub allow_tp_beyond_nvlink: bool,
    /// Largest micro-batch tried (powers of two up to it).
    pub max_micro_batch: u32,
    /// Largest number of virtual stages tried.
    pub max_vpp: u32,
    /// Largest context-parallel width tried (powers of two up to it).
    pub max_cp: u32,
    /// Also try vpp values that split a stage's layers into chunks of different sizes
    /// (stock Megatron-LM needs layers / (pp x vpp) whole; results say so).
    pub uneven_chunks: bool,
}

impl Default for SpaceLimits {
    fn default() -> Self {
        SpaceLimits {
            allow_tp_beyond_nvlink: false,
            max_micro_batch: 8,
            max_vpp: 8,
            max_cp: 8,
            uneven_chunks: false,
        }
    }
}

/// Values tried for each knob.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    /// Tensor parallel.
    pub tp: Vec<u32>,
    /// Pipeline stages.
    pub pp: Vec<u32>,
    /// Data parallel; `None` = derived from the GPU count.
    pub dp: Option<Vec<u32>>,
    /// Expert parallel.
    pub ep: Vec<u32>,
    /// Expert tensor parallel; `None` = tp, and also 1 (folded) where tp > 1 and ep > 1.
    pub etp: Option<Vec<u32>>,
    /// Context parallel.
    pub cp: Vec<u32>,
    /// Virtual stages per GPU.
    pub vpp: Vec<u32>,
    /// Sequences per micro-batch.
    pub micro_batch: Vec<u32>,
    /// Sequence parallelism.
    pub sequence_parallel: Vec<bool>,
    /// Recompute policy.
    pub recompute: Vec<Recompute>,
    /// ZeRO stage.
    pub zero: Vec<u8>,
    /// Pipeline schedule.
    pub schedule: Vec<Schedule>,
    /// When false (the default), vpp > 1 is paired only with the interleaved
    /// schedule and pp > 1, and vpp = 1 only with the others; fixing vpp or the
    /// schedule turns the pairing off so the rules judge what was asked for. The
    /// pairing also keeps one schedule (1F1B) at pp 1, where every schedule runs the
    /// same single stage, and (unless `uneven_chunks`) only vpp whose chunks are equal.
    pub free_pairing: bool,
    /// Allow virtual-stage chunks of unequal size.
    pub uneven_chunks: bool,
    /// Transformer layers of the model (for the chunk rule).
    pub layers: u32,
}

/// Every schedule, in output order.
pub const SCHEDULES: [Schedule; 5] = [
    Schedule::OneFOneB,
    Schedule::Interleaved,
    Schedule::ZbH1,
    Schedule::DualPipe,
    Schedule::Gpipe,
];

impl Space {
    /// The default space for a scenario.
    pub fn default_for(sc: &Scenario, lim: &SpaceLimits) -> Space {
        let m = &sc.model;
        let domain = u64::from(sc.cluster.nvlink_domain.max(1));
        let node = u64::from(sc.cluster.gpus_per_node);
        // Within a domain, tp must tile the segment of it the ranks fill: a group of 3
        // or 6 on 8-GPU nodes would straddle node boundaries, which the placement
        // model (aligned groups) does not price; 16, 32 or 64 fill 64 GPUs of an
        // NVL72 rack (`comm::segment`). Beyond the domain (when allowed), whole domains.
        let tp = divisors(gcd(u64::from(m.heads), u64::from(m.kv_heads())))
            .into_iter()
            .filter(|&t| {
                if t <= domain {
                    segment(domain, node, t).is_multiple_of(t)
                } else {
                    lim.allow_tp_beyond_nvlink && t % domain == 0
                }
            })
            .map(|t| t as u32)
            .collect();
        let ep = match &m.moe {
            Some(moe) => divisors(u64::from(moe.experts))
                .into_iter()
                .map(|e| e as u32)
                .collect(),
            None => vec![1],
        };
        let pow2 = |max: u32| -> Vec<u32> {
            (0..32)
                .map(|i| 1u32 << i)
                .take_while(|&v| v <= max.max(1))
                .collect()
        };
        let cp = pow2(lim.max_cp)
            .into_iter()
            .filter(|&c| sc.training.seq_len.is_multiple_of(u64::from(c)))
            .collect();
        Space {
            tp,
            pp: (1..=m.layers).collect(),
            dp: None,
            ep,
            etp: None,
            cp,
            // A virtual stage holds at least one layer: no layout has more chunks than
            // layers, so a larger limit enumerates nothing more (and a huge one would
            // allocate a list of impossible values: the fuzz driver's `--max-vpp
            // 134217728` ran out of memory here).
            vpp: (1..=lim.max_vpp.clamp(1, m.layers.max(1))).collect(),
            micro_batch: pow2(lim.max_micro_batch),
            sequence_parallel: vec![true, false],
            recompute: vec![Recompute::None, Recompute::Selective, Recompute::Full],
            zero: vec![0, 1, 2, 3],
            schedule: SCHEDULES.to_vec(),
            free_pairing: false,
            uneven_chunks: lim.uneven_chunks,
            layers: m.layers,
        }
    }

    /// Whether the pairing of pp, vpp and schedule is one the space enumerates (see
    /// [`Space::free_pairing`]).
    pub fn pairs(&self, pp: u32, vpp: u32, schedule: Schedule) -> bool {
        if self.free_pairing {
            return true;
        }
        let interleaved = schedule == Schedule::Interleaved;
        if (vpp > 1) != interleaved || (vpp > 1 && pp == 1) {
            return false;
        }
        // Without a pipeline every schedule is one stage doing forward then backward:
        // the twins would only repeat 1F1B's numbers.
        if pp == 1 && schedule != Schedule::OneFOneB {
            return false;
        }
        self.uneven_chunks || vpp == 1 || self.layers.is_multiple_of(pp * vpp)
    }

    /// Narrows one knob: `key=value` or `key=v1,v2` (`layout.` prefix optional), e.g.
    /// `layout.tp=8`, `pp=8,16`, `schedule=interleaved`, `recompute=full`.
    pub fn fix(&mut self, spec: &str) -> Result<()> {
        let (key, val) = spec.split_once('=').ok_or_else(|| {
            Error::Usage(format!(
                "--fix {spec}: expected KEY=VALUE, e.g. layout.tp=8"
            ))
        })?;
        let key = key.trim();
        let key = key
            .strip_prefix("layout.")
            .or_else(|| key.strip_prefix("training."))
            .unwrap_or(key);
        let vals: Vec<&str> = val
            .split([',', '|'])
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if vals.is_empty() {
            return Err(Error::Usage(format!("--fix {spec}: no value")));
        }
        let bad = |what: &str| Error::Usage(format!("--fix {spec}: {what}"));
        let nums = || -> Result<Vec<u32>> {
            vals.iter()
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| bad(&format!("'{v}' is not a whole number")))
                })
                .collect()
        };
        match key {
            "tp" => self.tp = nums()?,
            "pp" => self.pp = nums()?,
            "dp" => self.dp = Some(nums()?),
            "ep" => self.ep = nums()?,
            "etp" => self.etp = Some(nums()?),
            "cp" => self.cp = nums()?,
            "vpp" => {
                self.vpp = nums()?;
                self.free_pairing = true;
            }
            "micro_batch" | "mb" => self.micro_batch = nums()?,
            "zero" => {
                self.zero = nums()?
                    .into_iter()
                    .map(|z| u8::try_from(z).ok().filter(|z| *z <= 3))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| bad("ZeRO stage must be 0-3"))?
            }
            "sequence_parallel" | "sp" => {
                self.sequence_parallel = vals
                    .iter()
                    .map(|v| match *v {
                        "true" | "on" | "1" | "yes" => Ok(true),
                        "false" | "off" | "0" | "no" => Ok(false),
                        _ => Err(bad(&format!("'{v}' is not true/false"))),
                    })
                    .collect::<Result<_>>()?
            }
            "recompute" => {
                self.recompute = vals
                    .iter()
                    .map(|v| match *v {
                        "none" => Ok(Recompute::None),
                        "selective" => Ok(Recompute::Selective),
                        "full" => Ok(Recompute::Full),
                        _ => Err(bad(&format!("'{v}': expected none, selective or full"))),
                    })
                    .collect::<Result<_>>()?
            }
            "schedule" => {
                self.schedule = vals
                    .iter()
                    .map(|v| {
                        SCHEDULES
                            .iter()
                            .copied()
                            .find(|s| s.name() == *v)
                            .ok_or_else(|| {
                                bad(&format!(
                                    "'{v}': expected one of gpipe, 1f1b, interleaved, zb-h1, dualpipe"
                                ))
                            })
                    })
                    .collect::<Result<_>>()?;
                self.free_pairing = true;
            }
            _ => {
                return Err(Error::Usage(format!(
                "--fix {spec}: unknown knob '{key}'; known: tp, pp, dp, ep, etp, cp, vpp, micro_batch, \
                     sequence_parallel, recompute, zero, schedule"
            )))
            }
        }
        Ok(())
    }

    /// The (pp, vpp, schedule, zero) combinations, in enumeration order.
    pub fn outer(&self) -> Vec<Outer> {
        let mut v = Vec::new();
        for &pp in &self.pp {
            for &vpp in &self.vpp {
                for &schedule in &self.schedule {
                    if !self.pairs(pp, vpp, schedule) {
                        continue;
                    }
                    for &zero in &self.zero {
                        match &self.dp {
                            None => v.push(Outer {
                                pp,
                                vpp,
                                schedule,
                                zero,
                                dp: None,
                            }),
                            Some(dps) => v.extend(dps.iter().map(|&dp| Outer {
                                pp,
                                vpp,
                                schedule,
                                zero,
                                dp: Some(dp),
                            })),
                        }
                    }
                }
            }
        }
        v
    }

    /// The expert tensor-parallel widths tried with `tp` and `ep`.
    pub fn etps(&self, tp: u32, ep: u32) -> Vec<u32> {
        match &self.etp {
            Some(v) => v.clone(),
            None if tp > 1 && ep > 1 => vec![tp, 1],
            None => vec![tp],
        }
    }

    /// The (recompute, tp, sequence parallel, cp, ep, etp, micro-batch) combinations.
    pub fn inner(&self) -> Vec<InnerKey> {
        let mut v = Vec::new();
        for &recompute in &self.recompute {
            for &tp in &self.tp {
                for &sp in &self.sequence_parallel {
                    // Sequence parallelism means nothing without tp: try it once.
                    if tp == 1 && !sp && self.sequence_parallel.contains(&true) {
                        continue;
                    }
                    for &cp in &self.cp {
                        for &ep in &self.ep {
                            for etp in self.etps(tp, ep) {
                                for &micro_batch in &self.micro_batch {
                                    v.push(InnerKey {
                                        recompute,
                                        tp,
                                        sp: sp && tp > 1,
                                        cp,
                                        ep,
                                        etp,
                                        micro_batch,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        v
    }
}

/// Knobs that do not change layer costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outer {
    /// Pipeline stages.
    pub pp: u32,
    /// Virtual stages.
    pub vpp: u32,
    /// Schedule.
    pub schedule: Schedule,
    /// ZeRO stage.
    pub zero: u8,
    /// Fixed dp, if any.
    pub dp: Option<u32>,
}

/// Knobs that change layer costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerKey {
    /// Recompute policy.
    pub recompute: Recompute,
    /// Tensor parallel.
    pub tp: u32,
    /// Sequence parallelism (false when tp = 1).
    pub sp: bool,
    /// Context parallel.
    pub cp: u32,
    /// Expert parallel.
    pub ep: u32,
    /// Expert tensor parallel.
    pub etp: u32,
    /// Sequences per micro-batch.
    pub micro_batch: u32,
}

/// GPU counts from `N`, `A..B` (powers of two in the range, plus the ends) or a comma
/// list of either, sorted and without repeats. Counts are kept as written, whole nodes
/// or not (`_node`, GPUs per node, is kept for callers): a search never silently plans
/// a count the user did not ask for.
pub fn parse_gpus(spec: &str, _node: u32) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| -> Result<u64> {
            let s = s.trim().replace('_', "");
            s.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                Error::Usage(format!(
                    "--gpus {spec}: '{s}' is not a positive whole number"
                ))
            })
        };
        match part.split_once("..") {
            Some((a, b)) => {
                let (lo, hi) = (num(a)?, num(b.trim_start_matches('='))?);
                if lo > hi {
                    return Err(Error::Usage(format!("--gpus {spec}: {lo} > {hi}")));
                }
                out.push(lo);
                let mut p = 1u64;
                while p <= hi {
                    if p >= lo {
                        out.push(p);
                    }
                    p *= 2;
                }
                out.push(hi);
            }
            None => out.push(num(part)?),
        }
    }
    // Every count the user wrote (a list entry, a range's ends) is searched as written,
    // whole nodes or not: resolve idles what a layout cannot use, and says so.
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(Error::Usage(format!("--gpus {spec}: no GPU count")));
    }
    Ok(out)
}
