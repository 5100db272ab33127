//! What a framework ran by default, per framework generation: the table in
//! `validation/frameworks.csv` (documented in docs/validation.md). A row's recipe is
//! the first table entry whose pattern its `framework` cell contains, then refined by
//! what the row's `recompute`, `precision`, `framework` and `notes` cells say. Nothing
//! here reads a row's group name or id.

pub use super::config_text::{comm_sms, config_count, config_flag};
use crate::error::{Error, Result};
use crate::spec::layout::Schedule;
use crate::spec::training::{
    AttentionKernel, Collective, Elementwise, GradClip, LowPrecisionCache, MoeDispatcher,
    Recompute, RecomputeModule,
};

/// The shipped framework table.
pub const FRAMEWORKS_CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/validation/frameworks.csv"
));

/// Frameworks of sources whose rows leave the `framework` cell empty:
/// (lower-case pattern of the `source` cell, framework), from
/// `validation/source_frameworks.csv`.
pub const SOURCE_FRAMEWORKS_CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/validation/source_frameworks.csv"
));

/// The framework a row ran: its `framework` cell, or, when empty, the framework its
/// `source` is known to have used (the second value says so).
pub fn framework_of(framework: &str, source: &str) -> (String, Option<String>) {
    if !framework.trim().is_empty() {
        return (framework.to_string(), None);
    }
    static T: std::sync::OnceLock<Vec<(String, String, String)>> = std::sync::OnceLock::new();
    let t = T.get_or_init(|| {
        super::rows::parse("validation/source_frameworks.csv", SOURCE_FRAMEWORKS_CSV)
            .expect("validation/source_frameworks.csv parses (tested)")
            .iter()
            .map(|r| {
                (
                    r.text("source_pattern").to_lowercase(),
                    r.text("framework").to_string(),
                    r.text("why").to_string(),
                )
            })
            .collect()
    });
    let s = source.to_lowercase();
    match t
        .iter()
        .find(|(p, _, _)| !p.is_empty() && s.contains(p.as_str()))
    {
        Some((_, f, why)) => (
            f.clone(),
            Some(format!("framework not in the row: {f} ({why})")),
        ),
        None => (String::new(), None),
    }
}

/// How the pipeline's virtual stages are chosen when a row leaves `vpp` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VppRule {
    /// As given, 1 when not.
    Given,
    /// One layer per model chunk, first and last stage one layer short (Llama 3
    /// section 3.3.2: "the first model chunk on the first stage has only the embedding").
    OneLayerPerChunk,
}

/// When pipeline sends and receives overlap compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P2pRule {
    /// Always.
    Yes,
    /// Never.
    No,
    /// Only under the interleaved schedule (vpp > 1): Megatron-Core overlaps p2p only
    /// there; plain 1F1B sends batched and blocking (Megatron-Bridge
    /// training/comm_overlap.py @00b7660b: overlap_p2p_comm = vp_size > 1, else
    /// batch_p2p_comm).
    WithVpp,
}

impl P2pRule {
    /// Whether sends overlap with `vpp` virtual stages.
    pub fn overlaps(self, vpp: u32) -> bool {
        match self {
            P2pRule::Yes => true,
            P2pRule::No => false,
            P2pRule::WithVpp => vpp > 1,
        }
    }
}

/// When sequence parallelism is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpRule {
    /// Whenever tp > 1.
    WithTp,
    /// Only when the row's text says "sequence parallel".
    WhenStated,
}

