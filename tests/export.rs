//! `llmplan export` against public launch scripts: for the layout a public script
//! runs, the flags/config llmplan writes hold the same parallel and batch settings.
//! Each test names the script (repository, path, commit) its expected lines come from.

use std::process::{Command, Output};

fn llmplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llmplan"))
        .args(args)
        .output()
        .expect("run llmplan")
}

/// Exports and returns stdout; panics with stderr on failure.
fn export(target: &str, scenario: &str, sets: &[&str]) -> String {
    let mut args = vec!["export", "--to", target, scenario];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    let o = llmplan(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `args`, which must be refused as an input error (exit 2) whose message holds
/// every one of `words`.
fn refused(args: &[&str], words: &[&str]) {
    let o = llmplan(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: missing `{w}` in: {err}");
    }
}

/// The flags of a Megatron-LM export, one per entry, without line continuations.
fn flags(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().trim_end_matches('\\').trim().to_string())
        .collect()
}

fn assert_has(got: &[String], want: &[&str], ctx: &str) {
    for w in want {
        assert!(
            got.iter().any(|g| g == w),
            "{ctx}: missing `{w}` in:\n{}",
            got.join("\n")
        );
    }
}

/// Llama 3 405B as its paper (section 3.3.2, Table 4) runs it on 16K H100: TP 8, PP 16,
/// 8 virtual stages of one layer with the embedding and the loss each in a layer's
/// place, CP 1, sequence parallel, micro-batch 1 and 2048 sequences per step.
#[test]
fn megatron_llama3_405b_parallel_flags() {
    let f = flags(&export("megatron", "llama3-405b-h100", &[]));
    assert_has(
        &f,
        &[
            "--tensor-model-parallel-size 8",
            "--pipeline-model-parallel-size 16",
            "--num-layers-per-virtual-pipeline-stage 1",
            "--account-for-embedding-in-pipeline-split",
            "--account-for-loss-in-pipeline-split",
            "--context-parallel-size 1",
            "--sequence-parallel",
            "--micro-batch-size 1",
            "--global-batch-size 2048",
            "--use-distributed-optimizer",
            "--num-layers 126",
            "--num-query-groups 8",
        ],
        "llama3-405b",
    );
}

/// NVIDIA/Megatron-LM `examples/gpt3/train_gpt3_175b_distributed.sh` (commit d98e8a6):
/// `--tensor-model-parallel-size 8 --pipeline-model-parallel-size 16`, micro-batch 1,
/// global batch 1536, `--fp16`, 96 layers of 12288 with 96 heads, sequence 2048.
#[test]
fn megatron_matches_gpt3_175b_example() {
    let f = flags(&export(
        "megatron",
        "gpt3-175b-a100",
        &[
            "layout.tp=8",
            "layout.pp=16",
            "layout.vpp=1",
            "layout.schedule=1f1b",
            "layout.layers_per_stage=null",
            "layout.micro_batch=1",
            "layout.dp=null",
            "gpus=1536",
            "training.global_batch_seqs=1536",
            "training.precision=fp16",
        ],
    ));
    assert_has(
        &f,
        &[
            "--num-layers 96",
            "--hidden-size 12288",
            "--num-attention-heads 96",
            "--seq-length 2048",
            "--max-position-embeddings 2048",
            "--micro-batch-size 1",
            "--global-batch-size 1536",
            "--fp16",
            "--tensor-model-parallel-size 8",
            "--pipeline-model-parallel-size 16",
        ],
        "gpt3-175b",
    );
}

fn mixtral_scenario() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "llmplan-export-mixtral-{}.yaml",
        std::process::id()
    ));
    std::fs::write(
        &p,
        "name: Mixtral 8x7B as Megatron-LM's example runs it\nmodel: mixtral-8x7b\ncluster: dgx-h100\ngpus: 32\n\
         training:\n  tokens: 1.0e11\n  seq_len: 4096\n  global_batch_seqs: 256\n  precision: bf16\n  recompute: none\n\
         layout:\n  tp: 1\n  pp: 4\n  ep: 8\n  micro_batch: 1\n  zero: 1\n",
    )
    .unwrap();
    p
}

