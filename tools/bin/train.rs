//! `tools/train --config C --work-dir W [--cfg-options k=v ...]`: attribution maps for every sample
//! of the config's attribution split, written into the work dir (resumes where a run stopped).
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Run an attribution pipeline from a config")]
struct Args {
    /// Config file, e.g. configs/quickstart.toml
    #[arg(long)]
    config: PathBuf,
    /// Output folder (default: workdirs/<config stem>)
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Override config values: a.b.c=value (TOML literals), e.g. attributor.beta=10 device=cuda
    #[arg(long, num_args = 1..)]
    cfg_options: Vec<String>,
    /// Start over in a work dir made with another config or other model weights: its old outputs
    /// are moved to <work-dir>/superseded/<time>/ (without this, such a work dir is refused)
    #[arg(long)]
    overwrite_config: bool,
    /// Attribute only part i of n of the attribution split (0 ≤ i < n); n processes with one work
    /// dir share the work (see tools/slurm_train.sh)
    #[arg(long, conflicts_with = "jobs")]
    shard: Option<ibex::run::Shard>,
    /// Attribute in n processes on this machine, each a shard with 1/n of the cores (on a few
    /// cores small models run faster so: threads of one process wait on each other)
    #[arg(long, default_value_t = 1)]
    jobs: usize,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    anyhow::ensure!(a.jobs >= 1, "--jobs: need at least 1");
    let run = ibex::Run::load(&a.config, &a.cfg_options).with_context(|| format!("loading {}", a.config.display()))?;
    let wd = ibex::output::WorkDir::create(&ibex::cli::work_dir(a.work_dir.as_deref(), &a.config))?;
    ibex::logging::attach_file(&wd.log_file()).with_context(|| format!("opening {}", wd.log_file().display()))?;
    // a config that cannot run must not claim the work dir (its config.toml would refuse the fix)
    run.check_attributor().context("checking the attributor against the model")?;
    wd.write_config(&ibex::config::resolved_toml(&run.fig)?, a.overwrite_config)?;
    log::info!("work dir {}, device {:?}", wd.root().display(), run.device);
    run.prepare().context("preparing data and model")?;
    wd.write_model_digest(&run.model_digest()?, a.overwrite_config)?;
    let s = if a.jobs > 1 {
        let mut args = vec!["--config".to_string(), a.config.display().to_string()];
        args.extend(["--work-dir".to_string(), wd.root().display().to_string()]);
        if !a.cfg_options.is_empty() {
            args.push("--cfg-options".into());
            args.extend(a.cfg_options.iter().cloned());
        }
        let program = std::env::current_exe().context("finding this program to start its jobs")?;
        run.attribute_in_jobs(&wd, a.jobs, &ibex::run::JobCommand { program, args }).context("attribution in jobs")?
    } else {
        run.attribute(&wd, a.shard).context("attribution")?
    };
    log::info!("done: {} attributed, {} already there, {} failed", s.attributed, s.skipped, s.failed.len());
    if !s.degenerate.is_empty() {
        log::warn!(
            "{} of {} results say nothing (chance-level class loss or a constant map; listed in summary*.json \
             and explained/<name>.json)",
            s.degenerate.len(),
            s.attributed
        );
    }
    for (name, why) in &s.failed {
        log::warn!("failed: {name}: {why}");
    }
    if !s.failed.is_empty() {
        anyhow::bail!(
            "{} sample(s) failed; the others are done (list in the work dir's summary*.json)",
            s.failed.len()
        );
    }
    Ok(())
}