/// A framework generation's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// Name, as the table gives it.
    pub name: String,
    /// Fused flash attention.
    pub flash_attention: bool,
    /// Its kernel generation.
    pub attention_kernel: AttentionKernel,
    /// Fused or eager memory-bound ops.
    pub elementwise: Elementwise,
    /// Megatron-Core's fused vocabulary-parallel cross-entropy
    /// (`training.fused_cross_entropy`).
    pub fused_cross_entropy: bool,
    /// Recompute when the row does not say.
    pub recompute: Recompute,
    /// What selective recompute redoes.
    pub recompute_modules: Vec<RecomputeModule>,
    /// Activations the framework caches in a low-precision format.
    pub low_precision_cache: Vec<LowPrecisionCache>,
    /// Bytes per gradient element in the reduction and the gradient buffer (4: FP32,
    /// 2: BF16).
    pub grad_bytes: f64,
    /// Optimizer-state bytes per parameter, on the ranks it is sharded over: 12 for
    /// Adam's two FP32 moments and an FP32 master copy; 10 where the master keeps only
    /// the 16 bits its BF16 weight lacks (apex `store_param_remainders`).
    pub optimizer_bytes: f64,
    /// FP8 parameters under a quantizing precision (no BF16 weight copy).
    pub fp8_param_gather: bool,
    /// ZeRO-3 gathers copied out into the parameters on the compute stream (FSDP2).
    pub unshard_copy: bool,
    /// The collective algorithm of groups spanning NVLink domains.
    pub collective: Collective,
    /// The MoE token dispatcher: all-to-all unless the row names DeepEP or HybridEP.
    pub moe_dispatcher: MoeDispatcher,
    /// Sharded-parameter collectives per block per pass under ZeRO-3.
    pub zero3_collectives: u32,
    /// ZeRO-3 reduce-scatters of small-parameter buckets per block
    /// (`training.zero3_small_reduce_scatters_per_layer`).
    pub zero3_small_buckets: u32,
    /// DeepSpeed's `stage3_max_reuse_distance`, parameters
    /// (`training.zero3_reuse_distance_params`); `None` where the framework keeps a
    /// block's gathered weights from its recompute to its backward.
    pub zero3_reuse_distance: Option<f64>,
    /// The backward waits for each ZeRO-3 gradient reduce-scatter (DeepSpeed with
    /// `offload_optimizer`; `training.zero3_reduce_blocks_backward`).
    pub zero3_reduce_blocks: bool,
    /// How the framework clips gradients (`training.grad_clip`; empty cell: norm).
    pub grad_clip: GradClip,
    /// Optimizer states in host memory (`training.optimizer_offload`): only when the
    /// row says so.
    pub optimizer_offload: bool,
    /// Full-recompute checkpoints in host memory (`training.checkpoint_offload`): only
    /// when the row says so.
    pub checkpoint_offload: bool,
    /// Parameters per data-parallel gradient bucket (`training.dp_bucket_params`):
    /// only when the row's config sets `bucket_size`; `None`: Megatron-Core's default.
    pub dp_bucket: Option<f64>,
    /// ZeRO stage (0 = replicated optimizer; 1 = distributed optimizer).
    pub zero: u8,
    /// Data-parallel traffic overlapped with backward.
    pub dp_overlap: bool,
    /// When pipeline sends overlap compute.
    pub p2p_overlap: P2pRule,
    /// Tensor-parallel collectives overlapped.
    pub tp_overlap: bool,
    /// Expert all-to-all overlapped.
    pub ep_overlap: bool,
    /// Dropout layers present.
    pub dropout: bool,
    /// Sequence parallelism rule.
    pub sequence_parallel: SpRule,
    /// Schedule when the framework fixes one (`None`: 1F1B, interleaved with vpp > 1).
    pub schedule: Option<Schedule>,
    /// Virtual-stage rule.
    pub vpp: VppRule,
    /// Nodes per scheduler segment, at most, when the framework's launcher places a job
    /// on a multi-node NVLink domain in segments (see [`segment_domain`]); `None`: the
    /// whole domain.
    pub segment_nodes: Option<u32>,
    /// Layers per stage whose activations go to host memory: none by default;
    /// `validation/model_configs.csv` sets it where a model's shipped config does.
    pub activation_offload_layers: u32,
    /// Where the defaults come from.
    pub source: String,
}

fn yes(v: &str, col: &str, line: usize) -> Result<bool> {
    match v {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(Error::invalid(
            format!("validation/frameworks.csv:{line}"),
            format!("{col}: '{v}' is not yes or no"),
        )),
    }
}

