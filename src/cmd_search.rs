//! `llmplan search`, `compare` and `sweep`: argument parsing and rendering. The work
//! is in `llmplan::search`.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use comfy_table::{CellAlignment, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use llmplan::report::units;
use llmplan::report::units::thousands;
use llmplan::search::compare;
use llmplan::search::space::{parse_gpus, SpaceLimits};
use llmplan::search::{self, Objective, Outcome, Ranked, SearchOptions};
use llmplan::spec::scenario::{self, Scenario};
use llmplan::Error;

mod cmd_compare;
mod cmd_sweep;
pub use cmd_compare::compare;
pub use cmd_sweep::sweep;

/// Output formats of the search commands.
#[derive(Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum OutFormat {
    /// Human-readable tables.
    #[default]
    Table,
    /// Comma-separated values.
    Csv,
    /// JSON.
    Json,
}

/// Knobs shared by `search` and `sweep`.
#[derive(Args, Clone)]
pub struct SpaceArgs {
    /// What "best" means: time (training days), step (step time), cost (dollars) or
    /// tokens-per-dollar.
    #[arg(long, default_value = "time")]
    objective: String,
    /// Fix a knob, e.g. `--fix layout.tp=8` or `--fix pp=8,16` (repeatable). Knobs: tp,
    /// pp, dp, ep, cp, vpp, micro_batch, sequence_parallel, recompute, zero, schedule.
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
    format: OutFormat,
}

/// `llmplan compare`.
#[derive(Args)]
pub struct CompareArgs {
    /// Scenario YAML file or built-in scenario name; the seed when left out.
    scenario: Option<String>,
    /// A layout on top of the scenario's, e.g. `tp=8,pp=16,ep=16` (repeatable; the first
    /// is the reference). Keys: tp, pp, dp, ep, cp, vpp, micro_batch, sequence_parallel,
    /// zero, schedule, recompute.
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
    format: OutFormat,
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
    format: OutFormat,
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

fn table(header: Vec<&str>) -> Table {
    llmplan::report::table::new(header)
}

fn musd(x: f64) -> String {
    if x >= 1e6 {
        format!("${:.2}M", x / 1e6)
    } else {
        format!("${:.0}k", x / 1e3)
    }
}

fn objective_words(o: Objective) -> &'static str {
    match o {
        Objective::Time => "fewest training days",
        Objective::Step => "shortest step",
        Objective::Cost => "fewest dollars",
        Objective::TokensPerDollar => "most tokens per dollar",
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
        OutFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&llmplan::report::json::versioned(search_json(&out)))
                .unwrap_or_default()
        ),
        OutFormat::Csv => search_csv(&out),
        OutFormat::Table => {
            let mut t = search_table(&sc, &out)?;
            if let Some(top) = out.results.first() {
                let name = a.scenario.as_deref().unwrap_or(scenario::SEED);
                t.push_str(
                    &match llmplan::export::launch_hint(name, &sc, &top.layout, top.gpus) {
                        Ok(cmd) => format!("launch the top layout: {cmd}\n"),
                        Err(why) => format!("the top layout cannot be exported: {why}\n"),
                    },
                );
            }
            t
        }
    };
    Ok((text, verdict))
}

fn layout_json(r: &Ranked) -> Value {
    let l = &r.layout;
    json!({
        "tp": l.tp, "pp": l.pp, "dp": l.dp, "ep": l.ep, "cp": l.cp, "vpp": l.vpp,
        "micro_batch": l.micro_batch, "recompute": search::recompute_name(l.recompute),
        "zero": l.zero, "schedule": l.schedule.name(), "sequence_parallel": l.sequence_parallel,
    })
}

/// `{evaluated, rejected: {reason: count}, elapsed_s, results: [...]}`, best first.
fn search_json(out: &Outcome) -> Value {
    let results: Vec<Value> = out
        .results
        .iter()
        .map(|r| {
            let mut v = json!({
                "layout": layout_json(r),
                "step_s": r.step_s,
                "mfu": r.mfu,
                "days": r.days,
                "usd": r.usd,
                "memory_peak_bytes": r.memory_peak_bytes,
            });
            if let (Some(s), Some(m)) = (r.sim_step_s, v.as_object_mut()) {
                m.insert("sim_step_s".into(), json!(s));
            }
            v
        })
        .collect();
    let baseline = out
        .baseline
        .as_ref()
        .map(|b| json!({"rank": b.rank, "in_space": b.in_space, "rejected": b.rejected}));
    json!({
        "gpus": out.gpus,
        "enumerated": out.enumerated,
        "feasible": out.feasible,
        "baseline": baseline,
        "evaluated": out.evaluated,
        "rejected": out.rejected_map(),
        "elapsed_s": out.elapsed_s,
        "results": results,
    })
}

