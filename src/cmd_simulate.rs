//! `llmplan simulate`: the discrete-event pipeline simulator on a scenario, with a
//! summary table, a Gantt chart, a Chrome trace and Monte Carlo step-time spread
//! (rendered by `llmplan::report::simulate`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::cmd_format::OutputFormat;
use llmplan::report::simulate::{simulation_json, simulation_table, Simulation};
use llmplan::sim::build::imbalance;
use llmplan::sim::{self, trace, Jitter, Program, Straggler};
use llmplan::spec::scenario;
use llmplan::Error;

/// Pipeline schedules as the command line spells them.
#[derive(Clone, Copy, ValueEnum)]
pub enum ScheduleArg {
    /// All forwards, then all backwards.
    Gpipe,
    /// One-forward-one-backward (PipeDream-flush).
    #[value(name = "1f1b")]
    OneFOneB,
    /// Interleaved 1F1B with virtual stages (set --vpp).
    Interleaved,
    /// Zero-bubble ZB-H1 (backward split into input and weight gradients).
    #[value(name = "zb-h1")]
    ZbH1,
    /// DualPipe (DeepSeek-V3), bidirectional; needs an even pp.
    Dualpipe,
}

impl ScheduleArg {
    fn name(self) -> &'static str {
        match self {
            ScheduleArg::Gpipe => "gpipe",
            ScheduleArg::OneFOneB => "1f1b",
            ScheduleArg::Interleaved => "interleaved",
            ScheduleArg::ZbH1 => "zb-h1",
            ScheduleArg::Dualpipe => "dualpipe",
        }
    }
}

/// Arguments of `llmplan simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// Scenario YAML file or built-in scenario name; the seed when left out.
    scenario: Option<String>,
    /// Pipeline schedule instead of the scenario's.
    #[arg(long, value_enum)]
    schedule: Option<ScheduleArg>,
    /// Virtual stages per GPU (interleaved).
    #[arg(long)]
    vpp: Option<u32>,
    /// Micro-batches per step instead of what the global batch gives.
    #[arg(long)]
    microbatches: Option<u32>,
    /// Coefficient of variation of every operation's duration (log-normal, mean 1), e.g. 0.05.
    #[arg(long, default_value_t = 0.0)]
    jitter: f64,
    /// Simulated steps for the Monte Carlo (default 200 when --jitter or --straggler is given).
    #[arg(long)]
    steps: Option<u32>,
    /// Seed of the Monte Carlo; the same seed gives the same output, byte for byte.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Slowdown factor of one straggling GPU, e.g. 1.2.
    #[arg(long)]
    straggler: Option<f64>,
    /// The straggler's stage (default: drawn at random each step).
    #[arg(long)]
    straggler_stage: Option<u32>,
    /// Write a Gantt chart of the step (.svg or .png).
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// Write the timeline as Chrome trace-event JSON (Perfetto, chrome://tracing).
    #[arg(long, value_name = "FILE.json")]
    trace: Option<PathBuf>,
    /// GPUs to use instead of the scenario's.
    #[arg(long)]
    gpus: Option<u64>,
    /// Override a scenario field, e.g. `--set layout.pp=15` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output format.
    #[arg(long, value_parser = super::cmd_format::table_or_json(), default_value = "table")]
    format: OutputFormat,
}

