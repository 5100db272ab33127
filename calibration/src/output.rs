//! The tables and `env.json` this crate writes, in the columns of the shared
//! measurements in `hardware-profiles/calibration/h100-sxm/`, written atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{CalError, Result};
use crate::shapes::GemmCase;

/// Header of `gemm.csv` (and of `gemm_<scenario>.csv`).
pub const GEMM_HEADER: &str = "dtype,kind,M,N,K,op,ms,TFLOPs";
/// Header of `gemm_m.csv`.
pub const GEMM_M_HEADER: &str = "dtype,M,N,K,op,ms,TFLOPs";
/// Header of `membw.csv`.
pub const MEMBW_HEADER: &str = "op,bytes_moved,ms,GBps";
/// Header of `sustained.csv`.
pub const SUSTAINED_HEADER: &str = "t_s,TFLOPs,sm_clock_mhz,power_w,temp_c";

/// One timed GEMM.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmRow {
    /// The case.
    pub case: GemmCase,
    /// Median time, ms.
    pub ms: f64,
}

/// One memory-bound kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct MembwRow {
    /// Kernel name (`copy`, `rmsnorm`, `adam`, ...).
    pub op: String,
    /// Bytes read plus bytes written by one call.
    pub bytes_moved: u64,
    /// Median time, ms.
    pub ms: f64,
}

/// One window of the sustained run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SustainedRow {
    /// End of the window since the run started, s.
    pub t_s: f64,
    /// Throughput over the window, TFLOP/s.
    pub tflops: f64,
    /// SM clock read during the window, MHz (NaN when unavailable).
    pub sm_clock_mhz: f64,
    /// Board power read during the window, W (NaN when unavailable).
    pub power_w: f64,
    /// Temperature read during the window, degrees C (NaN when unavailable).
    pub temp_c: f64,
}

/// A number with `digits` decimals; NaN (nothing measured) becomes an empty field.
fn num(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        String::new()
    }
}

/// `gemm.csv` text (with the kind column) or `gemm_m.csv` text (without).
pub fn gemm_csv(rows: &[GemmRow], with_kind: bool) -> String {
    let mut s = String::from(if with_kind {
        GEMM_HEADER
    } else {
        GEMM_M_HEADER
    });
    s.push('\n');
    for r in rows {
        let c = &r.case;
        let tf = crate::stats::tflops(c.flops(), r.ms);
        if with_kind {
            s += &format!("{},{},", c.dtype, c.kind.as_deref().unwrap_or(""));
        } else {
            s += &format!("{},", c.dtype);
        }
        s += &format!(
            "{},{},{},{},{},{}\n",
            c.m,
            c.n,
            c.k,
            c.op,
            num(r.ms, 5),
            num(tf, 1)
        );
    }
    s
}

/// `membw.csv` text.
pub fn membw_csv(rows: &[MembwRow]) -> String {
    let mut s = format!("{MEMBW_HEADER}\n");
    for r in rows {
        let g = crate::stats::gbps(r.bytes_moved as f64, r.ms);
        s += &format!(
            "{},{},{},{}\n",
            r.op,
            r.bytes_moved,
            num(r.ms, 4),
            num(g, 1)
        );
    }
    s
}

/// `sustained.csv` text.
pub fn sustained_csv(rows: &[SustainedRow]) -> String {
    let mut s = format!("{SUSTAINED_HEADER}\n");
    for r in rows {
        s += &format!(
            "{},{},{},{},{}\n",
            num(r.t_s, 1),
            num(r.tflops, 1),
            num(r.sm_clock_mhz, 0),
            num(r.power_w, 2),
            num(r.temp_c, 0)
        );
    }
    s
}

/// Device and library facts written beside the tables as `env.json`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct EnvInfo {
    /// Device name as the driver reports it.
    pub name: String,
    /// Streaming multiprocessors.
    pub sm_count: u32,
    /// Device memory, bytes.
    pub total_mem_bytes: u64,
    /// L2 cache, bytes.
    pub l2_bytes: u64,
    /// Compute capability, `major.minor`.
    pub compute_capability: String,
    /// CUDA version the driver supports (`cuDriverGetVersion`), `major.minor`.
    pub cuda_driver_api: String,
    /// cuBLASLt version, `major.minor.patch`.
    pub cublaslt: String,
    /// CUDA runtime cuBLASLt was built against, `major.minor`.
    pub cublaslt_cudart: String,
    /// NVRTC version, `major.minor`.
    pub nvrtc: String,
    /// `nvidia-smi` line: name, driver version, max SM and memory clocks, power limit.
    pub nvidia_smi: Option<String>,
    /// This tool and its version.
    pub tool: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix_s: u64,
    /// How the numbers were taken (timing, flushing, FP8 settings).
    pub method: Vec<String>,
}

