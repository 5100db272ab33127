//! A scenario: a model on a cluster with a layout, a training run and prices.
//!
//! Each of model, cluster and GPU is named (a catalog name or a path to a YAML file,
//! relative to the scenario) or written inline. Command-line overrides
//! (`--set layout.tp=4`) are applied to the parsed document before it is resolved, so
//! they pass through the same schema and the same rule checks.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::catalog;
use super::cluster::ClusterProfile;
use super::gpu::GpuProfile;
use super::layout::Layout;
use super::model::ModelSpec;
use super::pricing::Pricing;
use super::reliability::Reliability;
use super::training::Training;
use super::yaml::Source;
use crate::error::{Error, Result, SourceLocation};

/// A catalog name / file path, or the thing itself written inline.
#[derive(Debug, Clone, PartialEq)]
pub enum Ref<T> {
    /// A catalog name, or a path ending in `.yaml`/`.yml`.
    Name(String),
    /// Written out in the scenario.
    Inline(Box<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ref<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ref<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a catalog name, a path to a YAML file, or an inline map")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Ref<T>, E> {
                Ok(Ref::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Ref<T>, A::Error> {
                // Deserialising through the map access keeps the YAML parser's position
                // tracking, so errors inside an inline block still name their line.
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| Ref::Inline(Box::new(t)))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Ref<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("NameOr{}", T::schema_name()).into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let inline = g.subschema_for::<T>();
        schemars::json_schema!({
            "anyOf": [
                {
                    "type": "string",
                    "description": "A catalog name (`llmplan list`), a path to a YAML file relative to this one, or (models) `hf:PATH/config.json`"
                },
                inline
            ]
        })
    }
}

impl<T: Serialize> Serialize for Ref<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Ref::Name(n) => s.serialize_str(n),
            Ref::Inline(t) => t.serialize(s),
        }
    }
}

/// A scenario file as written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Title for tables and reports.
    pub name: String,
    /// Free text: where the scenario comes from.
    #[serde(default)]
    pub description: Option<String>,
    /// The model.
    pub model: Ref<ModelSpec>,
    /// The cluster.
    pub cluster: Ref<ClusterProfile>,
    /// The GPU; defaults to the cluster's.
    #[serde(default)]
    pub gpu: Option<Ref<GpuProfile>>,
    /// GPUs available (rented).
    pub gpus: u64,
    /// The training run.
    pub training: Training,
    /// The parallel layout.
    #[serde(default)]
    pub layout: Layout,
    /// Prices.
    #[serde(default)]
    pub pricing: Pricing,
    /// Failures, restarts and checkpoints (defaults: Llama 3's failure rates).
    #[serde(default)]
    pub reliability: Reliability,
}

/// A scenario with every reference resolved and every section range-checked.
/// The layout is checked against the rest by [`crate::spec::layout::resolve`].
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Title.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The model.
    pub model: ModelSpec,
    /// The cluster.
    pub cluster: ClusterProfile,
    /// The GPU.
    pub gpu: GpuProfile,
    /// GPUs available.
    pub gpus: u64,
    /// Training run.
    pub training: Training,
    /// Layout as written (dp may be open).
    pub layout: Layout,
    /// Prices.
    pub pricing: Pricing,
    /// Failures, restarts and checkpoints.
    pub reliability: Reliability,
    /// Where the scenario came from, for pointing errors at lines.
    pub origin: Origin,
}

/// Where a scenario's fields were written.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The scenario document.
    pub source: Source,
    /// `--set` overrides applied, as `key=value`.
    pub overrides: Vec<String>,
    /// Overrides that came from their own flags, as (`key=value`, what the user typed,
    /// e.g. `--gpus 8`), so errors name the flag and not a `--set` never typed.
    pub flags: Vec<(String, String)>,
    /// Inputs adjusted while loading, in words (e.g. a price dropped because an
    /// override changed the GPU it was written for); estimates carry them as warnings.
    pub notes: Vec<String>,
}

