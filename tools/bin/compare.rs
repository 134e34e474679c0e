//! `tools/compare workdirs/a workdirs/b … [--csv out.csv]`: one table of every metric in the work
//! dirs' `metrics.json` (methods as rows), as Markdown on stdout, optionally CSV, and with
//! `--plots DIR` one PNG (and SVG) per curve metric with a line per work dir and, where the work
//! dirs recorded their attribution time, `quality_cost.png`: each bounded metric against seconds per
//! image (the table then has that column too); `--grid DIR` draws the same
//! images' maps in one column per work dir (PNG and HTML), and needs no metrics.
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
    /// Draw the same images' maps side by side, one column per work dir, into DIR/grid.png and DIR/grid.html
    #[arg(long, value_name = "DIR")]
    grid: Option<PathBuf>,
    /// Rows of the grid: the first N samples every work dir has a map of
    #[arg(long, default_value_t = 16)]
    grid_samples: usize,
    /// The grid's colour map: viridis, inferno, jet or gray
    #[arg(long, default_value = "viridis")]
    colormap: String,
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    if let Some(d) = &a.grid {
        anyhow::ensure!(
            ibex::output::heatmap::COLORMAPS.contains(&a.colormap.as_str()),
            "--colormap {}: expected one of {:?}",
            a.colormap,
            ibex::output::heatmap::COLORMAPS
        );
        let opts =
            ibex::evaluation::grid::GridOptions { samples: a.grid_samples, colormap: a.colormap.clone(), cell: 128 };
        ibex::evaluation::grid::write_grid(&a.work_dirs, d, &opts)
            .with_context(|| format!("drawing the grid into {}", d.display()))?;
        println!("grid: {} and {}", d.join("grid.png").display(), d.join("grid.html").display());
        if a.work_dirs.iter().all(|w| !w.join("metrics.json").is_file()) {
            return Ok(());
        }
    }
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
    let seconds = a
        .work_dirs
        .iter()
        .map(|d| ibex::evaluation::cost::seconds_per_image(d).with_context(|| format!("{}: its costs", d.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (md, csv) = ibex::evaluation::compare(&rows, &seconds);
    println!("{md}");
    if let Some(p) = &a.csv {
        ibex::io::atomic::write(p, csv.as_bytes()).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(d) = &a.plots {
        ibex::evaluation::write_compare_plots(&rows, d)
            .with_context(|| format!("writing plots into {}", d.display()))?;
        if ibex::evaluation::cost::write_cost_plot(&rows, &seconds, d)
            .with_context(|| format!("writing the quality-cost plot into {}", d.display()))?
        {
            println!("quality against cost: {}", d.join("quality_cost.png").display());
        }
    }
    Ok(())
}
