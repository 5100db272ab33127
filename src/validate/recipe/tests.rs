//! The framework table and a row's words, read by hand.
use super::*;

#[test]
fn the_shipped_table_parses_and_ends_with_a_default() {
    let t = parse(FRAMEWORKS_CSV).unwrap();
    assert!(t.len() >= 8);
    assert_eq!(t.last().unwrap().0, "");
}

#[test]
fn framework_generations() {
    let old = for_framework("Megatron-LM (commit 6985e58); DDP=torch");
    assert!(!old.flash_attention && old.dropout && old.zero == 0);
    let core = for_framework("Megatron-Core (2024)");
    assert!(core.flash_attention && core.zero == 1 && core.dp_overlap);
    assert_eq!(core.optimizer_bytes, 12.0);
    // NeMo 24.07 (NeMo 1, apex distributed Adam): 16-bit master remainders (4 + 4 +
    // 2 bytes, NeMo's setup_optimization) and the performance configs' BF16
    // gradients (launcher *_fp8_performance.yaml grad_sync_dtype bf16).
    let nemo = for_framework("NeMo 24.07 (Megatron-Core)");
    assert!(nemo.name.starts_with("NeMo 24.07"), "{}", nemo.name);
    assert_eq!((nemo.grad_bytes, nemo.optimizer_bytes), (2.0, 10.0));
    assert!(nemo.flash_attention && nemo.zero == 1 && nemo.tp_overlap);
    // Megatron-Core named after Megatron-LM is still Megatron-Core.
    let core2 = for_framework("Megatron-LM (Megatron-Core 0.9)");
    assert!(core2.name.starts_with("Megatron-Core") && core2.flash_attention);
    assert_eq!(for_framework("").name, t_default());
    // Megatron-DeepSpeed and MT-NLG's DeepSpeed + Megatron-LM are 2021-22 code;
    // DeepSpeed on its own (ZeRO comparisons) is today's, with flash attention.
    assert!(!for_framework("Megatron-DeepSpeed (bigscience fork)").flash_attention);
    assert!(!for_framework("DeepSpeed + Megatron-LM (3D parallelism)").flash_attention);
    // Megatron-Bridge's performance configs: BF16 gradient reduction
    // (grad_reduce_in_fp32 = False) and FP8 parameters (fp8_param_gather = True).
    let mb = for_framework("Megatron-Bridge (NeMo 25.11 container, Megatron-Core); DDP");
    assert!(mb.grad_bytes == 2.0 && mb.fp8_param_gather);
    assert!(core.grad_bytes == 4.0 && !core.fp8_param_gather);
    let ds = for_framework("DeepSpeed 0.14 ZeRO-3");
    assert!(ds.flash_attention && ds.zero == 3);
    assert_eq!(comm_sms("custom all-to-all (20 sms); node-limited"), 20);
    let (r, said) = refine(old, "ddp=local; zero-1");
    assert!(!r.dp_overlap && r.zero == 1 && said.len() == 2);
}

#[test]
fn config_settings_a_row_quotes_override_the_framework() {
    assert_eq!(
        config_flag("tp_comm_overlap=false", "tp_comm_overlap"),
        Some(false)
    );
    assert_eq!(
        config_flag("x; fp8_param_gather = true (", "fp8_param_gather"),
        Some(true)
    );
    // A mention without a value sets nothing; a later statement still counts.
    let t = "tp_comm_overlap not set: tp_comm_overlap=false (custom.yaml default)";
    assert_eq!(config_flag(t, "tp_comm_overlap"), Some(false));
    assert_eq!(config_flag("(`tp_comm_overlap`)", "tp_comm_overlap"), None);
    // NVIDIA's and AMD's MLPerf v5.1 implementations: BF16 gradients, FP8 parameters
    // unless the FP4 configs turn them off, TP overlap only where a config sets it.
    let ml =
        for_framework("NVIDIA MLPerf Training v5.1 implementation (NeMo 25.09, Megatron-Core)");
    assert!(ml.name.starts_with("MLPerf Training"), "{}", ml.name);
    assert!(ml.grad_bytes == 2.0 && ml.fp8_param_gather && !ml.tp_overlap);
    assert_eq!(ml.segment_nodes, Some(18));
    let (r, said) = refine(ml, "fp8_param_gather=false; tp_comm_overlap=true");
    assert!(!r.fp8_param_gather && r.tp_overlap && said.len() == 2);
    let core = for_framework("Megatron-Core");
    let (r, _) = refine(core, "grad_reduce_in_fp32=false");
    assert_eq!(r.grad_bytes, 2.0);
    // "tp-comm-overlap" named without a value still means on.
    let (r, _) = refine(core, "--tp-comm-overlap");
    assert!(r.tp_overlap);
    // torchtitan: SDPA's FA2 (torch <= 2.10 on Hopper); FP8 gathers where stated.
    let tt = for_framework("torchtitan FSDP2 (1D, fully_shard per transformer block)");
    assert_eq!(tt.attention_kernel, AttentionKernel::Flash2);
    let (r, _) = refine(tt, "fp8 (torchao float8 on nn.linear, fp8 fsdp all-gather)");
    assert!(!tt.fp8_param_gather && r.fp8_param_gather);
}

#[test]
fn launcher_segments_by_hand() {
    // 256 GB200 GPUs = 64 trays of 4: the largest divisor of 64 up to 18 is 16, so
    // four 64-GPU segments; 64 GPUs = 16 trays fit one segment; 8 GPUs = 2 trays.
    assert_eq!(segment_domain(256, 4, 72, 18), 64);
    assert_eq!(segment_domain(64, 4, 72, 18), 64);
    assert_eq!(segment_domain(8, 4, 72, 18), 8);
    assert_eq!(segment_domain(72, 4, 72, 18), 72);
    // 76 trays: divisors up to 18 are 1, 2, 4: 16-GPU segments.
    assert_eq!(segment_domain(304, 4, 72, 18), 16);
    // 8-GPU nodes with an 8-GPU NVLink domain: nothing to segment.
    assert_eq!(segment_domain(256, 8, 8, 18), 8);
    let mb = for_framework("Megatron-Bridge (NeMo 25.11 container, Megatron-Core); DDP");
    assert_eq!(mb.segment_nodes, Some(18));
}

#[test]
fn empty_framework_cells_take_the_source_s_framework() {
    let (f, why) = framework_of("", "Korthikanti et al. 2022, arXiv 2205.05198");
    assert_eq!(f, "Megatron-LM");
    assert!(why.is_some());
    assert_eq!(framework_of("NeMo", "Korthikanti").0, "NeMo");
    assert_eq!(framework_of("", "someone else").0, "");
}

fn t_default() -> String {
    table().last().unwrap().1.name.clone()
}
