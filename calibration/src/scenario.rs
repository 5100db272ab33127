//! The per-GPU GEMM shapes an llmplan scenario produces, named, for `--scenario FILE`.
//!
//! Mirrors the GEMMs `llmplan::analytic::layer::layer_cost` and the output layer in
//! `llmplan::analytic::stage` price (a test cross-checks the two through a recording
//! kernel model): tokens per GPU `T = micro_batch * seq / cp`; attention and FFN widths
//! split by tp; each routed expert sees `T * ep * top_k / experts` tokens on average.

use llmplan::spec::layout::{self, Adjustments};
use llmplan::spec::scenario::Scenario;
use llmplan::spec::training::Precision;

use crate::error::{CalError, Result};
use crate::shapes::{Dtype, GemmCase, Op};

/// A named forward GEMM: `X[m,k] x W[n,k]^T`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedGemm {
    /// What it computes (`qkv`, `proj`, `fc1`, `expert_fc1`, `router`, `lm_head`, ...).
    pub name: &'static str,
    /// Tokens, exact (may be fractional for experts: an average load).
    pub m: f64,
    /// Output features.
    pub n: f64,
    /// Reduction dimension.
    pub k: f64,
}

/// What a scenario asks the GPU to multiply.
#[derive(Debug, Clone)]
pub struct ScenarioShapes {
    /// GEMM element type from the training precision.
    pub dtype: Dtype,
    /// The distinct forward GEMMs of one dense layer, one MoE layer and the output layer.
    pub forward: Vec<NamedGemm>,
    /// Each forward GEMM in all three orientations, dimensions rounded up to integers,
    /// duplicates removed; `kind` is `<name>_h<hidden>_tp<tp>` as in the shared tables.
    pub cases: Vec<GemmCase>,
    /// Adjustments made while resolving the layout.
    pub notes: Vec<String>,
}

/// The GEMM dtype a training precision runs its matmuls in, as these benchmarks can
/// measure it: block-scaled formats go through the per-tensor-scaled E4M3 path (the
/// same element type for MXFP8; for NVFP4/MXFP4 the nearest measured path, since FP4
/// GEMMs are not benchmarked here).
pub fn gemm_dtype(p: Precision) -> Dtype {
    match p {
        Precision::Bf16 => Dtype::Bf16,
        Precision::Fp16 => Dtype::Fp16,
        Precision::Fp8 | Precision::Mxfp8 | Precision::Nvfp4 | Precision::Mxfp4 => Dtype::Fp8E4m3,
    }
}

