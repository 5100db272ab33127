//! `llmplan search`, `compare` and `sweep`: argument parsing and printing. The work
//! is in `llmplan::search`; the search's rendering in `llmplan::report::search`.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::cmd_format::OutputFormat;
use llmplan::report;
use llmplan::search::space::{parse_gpus, SpaceLimits};
use llmplan::search::{self, Objective, SearchOptions};
use llmplan::spec::scenario::{self, Scenario};
use llmplan::Error;

mod cmd_compare;
mod cmd_sweep;
pub use cmd_compare::compare;
pub use cmd_sweep::sweep;

/// Knobs shared by `search` and `sweep`.
#[derive(Args, Clone)]
pub struct SpaceArgs {
    /// What "best" means: time (training days), step (step time), cost (dollars) or
    /// tokens-per-dollar.
    #[arg(long, default_value = "time")]
    objective: String,
    /// Fix a knob, e.g. `--fix layout.tp=8` or `--fix pp=8,16` (repeatable). Knobs: tp,
    /// pp, dp, ep, etp, cp, vpp, micro_batch, sequence_parallel, recompute, zero, schedule.
    #[arg(long = "fix", value_name = "KNOB=VALUES")]
    fix: Vec<String>,
    /// Fraction of GPU memory kept free: layouts must fit in capacity x (1 - headroom).
    #[arg(long, default_value_t = 0.1)]
    headroom: f64,
    /// Let tp exceed the NVLink domain (in whole domains).
    #[arg(long)]
    allow_tp_beyond_nvlink: bool,
    /// Largest micro-batch tried (powers of two).
    #[arg(long, default_value_t = 8)]
    max_micro_batch: u32,
    /// Largest number of virtual pipeline stages tried.
    #[arg(long, default_value_t = 8)]
    max_vpp: u32,
    /// Largest context-parallel width tried (powers of two).
    #[arg(long, default_value_t = 8)]
    max_cp: u32,
    /// Also search vpp values whose model chunks hold different numbers of layers
    /// (stock Megatron-LM needs layers / (pp x vpp) whole).
    #[arg(long)]
    uneven_chunks: bool,
    /// Largest relative change of the global batch a layout may make when rounding it
    /// to whole micro-batches per replica (0.1 = 10%).
    #[arg(long, default_value_t = 0.1)]
    batch_tolerance: f64,
    /// Override a scenario field, e.g. `--set training.tokens=1e12` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// `llmplan search`.
#[derive(Args)]
pub struct SearchArgs {
    /// Scenario YAML file or built-in scenario name; the seed when left out.
    scenario: Option<String>,
    /// GPU count, range `A..B` (powers of two and the ends, whole nodes) or list; the
    /// scenario's count by default.
    #[arg(long)]
    gpus: Option<String>,
    /// How many layouts to list.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Re-time this many of the best with the discrete-event simulator (0 = off).
    #[arg(long, default_value_t = 5)]
    sim_top: usize,
    #[command(flatten)]
    space: SpaceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// `llmplan compare`.
#[derive(Args)]
pub struct CompareArgs {
    /// Scenario YAML file or built-in scenario name; the seed when left out.
    scenario: Option<String>,
    /// A layout on top of the scenario's, e.g. `tp=8,pp=16,ep=16` (repeatable; the first
    /// is the reference). Keys: tp, pp, dp, ep, etp, cp, vpp, micro_batch,
    /// sequence_parallel, zero, schedule, recompute.
    #[arg(long = "layout", value_name = "K=V,...", required = true)]
    layout: Vec<String>,
    /// GPUs to use instead of the scenario's.
    #[arg(long)]
    gpus: Option<u64>,
    /// Override a scenario field (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// `llmplan sweep`.
#[derive(Args)]
pub struct SweepArgs {
    /// Scenario YAML file or built-in scenario name; the seed when left out.
    scenario: Option<String>,
    /// GPU counts: a range `A..B` (powers of two and the ends, whole nodes) or a list.
    #[arg(long, default_value = "1024..65536")]
    gpus: String,
    /// GPU types, comma-separated: a100, a100-40gb, h100, h100-pcie, h200, h800, b200,
    /// gb200 (or cluster / GPU profile names); the scenario's own by default.
    #[arg(long = "gpu", value_delimiter = ',')]
    gpu: Vec<String>,
    #[command(flatten)]
    space: SpaceArgs,
    /// Write sweep.csv, sweep.svg and sweep.png into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace files already in `--out`.
    #[arg(long)]
    force: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

fn load(name: Option<&str>, set: &[String], gpus: Option<u64>) -> Result<Scenario, Error> {
    let flags: Vec<(String, String)> = gpus
        .map(|g| (format!("gpus={g}"), format!("--gpus {g}")))
        .into_iter()
        .collect();
    if name.is_none() {
        eprintln!(
            "using the built-in seed scenario '{}' (the rumoured GPT-4 run); pass a scenario file to plan another",
            scenario::SEED
        );
    }
    scenario::load_with_flags(name, set, &flags)
}

fn options(sc: &Scenario, a: &SpaceArgs) -> Result<SearchOptions, Error> {
    let mut o = SearchOptions::for_scenario(sc);
    o.objective = Objective::parse(&a.objective)?;
    o.fixes = a.fix.clone();
    o.headroom = a.headroom;
    o.batch_tolerance = a.batch_tolerance;
    o.limits = SpaceLimits {
        allow_tp_beyond_nvlink: a.allow_tp_beyond_nvlink,
        max_micro_batch: a.max_micro_batch,
        max_vpp: a.max_vpp,
        max_cp: a.max_cp,
        uneven_chunks: a.uneven_chunks,
    };
    Ok(o)
}

/// A progress bar on stderr that appears only once the work has run for a second,
/// and only when stderr is a terminal.
struct Progress {
    start: Instant,
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
    what: &'static str,
}

impl Progress {
    fn new(what: &'static str) -> Self {
        Progress {
            start: Instant::now(),
            bar: Mutex::new(None),
            tty: super::cmd_progress::enabled(),
            what,
        }
    }

