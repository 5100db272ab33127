//! Published training runs as scenarios: one CSV row (architecture, hardware, layout,
//! batch, recompute, precision as published) becomes a [`Scenario`]. Where a row leaves
//! something out, the assumption is named in [`Built::assumptions`], never silent.

use std::collections::HashMap;

use super::model_configs;
use super::names;
use super::recipe::{self, Recipe, SpRule, VppRule};
use crate::error::{Error, Result};
use crate::spec::cluster::ClusterProfile;
use crate::spec::gpu::GpuProfile;
use crate::spec::layout::{Layout, Overlap, RankOrder, Schedule};
use crate::spec::pricing::Pricing;
use crate::spec::scenario::{Origin, Scenario};
use crate::spec::training::{Fp8Recipe, Precision, Recompute, RecomputeModule, Training};
use crate::spec::yaml::Source;

/// One row of published_runs_public.csv, by column name.
#[derive(Debug, Clone)]
pub struct Row {
    /// Column -> cell text.
    pub cells: HashMap<String, String>,
    /// Line in the CSV (1-based, header = 1).
    pub line: usize,
    /// The file it came from, as given to [`parse`].
    pub file: String,
}

impl Row {
    /// The cell `col`, trimmed; empty string when absent.
    pub fn text(&self, col: &str) -> &str {
        self.cells.get(col).map(|s| s.trim()).unwrap_or("")
    }

    /// The cell `col` as a number, when it is one (ranges like `380-430` are not).
    pub fn num(&self, col: &str) -> Option<f64> {
        self.text(col).parse::<f64>().ok().filter(|v| v.is_finite())
    }

    /// Row identifier.
    pub fn id(&self) -> &str {
        self.text("row_id")
    }

    /// Group (source) name.
    pub fn group(&self) -> &str {
        self.text("group")
    }
}

/// Parses the CSV text.
pub fn parse(name: &str, text: &str) -> Result<Vec<Row>> {
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = r
        .headers()
        .map_err(|e| Error::invalid(format!("{name}:1"), format!("bad header: {e}")))?
        .clone();
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec =
            rec.map_err(|e| Error::invalid(format!("{name}:{}", i + 2), format!("bad row: {e}")))?;
        let cells = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        out.push(Row {
            cells,
            line: i + 2,
            file: name.to_string(),
        });
    }
    Ok(out)
}

/// A row turned into a scenario.
#[derive(Debug, Clone)]
pub struct Built {
    /// The scenario.
    pub scenario: Scenario,
    /// What the row did not publish and was assumed, in words.
    pub assumptions: Vec<String>,
    /// The row publishes no layout: the search picks the fastest (`validate` does).
    pub search_layout: bool,
}

fn recompute(row: &Row, r: &Recipe, assumptions: &mut Vec<String>) -> Recompute {
    let t = row.text("recompute").to_lowercase();
    if t.starts_with("full") || t.contains("with (full)") || t.contains("checkpointing (deepspeed)")
    {
        Recompute::Full
    } else if t.contains("selective") {
        Recompute::Selective
    } else if t.starts_with("none") || t.starts_with("baseline no") || t == "sequence parallelism" {
        Recompute::None
    } else {
        let name = match r.recompute {
            Recompute::Full => "full",
            Recompute::Selective => "selective",
            Recompute::None => "none",
        };
        assumptions.push(format!(
            "recompute not published: {name} ({} default)",
            r.name
        ));
        r.recompute
    }
}

fn precision(row: &Row, assumptions: &mut Vec<String>) -> Precision {
    let p = row.text("precision").to_lowercase();
    let _ = assumptions;
    if p.contains("nvfp4") {
        Precision::Nvfp4
    } else if p.contains("mxfp4") {
        Precision::Mxfp4
    } else if p.contains("mxfp8") {
        Precision::Mxfp8
    } else if p.contains("fp8") {
        // FP8 with per-tensor scaling: delayed or current scaling, blockwise.
        Precision::Fp8
    } else if p.contains("fp16") || p.contains("16-bit") {
        Precision::Fp16
    } else {
        Precision::Bf16
    }
}

