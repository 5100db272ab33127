//! Names as published tables spell them, resolved to catalog entries: models
//! ("DeepSeekV3", "LLAMA3_70B", "LLAMA3.1_405B", "GPT OSS 120B" all name catalog models
//! once case, separators and version spellings are normalised) and GPUs (every catalog
//! GPU, by its chip name, form factor and memory).

use crate::error::{Error, Result};
use crate::spec::catalog;
use crate::spec::{ClusterProfile, GpuProfile};

/// Spellings that normalisation alone does not reach: (normalised alias, catalog name).
/// An alias names the same architecture; where versions differ only in training (Llama
/// 3.1 against 3: same weights' shapes, longer context) the alias says so.
const ALIASES: &[(&str, &str)] = &[
    ("gpt3", "gpt3-175b"),
    ("gpt3davinci", "gpt3-175b"),
    ("davinci", "gpt3-175b"),
    ("gpt1t", "megatron-1t"),
    ("megatrongpt1t", "megatron-1t"),
    ("gpt1008b", "megatron-1t"),
    ("bloom", "bloom-176b"),
    ("opt", "opt-175b"),
    ("mixtral8x7", "mixtral-8x7b"),
    ("deepseekv3671b", "deepseek-v3"),
    ("gpt4", "gpt4-moe-1.8t"),
];

/// Lower case with every separator (space, `-`, `_`, `.`, `/`, `(`, `)`) removed:
/// "LLAMA3.1_405B" -> "llama31405b", "Llama-3.1 405B" -> the same.
pub fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A name split into its family (leading letters), version and size in billions:
/// "LLAMA3.1_405B" -> ("llama", "3.1", 405), "Qwen3_30B_a3B" -> ("qwen", "3", 30),
/// "Nemotron-4 340B" -> ("nemotron", "4", 340), "DeepSeekV3" -> ("deepseek", "3", -).
#[derive(Debug, Clone, PartialEq)]
struct Parts {
    family: String,
    version: String,
    size_b: Option<f64>,
}