fn search_csv(out: &Outcome) -> String {
    let own = out.baseline.as_ref().and_then(|b| b.ranked.as_ref());
    llmplan::report::csv::search_csv(&out.results, own)
}

fn row(rank: String, r: &Ranked, show_gpus: bool, simulated: bool) -> Vec<String> {
    let mut v = vec![rank];
    if show_gpus {
        v.push(thousands(r.gpus));
    }
    let l = &r.layout;
    v.extend([
        format!(
            "tp {} pp {} dp {} ep {} cp {}{}",
            l.tp,
            l.pp,
            l.dp,
            l.ep,
            l.cp,
            if l.vpp > 1 {
                format!(" vpp {}", l.vpp)
            } else {
                String::new()
            }
        ),
        format!(
            "{} x{} {} z{} {}{}",
            l.micro_batch,
            r.microbatches,
            l.schedule.name(),
            l.zero,
            search::recompute_name(l.recompute),
            if l.sequence_parallel { " sp" } else { "" }
        ),
        format!("{:.2}", r.step_s),
    ]);
    if simulated {
        v.push(r.sim_step_s.map_or("-".into(), |s| format!("{s:.2}")));
    }
    v.extend([
        units::pct(r.mfu),
        format!(
            "{} / {}",
            units::gib_value(r.memory_peak_bytes),
            units::gib_value(r.memory_capacity_bytes)
        ),
        format!("{:.1}", r.days),
        musd(r.usd),
    ]);
    v
}

/// The search as text: heading, the ranked table (the scenario's own layout last), what
/// was enumerated and rejected, the simulator's footnotes, notes, the error band and
/// how the scenario's layout compares with the best.
fn search_table(sc: &Scenario, out: &Outcome) -> Result<String, Error> {
    let mut s = heading(sc, out);
    s.push_str(&format!("{}\n", ranked_table(out)));
    s.push_str(&counts(out));
    s.push_str(&sim_footnotes(out));
    for n in &out.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    if let Some(line) = error_band_line(sc, out) {
        s.push_str(&line);
    }
    s.push_str(&baseline_verdict(sc, out)?);
    Ok(s)
}

/// The line above the table: scenario, GPU counts and type, cluster, objective.
fn heading(sc: &Scenario, out: &Outcome) -> String {
    let gpus_text = if out.gpus.len() > 1 {
        out.gpus
            .iter()
            .map(|g| thousands(*g))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        thousands(out.gpus[0])
    };
    format!(
        "{} - {} x {} ({}), ranked by {}\n",
        sc.name,
        gpus_text,
        sc.gpu.name,
        sc.cluster.name,
        objective_words(out.objective)
    )
}