/// Runs the command; returns what to print.
pub fn run(a: SimulateArgs) -> Result<String, Error> {
    let mut flags = Vec::new();
    if let Some(g) = a.gpus {
        flags.push((format!("gpus={g}"), format!("--gpus {g}")));
    }
    if let Some(s) = a.schedule {
        let n = s.name();
        flags.push((format!("layout.schedule={n}"), format!("--schedule {n}")));
    }
    if let Some(v) = a.vpp {
        flags.push((format!("layout.vpp={v}"), format!("--vpp {v}")));
    }
    if a.scenario.is_none() {
        eprintln!(
            "simulating the built-in seed scenario '{}'; pass a scenario file to simulate another",
            scenario::SEED
        );
    }
    let sc = scenario::load_with_flags(a.scenario.as_deref(), &a.set, &flags)?;
    for path in a.timeline.iter().chain(&a.trace) {
        llmplan::charts::check_writable(path)?;
    }
    let kernels = llmplan::calibrate::kernel_model_for(&sc);
    let setup = llmplan::analytic::Setup::resolve(&sc, &kernels)?;
    let prep = sim::prepare(&setup, a.microbatches)?;
    check_passes(&prep.input, a.timeline.is_some() || a.trace.is_some())?;
    let wants_mc = a.jitter > 0.0 || a.straggler.is_some() || a.steps.is_some();
    let jitter = Jitter {
        cv: a.jitter,
        straggler: a.straggler.map(|factor| Straggler {
            factor,
            stage: a.straggler_stage,
        }),
    };
    let steps = a.steps.unwrap_or(200);
    if wants_mc {
        // Before the first simulation: a refused Monte Carlo wastes no work.
        check_steps(steps, sim::passes(&prep.input), jitter.straggler.is_some())?;
    } else if a.straggler_stage.is_some() {
        return Err(Error::Usage(
            "--straggler-stage needs --straggler FACTOR".into(),
        ));
    }
    let prog = Program::compile(&prep.input)?;
    let result = prog.simulate(a.timeline.is_some() || a.trace.is_some());
    let imb = imbalance(&setup, &prep, &result)?;
    let mc = if wants_mc {
        let spin = super::cmd_progress::spinner("Monte Carlo");
        let mc = sim::monte_carlo(&prog, &jitter, steps, a.seed);
        super::cmd_progress::done(spin);
        Some(mc?)
    } else {
        None
    };

    let mut written = Vec::new();
    if let Some(path) = &a.timeline {
        let title = short_title(&prep.title);
        let chart = llmplan::charts::gantt::Gantt {
            result: &result,
            title: &title,
        };
        llmplan::charts::canvas::write(&chart, path)?;
        written.push(format!("timeline: {}", path.display()));
    }
    if let Some(path) = &a.trace {
        llmplan::charts::write_atomic(path, trace::chrome_trace(&result).as_bytes())?;
        written.push(format!("trace: {}", path.display()));
    }

    let s = Simulation {
        prep: &prep,
        result: &result,
        imbalance: imb.as_ref(),
        monte_carlo: mc.as_ref(),
    };
    Ok(match a.format {
        OutputFormat::Json => simulation_json(&s),
        // CSV is refused by the parser (`table_or_json`).
        OutputFormat::Table | OutputFormat::Csv => simulation_table(&s, &written),
    })
}

/// Micro-batch passes the Monte Carlo may play in all (steps x passes per step, twice
/// with a straggler): 2^23. The fuzz driver measured ~0.36 us per pass on a 4.2M-pass
/// program (14 steps in 21 s of CPU), so 2^23 is ~3 s, under the 5 s an input may take
/// (2^24 before); 200 steps of the seed's 608 passes are 0.1M. A bound on events (1e10
/// before that) let one input run for minutes.
pub const MAX_MC_PASSES: u64 = 1 << 23;

/// The simulator's bounds (and, with a timeline or a trace, the timeline's), checked
/// before any work: a usage error naming `--microbatches` and the most that fit.
fn check_passes(input: &sim::SimInput, timeline: bool) -> Result<(), Error> {
    let mut r = sim::check_passes(input);
    if r.is_ok() && timeline {
        r = sim::check_timeline(input);
    }
    r.map_err(|e| match e {
        Error::Invalid { message, .. } => {
            Error::Usage(format!("--microbatches {}: {message}", input.microbatches))
        }
        e => e,
    })
}

/// Steps the Monte Carlo may keep (one step time each, twice with a straggler).
pub const MAX_MC_STEPS: u32 = 10_000_000;

fn check_steps(steps: u32, passes: u64, straggler: bool) -> Result<(), Error> {
    if steps > MAX_MC_STEPS {
        return Err(Error::Usage(format!(
            "--steps {steps}: over the Monte Carlo's limit of {MAX_MC_STEPS} steps (p99 is stable long before)"
        )));
    }
    // With a straggler every step is played twice: with it and without.
    let per_step = passes * if straggler { 2 } else { 1 };
    let total = u64::from(steps).saturating_mul(per_step);
    if total > MAX_MC_PASSES {
        return Err(Error::Usage(format!(
            "--steps {steps}: {steps} steps x {per_step} micro-batch passes = {:.3e} passes, over the Monte Carlo's limit of {:.3e} (~3 s of work); at most {} steps here",
            total as f64,
            MAX_MC_PASSES as f64,
            MAX_MC_PASSES / per_step.max(1)
        )));
    }
    Ok(())
}

fn short_title(t: &str) -> String {
    // Chart titles share the line with the layout: keep the scenario's name short.
    match t.find(" on ") {
        Some(i) if t.len() > 60 => t[..i].to_string(),
        _ => t.to_string(),
    }
}
