//! SM clock, power and temperature through `nvidia-smi`.
//!
//! cudarc 0.19 has no NVML binding, so the sustained benchmark runs
//! `nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader,nounits`
//! once per window (on the host, while the GPU runs the next window).

use std::process::Command;

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// SM clock, MHz.
    pub sm_clock_mhz: f64,
    /// Board power draw, W.
    pub power_w: f64,
    /// GPU temperature, degrees C.
    pub temp_c: f64,
}

/// Parses the line nvidia-smi prints for one GPU (`1410, 692.11, 73`); a field that is
/// not a number (`[N/A]`) becomes NaN.
pub fn parse_line(line: &str) -> Option<Reading> {
    let f: Vec<f64> = line
        .split(',')
        .map(|s| s.trim().parse::<f64>().unwrap_or(f64::NAN))
        .collect();
    match f[..] {
        [c, p, t] => Some(Reading {
            sm_clock_mhz: c,
            power_w: p,
            temp_c: t,
        }),
        _ => None,
    }
}

/// Reads GPU `index`; `None` when nvidia-smi is missing or prints something else.
pub fn read(index: usize) -> Option<Reading> {
    let out = Command::new("nvidia-smi")
        .args([
            &format!("--id={index}"),
            "--query-gpu=clocks.sm,power.draw,temperature.gpu",
            "--format=csv,noheader,nounits",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_line(String::from_utf8_lossy(&out.stdout).lines().next()?)
}

/// One descriptive line for env.json (name, driver, max clocks, power limit), if
/// nvidia-smi runs.
pub fn describe(index: usize) -> Option<String> {
    let out = Command::new("nvidia-smi")
        .args([
            &format!("--id={index}"),
            "--query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit",
            "--format=csv,noheader",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_readings() {
        let r = parse_line("1410, 692.11, 73").unwrap();
        assert_eq!(r.sm_clock_mhz, 1410.0);
        assert_eq!(r.power_w, 692.11);
        assert_eq!(r.temp_c, 73.0);
        let r = parse_line("1980, [N/A], 40").unwrap();
        assert!(r.power_w.is_nan());
        assert!(parse_line("1410, 692.11").is_none());
        assert!(parse_line("").is_none());
    }
}
