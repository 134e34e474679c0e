//! `tools/bench [--config C]`: seconds per image, as JSON: for feature IBA (default: the quickstart)
//! the estimation and optimisation stages; for InputIBA each stage's seconds, FLOPs and FLOP/s; for
//! a fitted explainer (Readout Bottleneck, VIBI) an epoch's seconds and attribution images/s; for
//! any other attributor, one image per call vs batched.
//! Run with OMP_WAIT_POLICY=PASSIVE (tools/ sets it).
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Time the pipeline's stages")]
struct Args {
    #[arg(long, default_value = "configs/quickstart.toml")]
    config: PathBuf,
    #[arg(long, num_args = 1..)]
    cfg_options: Vec<String>,
    /// Images for the estimation timing (a fitted explainer: its train images)
    #[arg(long, default_value_t = 200)]
    estimation_images: usize,
    /// Images for the feature-IBA timing
    #[arg(long, default_value_t = 16)]
    images: usize,
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Time on random images of this side instead of the config's data (e.g. 224 for VGG16);
    /// for a text model, random sentences of this many tokens (e.g. 230 for IMDb reviews)
    #[arg(long)]
    random_images: Option<i64>,
    /// Time an evaluation metric instead (e.g. insertion_deletion), on random maps
    #[arg(long)]
    metric: Option<String>,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    let run = ibex::Run::load(&a.config, &a.cfg_options).with_context(|| format!("loading {}", a.config.display()))?;
    if a.random_images.is_none() {
        run.prepare()?;
    }
    let kind: String = run.fig.extract_inner("attributor.type").context("the config has no [attributor]")?;
    if let Some(m) = &a.metric {
        let r = ibex::bench::run_metric(&run, m, a.images, a.random_images)?;
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if kind == "FeatureIba" {
        let r = ibex::bench::run(&run, a.estimation_images, a.images, a.repeat, a.random_images)?;
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if kind == "ReadoutBottleneck" || kind == "Vibi" {
        let r = ibex::bench::run_fitted(&run, a.estimation_images, a.images, a.random_images)?;
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if kind == "InputIba" {
        let r = ibex::bench::run_input_iba(&run, a.estimation_images, a.images, a.random_images)?;
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let r = ibex::bench::run_batched(&run, a.images, a.repeat, a.random_images)?;
        println!("{}", serde_json::to_string_pretty(&r)?);
    }
    Ok(())
}
