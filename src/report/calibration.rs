//! Calibration as people read it: a kernel fit's errors and constants
//! (`calibrate fit`), measured runs before and after cluster-level calibration
//! (`calibrate runs`).

use std::path::Path;

use crate::calibrate::fit::FitReport;
use crate::calibrate::model::KernelFit;
use crate::report::units;
use crate::validate::runs::Calibration;

/// A kernel fit for `name` from the measurements in `dir`: median and worst error per
/// shape class, the GEMM and attention summary, the worst GEMM points, and the fitted
/// constants.
pub fn fit_report(name: &str, dir: &Path, rep: &FitReport, f: &KernelFit) -> String {
    let mut t = crate::report::table::styled(None);
    t.set_header(vec![
        "shape class",
        "points",
        "median measured",
        "median |error|",
        "worst |error|",
    ]);
    for c in &rep.classes {
        t.add_row(vec![
            c.class.clone(),
            c.points.to_string(),
            units::secs(c.measured_median_s),
            units::pct(c.median_err),
            units::pct(c.worst_err),
        ]);
    }
    let s = &rep.summary;
    let mut out = format!("kernel fit for {name} from {}\n{t}\n", dir.display());
    out.push_str(&format!(
        "GEMM: {} points, median error {}, worst {}\nattention: {} points, median error {}, worst {}\n",
        s.gemm_points,
        units::pct(s.gemm_median),
        units::pct(s.gemm_worst),
        s.attn_points,
        units::pct(s.attn_median),
        units::pct(s.attn_worst)
    ));
    out.push_str("worst GEMM points:\n");
    for w in &rep.worst {
        out.push_str(&format!(
            "  {:<44} measured {:>9}  fitted {:>9}  {:+.1}%\n",
            w.label,
            units::secs(w.measured_s),
            units::secs(w.predicted_s),
            100.0 * w.error
        ));
    }
    let g = &f.gemm;
    out.push_str(&format!(
        "constants: mainloop {:.3} of peak, tile overhead {}, split-K fix-up {}, intensity knee {:.0}, HBM saturation at {:.2} of SMs, epilogue exposed {:.2}, launch {}, \
         power onset {}, dgrad x{:.3}, wgrad x{:.3}, fp8 x{:.3}, tf32 x{:.3}, fp32 x{:.3}; memory {:.3} of HBM; sustained clock {:.3}; \
         attention forward {:.3} and backward {:.3} of peak, tail {:.2} of a block, launch {}, clock alone {:.3}\n",
        g.mainloop_eff,
        units::secs(g.tile_overhead_s),
        units::secs(g.splitk_overhead_s),
        g.intensity_knee,
        g.bw_saturation,
        g.epilogue_exposed,
        units::secs(g.launch_s),
        units::secs(g.power_tau_s),
        g.dgrad,
        g.wgrad,
        g.fp8,
        g.tf32,
        g.fp32,
        f.memory_eff,
        f.sustained_clock,
        f.attention.fwd_eff,
        f.attention.bwd_eff,
        f.attention.tail,
        units::secs(f.attention.launch_s),
        f.attention.sustained_clock
    ));
    if let Some(c) = f.fp8_sustained_clock {
        out.push_str(&format!(
            "fp8 GEMMs back to back settle at {c:.3} of burst (bf16: {:.3})\n",
            f.sustained_clock
        ));
    }
    out
}

/// Measured runs against the model before and after calibration: one row per run
/// (measured, model and calibrated step seconds with their errors, leave-one-out
/// error), the mean errors, and each factor with its bounds and the value it gives.
pub fn runs_report(c: &Calibration) -> String {
    let mut t = crate::report::table::styled(None);
    t.set_header(vec![
        "run",
        "measured s",
        "model s",
        "error",
        "calibrated s",
        "error",
        "leave-one-out",
    ]);
    for r in &c.runs {
        t.add_row(vec![
            r.id.clone(),
            format!("{:.3}", r.measured_step_s),
            format!("{:.3}", r.before_step_s),
            format!("{:+.1}%", r.before_error_pct),
            format!("{:.3}", r.after_step_s),
            format!("{:+.1}%", r.after_error_pct),
            format!("{:+.1}%", r.loo_error_pct),
        ]);
    }
    let f = &c.factors;
    let b = &c.bounds;
    let mut out = format!("{t}\n");
    out.push_str(&format!(
        "mean |error|: {:.1}% before, {:.1}% after, {:.1}% leave-one-out\n\
         factors (bounds):\n  scale-up efficiency x {:.3} ({:.2}-{:.2}) -> {:.3}\n  scale-out efficiency x {:.3} ({:.2}-{:.2}) -> {:.3}\n  \
         sustained clock x {:.3} ({:.2}-{:.2}) -> {:.3}\n  per-step overhead {:.3} s ({:.0}-{:.0} s)\n",
        c.mape_before,
        c.mape_after,
        c.mape_loo,
        f.scale_up, b[0].0, b[0].1, c.cluster.scale_up.efficiency,
        f.scale_out, b[1].0, b[1].1, c.cluster.scale_out.efficiency,
        f.clock, b[2].0, b[2].1, c.gpu.efficiency.sustained_clock,
        f.overhead_s, b[3].0, b[3].1,
    ));
    out
}