/// The value a cell of column `col` names among `options` (cell text, value); an
/// error at the cell's line lists the names otherwise.
fn one_of<T: Copy>(r: &super::rows::Row, col: &str, options: &[(&str, T)]) -> Result<T> {
    let v = r.text(col);
    if let Some((_, t)) = options.iter().find(|(name, _)| *name == v) {
        return Ok(*t);
    }
    let names: Vec<&str> = options
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !n.is_empty())
        .collect();
    let (last, rest) = names.split_last().expect("options are named");
    Err(Error::invalid(
        format!("validation/frameworks.csv:{}", r.line),
        format!("{col}: '{v}' is not {} or {last}", rest.join(", ")),
    ))
}

/// A recompute module by its Megatron-Core name (`--recompute-modules`).
pub fn module(m: &str) -> Option<RecomputeModule> {
    Some(match m {
        "core_attn" => RecomputeModule::CoreAttn,
        "layernorm" => RecomputeModule::Layernorm,
        "mla_up_proj" => RecomputeModule::MlaUpProj,
        "moe_act" => RecomputeModule::MoeAct,
        "mlp_act" => RecomputeModule::MlpAct,
        "alternate_matmuls" => RecomputeModule::AlternateMatmuls,
        _ => return None,
    })
}

/// The `collective` column: the algorithm of groups spanning NVLink domains.
fn collective(r: &super::rows::Row) -> Result<Collective> {
    one_of(
        r,
        "collective",
        &[
            ("", Collective::Hierarchical),
            ("hierarchical", Collective::Hierarchical),
            ("ring", Collective::Ring),
            ("tree", Collective::Tree),
            ("nvls", Collective::Nvls),
            ("sharp", Collective::Sharp),
        ],
    )
}

/// The `grad_clip` column: how the framework clips gradients (empty: the norm only).
fn grad_clip(r: &super::rows::Row) -> Result<GradClip> {
    one_of(
        r,
        "grad_clip",
        &[
            ("", GradClip::Norm),
            ("norm", GradClip::Norm),
            ("norm_and_scale", GradClip::NormAndScale),
            ("none", GradClip::None),
        ],
    )
}

/// The `low_precision_cache` cell: the activations a framework caches in a
/// low-precision format, `;`-separated.
fn low_precision_cache(r: &super::rows::Row) -> Result<Vec<LowPrecisionCache>> {
    r.text("low_precision_cache")
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| match c {
            "swiglu_input" => Ok(LowPrecisionCache::SwigluInput),
            "attention_output" => Ok(LowPrecisionCache::AttentionOutput),
            _ => Err(Error::invalid(
                format!("validation/frameworks.csv:{}", r.line),
                format!("low_precision_cache: unknown tensor '{c}'"),
            )),
        })
        .collect()
}

/// A count column of at least `min`, `empty` when the cell is empty: `zero3_collectives`
/// (collectives per block per pass, 1) and `zero3_small_buckets` (small-parameter
/// reduce-scatters per block, 0).
fn count(r: &super::rows::Row, col: &str, empty: u32, min: u32) -> Result<u32> {
    let what = format!("a count of at least {min}");
    Ok(optional(r, col, |&n: &u32| n >= min, &what)?.unwrap_or(empty))
}

/// An optional number cell: `None` when empty, else a value `ok` accepts; anything
/// else is an error naming the line, the column and what the cell should be.
fn optional<T: std::str::FromStr>(
    r: &super::rows::Row,
    col: &str,
    ok: impl Fn(&T) -> bool,
    what: &str,
) -> Result<Option<T>> {
    match r.text(col) {
        "" => Ok(None),
        v => v.parse().ok().filter(|x| ok(x)).map(Some).ok_or_else(|| {
            Error::invalid(
                format!("validation/frameworks.csv:{}", r.line),
                format!("{col}: '{v}' is not {what}"),
            )
        }),
    }
}

/// The `p2p_overlap` cell: yes, no, or `vpp` (only with virtual stages).
fn p2p_rule(v: &str, line: usize) -> Result<P2pRule> {
    if v == "vpp" {
        return Ok(P2pRule::WithVpp);
    }
    let on = yes(v, "p2p_overlap", line).map_err(|_| {
        Error::invalid(
            format!("validation/frameworks.csv:{line}"),
            format!("p2p_overlap: '{v}' is not yes, no or vpp"),
        )
    })?;
    Ok(if on { P2pRule::Yes } else { P2pRule::No })
}

