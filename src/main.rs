//! `llmplan` command line: parse, call the library, print. Exit code 2 on bad input.

use std::io::Write;
use std::process::ExitCode;

mod cmd_calibrate;
mod cmd_export;
mod cmd_format;
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
use cmd_format::OutputFormat;

use llmplan::analytic::EstimateOptions;
use llmplan::report;
use llmplan::spec::{catalog, scenario};
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
        format: OutputFormat,
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
        format: OutputFormat,
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
        format: OutputFormat::Table,
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
                OutputFormat::Table => report::estimate_table(&est),
                OutputFormat::Json => report::estimate_json(&est),
                OutputFormat::Csv => report::estimate_csv(&est),
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
        } => Ok(
            cmd_validate::run(csv.as_deref(), group.as_deref(), format, chart.as_deref())?.into(),
        ),
        Command::Export(args) => Ok(cmd_export::run(args)?.into()),
        Command::Completions { shell } => Ok(cmd_meta::completions(shell, Cli::command()).into()),
        Command::Man => Ok(cmd_meta::man(Cli::command())?.into()),
        Command::Schema { kind } => Ok(cmd_meta::schema_text(&kind)?.into()),
        Command::Import(args) => Ok(cmd_import::run(args)?.into()),
        Command::List { what } => Ok(list(what)?.into()),
        Command::Show { what, name } => {
            let text = match what {
                ShowWhat::Model => report::catalog::model_table(&cmd_show::load_model(&name)?),
                ShowWhat::Gpu => report::catalog::gpu_table(&cmd_show::load_gpu(&name)?),
                ShowWhat::Cluster => {
                    report::catalog::cluster_table(&cmd_show::load_cluster(&name)?)
                }
            };
            Ok(text.into())
        }
    }
}

fn list(what: ListWhat) -> Result<String, Error> {
    Ok(match what {
        ListWhat::Gpus => report::catalog::gpus_table(&load_all(catalog::GPUS, "gpu")?),
        ListWhat::Clusters => {
            report::catalog::clusters_table(&load_all(catalog::CLUSTERS, "cluster")?)
        }
        ListWhat::Models => report::catalog::models_table(&load_all(catalog::MODELS, "model")?),
        ListWhat::Scenarios => {
            let mut v = Vec::new();
            for n in catalog::names(catalog::SCENARIOS) {
                v.push((n, scenario::load(Some(n), &[])?.name));
            }
            report::catalog::scenarios_table(&v)
        }
    })
}

/// Every entry of one catalog table, in catalog order.
fn load_all<T: serde::de::DeserializeOwned + schemars::JsonSchema>(
    table: &'static [(&'static str, &'static str)],
    kind: &'static str,
) -> Result<Vec<T>, Error> {
    catalog::names(table)
        .into_iter()
        .map(|n| catalog::load(table, kind, n))
        .collect()
}
