//! cuBLASLt GEMMs through the descriptor-level API, with the matmul descriptor, the
//! four layouts and the heuristic's algorithm built once per shape and reused: cudarc's
//! high-level `matmul` rebuilds them and re-runs the heuristic on every call, which
//! costs more than a small GEMM itself.
//!
//! Orientations (row-major tensors are column-major transposes, hence the swaps; see
//! [`GemmCase::blas_mnk`]): forward is cuBLAS "TN", dgrad "NN", wgrad "NT". FP8 runs
//! every orientation as "TN" with pre-transposed operands, the only FP8 layout Hopper
//! supports and what Transformer Engine does, with per-tensor scale pointers (1.0),
//! BF16 output and fast accumulation.

use std::collections::HashMap;
use std::ffi::c_void;
use std::rc::Rc;

use cudarc::cublaslt::result as lt;
use cudarc::cublaslt::sys::{
    self as ltsys, cublasComputeType_t as Compute, cublasLtMatmulAlgo_t,
    cublasLtMatmulDescAttributes_t as DescAttr, cublasLtMatmulPreferenceAttributes_t as PrefAttr,
    cudaDataType as DataType,
};
use cudarc::driver::CudaSlice;

use super::{BenchCfg, Gpu};
use crate::error::{CalError, Result};
use crate::output::GemmRow;
use crate::shapes::{Dtype, GemmCase, Op};

/// cuBLASLt workspace, bytes: what NVIDIA recommends for Hopper.
pub const WORKSPACE_BYTES: usize = 32 << 20;

/// Whether libcublasLt can be opened.
pub fn cublaslt_present() -> bool {
    // SAFETY: only tries to dlopen the library by its candidate names.
    unsafe { ltsys::is_culib_present() }
}

/// Fails with the exit-2 error when libcublasLt is missing.
pub fn require_cublaslt() -> Result<()> {
    if cublaslt_present() {
        Ok(())
    } else {
        Err(CalError::MissingLibrary {
            lib: "libcublasLt.so",
            hint: "cuBLASLt runs the GEMM benchmarks",
        })
    }
}

