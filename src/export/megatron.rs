//! Megatron-LM flags, and the same settings as Megatron-Bridge and NeMo 2 recipe
//! fields (both configure Megatron Core with the same names).
//!
//! Flag names and forms follow Megatron-LM's `megatron/training/arguments.py` and its
//! examples (`examples/gpt3/train_gpt3_175b_distributed.sh`,
//! `examples/llama/train_llama3_8b_h100_fp8.sh`,
//! `examples/mixtral/train_mixtral_8x7b_distributed.sh`, `examples/gptoss/02_train.sh`).

use super::{cannot, embedding_and_loss_as_layers, even_chunk, is_fp8, Exported, Target};
use crate::error::Result;
use crate::spec::layout::{ResolvedLayout, Schedule};
use crate::spec::model::{ModelSpec, Norm, PositionEmbedding};
use crate::spec::scenario::Scenario;
use crate::spec::training::{
    Fp8Recipe, MoeDispatcher, Precision, Recompute, RecomputeModule, Training,
};

/// How the layer split is written for Megatron Core.
enum Split {
    /// Even: nothing, or layers per virtual stage.
    Even(Option<u32>),
    /// Llama 3's: embedding and loss each count as a layer.
    EmbeddingAndLoss(Option<u32>),
    /// Only the first and last stages differ (no virtual stages).
    FirstLast(u32, u32),
    /// Any other split without virtual stages, as a layout string.
    Layout(String),
}

fn split(t: Target, sc: &Scenario, l: &ResolvedLayout) -> Result<Split> {
    let vpp_layers = |n: u32| (l.vpp > 1).then_some(n);
    if let Some(n) = even_chunk(sc, l) {
        return Ok(Split::Even(vpp_layers(n)));
    }
    if embedding_and_loss_as_layers(sc, l) {
        let n = (sc.model.layers + 2) / (l.pp * l.vpp);
        return Ok(Split::EmbeddingAndLoss(vpp_layers(n)));
    }
    if l.vpp > 1 {
        return Err(cannot(
            t,
            "layout.layers_per_stage",
            format!(
                "the uneven split {:?} with {} virtual stages does not say which chunk holds which layers",
                l.layers_per_stage, l.vpp
            ),
        ));
    }
    let s = &l.layers_per_stage;
    let n = s.len();
    if n > 2 && s[1..n - 1].iter().all(|&x| x == s[1]) {
        return Ok(Split::FirstLast(s[0], s[n - 1]));
    }
    // E = embedding, t = a transformer layer, L = loss; stages split by '|'.
    let stages: Vec<String> = s
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let e = if i == 0 { "E" } else { "" };
            let lo = if i + 1 == n { "L" } else { "" };
            format!("{e}{}{lo}", "t".repeat(k as usize))
        })
        .collect();
    Ok(Split::Layout(stages.join("|")))
}

fn schedule_ok(t: Target, l: &ResolvedLayout) -> Result<()> {
    match l.schedule {
        Schedule::OneFOneB | Schedule::Interleaved => Ok(()),
        s => Err(cannot(
            t,
            "layout.schedule",
            format!(
                "Megatron Core runs 1F1B and interleaved 1F1B, not {}",
                s.name()
            ),
        )),
    }
}

/// Megatron-Core's CPU activation offloading (`cpu_offloading_num_layers`, which
/// Megatron-Core hands to Transformer Engine) for `training.activation_offload_layers`:
/// `None` when no layer is offloaded. Its TransformerConfig refuses offloading with
/// pipeline parallelism and with activation recomputation
/// (megatron/core/transformer/transformer_config.py), so those are errors here.
fn offload_layers(t: Target, sc: &Scenario, l: &ResolvedLayout) -> Result<Option<u32>> {
    let n = sc.training.activation_offload_layers;
    if n == 0 {
        return Ok(None);
    }
    if l.pp > 1 {
        return Err(cannot(
            t,
            "training.activation_offload_layers",
            format!(
                "Megatron-Core refuses CPU offloading with pipeline parallelism (pp {}): \
                 \"Currently there is no support for Pipeline parallelism with CPU offloading\"",
                l.pp
            ),
        ));
    }
    if sc.training.recompute != Recompute::None {
        return Err(cannot(
            t,
            "training.activation_offload_layers",
            "Megatron-Core refuses CPU offloading with activation recomputation \
             (\"CPU offloading does not work when activation recomputation is enabled\"); \
             set training.recompute: none",
        ));
    }
    Ok(Some(n))
}