/// NVIDIA/Megatron-LM `examples/mixtral/train_mixtral_8x7b_distributed.sh` (commit
/// d98e8a6): TP 1, PP 4, EP 8, micro-batch 1, global batch 256, sequence 4096, 8
/// experts top-2, `--use-distributed-optimizer --overlap-grad-reduce
/// --overlap-param-gather --bf16`, GQA with 8 groups, SwiGLU, RMSNorm, untied.
#[test]
fn megatron_matches_mixtral_example() {
    let p = mixtral_scenario();
    let f = flags(&export("megatron", p.to_str().unwrap(), &[]));
    assert_has(
        &f,
        &[
            "--tensor-model-parallel-size 1",
            "--pipeline-model-parallel-size 4",
            "--expert-model-parallel-size 8",
            "--micro-batch-size 1",
            "--global-batch-size 256",
            "--seq-length 4096",
            "--num-experts 8",
            "--moe-router-topk 2",
            "--moe-grouped-gemm",
            "--moe-token-dispatcher-type alltoall",
            "--use-distributed-optimizer",
            "--overlap-grad-reduce",
            "--overlap-param-gather",
            "--bf16",
            "--group-query-attention",
            "--num-query-groups 8",
            "--swiglu",
            "--normalization RMSNorm",
            "--untie-embeddings-and-output-weights",
            "--disable-bias-linear",
            "--num-layers 32",
            "--hidden-size 4096",
            "--ffn-hidden-size 14336",
        ],
        "mixtral",
    );
}

/// The flex dispatcher as Megatron-Core names it (`--moe-token-dispatcher-type flex`,
/// `--moe-flex-dispatcher-backend {deepep,hybridep}`, TransformerConfig
/// `moe_flex_dispatcher_backend` @d98e8a6; Megatron-Bridge's Qwen3 H100 presets set
/// `moe_flex_dispatcher_backend = "hybridep"`, qwen3_workload_base_configs.py @v0.4.1).
#[test]
fn the_moe_dispatcher_exports_as_megatron_names_it() {
    let p = mixtral_scenario();
    let p = p.to_str().unwrap();
    for backend in ["deepep", "hybridep"] {
        let set = format!("training.moe_dispatcher={backend}");
        let f = flags(&export("megatron", p, &[&set]));
        assert_has(
            &f,
            &[
                "--moe-token-dispatcher-type flex",
                &format!("--moe-flex-dispatcher-backend {backend}"),
            ],
            backend,
        );
        let bridge = export("megatron-bridge", p, &[&set]);
        for want in [
            "cfg.model.moe_token_dispatcher_type = \"flex\"".to_string(),
            format!("cfg.model.moe_flex_dispatcher_backend = \"{backend}\""),
        ] {
            assert!(
                bridge.lines().any(|l| l == want),
                "missing `{want}` in:\n{bridge}"
            );
        }
    }
}

/// NVIDIA/Megatron-LM `examples/llama/train_llama3_8b_h100_fp8.sh` (commit d98e8a6):
/// FP8 as `--fp8-format hybrid --fp8-amax-history-len 1024 --fp8-amax-compute-algo max`.
#[test]
fn megatron_fp8_flags_match_llama3_8b_example() {
    let f = flags(&export(
        "megatron",
        "llama3-405b-h100",
        &["training.precision=fp8"],
    ));
    assert_has(
        &f,
        &[
            "--fp8-format hybrid",
            "--fp8-amax-history-len 1024",
            "--fp8-amax-compute-algo max",
        ],
        "fp8",
    );
}

