//! `llmplan simulate`: the discrete-event pipeline simulator on a scenario, with a
//! summary table, a Gantt chart, a Chrome trace and Monte Carlo step-time spread.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use comfy_table::{Cell, CellAlignment, Table};
use serde::Serialize;

use llmplan::report::units::pct;
use llmplan::sim::build::{imbalance, Imbalance};
use llmplan::sim::{self, trace, Jitter, MonteCarlo, Program, SimResult, Straggler};
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

/// Output formats of `simulate`.
#[derive(Clone, Copy, ValueEnum, Default)]
pub enum SimFormat {
    /// Tables for people.
    #[default]
    Table,
    /// JSON for tools (the timeline goes to --trace, not here).
    Json,
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
    #[arg(long, value_enum, default_value_t)]
    format: SimFormat,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    scenario: &'a str,
    layers_per_stage: &'a [u32],
    result: &'a SimResult,
    imbalance: Option<&'a Imbalance>,
    monte_carlo: Option<&'a MonteCarlo>,
    notes: &'a [String],
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

    Ok(match a.format {
        SimFormat::Json => {
            let mut r = result.clone();
            r.timeline.clear();
            let out = JsonOut {
                scenario: &prep.title,
                layers_per_stage: &prep.layout.layers_per_stage,
                result: &r,
                imbalance: imb.as_ref(),
                monte_carlo: mc.as_ref(),
                notes: &prep.notes,
            };
            let v =
                llmplan::report::json::versioned(serde_json::to_value(&out).expect("serialises"));
            let mut s = serde_json::to_string_pretty(&v).expect("serialises");
            s.push('\n');
            s
        }
        SimFormat::Table => table(&prep, &result, imb.as_ref(), mc.as_ref(), &written),
    })
}

/// Micro-batch passes the Monte Carlo may play in all (steps x passes per step, twice
/// with a straggler): 2^24. The fuzz driver measured ~0.36 us per pass on a 4.2M-pass
/// program (14 steps in 21 s of CPU), so 2^24 is ~6 s; 200 steps of the seed's 608
/// passes are 0.1M. A bound on events (1e10 before) let one input run for minutes.
pub const MAX_MC_PASSES: u64 = 1 << 24;

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
            "--steps {steps}: {steps} steps x {per_step} micro-batch passes = {:.3e} passes, over the Monte Carlo's limit of {:.3e} (~6 s of work); at most {} steps here",
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

fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

fn kv_table(title: &str) -> Table {
    let mut t = llmplan::report::table::styled(Some(120));
    t.set_header(vec!["", title]);
    t
}

fn row(t: &mut Table, k: &str, v: String) {
    t.add_row(vec![
        Cell::new(k),
        Cell::new(v).set_alignment(CellAlignment::Left),
    ]);
}