/// Model-shape flags (`--num-layers` ... ), as the examples write them.
fn model_flags(m: &ModelSpec, tr: &Training, f: &mut Vec<String>) -> Result<()> {
    let seq = tr.seq_len;
    f.push(format!("--num-layers {}", m.layers));
    f.push(format!("--hidden-size {}", m.hidden));
    f.push(format!("--ffn-hidden-size {}", m.ffn_hidden));
    f.push(format!("--num-attention-heads {}", m.heads));
    if m.kv_heads() != m.heads && m.mla.is_none() {
        f.push("--group-query-attention".into());
        f.push(format!("--num-query-groups {}", m.kv_heads()));
    }
    if m.head_dim.is_some() && m.mla.is_none() {
        f.push(format!("--kv-channels {}", m.head_dim()));
    }
    f.push(format!("--seq-length {seq}"));
    f.push(format!(
        "--max-position-embeddings {}",
        m.max_position.unwrap_or(seq).max(seq)
    ));
    match m.position_embedding {
        PositionEmbedding::Rope => f.push("--position-embedding-type rope".into()),
        PositionEmbedding::Learned => {}
        PositionEmbedding::Alibi => {
            return Err(cannot(
                Target::Megatron,
                "model.position_embedding",
                "Megatron Core has no ALiBi",
            ))
        }
    }
    if m.gated_mlp {
        f.push("--swiglu".into());
    }
    if m.norm == Norm::Rmsnorm {
        f.push("--normalization RMSNorm".into());
    }
    if !m.tied_embeddings {
        f.push("--untie-embeddings-and-output-weights".into());
    }
    if !m.bias {
        f.push("--disable-bias-linear".into());
    }
    if m.qkv_bias {
        f.push("--add-qkv-bias".into());
    }
    if m.qk_norm {
        f.push("--qk-layernorm".into());
    }
    if m.attention_sinks {
        f.push("--softmax-type learnable".into());
    }
    if let Some(w) = &m.sliding_window {
        // Megatron's window is (left, right) context excluding the token itself.
        f.push(format!("--window-size {},0", w.tokens.saturating_sub(1)));
        if w.full_every > 0 {
            f.push(format!("--window-attn-skip-freq {}", w.full_every));
        }
    }
    moe_flags(m, tr.moe_dispatcher, f);
    if let Some(a) = &m.mla {
        f.push("--multi-latent-attention".into());
        if let Some(r) = a.q_lora_rank {
            f.push(format!("--q-lora-rank {r}"));
        }
        f.push(format!("--kv-lora-rank {}", a.kv_lora_rank));
        f.push(format!("--qk-head-dim {}", a.qk_nope_head_dim));
        f.push(format!("--qk-pos-emb-head-dim {}", a.qk_rope_head_dim));
        f.push(format!("--v-head-dim {}", a.v_head_dim));
    }
    if m.mtp_depth > 0 {
        f.push(format!("--mtp-num-layers {}", m.mtp_depth));
    }
    Ok(())
}

fn moe_flags(m: &ModelSpec, dispatcher: MoeDispatcher, f: &mut Vec<String>) {
    let Some(e) = &m.moe else { return };
    f.push(format!("--num-experts {}", e.experts));
    f.push(format!("--moe-router-topk {}", e.top_k));
    f.push(format!("--moe-ffn-hidden-size {}", e.expert_ffn_hidden));
    if e.shared_experts > 0 {
        f.push(format!(
            "--moe-shared-expert-intermediate-size {}",
            u64::from(e.shared_experts) * e.expert_ffn_hidden
        ));
    }
    if e.first_dense_layers > 0 || e.layer_freq > 1 {
        // A Python list expression, as Megatron's moe_freq_type reads it: 1 = MoE layer.
        let per: Vec<&str> = (0..m.layers)
            .map(|i| if m.is_moe_layer(i) { "1" } else { "0" })
            .collect();
        f.push(format!("--moe-layer-freq \"[{}]\"", per.join(",")));
    }
    f.push("--moe-grouped-gemm".into());
    match dispatcher.flex_backend() {
        None => f.push("--moe-token-dispatcher-type alltoall".into()),
        Some(b) => {
            f.push("--moe-token-dispatcher-type flex".into());
            f.push(format!("--moe-flex-dispatcher-backend {b}"));
        }
    }
}