impl Origin {
    /// Where the dotted `field` was set: an override, or its line in the file.
    pub fn locate(&self, field: &str) -> Option<SourceLocation> {
        let sets = self.overrides.iter().map(|o| (o, format!("--set {o}")));
        let flags = self.flags.iter().map(|(o, typed)| (o, typed.clone()));
        if let Some((_, shown)) = sets
            .chain(flags)
            .rfind(|(o, _)| o.split('=').next().is_some_and(|k| field.starts_with(k)))
        {
            return Some(SourceLocation {
                file: shown,
                line: 1,
                column: 1,
            });
        }
        let path: Vec<&str> = field.split('.').collect();
        self.source.locate(&path)
    }

    /// Where the dotted `field` itself was set (an override, or its own line in the
    /// file); `None` when it keeps its default.
    pub fn written(&self, field: &str) -> Option<SourceLocation> {
        match self.locate(field) {
            Some(l) if l.file.starts_with("--") => Some(l),
            _ => {
                let path: Vec<&str> = field.split('.').collect();
                self.source.locate_exact(&path)
            }
        }
    }

    /// Attaches this origin's location for the error's field (each of several).
    pub fn place(&self, e: Error) -> Error {
        if let Error::Many(all) = e {
            return Error::Many(all.into_iter().map(|e| self.place(e)).collect());
        }
        let loc = e.field().and_then(|f| self.locate(f));
        e.at(loc)
    }
}

/// Name of the scenario `llmplan` plans when given none.
pub const SEED: &str = "gpt4-moe-a100";

/// Loads a scenario from a path, or from the built-in catalog when `spec` is a
/// built-in scenario name (or `None`, the seed), applying `overrides` (`key=value`).
pub fn load(spec: Option<&str>, overrides: &[String]) -> Result<Scenario> {
    load_with_flags(spec, overrides, &[])
}

/// [`load`], then `flags`: overrides from their own command-line flags, as
/// (`key=value`, the flag as typed, e.g. `--gpus 8`); errors name the flag.
pub fn load_with_flags(
    spec: Option<&str>,
    overrides: &[String],
    flags: &[(String, String)],
) -> Result<Scenario> {
    let (source, dir) = match spec {
        None => (builtin_scenario(SEED)?, None),
        Some(s) if !looks_like_path(s) && catalog::source(catalog::SCENARIOS, s).is_some() => {
            (builtin_scenario(s)?, None)
        }
        Some(s) => {
            let p = Path::new(s);
            (Source::read(p)?, p.parent().map(Path::to_path_buf))
        }
    };
    let mut file: ScenarioFile = source.parse_checked()?;
    let written = file.clone();
    for o in overrides {
        file = apply_override(file, o)?;
    }
    for (o, typed) in flags {
        file = apply_as(file, o, typed)?;
    }
    let mut origin = Origin {
        source,
        overrides: overrides.to_vec(),
        flags: flags.to_vec(),
        notes: Vec::new(),
    };
    let keys: Vec<&str> = overrides
        .iter()
        .chain(flags.iter().map(|(o, _)| o))
        .filter_map(|o| o.split('=').next())
        .collect();
    let hardware_changed = keys.iter().any(|k| {
        *k == "gpu" || *k == "cluster" || k.starts_with("gpu.") || k.starts_with("cluster.")
    });
    let priced_here = keys.iter().any(|k| k.starts_with("pricing"));
    let mut sc = resolve(file, dir.as_deref(), origin.clone())?;
    if hardware_changed && !priced_here {
        if let Some(price) = written.pricing.usd_per_gpu_hour {
            let was = resolve(written, dir.as_deref(), origin.clone()).map(|w| w.gpu.name);
            if let Some(was) = was.ok().filter(|w| *w != sc.gpu.name) {
                // The file's price was for its own GPU: bill the new one at its list
                // price (as `sweep` does), unless the command line priced it.
                sc.pricing.usd_per_gpu_hour = None;
                origin.notes.push(format!(
                    "pricing: the scenario's ${price:.2}/GPU-hour was for {was}; {} is billed at its list price ${:.2}/GPU-hour (set --set pricing.usd_per_gpu_hour=X to price it)",
                    sc.gpu.name, sc.gpu.usd_per_hour
                ));
                sc.origin = origin;
            }
        }
    }
    Ok(sc)
}

