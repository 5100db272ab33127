//! `llmplan calibrate fit DIR`: fit the kernel model to a measurement directory and
//! print measured against fitted per shape class.

use std::path::Path;

use llmplan::calibrate::{data, fit};
use llmplan::report::units;
use llmplan::spec::{catalog, GpuProfile};
use llmplan::Error;

/// Runs the fit; writes `DIR/fit.json` (temporary name, then renamed) when `write`.
pub fn run(dir: &Path, gpu: Option<&str>, write: bool) -> Result<String, Error> {
    let name = match gpu {
        Some(g) => g.to_string(),
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::Usage(format!("{}: name the GPU with --gpu", dir.display())))?,
    };
    let profile: GpuProfile = catalog::load(catalog::GPUS, "gpu", &name)?;
    let meas = data::read_dir(dir)?;
    let f = fit::fit(&profile, &meas)?;
    let rep = fit::errors(&profile, &f, &meas);
    let mut t = llmplan::report::table::styled(None);
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
    if write {
        let json =
            serde_json::to_string_pretty(&f).map_err(|e| Error::Usage(e.to_string()))? + "\n";
        let dest = dir.join("fit.json");
        let tmp = dir.join(".fit.json.tmp");
        std::fs::write(&tmp, json).map_err(|source| Error::Write {
            path: tmp.display().to_string(),
            source,
        })?;
        std::fs::rename(&tmp, &dest).map_err(|source| Error::Write {
            path: dest.display().to_string(),
            source,
        })?;
        out.push_str(&format!("wrote {}\n", dest.display()));
    }
    Ok(out)
}
