//! `tools/eval --config C --work-dir W --metric insertion_deletion ehr …`: evaluation metrics of a
//! finished work dir's maps, into `W/metrics.json` and TensorBoard; prints the aggregates.
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Evaluate the attribution maps of a work dir")]
struct Args {
    /// The config the work dir was made with
    #[arg(long)]
    config: PathBuf,
    #[arg(long)]
    work_dir: PathBuf,
    /// Metric labels: a table [eval.metrics.<label>] of the config, or a registered metric in
    /// snake_case (insertion_deletion, sensitivity_n, ehr, pointing_game, relevance_mass,
    /// region_perturbation, …), or roar (retrains a classifier per fraction removed, settings in
    /// [eval.roar]); `tools/list` shows them
    #[arg(long, num_args = 1.., required = true)]
    metric: Vec<String>,
    /// The folder of maps to evaluate (eval.maps; default: the attributor's own, e.g. input_masks for InputIBA)
    #[arg(long)]
    maps: Option<String>,
    #[arg(long, num_args = 1..)]
    cfg_options: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    let mut opts = a.cfg_options.clone();
    if let Some(m) = &a.maps {
        opts.push(format!("eval.maps=\"{m}\""));
    }
    let run = ibex::Run::load(&a.config, &opts).with_context(|| format!("loading {}", a.config.display()))?;
    anyhow::ensure!(a.work_dir.is_dir(), "work dir {} does not exist: run tools/train first", a.work_dir.display());
    let wd = ibex::output::WorkDir::create(&a.work_dir)?;
    let file = ibex::evaluation::evaluate(&run, &wd, &a.metric).context("evaluation")?;
    println!("{}", ibex::evaluation::summary_table(&file, &a.metric));
    Ok(())
}