fn builtin_scenario(name: &str) -> Result<Source> {
    catalog::source(catalog::SCENARIOS, name).ok_or_else(|| Error::UnknownName {
        kind: "scenario",
        name: name.to_string(),
        known: catalog::names(catalog::SCENARIOS).join(", "),
        location: None,
    })
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.ends_with(".yaml") || s.ends_with(".yml")
}

/// Applies one `key=value` override through the same schema as the file.
pub fn apply_override(file: ScenarioFile, kv: &str) -> Result<ScenarioFile> {
    apply_as(file, kv, &format!("--set {kv}"))
}

/// Applies `kv`; errors name it as `shown` (the flag the user typed).
fn apply_as(file: ScenarioFile, kv: &str, shown: &str) -> Result<ScenarioFile> {
    let (key, raw) = kv
        .split_once('=')
        .ok_or_else(|| Error::Usage(format!("{shown}: expected key=value, e.g. layout.tp=4")))?;
    let mut doc = serde_json::to_value(&file).map_err(|e| Error::Usage(format!("{shown}: {e}")))?;
    let mut node = &mut doc;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = node.as_object_mut().ok_or_else(|| {
            Error::Usage(format!(
                "{shown}: '{}' is not a section",
                parts[..i].join(".")
            ))
        })?;
        if i + 1 == parts.len() {
            obj.insert((*part).to_string(), parse_value(raw));
            break;
        }
        node = obj
            .entry((*part).to_string())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if node.is_null() {
            *node = serde_json::Value::Object(Default::default());
        }
    }
    serde_json::from_value(doc).map_err(|e| Error::Usage(format!("{shown}: {e}")))
}

/// `4` -> number, `true` -> bool, `13e12` -> integer when whole, else a string.
fn parse_value(raw: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && (0.0..9.007_199_254_740_992e15).contains(&f) => {
                serde_json::Value::from(f as u64)
            }
            _ => serde_json::Value::Number(n),
        },
        Ok(v @ (serde_json::Value::Bool(_) | serde_json::Value::Null)) => v,
        _ => serde_json::Value::String(raw.to_string()),
    }
}

fn resolve(file: ScenarioFile, dir: Option<&Path>, origin: Origin) -> Result<Scenario> {
    let place = |e: Error| origin.place(e);
    let mut model: ModelSpec = match &file.model {
        Ref::Name(n) if n.starts_with("hf:") => {
            let p = relative_to(dir, &n["hf:".len()..]);
            super::hf::load(&p).map_err(|e| e.at(origin.locate("model")))?
        }
        r => resolve_ref(r, catalog::MODELS, "model", dir, &origin)?,
    };
    model.fill_names(&match &file.model {
        Ref::Name(n) => stem(n),
        Ref::Inline(_) => "custom".to_string(),
    });
    model.validate().map_err(place)?;
    let cluster: ClusterProfile =
        resolve_ref(&file.cluster, catalog::CLUSTERS, "cluster", dir, &origin)?;
    if file.gpu.is_none() && cluster.gpu == CUSTOM_GPU {
        return Err(place(Error::invalid(
            "gpu",
            format!(
                "cluster {} takes any GPU (`gpu: {CUSTOM_GPU}`): name one with `gpu:`",
                cluster.name
            ),
        )));
    }
    let gpu_ref = file
        .gpu
        .clone()
        .unwrap_or_else(|| Ref::Name(cluster.gpu.clone()));
    let gpu: GpuProfile = resolve_ref(&gpu_ref, catalog::GPUS, "gpu", dir, &origin)?;
    check_pairing(&gpu, &cluster).map_err(place)?;
    check_gpu(&gpu).map_err(place)?;
    check_cluster(&cluster).map_err(place)?;
    file.training.validate().map_err(place)?;
    check_precision(&file.training, &gpu).map_err(|e| e.at(origin.locate("training.precision")))?;
    check_attention(&file.training, &gpu)
        .map_err(|e| e.at(origin.locate("training.flash_attention")))?;
    file.pricing.validate().map_err(place)?;
    file.reliability.validate().map_err(place)?;
    if file.gpus == 0 {
        return Err(place(Error::invalid("gpus", "must be at least 1")));
    }
    Ok(Scenario {
        name: file.name,
        description: file.description,
        model,
        cluster,
        gpu,
        gpus: file.gpus,
        training: file.training,
        layout: file.layout,
        pricing: file.pricing,
        reliability: file.reliability,
        origin,
    })
}