/// The share of layers fully checkpointed when the row's `recompute` cell says every
/// N-th block is ("selective layer (torchtitan: every 2nd transformer block
/// checkpointed)": torchtitan's `selective_ac_option = N` wraps every N-th block in a
/// full checkpoint): 1/N; 1 otherwise.
fn layer_share(row: &Row, assumptions: &mut Vec<String>) -> f64 {
    let t = row.text("recompute").to_lowercase();
    let words: Vec<&str> = t.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    let n = words.windows(3).find_map(|w| {
        let n: u32 = w[1]
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .ok()?;
        (w[0] == "every"
            && n > 1
            && ["transformer", "block", "layer"]
                .iter()
                .any(|k| w[2].starts_with(k)))
        .then_some(n)
    });
    match n {
        Some(n) => {
            assumptions.push(format!(
                "one block in {n} fully recomputed as the row states: 1/{n} of the layers replay their forward"
            ));
            1.0 / f64::from(n)
        }
        None => 1.0,
    }
}

/// The selective-recompute modules the row's `recompute` cell names by their
/// Megatron-Core names ("selective: moe_act"), if it names any.
fn stated_modules(row: &Row, assumptions: &mut Vec<String>) -> Option<Vec<RecomputeModule>> {
    let t = row.text("recompute").to_lowercase();
    if t.contains("selective op") {
        assumptions.push(
            "selective recompute by torchtitan's op-level policy (every second matmul of a block) as the row states"
                .into(),
        );
        return Some(vec![RecomputeModule::AlternateMatmuls]);
    }
    let mods: Vec<RecomputeModule> = t
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(recipe::module)
        .collect();
    if mods.is_empty() {
        return None;
    }
    assumptions.push(format!("selective recompute of {mods:?} as the row states"));
    Some(mods)
}

/// The FP8 scaling recipe the row's precision names: DeepSeek-V3's fine-grained tiles,
/// current scaling (Transformer Engine's "FP8-CS"; torchao's tensorwise "dynamic
/// scaling", each tensor's scale from its own amax), or delayed scaling (the default of
/// TE and NeMo through 2024, so NeMo 24.07's plain "FP8").
fn fp8_recipe(row: &Row) -> Fp8Recipe {
    let p = row.text("precision").to_lowercase();
    if p.contains("fine-grained") {
        Fp8Recipe::Blockwise
    } else if p.contains("fp8-cs") || p.contains("current scaling") || p.contains("dynamic scaling")
    {
        Fp8Recipe::Current
    } else {
        Fp8Recipe::Delayed
    }
}

/// The share of layers a 4-bit recipe keeps in BF16 when the row's precision cell says
/// it keeps none ("no layers kept in BF16": NVIDIA's MLPerf v5.1 NVFP4 configs leave
/// `first_last_layers_bf16` off); `None` otherwise (the precision's own share).
fn fp4_bf16_share(row: &Row, assumptions: &mut Vec<String>) -> Option<f64> {
    let p = row.text("precision").to_lowercase();
    let none = p.contains("no layers kept in bf16") || p.contains("no layers in bf16");
    (none && (p.contains("fp4"))).then(|| {
        assumptions.push("every linear layer in FP4, none kept in BF16, as the row states".into());
        0.0
    })
}

/// Optimizer-state bytes per parameter: the recipe's (`recipe`: AdamW's two FP32 moments
/// and an FP32 master copy, 12, unless the framework stores less), or 8 when the row says
/// the moments are kept in BF16 (DeepSeek-V3 report section 3.3.3: "BF16 ... for the
/// first and second moments", FP32 master weights).
fn optimizer_bytes(said: &str, recipe: f64, assumptions: &mut Vec<String>) -> f64 {
    if said.contains("bf16 optimizer moments") || said.contains("bf16 moments") {
        assumptions.push("optimizer: FP32 master weights, BF16 Adam moments (8 bytes per parameter) as the row states".into());
        8.0
    } else {
        recipe
    }
}

