//! `tools/make_synthetic --config C`: writes the generated data of the config's `[synthetic]` table
//! (ImageNet layout, VOC boxes, class index) and `[digits]` table (MNIST's IDX files).
//! Deterministic by their seeds.
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Generate the data of a config's [synthetic] and [digits] tables")]
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
    anyhow::ensure!(
        run.cfg.synthetic.is_some() || run.cfg.digits.is_some(),
        "the config has neither a [synthetic] nor a [digits] table"
    );
    if let Some(cfg) = &run.cfg.synthetic {
        let made = ibex::data::synthetic::ensure(cfg)?;
        log::info!("{} {}", if made { "generated" } else { "already there:" }, cfg.root.display());
    }
    if let Some(cfg) = &run.cfg.digits {
        let made = ibex::data::digits::ensure(cfg)?;
        log::info!("{} {}", if made { "generated" } else { "already there:" }, cfg.root.display());
    }
    Ok(())
}