fn parts(name: &str) -> Parts {
    let lower = name.to_ascii_lowercase();
    // Tokens: runs of letters, runs of digits with dots.
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    let kind = |c: char| {
        if c.is_ascii_alphabetic() {
            1
        } else if c.is_ascii_digit() || c == '.' {
            2
        } else {
            0
        }
    };
    for c in lower.chars() {
        if kind(c) == 0 {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some(last) = cur.chars().last() {
            if kind(last) != kind(c) {
                tokens.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let mut family = String::new();
    let mut version = String::new();
    let mut size_b = None;
    let mut i = 0;
    while i < tokens.len()
        && tokens[i].chars().all(|c| c.is_ascii_alphabetic())
        && family.is_empty()
    {
        family = tokens[i].clone();
        i += 1;
    }
    // A trailing single "v" is a version marker ("deepseekv3"), not the family.
    if family.len() > 1 && family.ends_with('v') && tokens.get(i).is_some_and(|t| is_num(t)) {
        family.pop();
    }
    while i < tokens.len() {
        let t = &tokens[i];
        let unit = tokens.get(i + 1).map(String::as_str);
        if is_num(t) {
            let v: f64 = t.trim_matches('.').parse().unwrap_or(f64::NAN);
            match unit {
                Some("b") if size_b.is_none() => size_b = Some(v),
                Some("t") if size_b.is_none() => size_b = Some(v * 1000.0),
                _ if version.is_empty() && size_b.is_none() => version = t.clone(),
                _ => {}
            }
        }
        i += 1;
    }
    Parts {
        family,
        version,
        size_b: size_b.filter(|v| v.is_finite()),
    }
}

fn is_num(t: &str) -> bool {
    !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.')
}

fn major(v: &str) -> &str {
    v.split('.').next().unwrap_or(v)
}

/// The catalog model a published name refers to, and how it was matched (`None` when
/// the name is the catalog's own spelling).
pub fn resolve_model(
    name: &str,
) -> std::result::Result<(&'static str, Option<String>), Vec<String>> {
    let key = normalise(name);
    let names = catalog::names(catalog::MODELS);
    // The catalog name, the display name, or an alias, after normalisation.
    for n in &names {
        if normalise(n) == key {
            return Ok((n, None));
        }
    }
    for (p, text) in catalog::MODELS {
        let display = text
            .lines()
            .find_map(|l| l.strip_prefix("display_name:"))
            .map(str::trim)
            .unwrap_or("");
        if !display.is_empty() && normalise(display) == key {
            let stem = names[catalog::MODELS
                .iter()
                .position(|(q, _)| q == p)
                .unwrap_or(0)];
            return Ok((stem, None));
        }
    }
    if let Some((_, n)) = ALIASES.iter().find(|(a, _)| *a == key) {
        return Ok((
            n,
            Some(format!("'{name}' is an alias of catalog model {n}")),
        ));
    }
    // Same family and size; the version must agree on its major number where both
    // give one ("Llama 3.1 405B" is llama3-405b; "Llama 2 70B" is not llama3-70b).
    let want = parts(name);
    if want.size_b.is_some() && !want.family.is_empty() {
        let hits: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| {
                let p = parts(n);
                p.family == want.family
                    && p.size_b
                        .zip(want.size_b)
                        .is_some_and(|(a, b)| (a - b).abs() < 0.5)
                    && (want.version.is_empty()
                        || p.version.is_empty()
                        || major(&p.version) == major(&want.version))
            })
            .collect();
        if hits.len() == 1 {
            return Ok((
                hits[0],
                Some(format!(
                    "'{name}' resolved to catalog model {} (same family, size and major version)",
                    hits[0]
                )),
            ));
        }
    }
    Err(nearest(&key, &names))
}

/// Up to three catalog names closest to `key` by edit distance on normalised names.
fn nearest(key: &str, names: &[&'static str]) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (edit_distance(key, &normalise(n)), *n))
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The catalog GPU and cluster for a published GPU name ("H100-SXM", "A100 80GB",
/// "GB200", "H100-SXM (HBM3, 700 W)"): the catalog GPU whose chip name leads the text,
/// PCIe or SXM as the text says, the memory size nearest `mem_gb` when given; the
/// cluster is the first catalog cluster built from that GPU.
pub fn resolve_gpu(text: &str, mem_gb: Option<f64>) -> Result<(GpuProfile, ClusterProfile)> {
    let lower = text.to_ascii_lowercase();
    // The chip is the first word with a digit that names a catalog chip, so counts and
    // form factors around it ("8x MI300X", "Instinct MI300X OAM", "B200-SXM-180GB",
    // "NVIDIA Blackwell GPU (GB200)") do not hide it.
    let chips: Vec<String> = catalog::names(catalog::GPUS)
        .iter()
        .map(|n| n.split('-').next().unwrap_or(n).to_string())
        .collect();
    let chip: String = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .find(|t| chips.iter().any(|c| c == t))
        .unwrap_or("")
        .to_string();
    let pcie = lower.contains("pcie");
    let mut best: Option<(f64, GpuProfile)> = None;
    for n in catalog::names(catalog::GPUS) {
        let g: GpuProfile = catalog::load(catalog::GPUS, "gpu", n)?;
        let name_chip = n.split('-').next().unwrap_or(n);
        if chip.is_empty() || name_chip != chip || n.contains("pcie") != pcie {
            continue;
        }
        let mem = g.memory_bytes / 1e9;
        let miss = mem_gb.map_or(0.0, |m| (mem - m).abs());
        if best.as_ref().is_none_or(|(b, _)| miss < *b) {
            best = Some((miss, g));
        }
    }
    let Some((_, gpu)) = best else {
        return Err(Error::invalid(
            "gpu_type",
            format!(
                "no hardware profile for '{text}' (catalog GPUs: {})",
                catalog::names(catalog::GPUS).join(", ")
            ),
        ));
    };
    for n in catalog::names(catalog::CLUSTERS) {
        let c: ClusterProfile = catalog::load(catalog::CLUSTERS, "cluster", n)?;
        if c.gpu == gpu.name {
            return Ok((gpu, c));
        }
    }
    Err(Error::invalid(
        "gpu_type",
        format!("no cluster profile is built from {}", gpu.name),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str) -> Option<&'static str> {
        resolve_model(name).ok().map(|(n, _)| n)
    }

    #[test]
    fn published_spellings_resolve() {
        // Spellings from published performance tables (NeMo, Megatron-Core, model cards).
        assert_eq!(model("DeepSeekV3"), Some("deepseek-v3"));
        assert_eq!(model("DeepSeek-V3 (pre-training stage)"), None); // words after the name
        assert_eq!(model("LLAMA3_70B"), Some("llama3-70b"));
        assert_eq!(model("LLAMA3.1_405B"), Some("llama3-405b"));
        assert_eq!(model("Llama 3.1 405B"), Some("llama3-405b"));
        assert_eq!(model("Llama-3-8B"), Some("llama3-8b"));
        assert_eq!(model("LLAMA2-70B"), Some("llama2-70b"));
        assert_eq!(model("GPT-3 175B"), Some("gpt3-175b"));
        assert_eq!(model("gpt3_175b"), Some("gpt3-175b"));
        assert_eq!(model("Mixtral 8x7B"), Some("mixtral-8x7b"));
        // Another major version is another model.
        assert_eq!(model("Llama 2 8B"), None);
    }

    #[test]
    fn unknown_names_list_the_nearest() {
        let near = resolve_model("LLAMA3_71B").unwrap_err();
        assert!(near.contains(&"llama3-70b".to_string()), "{near:?}");
    }

    #[test]
    fn name_parts() {
        let p = parts("Qwen3_30B_a3B");
        assert_eq!(
            (p.family.as_str(), p.version.as_str(), p.size_b),
            ("qwen", "3", Some(30.0))
        );
        let p = parts("GPT OSS 120B");
        assert_eq!((p.family.as_str(), p.size_b), ("gpt", Some(120.0)));
        let p = parts("gpt4-moe-1.8t");
        assert_eq!(p.size_b, Some(1800.0));
    }

    #[test]
    fn every_catalog_gpu_resolves_by_its_name() {
        for n in catalog::names(catalog::GPUS) {
            let (g, c) = resolve_gpu(&n.to_uppercase(), None).unwrap();
            assert_eq!(c.gpu, g.name);
            // Two A100 sizes: the bare name picks one of them.
            assert_eq!(g.name.split('-').next(), n.split('-').next());
        }
        let (g, _) = resolve_gpu("A100-SXM", Some(40.0)).unwrap();
        assert_eq!(g.name, "a100-sxm-40gb");
        let (g, _) = resolve_gpu("H100-SXM (HBM3, 700 W)", Some(80.0)).unwrap();
        assert_eq!(g.name, "h100-sxm");
        // torchtitan's Grand Teton H100s: 96 GB of HBM2e, their own profile and hosts.
        let (g, c) = resolve_gpu("H100-SXM (96 GB HBM2e, 500 W)", Some(96.0)).unwrap();
        assert_eq!(
            (g.name.as_str(), c.name.as_str(), g.hbm_bandwidth, g.tdp_w),
            ("h100-sxm-96gb", "grand-teton-h100", 2.4e12, 500.0)
        );
        let (g, c) = resolve_gpu("V100", None).unwrap();
        assert_eq!(
            (g.name.as_str(), c.name.as_str()),
            ("v100-sxm2-32gb", "dgx1-v100")
        );
        assert!(resolve_gpu("TPU v4", None).is_err());
    }

    #[test]
    fn vendor_spellings_of_2026_gpus_resolve() {
        // As MLPerf Training v5.1's system descriptions and AMD's pages write them.
        for (text, want) in [
            ("MI300X", "mi300x"),
            ("8x MI300X", "mi300x"),
            ("AMD Instinct MI300X OAM", "mi300x"),
            ("Instinct MI325X", "mi325x"),
            ("AMD Instinct MI355X", "mi355x"),
            ("AMD Instinct MI350X", "mi350x"),
            ("NVIDIA Blackwell GPU (GB200)", "gb200"),
            ("NVIDIA Blackwell Ultra GPU (GB300)", "gb300"),
            ("NVIDIA Blackwell GPU (B200-SXM-180GB)", "b200-sxm"),
            ("4x GB300 NVL72", "gb300"),
        ] {
            assert_eq!(resolve_gpu(text, None).unwrap().0.name, want, "{text}");
        }
        // The air-cooled MI350X has its own profile, not the MI355X's.
        let (_, c) = resolve_gpu("AMD Instinct MI350X", Some(288.0)).unwrap();
        assert_eq!(c.name, "mi350x-8");
    }
}
