//! `tools/make_synthetic --config C`: writes the synthetic ground-truth dataset of the config's
//! `[synthetic]` table (ImageNet layout, VOC boxes, class index). Deterministic by its seed.
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Generate the synthetic dataset of a config's [synthetic] table")]
struct Args {
    #[arg(long)]
    config: PathBuf,
    #[arg(long, num_args = 1..)]
    cfg_options: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    let run = ibex::Run::load(&a.config, &a.cfg_options).with_context(|| format!("loading {}", a.config.display()))?;
    let cfg = run.cfg.synthetic.as_ref().context("the config has no [synthetic] table")?;
    let made = ibex::data::synthetic::ensure(cfg)?;
    log::info!("{} {}", if made { "generated" } else { "already there:" }, cfg.root.display());
    Ok(())
}
