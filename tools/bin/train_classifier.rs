//! `tools/train_classifier --config C`: trains `[model]` on `data.train` with the settings of
//! `[train_classifier]` (a SENN: `[train_senn]`), reports `data.test` accuracy and saves
//! `model.weights`.
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Train the config's classifier and save its weights")]
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
    if let Some(s) = &run.cfg.synthetic {
        ibex::data::synthetic::ensure(s)?;
    }
    if let Some(d) = &run.cfg.digits {
        ibex::data::digits::ensure(d)?;
    }
    if let Some(c) = &run.cfg.compas {
        ibex::data::compas_gen::ensure(c)?;
    }
    let acc = if run.cfg.train_senn.is_some() { run.train_senn()? } else { run.train_classifier()? };
    println!("test accuracy {acc:.4}");
    Ok(())
}