/// NVIDIA/NeMo `nemo/collections/llm/recipes/llama31_405b.py` (commit 00aa2e1): TP 8,
/// PP 9, VPP 2, CP 4, sequence parallel on 72 nodes; micro-batch 1, sequence 8192
/// (126 layers / (9 x 2) = 7 per chunk, even). Its global batch of 512 is 256
/// micro-batches per replica, which llmplan's interleaving rule (a multiple of pp)
/// refuses; 504 is the nearest it accepts, so the batch line is checked at 504.
#[test]
fn nemo_matches_llama31_405b_recipe() {
    let out = export(
        "nemo",
        "llama3-405b-h100",
        &[
            "layout.tp=8",
            "layout.pp=9",
            "layout.vpp=2",
            "layout.cp=4",
            "layout.dp=null",
            "layout.layers_per_stage=null",
            "gpus=576",
            "training.global_batch_seqs=504",
        ],
    );
    for want in [
        "recipe.trainer.strategy.tensor_model_parallel_size = 8",
        "recipe.trainer.strategy.pipeline_model_parallel_size = 9",
        "recipe.trainer.strategy.virtual_pipeline_model_parallel_size = 2",
        "recipe.trainer.strategy.context_parallel_size = 4",
        "recipe.trainer.strategy.sequence_parallel = True",
        "recipe.data.global_batch_size = 504",
        "recipe.data.micro_batch_size = 1",
        "recipe.data.seq_length = 8192",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "missing `{want}` in:\n{out}"
        );
    }
}

/// NVIDIA-NeMo/Megatron-Bridge `src/megatron/bridge/recipes/llama/h100/llama3.py`
/// (commit 067f987), `llama3_70b_pretrain_32gpu_h100_bf16_config`: TP 4, PP 4, VPP 5,
/// CP 2, sequence parallel, global batch 512, micro-batch 1, sequence 8192, the
/// distributed optimizer with overlapped grad reduce and param gather.
#[test]
fn megatron_bridge_matches_llama3_70b_recipe() {
    let d = std::env::temp_dir().join(format!("llmplan-export-bridge-{}.yaml", std::process::id()));
    std::fs::write(
        &d,
        "name: Llama 3 70B as the Megatron-Bridge recipe runs it\nmodel: llama3-70b\ncluster: dgx-h100\ngpus: 32\n\
         training:\n  tokens: 1.0e12\n  seq_len: 8192\n  global_batch_seqs: 512\n  precision: bf16\n  recompute: none\n\
         layout:\n  tp: 4\n  pp: 4\n  vpp: 5\n  cp: 2\n  micro_batch: 1\n  zero: 1\n",
    )
    .unwrap();
    let out = export("megatron-bridge", d.to_str().unwrap(), &[]);
    for want in [
        "cfg.model.tensor_model_parallel_size = 4",
        "cfg.model.pipeline_model_parallel_size = 4",
        "cfg.model.virtual_pipeline_model_parallel_size = 5",
        "cfg.model.context_parallel_size = 2",
        "cfg.model.sequence_parallel = True",
        "cfg.model.seq_length = 8192",
        "cfg.train.global_batch_size = 512",
        "cfg.train.micro_batch_size = 1",
        "cfg.model.recompute_granularity = None",
        "cfg.ddp.overlap_grad_reduce = True",
        "cfg.ddp.overlap_param_gather = True",
        "cfg.ddp.use_distributed_optimizer = True",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "missing `{want}` in:\n{out}"
        );
    }
}