/// The gradient bucket the scenario sets (`training.dp_bucket_params`), parameters,
/// where Megatron-Core's DDP buckets (ZeRO 0-2: its distributed optimizer); `None`
/// leaves Megatron-Core's own default, which is llmplan's.
pub fn bucket_size(sc: &Scenario, l: &ResolvedLayout) -> Option<u64> {
    let n = sc.training.dp_bucket_params?;
    (l.zero <= 2).then_some(n.round() as u64)
}

/// The flags for the parallel layout, batch, precision, recompute and overlap.
fn layout_flags(sc: &Scenario, l: &ResolvedLayout, f: &mut Vec<String>) -> Result<()> {
    let t = Target::Megatron;
    schedule_ok(t, l)?;
    f.push(format!("--tensor-model-parallel-size {}", l.tp));
    f.push(format!("--pipeline-model-parallel-size {}", l.pp));
    match split(t, sc, l)? {
        Split::Even(v) => {
            if let Some(n) = v {
                f.push(format!("--num-layers-per-virtual-pipeline-stage {n}"));
            }
        }
        Split::EmbeddingAndLoss(v) => {
            f.push("--account-for-embedding-in-pipeline-split".into());
            f.push("--account-for-loss-in-pipeline-split".into());
            if let Some(n) = v {
                f.push(format!("--num-layers-per-virtual-pipeline-stage {n}"));
            }
        }
        Split::FirstLast(a, b) => {
            f.push(format!("--decoder-first-pipeline-num-layers {a}"));
            f.push(format!("--decoder-last-pipeline-num-layers {b}"));
        }
        Split::Layout(s) => f.push(format!("--pipeline-model-parallel-layout \"{s}\"")),
    }
    f.push(format!("--context-parallel-size {}", l.cp));
    if sc.model.moe.is_some() {
        f.push(format!("--expert-model-parallel-size {}", l.ep));
        // The experts' own tp: the attention's unless MoE parallel folding sets it.
        f.push(format!("--expert-tensor-parallel-size {}", l.etp));
    }
    if l.sequence_parallel && l.tp > 1 {
        f.push("--sequence-parallel".into());
    }
    f.push(format!("--micro-batch-size {}", l.micro_batch));
    f.push(format!("--global-batch-size {}", l.global_batch_seqs));
    match l.zero {
        0 => {}
        1 | 2 => f.push("--use-distributed-optimizer".into()),
        _ => f.push("--use-torch-fsdp2".into()),
    }
    if l.overlap.dp_comm {
        f.push("--overlap-grad-reduce".into());
        if l.zero >= 1 {
            f.push("--overlap-param-gather".into());
        }
    }
    if let Some(n) = bucket_size(sc, l) {
        f.push(format!("--ddp-bucket-size {n}"));
    }
    if sc.training.fused_cross_entropy {
        // Off in Megatron-LM unless passed (arguments.py, store_true).
        f.push("--cross-entropy-loss-fusion".into());
    }
    if l.overlap.tp_comm && l.tp > 1 {
        f.push("--tp-comm-overlap".into());
    }
    if l.pp > 1 && l.vpp > 1 && !l.overlap.p2p {
        f.push("--no-overlap-p2p-communication".into());
    }
    if sc.training.recomputes(RecomputeModule::AlternateMatmuls) {
        return Err(cannot(
            t,
            "training.recompute_modules",
            "no op-level policy that recomputes every second matmul (torchtitan's \
             selective_ac_option = \"op\"); its --recompute-modules name whole modules",
        ));
    }
    recompute_flags(sc, l, f);
    if let Some(n) = offload_layers(t, sc, l)? {
        // arguments.py: a positive count turns cpu_offloading on.
        f.push(format!("--cpu-offloading-num-layers {n}"));
    }
    match sc.training.precision {
        Precision::Bf16 => f.push("--bf16".into()),
        Precision::Fp16 => f.push("--fp16".into()),
        Precision::Fp8 if sc.training.fp8_recipe == Fp8Recipe::Current => {
            // Megatron-Core's per-tensor current scaling (Transformer Engine 2.x).
            f.push("--bf16".into());
            f.push("--fp8-format hybrid".into());
            f.push("--fp8-recipe tensorwise".into());
        }
        Precision::Fp8 => {
            f.push("--bf16".into());
            f.extend(FP8_FLAGS.iter().map(|s| s.to_string()));
        }
        // Megatron-Core's block-scaled recipes (Transformer Engine 2.x on Blackwell).
        Precision::Mxfp8 => {
            f.push("--bf16".into());
            f.push("--fp8-format e4m3".into());
            f.push("--fp8-recipe mxfp8".into());
        }
        Precision::Nvfp4 => {
            f.push("--bf16".into());
            f.push("--fp4-format e2m1".into());
            f.push("--fp4-recipe nvfp4".into());
        }
        Precision::Mxfp4 => {
            return Err(cannot(
                t,
                "training.precision",
                "no MXFP4 training recipe (NVFP4 is the FP4 recipe it has)",
            ))
        }
    }
    Ok(())
}