/// GPUs assumed for a run that publishes neither its GPU count nor its layout: LLaMA's
/// 65B count (Touvron et al. 2023, section 2.4); GPU-hours depend on it only through
/// data-parallel efficiency.
pub const ASSUMED_GPUS: u64 = 2048;

/// Tensor, pipeline, context and expert parallel sizes and the GPU count, and whether the
/// layout is left to the search (neither tp nor pp published).
type Parallel = (u32, u32, u32, u32, u64, bool);

fn parallel(row: &Row, assumptions: &mut Vec<String>) -> Result<Parallel> {
    let int = |c: &str| row.num(c).map(|v| v as u32);
    let cp = int("cp").unwrap_or(1);
    let ep = int("ep").unwrap_or(1);
    if int("tp").is_none() && int("pp").is_none() {
        let gpus = match row.num("num_gpus") {
            Some(g) => g as u64,
            None => {
                assumptions.push(format!(
                    "num_gpus not published: {ASSUMED_GPUS} assumed (LLaMA's count for its 65B; GPU-hours depend on it only through data-parallel efficiency)"
                ));
                ASSUMED_GPUS
            }
        };
        return Ok((1, 1, cp, ep, gpus, true));
    }
    let tp = int("tp").ok_or_else(|| Error::invalid("tp", "not published (add tp and pp)"))?;
    let gpus = row.num("num_gpus").map(|g| g as u64);
    let dp = int("dp");
    let pp = match (int("pp"), gpus, dp) {
        (Some(p), _, _) => p,
        (None, Some(g), Some(d)) if g % u64::from(tp * d * cp) == 0 => {
            let p = (g / u64::from(tp * d * cp)) as u32;
            assumptions.push(format!("pp = GPUs / (tp dp cp) = {p}"));
            p
        }
        _ => {
            return Err(Error::invalid(
                "pp",
                "not published (add pp, or dp and num_gpus)",
            ))
        }
    };
    let gpus = match (gpus, dp) {
        (Some(g), _) => g,
        (None, Some(d)) => u64::from(tp * pp * cp * d),
        (None, None) => {
            return Err(Error::invalid(
                "num_gpus",
                "not published (add num_gpus or dp)",
            ))
        }
    };
    Ok((tp, pp, cp, ep, gpus, false))
}

/// Tokens per global batch assumed for a run that publishes neither its batch nor its
/// layout's batch in tokens: 4M tokens (2^22 = 1024 sequences of 4096), the batch Llama 2
/// trained every size with ("All models are trained with a global batch-size of 4M
/// tokens", Touvron et al. 2023, Table 1) and the one Llama 3 405B began with (Llama 3
/// paper section 3.4.1: "an initial batch size of 4M tokens and sequences of length
/// 4,096"). GPU-hours depend on it only through the pipeline bubble and data-parallel
/// efficiency.
pub const ASSUMED_BATCH_TOKENS: f64 = 4_194_304.0;

/// The number in `col`, `None` when the cell is empty; an error naming the cell when it
/// holds text that is not one number ("32768 then 131072": several phases in one row).
fn one_number(row: &Row, col: &str) -> Result<Option<f64>> {
    let t = row.text(col);
    if t.is_empty() {
        return Ok(None);
    }
    row.num(col).map(Some).ok_or_else(|| {
        Error::invalid(
            col,
            format!(
                "'{t}' is not one number (a ramp or a range: give the value most of the run used; a run of several phases lists one value per phase, separated by ' then ' or '/')"
            ),
        )
    })
}

/// The step a batch of `seqs` sequences is rounded to when no layout fixes it: the
/// largest power of two at most half of it, so the batch keeps two significant binary
/// digits, as published batches quoted in rounded tokens do (GPT-3's "3.2M" is 1536
/// sequences of 2048, Brown et al. 2020 Table 2.1; Llama's "4M" is 1024 of 4096, Llama 3
/// paper section 3.4.1) and the search finds data-parallel sizes that divide it.
fn binary_unit(seqs: f64) -> u64 {
    let half = (seqs / 2.0).max(1.0) as u64;
    1 << (63 - half.leading_zeros())
}

