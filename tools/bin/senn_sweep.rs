//! `tools/senn_sweep --config C --work-dir W`: the config's SENN trained for every robustness
//! weight λ and seed of `[senn_sweep]`, with its test accuracy and the local Lipschitz estimate of
//! its relevances, written as `W/sweep.json`, `W/accuracy_vs_lambda.png` and
//! `W/robustness_vs_lambda.png` (a re-run reuses the points already trained).
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Train a SENN per robustness weight and seed; accuracy and robustness against lambda")]
struct Args {
    /// A SENN config with [train_senn] (and [senn_sweep]), e.g. configs/senn_quickstart.toml
    #[arg(long)]
    config: PathBuf,
    /// Output folder (default: workdirs/<config stem>_sweep)
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Override config values: a.b.c=value, e.g. senn_sweep.num_seeds=3
    #[arg(long, num_args = 1..)]
    cfg_options: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    let run = ibex::Run::load(&a.config, &a.cfg_options).with_context(|| format!("loading {}", a.config.display()))?;
    let stem = a.config.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let dir = a.work_dir.unwrap_or_else(|| PathBuf::from("workdirs").join(format!("{stem}_sweep")));
    let wd = ibex::output::WorkDir::create(&dir)?;
    ibex::logging::attach_file(&wd.log_file()).with_context(|| format!("opening {}", wd.log_file().display()))?;
    let points = run.senn_sweep(&wd).context("the SENN sweep")?;
    println!(
        "{:>10} {:>6} {:>14} {:>16} {:>15}",
        "lambda", "seed", "test accuracy", "lipschitz mean", "planted recall"
    );
    for p in &points {
        let recall = p.planted_recall.map_or("-".to_string(), |r| format!("{r:.3}"));
        println!("{:>10.0e} {:>6} {:>14.4} {:>16.4} {recall:>15}", p.lambda, p.seed, p.test_accuracy, p.lipschitz_mean);
    }
    println!("sweep.json and the plots are in {}", wd.root().display());
    Ok(())
}
