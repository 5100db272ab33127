//! Published training runs as scenarios: one CSV row (architecture, hardware, layout,
//! batch, recompute, precision as published) becomes a [`Scenario`]. Where a row leaves
//! something out, the assumption is named in [`Built::assumptions`], never silent.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::spec::catalog;
use crate::spec::layout::{Layout, Overlap, Schedule};
use crate::spec::model::{ModelSpec, Norm, PositionEmbedding};
use crate::spec::pricing::Pricing;
use crate::spec::scenario::{Origin, Scenario};
use crate::spec::training::{AttentionKernel, Fp8Recipe, Precision, Recompute, Training};
use crate::spec::yaml::Source;
use crate::spec::{ClusterProfile, GpuProfile};

/// One row of published_runs_public.csv, by column name.
#[derive(Debug, Clone)]
pub struct Row {
    /// Column -> cell text.
    pub cells: HashMap<String, String>,
    /// Line in the CSV (1-based, header = 1).
    pub line: usize,
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
        out.push(Row { cells, line: i + 2 });
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
}

/// Which framework generation ran the row: it decides kernels and overlaps the paper
/// had (no flash attention or distributed optimizer in 2021-22 Megatron-LM).
fn era_2021(row: &Row) -> bool {
    let g = row.group();
    let fw = row.text("framework");
    g.starts_with("Narayanan")
        || g.starts_with("Korthikanti")
        || g.starts_with("Megatron")
        || (fw.contains("Megatron")
            && !fw.contains("Megatron-Core")
            && !fw.contains("Megatron-Bridge"))
}

/// Catalog models for rows that name a model without its architecture (NeMo's
/// performance tables): (name as the row spells it, upper-cased; catalog entry).
const CATALOG_ALIASES: &[(&str, &str)] = &[
    ("GPT3-5B", "gpt3-5b"),
    ("GPT3-20B", "gpt3-20b"),
    ("GPT3-175B", "gpt3-175b"),
    ("LLAMA2-7B", "llama2-7b"),
    ("LLAMA2-13B", "llama2-13b"),
    ("LLAMA2-70B", "llama2-70b"),
    ("LLAMA3-8B", "llama3-8b"),
    ("LLAMA3-70B", "llama3-70b"),
    ("NEMOTRON-8B", "nemotron-3-8b"),
    ("NEMOTRON-22B", "nemotron-3-22b"),
    ("NEMOTRON-340B", "nemotron-4-340b"),
];

/// Whether the row ran NeMo's recipes (Megatron-Core with Transformer Engine).
pub fn nemo(row: &Row) -> bool {
    row.text("framework").starts_with("NeMo")
}

fn hardware(row: &Row) -> Result<(GpuProfile, ClusterProfile)> {
    let gpu = row.text("gpu_type");
    let mem = row.num("gpu_mem_GB").unwrap_or(80.0);
    let (g, c) = if gpu.starts_with("A100") {
        if mem <= 40.0 {
            ("a100-sxm-40gb", "dgx-a100-40gb")
        } else {
            ("a100-sxm-80gb", "dgx-a100")
        }
    } else if gpu.starts_with("H100") {
        ("h100-sxm", "dgx-h100")
    } else if gpu.starts_with("H800") {
        ("h800-sxm", "hgx-h800")
    } else if gpu.starts_with("H200") {
        ("h200-sxm", "dgx-h200")
    } else if gpu.starts_with("B200") {
        ("b200-sxm", "dgx-b200")
    } else if gpu.starts_with("B300") {
        ("b300-sxm", "dgx-b300")
    } else if gpu.starts_with("GB200") {
        ("gb200", "gb200-nvl72")
    } else if gpu.starts_with("GB300") {
        ("gb300", "gb300-nvl72")
    } else if gpu.starts_with("MI300X") {
        ("mi300x", "mi300x-8")
    } else if gpu.starts_with("MI325X") {
        ("mi325x", "mi325x-8")
    } else if gpu.starts_with("MI355X") {
        ("mi355x", "mi355x-8")
    } else {
        return Err(Error::invalid(
            "gpu_type",
            format!("no hardware profile for '{gpu}'"),
        ));
    };
    Ok((
        catalog::load(catalog::GPUS, "gpu", g)?,
        catalog::load(catalog::CLUSTERS, "cluster", c)?,
    ))
}

