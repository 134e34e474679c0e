//! `tools/print_config --config C [--cfg-options k=v ...]`: the resolved config as TOML, after the
//! `_base_` chain and the overrides, checked as `tools/train` would check it.
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Print the resolved config")]
struct Args {
    #[arg(long)]
    config: PathBuf,
    #[arg(long, num_args = 1..)]
    cfg_options: Vec<String>,
    /// Also fill in every default of each component (what the run actually uses).
    #[arg(long)]
    defaults: bool,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    let run = ibex::Run::load(&a.config, &a.cfg_options).with_context(|| format!("loading {}", a.config.display()))?;
    if a.defaults {
        print!("{}", ibex::config::values_toml(&run.resolved_values()?)?);
    } else {
        print!("{}", ibex::config::resolved_toml(&run.fig)?);
    }
    Ok(())
}
