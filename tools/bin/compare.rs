//! `tools/compare workdirs/a workdirs/b … [--csv out.csv]`: one table of every metric in the work
//! dirs' `metrics.json` (methods as rows), as Markdown on stdout, optionally CSV, and with
//! `--plots DIR` one PNG per curve metric with a line per work dir.
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Compare the metrics of several work dirs")]
struct Args {
    #[arg(required = true, num_args = 1..)]
    work_dirs: Vec<PathBuf>,
    /// Also write the table as CSV here
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write one PNG plot per curve metric into this folder
    #[arg(long)]
    plots: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    let rows = a
        .work_dirs
        .iter()
        .map(|d| {
            let name =
                d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| d.display().to_string());
            let f = ibex::evaluation::read_metrics(d)
                .with_context(|| format!("{}: run tools/eval on it first", d.display()))?;
            Ok((format!("{name} ({})", f.maps), f))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (md, csv) = ibex::evaluation::compare(&rows);
    println!("{md}");
    if let Some(p) = &a.csv {
        ibex::io::atomic::write(p, csv.as_bytes()).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(d) = &a.plots {
        ibex::evaluation::write_compare_plots(&rows, d)
            .with_context(|| format!("writing plots into {}", d.display()))?;
    }
    Ok(())
}
