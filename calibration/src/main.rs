//! `llmplan-calibrate`: measures GEMM, memory-bound and sustained kernel tables on an
//! NVIDIA GPU. Exits 2 when the machine has no GPU or CUDA library to run them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use llmplan_calibrate::error::{CalError, Result};
use llmplan_calibrate::gpu::gemm::{self, Lt};
use llmplan_calibrate::gpu::{membw, sustained, BenchCfg, Gpu};
use llmplan_calibrate::output::{self, GemmRow};
use llmplan_calibrate::{compare, scenario, shapes};

#[derive(Parser)]
#[command(
    name = "llmplan-calibrate",
    version,
    about = "CUDA micro-benchmarks for llmplan's kernel calibration tables"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The standard GEMM sweep (the shapes of the shared gemm.csv and gemm_m.csv), the
    /// memory-bound kernels and the sustained run.
    All {
        #[command(flatten)]
        o: Common,
        /// Sustained run length, seconds of GPU time.
        #[arg(long, default_value_t = 20.0)]
        sustained_s: f64,
    },
    /// GEMMs: the standard sweep, or the shapes of one scenario with --scenario.
    Gemm {
        #[command(flatten)]
        o: Common,
        #[command(flatten)]
        s: ScenarioArgs,
    },
    /// Memory-bound kernels compiled with NVRTC: achieved GB/s.
    Membw {
        #[command(flatten)]
        o: Common,
    },
    /// Back-to-back 8192^3 GEMMs: TFLOP/s, clock, power and temperature per window
    /// (sustained.csv for BF16, sustained_fp8.csv for FP8).
    Sustained {
        #[command(flatten)]
        o: Common,
        /// Operand type.
        #[arg(long, value_enum, default_value_t = SustainedDtype::Bf16)]
        dtype: SustainedDtype,
        /// Run length, seconds of GPU time.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Window length, seconds.
        #[arg(long, default_value_t = 1.0)]
        window_s: f64,
    },
    /// Print device and library facts (env.json) without benchmarking.
    Info {
        /// Device ordinal.
        #[arg(long, default_value_t = 0)]
        device: usize,
    },
    /// Print the GEMM cases that `gemm` would time, as CSV (needs no GPU).
    Shapes {
        #[command(flatten)]
        s: ScenarioArgs,
    },
    /// Compare two calibration folders row by row (needs no GPU).
    Compare {
        /// Folder with the new measurements.
        new: PathBuf,
        /// Reference folder, e.g. hardware-profiles/calibration/h100-sxm.
        reference: PathBuf,
    },
}

/// The operand types a sustained run takes.
#[derive(Clone, Copy, clap::ValueEnum)]
enum SustainedDtype {
    /// BF16 operands, FP32 accumulation.
    Bf16,
    /// FP8 E4M3 operands with per-tensor scales, BF16 output (Hopper and later).
    Fp8,
}

impl SustainedDtype {
    fn dtype(self) -> shapes::Dtype {
        match self {
            SustainedDtype::Bf16 => shapes::Dtype::Bf16,
            SustainedDtype::Fp8 => shapes::Dtype::Fp8E4m3,
        }
    }
}

#[derive(Args)]
struct Common {
    /// Device ordinal.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// Tables go to <OUT_ROOT>/<gpu-slug>/.
    #[arg(long, default_value = "hardware-profiles/calibration")]
    out_root: PathBuf,
    /// Folder name under OUT_ROOT; default from the device name (h100-sxm, h200-sxm, ...).
    #[arg(long)]
    slug: Option<String>,
    /// Replace tables that already exist.
    #[arg(long)]
    force: bool,
    /// About a quarter of the GPU time per benchmark, smaller memory-bound working sets.
    #[arg(long)]
    quick: bool,
    /// Seconds of untimed back-to-back GEMMs first, to bring clocks to their working point.
    #[arg(long, default_value_t = 2.0)]
    heat_s: f64,
}