/// pytorch/torchtitan `torchtitan/models/llama3/train_configs/llama3_405b.toml` (the
/// last TOML preset, parent of commit 9810191): 128 H100, TP 8, FSDP over the rest
/// (16), no PP or CP, local batch 2, sequence 8192, full activation checkpointing,
/// float8 with FSDP float8 all-gather, `[compile] enable=true` for the model and loss
/// (memory-bound ops fused: `training.elementwise: fused`, the default).
#[test]
fn torchtitan_matches_llama3_405b_preset() {
    let out = export(
        "torchtitan",
        "llama3-405b-h100",
        &[
            "gpus=128",
            "layout.tp=8",
            "layout.pp=1",
            "layout.vpp=1",
            "layout.schedule=1f1b",
            "layout.layers_per_stage=null",
            "layout.dp=null",
            "layout.zero=3",
            "layout.micro_batch=2",
            "training.global_batch_seqs=32",
            "training.recompute=full",
            "training.precision=fp8",
        ],
    );
    for want in [
        "converters = [\"float8\"]",
        "local_batch_size = 2",
        "seq_len = 8192",
        "data_parallel_replicate_degree = 1",
        "data_parallel_shard_degree = 16",
        "tensor_parallel_degree = 8",
        "pipeline_parallel_degree = 1",
        "context_parallel_degree = 1",
        "mode = \"full\"",
        "[compile]",
        "enable = true",
        "components = [\"model\", \"loss\"]",
        "[quantize.linear.float8]",
        "enable_fsdp_float8_all_gather = true",
        "precompute_float8_dynamic_scale_for_fsdp = true",
        "filter_fqns = [\"output\"]",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "missing `{want}` in:\n{out}"
        );
    }
}

/// torchtitan places uneven splits only as Llama 3's (one layer fewer on the first and
/// last stage); its ZeRO is FSDP or DDP, not ZeRO-1. Both are refused, not rewritten.
#[test]
fn torchtitan_refuses_what_it_cannot_express() {
    // The Llama 3 405B scenario with `sets` applied, exported for torchtitan.
    let with = |sets: &[&'static str]| {
        let mut args = vec!["export", "--to", "torchtitan", "llama3-405b-h100"];
        for s in sets {
            args.extend(["--set", *s]);
        }
        args
    };
    refused(
        &with(&["layout.zero=1"]),
        &["torchtitan cannot express this", "ZeRO-1"],
    );
    // 126 layers on 5 stages: 26 + 4 x 25, neither even nor Llama 3's split.
    let uneven = [
        "layout.zero=3",
        "layout.vpp=1",
        "layout.schedule=1f1b",
        "layout.pp=5",
        "layout.dp=null",
        "layout.layers_per_stage=null",
        "gpus=10240",
    ];
    refused(&with(&uneven), &["torchtitan cannot express this"]);
}

/// torchtitan's 2024 presets ran without torch.compile (`compile = false`), the memory-
/// bound ops op by op: a scenario with `training.elementwise: eager` exports
/// `[compile] enable = false`; one with the fused RMSNorm kernel alone has no
/// equivalent in this schema and is refused.
#[test]
fn torchtitan_compile_follows_the_elementwise_ops() {
    let sets = [
        "gpus=128",
        "layout.tp=8",
        "layout.pp=1",
        "layout.vpp=1",
        "layout.schedule=1f1b",
        "layout.layers_per_stage=null",
        "layout.dp=null",
        "layout.zero=3",
        "training.global_batch_seqs=16",
    ];
    let mut eager: Vec<&str> = sets.to_vec();
    eager.push("training.elementwise=eager");
    let out = export("torchtitan", "llama3-405b-h100", &eager);
    let at = out.find("[compile]").expect("a [compile] section");
    assert!(out[at..].lines().nth(1) == Some("enable = false"), "{out}");
    let mut args = vec!["export", "--to", "torchtitan", "llama3-405b-h100"];
    for s in &sets {
        args.extend(["--set", s]);
    }
    args.extend(["--set", "training.elementwise=eager_fused_norm"]);
    refused(
        &args,
        &["torchtitan cannot express this", "eager_fused_norm"],
    );
}

