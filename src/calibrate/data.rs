//! Reading kernel measurements: the CSV files the calibration crate writes and the
//! shared H100 set uses (gemm.csv, gemm_m.csv, attn.csv, attn_long.csv, membw.csv,
//! sustained.csv).

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// GEMM orientation in a training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Orientation {
    /// Y[M,N] = X[M,K] W[N,K]^T.
    Fwd,
    /// dX[M,K] = dY[M,N] W[N,K] (reduction over N).
    Dgrad,
    /// dW[N,K] = dY[M,N]^T X[M,K] (reduction over M).
    Wgrad,
}

impl Orientation {
    /// (output rows, output columns, reduction) of this orientation of the layer GEMM (M, N, K).
    pub fn shape(self, m: f64, n: f64, k: f64) -> (f64, f64, f64) {
        match self {
            Orientation::Fwd => (m, n, k),
            Orientation::Dgrad => (m, k, n),
            Orientation::Wgrad => (n, k, m),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "fwd" => Some(Orientation::Fwd),
            "dgrad" => Some(Orientation::Dgrad),
            "wgrad" => Some(Orientation::Wgrad),
            _ => None,
        }
    }

    /// Name as in the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Orientation::Fwd => "fwd",
            Orientation::Dgrad => "dgrad",
            Orientation::Wgrad => "wgrad",
        }
    }
}

/// One measured GEMM.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmPoint {
    /// dtype as in the CSV (bf16, fp16, fp32, tf32, fp8e4m3).
    pub dtype: String,
    /// Shape class (square, qkv_h4096_tp1, ..., or `m_sweep`).
    pub kind: String,
    /// Layer GEMM dimensions M (tokens), N, K.
    pub m: f64,
    /// N.
    pub n: f64,
    /// K.
    pub k: f64,
    /// Orientation.
    pub op: Orientation,
    /// Measured time, seconds.
    pub seconds: f64,
}

/// One measured flash-attention call.
#[derive(Debug, Clone, PartialEq)]
pub struct AttnPoint {
    /// Batch.
    pub b: f64,
    /// Query heads.
    pub heads: f64,
    /// Sequence length.
    pub s: f64,
    /// Head dimension.
    pub d: f64,
    /// `true` for forward + backward, `false` for forward only.
    pub with_backward: bool,
    /// Measured time, seconds.
    pub seconds: f64,
}

/// Everything measured on one GPU.
#[derive(Debug, Clone, Default)]
pub struct Measurements {
    /// GEMMs (gemm.csv and gemm_m.csv).
    pub gemm: Vec<GemmPoint>,
    /// Flash attention (attn.csv and attn_long.csv).
    pub attn: Vec<AttnPoint>,
    /// Device-copy bandwidth (reads + writes), bytes/s.
    pub copy_bw: f64,
    /// Median sustained TFLOP/s of back-to-back 8192^3 GEMMs at the power cap.
    pub sustained_tflops: f64,
    /// The same for back-to-back 8192^3 FP8 GEMMs (sustained_fp8.csv), where measured.
    pub sustained_fp8_tflops: Option<f64>,
}

#[derive(Deserialize)]
struct GemmRow {
    dtype: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(rename = "M")]
    m: f64,
    #[serde(rename = "N")]
    n: f64,
    #[serde(rename = "K")]
    k: f64,
    op: String,
    ms: f64,
}

#[derive(Deserialize)]
struct AttnRow {
    b: f64,
    heads: f64,
    s: f64,
    d: f64,
    op: String,
    ms: f64,
}

#[derive(Deserialize)]
struct MemRow {
    op: String,
    #[serde(rename = "GBps")]
    gbps: f64,
}

#[derive(Deserialize)]
struct SustainedRow {
    #[serde(rename = "TFLOPs")]
    tflops: f64,
}

/// Parses CSV text into rows of `T`, naming the file and line on error.
fn rows<T: for<'de> Deserialize<'de>>(name: &str, text: &str) -> Result<Vec<T>> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, row) in r.deserialize::<T>().enumerate() {
        out.push(
            row.map_err(|e| Error::invalid(format!("{name}:{}", i + 2), format!("bad row: {e}")))?,
        );
    }
    Ok(out)
}

/// Named CSV texts of one measurement set.
pub struct Files<'a> {
    /// (file name, text) pairs; missing files are simply absent.
    pub files: Vec<(&'a str, String)>,
}

impl Files<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_str())
    }
}

/// The file names a measurement set may hold.
pub const FILE_NAMES: [&str; 7] = [
    "gemm.csv",
    "gemm_m.csv",
    "attn.csv",
    "attn_long.csv",
    "membw.csv",
    "sustained.csv",
    "sustained_fp8.csv",
];

/// Reads a measurement directory.
pub fn read_dir(dir: &Path) -> Result<Measurements> {
    let mut files = Vec::new();
    for name in FILE_NAMES {
        let p = dir.join(name);
        if p.exists() {
            let text = crate::input::read_text(&p)?;
            files.push((name, text));
        }
    }
    if files.is_empty() {
        return Err(Error::invalid(
            "calibration",
            format!("{} holds none of {}", dir.display(), FILE_NAMES.join(", ")),
        ));
    }
    parse(&Files { files })
}

/// Parses a measurement set.
pub fn parse(f: &Files) -> Result<Measurements> {
    let mut m = Measurements::default();
    for (name, default_kind) in [("gemm.csv", None), ("gemm_m.csv", Some("m_sweep"))] {
        if let Some(text) = f.get(name) {
            for r in rows::<GemmRow>(name, text)? {
                let op = Orientation::parse(&r.op).ok_or_else(|| {
                    Error::invalid(
                        format!("{name}: op"),
                        format!("unknown orientation '{}'", r.op),
                    )
                })?;
                m.gemm.push(GemmPoint {
                    dtype: r.dtype,
                    kind: r
                        .kind
                        .or(default_kind.map(String::from))
                        .unwrap_or_default(),
                    m: r.m,
                    n: r.n,
                    k: r.k,
                    op,
                    seconds: r.ms * 1e-3,
                });
            }
        }
    }
    for name in ["attn.csv", "attn_long.csv"] {
        if let Some(text) = f.get(name) {
            for r in rows::<AttnRow>(name, text)? {
                m.attn.push(AttnPoint {
                    b: r.b,
                    heads: r.heads,
                    s: r.s,
                    d: r.d,
                    with_backward: r.op == "fwd_bwd",
                    seconds: r.ms * 1e-3,
                });
            }
        }
    }
    if let Some(text) = f.get("membw.csv") {
        m.copy_bw = rows::<MemRow>("membw.csv", text)?
            .iter()
            .find(|r| r.op == "copy")
            .map_or(0.0, |r| r.gbps * 1e9);
    }
    if let Some(t) = median_tflops(f, "sustained.csv")? {
        m.sustained_tflops = t;
    }
    m.sustained_fp8_tflops = median_tflops(f, "sustained_fp8.csv")?.filter(|t| *t > 0.0);
    Ok(m)
}

/// Median TFLOP/s over the windows of a sustained table, where the set holds it.
fn median_tflops(f: &Files, name: &str) -> Result<Option<f64>> {
    let Some(text) = f.get(name) else {
        return Ok(None);
    };
    let mut v: Vec<f64> = rows::<SustainedRow>(name, text)?
        .iter()
        .map(|r| r.tflops)
        .collect();
    v.sort_by(f64::total_cmp);
    Ok(Some(v.get(v.len() / 2).copied().unwrap_or(0.0)))
}
