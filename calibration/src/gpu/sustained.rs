//! Sustained throughput: back-to-back 8192^3 GEMMs (BF16, or FP8 E4M3 as Transformer
//! Engine runs it), TFLOP/s per window of about one second with the SM clock, power
//! and temperature read during that window. FP8 has a table of its own because its
//! tensor-core math may draw a different power per clock and settle at its own clock
//! under the cap (llmplan's fit then gives FP8 GEMMs that clock).
//!
//! Two windows are always queued so the GPU never idles while the host reads
//! nvidia-smi or records a row.

use cudarc::driver::CudaEvent;

use super::gemm::Lt;
use super::Gpu;
use crate::error::{CalError, Result};
use crate::output::SustainedRow;
use crate::shapes::{Dtype, GemmCase, Op};

/// The table a sustained run of `dtype` writes: `sustained.csv` for BF16 (the shared
/// file's name), `sustained_<dtype>.csv` otherwise.
pub fn table_name(dtype: Dtype) -> String {
    match dtype {
        Dtype::Bf16 => "sustained.csv".into(),
        Dtype::Fp8E4m3 => "sustained_fp8.csv".into(),
        d => format!("sustained_{}.csv", d.name()),
    }
}

/// Runs `dtype` GEMMs for about `seconds` of GPU time in windows of about `window_s`.
pub fn run(
    gpu: &Gpu,
    lt: &mut Lt,
    dtype: Dtype,
    size: u64,
    seconds: f64,
    window_s: f64,
) -> Result<Vec<SustainedRow>> {
    let c = GemmCase {
        dtype,
        kind: None,
        m: size,
        n: size,
        k: size,
        op: Op::Fwd,
    };
    let plan = lt.prepare(gpu, &c)?;
    let a = gpu.alloc(plan.a_bytes)?;
    let b = gpu.alloc(plan.b_bytes)?;
    let d = gpu.alloc(plan.d_bytes)?;
    gpu.fill_random(&a, plan.a_bytes, 61, 1)?;
    gpu.fill_random(&b, plan.b_bytes, 62, 1)?;
    let (pa, pb, pd) = (gpu.ptr(&a), gpu.ptr(&b), gpu.ptr(&d));
    let quick = super::BenchCfg {
        flush_l2: false,
        ..super::BenchCfg::quick()
    };
    let est = gpu
        .bench(&quick, &mut |g| lt.enqueue(g, &plan, pa, pb, pd))?
        .median_ms;
    let per_window = ((window_s * 1e3 / est).round() as usize).max(1);
    let ev = || {
        gpu.ctx
            .new_event(Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| CalError::cuda("creating an event", e))
    };
    let record = |e: &CudaEvent| {
        e.record(&gpu.stream)
            .map_err(|x| CalError::cuda("event record", x))
    };
    let origin = ev()?;
    record(&origin)?;
    let enqueue = || -> Result<CudaEvent> {
        for _ in 0..per_window {
            lt.enqueue(gpu, &plan, pa, pb, pd)?;
        }
        let e = ev()?;
        record(&e)?;
        Ok(e)
    };
    let flops = c.flops() * per_window as f64;
    let mut rows = Vec::new();
    let mut queued = std::collections::VecDeque::new();
    queued.push_back(enqueue()?);
    queued.push_back(enqueue()?);
    let mut prev_ms = 0.0f64;
    // The reading taken while window i runs.
    let mut reading = crate::smi::read(gpu.ordinal);
    while let Some(end) = queued.pop_front() {
        end.synchronize()
            .map_err(|e| CalError::cuda("event sync", e))?;
        let t_ms = f64::from(
            origin
                .elapsed_ms(&end)
                .map_err(|e| CalError::cuda("event elapsed", e))?,
        );
        let next_reading = crate::smi::read(gpu.ordinal);
        let r = reading.unwrap_or(crate::smi::Reading {
            sm_clock_mhz: f64::NAN,
            power_w: f64::NAN,
            temp_c: f64::NAN,
        });
        rows.push(SustainedRow {
            t_s: t_ms / 1e3,
            tflops: crate::stats::tflops(flops, t_ms - prev_ms),
            sm_clock_mhz: r.sm_clock_mhz,
            power_w: r.power_w,
            temp_c: r.temp_c,
        });
        eprintln!(
            "sustained {} t={:.1} s: {:.1} TFLOP/s, {:.0} MHz, {:.1} W, {:.0} C",
            dtype.name(),
            t_ms / 1e3,
            rows.last().unwrap().tflops,
            r.sm_clock_mhz,
            r.power_w,
            r.temp_c
        );
        prev_ms = t_ms;
        reading = next_reading;
        // Queue another window while the queued ones would end before `seconds`.
        let queued_s = t_ms / 1e3 + (queued.len() as f64 + 1.0) * est * per_window as f64 / 1e3;
        if queued_s <= seconds + 1e-9 {
            queued.push_back(enqueue()?);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dtype_has_its_own_table() {
        // BF16 keeps the shared measurement's name; llmplan's fit reads the FP8 one.
        assert_eq!(table_name(Dtype::Bf16), "sustained.csv");
        assert_eq!(table_name(Dtype::Fp8E4m3), "sustained_fp8.csv");
        assert_eq!(table_name(Dtype::Fp16), "sustained_fp16.csv");
        assert!(llmplan::calibrate::data::FILE_NAMES.contains(&"sustained_fp8.csv"));
    }
}