/// microsoft/Megatron-DeepSpeed `examples_deepspeed/pretrain_llama2_distributed.sh`
/// (commit b644fba): TP 2, PP 2, ZeRO 0 on 8 GPUs, micro-batch 4, global batch 32,
/// `{"train_batch_size": 32, "train_micro_batch_size_per_gpu": 4,
/// "zero_optimization": {"stage": 0}, "bf16": {"enabled": true}}`.
#[test]
fn deepspeed_matches_llama2_example() {
    let d = std::env::temp_dir().join(format!("llmplan-export-ds-{}.yaml", std::process::id()));
    std::fs::write(
        &d,
        "name: Megatron-DeepSpeed llama2 example\nmodel:\n  layers: 24\n  hidden: 2048\n  heads: 16\n  kv_heads: 4\n  ffn_hidden: 5504\n  vocab: 32000\n\
         cluster: dgx-h100\ngpus: 8\ntraining:\n  tokens: 1.0e9\n  seq_len: 2048\n  global_batch_seqs: 32\n  precision: bf16\n  recompute: none\n\
         layout:\n  tp: 2\n  pp: 2\n  micro_batch: 4\n  zero: 0\n",
    )
    .unwrap();
    let out = export("deepspeed", d.to_str().unwrap(), &[]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["train_batch_size"], 32);
    assert_eq!(v["train_micro_batch_size_per_gpu"], 4);
    // 32 sequences / (4 per micro-batch x 2 data-parallel replicas).
    assert_eq!(v["gradient_accumulation_steps"], 4);
    assert_eq!(v["zero_optimization"]["stage"], 0);
    assert_eq!(v["bf16"]["enabled"], true);
}

/// DeepSpeed's host-memory offloads as microsoft/Megatron-DeepSpeed
/// `examples_deepspeed/azure/run-benchmark-model.sh` (@62bc4562) writes them for the
/// 2022 Azure runs (ZeRO-3, `"offload_optimizer": {"device": "cpu", "pin_memory": true}`
/// with `--cpu-optimizer`), and CPU checkpointing as DeepSpeed's config
/// (`activation_checkpointing.cpu_checkpointing`) and Megatron-DeepSpeed's
/// `--checkpoint-in-cpu` (megatron/arguments.py) name it; another framework refuses both.
#[test]
fn host_offloads_export_to_deepspeed_only() {
    let sc = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/scenarios/gpt3-175b-zero3-azure.yaml"
    );
    let mut args = vec!["export", "--to", "deepspeed", sc];
    let o = llmplan(&args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["zero_optimization"]["stage"], 3);
    assert_eq!(v["zero_optimization"]["offload_optimizer"]["device"], "cpu");
    assert_eq!(v["activation_checkpointing"]["cpu_checkpointing"], true);
    assert!(
        err.contains("--cpu-optimizer") && err.contains("--checkpoint-in-cpu"),
        "{err}"
    );
    args[2] = "megatron";
    refused(
        &args,
        &["Megatron-LM cannot express this", "checkpoint_offload"],
    );
}

/// Under ZeRO-3 with full recomputation the config carries the reuse distance the
/// estimate assumed: the scenario's `training.zero3_reuse_distance_params` as set, else
/// the distance that keeps every weight a block's recompute gathered for its backward
/// (so DeepSpeed's default of 1e9 does not gather them again). GPT-3 175B: QKV's two
/// uses are 2 x (h^2 + 4h^2 + 4h^2) = 18 x 12288^2 = 2,717,908,992 parameters apart.
#[test]
fn deepspeed_config_carries_the_reuse_distance() {
    let sc = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/scenarios/gpt3-175b-zero3-azure.yaml"
    );
    let z = |sets: &[&str]| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&export("deepspeed", sc, sets)).unwrap();
        v["zero_optimization"]["stage3_max_reuse_distance"].clone()
    };
    assert_eq!(z(&[]), 2_717_908_992u64);
    assert_eq!(
        z(&["training.zero3_reuse_distance_params=3e9"]),
        3_000_000_000u64
    );
    // Without recomputation there is no recompute gather to keep: not written.
    assert!(z(&[
        "training.recompute=selective",
        "training.checkpoint_offload=false"
    ])
    .is_null());
}

/// A schedule Megatron-LM does not run is refused with the reason.
#[test]
fn megatron_refuses_dualpipe() {
    refused(
        &["export", "--to", "megatron", "deepseek-v3-h800"],
        &["Megatron-LM cannot express this", "dualpipe"],
    );
}