fn model(row: &Row, assumptions: &mut Vec<String>) -> Result<ModelSpec> {
    let name = row.text("model");
    if name.starts_with("DeepSeek-V3") {
        return catalog::load(catalog::MODELS, "model", "deepseek-v3");
    }
    if row.num("layers").is_none() {
        let upper = name.to_uppercase();
        if let Some((_, entry)) = CATALOG_ALIASES.iter().find(|(a, _)| *a == upper) {
            assumptions.push(format!(
                "architecture from the catalog's {entry} (the row names the model only)"
            ));
            return catalog::load(catalog::MODELS, "model", entry);
        }
    }
    let need = |c: &str| row.num(c).ok_or_else(|| Error::invalid(c, "not published"));
    let layers = need("layers")? as u32;
    let hidden = need("hidden")? as u64;
    let heads = need("heads")? as u32;
    let llama = name.contains("Llama") || name.contains("LLaMA");
    let ffn = match row.num("ffn_hidden") {
        Some(f) => f as u64,
        None if !llama => {
            assumptions.push("ffn_hidden = 4 x hidden (GPT convention)".into());
            4 * hidden
        }
        None => return Err(Error::invalid("ffn_hidden", "not published")),
    };
    let vocab = match row.num("vocab") {
        Some(v) => v as u64,
        None => {
            assumptions.push("vocab 51200 (GPT-2 BPE padded, as Megatron-LM)".into());
            51200
        }
    };
    let seq = need("seq_len")? as u64;
    let bloom = name.contains("BLOOM");
    Ok(ModelSpec {
        name: row.id().to_string(),
        display_name: name.to_string(),
        source: row.text("source").to_string(),
        layers,
        hidden,
        heads,
        kv_heads: row.num("kv_heads").map(|k| k as u32),
        head_dim: None,
        ffn_hidden: ffn,
        gated_mlp: llama,
        vocab,
        tied_embeddings: !llama,
        bias: !llama,
        norm: if llama {
            Norm::Rmsnorm
        } else {
            Norm::Layernorm
        },
        position_embedding: if llama {
            PositionEmbedding::Rope
        } else if bloom {
            PositionEmbedding::Alibi
        } else {
            PositionEmbedding::Learned
        },
        max_position: Some(seq),
        mla: None,
        moe: None,
        mtp_depth: 0,
        published: None,
        ..ModelSpec::default()
    })
}

fn recompute(row: &Row, old: bool, assumptions: &mut Vec<String>) -> Recompute {
    let r = row.text("recompute").to_lowercase();
    if r.starts_with("full") || r.contains("with (full)") || r.contains("checkpointing (deepspeed)")
    {
        Recompute::Full
    } else if r.contains("selective") {
        Recompute::Selective
    } else if r.starts_with("none") || r.starts_with("baseline no") || r == "sequence parallelism" {
        Recompute::None
    } else if old {
        // Selective recomputation arrived with Korthikanti et al. 2022; before it,
        // Megatron-LM runs of this size recomputed whole layers.
        assumptions.push(
            "recompute not published: full (the only kind in Megatron-LM before 2022)".into(),
        );
        Recompute::Full
    } else {
        assumptions.push("recompute not published: selective assumed".into());
        Recompute::Selective
    }
}

fn precision(row: &Row) -> Precision {
    let p = row.text("precision").to_lowercase();
    if p.starts_with("mxfp8") {
        Precision::Mxfp8
    } else if p.starts_with("nvfp4") {
        Precision::Nvfp4
    } else if p.starts_with("mxfp4") {
        Precision::Mxfp4
    } else if p.starts_with("fp8") {
        Precision::Fp8
    } else if p.contains("fp16") || p.contains("16-bit") {
        Precision::Fp16
    } else {
        Precision::Bf16
    }
}