/// cuBLASLt version (`major.minor.patch`) and the CUDA runtime it was built for.
pub fn versions() -> (String, String) {
    if !cublaslt_present() {
        return (String::new(), String::new());
    }
    // SAFETY: plain queries; the library is present.
    let (v, rt) = unsafe {
        (
            ltsys::cublasLtGetVersion(),
            ltsys::cublasLtGetCudartVersion(),
        )
    };
    (
        format!("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100),
        format!("{}.{}", rt / 1000, (rt % 1000) / 10),
    )
}

/// Whether the device has FP8 tensor cores (sm_89 and newer).
pub fn has_fp8(cc: (i32, i32)) -> bool {
    cc >= (8, 9)
}

/// A prepared GEMM: descriptors and the algorithm chosen for one shape.
pub struct Plan {
    desc: ltsys::cublasLtMatmulDesc_t,
    a: ltsys::cublasLtMatrixLayout_t,
    b: ltsys::cublasLtMatrixLayout_t,
    d: ltsys::cublasLtMatrixLayout_t,
    algo: cublasLtMatmulAlgo_t,
    /// Bytes of the A operand as cuBLAS sees it.
    pub a_bytes: u64,
    /// Bytes of the B operand.
    pub b_bytes: u64,
    /// Bytes of the output.
    pub d_bytes: u64,
    /// Workspace the algorithm asked for, bytes.
    pub workspace: usize,
}

impl Drop for Plan {
    fn drop(&mut self) {
        // SAFETY: created in `Lt::prepare`, destroyed once here.
        unsafe {
            let _ = lt::destroy_matrix_layout(self.a);
            let _ = lt::destroy_matrix_layout(self.b);
            let _ = lt::destroy_matrix_layout(self.d);
            let _ = lt::destroy_matmul_desc(self.desc);
        }
    }
}

type Key = (Dtype, Op, u64, u64, u64);

/// A cuBLASLt handle, its workspace and the plans prepared so far.
pub struct Lt {
    handle: ltsys::cublasLtHandle_t,
    workspace: CudaSlice<u8>,
    scale_one: CudaSlice<u8>,
    plans: HashMap<Key, Rc<Plan>>,
}

impl Drop for Lt {
    fn drop(&mut self) {
        self.plans.clear();
        // SAFETY: created in `Lt::new`, destroyed once here after its plans.
        let _ = unsafe { lt::destroy_handle(self.handle) };
    }
}

fn blas<T>(what: &str, r: std::result::Result<T, lt::CublasError>) -> Result<T> {
    r.map_err(|e| CalError::cuda(what, e))
}

unsafe fn set_desc<T>(desc: ltsys::cublasLtMatmulDesc_t, attr: DescAttr, v: &T) -> Result<()> {
    blas(
        &format!("cublasLtMatmulDescSetAttribute({attr:?})"),
        lt::set_matmul_desc_attribute(desc, attr, v as *const T as *const c_void, size_of::<T>()),
    )
}

impl Lt {
    /// Creates the handle and workspace on `gpu`.
    pub fn new(gpu: &Gpu) -> Result<Lt> {
        require_cublaslt()?;
        gpu.ctx
            .bind_to_thread()
            .map_err(|e| CalError::cuda("binding the context", e))?;
        let handle = blas("cublasLtCreate", lt::create_handle())?;
        let workspace = gpu.alloc(WORKSPACE_BYTES as u64)?;
        let scale_one = gpu.alloc(16)?;
        // SAFETY: 4 bytes into a live 16-byte buffer.
        unsafe {
            cudarc::driver::result::memcpy_htod_sync(gpu.ptr(&scale_one), &[1.0f32])
                .map_err(|e| CalError::cuda("writing the FP8 scale", e))?;
        }
        Ok(Lt {
            handle,
            workspace,
            scale_one,
            plans: HashMap::new(),
        })
    }

    /// The plan for `c`, built and cached on first use. Errors when cuBLASLt has no
    /// algorithm for it (e.g. FP8 on a GPU without FP8 tensor cores).
    pub fn prepare(&mut self, gpu: &Gpu, c: &GemmCase) -> Result<Rc<Plan>> {
        let key = (c.dtype, c.op, c.m, c.n, c.k);
        if let Some(p) = self.plans.get(&key) {
            return Ok(p.clone());
        }
        let plan = Rc::new(self.build(gpu, c)?);
        self.plans.insert(key, plan.clone());
        Ok(plan)
    }

    fn build(&self, gpu: &Gpu, c: &GemmCase) -> Result<Plan> {
        if c.dtype == Dtype::Fp8E4m3 && !has_fp8(gpu.cc) {
            return Err(CalError::Input(format!(
                "FP8 needs sm_89 or newer; this GPU is sm_{}{}",
                gpu.cc.0, gpu.cc.1
            )));
        }
        let mut plan = describe(c, gpu.ptr(&self.scale_one))?;
        let desc = plan.desc;
        let pref = blas("cublasLtMatmulPreferenceCreate", lt::create_matmul_pref())?;
        let ws = WORKSPACE_BYTES as u64;
        // SAFETY: all descriptors are live; `pref` is destroyed right after.
        let heur = unsafe {
            let r = blas(
                "cublasLtMatmulPreferenceSetAttribute",
                lt::set_matmul_pref_attribute(
                    pref,
                    PrefAttr::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                    &ws as *const u64 as *const c_void,
                    size_of::<u64>(),
                ),
            )
            .and_then(|_| {
                blas(
                    &format!(
                        "no cuBLASLt algorithm for {} {} {}x{}x{}",
                        c.dtype, c.op, c.m, c.n, c.k
                    ),
                    lt::get_matmul_algo_heuristic(
                        self.handle,
                        desc,
                        plan.a,
                        plan.b,
                        plan.d,
                        plan.d,
                        pref,
                    ),
                )
            });
            let _ = lt::destroy_matmul_pref(pref);
            r?
        };
        plan.algo = heur.algo;
        plan.workspace = heur.workspaceSize;
        Ok(plan)
    }

    /// Enqueues `D = A * B` for `plan` with operands at the device addresses given
    /// (C aliases D with beta = 0).
    pub fn enqueue(&self, gpu: &Gpu, plan: &Plan, a: u64, b: u64, d: u64) -> Result<()> {
        let (alpha, beta) = (1.0f32, 0.0f32);
        // SAFETY: descriptors are live; the buffers hold at least the plan's byte counts
        // (the caller sizes them from `a_bytes`, `b_bytes`, `d_bytes`).
        blas("cublasLtMatmul", unsafe {
            lt::matmul(
                self.handle,
                plan.desc,
                &alpha as *const f32 as *const c_void,
                &beta as *const f32 as *const c_void,
                a as *const c_void,
                plan.a,
                b as *const c_void,
                plan.b,
                d as *const c_void,
                plan.d,
                d as *mut c_void,
                plan.d,
                &plan.algo,
                gpu.ptr(&self.workspace) as *mut c_void,
                WORKSPACE_BYTES,
                gpu.stream.cu_stream() as ltsys::cudaStream_t,
            )
        })
    }
}

/// The matmul descriptor and operand layouts for `c` (algorithm not chosen yet).
/// Needs libcublasLt but no GPU. `fp8_scale` is the device address of a 1.0f32 used as
/// the A and B scale of FP8 GEMMs.
pub fn describe(c: &GemmCase, fp8_scale: u64) -> Result<Plan> {
    // cublasOperation_t values (an int32 attribute).
    const N: i32 = 0;
    const T: i32 = 1;
    let (m, n, k) = c.blas_mnk();
    let (ta, tb) = match (c.dtype, c.op) {
        (Dtype::Fp8E4m3, _) | (_, Op::Fwd) => (T, N),
        (_, Op::Dgrad) => (N, N),
        (_, Op::Wgrad) => (N, T),
    };
    let (ab, cd, compute) = match c.dtype {
        Dtype::Bf16 => (
            DataType::CUDA_R_16BF,
            DataType::CUDA_R_16BF,
            Compute::CUBLAS_COMPUTE_32F,
        ),
        Dtype::Fp16 => (
            DataType::CUDA_R_16F,
            DataType::CUDA_R_16F,
            Compute::CUBLAS_COMPUTE_32F,
        ),
        Dtype::Fp32 => (
            DataType::CUDA_R_32F,
            DataType::CUDA_R_32F,
            Compute::CUBLAS_COMPUTE_32F,
        ),
        Dtype::Tf32 => (
            DataType::CUDA_R_32F,
            DataType::CUDA_R_32F,
            Compute::CUBLAS_COMPUTE_32F_FAST_TF32,
        ),
        Dtype::Fp8E4m3 => (
            DataType::CUDA_R_8F_E4M3,
            DataType::CUDA_R_16BF,
            Compute::CUBLAS_COMPUTE_32F,
        ),
    };
    // Stored (rows, cols) of each operand, column-major with ld = rows.
    let a_dims = if ta == T { (k, m) } else { (m, k) };
    let b_dims = if tb == T { (n, k) } else { (k, n) };
    let desc = blas(
        "cublasLtMatmulDescCreate",
        lt::create_matmul_desc(compute, DataType::CUDA_R_32F),
    )?;
    let layout = |t, (r, cc): (u64, u64)| {
        blas(
            "cublasLtMatrixLayoutCreate",
            lt::create_matrix_layout(t, r, cc, r as i64),
        )
    };
    // Build the plan step by step so that `Drop` cleans up whatever was created.
    let mut plan = Plan {
        desc,
        a: std::ptr::null_mut(),
        b: std::ptr::null_mut(),
        d: std::ptr::null_mut(),
        // SAFETY: a plain-data struct; overwritten by the heuristic's choice below.
        algo: unsafe { std::mem::zeroed() },
        a_bytes: a_dims.0 * a_dims.1 * c.dtype.operand_bytes(),
        b_bytes: b_dims.0 * b_dims.1 * c.dtype.operand_bytes(),
        d_bytes: m * n * c.dtype.output_bytes(),
        workspace: 0,
    };
    plan.a = layout(ab, a_dims)?;
    plan.b = layout(ab, b_dims)?;
    plan.d = layout(cd, (m, n))?;
    // SAFETY: `desc` is live; each value has the attribute's C type.
    unsafe {
        set_desc(desc, DescAttr::CUBLASLT_MATMUL_DESC_TRANSA, &ta)?;
        set_desc(desc, DescAttr::CUBLASLT_MATMUL_DESC_TRANSB, &tb)?;
        if c.dtype == Dtype::Fp8E4m3 {
            let one = fp8_scale;
            set_desc(desc, DescAttr::CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &one)?;
            set_desc(desc, DescAttr::CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &one)?;
            set_desc(desc, DescAttr::CUBLASLT_MATMUL_DESC_FAST_ACCUM, &1i8)?;
        }
    }
    Ok(plan)
}

/// The fill kind (see `kernels.cu`) for an operand of `dtype`.
fn fill_kind(dtype: Dtype) -> i32 {
    match dtype {
        Dtype::Fp32 | Dtype::Tf32 => 0,
        Dtype::Bf16 => 1,
        Dtype::Fp16 => 2,
        Dtype::Fp8E4m3 => 3,
    }
}

/// Times every case in order and returns the rows measured; a case that cannot run on
/// this GPU (FP8 before sm_89, no algorithm) is reported on stderr and left out.
pub fn run_cases(
    gpu: &Gpu,
    lt: &mut Lt,
    cases: &[GemmCase],
    cfg: &BenchCfg,
    label: &str,
) -> Result<Vec<GemmRow>> {
    let mut plans = Vec::new();
    for c in cases {
        match lt.prepare(gpu, c) {
            Ok(p) => plans.push((c, p)),
            Err(e) => eprintln!(
                "{label}: skipped {} {:?} {}x{}x{} {}: {e}",
                c.dtype, c.kind, c.m, c.n, c.k, c.op
            ),
        }
    }
    let max = |f: fn(&Plan) -> u64| plans.iter().map(|(_, p)| f(p)).max().unwrap_or(16);
    let a = gpu.alloc(max(|p| p.a_bytes))?;
    let b = gpu.alloc(max(|p| p.b_bytes))?;
    let d = gpu.alloc(max(|p| p.d_bytes))?;
    let (pa, pb, pd) = (gpu.ptr(&a), gpu.ptr(&b), gpu.ptr(&d));
    let mut rows = Vec::new();
    let total = plans.len();
    for (i, (c, plan)) in plans.into_iter().enumerate() {
        let kind = fill_kind(c.dtype);
        gpu.fill_random(&a, plan.a_bytes, 2 * i as u32 + 1, kind)?;
        gpu.fill_random(&b, plan.b_bytes, 2 * i as u32 + 2, kind)?;
        let s = gpu.bench(cfg, &mut |g| lt.enqueue(g, &plan, pa, pb, pd))?;
        eprintln!(
            "{label} [{}/{total}] {} {} {}x{}x{} {}: {:.5} ms, {:.1} TFLOP/s (p10-p90 spread {:.1}%, {} runs)",
            i + 1,
            c.dtype,
            c.kind.as_deref().unwrap_or("-"),
            c.m,
            c.n,
            c.k,
            c.op,
            s.median_ms,
            crate::stats::tflops(c.flops(), s.median_ms),
            s.spread() * 100.0,
            s.runs
        );
        rows.push(GemmRow {
            case: c.clone(),
            ms: s.median_ms,
        });
    }
    Ok(rows)
}

/// Runs back-to-back `c` GEMMs for about `seconds` of GPU time untimed: brings clocks,
/// power and temperature to their working point before anything is recorded.
pub fn heat(gpu: &Gpu, lt: &mut Lt, seconds: f64) -> Result<()> {
    if seconds <= 0.0 {
        return Ok(());
    }
    let c = GemmCase {
        dtype: Dtype::Bf16,
        kind: None,
        m: 8192,
        n: 8192,
        k: 8192,
        op: Op::Fwd,
    };
    let plan = lt.prepare(gpu, &c)?;
    let a = gpu.alloc(plan.a_bytes)?;
    let b = gpu.alloc(plan.b_bytes)?;
    let d = gpu.alloc(plan.d_bytes)?;
    gpu.fill_random(&a, plan.a_bytes, 7, 1)?;
    gpu.fill_random(&b, plan.b_bytes, 8, 1)?;
    let t0 = std::time::Instant::now();
    while t0.elapsed().as_secs_f64() < seconds {
        for _ in 0..32 {
            lt.enqueue(gpu, &plan, gpu.ptr(&a), gpu.ptr(&b), gpu.ptr(&d))?;
        }
        gpu.sync()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Descriptor building runs on the CPU: where libcublasLt is on the loader path (no
    /// GPU needed) every dtype and orientation must be accepted; skips elsewhere.
    #[test]
    fn descriptors_for_every_dtype_and_orientation() {
        if !cublaslt_present() {
            eprintln!("skipped: libcublasLt not found (set LD_LIBRARY_PATH to run this test)");
            return;
        }
        let (v, _) = versions();
        assert!(v.split('.').count() == 3, "{v}");
        for dtype in [
            Dtype::Bf16,
            Dtype::Fp16,
            Dtype::Fp32,
            Dtype::Tf32,
            Dtype::Fp8E4m3,
        ] {
            for op in Op::ALL {
                let c = GemmCase {
                    dtype,
                    kind: None,
                    m: 2048,
                    n: 12288,
                    k: 4096,
                    op,
                };
                let p = describe(&c, 0).unwrap_or_else(|e| panic!("{dtype} {op}: {e}"));
                // A and B together hold X (M x K) and W (N x K), or dY (M x N) and one of them.
                let e = dtype.operand_bytes();
                let (x, w, dy) = (c.m * c.k * e, c.n * c.k * e, c.m * c.n * e);
                let ab = p.a_bytes + p.b_bytes;
                match op {
                    Op::Fwd => assert_eq!(ab, x + w),
                    Op::Dgrad => assert_eq!(ab, w + dy),
                    Op::Wgrad => assert_eq!(ab, x + dy),
                }
            }
        }
    }
}