/// Global batch in sequences: as published, or tokens per batch over the sequence
/// rounded to whole micro-batches on every data-parallel replica (`replicas`; `None`
/// when the layout is left to the search, which then takes only layouts whose replicas
/// divide the batch: whole sequences); when the row gives neither,
/// [`ASSUMED_BATCH_TOKENS`] at its published sequence length, said.
fn global_batch(
    row: &Row,
    seq: u64,
    replicas: Option<u64>,
    micro_batch: u32,
    assumptions: &mut Vec<String>,
) -> Result<u64> {
    if let Some(b) = one_number(row, "global_batch_seqs")? {
        return Ok(b as u64);
    }
    let per = match replicas {
        Some(_) => "whole micro-batches per replica",
        None => "two significant binary digits, as batches quoted in rounded tokens are",
    };
    let whole = |t: f64| {
        let seqs = t / seq as f64;
        let unit = match replicas {
            Some(r) => r.max(1) * u64::from(micro_batch),
            None => binary_unit(seqs),
        };
        ((seqs / unit as f64).round().max(1.0) as u64) * unit
    };
    if let Some(t) = one_number(row, "tokens_per_batch")? {
        let b = whole(t);
        assumptions.push(format!(
            "global batch = tokens_per_batch / seq_len rounded to {per} = {b} sequences"
        ));
        return Ok(b);
    }
    if one_number(row, "seq_len")?.is_none() {
        return Err(Error::invalid(
            "global_batch_seqs",
            "not published, nor seq_len to assume a batch in tokens at (add seq_len and global_batch_seqs or tokens_per_batch)",
        ));
    }
    let b = whole(ASSUMED_BATCH_TOKENS);
    assumptions.push(format!(
        "global batch not published: 4M tokens assumed (Llama 2 trained every size with 4M, Touvron et al. 2023 Table 1; Llama 3 405B began with 4M, Llama 3 paper section 3.4.1) = {b} sequences of {seq} ({per})"
    ));
    Ok(b)
}

/// Virtual stages and an uneven split, per the recipe's rule.
fn virtual_stages(
    row: &Row,
    r: &Recipe,
    layers: u32,
    pp: u32,
    assumptions: &mut Vec<String>,
) -> (u32, Option<Vec<u32>>) {
    if let Some(v) = row.num("vpp") {
        return (v as u32, None);
    }
    match r.vpp {
        VppRule::Given => (1, None),
        VppRule::OneLayerPerChunk if pp > 1 && (layers + 2).is_multiple_of(pp) => {
            // 126 + 2 = 16 x 8: V = 8, stages 7, 8 x 14, 7 (Llama 3 section 3.3.2).
            let v = (layers + 2) / pp;
            let mut split = vec![v; pp as usize];
            split[0] -= 1;
            split[pp as usize - 1] -= 1;
            assumptions.push(format!(
                "interleaved schedule with {v} virtual stages: one layer per model chunk, first and last stage one layer short ({})",
                r.name
            ));
            (v, Some(split))
        }
        VppRule::OneLayerPerChunk => {
            // Without the uneven split: the most virtual stages that keep two layers
            // per model chunk.
            let v = (layers / pp.max(1) / 2).max(2);
            assumptions.push(format!(
                "interleaved schedule with {v} virtual stages (not published)"
            ));
            (v, None)
        }
    }
}

/// The row's micro-batch (sequences; 1 when not published) and sequence length
/// (tokens; 2048 when not published; an error when the cell is not one number).
fn micro_batch_and_seq(row: &Row, assumptions: &mut Vec<String>) -> Result<(u32, u64)> {
    let micro_batch = row.num("micro_batch").map_or_else(
        || {
            assumptions.push("micro-batch 1".into());
            1
        },
        |m| m as u32,
    );
    let seq = match one_number(row, "seq_len")? {
        Some(s) => s as u64,
        None => {
            assumptions.push("seq_len 2048 (not published)".into());
            2048
        }
    };
    Ok((micro_batch, seq))
}