/// Parses a framework table: (lower-case pattern, recipe), in table order.
pub fn parse(text: &str) -> Result<Vec<(String, Recipe)>> {
    let rows = super::rows::parse("validation/frameworks.csv", text)?;
    let mut out = Vec::new();
    for r in rows {
        let line = r.line;
        let bad = |col: &str, why: String| {
            Error::invalid(
                format!("validation/frameworks.csv:{line}"),
                format!("{col}: {why}"),
            )
        };
        let recompute = one_of(
            &r,
            "recompute",
            &[
                ("none", Recompute::None),
                ("selective", Recompute::Selective),
                ("full", Recompute::Full),
            ],
        )?;
        let recompute_modules = r
            .text("recompute_modules")
            .split(';')
            .map(|m| {
                module(m.trim())
                    .ok_or_else(|| bad("recompute_modules", format!("unknown module '{m}'")))
            })
            .collect::<Result<Vec<_>>>()?;
        let low_precision_cache = low_precision_cache(&r)?;
        let recipe = Recipe {
            name: r.text("recipe").to_string(),
            flash_attention: yes(r.text("flash_attention"), "flash_attention", line)?,
            attention_kernel: one_of(
                &r,
                "attention_kernel",
                &[
                    ("flash2", AttentionKernel::Flash2),
                    ("flash3", AttentionKernel::Flash3),
                ],
            )?,
            elementwise: one_of(
                &r,
                "elementwise",
                &[("fused", Elementwise::Fused), ("eager", Elementwise::Eager)],
            )?,
            fused_cross_entropy: yes(r.text("ce_fusion"), "ce_fusion", line)?,
            recompute,
            recompute_modules,
            low_precision_cache,
            grad_bytes: one_of(&r, "grad_bytes", &[("4", 4.0), ("2", 2.0)])?,
            optimizer_bytes: one_of(
                &r,
                "optimizer_bytes",
                &[("12", 12.0), ("10", 10.0), ("8", 8.0), ("4", 4.0)],
            )?,
            fp8_param_gather: yes(r.text("fp8_param_gather"), "fp8_param_gather", line)?,
            unshard_copy: yes(r.text("unshard_copy"), "unshard_copy", line)?,
            collective: collective(&r)?,
            moe_dispatcher: MoeDispatcher::AllToAll,
            zero3_collectives: count(&r, "zero3_collectives", 1, 1)?,
            zero3_small_buckets: count(&r, "zero3_small_buckets", 0, 0)?,
            zero3_reuse_distance: optional(
                &r,
                "zero3_reuse_distance",
                |d: &f64| *d >= 0.0,
                "a parameter count",
            )?,
            zero3_reduce_blocks: match r.text("zero3_reduce_blocks") {
                "" => false,
                v => yes(v, "zero3_reduce_blocks", line)?,
            },
            grad_clip: grad_clip(&r)?,
            optimizer_offload: false,
            checkpoint_offload: false,
            dp_bucket: None,
            zero: r
                .text("zero")
                .parse()
                .map_err(|_| bad("zero", format!("'{}' is not 0-3", r.text("zero"))))?,
            dp_overlap: yes(r.text("dp_overlap"), "dp_overlap", line)?,
            p2p_overlap: p2p_rule(r.text("p2p_overlap"), line)?,
            tp_overlap: yes(r.text("tp_overlap"), "tp_overlap", line)?,
            ep_overlap: yes(r.text("ep_overlap"), "ep_overlap", line)?,
            dropout: yes(r.text("dropout"), "dropout", line)?,
            sequence_parallel: one_of(
                &r,
                "sequence_parallel",
                &[("tp", SpRule::WithTp), ("text", SpRule::WhenStated)],
            )?,
            schedule: one_of(
                &r,
                "schedule",
                &[
                    ("", None),
                    ("dualpipe", Some(Schedule::DualPipe)),
                    ("interleaved", Some(Schedule::Interleaved)),
                    ("1f1b", Some(Schedule::OneFOneB)),
                ],
            )?,
            vpp: one_of(
                &r,
                "vpp",
                &[
                    ("given", VppRule::Given),
                    ("one_layer_per_chunk", VppRule::OneLayerPerChunk),
                ],
            )?,
            activation_offload_layers: 0,
            segment_nodes: optional(
                &r,
                "segment_nodes",
                |n: &u32| *n > 0,
                "a positive node count",
            )?,
            source: r.text("source").to_string(),
        };
        out.push((r.text("pattern").to_lowercase(), recipe));
    }
    Ok(out)
}

