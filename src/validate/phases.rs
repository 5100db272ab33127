//! Rows of several training phases: a run published as one row whose `seq_len` or
//! `global_batch_seqs` cell lists one value per phase ("32768 then 131072", "1920 (32K) /
//! 480 (128K)": DeepSeek-V3's context extension, report section 4.3). Each phase becomes
//! a row of its own, with `train_tokens` = its steps x its batch x its sequence, and the
//! run's additive quantities (GPU-hours, days) are the sum over phases (predict.rs).

use super::rows::Row;
use crate::error::{Error, Result};

/// Columns that may hold one value per phase.
const PER_PHASE: &[&str] = &["seq_len", "global_batch_seqs"];

/// The leading number of each phase's part of a cell: parts split at " then ", "/" or
/// ";" ("1920 (32K) / 480 (128K)" -> [1920, 480]); `None` when the cell holds one part
/// (ramps such as "3072->15360" are one part: not phases).
fn values(cell: &str) -> Option<Vec<f64>> {
    let parts: Vec<&str> = cell
        .split(" then ")
        .flat_map(|p| p.split(['/', ';']))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() < 2 {
        return None;
    }
    parts.iter().map(|p| leading_number(p)).collect()
}

/// The number a text starts with ("1920 (32K)" -> 1920).
fn leading_number(t: &str) -> Option<f64> {
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    t[..end]
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v > 0.0)
}

/// Steps of each of `n` phases: the `train_steps` cell (one value per phase, or one for
/// every phase), else the row's notes saying "N steps each" (or "N steps per phase").
fn steps(row: &Row, n: usize) -> Result<Vec<f64>> {
    let cell = row.text("train_steps");
    if !cell.is_empty() {
        let v = values(cell).or_else(|| leading_number(cell).map(|s| vec![s; n]));
        return match v {
            Some(v) if v.len() == n => Ok(v),
            _ => Err(Error::invalid(
                "train_steps",
                format!("'{cell}' is not one step count, or one per phase for {n} phases"),
            )),
        };
    }
    let notes = row.text("notes").to_lowercase();
    let words: Vec<&str> = notes.split(|c: char| c.is_whitespace()).collect();
    let each = words.windows(3).find_map(|w| {
        let said = w[1].trim_end_matches([',', '.', ';']) == "steps"
            && (w[2].starts_with("each") || w[2].starts_with("per"));
        said.then(|| leading_number(&w[0].replace(',', "")))
            .flatten()
    });
    each.map(|s| vec![s; n]).ok_or_else(|| {
        Error::invalid(
            "train_steps",
            format!(
                "not published: the row's {} lists {n} training phases, and each phase's steps are needed to sum them (add train_steps, one count per phase or one for all, e.g. '1000; 1000')",
                PER_PHASE.join(" or ")
            ),
        )
    })
}

/// The row's phases as rows of one phase each, with what was taken for each in words;
/// `None` when the row is of one phase.
pub fn split(row: &Row) -> Result<Option<Vec<(Row, String)>>> {
    let lists: Vec<(&str, Vec<f64>)> = PER_PHASE
        .iter()
        .filter_map(|c| values(row.text(c)).map(|v| (*c, v)))
        .collect();
    let Some(n) = lists.first().map(|(_, v)| v.len()) else {
        return Ok(None);
    };
    if let Some((c, v)) = lists.iter().find(|(_, v)| v.len() != n) {
        return Err(Error::invalid(
            *c,
            format!("{} values where another column lists {n} phases", v.len()),
        ));
    }
    let steps = steps(row, n)?;
    let mut out = Vec::with_capacity(n);
    for (i, s) in steps.iter().enumerate() {
        let mut r = row.clone();
        for (c, v) in &lists {
            r.cells.insert((*c).to_string(), v[i].to_string());
        }
        let (seq, batch) = (r.num("seq_len"), r.num("global_batch_seqs"));
        let (Some(seq), Some(batch)) = (seq, batch) else {
            return Err(Error::invalid(
                "global_batch_seqs",
                "a row of several phases needs seq_len and global_batch_seqs for each",
            ));
        };
        r.cells
            .insert("train_tokens".into(), (s * seq * batch).to_string());
        let said = format!(
            "phase {} of {n}: {s} steps of {batch} sequences of {seq} tokens",
            i + 1
        );
        out.push((r, said));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(&str, &str)]) -> Row {
        Row {
            cells: cells
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            line: 2,
            file: "t.csv".into(),
        }
    }

    #[test]
    fn deepseek_v3_context_extension_is_two_phases() {
        // DeepSeek-V3 report section 4.3: 1000 steps at 32K with 1920 sequences, 1000
        // at 128K with 480.
        let r = row(&[
            ("seq_len", "32768 then 131072"),
            ("global_batch_seqs", "1920 (32K) / 480 (128K)"),
            (
                "notes",
                "Two phases of 1000 steps each with YaRN; LR 7.3e-6.",
            ),
        ]);
        let p = split(&r).unwrap().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0.num("seq_len"), Some(32768.0));
        assert_eq!(p[1].0.num("global_batch_seqs"), Some(480.0));
        // 1000 x 1920 x 32768 = 62.9B tokens; the same for 1000 x 480 x 131072.
        assert_eq!(p[0].0.num("train_tokens"), Some(62_914_560_000.0));
        assert_eq!(p[1].0.num("train_tokens"), Some(62_914_560_000.0));
    }

    #[test]
    fn one_phase_ramps_and_missing_steps() {
        assert!(split(&row(&[("seq_len", "4096")])).unwrap().is_none());
        // A ramp is one phase's batch (another cell's business), not phases.
        assert!(split(&row(&[("global_batch_seqs", "3072->15360 (ramp)")]))
            .unwrap()
            .is_none());
        let no_steps = row(&[
            ("seq_len", "32768 then 131072"),
            ("global_batch_seqs", "1920 / 480"),
        ]);
        let e = split(&no_steps).unwrap_err().to_string();
        assert!(e.contains("train_steps"), "{e}");
        let with_column = row(&[
            ("seq_len", "32768 then 131072"),
            ("global_batch_seqs", "1920 / 480"),
            ("train_steps", "1000; 500"),
        ]);
        let p = split(&with_column).unwrap().unwrap();
        assert_eq!(p[1].0.num("train_tokens"), Some(500.0 * 480.0 * 131072.0));
        let mismatch = row(&[
            ("seq_len", "1 then 2 then 3"),
            ("global_batch_seqs", "1 / 2"),
        ]);
        assert!(split(&mismatch).is_err());
    }
}