/// The folder name for a device: the llmplan GPU profile name where one matches
/// (`NVIDIA H100 80GB HBM3` -> `h100-sxm`), else the lower-cased name with runs of
/// other characters turned into `-` and the `nvidia` prefix dropped.
pub fn gpu_slug(device_name: &str) -> String {
    let n = device_name.to_ascii_lowercase();
    let has = |s: &str| n.contains(s);
    let known = if has("gb200") {
        Some("gb200")
    } else if has("b200") {
        Some("b200-sxm")
    } else if has("h200") {
        Some("h200-sxm")
    } else if has("h800") {
        Some("h800-sxm")
    } else if has("h100") && (has("pcie") || has("nvl")) {
        Some("h100-pcie")
    } else if has("h100") {
        Some("h100-sxm")
    } else if has("a100") && has("40gb") {
        Some("a100-sxm-40gb")
    } else if has("a100") && !has("pcie") {
        Some("a100-sxm-80gb")
    } else {
        None
    };
    if let Some(k) = known {
        return k.to_string();
    }
    let mut s = String::new();
    for ch in n.trim_start_matches("nvidia").chars() {
        if ch.is_ascii_alphanumeric() {
            s.push(ch);
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() {
        "unknown-gpu".to_string()
    } else {
        s
    }
}

/// Writes `contents` to `path` through a temporary file in the same folder and a
/// rename, so a reader never sees half a table. Creates the folder.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| CalError::io(dir, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| CalError::Input(format!("{}: not a file path", path.display())))?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CalError::io(path, e)
    })
}

/// Writes `env.json` (pretty, with a trailing newline).
pub fn write_env(path: &Path, env: &EnvInfo) -> Result<()> {
    let mut s =
        serde_json::to_string_pretty(env).map_err(|e| CalError::Input(format!("env.json: {e}")))?;
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::{parse_gemm_table, Dtype, Op, TableKind};

    fn case(kind: Option<&str>) -> GemmCase {
        GemmCase {
            dtype: Dtype::Bf16,
            kind: kind.map(str::to_string),
            m: 8192,
            n: 8192,
            k: 8192,
            op: Op::Fwd,
        }
    }

    #[test]
    fn gemm_tables_have_the_shared_columns_and_round_trip() {
        let rows = vec![GemmRow {
            case: case(Some("square")),
            ms: 1.39347,
        }];
        let s = gemm_csv(&rows, true);
        assert_eq!(
            s,
            "dtype,kind,M,N,K,op,ms,TFLOPs\nbf16,square,8192,8192,8192,fwd,1.39347,789.0\n"
        );
        let shared = crate::shapes::STANDARD_GEMM_CSV.lines().next().unwrap();
        assert_eq!(s.lines().next().unwrap(), shared);
        let (t, back) = parse_gemm_table(&s, "out").unwrap();
        assert_eq!((t, back), (TableKind::Gemm, vec![rows[0].case.clone()]));

        let m = gemm_csv(
            &[GemmRow {
                case: case(None),
                ms: 1.39347,
            }],
            false,
        );
        let shared_m = crate::shapes::STANDARD_GEMM_M_CSV.lines().next().unwrap();
        assert_eq!(m.lines().next().unwrap(), shared_m);
        assert_eq!(
            m.lines().nth(1).unwrap(),
            "bf16,8192,8192,8192,fwd,1.39347,789.0"
        );
    }

    #[test]
    fn membw_and_sustained_tables() {
        let s = membw_csv(&[MembwRow {
            op: "copy".into(),
            bytes_moved: 4294967296,
            ms: 1.4213,
        }]);
        assert_eq!(s, "op,bytes_moved,ms,GBps\ncopy,4294967296,1.4213,3021.9\n");
        let s = sustained_csv(&[
            SustainedRow {
                t_s: 1.1,
                tflops: 666.7,
                sm_clock_mhz: 1410.0,
                power_w: 692.11,
                temp_c: 73.0,
            },
            SustainedRow {
                t_s: 2.2,
                tflops: 669.6,
                sm_clock_mhz: f64::NAN,
                power_w: f64::NAN,
                temp_c: f64::NAN,
            },
        ]);
        assert_eq!(
            s,
            "t_s,TFLOPs,sm_clock_mhz,power_w,temp_c\n1.1,666.7,1410,692.11,73\n2.2,669.6,,,\n"
        );
        for (ours, file) in [
            (MEMBW_HEADER, "membw.csv"),
            (SUSTAINED_HEADER, "sustained.csv"),
        ] {
            let p = format!(
                "{}/../hardware-profiles/calibration/h100-sxm/{file}",
                env!("CARGO_MANIFEST_DIR")
            );
            let shared = std::fs::read_to_string(p).unwrap();
            assert_eq!(shared.lines().next().unwrap(), ours, "{file}");
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(gpu_slug("NVIDIA H100 80GB HBM3"), "h100-sxm");
        assert_eq!(gpu_slug("NVIDIA H100 PCIe"), "h100-pcie");
        assert_eq!(gpu_slug("NVIDIA H200"), "h200-sxm");
        assert_eq!(gpu_slug("NVIDIA A100-SXM4-40GB"), "a100-sxm-40gb");
        assert_eq!(gpu_slug("NVIDIA A100-SXM4-80GB"), "a100-sxm-80gb");
        assert_eq!(gpu_slug("NVIDIA GeForce RTX 4090"), "geforce-rtx-4090");
        assert_eq!(gpu_slug("???"), "unknown-gpu");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("llmplan-cal-test-{}", std::process::id()));
        let p = dir.join("sub/gemm.csv");
        write_atomic(&p, b"a\n").unwrap();
        write_atomic(&p, b"b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "b\n");
        let left: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
        let env = EnvInfo {
            name: "X".into(),
            sm_count: 132,
            ..Default::default()
        };
        write_env(&dir.join("env.json"), &env).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("env.json")).unwrap()).unwrap();
        assert_eq!(v["sm_count"], 132);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
