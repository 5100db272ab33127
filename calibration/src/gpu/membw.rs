//! Memory-bound kernels: achieved bytes per second, counting bytes read plus bytes
//! written by one call. Working sets are many times L2 (and L2 is flushed between runs),
//! so the rate is HBM's.

use cudarc::driver::{LaunchConfig, PushKernelArg};

use super::{BenchCfg, Gpu};
use crate::error::{CalError, Result};
use crate::output::MembwRow;

/// Sizes of the membw working sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MembwSizes {
    /// copy/fill/sum buffer, bytes (copy moves twice this).
    pub stream_bytes: u64,
    /// Norm rows (tokens) and hidden size.
    pub norm_rows: u64,
    /// Hidden size of the norms (multiple of 8).
    pub hidden: u32,
    /// GELU elements (multiple of 8).
    pub gelu_elems: u64,
    /// SwiGLU rows and FFN width (multiple of 8).
    pub swiglu_rows: u64,
    /// SwiGLU output width.
    pub ffn: u32,
    /// Adam parameters (multiple of 4).
    pub adam_params: u64,
}

impl Default for MembwSizes {
    fn default() -> Self {
        MembwSizes {
            stream_bytes: 2 << 30,
            norm_rows: 32768,
            hidden: 8192,
            gelu_elems: 256 << 20,
            swiglu_rows: 16384,
            ffn: 14336,
            adam_params: 256 << 20,
        }
    }
}

impl MembwSizes {
    /// Each working set divided by `div` (still many times any L2 for div <= 8).
    pub fn scaled_down(div: u64) -> Self {
        let d = Self::default();
        MembwSizes {
            stream_bytes: d.stream_bytes / div,
            norm_rows: d.norm_rows / div,
            gelu_elems: d.gelu_elems / div,
            swiglu_rows: d.swiglu_rows / div,
            adam_params: d.adam_params / div,
            ..d
        }
    }
}

/// Bytes one call of each kernel moves (reads + writes), by name.
pub fn bytes_moved(op: &str, s: &MembwSizes) -> u64 {
    let h = u64::from(s.hidden);
    let f = u64::from(s.ffn);
    match op {
        "copy" => 2 * s.stream_bytes,
        "fill" | "sum" => s.stream_bytes,
        // x in, y out (bf16), the weight once.
        "rmsnorm" => 2 * 2 * s.norm_rows * h + 2 * h,
        "layernorm" => 2 * 2 * s.norm_rows * h + 2 * 2 * h,
        "gelu" => 2 * 2 * s.gelu_elems,
        // [rows, 2f] in, [rows, f] out: 6 bytes per output element, as llmplan counts it.
        "swiglu" => 6 * s.swiglu_rows * f,
        // p, g, m, v read (fp32), p, m, v written (fp32) and the bf16 copy.
        "adam" => 30 * s.adam_params,
        _ => 0,
    }
}

/// Kernel names in table order.
pub const OPS: &[&str] = &[
    "copy",
    "fill",
    "sum",
    "rmsnorm",
    "layernorm",
    "gelu",
    "swiglu",
    "adam",
];

fn launch(gpu: &Gpu, name: &str, cfg: LaunchConfig, args: &[&dyn ArgRef]) -> Result<()> {
    let f = gpu.func(name)?;
    let mut b = gpu.stream.launch_builder(f);
    for a in args {
        a.push(&mut b);
    }
    // SAFETY: each caller passes exactly the kernel's parameters, in order and type.
    unsafe { b.launch(cfg) }
        .map(|_| ())
        .map_err(|e| CalError::cuda(name, e))
}

/// A kernel argument of a concrete device-representable type.
trait ArgRef {
    fn push<'a>(&'a self, b: &mut cudarc::driver::LaunchArgs<'a>);
}
macro_rules! arg_ref {
    ($($t:ty),*) => {$(
        impl ArgRef for $t {
            fn push<'a>(&'a self, b: &mut cudarc::driver::LaunchArgs<'a>) {
                b.arg(self);
            }
        }
    )*};
}
arg_ref!(u64, u32, i32, f32);

/// Runs every kernel of [`OPS`] and returns its row.
pub fn run(gpu: &Gpu, sizes: &MembwSizes, cfg: &BenchCfg) -> Result<Vec<MembwRow>> {
    let mut rows = Vec::new();
    for &op in OPS {
        let ms = time_op(gpu, op, sizes, cfg)?;
        let bytes = bytes_moved(op, sizes);
        eprintln!(
            "membw {op}: {bytes} B in {ms:.4} ms = {:.1} GB/s",
            crate::stats::gbps(bytes as f64, ms)
        );
        rows.push(MembwRow {
            op: op.to_string(),
            bytes_moved: bytes,
            ms,
        });
    }
    Ok(rows)
}