/// Builds the scenario of `row`: hardware and model resolved by name, layout and batch
/// as published, the rest from the framework recipe (validation/frameworks.csv) as the
/// row's framework, precision, recompute and notes cells refine it.
pub fn build(row: &Row) -> Result<Built> {
    let mut assumptions = Vec::new();
    let (gpu, mut cluster) = names::resolve_gpu(row.text("gpu_type"), row.num("gpu_mem_GB"))?;
    let model = super::arch::model(row, &mut assumptions)?;
    // What the row says about how it ran, in words the recipe rules look for.
    let said = [
        row.text("framework"),
        row.text("precision"),
        row.text("recompute"),
        row.text("notes"),
    ]
    .join("; ")
    .to_lowercase();
    let rc = row_recipe(row, &said, &mut assumptions);
    if let Some(etp) = recipe::config_count(&said, "expert_tensor_parallel_size") {
        assumptions.push(format!("expert tensor parallel {etp} as the row states"));
    }
    let (tp, pp, cp, ep, gpus, search_layout) = parallel(row, &mut assumptions)?;
    let (vpp, layers_per_stage) = virtual_stages(row, &rc, model.layers, pp, &mut assumptions);
    narrow_nvlink_domain(&mut cluster, &rc, gpus, &mut assumptions);
    let (micro_batch, seq) = micro_batch_and_seq(row, &mut assumptions)?;
    let replicas = (!search_layout).then(|| gpus / u64::from(tp * pp * cp).max(1));
    let global = global_batch(row, seq, replicas, micro_batch, &mut assumptions)?;
    let mut training = training_of(row, &rc, &said, seq, global, &mut assumptions);
    within_gpu(&gpu, &mut training, &mut assumptions);
    let layout = layout_of(
        row,
        &rc,
        &said,
        (tp, pp, cp, ep),
        vpp,
        layers_per_stage,
        micro_batch,
    );
    let scenario = Scenario {
        name: format!("{} ({})", row.id(), row.text("model")),
        description: None,
        model,
        cluster,
        gpu,
        gpus,
        training,
        layout,
        pricing: Pricing::default(),
        reliability: crate::spec::reliability::Reliability {
            enabled: false,
            ..Default::default()
        },
        origin: Origin {
            source: Source {
                name: format!("{}:{}", row.file, row.line),
                text: String::new(),
            },
            overrides: Vec::new(),
            flags: Vec::new(),
            notes: Vec::new(),
        },
    };
    Ok(Built {
        scenario,
        assumptions,
        search_layout,
    })
}

/// What the GPU cannot run, the row's run did not run either: mixed precision on a GPU
/// without BF16 tensor cores is FP16 (the only 16-bit format of PyTorch AMP and
/// Megatron-LM before Ampere), and attention is unfused where no flash-attention kernels
/// exist for the GPU (FlashAttention-2 needs Ampere or newer); each said.
fn within_gpu(gpu: &GpuProfile, t: &mut Training, assumptions: &mut Vec<String>) {
    if t.precision == Precision::Bf16 && gpu.peak_flops.bf16.is_none() {
        t.precision = Precision::Fp16;
        assumptions.push(format!(
            "16-bit mixed precision in FP16: {} has no BF16 tensor cores",
            gpu.name
        ));
    }
    if t.flash_attention && !gpu.flash_attention {
        t.flash_attention = false;
        assumptions.push(format!(
            "attention unfused (the whole score matrix): no flash-attention kernels exist for {} (FlashAttention-2 needs Ampere or newer)",
            gpu.name
        ));
    }
}

