//! Everything that talks to the GPU: opening the device, compiling and loading the
//! kernels, CUDA-event timing with L2 flushing, and the three benchmark families.
//!
//! Each library is checked with `is_culib_present()` before its first call: cudarc
//! panics when a dynamically loaded library is missing.

pub mod gemm;
pub mod membw;
pub mod sustained;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cudarc::driver::sys::{self as dsys, CUdevice_attribute as Attr};
use cudarc::driver::{
    result as dresult, CudaContext, CudaEvent, CudaFunction, CudaSlice, CudaStream, DevicePtr,
    LaunchConfig, PushKernelArg,
};

use crate::error::{CalError, Result};
use crate::kernels;
use crate::stats::{runs_for, Summary};

/// Whether libcuda (the driver) can be opened.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the library by its candidate names.
    unsafe { dsys::is_culib_present() }
}

/// How each benchmark is repeated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchCfg {
    /// Untimed warm-up runs continue until they add up to this much GPU time, ms.
    pub warmup_ms: f64,
    /// ... and at least this many.
    pub min_warmup: usize,
    /// Timed runs try to fill this much GPU time, ms.
    pub target_ms: f64,
    /// At least this many timed runs.
    pub min_runs: usize,
    /// At most this many timed runs.
    pub max_runs: usize,
    /// Write a buffer larger than L2 before every run so no operand starts cached.
    pub flush_l2: bool,
}

impl Default for BenchCfg {
    fn default() -> Self {
        BenchCfg {
            warmup_ms: 25.0,
            min_warmup: 3,
            target_ms: 200.0,
            min_runs: 10,
            max_runs: 200,
            flush_l2: true,
        }
    }
}

impl BenchCfg {
    /// A shorter schedule for smoke runs: about a quarter of the GPU time.
    pub fn quick() -> Self {
        BenchCfg {
            warmup_ms: 10.0,
            target_ms: 40.0,
            min_runs: 5,
            max_runs: 50,
            ..Self::default()
        }
    }
}

/// An open device with its stream, compiled kernels and timing events.
pub struct Gpu {
    /// Device ordinal.
    pub ordinal: usize,
    /// Driver context (primary).
    pub ctx: Arc<CudaContext>,
    /// The one stream everything runs on.
    pub stream: Arc<CudaStream>,
    /// Device name.
    pub name: String,
    /// Compute capability.
    pub cc: (i32, i32),
    /// Streaming multiprocessors.
    pub sm_count: u32,
    /// L2 cache, bytes.
    pub l2_bytes: u64,
    /// Device memory, bytes.
    pub total_mem: u64,
    funcs: HashMap<&'static str, CudaFunction>,
    flush: CudaSlice<u8>,
    events: RefCell<Vec<(CudaEvent, CudaEvent)>>,
}

fn drv<T>(what: &str, r: std::result::Result<T, dresult::DriverError>) -> Result<T> {
    r.map_err(|e| CalError::cuda(what, e))
}