/// The ranked layouts, best first, then the scenario's own layout (with its rank when
/// it was found); a GPU-count column only when several counts were searched, a
/// simulated column only when the simulator re-timed the top.
fn ranked_table(out: &Outcome) -> Table {
    let multi = out.gpus.len() > 1;
    let mut header = vec!["#"];
    if multi {
        header.push("GPUs");
    }
    header.extend(["layout", "mb x m, schedule, ZeRO, recompute", "step s"]);
    if out.simulated {
        header.push("sim step s");
    }
    header.extend(["MFU", "memory GiB peak / capacity", "days", "cost"]);
    let mut t = table(header);
    for (i, r) in out.results.iter().enumerate() {
        t.add_row(row((i + 1).to_string(), r, multi, out.simulated));
    }
    let base = out.baseline.as_ref();
    if let Some(b) = base.and_then(|b| b.ranked.as_ref()) {
        let rank = base.and_then(|x| x.rank).map_or("scenario".into(), |k| {
            format!("scenario (#{})", thousands(k))
        });
        t.add_row(row(rank, b, multi, out.simulated));
    }
    // Numbers align right: every column from the step time on.
    for c in 2..t.column_count() {
        if let Some(col) = t.column_mut(c) {
            if c >= if multi { 4 } else { 3 } {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    t
}

/// Layouts enumerated (and the rate, millions per second), evaluated and fitting, and
/// the rejections by reason.
fn counts(out: &Outcome) -> String {
    let mut s = format!(
        "{} layouts enumerated in {:.2} s ({:.1}M/s); {} evaluated by the cost model, {} fit in memory\n",
        thousands(out.enumerated),
        out.elapsed_s,
        out.enumerated as f64 / out.elapsed_s.max(1e-9) / 1e6,
        thousands(out.evaluated),
        thousands(out.feasible),
    );
    let rejected: u64 = out.rejected.iter().map(|(_, n)| n).sum();
    if rejected > 0 {
        s.push_str(&format!("rejected {}:\n", thousands(rejected)));
        for (r, n) in &out.rejected {
            s.push_str(&format!("  {:>14}  {}\n", thousands(*n), r.key()));
        }
    }
    s
}

/// What the simulated column means, and how many layouts the simulator refused.
fn sim_footnotes(out: &Outcome) -> String {
    let mut s = String::new();
    if out.simulated {
        s.push_str(
            "sim step s: the same stage costs played event by event by the pipeline simulator (the ranking uses the closed forms)\n",
        );
    }
    let sim_errors: Vec<&String> = out
        .results
        .iter()
        .chain(out.baseline.as_ref().and_then(|b| b.ranked.as_ref()))
        .filter_map(|r| r.sim_error.as_ref())
        .collect();
    if let Some(e) = sim_errors.first() {
        s.push_str(&format!(
            "sim step s '-': the simulator refused {} layout{}, e.g. {e}\n",
            sim_errors.len(),
            if sim_errors.len() == 1 { "" } else { "s" }
        ));
    }
    s
}

/// The best layout's days within the error band of published runs in its regime
/// (percent errors in step time), and why the band cannot reorder the ranking; `None`
/// when nothing fits or the regime has no band.
fn error_band_line(sc: &Scenario, out: &Outcome) -> Option<String> {
    let best = out.results.first()?;
    let regime = llmplan::analytic::uncertainty::Regime::of(sc, best.gpus_used);
    let res = llmplan::validate::band::residuals();
    let b = llmplan::analytic::uncertainty::band(res, &regime)?;
    Some(format!(
        "error band: published {} runs ({} rows) came out {:+.0}% to {:+.0}% in step time, so the best's {:.1} days \
         may be {:.1}-{:.1}; a shared bias moves every row here together, so only gaps wider than the band's \
         spread between regimes (other GPU counts or types) can reorder a ranking\n",
        b.regime,
        b.rows,
        b.error_lo * 100.0,
        b.error_hi * 100.0,
        best.days,
        best.days / (1.0 + b.error_hi),
        best.days / (1.0 + b.error_lo)
    ))
}

/// The scenario's own layout against the best: its rank and the differences explained
/// from the two full estimates, that it is the best, or why it was rejected.
fn baseline_verdict(sc: &Scenario, out: &Outcome) -> Result<String, Error> {
    let mut s = String::new();
    let Some(b) = out.baseline.as_ref() else {
        return Ok(s);
    };
    match (&b.ranked, &b.rejected) {
        (Some(r), _) => {
            let Some(best) = out.results.first() else {
                return Ok(s);
            };
            if best.layout == r.layout {
                s.push_str("\nthe scenario's layout is the best found\n");
                return Ok(s);
            }
            s.push_str(&format!(
                "\nthe scenario's layout ranks #{}{}; the best differs:\n",
                b.rank.map_or("?".into(), thousands),
                if b.in_space {
                    ""
                } else {
                    " (outside the searched space)"
                }
            ));
            let eb = search::full_estimate(sc, r)?;
            let ea = search::full_estimate(sc, best)?;
            for l in compare::explain(&eb, &ea, "scenario", "#1") {
                s.push_str(&l);
                s.push('\n');
            }
        }
        (None, Some(why)) => {
            s.push_str(&format!("\nthe scenario's layout is rejected: {why}\n"));
        }
        _ => {}
    }
    Ok(s)
}