/// FP8 as examples/llama/train_llama3_8b_h100_fp8.sh runs it (delayed scaling, E4M3
/// forward and E5M2 backward).
const FP8_FLAGS: &[&str] = &[
    "--fp8-format hybrid",
    "--fp8-amax-history-len 1024",
    "--fp8-amax-compute-algo max",
];

fn module_name(m: RecomputeModule) -> &'static str {
    match m {
        RecomputeModule::CoreAttn => "core_attn",
        RecomputeModule::MlaUpProj => "mla_up_proj",
        RecomputeModule::Layernorm => "layernorm",
        RecomputeModule::MlpAct => "mlp",
        RecomputeModule::MoeAct => "moe_act",
        // Refused before the flags are written (megatron_flags).
        RecomputeModule::AlternateMatmuls => "alternate_matmuls",
    }
}

fn recompute_flags(sc: &Scenario, l: &ResolvedLayout, f: &mut Vec<String>) {
    match sc.training.recompute {
        Recompute::None => {}
        Recompute::Selective => {
            f.push("--recompute-granularity selective".into());
            let mods: Vec<&str> = sc
                .training
                .recompute_modules
                .iter()
                .map(|m| module_name(*m))
                .collect();
            if !mods.is_empty() {
                f.push(format!("--recompute-modules {}", mods.join(" ")));
            }
        }
        Recompute::Full => {
            f.push("--recompute-granularity full".into());
            match super::block_recompute_layers(sc, l) {
                Some(n) => {
                    f.push("--recompute-method block".into());
                    f.push(format!("--recompute-num-layers {n}"));
                }
                None => {
                    f.push("--recompute-method uniform".into());
                    f.push("--recompute-num-layers 1".into());
                }
            }
        }
    }
}

/// `pretrain_gpt.py` flags, one per line, ready to paste after the script name.
pub fn flags(sc: &Scenario, l: &ResolvedLayout) -> Result<Exported> {
    let mut f = Vec::new();
    model_flags(&sc.model, &sc.training, &mut f)?;
    layout_flags(sc, l, &mut f)?;
    let n = f.len();
    let text = f
        .iter()
        .enumerate()
        .map(|(i, x)| {
            if i + 1 < n {
                format!("    {x} \\\n")
            } else {
                format!("    {x}\n")
            }
        })
        .collect::<String>();
    let mut notes = vec![format!(
        "{} GPUs: torchrun world size tp {} x cp {} x dp {} x pp {}",
        l.gpus_used, l.tp, l.cp, l.dp, l.pp
    )];
    if l.zero == 2 {
        notes.push("ZeRO-2 maps to --use-distributed-optimizer: Megatron reduce-scatters gradients and shards optimizer states, but keeps a full-size gradient buffer".into());
    }
    if l.zero >= 3 {
        notes.push("ZeRO-3 maps to --use-torch-fsdp2 (PyTorch FSDP2 inside Megatron-LM); Megatron-FSDP (--use-megatron-fsdp) is the other choice".into());
    }
    Ok(Exported { text, notes })
}

