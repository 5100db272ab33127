//! GEMM cases: data types, orientations, and the standard sweep read from the shared
//! measurement tables (`gemm.csv`, `gemm_m.csv`).
//!
//! A case is labelled, as in the shared tables, by the *forward* shape: `X[M,K] x
//! W[N,K]^T = Y[M,N]`. The orientation says which of the three training GEMMs on that
//! layer is timed; all three do `2*M*N*K` FLOPs.

use std::fmt;
use std::str::FromStr;

use crate::error::{CalError, Result};

/// The shared `gemm.csv` (dtype, kind, M, N, K, op, ms, TFLOPs), embedded so the binary
/// carries its standard sweep with it.
pub const STANDARD_GEMM_CSV: &str =
    include_str!("../../hardware-profiles/calibration/h100-sxm/gemm.csv");
/// The shared `gemm_m.csv` (dtype, M, N, K, op, ms, TFLOPs): the token-count sweep.
pub const STANDARD_GEMM_M_CSV: &str =
    include_str!("../../hardware-profiles/calibration/h100-sxm/gemm_m.csv");

/// GEMM element type (operands; FP8 GEMMs write BF16 as Transformer Engine does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dtype {
    /// bfloat16 operands, FP32 accumulation.
    Bf16,
    /// float16 operands, FP32 accumulation.
    Fp16,
    /// FP32 operands and arithmetic (no tensor cores).
    Fp32,
    /// FP32 operands, TF32 tensor-core arithmetic.
    Tf32,
    /// FP8 E4M3 operands with per-tensor scales, BF16 output, FP32 accumulation.
    Fp8E4m3,
}

impl Dtype {
    /// The name used in the CSV tables.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bf16 => "bf16",
            Dtype::Fp16 => "fp16",
            Dtype::Fp32 => "fp32",
            Dtype::Tf32 => "tf32",
            Dtype::Fp8E4m3 => "fp8e4m3",
        }
    }

    /// Bytes per operand (A, B) element.
    pub fn operand_bytes(self) -> u64 {
        match self {
            Dtype::Bf16 | Dtype::Fp16 => 2,
            Dtype::Fp32 | Dtype::Tf32 => 4,
            Dtype::Fp8E4m3 => 1,
        }
    }

    /// Bytes per output (D) element.
    pub fn output_bytes(self) -> u64 {
        match self {
            Dtype::Bf16 | Dtype::Fp16 | Dtype::Fp8E4m3 => 2,
            Dtype::Fp32 | Dtype::Tf32 => 4,
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dtype {
    type Err = CalError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim() {
            "bf16" => Dtype::Bf16,
            "fp16" => Dtype::Fp16,
            "fp32" => Dtype::Fp32,
            "tf32" => Dtype::Tf32,
            "fp8e4m3" | "fp8" => Dtype::Fp8E4m3,
            other => {
                return Err(CalError::Input(format!(
                    "unknown GEMM dtype {other:?} (expected bf16, fp16, fp32, tf32 or fp8e4m3)"
                )))
            }
        })
    }
}

/// Which of a layer's three training GEMMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// Forward `Y[M,N] = X[M,K] * W[N,K]^T`.
    Fwd,
    /// Input gradient `dX[M,K] = dY[M,N] * W[N,K]`.
    Dgrad,
    /// Weight gradient `dW[N,K] = dY[M,N]^T * X[M,K]` (reduction over the M tokens).
    Wgrad,
}

impl Op {
    /// All three, in table order.
    pub const ALL: [Op; 3] = [Op::Fwd, Op::Dgrad, Op::Wgrad];

    /// The name used in the CSV tables.
    pub fn name(self) -> &'static str {
        match self {
            Op::Fwd => "fwd",
            Op::Dgrad => "dgrad",
            Op::Wgrad => "wgrad",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Op {
    type Err = CalError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim() {
            "fwd" => Op::Fwd,
            "dgrad" => Op::Dgrad,
            "wgrad" => Op::Wgrad,
            other => {
                return Err(CalError::Input(format!(
                    "unknown GEMM op {other:?} (expected fwd, dgrad or wgrad)"
                )))
            }
        })
    }
}

/// One GEMM to time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GemmCase {
    /// Element type.
    pub dtype: Dtype,
    /// Shape class (`square`, `qkv_h4096_tp1`, ...); `None` in the `gemm_m.csv` table.
    pub kind: Option<String>,
    /// Tokens (rows of X and Y).
    pub m: u64,
    /// Output features (rows of W).
    pub n: u64,
    /// Input features (the forward reduction dimension).
    pub k: u64,
    /// Orientation.
    pub op: Op,
}

impl GemmCase {
    /// FLOPs of one call: `2*M*N*K` in every orientation.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }

    /// The cuBLAS (column-major) problem `D[m,n] = op(A)[m,k] * op(B)[k,n]` this case runs,
    /// as `(m, n, k)`. Row-major `Y[M,N]` is column-major `Y^T[N,M]`, hence the swaps.
    pub fn blas_mnk(&self) -> (u64, u64, u64) {
        match self.op {
            Op::Fwd => (self.n, self.m, self.k),
            Op::Dgrad => (self.k, self.m, self.n),
            Op::Wgrad => (self.k, self.n, self.m),
        }
    }
}

/// Which shared table layout a CSV follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `dtype,kind,M,N,K,op,ms,TFLOPs`.
    Gemm,
    /// `dtype,M,N,K,op,ms,TFLOPs`.
    GemmM,
}