/// The ZeRO stage a row's `framework` cell marks: Megatron-Bridge's performance table
/// marks Megatron FSDP runs in an FSDP column, which the rows carry as a framework cell
/// ending "...; FSDP" (weights, gradients and optimizer states sharded: 3). Read from
/// that cell alone, so a note that mentions FSDP in passing changes nothing.
pub fn framework_zero(framework: &str) -> Option<u8> {
    framework
        .to_lowercase()
        .split(';')
        .skip(1)
        .any(|part| part.trim() == "fsdp")
        .then_some(3)
}

/// The row's framework recipe: the framework's defaults refined by what the row `said`
/// (framework, precision, recompute and notes cells, lower case).
fn row_recipe(row: &Row, said: &str, assumptions: &mut Vec<String>) -> Recipe {
    let (framework, why) = recipe::framework_of(row.text("framework"), row.text("source"));
    assumptions.extend(why);
    // Precedence: the row's own words over the framework's config for this model
    // family, over the framework's defaults.
    let run = model_configs::RunCells {
        framework: &framework,
        model: row.text("model"),
        gpu: row.text("gpu_type"),
        precision: row.text("precision"),
    };
    let (base, family) = model_configs::apply(recipe::for_framework(&framework), run);
    let (mut rc, stated) = recipe::refine(
        &base,
        &(said.to_string() + "; " + &framework.to_lowercase()),
    );
    assumptions.push(format!("framework recipe: {} ({})", rc.name, rc.source));
    assumptions.extend(family);
    assumptions.extend(stated);
    if let Some(z) = framework_zero(row.text("framework")) {
        rc.zero = z;
        assumptions.push(format!(
            "ZeRO stage {z}: the framework cell marks Megatron FSDP"
        ));
    }
    rc
}

/// Narrows the cluster's NVLink domain (GPUs) when the framework places a job of
/// `gpus` GPUs in segments of at most the recipe's `segment_nodes` nodes.
fn narrow_nvlink_domain(
    cluster: &mut ClusterProfile,
    rc: &Recipe,
    gpus: u64,
    assumptions: &mut Vec<String>,
) {
    let Some(max) = rc.segment_nodes else {
        return;
    };
    let d = recipe::segment_domain(gpus, cluster.gpus_per_node, cluster.nvlink_domain, max);
    if d < cluster.nvlink_domain {
        assumptions.push(format!(
            "NVLink domain {d} GPUs: {} places the job in segments of at most {max} nodes of {} GPUs ({} has {})",
            rc.name, cluster.gpus_per_node, cluster.name, cluster.nvlink_domain
        ));
        cluster.nvlink_domain = d;
    }
}

/// The row's layout: parallel sizes `(tp, pp, cp, ep)`, `vpp` virtual stages (with its
/// split when uneven) and the micro-batch (sequences) as published or assumed; ZeRO,
/// schedule, sequence parallelism and overlaps from the recipe and what the row `said`.
fn layout_of(
    row: &Row,
    rc: &Recipe,
    said: &str,
    (tp, pp, cp, ep): (u32, u32, u32, u32),
    vpp: u32,
    layers_per_stage: Option<Vec<u32>>,
    micro_batch: u32,
) -> Layout {
    let sequence_parallel = match rc.sequence_parallel {
        SpRule::WithTp => tp > 1,
        SpRule::WhenStated => (row.text("recompute").to_lowercase()
            + &row.text("model").to_lowercase())
            .contains("sequence"),
    };
    let schedule = rc.schedule.unwrap_or(if vpp > 1 {
        Schedule::Interleaved
    } else {
        Schedule::OneFOneB
    });
    Layout {
        tp,
        pp,
        dp: None,
        ep,
        // Megatron-Core's expert_tensor_parallel_size as the row states it; tp otherwise.
        etp: recipe::config_count(said, "expert_tensor_parallel_size"),
        cp,
        vpp,
        micro_batch,
        sequence_parallel,
        zero: rc.zero,
        schedule: Some(schedule),
        layers_per_stage,
        // Megatron-Core's --use-tp-pp-dp-mapping, NeMo's TP_PP_DP_MAPPING.
        rank_order: if recipe::config_flag(said, "tp_pp_dp_mapping") == Some(true)
            || said.contains("use-tp-pp-dp-mapping")
        {
            RankOrder::TpCpPpDp
        } else {
            RankOrder::TpCpDpPp
        },
        overlap: Overlap {
            dp_comm: rc.dp_overlap,
            tp_comm: rc.tp_overlap,
            ep_comm: rc.ep_overlap,
            p2p: rc.p2p_overlap.overlaps(vpp),
            comm_sms: recipe::comm_sms(said),
        },
    }
}