/// Settings shared by Megatron-Bridge and NeMo, as (key, Python value) pairs.
fn core_fields(
    t: Target,
    sc: &Scenario,
    l: &ResolvedLayout,
) -> Result<Vec<(&'static str, String)>> {
    schedule_ok(t, l)?;
    let py = |b: bool| if b { "True" } else { "False" }.to_string();
    let none_or = |v: u32| {
        if l.vpp > 1 {
            v.to_string()
        } else {
            "None".into()
        }
    };
    let mut v = vec![
        ("tensor_model_parallel_size", l.tp.to_string()),
        ("pipeline_model_parallel_size", l.pp.to_string()),
        ("virtual_pipeline_model_parallel_size", none_or(l.vpp)),
        ("context_parallel_size", l.cp.to_string()),
        ("sequence_parallel", py(l.sequence_parallel && l.tp > 1)),
    ];
    if sc.model.moe.is_some() {
        v.push(("expert_model_parallel_size", l.ep.to_string()));
        v.push(("expert_tensor_parallel_size", l.etp.to_string()));
        if let Some(b) = sc.training.moe_dispatcher.flex_backend() {
            v.push(("moe_token_dispatcher_type", "\"flex\"".into()));
            v.push(("moe_flex_dispatcher_backend", format!("\"{b}\"")));
        }
    }
    match split(t, sc, l)? {
        Split::Even(_) => {}
        Split::EmbeddingAndLoss(_) => {
            v.push(("account_for_embedding_in_pipeline_split", py(true)));
            v.push(("account_for_loss_in_pipeline_split", py(true)));
        }
        Split::FirstLast(a, b) => {
            v.push(("num_layers_in_first_pipeline_stage", a.to_string()));
            v.push(("num_layers_in_last_pipeline_stage", b.to_string()));
        }
        Split::Layout(s) => v.push(("pipeline_model_parallel_layout", format!("\"{s}\""))),
    }
    if l.zero >= 3 {
        return Err(cannot(t, "layout.zero", "ZeRO-3 is Megatron-FSDP there (ddp.use_megatron_fsdp); llmplan does not write that recipe"));
    }
    Ok(v)
}

fn recompute_fields(sc: &Scenario, l: &ResolvedLayout) -> Vec<(&'static str, String)> {
    match sc.training.recompute {
        Recompute::None => vec![("recompute_granularity", "None".into())],
        Recompute::Selective => {
            let mods: Vec<String> = sc
                .training
                .recompute_modules
                .iter()
                .map(|m| format!("\"{}\"", module_name(*m)))
                .collect();
            vec![
                ("recompute_granularity", "\"selective\"".into()),
                ("recompute_modules", format!("[{}]", mods.join(", "))),
            ]
        }
        Recompute::Full => match super::block_recompute_layers(sc, l) {
            Some(n) => vec![
                ("recompute_granularity", "\"full\"".into()),
                ("recompute_method", "\"block\"".into()),
                ("recompute_num_layers", n.to_string()),
            ],
            None => vec![
                ("recompute_granularity", "\"full\"".into()),
                ("recompute_method", "\"uniform\"".into()),
                ("recompute_num_layers", "1".into()),
            ],
        },
    }
}

/// The offloading fields as Megatron-Bridge's performance scripts set them
/// (scripts/performance/utils/overrides.py @00b7660b: `cpu_offloading`, activations
/// only, and the layer count).
fn offload_fields(
    t: Target,
    sc: &Scenario,
    l: &ResolvedLayout,
) -> Result<Vec<(&'static str, String)>> {
    Ok(match offload_layers(t, sc, l)? {
        None => Vec::new(),
        Some(n) => vec![
            ("cpu_offloading", "True".into()),
            ("cpu_offloading_weights", "False".into()),
            ("cpu_offloading_num_layers", n.to_string()),
        ],
    })
}