/// The FP8 scaling recipe the row's precision names: DeepSeek-V3's fine-grained tiles,
/// Transformer Engine's current scaling ("FP8-CS"), or delayed scaling (the default of
/// TE and NeMo through 2024, so NeMo 24.07's plain "FP8").
fn fp8_recipe(row: &Row) -> Fp8Recipe {
    let p = row.text("precision").to_lowercase();
    if p.contains("fine-grained") {
        Fp8Recipe::Blockwise
    } else if p.contains("fp8-cs") || p.contains("current scaling") {
        Fp8Recipe::Current
    } else {
        Fp8Recipe::Delayed
    }
}

/// Builds the scenario of `row`.
pub fn build(row: &Row) -> Result<Built> {
    let mut assumptions = Vec::new();
    let (gpu, cluster) = hardware(row)?;
    let old = era_2021(row);
    let model = model(row, &mut assumptions)?;
    let gpus = row
        .num("num_gpus")
        .ok_or_else(|| Error::invalid("num_gpus", "not published"))? as u64;
    let int = |c: &str| row.num(c).map(|v| v as u32);
    let tp = int("tp").ok_or_else(|| Error::invalid("tp", "not published"))?;
    let pp = int("pp").ok_or_else(|| Error::invalid("pp", "not published"))?;
    let cp = int("cp").unwrap_or(1);
    let ep = int("ep").unwrap_or(1);
    let llama3 = row.group().starts_with("Llama3") || row.id().starts_with("E2E-Llama-3");
    let layers = row.num("layers").unwrap_or(1.0) as u32;
    let mut layers_per_stage = None;
    let vpp = match int("vpp") {
        Some(v) => v,
        None if llama3 && pp > 1 && (layers + 2).is_multiple_of(pp) => {
            // Llama 3 section 3.3.2: "we reduce one Transformer layer each from the first
            // and the last stages ... the first model chunk on the first stage has only
            // the embedding, and the last model chunk on the last stage has only output
            // projection and loss": one layer per model chunk, so as many virtual stages
            // as a full stage has layers (126 + 2 = 16 x 8: V = 8, stages 7, 8 x 14, 7).
            let v = (layers + 2) / pp;
            let mut split = vec![v; pp as usize];
            split[0] -= 1;
            split[pp as usize - 1] -= 1;
            layers_per_stage = Some(split);
            assumptions.push(format!(
                "interleaved schedule with {v} virtual stages: one layer per model chunk, first and last stage one layer short (Llama 3 section 3.3.2)"
            ));
            v
        }
        None if llama3 => {
            // The interleaved schedule without a published chunk size: the most virtual
            // stages that keep two layers per model chunk.
            let v = (layers / pp / 2).max(2);
            assumptions.push(format!(
                "interleaved schedule with {v} virtual stages (not published)"
            ));
            v
        }
        None => 1,
    };
    let micro_batch = int("micro_batch").unwrap_or_else(|| {
        assumptions.push("micro-batch 1".into());
        1
    });
    let seq = row.num("seq_len").unwrap_or(2048.0) as u64;
    let global = row.num("global_batch_seqs").map(|b| b as u64);
    let rec = recompute(row, old, &mut assumptions);
    let sp_text = row.text("recompute").to_lowercase() + " " + &row.text("model").to_lowercase();
    let sequence_parallel = if old {
        sp_text.contains("sequence")
    } else {
        tp > 1
    };
    let deepseek = model.mla.is_some();
    // Megatron-Bridge's performance recipes run DeepSeek-V3 on Megatron-Core's interleaved
    // 1F1B, not DualPipe (their table gives PP and VP).
    let bridge = row.text("framework").contains("Megatron-Bridge");
    let schedule = if deepseek && !bridge {
        Schedule::DualPipe
    } else if vpp > 1 {
        Schedule::Interleaved
    } else {
        Schedule::OneFOneB
    };
    let layout = Layout {
        tp,
        pp,
        dp: None,
        ep,
        cp,
        vpp,
        micro_batch,
        sequence_parallel,
        // Megatron-LM 2021-22 ran without the distributed optimizer and without overlapping
        // the data-parallel all-reduce; later frameworks shard the optimizer and overlap.
        zero: if llama3 {
            // Llama 3 section 3.3.2: FSDP "shards optimizer states and gradients" with
            // "FP32 gradient accumulation ... over multiple micro-batches" and FP32
            // reduce-scatters: ZeRO-2, a reduce-scatter per micro-batch. Unsharded FP32
            // gradients would not fit beside 8K activations without checkpointing.
            2
        } else if row.text("framework").contains("; FSDP") {
            // Megatron FSDP shards weights, gradients and optimizer states: ZeRO-3 class.
            3
        } else if row.text("framework").contains("ZeRO-1")
            || row.text("precision").contains("ZeRO-1")
            || !old
        {
            1
        } else {
            0
        },
        schedule: Some(schedule),
        layers_per_stage,
        overlap: Overlap {
            // PyTorch DDP overlaps its bucketed all-reduce with backward; Megatron's
            // "local" DDP of 2021 ran it after the last backward.
            dp_comm: !old || row.text("framework").contains("DDP=torch"),
            ep_comm: deepseek,
            // NeMo's performance recipes overlap tensor-parallel collectives with the
            // GEMMs (userbuffers, `tp_comm_overlap`) and the interleaved schedule's p2p
            // (`overlap_p2p_comm`).
            tp_comm: nemo(row) && tp > 1,
            p2p: deepseek || llama3 || (nemo(row) && vpp > 1),
            // "custom all-to-all (20 SMs)": DeepSeek-V3 report section 3.2.2.
            comm_sms: if row.text("framework").contains("20 SMs") {
                20
            } else {
                0
            },
        },
    };
    // Llama 3's pre-training ran in the first half of 2024 on H100, before
    // FlashAttention-3 (July 2024); the calibration measured today's FA3-class kernel.
    let attention_kernel = if llama3 {
        assumptions.push(
            "attention: FlashAttention-2 (Llama 3 pre-trained before FlashAttention-3's July 2024 release)"
                .into(),
        );
        AttentionKernel::Flash2
    } else {
        AttentionKernel::Flash3
    };
    if old {
        assumptions.push("2021-22 Megatron-LM: no flash attention, dropout on, no distributed optimizer, DP all-reduce not overlapped".into());
    }
    let training = Training {
        tokens: row.num("train_tokens").unwrap_or(1e9),
        seq_len: seq,
        global_batch_seqs: global,
        global_batch_tokens: None,
        precision: precision(row),
        fp8_recipe: fp8_recipe(row),
        // DeepSeek-V3 report, section 3.3.3: AdamW's moments in BF16, the master
        // weights in FP32 (4 + 2 + 2 bytes).
        optimizer_bytes_per_param: if deepseek { 8.0 } else { 12.0 },
        grad_bytes_per_param: 4.0,
        recompute: rec,
        recompute_modules: if deepseek {
            use crate::spec::training::RecomputeModule as M;
            vec![M::Layernorm, M::MlaUpProj, M::MoeAct, M::MlpAct]
        } else {
            vec![crate::spec::training::RecomputeModule::CoreAttn]
        },
        mixed_precision: Default::default(),
        low_precision_cache: if deepseek {
            use crate::spec::training::LowPrecisionCache as C;
            vec![C::SwigluInput, C::AttentionOutput]
        } else {
            Vec::new()
        },
        dropout: old,
        flash_attention: !old,
        attention_kernel,
    };
    if global.is_none() {
        return Err(Error::invalid("global_batch_seqs", "not published"));
    }
    let reliability = crate::spec::reliability::Reliability {
        enabled: false,
        ..Default::default()
    };
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
        reliability,
        origin: Origin {
            source: Source {
                name: format!("published_runs_public.csv:{}", row.line),
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
    })
}