impl Gpu {
    /// Opens device `ordinal`: checks libcuda, libcublasLt and libnvrtc, creates the
    /// context and stream, compiles the kernels for the device's `sm_XX` and loads them.
    pub fn open(ordinal: usize) -> Result<Gpu> {
        if !driver_present() {
            return Err(CalError::NoDriver);
        }
        dresult::init().map_err(|e| {
            CalError::NoDevice(format!(
                "cuInit failed ({e:?}); is the NVIDIA driver loaded?"
            ))
        })?;
        let count =
            dresult::device::get_count().map_err(|e| CalError::NoDevice(format!("{e:?}")))?;
        if count <= 0 {
            return Err(CalError::NoDevice("the driver reports 0 devices".into()));
        }
        if ordinal >= count as usize {
            return Err(CalError::Input(format!(
                "--device {ordinal}: only {count} device(s) present"
            )));
        }
        kernels::require_nvrtc()?;
        gemm::require_cublaslt()?;

        let ctx = drv("creating the CUDA context", CudaContext::new(ordinal))?;
        // One stream and no cross-stream sharing: cudarc's per-buffer event tracking
        // would only add event records between timed kernels.
        // SAFETY: everything below runs on the single stream created here.
        unsafe { ctx.disable_event_tracking() };
        let stream = drv("creating a stream", ctx.new_stream())?;
        let name = drv("device name", ctx.name())?;
        let cc = drv("compute capability", ctx.compute_capability())?;
        let sm_count = drv(
            "SM count",
            ctx.attribute(Attr::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
        )? as u32;
        let l2_bytes = drv(
            "L2 size",
            ctx.attribute(Attr::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE),
        )? as u64;
        let total_mem = drv("memory size", ctx.total_mem())? as u64;

        let cubin = kernels::compile_cubin(&kernels::arch_for(cc))?;
        let module = drv(
            "loading the kernel cubin",
            ctx.load_module(cudarc::nvrtc::Ptx::from_binary(cubin)),
        )?;
        let mut funcs = HashMap::new();
        for &k in kernels::KERNELS {
            funcs.insert(k, drv(k, module.load_function(k))?);
        }
        // Twice L2 and at least 64 MiB: writing it evicts every operand line.
        let flush_bytes = (2 * l2_bytes).max(64 << 20) as usize;
        // SAFETY: only ever written (memset), never read.
        let flush = drv("allocating the L2 flush buffer", unsafe {
            stream.alloc::<u8>(flush_bytes)
        })?;
        Ok(Gpu {
            ordinal,
            ctx,
            stream,
            name,
            cc,
            sm_count,
            l2_bytes,
            total_mem,
            funcs,
            flush,
            events: RefCell::new(Vec::new()),
        })
    }

    /// A loaded kernel.
    pub fn func(&self, name: &str) -> Result<&CudaFunction> {
        self.funcs
            .get(name)
            .ok_or_else(|| CalError::Input(format!("no kernel {name}")))
    }

    /// Allocates `bytes` (rounded up to 16) of device memory, uninitialised.
    pub fn alloc(&self, bytes: u64) -> Result<CudaSlice<u8>> {
        let n = bytes.div_ceil(16).max(1) * 16;
        // SAFETY: callers fill before reading.
        drv(
            &format!("allocating {:.2} GiB", n as f64 / (1u64 << 30) as f64),
            unsafe { self.stream.alloc::<u8>(n as usize) },
        )
    }

    /// Device address of a buffer.
    pub fn ptr<T>(&self, s: &CudaSlice<T>) -> u64 {
        s.device_ptr(&self.stream).0
    }

    /// Grid for a grid-stride kernel over `items` with 256-thread blocks: enough blocks
    /// to fill every SM, no more than the work needs.
    pub fn grid_for(&self, items: u64) -> LaunchConfig {
        let blocks = items.div_ceil(256).clamp(1, u64::from(self.sm_count) * 8) as u32;
        LaunchConfig {
            grid_dim: (blocks, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    /// Fills the first `bytes` of `buf` with random finite values of `kind`
    /// (0 f32, 1 bf16, 2 f16, 3 fp8 e4m3, 4 positive f32).
    pub fn fill_random(&self, buf: &CudaSlice<u8>, bytes: u64, seed: u32, kind: i32) -> Result<()> {
        let words = bytes.div_ceil(4).min(buf.len() as u64 / 4);
        let p = self.ptr(buf);
        let f = self.func("fill_random")?;
        let mut b = self.stream.launch_builder(f);
        b.arg(&p).arg(&words).arg(&seed).arg(&kind);
        // SAFETY: argument types match the kernel's signature; `words` stays in bounds.
        drv(
            "fill_random",
            unsafe { b.launch(self.grid_for(words)) }.map(|_| ()),
        )
    }

    /// Evicts L2 by writing the flush buffer.
    pub fn flush_l2(&self) -> Result<()> {
        let p = self.ptr(&self.flush);
        // SAFETY: the buffer is live and `len` bytes long.
        drv("L2 flush", unsafe {
            dresult::memset_d8_async(p, 0, self.flush.len(), self.stream.cu_stream())
        })
    }

    /// Waits for the stream.
    pub fn sync(&self) -> Result<()> {
        drv("stream synchronize", self.stream.synchronize())
    }

    fn timing_event(&self) -> Result<CudaEvent> {
        drv(
            "creating an event",
            self.ctx
                .new_event(Some(dsys::CUevent_flags::CU_EVENT_DEFAULT)),
        )
    }

    /// Times `op` with CUDA events: warm-up first, then `runs_for` timed runs, each
    /// preceded (outside its events) by an L2 flush when `cfg.flush_l2`.
    pub fn bench(&self, cfg: &BenchCfg, op: &mut dyn FnMut(&Gpu) -> Result<()>) -> Result<Summary> {
        let (s0, e0) = (self.timing_event()?, self.timing_event()?);
        let mut warm = Vec::new();
        let started = Instant::now();
        loop {
            if cfg.flush_l2 {
                self.flush_l2()?;
            }
            drv("event record", s0.record(&self.stream))?;
            op(self)?;
            drv("event record", e0.record(&self.stream))?;
            warm.push(f64::from(drv("event elapsed", s0.elapsed_ms(&e0))?));
            let total: f64 = warm.iter().sum();
            if warm.len() >= cfg.min_warmup
                && (total >= cfg.warmup_ms || started.elapsed() > Duration::from_secs(3))
            {
                break;
            }
        }
        let est = crate::stats::median(&warm[warm.len().saturating_sub(5)..]);
        let n = runs_for(est, cfg.target_ms, cfg.min_runs, cfg.max_runs);
        let mut ev = self.events.borrow_mut();
        while ev.len() < n {
            ev.push((self.timing_event()?, self.timing_event()?));
        }
        for (s, e) in ev.iter().take(n) {
            if cfg.flush_l2 {
                self.flush_l2()?;
            }
            drv("event record", s.record(&self.stream))?;
            op(self)?;
            drv("event record", e.record(&self.stream))?;
        }
        self.sync()?;
        let mut t = Vec::with_capacity(n);
        for (s, e) in ev.iter().take(n) {
            t.push(f64::from(drv("event elapsed", s.elapsed_ms(e))?));
        }
        Summary::of(&t).ok_or_else(|| CalError::Cuda {
            what: "timing".into(),
            detail: "no finite samples".into(),
        })
    }

    /// Device and library facts for env.json.
    pub fn env_info(&self, method: Vec<String>) -> Result<crate::output::EnvInfo> {
        let mut drv_ver = 0;
        // SAFETY: out-pointer to a live integer; libcuda is loaded.
        drv(
            "cuDriverGetVersion",
            unsafe { dsys::cuDriverGetVersion(&mut drv_ver) }.result(),
        )?;
        let (lt, lt_rt) = gemm::versions();
        Ok(crate::output::EnvInfo {
            name: self.name.clone(),
            sm_count: self.sm_count,
            total_mem_bytes: self.total_mem,
            l2_bytes: self.l2_bytes,
            compute_capability: format!("{}.{}", self.cc.0, self.cc.1),
            cuda_driver_api: format!("{}.{}", drv_ver / 1000, (drv_ver % 1000) / 10),
            cublaslt: lt,
            cublaslt_cudart: lt_rt,
            nvrtc: kernels::nvrtc_version()?,
            nvidia_smi: crate::smi::describe(self.ordinal),
            tool: format!("llmplan-calibrate {}", env!("CARGO_PKG_VERSION")),
            started_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            method,
        })
    }
}
