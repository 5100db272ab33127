//! Step times from training logs: Megatron-LM's "elapsed time per iteration (ms): X"
//! lines, and torchtitan's "step: N ... tps: T" lines (seconds per step from the log
//! timestamps of consecutive step lines).

use crate::error::{Error, Result};

/// What a log gave: seconds per iteration, in log order, and its format.
#[derive(Debug, Clone, PartialEq)]
pub struct LogTimes {
    /// "megatron" or "torchtitan".
    pub format: &'static str,
    /// Seconds per optimizer step, one per interval the log measured.
    pub step_s: Vec<f64>,
}

/// The number after `key` in `line`, commas dropped ("tps: 10,050" -> 10050).
fn number_after(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let t: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    t.parse().ok()
}

/// Seconds since midnight of a "YYYY-MM-DD HH:MM:SS,mmm" (or ".mmm") timestamp in `line`.
fn clock_s(line: &str) -> Option<f64> {
    let b = line.as_bytes();
    (0..b.len().saturating_sub(18)).find_map(|i| {
        let s = line.get(i..i + 19)?;
        let ok = s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b' ' && s.as_bytes()[13] == b':';
        if !ok {
            return None;
        }
        let h: f64 = s.get(11..13)?.parse().ok()?;
        let m: f64 = s.get(14..16)?.parse().ok()?;
        let sec: f64 = s.get(17..19)?.parse().ok()?;
        let frac = line
            .get(i + 19..i + 23)
            .filter(|f| f.starts_with(',') || f.starts_with('.'))
            .and_then(|f| f[1..].parse::<f64>().ok())
            .map_or(0.0, |ms| ms / 1000.0);
        Some(h * 3600.0 + m * 60.0 + sec + frac)
    })
}

/// Parses a training log; `name` is for messages.
pub fn parse(name: &str, text: &str) -> Result<LogTimes> {
    let mut mega = Vec::new();
    let mut titan: Vec<(f64, f64)> = Vec::new();
    for line in text.lines() {
        if let Some(ms) = number_after(line, "elapsed time per iteration (ms):") {
            mega.push(ms / 1e3);
        } else if line.contains("step:") && line.contains("tps:") {
            if let (Some(step), Some(t)) = (number_after(line, "step:"), clock_s(line)) {
                // Ranks print the same step; keep the first line of each.
                if titan.last().is_none_or(|(s, _)| *s != step) {
                    titan.push((step, t));
                }
            }
        }
    }
    if !mega.is_empty() {
        return Ok(LogTimes {
            format: "megatron",
            step_s: mega,
        });
    }
    let steps: Vec<f64> = titan
        .windows(2)
        .filter(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1)
        .map(|w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0))
        .collect();
    if !steps.is_empty() {
        return Ok(LogTimes {
            format: "torchtitan",
            step_s: steps,
        });
    }
    Err(Error::invalid(
        name,
        "no iteration times found: expected Megatron-LM lines with 'elapsed time per iteration (ms):' \
         or torchtitan lines with 'step:' and 'tps:' and timestamps",
    ))
}

/// The median, robust to the first slow iterations and checkpoint stalls.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}
