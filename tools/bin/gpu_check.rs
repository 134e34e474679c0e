//! `tools/gpu_check`: the GPU figures in one JSON (precision against fp32 on the quickstart's
//! maps, VGG16 InputIBA per samples_per_batch, the gradient methods batched); see
//! `ibex::bench::gpu_check`. The shell wrapper builds against the machine's PyTorch and runs the
//! CUDA tests first.
use anyhow::Context;
use clap::Parser;
use ibex::bench::gpu_check::{self, GpuCheckParams};
use ibex::precision::Precision;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Check and time ibex on a GPU; writes one JSON")]
struct Args {
    /// Where the JSON goes
    #[arg(long, default_value = "gpu_check.json")]
    out: PathBuf,
    /// Work dirs of the precision runs
    #[arg(long, default_value = "workdirs/gpu_check")]
    work_dir: PathBuf,
    #[arg(long, default_value = "cuda")]
    device: String,
    /// The maps comparison's config
    #[arg(long, default_value = "configs/quickstart.toml")]
    maps_config: PathBuf,
    /// VGG16 InputIBA's config (its model is the gradient methods' model too)
    #[arg(long, default_value = "configs/vgg_imagenet.toml")]
    vgg16_config: PathBuf,
    /// One config per gradient method (default: Saliency, IG, SmoothGrad, Grad-CAM, guided backprop)
    #[arg(long, num_args = 1..)]
    gradient_configs: Vec<PathBuf>,
    /// Precisions of the maps comparison, the reference first
    #[arg(long, num_args = 1.., default_values = ["fp32", "tf32", "bf16"])]
    precisions: Vec<String>,
    /// VGG16 InputIBA timings as samples_per_batch:precision
    #[arg(long, num_args = 1.., default_values = ["1:fp32", "8:fp32", "32:fp32", "32:tf32", "32:bf16"])]
    input_iba: Vec<String>,
    #[arg(long, default_value_t = 224)]
    side: i64,
    /// Images per VGG16 InputIBA timing (at least one batch)
    #[arg(long, default_value_t = 8)]
    images: usize,
    #[arg(long, default_value_t = 256)]
    estimation_images: usize,
    #[arg(long, default_value_t = 64)]
    gradient_batch: usize,
    /// Extra --cfg-options for the maps runs, the VGG16 InputIBA runs and the gradient runs
    #[arg(long, num_args = 1..)]
    maps_options: Vec<String>,
    #[arg(long, num_args = 1..)]
    vgg16_options: Vec<String>,
    #[arg(long, num_args = 1..)]
    gradient_options: Vec<String>,
    /// The CUDA tests' log, whose result lines go into the JSON
    #[arg(long)]
    tests_log: Option<PathBuf>,
}

fn precision(s: &str) -> anyhow::Result<Precision> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .with_context(|| format!("precision {s:?}: one of fp32, original, tf32, bf16, fp16"))
}

fn main() -> anyhow::Result<()> {
    ibex::cli::start();
    let a = Args::parse();
    let input_iba_runs = a
        .input_iba
        .iter()
        .map(|s| {
            let (n, p) = s.split_once(':').with_context(|| format!("--input-iba {s:?}: expected N:precision"))?;
            Ok((n.parse().with_context(|| format!("--input-iba {s:?}: N is not a number"))?, precision(p)?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let defaults = GpuCheckParams::default();
    let p = GpuCheckParams {
        device: a.device,
        maps_config: a.maps_config,
        vgg16_config: a.vgg16_config,
        gradient_configs: if a.gradient_configs.is_empty() {
            defaults.gradient_configs.clone()
        } else {
            a.gradient_configs
        },
        out_dir: a.work_dir,
        precisions: a.precisions.iter().map(|s| precision(s)).collect::<anyhow::Result<_>>()?,
        side: a.side,
        input_iba_runs,
        input_iba_images: a.images,
        estimation_images: a.estimation_images,
        gradient_batch: a.gradient_batch,
        maps_options: a.maps_options,
        vgg16_options: a.vgg16_options,
        gradient_options: a.gradient_options,
        ..defaults
    };
    let mut report = gpu_check::run(&p).context("gpu_check")?;
    if let Some(log) = &a.tests_log {
        let text = std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("test result:") || l.contains("FAILED")).collect();
        report.cuda_tests = Some(lines.join("\n"));
    }
    let json = serde_json::to_string_pretty(&report)?;
    ibex::io::atomic::write(&a.out, json.as_bytes()).with_context(|| format!("writing {}", a.out.display()))?;
    println!("{json}");
    Ok(())
}
