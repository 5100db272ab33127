//! Row-by-row comparison of two calibration folders (e.g. this crate's run against the
//! shared PyTorch measurements), for the note that goes with a new table.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{CalError, Result};

/// One row present in both folders.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    /// Table file name.
    pub table: &'static str,
    /// The row's key columns joined with commas.
    pub key: String,
    /// Time in the new folder, ms.
    pub new_ms: f64,
    /// Time in the reference folder, ms.
    pub ref_ms: f64,
}

impl Matched {
    /// new / reference: below 1 means the new measurement is faster.
    pub fn ratio(&self) -> f64 {
        self.new_ms / self.ref_ms
    }
}

/// Keys and times of a table: every column before `ms` forms the key.
pub fn keyed_times(text: &str, what: &str) -> Result<HashMap<String, f64>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| CalError::Input(format!("{what}: {e}")))?
        .clone();
    let ms = headers
        .iter()
        .position(|h| h == "ms")
        .ok_or_else(|| CalError::Input(format!("{what}: no ms column")))?;
    let mut out = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| CalError::Input(format!("{what}: {e}")))?;
        let key: Vec<&str> = rec.iter().take(ms).collect();
        if let Ok(t) = rec.get(ms).unwrap_or("").parse::<f64>() {
            out.insert(key.join(","), t);
        }
    }
    Ok(out)
}

/// Rows of `gemm.csv`, `gemm_m.csv` and `membw.csv` present in both folders, in the
/// new folder's order. A table missing from either folder is skipped.
pub fn compare_dirs(new: &Path, reference: &Path) -> Result<Vec<Matched>> {
    let mut out = Vec::new();
    for table in ["gemm.csv", "gemm_m.csv", "membw.csv"] {
        let (pn, pr) = (new.join(table), reference.join(table));
        let (Ok(tn), Ok(tr)) = (std::fs::read_to_string(&pn), std::fs::read_to_string(&pr)) else {
            continue;
        };
        let r = keyed_times(&tr, &pr.display().to_string())?;
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(tn.as_bytes());
        let n = keyed_times(&tn, &pn.display().to_string())?;
        // Walk the new file again for its row order.
        let ms = rdr
            .headers()
            .ok()
            .and_then(|h| h.iter().position(|c| c == "ms"))
            .unwrap_or(0);
        for rec in rdr.records().flatten() {
            let key = rec.iter().take(ms).collect::<Vec<_>>().join(",");
            if let (Some(&a), Some(&b)) = (n.get(&key), r.get(&key)) {
                out.push(Matched {
                    table,
                    key,
                    new_ms: a,
                    ref_ms: b,
                });
            }
        }
    }
    Ok(out)
}

/// A plain-text report: one line per row, then the median and worst |ratio - 1| per table.
pub fn report(rows: &[Matched]) -> String {
    let mut s = format!(
        "{:<12} {:<48} {:>11} {:>11} {:>7}\n",
        "table", "row", "new ms", "ref ms", "new/ref"
    );
    for r in rows {
        s += &format!(
            "{:<12} {:<48} {:>11.5} {:>11.5} {:>7.3}\n",
            r.table,
            r.key,
            r.new_ms,
            r.ref_ms,
            r.ratio()
        );
    }
    for table in ["gemm.csv", "gemm_m.csv", "membw.csv"] {
        let mut d: Vec<f64> = rows
            .iter()
            .filter(|r| r.table == table)
            .map(|r| (r.ratio() - 1.0).abs())
            .collect();
        if d.is_empty() {
            continue;
        }
        let worst = d.iter().cloned().fold(0.0, f64::max);
        let med = crate::stats::median(&d);
        d.clear();
        s += &format!(
            "{table}: {} rows, median |new/ref - 1| = {:.1}%, worst = {:.1}%\n",
            rows.iter().filter(|r| r.table == table).count(),
            med * 100.0,
            worst * 100.0
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rows_by_key() {
        let dir = std::env::temp_dir().join(format!("llmplan-cal-cmp-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(
            a.join("gemm.csv"),
            "dtype,kind,M,N,K,op,ms,TFLOPs\nbf16,square,512,512,512,fwd,0.008,1\n\
             bf16,square,1024,1024,1024,fwd,0.01,1\n",
        )
        .unwrap();
        std::fs::write(
            b.join("gemm.csv"),
            "dtype,kind,M,N,K,op,ms,TFLOPs\nbf16,square,1024,1024,1024,fwd,0.02,1\n\
             bf16,square,512,512,512,fwd,0.004,1\nbf16,square,9,9,9,fwd,1,1\n",
        )
        .unwrap();
        let m = compare_dirs(&a, &b).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].key, "bf16,square,512,512,512,fwd");
        assert!((m[0].ratio() - 2.0).abs() < 1e-12);
        assert!((m[1].ratio() - 0.5).abs() < 1e-12);
        let r = report(&m);
        assert!(
            r.contains("gemm.csv: 2 rows, median |new/ref - 1| = 75.0%, worst = 100.0%"),
            "{r}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