/// The shipped table, parsed once.
pub fn table() -> &'static [(String, Recipe)] {
    static T: std::sync::OnceLock<Vec<(String, Recipe)>> = std::sync::OnceLock::new();
    T.get_or_init(|| parse(FRAMEWORKS_CSV).expect("validation/frameworks.csv parses (tested)"))
}

/// The recipe for a `framework` cell: the first entry whose pattern it contains (the
/// empty pattern, last, matches everything).
pub fn for_framework(framework: &str) -> &'static Recipe {
    let f = framework.to_lowercase();
    let t = table();
    &t.iter()
        .find(|(p, _)| f.contains(p.as_str()))
        .unwrap_or_else(|| t.last().expect("the table has a default row"))
        .1
}

/// The recipe refined by what the row says in `text` (framework, precision, recompute
/// and notes cells, lower case): each statement found is listed in the return value.
pub fn refine(base: &Recipe, text: &str) -> (Recipe, Vec<String>) {
    let mut r = base.clone();
    let mut said = Vec::new();
    let mut note = |s: &str| said.push(s.to_string());
    if text.contains("ddp=torch") {
        r.dp_overlap = true;
        note("PyTorch DDP overlaps its bucketed all-reduce with backward");
    }
    if text.contains("ddp=local") {
        r.dp_overlap = false;
        note("Megatron's local DDP all-reduces after the last backward");
    }
    for (k, z) in [
        ("zero-1", 1),
        ("zero-2", 2),
        ("zero-3", 3),
        ("distributed optimizer", 1),
    ] {
        if text.contains(k) {
            r.zero = z;
            note(&format!("ZeRO stage {z} as the row states"));
        }
    }
    if text.contains("flashattention-2")
        || text.contains("flash attention 2")
        || text.contains(" fa2")
    {
        r.flash_attention = true;
        r.attention_kernel = AttentionKernel::Flash2;
        note("FlashAttention-2 as the row states");
    }
    if text.contains("torch.compile") || text.contains("compile=true") {
        // PyTorch model code run op by op is compiled; fused kernels stay what they are.
        if r.elementwise != Elementwise::Fused {
            r.elementwise = Elementwise::Compiled;
        }
        note("torch.compile fuses the memory-bound ops, as the row states");
    }
    if text.contains("loss not compiled") {
        r.fused_cross_entropy = false;
        note("the loss left to PyTorch eager outside the compiled model, as the row states");
    }
    let says = |keys: &[&str]| keys.iter().any(|k| text.contains(k));
    if says(&[
        "fp8 fsdp all-gather",
        "fsdp float8 all-gather",
        "float8_all_gather",
    ]) {
        r.fp8_param_gather = true;
        note("FP8 weights all-gathered (torchtitan's enable_fsdp_float8_all_gather) as the row states");
    }
    if text.contains("fused_rmsnorm") && r.elementwise == Elementwise::Eager {
        r.elementwise = Elementwise::EagerFusedNorm;
        note("a fused RMSNorm kernel (torchtitan norm_type fused_rmsnorm) as the row states");
    }
    if text.contains("offload_optimizer") || text.contains("offload of optimizer") {
        r.optimizer_offload = true;
        note("optimizer states in host memory (ZeRO-Offload) as the row states");
    }
    if says(&[
        "checkpoints offloaded to cpu",
        "checkpoint-in-cpu",
        "cpu_checkpointing",
    ]) {
        r.checkpoint_offload = true;
        note(
            "activation checkpoints in host memory (DeepSpeed CPU checkpointing) as the row states",
        );
    }
    if text.contains("no flash") {
        r.flash_attention = false;
        note("no flash attention as the row states");
    }
    refine_config(&mut r, text, &mut note);
    (r, said)
}