/// The row's training: tokens (1e9 when not published), `seq` tokens per sequence and
/// `global` sequences per batch; recompute, precision and optimizer state as published
/// or from the recipe.
fn training_of(
    row: &Row,
    rc: &Recipe,
    said: &str,
    seq: u64,
    global: u64,
    assumptions: &mut Vec<String>,
) -> Training {
    let rec = recompute(row, rc, assumptions);
    let recompute_layer_share = layer_share(row, assumptions);
    Training {
        tokens: row.num("train_tokens").unwrap_or(1e9),
        seq_len: seq,
        global_batch_seqs: Some(global),
        global_batch_tokens: None,
        precision: precision(row, assumptions),
        fp8_recipe: fp8_recipe(row),
        fp4_bf16_layer_share: fp4_bf16_share(row, assumptions),
        // No published row gives its routing's imbalance: balanced.
        expert_imbalance: 1.0,
        optimizer_bytes_per_param: optimizer_bytes(said, rc.optimizer_bytes, assumptions),
        grad_bytes_per_param: rc.grad_bytes,
        fp8_param_gather: rc.fp8_param_gather,
        dp_bucket_params: rc.dp_bucket,
        unshard_copy: rc.unshard_copy,
        recompute: if recompute_layer_share < 1.0 {
            Recompute::Full
        } else {
            rec
        },
        recompute_layer_share,
        recompute_modules: stated_modules(row, assumptions)
            .unwrap_or_else(|| rc.recompute_modules.clone()),
        mixed_precision: Default::default(),
        low_precision_cache: rc.low_precision_cache.clone(),
        dropout: rc.dropout,
        flash_attention: rc.flash_attention,
        attention_kernel: rc.attention_kernel,
        elementwise: rc.elementwise,
        fused_cross_entropy: rc.fused_cross_entropy,
        collective: rc.collective,
        moe_dispatcher: rc.moe_dispatcher,
        zero3_collectives_per_layer: rc.zero3_collectives,
        zero3_small_reduce_scatters_per_layer: rc.zero3_small_buckets,
        zero3_reduce_blocks_backward: rc.zero3_reduce_blocks,
        zero3_reuse_distance_params: rc.zero3_reuse_distance,
        grad_clip: rc.grad_clip,
        optimizer_offload: rc.optimizer_offload,
        checkpoint_offload: rc.checkpoint_offload,
        activation_offload_layers: rc.activation_offload_layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_quoted_in_rounded_tokens_keep_two_binary_digits() {
        let round =
            |seqs: f64| ((seqs / binary_unit(seqs) as f64).round() as u64) * binary_unit(seqs);
        // GPT-3: 3.2M tokens / 2048 = 1562.5 -> 1536 (Brown et al. 2020 Table 2.1).
        assert_eq!(round(3.2e6 / 2048.0), 1536);
        // Llama 2: 4.0M / 4096 = 976.6 -> 1024; LLaMA: 4.0M / 2048 = 1953 -> 2048.
        assert_eq!(round(4.0e6 / 4096.0), 1024);
        assert_eq!(round(4.0e6 / 2048.0), 2048);
        // The assumed 2^22 tokens at 8192: 512 exactly; tiny batches stay whole.
        assert_eq!(round(ASSUMED_BATCH_TOKENS / 8192.0), 512);
        assert_eq!(round(3.0), 3);
        assert_eq!(round(1.0), 1);
    }
}