/// The line `search` and the report print for a ranked layout runs as written and
/// exports that layout; a layout no target can launch (DualPipe) says why instead.
#[test]
fn launch_hint_round_trips() {
    use llmplan::search::LayoutKey;
    use llmplan::spec::layout::Schedule;
    use llmplan::spec::scenario;
    use llmplan::spec::training::Recompute;
    let sc = scenario::load(Some("gpt3-175b-a100"), &[]).unwrap();
    let key = LayoutKey {
        tp: 8,
        pp: 8,
        dp: 16,
        ep: 1,
        etp: 8,
        cp: 1,
        vpp: 1,
        micro_batch: 1,
        recompute: Recompute::Selective,
        zero: 1,
        schedule: Schedule::OneFOneB,
        sequence_parallel: true,
    };
    let cmd = llmplan::export::launch_hint("gpt3-175b-a100", &sc, &key, 1024).unwrap();
    assert!(
        cmd.starts_with("llmplan export --to megatron gpt3-175b-a100 --gpus 1024"),
        "{cmd}"
    );
    let args: Vec<&str> = cmd.split(' ').skip(1).collect();
    let o = llmplan(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f = flags(&String::from_utf8_lossy(&o.stdout));
    assert_has(
        &f,
        &[
            "--tensor-model-parallel-size 8",
            "--pipeline-model-parallel-size 8",
            "--recompute-granularity selective",
            "--use-distributed-optimizer",
        ],
        "round trip",
    );
    let dual = LayoutKey {
        schedule: Schedule::DualPipe,
        ..key
    };
    let why = llmplan::export::launch_hint("gpt3-175b-a100", &sc, &dual, 1024).unwrap_err();
    assert!(why.contains("dualpipe"), "{why}");
}

/// Megatron-Bridge's Llama 3 70B GB300 FP8-CS preset
/// (scripts/performance/configs/llama/llama3_workload_base_configs.py @00b7660b:
/// micro-batch 2, `cpu_offloading_num_layers=20`; scripts/performance/utils/overrides.py
/// sets `cpu_offloading = True`, `cpu_offloading_weights = False`): the offloaded
/// layers reach Megatron-LM as `--cpu-offloading-num-layers` (arguments.py builds it
/// from TransformerConfig's `cpu_offloading_num_layers`) and the recipes as the same
/// fields; where Megatron-Core refuses offloading (pipeline parallelism, recomputation)
/// and where a target has no such setting, the export names the field.
#[test]
fn activation_offloading_exports_where_it_can() {
    let d = std::env::temp_dir().join(format!(
        "llmplan-export-offload-{}.yaml",
        std::process::id()
    ));
    std::fs::write(
        &d,
        "name: Llama 3 70B as Megatron-Bridge's GB300 preset runs it\nmodel: llama3-70b\ncluster: gb300-nvl72\ngpus: 64\n\
         training:\n  tokens: 1.0e12\n  seq_len: 8192\n  global_batch_seqs: 256\n  precision: fp8\n  fp8_recipe: current\n  recompute: none\n  activation_offload_layers: 20\n\
         layout:\n  tp: 1\n  pp: 1\n  micro_batch: 2\n  zero: 1\n",
    )
    .unwrap();
    let path = d.to_str().unwrap();
    let f = flags(&export("megatron", path, &[]));
    assert_has(&f, &["--cpu-offloading-num-layers 20"], "megatron");
    let bridge = export("megatron-bridge", path, &[]);
    for want in [
        "cfg.model.cpu_offloading = True",
        "cfg.model.cpu_offloading_weights = False",
        "cfg.model.cpu_offloading_num_layers = 20",
    ] {
        assert!(
            bridge.lines().any(|l| l == want),
            "missing `{want}` in:\n{bridge}"
        );
    }
    let nemo = export("nemo", path, &[]);
    assert!(
        nemo.lines()
            .any(|l| l == "recipe.model.config.cpu_offloading_num_layers = 20"),
        "{nemo}"
    );
    // No offloading, no offloading flag.
    let none = flags(&export(
        "megatron",
        path,
        &["training.activation_offload_layers=0"],
    ));
    assert!(
        !none.iter().any(|l| l.contains("cpu-offloading")),
        "{none:?}"
    );
    for (target, sets, why) in [
        ("megatron", vec!["layout.pp=2"], "pipeline parallelism"),
        (
            "megatron",
            vec!["training.recompute=selective"],
            "recomputation",
        ),
        ("torchtitan", vec![], "no activation offloading"),
        (
            "deepspeed",
            vec!["training.precision=bf16"],
            "cpu_checkpointing",
        ),
    ] {
        let mut args = vec!["export", "--to", target, path];
        for s in &sets {
            args.push("--set");
            args.push(s);
        }
        refused(&args, &["activation_offload_layers", why]);
    }
    std::fs::remove_file(&d).ok();
}

#[test]
fn gradient_buckets_export_to_megatron_only() {
    // Megatron-LM: `--ddp-bucket-size` (megatron/training/arguments.py); Megatron-Bridge
    // and NeMo 2: the DistributedDataParallelConfig's `bucket_size`, as the MLPerf
    // implementation passes BUCKET_SIZE (training_results_v5.1 llama31_8b pretrain.py).
    let set = ["layout.zero=1", "training.dp_bucket_params=768e6"];
    let m = flags(&export("megatron", "llama3-405b-h100", &set));
    assert_has(&m, &["--ddp-bucket-size 768000000"], "megatron");
    let b = export("megatron-bridge", "llama3-405b-h100", &set);
    assert!(b.contains("cfg.ddp.bucket_size = 768000000"), "{b}");
    let n = export("nemo", "llama3-405b-h100", &set);
    assert!(
        n.contains("recipe.trainer.strategy.ddp.bucket_size = 768000000"),
        "{n}"
    );
    // Without the field, Megatron-Core's own default stands and nothing is written.
    let plain = export("megatron", "llama3-405b-h100", &["layout.zero=1"]);
    assert!(!plain.contains("bucket"), "{plain}");
    // Elsewhere (and under FSDP) it is not a setting of theirs: said, not written.
    for (target, sets) in [
        ("torchtitan", vec!["training.dp_bucket_params=768e6"]),
        (
            "megatron",
            vec!["layout.zero=3", "training.dp_bucket_params=768e6"],
        ),
    ] {
        let mut args = vec!["export", "--to", target, "llama3-405b-h100"];
        for s in &sets {
            args.extend(["--set", s]);
        }
        let o = llmplan(&args);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(o.status.success(), "{target}: {err}");
        assert!(!out.contains("768000000"), "{target}: {out}");
        assert!(
            err.contains("training.dp_bucket_params (768000000 parameters)"),
            "{target}: {err}"
        );
    }
}

#[test]
fn the_loss_fusion_exports_where_each_framework_defaults_otherwise() {
    // Megatron-LM: `--cross-entropy-loss-fusion` is off unless passed
    // (megatron/training/arguments.py, store_true); Megatron-Bridge's GPTModelProvider and
    // NeMo 2's GPTConfig default it to True, so they only need it turned off.
    let m = flags(&export("megatron", "llama3-405b-h100", &[]));
    assert_has(&m, &["--cross-entropy-loss-fusion"], "megatron");
    let off = ["training.fused_cross_entropy=false"];
    let m = export("megatron", "llama3-405b-h100", &off);
    assert!(!m.contains("cross-entropy"), "{m}");
    let b = export("megatron-bridge", "llama3-405b-h100", &off);
    assert!(
        b.contains("cfg.model.cross_entropy_loss_fusion = False"),
        "{b}"
    );
    let n = export("nemo", "llama3-405b-h100", &off);
    assert!(
        n.contains("recipe.model.config.cross_entropy_loss_fusion = False"),
        "{n}"
    );
    let b = export("megatron-bridge", "llama3-405b-h100", &[]);
    assert!(!b.contains("cross_entropy"), "{b}");
}
