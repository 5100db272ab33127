//! The per-GPU GEMM shapes an llmplan scenario produces, named, for `--scenario FILE`.
//!
//! The list is the analytic model's own ([`llmplan::analytic::layer::layer_gemms`] for
//! a dense and an MoE layer, [`llmplan::analytic::head::head_gemm`] for the output
//! layer): what `llmplan` prices is what is timed.

use llmplan::analytic::head::head_gemm;
use llmplan::analytic::layer::{layer_gemms, LayerCtx, LayerGemm};
use llmplan::spec::layout::{self, Adjustments};
use llmplan::spec::scenario::Scenario;
use llmplan::spec::training::Precision;

use crate::error::{CalError, Result};
use crate::shapes::{Dtype, GemmCase, Op};

/// What a scenario asks the GPU to multiply.
#[derive(Debug, Clone)]
pub struct ScenarioShapes {
    /// GEMM element type from the training precision.
    pub dtype: Dtype,
    /// The distinct forward GEMMs of one dense layer, one MoE layer and the output
    /// layer, in forward order.
    pub forward: Vec<LayerGemm>,
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
    let ctx = LayerCtx {
        model: m,
        layout: &rl,
        training: &sc.training,
    };
    // One dense and one MoE layer: the attention GEMMs they share are listed once.
    let first_dense = (0..m.layers).find(|&i| !m.is_moe_layer(i));
    let first_moe = (0..m.layers).find(|&i| m.is_moe_layer(i));
    let mut forward: Vec<LayerGemm> = Vec::new();
    for i in first_dense.into_iter().chain(first_moe) {
        for g in layer_gemms(&ctx, i) {
            if !forward.iter().any(|f| f.name == g.name) {
                forward.push(g);
            }
        }
    }
    forward.push(head_gemm(&ctx));

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
        // The router and the output layer stay BF16 under a quantizing recipe.
        let dt = if f.bf16 && sc.training.precision.quantized() {
            Dtype::Bf16
        } else {
            dtype
        };
        for op in Op::ALL {
            let c = GemmCase {
                dtype: dt,
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

    #[test]
    fn every_builtin_scenario_lists_each_gemm_once_in_three_orientations() {
        let names = llmplan::spec::catalog::names(llmplan::spec::catalog::SCENARIOS);
        assert!(names.len() >= 5);
        for name in names {
            let sc = llmplan::spec::scenario::load(Some(name), &[]).unwrap();
            let s = scenario_shapes(&sc).unwrap();
            let mut seen: Vec<_> = s.forward.iter().map(|g| g.name).collect();
            assert_eq!(seen.last(), Some(&"lm_head"), "{name}");
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), s.forward.len(), "{name}: a name twice");
            assert_eq!(s.cases.len() % 3, 0, "{name}");
        }
    }

    #[test]
    fn deepseek_times_its_router_and_output_layer_in_bf16() {
        // DeepSeek-V3 section 3.3: FP8 GEMMs except the gating and the output head; the
        // dense layers' and the MoE layers' shared attention GEMMs are listed once.
        let sc = llmplan::spec::scenario::load(Some("deepseek-v3-h800"), &[]).unwrap();
        let s = scenario_shapes(&sc).unwrap();
        let names: Vec<_> = s.forward.iter().map(|g| g.name).collect();
        assert_eq!(
            names,
            [
                "q_down",
                "kv_down",
                "q_up",
                "kv_up",
                "proj",
                "fc1",
                "fc2",
                "router",
                "expert_fc1",
                "expert_fc2",
                "shared_fc1",
                "shared_fc2",
                "lm_head"
            ]
        );
        for c in &s.cases {
            let kind = c.kind.as_deref().unwrap();
            let bf16 = kind.starts_with("router") || kind.starts_with("lm_head");
            let want = if bf16 { Dtype::Bf16 } else { Dtype::Fp8E4m3 };
            assert_eq!(c.dtype, want, "{kind}");
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