#[derive(Args)]
struct ScenarioArgs {
    /// An llmplan scenario (YAML path or built-in name): time its per-GPU GEMMs.
    #[arg(long)]
    scenario: Option<String>,
    /// Scenario overrides, key=value (as `llmplan --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = std::panic::catch_unwind(|| run(cli));
    match r {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("llmplan-calibrate: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
        Err(_) => {
            eprintln!("llmplan-calibrate: internal error (panic above)");
            ExitCode::from(1)
        }
    }
}

/// Where one run writes, refusing to clobber unless --force.
struct Out {
    dir: PathBuf,
    force: bool,
}

impl Out {
    fn new(o: &Common, gpu: &Gpu) -> Out {
        let slug = o
            .slug
            .clone()
            .unwrap_or_else(|| output::gpu_slug(&gpu.name));
        Out {
            dir: o.out_root.join(slug),
            force: o.force,
        }
    }

    fn check(&self, names: &[&str]) -> Result<()> {
        for n in names {
            let p = self.dir.join(n);
            if p.exists() && !self.force {
                return Err(CalError::Input(format!(
                    "{} exists; pass --force to replace it or --out-root to write elsewhere",
                    p.display()
                )));
            }
        }
        Ok(())
    }

    fn write(&self, name: &str, text: &str) -> Result<()> {
        let p = self.dir.join(name);
        output::write_atomic(&p, text.as_bytes())?;
        eprintln!("wrote {}", p.display());
        Ok(())
    }
}

fn cfg(o: &Common) -> BenchCfg {
    if o.quick {
        BenchCfg::quick()
    } else {
        BenchCfg::default()
    }
}

fn method(o: &Common, extra: &[String]) -> Vec<String> {
    let c = cfg(o);
    let mut m = vec![
        format!(
            "CUDA events per run; median of {}-{} runs filling ~{} ms after >= {} ms warm-up",
            c.min_runs, c.max_runs, c.target_ms, c.warmup_ms
        ),
        "L2 flushed before every run by writing max(2 x L2, 64 MiB)".into(),
        "operands random finite values, magnitudes 0.125-2 (fp8: 0.25-4)".into(),
        format!(
            "cuBLASLt, heuristic's first algorithm cached per shape, {} MiB workspace; fwd TN, dgrad NN, wgrad NT",
            gemm::WORKSPACE_BYTES >> 20
        ),
        "fp8e4m3: TN for every orientation, scale pointers 1.0, bf16 output, fast accumulation".into(),
        format!("{} s of untimed 8192^3 bf16 GEMMs before GEMM tables", o.heat_s),
    ];
    m.extend_from_slice(extra);
    m
}

fn scenario_cases(s: &ScenarioArgs) -> Result<Option<(String, Vec<shapes::GemmCase>)>> {
    let Some(spec) = &s.scenario else {
        return Ok(None);
    };
    let sc = llmplan::spec::scenario::load(Some(spec), &s.set)
        .map_err(|e| CalError::Plan(e.to_string()))?;
    let sh = scenario::scenario_shapes(&sc)?;
    for n in &sh.notes {
        eprintln!("note: {n}");
    }
    let stem = Path::new(spec)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    Ok(Some((stem, sh.cases)))
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Shapes { s } => {
            let rows: Vec<GemmRow> = match scenario_cases(&s)? {
                Some((_, c)) => c,
                None => {
                    let (g, gm) = shapes::standard_sweep()?;
                    g.into_iter().chain(gm).collect()
                }
            }
            .into_iter()
            .map(|case| GemmRow { case, ms: f64::NAN })
            .collect();
            print!("{}", output::gemm_csv(&rows, true));
            Ok(())
        }
        Cmd::Compare { new, reference } => {
            let m = compare::compare_dirs(&new, &reference)?;
            if m.is_empty() {
                return Err(CalError::Input(format!(
                    "no rows in common between {} and {}",
                    new.display(),
                    reference.display()
                )));
            }
            print!("{}", compare::report(&m));
            Ok(())
        }
        Cmd::Info { device } => {
            let gpu = Gpu::open(device)?;
            let env = gpu.env_info(vec![])?;
            println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default());
            Ok(())
        }
        Cmd::Gemm { o, s } => {
            let sc = scenario_cases(&s)?;
            let gpu = Gpu::open(o.device)?;
            let out = Out::new(&o, &gpu);
            let mut lt = Lt::new(&gpu)?;
            match sc {
                Some((stem, cases)) => {
                    let name = format!("gemm_{stem}.csv");
                    out.check(&[&name])?;
                    gemm::heat(&gpu, &mut lt, o.heat_s)?;
                    let rows = gemm::run_cases(&gpu, &mut lt, &cases, &cfg(&o), &stem)?;
                    out.write(&name, &output::gemm_csv(&rows, true))?;
                }
                None => {
                    out.check(&["gemm.csv", "gemm_m.csv", "env.json"])?;
                    standard_gemm(&gpu, &mut lt, &o, &out)?;
                    write_env(&gpu, &o, &out, &[])?;
                }
            }
            Ok(())
        }
        Cmd::Membw { o } => {
            let gpu = Gpu::open(o.device)?;
            let out = Out::new(&o, &gpu);
            out.check(&["membw.csv"])?;
            run_membw(&gpu, &o, &out)
        }
        Cmd::Sustained {
            o,
            dtype,
            seconds,
            window_s,
        } => {
            let gpu = Gpu::open(o.device)?;
            let out = Out::new(&o, &gpu);
            let name = sustained::table_name(dtype.dtype());
            out.check(&[&name])?;
            let mut lt = Lt::new(&gpu)?;
            let rows = sustained::run(&gpu, &mut lt, dtype.dtype(), 8192, seconds, window_s)?;
            out.write(&name, &output::sustained_csv(&rows))
        }
        Cmd::All { o, sustained_s } => {
            let gpu = Gpu::open(o.device)?;
            let out = Out::new(&o, &gpu);
            out.check(&[
                "gemm.csv",
                "gemm_m.csv",
                "membw.csv",
                "sustained.csv",
                "sustained_fp8.csv",
                "env.json",
            ])?;
            // env.json first: a run cut short still says what it ran on.
            write_env(&gpu, &o, &out, &[])?;
            let mut lt = Lt::new(&gpu)?;
            standard_gemm(&gpu, &mut lt, &o, &out)?;
            run_membw(&gpu, &o, &out)?;
            let mut dtypes = vec![shapes::Dtype::Bf16];
            if gemm::has_fp8(gpu.cc) {
                dtypes.push(shapes::Dtype::Fp8E4m3);
            }
            let mut ran = Vec::new();
            for d in dtypes {
                let rows = sustained::run(&gpu, &mut lt, d, 8192, sustained_s, 1.0)?;
                out.write(&sustained::table_name(d), &output::sustained_csv(&rows))?;
                ran.push(d.name());
            }
            write_env(
                &gpu,
                &o,
                &out,
                &[format!(
                    "sustained: {sustained_s} s of 8192^3 {} each, 1 s windows, clocks via nvidia-smi",
                    ran.join(" then ")
                )],
            )
        }
    }
}

fn standard_gemm(gpu: &Gpu, lt: &mut Lt, o: &Common, out: &Out) -> Result<()> {
    let (g, gm) = shapes::standard_sweep()?;
    gemm::heat(gpu, lt, o.heat_s)?;
    let rows = gemm::run_cases(gpu, lt, &g, &cfg(o), "gemm.csv")?;
    out.write("gemm.csv", &output::gemm_csv(&rows, true))?;
    let rows = gemm::run_cases(gpu, lt, &gm, &cfg(o), "gemm_m.csv")?;
    out.write("gemm_m.csv", &output::gemm_csv(&rows, false))
}

fn run_membw(gpu: &Gpu, o: &Common, out: &Out) -> Result<()> {
    let sizes = if o.quick {
        membw::MembwSizes::scaled_down(4)
    } else {
        membw::MembwSizes::default()
    };
    let rows = membw::run(gpu, &sizes, &cfg(o))?;
    out.write("membw.csv", &output::membw_csv(&rows))
}

fn write_env(gpu: &Gpu, o: &Common, out: &Out, extra: &[String]) -> Result<()> {
    let env = gpu.env_info(method(o, extra))?;
    output::write_env(&out.dir.join("env.json"), &env)
}