fn time_op(gpu: &Gpu, op: &str, s: &MembwSizes, cfg: &BenchCfg) -> Result<f64> {
    let h = s.hidden;
    let row_cfg = |rows: u64| LaunchConfig {
        grid_dim: (rows as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    let eps = 1e-5f32;
    let summary = match op {
        "copy" | "fill" | "sum" => {
            let src = gpu.alloc(s.stream_bytes)?;
            gpu.fill_random(&src, s.stream_bytes, 11, 0)?;
            let dst = gpu.alloc(if op == "copy" { s.stream_bytes } else { 16 })?;
            let (ps, pd) = (gpu.ptr(&src), gpu.ptr(&dst));
            let n16 = s.stream_bytes / 16;
            let cfgl = gpu.grid_for(n16);
            let v = 0x3f800000u32;
            gpu.bench(cfg, &mut |g| match op {
                "copy" => launch(g, "copy_u4", cfgl, &[&ps, &pd, &n16]),
                "fill" => launch(g, "fill_u4", cfgl, &[&ps, &n16, &v]),
                _ => launch(g, "sum_f4", cfgl, &[&ps, &n16, &pd]),
            })?
        }
        "rmsnorm" | "layernorm" => {
            let n = s.norm_rows * u64::from(h) * 2;
            let x = gpu.alloc(n)?;
            let y = gpu.alloc(n)?;
            let w = gpu.alloc(u64::from(h) * 2)?;
            let bias = gpu.alloc(u64::from(h) * 2)?;
            gpu.fill_random(&x, n, 21, 1)?;
            gpu.fill_random(&w, u64::from(h) * 2, 22, 1)?;
            gpu.fill_random(&bias, u64::from(h) * 2, 23, 1)?;
            let (px, py, pw, pb) = (gpu.ptr(&x), gpu.ptr(&y), gpu.ptr(&w), gpu.ptr(&bias));
            let c = row_cfg(s.norm_rows);
            gpu.bench(cfg, &mut |g| {
                if op == "rmsnorm" {
                    launch(g, "rmsnorm_bf16", c, &[&px, &pw, &py, &h, &eps])
                } else {
                    launch(g, "layernorm_bf16", c, &[&px, &pw, &pb, &py, &h, &eps])
                }
            })?
        }
        "gelu" => {
            let n = s.gelu_elems * 2;
            let x = gpu.alloc(n)?;
            let y = gpu.alloc(n)?;
            gpu.fill_random(&x, n, 31, 1)?;
            let (px, py) = (gpu.ptr(&x), gpu.ptr(&y));
            let n8 = s.gelu_elems / 8;
            let c = gpu.grid_for(n8);
            gpu.bench(cfg, &mut |g| launch(g, "gelu_bf16", c, &[&px, &py, &n8]))?
        }
        "swiglu" => {
            let f = u64::from(s.ffn);
            let x = gpu.alloc(s.swiglu_rows * 2 * f * 2)?;
            let y = gpu.alloc(s.swiglu_rows * f * 2)?;
            gpu.fill_random(&x, s.swiglu_rows * 2 * f * 2, 41, 1)?;
            let (px, py) = (gpu.ptr(&x), gpu.ptr(&y));
            let rows = s.swiglu_rows;
            let fu = s.ffn;
            let c = gpu.grid_for(rows * f / 8);
            gpu.bench(cfg, &mut |g| {
                launch(g, "swiglu_bf16", c, &[&px, &py, &rows, &fu])
            })?
        }
        "adam" => {
            let n = s.adam_params;
            let bufs: Vec<_> = (0..4).map(|_| gpu.alloc(n * 4)).collect::<Result<_>>()?;
            for (i, b) in bufs.iter().enumerate() {
                // The second moment must stay non-negative for its square root.
                gpu.fill_random(b, n * 4, 51 + i as u32, if i == 3 { 4 } else { 0 })?;
            }
            let p16 = gpu.alloc(n * 2)?;
            let p: Vec<u64> = bufs.iter().map(|b| gpu.ptr(b)).collect();
            let pp16 = gpu.ptr(&p16);
            let n4 = n / 4;
            let (lr, b1, b2, wd) = (1e-4f32, 0.9f32, 0.95f32, 0.1f32);
            let (bc1, bc2) = (1.0 - b1.powi(10), 1.0 - b2.powi(10));
            let c = gpu.grid_for(n4);
            gpu.bench(cfg, &mut |g| {
                launch(
                    g,
                    "adam_f32",
                    c,
                    &[
                        &p[0], &p[1], &p[2], &p[3], &pp16, &n4, &lr, &b1, &b2, &eps, &wd, &bc1,
                        &bc2,
                    ],
                )
            })?
        }
        other => return Err(CalError::Input(format!("unknown membw op {other}"))),
    };
    Ok(summary.median_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        let s = MembwSizes::default();
        // The shared table's copy row moved 4 GiB.
        assert_eq!(bytes_moved("copy", &s), 4294967296);
        assert_eq!(bytes_moved("sum", &s), 2147483648);
        assert_eq!(bytes_moved("swiglu", &s), 6 * 16384 * 14336);
        assert_eq!(bytes_moved("adam", &s), 30 * (256 << 20));
        for op in OPS {
            assert!(bytes_moved(op, &s) > 0, "{op}");
            // Even the --quick working sets stay above twice a 126 MiB (B200) L2.
            assert!(
                bytes_moved(op, &MembwSizes::scaled_down(4)) > 2 * (126 << 20),
                "{op}"
            );
        }
        assert_eq!(s.hidden % 8, 0);
        assert_eq!(s.ffn % 8, 0);
        assert_eq!(s.adam_params % 4, 0);
    }
}
