//! `llmplan calibrate fit DIR`: fit the kernel model to a measurement directory and
//! print measured against fitted per shape class (`llmplan::report::calibration`).

use std::path::Path;

use llmplan::calibrate::{data, fit};
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
    let mut out = llmplan::report::calibration::fit_report(&name, dir, &rep, &f);
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