/// A path as written in a scenario: relative to the scenario's directory.
fn relative_to(dir: Option<&Path>, p: &str) -> PathBuf {
    match dir {
        Some(d) if Path::new(p).is_relative() => d.join(p),
        _ => PathBuf::from(p),
    }
}

/// The name a referenced file gives its contents: its stem (`models/x.yaml` -> `x`),
/// or the directory of an HF `config.json`.
fn stem(reference: &str) -> String {
    let p = Path::new(reference.trim_start_matches("hf:"));
    let p = match p.file_name().and_then(|f| f.to_str()) {
        Some("config.json") => p.parent().unwrap_or(p),
        _ => p,
    };
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(reference)
        .to_string()
}

fn resolve_ref<T: DeserializeOwned + Clone + schemars::JsonSchema>(
    r: &Ref<T>,
    table: &'static [(&'static str, &'static str)],
    kind: &'static str,
    dir: Option<&Path>,
    origin: &Origin,
) -> Result<T> {
    match r {
        Ref::Inline(t) => Ok((**t).clone()),
        Ref::Name(n) if looks_like_path(n) => Source::read(&relative_to(dir, n))?.parse_checked(),
        Ref::Name(n) => catalog::load(table, kind, n).map_err(|e| e.at(origin.locate(kind))),
    }
}

/// FP4 training needs FP4 tensor cores: unlike FP8 on an A100 (run as BF16, as
/// frameworks fall back), no framework emulates an FP4 recipe on older GPUs. BF16 needs
/// BF16 tensor cores: on Volta, mixed precision is FP16 (PyTorch AMP and Megatron's
/// `--fp16`), which the scenario must say.
fn check_precision(t: &super::training::Training, g: &GpuProfile) -> Result<()> {
    let dt = t.precision.dtype();
    if dt == super::gpu::Dtype::Bf16 && g.peak_flops.bf16.is_none() {
        return Err(Error::invalid(
            "training.precision",
            format!(
                "bf16 needs BF16 tensor cores; {} has none (its 16-bit tensor cores take FP16): set training.precision: fp16",
                g.name
            ),
        ));
    }
    if dt == super::gpu::Dtype::Fp4 && g.peak_flops.get(dt).is_none() {
        return Err(Error::invalid(
            "training.precision",
            format!(
                "{} needs FP4 tensor cores; {} has none (Blackwell and CDNA 4 GPUs do: b200-sxm, gb200, b300-sxm, gb300, mi355x)",
                format!("{:?}", t.precision).to_lowercase(),
                g.name
            ),
        ));
    }
    Ok(())
}

/// Flash attention needs kernels for the GPU (`gpu.flash_attention`): none exist for
/// Volta (FlashAttention-2 and fused attention need Ampere or newer).
fn check_attention(t: &super::training::Training, g: &GpuProfile) -> Result<()> {
    if t.flash_attention && !g.flash_attention {
        return Err(Error::invalid(
            "training.flash_attention",
            format!(
                "{} has no flash-attention kernels (FlashAttention-2 needs Ampere or newer): set training.flash_attention: false",
                g.name
            ),
        ));
    }
    Ok(())
}

/// What a cluster's `gpu` says when its fabric may carry any GPU.
pub const CUSTOM_GPU: &str = "custom";

/// A GPU in a cluster built around another (a B200 in a DGX H100) is a mistake unless
/// the cluster says `gpu: custom`: its node size and links are the other GPU's.
fn check_pairing(gpu: &GpuProfile, cluster: &ClusterProfile) -> Result<()> {
    if cluster.gpu == gpu.name || cluster.gpu == CUSTOM_GPU {
        return Ok(());
    }
    let fits: Vec<&str> = catalog::names(catalog::CLUSTERS)
        .into_iter()
        .filter(|n| {
            catalog::load::<ClusterProfile>(catalog::CLUSTERS, "cluster", n)
                .is_ok_and(|c| c.gpu == gpu.name)
        })
        .collect();
    let pick = if fits.is_empty() {
        String::new()
    } else {
        format!("use cluster {} for {}, or ", fits.join(" or "), gpu.name)
    };
    Err(Error::invalid(
        "gpu",
        format!(
            "{} is not the GPU of cluster {} (built with {})",
            gpu.name, cluster.name, cluster.gpu
        ),
    )
    .with_suggestion(format!(
        "{pick}write the cluster inline with `gpu: {CUSTOM_GPU}` to pair them anyway"
    )))
}

