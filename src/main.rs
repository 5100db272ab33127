//! `llmplan` command line: parse, call the library, print. Exit code 2 on bad input.

use std::io::Write;
use std::process::ExitCode;

mod cmd_calibrate;
mod cmd_export;
mod cmd_import;
mod cmd_meta;
mod cmd_progress;
mod cmd_report;
mod cmd_runs;
mod cmd_search;
mod cmd_show;
mod cmd_simulate;
mod cmd_validate;
mod cmd_verdict;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use comfy_table::Table;

use llmplan::analytic::{self, EstimateOptions};
use llmplan::report::{self, units};
use llmplan::spec::{catalog, scenario, ClusterProfile, GpuProfile, ModelSpec};
use llmplan::Error;

/// The exit codes, as `--help` and the README state them.
const EXIT_CODES: &str = "Exit codes:
  0  success (also when the reader closes the pipe early, as `| head` does)
  1  the command ran and failed: nothing fits (search, sweep), a plan that does not fit
     under --strict, an output that cannot be written (a full disk, /dev/full)
  2  bad input: a file, field, name or flag that cannot be used; the message names it";

#[derive(Parser)]
#[command(
    name = "llmplan",
    version,
    about = "Training-cost and parallelism planner for large language models",
    long_about = "Training-cost and parallelism planner for large language models.\n\n\
                  With no command, plans the built-in seed scenario (the rumoured GPT-4 run on 25,000 A100).",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// No progress bars or spinners (they only ever appear on a terminal's stderr).
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
enum CalibrateCmd {
    /// Fit cluster-level factors (network efficiency per tier, sustained clock, per-step
    /// overhead) to your own measured runs; writes a cluster and a GPU profile to name in a scenario.
    Runs(cmd_runs::RunsArgs),
    /// Fit the kernel-efficiency model to a measurement directory (gemm.csv, attn.csv, ...).
    Fit {
        /// Directory of measurement CSVs, e.g. hardware-profiles/calibration/h100-sxm.
        dir: std::path::PathBuf,
        /// GPU profile the measurements come from (default: the directory's name).
        #[arg(long)]
        gpu: Option<String>,
        /// Write DIR/fit.json, the file the analytic model reads.
        #[arg(long)]
        write: bool,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Predict published training runs and print predicted vs published with the error.
    Validate {
        /// Published-runs CSV (default: the table shipped in tests/data/published).
        csv: Option<std::path::PathBuf>,
        /// Only rows whose group contains this text (e.g. Narayanan2021).
        #[arg(long)]
        group: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Also draw predicted / published per row, grouped by source (+-10% band), to this .svg or .png.
        #[arg(long)]
        chart: Option<std::path::PathBuf>,
    },
    /// Kernel calibration: fit the efficiency model to measurements.
    Calibrate {
        #[command(subcommand)]
        action: CalibrateCmd,
    },
    /// Estimate step time, MFU, memory, days and dollars for a scenario.
    Estimate {
        /// Scenario YAML file or built-in scenario name; the seed when left out.
        scenario: Option<String>,
        /// GPUs to use instead of the scenario's.
        #[arg(long)]
        gpus: Option<u64>,
        /// Override a scenario field, e.g. `--set layout.tp=4` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Skip the time model: assume this model-FLOPs utilisation (0-1].
        #[arg(long)]
        mfu: Option<f64>,
        /// What times the pipeline: the closed forms or the event simulator.
        #[arg(long, value_enum, default_value_t)]
        engine: EngineArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Exit 1 (after printing) when the plan does not fit in GPU memory.
        #[arg(long)]
        strict: bool,
    },
    /// Simulate one step's pipeline event by event: timeline, bubbles, stragglers.
    Simulate(cmd_simulate::SimulateArgs),
    /// Search every layout for the best on one or more GPU counts (rank by time or cost).
    Search(cmd_search::SearchArgs),
    /// Compare layouts side by side, with the difference explained term by term.
    Compare(cmd_search::CompareArgs),
    /// Best layout per GPU count and GPU type, the (days, dollars) Pareto frontier, CSV and chart.
    Sweep(cmd_search::SweepArgs),
    /// Planning report: answer, assumptions, charts (SVG, PNG) and tables as Markdown and HTML.
    Report(cmd_report::ReportArgs),
    /// Launch arguments/config for the scenario's (or the best) layout in a framework.
    Export(cmd_export::ExportArgs),
    /// Shell completion script: `llmplan completions bash > /etc/bash_completion.d/llmplan`.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// The man page (roff): `llmplan man > llmplan.1`.
    Man,
    /// JSON Schema of an input file kind (docs/fields.md is generated from these).
    Schema {
        /// scenario, model, gpu or cluster.
        #[arg(value_parser = ["scenario", "model", "gpu", "cluster"])]
        kind: String,
    },
    /// Import a model: `llmplan import hf config.json [-o model.yaml]`.
    Import(cmd_import::ImportArgs),
    /// List the built-in catalog.
    List {
        /// What to list.
        what: ListWhat,
    },
    /// Show one catalog entry in detail.
    Show {
        /// What kind of entry.
        what: ShowWhat,
        /// Its catalog name (see `llmplan list`) or a file: a YAML profile, or for
        /// models also `hf:PATH/config.json`.
        name: String,
    },
}

#[derive(Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
enum EngineArg {
    /// Closed-form pipeline schedules.
    #[default]
    Analytic,
    /// The discrete-event simulator (`llmplan simulate`) for the pipeline part.
    Sim,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListWhat {
    Gpus,
    Clusters,
    Models,
    Scenarios,
}

#[derive(Clone, Copy, ValueEnum)]
enum ShowWhat {
    Model,
    Gpu,
    Cluster,
}

/// Runs the command line `args` (program name first) in-process and returns what it
/// would print on stdout and its exit code, without printing. For the fuzz driver
/// (`examples/fuzz.rs`), which includes this file as a module.
#[allow(dead_code)]
pub(crate) fn run_args(args: &[String]) -> (String, u8) {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => return (e.to_string(), if e.use_stderr() { 2 } else { 0 }),
    };
    cmd_progress::set_quiet(true);
    let cmd = cli.command.unwrap_or_else(seed_command);
    match run(cmd) {
        Ok(out) => match out.then {
            Some(e) => (out.text, e.exit_code() as u8),
            None => (out.text, 0),
        },
        Err(e) => (
            format!("error: {}", scientific(&e.to_string())),
            e.exit_code() as u8,
        ),
    }
}

fn seed_command() -> Command {
    Command::Estimate {
        scenario: None,
        gpus: None,
        set: Vec::new(),
        mfu: None,
        engine: EngineArg::Analytic,
        format: Format::Table,
        strict: false,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cmd_progress::set_quiet(cli.quiet);
    let cmd = cli.command.unwrap_or_else(seed_command);
    match run(cmd) {
        Ok(out) => {
            let code = emit(&out.text);
            match out.then {
                Some(e) if code == ExitCode::SUCCESS => fail(&e),
                _ => code,
            }
        }
        Err(e) => fail(&e),
    }
}

/// What a command prints, and the error it ends with after printing (e.g. `--strict`
/// on a plan that does not fit: the table, then exit 1).
struct Printed {
    text: String,
    then: Option<Error>,
}

impl From<String> for Printed {
    fn from(text: String) -> Self {
        Printed { text, then: None }
    }
}

fn fail(e: &Error) -> ExitCode {
    // A closed stderr must not turn an error into a panic (eprintln! would).
    let _ = writeln!(std::io::stderr(), "error: {}", scientific(&e.to_string()));
    ExitCode::from(e.exit_code() as u8)
}

/// Rewrites any number of more than 15 digits in `text` in scientific notation: an
/// input of 1e300 echoed back by `{}` is 301 digits long.
fn scientific(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.chars().filter(char::is_ascii_digit).count();
        match run.parse::<f64>() {
            Ok(x) if digits > 15 => out.push_str(&format!("{x:e}")),
            _ => out.push_str(run),
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (c == '.' && !run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Writes a command's output. A reader that closed the pipe early (`| head`) wanted no
/// more: exit 0, quietly, as `head` itself does. Any other write error (a full disk,
/// `> /dev/full`) is one line and exit 1.
fn emit(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut res = out.write_all(text.as_bytes());
    if res.is_ok() && !text.is_empty() && !text.ends_with('\n') {
        res = out.write_all(b"\n");
    }
    match res.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(source) => fail(&Error::Write {
            path: "standard output".into(),
            source,
        }),
    }
}

fn run(cmd: Command) -> Result<Printed, Error> {
    match cmd {
        Command::Estimate {
            scenario: name,
            gpus,
            set,
            mfu,
            engine,
            format,
            strict,
        } => {
            let flags: Vec<(String, String)> = gpus
                .map(|g| (format!("gpus={g}"), format!("--gpus {g}")))
                .into_iter()
                .collect();
            if name.is_none() {
                eprintln!(
                    "planning the built-in seed scenario '{}' (the rumoured GPT-4 run); pass a scenario file to plan another",
                    scenario::SEED
                );
            }
            let sc = scenario::load_with_flags(name.as_deref(), &set, &flags)?;
            let opts = EstimateOptions { mfu };
            let mut est = match engine {
                EngineArg::Analytic => llmplan::setup::estimate(&sc, &opts)?,
                EngineArg::Sim => {
                    llmplan::setup::estimate_with(&sc, &opts, Some(&llmplan::sim::SimPipeline))?
                }
            };
            llmplan::validate::band::attach(&mut est, &sc);
            let text = match format {
                Format::Table => report::estimate_table(&est),
                Format::Json => report::estimate_json(&est),
                Format::Csv => report::estimate_csv(&est),
            };
            Ok(Printed {
                text,
                then: if strict {
                    cmd_verdict::strict(&est)
                } else {
                    None
                },
            })
        }
        Command::Calibrate {
            action: CalibrateCmd::Runs(args),
        } => Ok(cmd_runs::run(args)?.into()),
        Command::Calibrate {
            action: CalibrateCmd::Fit { dir, gpu, write },
        } => Ok(cmd_calibrate::run(&dir, gpu.as_deref(), write)?.into()),
        Command::Simulate(args) => Ok(cmd_simulate::run(args)?.into()),
        Command::Search(args) => {
            let (text, then) = cmd_search::search(args)?;
            Ok(Printed { text, then })
        }
        Command::Compare(args) => Ok(cmd_search::compare(args)?.into()),
        Command::Report(args) => Ok(cmd_report::run(args)?.into()),
        Command::Sweep(args) => {
            let (text, then) = cmd_search::sweep(args)?;
            Ok(Printed { text, then })
        }
        Command::Validate {
            csv,
            group,
            format,
            chart,
        } => {
            let f = match format {
                Format::Table => "table",
                Format::Json => "json",
                Format::Csv => "csv",
            };
            Ok(cmd_validate::run(csv.as_deref(), group.as_deref(), f, chart.as_deref())?.into())
        }
        Command::Export(args) => Ok(cmd_export::run(args)?.into()),
        Command::Completions { shell } => Ok(cmd_meta::completions(shell, Cli::command()).into()),
        Command::Man => Ok(cmd_meta::man(Cli::command())?.into()),
        Command::Schema { kind } => Ok(cmd_meta::schema_text(&kind)?.into()),
        Command::Import(args) => Ok(cmd_import::run(args)?.into()),
        Command::List { what } => Ok(list(what)?.into()),
        Command::Show { what, name } => {
            let text = match what {
                ShowWhat::Model => show_model(&cmd_show::load_model(&name)?),
                ShowWhat::Gpu => cmd_show::gpu(&cmd_show::load_gpu(&name)?),
                ShowWhat::Cluster => cmd_show::cluster(&cmd_show::load_cluster(&name)?),
            };
            Ok(text.into())
        }
    }
}

fn new_table(header: Vec<&str>) -> Table {
    llmplan::report::table::new(header)
}

fn list(what: ListWhat) -> Result<String, Error> {
    let t = match what {
        ListWhat::Gpus => {
            let mut t = new_table(vec![
                "name",
                "GPU",
                "memory",
                "BF16 dense",
                "FP8 dense",
                "FP4 dense",
                "HBM",
                "TDP",
                "$/h",
                "efficiency",
            ]);
            for n in catalog::names(catalog::GPUS) {
                let g: GpuProfile = catalog::load(catalog::GPUS, "gpu", n)?;
                t.add_row(vec![
                    g.name.clone(),
                    g.display_name.clone(),
                    units::gib(g.memory_bytes),
                    format!("{:.0} TFLOP/s", g.peak_flops.bf16 / 1e12),
                    g.peak_flops
                        .fp8
                        .map_or("-".into(), |f| format!("{:.0} TFLOP/s", f / 1e12)),
                    g.peak_flops
                        .fp4
                        .map_or("-".into(), |f| format!("{:.0} TFLOP/s", f / 1e12)),
                    format!("{:.2} TB/s", g.hbm_bandwidth / 1e12),
                    format!("{:.0} W", g.tdp_w),
                    format!("{:.2}", g.usd_per_hour),
                    if g.efficiency.measured {
                        "measured"
                    } else {
                        "derived"
                    }
                    .to_string(),
                ]);
            }
            t
        }
        ListWhat::Clusters => {
            let mut t = new_table(vec![
                "name",
                "cluster",
                "GPU",
                "GPUs/node",
                "NVLink domain",
                "NVLink/GPU",
                "network/GPU",
            ]);
            for n in catalog::names(catalog::CLUSTERS) {
                let c: ClusterProfile = catalog::load(catalog::CLUSTERS, "cluster", n)?;
                t.add_row(vec![
                    c.name.clone(),
                    c.display_name.clone(),
                    c.gpu.clone(),
                    c.gpus_per_node.to_string(),
                    c.nvlink_domain.to_string(),
                    format!("{:.0} GB/s", c.scale_up.bandwidth / 1e9),
                    format!("{:.0} Gb/s", c.scale_out.bandwidth * 8.0 / 1e9),
                ]);
            }
            t
        }
        ListWhat::Models => {
            let mut t = new_table(vec![
                "name", "model", "layers", "hidden", "heads/kv", "experts", "params", "active",
            ]);
            for n in catalog::names(catalog::MODELS) {
                let m: ModelSpec = catalog::load(catalog::MODELS, "model", n)?;
                let c = analytic::count(&m);
                t.add_row(vec![
                    m.name.clone(),
                    m.display_name.clone(),
                    m.layers.to_string(),
                    m.hidden.to_string(),
                    format!("{}/{}", m.heads, m.kv_heads()),
                    m.moe
                        .as_ref()
                        .map_or("-".into(), |e| format!("{} top-{}", e.experts, e.top_k)),
                    units::count(c.total),
                    units::count(c.active),
                ]);
            }
            t
        }
        ListWhat::Scenarios => {
            let mut t = new_table(vec!["name", "scenario"]);
            for n in catalog::names(catalog::SCENARIOS) {
                let sc = scenario::load(Some(n), &[])?;
                t.add_row(vec![n.to_string(), sc.name]);
            }
            t
        }
    };
    Ok(format!("{t}\n"))
}

fn show_model(m: &ModelSpec) -> String {
    let c = analytic::count(m);
    let mut t = new_table(vec!["part", "parameters", "share"]);
    let parts = [
        ("attention", c.attention),
        ("dense MLP / shared experts", c.mlp),
        ("routed experts", c.experts),
        ("routers", c.router),
        ("norms", c.norms),
        ("input embedding", c.embedding),
        ("output layer (untied)", c.output),
        ("position table", c.position),
    ];
    for (k, v) in parts {
        if v > 0.0 {
            t.add_row(vec![
                k.to_string(),
                units::count(v),
                units::pct(v / c.total),
            ]);
        }
    }
    t.add_row(vec![
        "total".to_string(),
        units::count(c.total),
        "100.0%".to_string(),
    ]);
    t.add_row(vec![
        "active per token".to_string(),
        units::count(c.active),
        units::pct(c.active / c.total),
    ]);
    let mut out = format!(
        "{} ({})\nsource: {}\n",
        m.display_name,
        m.name,
        m.source.trim()
    );
    out.push_str(&format!("{t}\n"));
    if let Some(p) = &m.published {
        out.push_str(&format!(
            "published: {} total{} ({})\n",
            units::count(p.params_total),
            p.params_active
                .map_or(String::new(), |a| format!(", {} active", units::count(a))),
            p.source.trim()
        ));
    }
    out
}