/// Derives the shapes of `sc` under its layout (resolved as `llmplan estimate` does).
pub fn scenario_shapes(sc: &Scenario) -> Result<ScenarioShapes> {
    let mut adj = Adjustments::default();
    let rl = layout::resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj)
        .map_err(|e| CalError::Plan(sc.origin.place(e).to_string()))?;
    let m = &sc.model;
    let tp = rl.tp as f64;
    let t = rl.micro_batch as f64 * sc.training.seq_len as f64 / rl.cp as f64;
    let sp = if rl.sequence_parallel { tp } else { 1.0 };
    let h = m.hidden as f64;
    let hq = m.heads as f64;
    let hkv = m.kv_heads() as f64;
    let dqk = m.qk_head_dim() as f64;
    let dv = m.v_head_dim() as f64;
    let gate = if m.gated_mlp { 2.0 } else { 1.0 };
    let g = |name, m, n, k| NamedGemm { name, m, n, k };

    let mut attn = Vec::new();
    match &m.mla {
        Some(mla) => {
            // Down-projections are replicated across tp (Megatron MLA); up-projections split.
            let q_up_k = match mla.q_lora_rank {
                Some(r) => {
                    attn.push(g("q_down", t, r as f64, h));
                    r as f64
                }
                None => h,
            };
            attn.push(g(
                "kv_down",
                t,
                (mla.kv_lora_rank + mla.qk_rope_head_dim) as f64,
                h,
            ));
            attn.push(g("q_up", t, hq * dqk / tp, q_up_k));
            attn.push(g(
                "kv_up",
                t,
                hq * (mla.qk_nope_head_dim + mla.v_head_dim) as f64 / tp,
                mla.kv_lora_rank as f64,
            ));
        }
        None => attn.push(g("qkv", t, (hq * dqk + hkv * dqk + hkv * dv) / tp, h)),
    }
    attn.push(g("proj", t, h, hq * dv / tp));

    let mut forward = Vec::new();
    let has_dense = (0..m.layers).any(|i| !m.is_moe_layer(i));
    if has_dense {
        forward.extend(attn.iter().cloned());
        let f = m.ffn_hidden as f64;
        forward.push(g("fc1", t, gate * f / tp, h));
        forward.push(g("fc2", t, h, f / tp));
    }
    if let Some(moe) = m.moe.as_ref().filter(|_| m.moe_layers() > 0) {
        if !has_dense {
            forward.extend(attn.iter().cloned());
        }
        let e = moe.experts as f64;
        let fe = moe.expert_ffn_hidden as f64;
        let per_expert = t * rl.ep as f64 * moe.top_k as f64 / e;
        forward.push(g("router", t / sp, e, h));
        forward.push(g("expert_fc1", per_expert, gate * fe / tp, h));
        forward.push(g("expert_fc2", per_expert, h, fe / tp));
        let shared = moe.shared_experts as f64 * fe;
        if shared > 0.0 {
            forward.push(g("shared_fc1", t, gate * shared / tp, h));
            forward.push(g("shared_fc2", t, h, shared / tp));
        }
    }
    forward.push(g("lm_head", t, m.vocab as f64 / tp, h));

    let dtype = gemm_dtype(sc.training.precision);
    let mut notes = adj.notes;
    let mut cases: Vec<GemmCase> = Vec::new();
    for f in &forward {
        let dims = [f.m, f.n, f.k].map(|x| x.ceil().max(1.0) as u64);
        if f.m.fract() != 0.0 {
            notes.push(format!(
                "{}: {:.2} tokens per expert on average, timed as {}",
                f.name, f.m, dims[0]
            ));
        }
        for op in Op::ALL {
            let c = GemmCase {
                dtype,
                kind: Some(format!("{}_h{}_tp{}", f.name, m.hidden, rl.tp)),
                m: dims[0],
                n: dims[1],
                k: dims[2],
                op,
            };
            if !cases.contains(&c) {
                cases.push(c);
            }
        }
    }
    Ok(ScenarioShapes {
        dtype,
        forward,
        cases,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmplan::analytic::comm::Comm;
    use llmplan::analytic::compute::{AttnShape, KernelModel};
    use llmplan::analytic::layer::{layer_cost, LayerCtx};
    use llmplan::spec::gpu::Dtype as PlanDtype;
    use std::cell::RefCell;

    /// A kernel model that writes down every GEMM the analytic model asks it to price.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<(f64, f64, f64)>>);

    impl KernelModel for Recorder {
        fn gemm_s(&self, m: f64, n: f64, k: f64, _: PlanDtype) -> f64 {
            self.0.borrow_mut().push((m, n, k));
            1e-6
        }
        fn matmul_flops_s(&self, _: f64, _: PlanDtype) -> f64 {
            1e-6
        }
        fn gemm_bwd_s(&self, m: f64, n: f64, k: f64, _: PlanDtype) -> f64 {
            self.0.borrow_mut().push((m, n, k));
            2e-6
        }
        fn attention_s(&self, _: &AttnShape) -> (f64, f64) {
            (1e-6, 2.5e-6)
        }
        fn memory_s(&self, _: f64) -> f64 {
            1e-6
        }
    }

    fn key(x: (f64, f64, f64)) -> (u64, u64, u64) {
        (x.0.to_bits(), x.1.to_bits(), x.2.to_bits())
    }

    /// Every layer GEMM the analytic model prices appears in our list and vice versa.
    fn cross_check(name: &str) {
        let sc = llmplan::spec::scenario::load(Some(name), &[]).unwrap();
        let ours = scenario_shapes(&sc).unwrap();
        let mut adj = Adjustments::default();
        let rl = layout::resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
        let ctx = LayerCtx {
            model: &sc.model,
            layout: &rl,
            training: &sc.training,
        };
        let rec = Recorder::default();
        let comm = Comm::new(&sc.cluster);
        for i in 0..sc.model.layers {
            layer_cost(&ctx, i, &rec, &comm);
        }
        let mut theirs: Vec<_> = rec.0.borrow().iter().map(|&x| key(x)).collect();
        theirs.sort();
        theirs.dedup();
        let mut mine: Vec<_> = ours
            .forward
            .iter()
            .filter(|g| g.name != "lm_head")
            .map(|g| key((g.m, g.n, g.k)))
            .collect();
        mine.sort();
        mine.dedup();
        assert_eq!(mine, theirs, "{name}: shapes drifted from analytic::layer");
        // Three orientations of every distinct forward GEMM, output layer included.
        assert_eq!(ours.cases.len() % 3, 0);
        assert!(ours
            .cases
            .iter()
            .any(|c| c.kind.as_deref().unwrap().starts_with("lm_head")));
    }

    #[test]
    fn shapes_match_the_analytic_model_for_every_builtin_scenario() {
        let names = llmplan::spec::catalog::names(llmplan::spec::catalog::SCENARIOS);
        assert!(names.len() >= 5);
        for name in names {
            cross_check(name);
        }
    }

    #[test]
    fn seed_moe_shapes() {
        // GPT-4 rumour: tp 8, 16 experts, top-2.
        let sc = llmplan::spec::scenario::load(None, &[]).unwrap();
        let s = scenario_shapes(&sc).unwrap();
        let m = &sc.model;
        let moe = m.moe.as_ref().unwrap();
        let mut adj = Adjustments::default();
        let rl = layout::resolve(&sc.layout, &sc.model, sc.gpus, &sc.training, &mut adj).unwrap();
        let t = (rl.micro_batch as u64 * sc.training.seq_len / rl.cp as u64) as f64;
        let fc1 = s.forward.iter().find(|g| g.name == "expert_fc1").unwrap();
        assert_eq!(
            fc1.m,
            t * rl.ep as f64 * moe.top_k as f64 / moe.experts as f64
        );
        let gate = if m.gated_mlp { 2.0 } else { 1.0 };
        assert_eq!(fc1.n, gate * moe.expert_ffn_hidden as f64 / rl.tp as f64);
        assert_eq!(fc1.k, m.hidden as f64);
        let qkv = s.forward.iter().find(|g| g.name == "qkv").unwrap();
        assert_eq!(qkv.m, t);
        assert_eq!(qkv.k, m.hidden as f64);
        assert_eq!(s.dtype, gemm_dtype(sc.training.precision));
        for c in &s.cases {
            assert!(c
                .kind
                .as_deref()
                .unwrap()
                .ends_with(&format!("_tp{}", rl.tp)));
        }
    }

    #[test]
    fn overrides_change_the_shapes() {
        let base = llmplan::spec::scenario::load(Some("llama3-405b-h100"), &[]).unwrap();
        let b = scenario_shapes(&base).unwrap();
        let qkv = |s: &ScenarioShapes| s.forward.iter().find(|g| g.name == "qkv").unwrap().m;
        let mb2 = llmplan::spec::scenario::load(
            Some("llama3-405b-h100"),
            &["layout.micro_batch=2".to_string()],
        );
        if let Ok(sc) = mb2 {
            if let Ok(s) = scenario_shapes(&sc) {
                assert_eq!(qkv(&s), 2.0 * qkv(&b) / base.layout.micro_batch as f64);
            }
        }
        assert!(b.forward.iter().any(|g| g.name == "fc1"));
        assert!(!b.forward.iter().any(|g| g.name.starts_with("expert")));
    }
}
