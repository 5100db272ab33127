//! The evaluation context: one scenario, its resolved layout and the kernel model,
//! chosen once by the caller and handed to every evaluation of that layout
//! (estimate, simulator, search baseline and re-timing, validation).
//!
//! The kernel model is handed in, never chosen here: the analytic model does not
//! know where kernel times come from (a fit, constants, a test's model). Callers get
//! it from `llmplan::calibrate::kernel_model_for`, which reserves the SMs the layout
//! gives to communication (`overlap.comm_sms`); the search prices its layouts with
//! the same model, so a layout it ranks costs what `estimate` says it costs.

use super::comm::Comm;
use super::compute::KernelModel;
use super::layer::LayerCtx;
use super::stage::{gpu_sms_for_collectives, StageInputs};
use crate::error::Result;
use crate::spec::layout::{self, Adjustments, ResolvedLayout};
use crate::spec::Scenario;

/// A scenario made ready to evaluate.
pub struct Setup<'a> {
    /// The scenario (model, cluster, training run, pricing).
    pub sc: &'a Scenario,
    /// Kernel times for the scenario's GPU as its layout runs it.
    pub kernels: &'a (dyn KernelModel + Sync),
    /// The layout, resolved against the model, GPUs and batch.
    pub layout: ResolvedLayout,
    /// What resolving adjusted, in words (the estimate's first warnings).
    pub notes: Vec<String>,
}

impl<'a> Setup<'a> {
    /// Resolves `sc`'s layout on its own GPU count; errors point into its file.
    pub fn resolve(sc: &'a Scenario, kernels: &'a (dyn KernelModel + Sync)) -> Result<Self> {
        Self::resolve_on(sc, kernels, sc.gpus).map_err(|e| sc.origin.place(e))
    }

    /// Resolves `sc`'s layout on `gpus` GPUs (a search's count).
    pub fn resolve_on(
        sc: &'a Scenario,
        kernels: &'a (dyn KernelModel + Sync),
        gpus: u64,
    ) -> Result<Self> {
        let mut adj = Adjustments::default();
        let rl = layout::resolve(&sc.layout, &sc.model, gpus, &sc.training, &mut adj)?;
        Ok(Setup {
            sc,
            kernels,
            layout: rl,
            // What loading adjusted (a price dropped for a changed GPU) comes first.
            notes: [sc.origin.notes.clone(), adj.notes].concat(),
        })
    }

    /// A layout already resolved (the search's, or one with its micro-batches changed).
    pub fn with_layout(
        sc: &'a Scenario,
        kernels: &'a (dyn KernelModel + Sync),
        layout: ResolvedLayout,
    ) -> Self {
        Setup {
            sc,
            kernels,
            layout,
            notes: Vec::new(),
        }
    }

    /// What the stage builder reads.
    pub fn stage_inputs(&self) -> StageInputs<'_> {
        StageInputs::new(
            LayerCtx {
                model: &self.sc.model,
                layout: &self.layout,
                training: &self.sc.training,
            },
            self.kernels,
            Comm::for_layout(&self.sc.cluster, &self.layout)
                .with_collective(self.sc.training.collective),
            gpu_sms_for_collectives(&self.sc.gpu, &self.layout.overlap),
        )
    }
}