    fn tick(&self, done: u64, total: u64) {
        if !self.tty || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        let Ok(mut g) = self.bar.lock() else { return };
        let bar = g.get_or_insert_with(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(st) = ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta})",
            ) {
                b.set_style(st);
            }
            b.set_message(self.what);
            b
        });
        bar.set_position(done);
    }

    fn finish(&self) {
        if let Ok(mut g) = self.bar.lock() {
            if let Some(b) = g.take() {
                b.finish_and_clear();
            }
        }
    }
}

/// `llmplan search`: what to print, and the failure to end with when nothing fits.
pub fn search(a: SearchArgs) -> Result<(String, Option<Error>), Error> {
    let sc = load(a.scenario.as_deref(), &a.space.set, None)?;
    let mut o = options(&sc, &a.space)?;
    o.top = a.top;
    o.sim_top = a.sim_top.min(a.top);
    if let Some(g) = &a.gpus {
        o.gpus = parse_gpus(g, sc.cluster.gpus_per_node)?;
    }
    let progress = Progress::new("searching");
    let tick = |d: u64, t: u64| progress.tick(d, t);
    let out = search::search(&sc, &o, Some(&tick))?;
    progress.finish();
    let verdict = super::cmd_verdict::nothing_fits(&sc, &o, &out);
    let text = match a.format {
        OutputFormat::Json => report::json::document(report::search::search_json(&out)),
        OutputFormat::Csv => report::search::search_csv(&out),
        OutputFormat::Table => {
            let name = a.scenario.as_deref().unwrap_or(scenario::SEED);
            let mut t = report::search::search_table(&sc, &out)?;
            t.push_str(&report::search::launch_line(name, &sc, &out));
            t
        }
    };
    Ok((text, verdict))
}