/// What the config settings a row quotes ("TP_COMM_OVERLAP=False") set in `r`: the
/// run's own word, which wins over the framework's default either way; each one found
/// is passed to `note`.
fn refine_config(r: &mut Recipe, text: &str, note: &mut dyn FnMut(&str)) {
    let set = |key: &str| config_flag(text, key);
    match set("tp_comm_overlap") {
        Some(on) => {
            r.tp_overlap = on;
            note(&format!(
                "TP communication overlap {on} as the row's config sets it"
            ));
        }
        None if text.contains("tp-comm-overlap")
            || text.contains("tp_comm_overlap")
            || text.contains("tp comm overlap") =>
        {
            r.tp_overlap = true;
            note("TP communication overlapped as the row states");
        }
        None => {}
    }
    // Megatron-Core's `bucket_size` (MLPerf's BUCKET_SIZE), not DeepSpeed's
    // `reduce_bucket_size` or `allgather_bucket_size`, which bucket something else.
    if let Some(n) = config_count(text, "bucket_size").filter(|n| *n > 0) {
        r.dp_bucket = Some(f64::from(n));
        note(&format!(
            "data-parallel gradient buckets of {n} parameters as the row's config sets it"
        ));
    }
    if let Some(on) = set("fp8_param_gather") {
        r.fp8_param_gather = on;
        note(&format!(
            "fp8_param_gather {on} as the row's config sets it"
        ));
    }
    // Megatron-Bridge's performance presets: `moe_a2a_overlap` sets
    // overlap_moe_expert_parallel_comm (scripts/performance/utils/overrides.py).
    if let Some(on) = set("moe_a2a_overlap").or(set("overlap_moe_expert_parallel_comm")) {
        r.ep_overlap = on;
        note(&format!(
            "expert all-to-all overlap {on} as the row's config sets it"
        ));
    }
    let dispatcher = super::config_text::moe_dispatcher(text);
    if let Some(b) = dispatcher.flex_backend() {
        r.moe_dispatcher = dispatcher;
        note(&format!("MoE tokens cross the network once per destination node (flex dispatcher, {b} backend) as the row states"));
    }
    if let Some(on) = set("cross_entropy_loss_fusion") {
        r.fused_cross_entropy = on;
        note(&format!(
            "fused cross-entropy {on} as the row's config sets it (cross_entropy_loss_fusion)"
        ));
    }
    if let Some(fp32) = set("grad_reduce_in_fp32") {
        r.grad_bytes = if fp32 { 4.0 } else { 2.0 };
        note(&format!(
            "gradients reduced and accumulated in {} as the row's config sets it (grad_reduce_in_fp32)",
            if fp32 { "FP32" } else { "BF16" }
        ));
    }
}

/// The NVLink domain a job of `gpus` GPUs sees when its launcher allocates nodes of
/// `per_node` GPUs in scheduler segments of at most `max_nodes` nodes, on a cluster whose
/// NVLink domain holds `domain` GPUs: one segment, i.e. all nodes when they fit, else the
/// largest divisor of the node count that fits (Megatron-Bridge's launcher,
/// scripts/performance/utils/executors.py @00b7660b, passes Slurm `--segment` this way for
/// GB200/GB300 trays of 4 GPUs). Segments of an NVL72 rack never straddle racks, so a
/// 256-GPU job runs as four 64-GPU NVLink domains, not 72-GPU ones. GPUs.
pub fn segment_domain(gpus: u64, per_node: u32, domain: u32, max_nodes: u32) -> u32 {
    if domain <= per_node || per_node == 0 {
        return domain;
    }
    let nodes = gpus.div_ceil(u64::from(per_node));
    let cap = u64::from(max_nodes.min(domain / per_node)).max(1);
    let seg = if nodes <= cap {
        nodes
    } else {
        (1..=cap)
            .rev()
            .find(|s| nodes.is_multiple_of(*s))
            .unwrap_or(1)
    };
    (seg as u32 * per_node).min(domain)
}

#[cfg(test)]
mod tests;