fn check_gpu(g: &GpuProfile) -> Result<()> {
    let e = &g.efficiency;
    for (f, v) in [
        ("gpu.memory_bytes", g.memory_bytes),
        ("gpu.hbm_bandwidth", g.hbm_bandwidth),
        ("gpu.peak_flops.fp16", g.peak_flops.fp16),
        ("gpu.tdp_w", g.tdp_w),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::invalid(f, format!("must be positive, got {v}")));
        }
    }
    for (f, v) in [
        ("gpu.efficiency.gemm", e.gemm),
        ("gpu.efficiency.attention", e.attention),
        ("gpu.efficiency.memory", e.memory),
        ("gpu.efficiency.sustained_clock", e.sustained_clock),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= 1.0) {
            return Err(Error::invalid(f, format!("must be in (0, 1], got {v}")));
        }
    }
    // A standard deviation between chips, as a fraction of the median chip's rate: the
    // measured ones are ~1%; 20% would leave the slowest of a large job near zero.
    if let Some(s) = e.chip_spread {
        if !(s.is_finite() && (0.0..0.2).contains(&s)) {
            return Err(Error::invalid(
                "gpu.efficiency.chip_spread",
                format!("must be in [0, 0.2) (a fraction of the median chip's rate), got {s}"),
            ));
        }
    }
    Ok(())
}

fn check_cluster(c: &ClusterProfile) -> Result<()> {
    if c.gpus_per_node == 0 || c.nvlink_domain == 0 {
        return Err(Error::invalid(
            "cluster.gpus_per_node",
            "must be at least 1",
        ));
    }
    for (f, l) in [
        ("cluster.scale_up", &c.scale_up),
        ("cluster.scale_out", &c.scale_out),
    ] {
        if !(l.bandwidth.is_finite() && l.bandwidth > 0.0) {
            return Err(Error::invalid(format!("{f}.bandwidth"), "must be positive"));
        }
        if !(l.efficiency > 0.0 && l.efficiency <= 1.0) {
            return Err(Error::invalid(
                format!("{f}.efficiency"),
                "must be in (0, 1]",
            ));
        }
        if !(l.latency_s.is_finite() && l.latency_s >= 0.0) {
            return Err(Error::invalid(format!("{f}.latency_s"), "must be >= 0"));
        }
    }
    if !(c.oversubscription.is_finite() && c.oversubscription >= 1.0) {
        return Err(Error::invalid("cluster.oversubscription", "must be >= 1"));
    }
    for (f, v) in [
        ("cluster.sharp_all_reduce_bw", c.sharp_all_reduce_bw),
        ("cluster.host_link_bw", c.host_link_bw),
        ("cluster.host_memory_bw", c.host_memory_bw),
    ] {
        if let Some(bw) = v {
            if !(bw.is_finite() && bw > 0.0) {
                return Err(Error::invalid(f, "must be a positive bandwidth in bytes/s"));
            }
        }
    }
    if c.leaf_gpus == Some(0) {
        return Err(Error::invalid("cluster.leaf_gpus", "must be at least 1"));
    }
    for (i, t) in c.tiers.iter().enumerate() {
        if t.gpus == 0 {
            return Err(Error::invalid(
                format!("cluster.tiers[{i}].gpus"),
                "must be at least 1",
            ));
        }
        if !(t.oversubscription.is_finite() && t.oversubscription >= 1.0) {
            return Err(Error::invalid(
                format!("cluster.tiers[{i}].oversubscription"),
                "must be >= 1",
            ));
        }
    }
    if !(c.step_overhead_s.is_finite() && c.step_overhead_s >= 0.0) {
        return Err(Error::invalid("cluster.step_overhead_s", "must be >= 0"));
    }
    Ok(())
}