/// Parses the GEMM cases (dtype, kind, M, N, K, op) of a shared table; other columns
/// (ms, TFLOPs) are ignored. `what` names the source in errors.
pub fn parse_gemm_table(text: &str, what: &str) -> Result<(TableKind, Vec<GemmCase>)> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| CalError::Input(format!("{what}: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| CalError::Input(format!("{what}: no column {name:?}")))
    };
    let (i_dtype, i_m, i_n, i_k, i_op) = (
        need("dtype")?,
        need("M")?,
        need("N")?,
        need("K")?,
        need("op")?,
    );
    let i_kind = col("kind");
    let table = if i_kind.is_some() {
        TableKind::Gemm
    } else {
        TableKind::GemmM
    };
    let mut cases = Vec::new();
    for (row, rec) in rdr.records().enumerate() {
        let line = row + 2;
        let rec = rec.map_err(|e| CalError::Input(format!("{what}: line {line}: {e}")))?;
        let field = |i: usize| rec.get(i).unwrap_or("");
        let dim = |i: usize, name: &str| -> Result<u64> {
            match field(i).parse::<u64>() {
                Ok(v) if v > 0 => Ok(v),
                _ => Err(CalError::Input(format!(
                    "{what}: line {line}: {name} = {:?} is not a positive integer",
                    field(i)
                ))),
            }
        };
        let ctx = |e: CalError| CalError::Input(format!("{what}: line {line}: {e}"));
        cases.push(GemmCase {
            dtype: field(i_dtype).parse().map_err(ctx)?,
            kind: i_kind.map(|i| field(i).to_string()),
            m: dim(i_m, "M")?,
            n: dim(i_n, "N")?,
            k: dim(i_k, "K")?,
            op: field(i_op).parse().map_err(ctx)?,
        });
    }
    Ok((table, cases))
}

/// The standard sweep: the shapes of the shared `gemm.csv` and `gemm_m.csv`, in file
/// order, so the two measurements compare row by row.
pub fn standard_sweep() -> Result<(Vec<GemmCase>, Vec<GemmCase>)> {
    let (_, g) = parse_gemm_table(STANDARD_GEMM_CSV, "gemm.csv")?;
    let (_, gm) = parse_gemm_table(STANDARD_GEMM_M_CSV, "gemm_m.csv")?;
    Ok((g, gm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_table_layouts() {
        let (t, g) = parse_gemm_table(
            "dtype,kind,M,N,K,op,ms,TFLOPs\nbf16,square,512,512,512,fwd,0.00744,36.1\n\
             fp8e4m3,fc1_h12288_tp8,8192,6144,12288,fwd,0.98,1260.4\n",
            "t",
        )
        .unwrap();
        assert_eq!(t, TableKind::Gemm);
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].dtype, Dtype::Fp8E4m3);
        assert_eq!(g[1].kind.as_deref(), Some("fc1_h12288_tp8"));
        assert_eq!((g[1].m, g[1].n, g[1].k), (8192, 6144, 12288));

        let (t, gm) = parse_gemm_table(
            "dtype,M,N,K,op,ms,TFLOPs\nbf16,64,14336,4096,wgrad,0.05,150.2\n",
            "t",
        )
        .unwrap();
        assert_eq!(t, TableKind::GemmM);
        assert_eq!(gm[0].kind, None);
        assert_eq!(gm[0].op, Op::Wgrad);
    }

    #[test]
    fn bad_rows_name_the_line() {
        let e = parse_gemm_table("dtype,M,N,K,op\nbf16,64,0,4096,fwd\n", "x.csv").unwrap_err();
        assert!(e.to_string().contains("x.csv: line 2: N"), "{e}");
        let e = parse_gemm_table("dtype,M,N,K,op\nint8,64,8,4096,fwd\n", "x.csv").unwrap_err();
        assert!(e.to_string().contains("int8"), "{e}");
        let e = parse_gemm_table("dtype,M,N,op\n", "x.csv").unwrap_err();
        assert!(e.to_string().contains("\"K\""), "{e}");
    }

    #[test]
    fn standard_sweep_matches_the_shared_files() {
        let (g, gm) = standard_sweep().unwrap();
        // One case per data row of each shared table, nothing dropped or added.
        assert_eq!(g.len(), STANDARD_GEMM_CSV.lines().count() - 1);
        assert_eq!(gm.len(), STANDARD_GEMM_M_CSV.lines().count() - 1);
        assert_eq!(g[0].kind.as_deref(), Some("square"));
        assert_eq!((g[0].m, g[0].n, g[0].k, g[0].op), (512, 512, 512, Op::Fwd));
        for d in [
            Dtype::Bf16,
            Dtype::Fp16,
            Dtype::Fp32,
            Dtype::Tf32,
            Dtype::Fp8E4m3,
        ] {
            assert!(g.iter().any(|c| c.dtype == d), "{d} missing from gemm.csv");
        }
        for op in Op::ALL {
            assert!(gm.iter().any(|c| c.op == op));
        }
        // The embedded copy is the file on disk.
        let disk = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../hardware-profiles/calibration/h100-sxm/gemm.csv"
        ))
        .unwrap();
        assert_eq!(parse_gemm_table(&disk, "disk").unwrap().1, g);
    }

    #[test]
    fn blas_problem_per_orientation() {
        let c = |op| GemmCase {
            dtype: Dtype::Bf16,
            kind: None,
            m: 2048,
            n: 12288,
            k: 4096,
            op,
        };
        assert_eq!(c(Op::Fwd).blas_mnk(), (12288, 2048, 4096));
        assert_eq!(c(Op::Dgrad).blas_mnk(), (4096, 2048, 12288));
        assert_eq!(c(Op::Wgrad).blas_mnk(), (4096, 12288, 2048));
        for op in Op::ALL {
            let (m, n, k) = c(op).blas_mnk();
            assert_eq!(2.0 * (m * n * k) as f64, c(op).flops());
        }
    }
}
