//! The boundary where an evaluation's context is chosen: the scenario's kernel model
//! ([`crate::calibrate::kernel_model_for`], which honours `overlap.comm_sms`) and its
//! resolved layout, put together as an [`analytic::Setup`] and estimated. The CLI,
//! reports, search and validation come through here, so they all price a layout with
//! the same kernel model.

use crate::analytic::estimate::PipelineModel;
use crate::analytic::{self, Estimate, EstimateOptions, Setup};
use crate::calibrate::kernel_model_for;
use crate::error::Result;
use crate::spec::Scenario;

/// Resolves `sc`'s layout and estimates it with the scenario's kernel model.
pub fn estimate(sc: &Scenario, opts: &EstimateOptions) -> Result<Estimate> {
    estimate_with(sc, opts, None)
}

/// [`estimate`] with the pipeline timed by `pipeline` (the simulator) instead of the
/// closed forms.
pub fn estimate_with(
    sc: &Scenario,
    opts: &EstimateOptions,
    pipeline: Option<&dyn PipelineModel>,
) -> Result<Estimate> {
    let kernels = kernel_model_for(sc);
    let setup = Setup::resolve(sc, &kernels)?;
    analytic::estimate::estimate_with(&setup, opts, pipeline)
}
