//! `tools/make_reviews [--root data/reviews] [--seed 0] …`: the generated review corpus in the
//! aclImdb layout (known sentiment words among neutral filler), for the text pipeline's quickstart.
use clap::Parser;
use ibex::text::reviews::{ensure, ReviewsConfig};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Write a generated review corpus in the aclImdb layout")]
struct Args {
    #[arg(long, default_value = "data/reviews")]
    root: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 500)]
    train_per_class: usize,
    #[arg(long, default_value_t = 100)]
    test_per_class: usize,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    let c = ReviewsConfig {
        root: a.root,
        seed: a.seed,
        train_per_class: a.train_per_class,
        test_per_class: a.test_per_class,
        ..Default::default()
    };
    if ensure(&c)? {
        log::info!("wrote the review corpus into {}", c.root.display());
    } else {
        log::info!("{} already holds this corpus", c.root.display());
    }
    Ok(())
}