/// The simulation as text: the key-value summary, the per-stage table, and notes.
fn table(
    prep: &sim::Prepared,
    r: &SimResult,
    imb: Option<&Imbalance>,
    mc: Option<&MonteCarlo>,
    written: &[String],
) -> String {
    let l = &prep.layout;
    let mut t = kv_table(&prep.title);
    step_rows(&mut t, prep, r);
    if let Some(i) = imb {
        imbalance_row(&mut t, i);
    }
    if let Some(m) = mc {
        monte_carlo_rows(&mut t, m);
    }
    if imb.is_none() && l.uneven() {
        row(
            &mut t,
            "Uneven split",
            format!(
                "{}; no even split with fewer stages fits {} here, so its cost is not compared",
                l.split_text(),
                r.schedule.name()
            ),
        );
    }
    for w in written {
        row(&mut t, "Wrote", w.clone());
    }
    let mut out = format!("{t}\n{}\n", stage_table(prep, r));
    out.push_str(
        "fwd/bwd per micro-batch exclude p2p (simulated as transfers); peak in flight counts micro-batches whose \
         activations wait for their backward; awaiting W, those whose weight gradients have not run.\n",
    );
    for n in &prep.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// The step itself: pipeline shape, step time and its parts (ms), the closed form's
/// pipeline time against the simulated one, bubble, p2p per hop, events played.
fn step_rows(t: &mut Table, prep: &sim::Prepared, r: &SimResult) {
    let l = &prep.layout;
    row(
        t,
        "Pipeline",
        format!(
            "{} | pp {}{} | {} micro-batches | {}",
            r.schedule.name(),
            r.pp,
            if r.vpp > 1 {
                format!(" x vpp {}", r.vpp)
            } else {
                String::new()
            },
            r.microbatches,
            l.split_text()
        ),
    );
    row(
        t,
        "Step time",
        format!(
            "{} = pipeline {} + gradient sync and optimizer {}",
            ms(r.step_s),
            ms(r.pipeline_s),
            ms(r.step_s - r.pipeline_s)
        ),
    );
    row(
        t,
        "Closed form",
        format!(
            "pipeline {} from the analytic formula, simulated {:+.2}%",
            ms(r.closed_form_s),
            (r.pipeline_s / r.closed_form_s - 1.0) * 100.0
        ),
    );
    row(
        t,
        "Bubble",
        format!(
            "{} mean over stages (busiest stage computes {}, {} of the pipeline)",
            pct(r.mean_bubble()),
            ms(r.ideal_s),
            pct(r.ideal_s / r.pipeline_s)
        ),
    );
    let p2p = prep.input.p2p_s.first().copied().unwrap_or(0.0);
    row(
        t,
        "p2p per hop",
        format!(
            "{} per micro-batch, {}",
            ms(p2p),
            if prep.input.p2p_blocking {
                "blocking the sender (overlap.p2p off)"
            } else {
                "overlapped with compute"
            }
        ),
    );
    row(t, "Events", format!("{} simulated", r.events));
}

/// The uneven split against the even one with fewer stages: step (ms) and bubble of
/// each, the bubble points and GPU-seconds per step the imbalance costs.
fn imbalance_row(t: &mut Table, i: &Imbalance) {
    row(
        t,
        "Uneven split",
        format!(
            "{} layers on {} stages ({}): step {}, bubble {}; even {} x {} layers: step {}, bubble {}. \
             The imbalance costs {:+.1} points of bubble ({} of GPU time idles in the steady state) \
             and {:+.1}% GPU-seconds per step ({:.2} vs {:.2} GPU-s per pipeline)",
            i.layers,
            i.pp,
            i.split,
            ms(i.step_s),
            pct(i.bubble),
            i.pp_even,
            i.layers_per_stage_even,
            ms(i.even_step_s),
            pct(i.even_bubble),
            i.extra_bubble * 100.0,
            pct(i.imbalance_idle),
            (i.gpu_s / i.even_gpu_s - 1.0) * 100.0,
            i.gpu_s,
            i.even_gpu_s
        ),
    );
}

/// The Monte Carlo's step-time percentiles under jitter (ms), and a straggler's
/// expected cost per step when one was asked for.
fn monte_carlo_rows(t: &mut Table, m: &MonteCarlo) {
    let pj = &m.jitter;
    row(
        t,
        "Monte Carlo",
        format!(
            "{} steps, jitter CV {}, seed {}: p50 {}, p90 {}, p99 {} (no jitter {}, mean {})",
            m.steps,
            m.cv,
            m.seed,
            ms(pj.p50_s),
            ms(pj.p90_s),
            ms(pj.p99_s),
            ms(m.deterministic_s),
            ms(pj.mean_s)
        ),
    );
    if let Some(s) = &m.straggler {
        row(
            t,
            "Straggler",
            format!(
                "one GPU {:.2}x slower on {}: p50 {}, p99 {}; expected cost {} per step ({})",
                s.straggler.factor,
                s.straggler
                    .stage
                    .map_or("a random stage each step".to_string(), |st| format!(
                        "stage {st}"
                    )),
                ms(s.with.p50_s),
                ms(s.with.p99_s),
                ms(s.expected_cost_s),
                pct(s.expected_cost_frac)
            ),
        );
    }
}

/// One row per pipeline stage: layers, forward and backward per micro-batch and
/// compute (ms), bubble and utilisation of each stream (%), peak micro-batches in
/// flight and awaiting their weight gradients.
fn stage_table(prep: &sim::Prepared, r: &SimResult) -> Table {
    let l = &prep.layout;
    let mut st = llmplan::report::table::styled(None);
    st.set_header(vec![
        "stage",
        "layers",
        "fwd/mb",
        "bwd/mb",
        "compute",
        "bubble",
        "util compute",
        "util send",
        "util recv",
        "util dp",
        "peak in flight",
        "awaiting W",
    ]);
    for (i, s) in r.stages.iter().enumerate() {
        let spec = &prep.input.stages[i];
        st.add_row(vec![
            i.to_string(),
            l.layers_per_stage
                .get(i)
                .map_or("-".into(), |n| n.to_string()),
            ms(spec.fwd_s),
            ms(spec.bwd_s),
            ms(s.compute_s),
            pct(s.bubble),
            pct(s.util_compute),
            pct(s.util_send),
            pct(s.util_recv),
            pct(s.util_dp),
            format!("{:.2}", s.peak_in_flight),
            format!("{:.2}", s.peak_pending_wgrad),
        ]);
    }
    for c in 1..12 {
        if let Some(col) = st.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    st
}