/// Megatron-Bridge `ConfigContainer` assignments, as its recipes write them
/// (`src/megatron/bridge/recipes/llama/h100/llama3.py`).
pub fn bridge(sc: &Scenario, l: &ResolvedLayout) -> Result<Exported> {
    let t = Target::MegatronBridge;
    let mut lines: Vec<String> = core_fields(t, sc, l)?
        .into_iter()
        .map(|(k, v)| format!("cfg.model.{k} = {v}"))
        .collect();
    lines.push(format!("cfg.model.seq_length = {}", sc.training.seq_len));
    lines.push(format!(
        "cfg.train.global_batch_size = {}",
        l.global_batch_seqs
    ));
    lines.push(format!("cfg.train.micro_batch_size = {}", l.micro_batch));
    lines.extend(
        recompute_fields(sc, l)
            .into_iter()
            .map(|(k, v)| format!("cfg.model.{k} = {v}")),
    );
    lines.extend(
        offload_fields(t, sc, l)?
            .into_iter()
            .map(|(k, v)| format!("cfg.model.{k} = {v}")),
    );
    let py = |b: bool| if b { "True" } else { "False" };
    lines.push(format!(
        "cfg.ddp.use_distributed_optimizer = {}",
        py(l.zero >= 1)
    ));
    lines.push(format!(
        "cfg.ddp.overlap_grad_reduce = {}",
        py(l.overlap.dp_comm)
    ));
    lines.push(format!(
        "cfg.ddp.overlap_param_gather = {}",
        py(l.overlap.dp_comm && l.zero >= 1)
    ));
    lines.extend(bucket_size(sc, l).map(|n| format!("cfg.ddp.bucket_size = {n}")));
    // On in Bridge's GPTModelProvider and NeMo 2's GPTConfig: written only when off.
    if !sc.training.fused_cross_entropy {
        lines.push("cfg.model.cross_entropy_loss_fusion = False".into());
    }
    let mixed = match sc.training.precision {
        Precision::Fp8 if sc.training.fp8_recipe == Fp8Recipe::Current => {
            "bf16_with_fp8_current_scaling_mixed"
        }
        Precision::Fp8 => "bf16_with_fp8_delayed_scaling_mixed",
        Precision::Mxfp8 => "bf16_with_mxfp8_mixed",
        Precision::Nvfp4 => "bf16_with_nvfp4_mixed",
        Precision::Fp16 => "fp16_mixed",
        Precision::Bf16 => "bf16_mixed",
        Precision::Mxfp4 => {
            return Err(cannot(
                t,
                "training.precision",
                "no MXFP4 mixed-precision recipe (NVFP4 is the FP4 recipe it has)",
            ))
        }
    };
    lines.push(format!("cfg.mixed_precision = \"{mixed}\""));
    let mut notes = vec![
        "the same keys work as command-line overrides (model.tensor_model_parallel_size=...)"
            .to_string(),
    ];
    if mixed == "bf16_with_fp8_current_scaling_mixed" {
        notes.push(
            "that recipe keeps the first and last Transformer layers in BF16; llmplan counts every layer in FP8, as Megatron-Bridge's performance scripts run it (first_last_layers_bf16 = False)"
                .to_string(),
        );
    }
    Ok(Exported {
        text: lines.join("\n") + "\n",
        notes,
    })
}

/// NeMo 2 recipe assignments (`recipe.trainer.strategy.*`, `recipe.data.*`), as
/// `nemo/collections/llm/recipes/llama31_405b.py` writes them.
pub fn nemo(sc: &Scenario, l: &ResolvedLayout) -> Result<Exported> {
    let t = Target::Nemo;
    let mut lines: Vec<String> = core_fields(t, sc, l)?
        .into_iter()
        .map(|(k, v)| format!("recipe.trainer.strategy.{k} = {v}"))
        .collect();
    lines.push(format!("recipe.data.seq_length = {}", sc.training.seq_len));
    lines.push(format!(
        "recipe.data.global_batch_size = {}",
        l.global_batch_seqs
    ));
    lines.push(format!("recipe.data.micro_batch_size = {}", l.micro_batch));
    lines.extend(
        recompute_fields(sc, l)
            .into_iter()
            .chain(offload_fields(t, sc, l)?)
            .map(|(k, v)| format!("recipe.model.config.{k} = {v}")),
    );
    let py = |b: bool| if b { "True" } else { "False" };
    lines.push(format!(
        "recipe.optim.config.use_distributed_optimizer = {}",
        py(l.zero >= 1)
    ));
    lines.extend(
        bucket_size(sc, l).map(|n| format!("recipe.trainer.strategy.ddp.bucket_size = {n}")),
    );
    if !sc.training.fused_cross_entropy {
        lines.push("recipe.model.config.cross_entropy_loss_fusion = False".into());
    }
    if is_fp8(sc) {
        lines.push("recipe.trainer.plugins = bf16_with_fp8_mixed()".into());
    }
    Ok(Exported {
        text: lines.join("\n") + "\n",
        notes: Vec::new(),
    })
}
