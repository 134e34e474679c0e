//! `tools/gpu_check`: what a GPU machine has to show before ibex quotes a GPU figure, in one JSON.
//! (1) The quickstart run once per precision (strict fp32 first, the reference; then TF32, bf16):
//! how far each map folder moves from fp32 (max |Δ| over every pixel of every sample), the mass in
//! the box each precision's input masks give, degenerate maps and seconds per image. (2) InputIBA on
//! VGG16 at 224² with random weights, the original's settings, per `samples_per_batch` and
//! precision (`bench::run_input_iba`). (3) The gradient methods on the same VGG16, batched
//! (`bench::run_batched`). Every run is a config plus `--cfg-options`, so the figures are those of
//! `tools/train` and `tools/bench` with the same options.
use super::{run_batched, run_input_iba, BatchReport, InputIbaReport};
use crate::error::{Error, Result};
use crate::output::WorkDir;
use crate::precision::Precision;
use crate::run::Run;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to run; [`GpuCheckParams::default`] is the full check (`tools/gpu_check`'s defaults).
#[derive(Clone, Debug)]
pub struct GpuCheckParams {
    /// `device` for every run ("cuda", "cuda:1"; "cpu" only to try the check itself).
    pub device: String,
    /// Work dirs of the precision runs go under `<out_dir>/<precision>/`.
    pub out_dir: PathBuf,
    /// The precision comparison's config (its data and classifier are made on first use).
    pub maps_config: PathBuf,
    /// Its precisions; the first is the reference the others are measured against.
    pub precisions: Vec<Precision>,
    /// VGG16 InputIBA's config (its model table, with `weights = "random"`, is also the gradient
    /// methods' model).
    pub vgg16_config: PathBuf,
    /// The random images' side.
    pub side: i64,
    /// (samples_per_batch, precision) of each InputIBA timing.
    pub input_iba_runs: Vec<(usize, Precision)>,
    /// Images per InputIBA timing (at least one batch), and for its estimator.
    pub input_iba_images: usize,
    pub estimation_images: usize,
    /// One config per gradient method (its `[attributor]` is taken, the model swapped for VGG16).
    pub gradient_configs: Vec<PathBuf>,
    /// The gradient methods' batch, and the images they are timed on.
    pub gradient_batch: usize,
    /// `attributor.layer` for methods that name one (Grad-CAM): VGG16's last conv ReLU.
    pub gradient_layer: String,
    /// Appended to every run's options (e.g. shorter schedules to try the check on a CPU).
    pub maps_options: Vec<String>,
    pub vgg16_options: Vec<String>,
    pub gradient_options: Vec<String>,
}

impl Default for GpuCheckParams {
    fn default() -> Self {
        let baseline = |m: &str| PathBuf::from(format!("configs/baselines/{m}.toml"));
        GpuCheckParams {
            device: "cuda".into(),
            out_dir: "workdirs/gpu_check".into(),
            maps_config: "configs/quickstart.toml".into(),
            precisions: vec![Precision::Fp32, Precision::Tf32, Precision::Bf16],
            vgg16_config: "configs/vgg_imagenet.toml".into(),
            side: 224,
            input_iba_runs: vec![
                (1, Precision::Fp32),
                (8, Precision::Fp32),
                (32, Precision::Fp32),
                (32, Precision::Tf32),
                (32, Precision::Bf16),
            ],
            input_iba_images: 8,
            estimation_images: 256,
            gradient_configs: ["saliency", "integrated_gradients", "smoothgrad", "grad_cam", "guided_backprop"]
                .map(baseline)
                .to_vec(),
            gradient_batch: 64,
            gradient_layer: "features.29".into(),
            maps_options: Vec::new(),
            vgg16_options: Vec::new(),
            gradient_options: Vec::new(),
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct PrecisionRow {
    pub precision: String,
    pub images: usize,
    /// Attribution seconds per image as the samples recorded them (the estimator's fit not
    /// included), the figure `tools/compare` reads.
    pub seconds_per_image: f64,
    /// Map folder → the largest |Δ| against the reference precision's map, over all samples.
    pub max_abs_diff: BTreeMap<String, f64>,
    /// Mean share of the input mask inside the object's box (`relevance_mass`'s `mass`).
    pub mass_in_box: f64,
    pub degenerate: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct GpuCheckReport {
    pub device: String,
    pub device_name: String,
    pub started: String,
    pub seconds: f64,
    /// The CUDA tests' outcome (`tools/gpu_check` runs them first and passes their log).
    pub cuda_tests: Option<String>,
    pub precision: Vec<PrecisionRow>,
    pub input_iba_vgg16: Vec<InputIbaReport>,
    pub gradients_vgg16: Vec<BatchReport>,
}

/// Runs the three checks in order; each part's failure is an error naming the run.
pub fn run(p: &GpuCheckParams) -> Result<GpuCheckReport> {
    let t = Instant::now();
    let started = jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default();
    let device = crate::runtime::parse_device(&p.device)?;
    let mut precision = Vec::new();
    for &pr in &p.precisions {
        log::info!("gpu_check: {} maps at {}", p.maps_config.display(), pr.name());
        precision.push(precision_run(p, pr)?);
    }
    let mut input_iba_vgg16 = Vec::new();
    for &(spb, pr) in &p.input_iba_runs {
        log::info!("gpu_check: VGG16 InputIBA, samples_per_batch {spb}, {}", pr.name());
        let mut o = options(p, &[format!("model.weights={}", crate::models::weights::RANDOM)]);
        o.extend([format!("attributor.samples_per_batch={spb}"), format!("precision={}", pr.name())]);
        o.extend(p.vgg16_options.iter().cloned());
        let run = Run::load(&p.vgg16_config, &o)?;
        input_iba_vgg16.push(run_input_iba(&run, p.estimation_images, p.input_iba_images.max(spb), Some(p.side))?);
    }
    let mut gradients_vgg16 = Vec::new();
    let model = vgg16_model_option(p)?;
    for config in &p.gradient_configs {
        log::info!("gpu_check: {} on VGG16, batch {}", config.display(), p.gradient_batch);
        let mut o = options(p, &[model.clone(), format!("attributor.batch_size={}", p.gradient_batch)]);
        let probe = Run::load(config, &o)?;
        if probe.fig.find_value("attributor.layer").is_ok() {
            o.push(format!("attributor.layer={}", p.gradient_layer));
        }
        o.extend(p.gradient_options.iter().cloned());
        let run = Run::load(config, &o)?;
        gradients_vgg16.push(run_batched(&run, p.gradient_batch, 3, Some(p.side))?);
    }
    Ok(GpuCheckReport {
        device: format!("{device:?}"),
        device_name: device_name(device),
        started,
        seconds: t.elapsed().as_secs_f64(),
        cuda_tests: None,
        precision: with_differences(p, precision)?,
        input_iba_vgg16,
        gradients_vgg16,
    })
}

fn options(p: &GpuCheckParams, extra: &[String]) -> Vec<String> {
    std::iter::once(format!("device={}", p.device)).chain(extra.iter().cloned()).collect()
}

/// `model={...}`: VGG16's table from `vgg16_config` with random weights, replacing (`_delete_`)
/// whatever model a gradient method's config names.
fn vgg16_model_option(p: &GpuCheckParams) -> Result<String> {
    let fig = crate::config::load(&p.vgg16_config, &[])?;
    let mut model: toml::Table = fig.extract_inner("model").map_err(|e| Error::config("model", e))?;
    model.insert("weights".into(), crate::models::weights::RANDOM.into());
    model.insert(crate::config::replace::KEY.into(), true.into());
    Ok(format!("model={}", toml::Value::Table(model)))
}

/// One precision's quickstart run into `<out_dir>/<precision>`, made afresh (a resumed run would
/// time nothing), then its maps' mass in the box. The differences are filled in by
/// [`with_differences`].
fn precision_run(p: &GpuCheckParams, pr: Precision) -> Result<PrecisionRow> {
    let mut o = options(p, &[format!("precision={}", pr.name())]);
    o.extend(p.maps_options.iter().cloned());
    let run = Run::load(&p.maps_config, &o)?;
    let dir = p.out_dir.join(pr.name());
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let wd = WorkDir::create(&dir)?;
    wd.write_config(&crate::config::resolved_toml(&run.fig)?, true)?;
    run.prepare()?;
    wd.write_model_digest(&run.model_digest()?, true)?;
    let summary = run.attribute(&wd, None)?;
    let metrics = crate::evaluation::evaluate(&run, &wd, &["relevance_mass".into()])?;
    let mass = metrics.metrics.get("relevance_mass").and_then(|m| m.aggregate.get("mass")).map_or(f64::NAN, |s| s.mean);
    Ok(PrecisionRow {
        precision: pr.name().into(),
        images: summary.attributed,
        seconds_per_image: crate::evaluation::cost::seconds_per_image(&dir)?.unwrap_or(f64::NAN),
        max_abs_diff: BTreeMap::new(),
        mass_in_box: mass,
        degenerate: summary.degenerate.len(),
    })
}

/// Each row's max |Δ| per map folder against the first row's maps.
fn with_differences(p: &GpuCheckParams, mut rows: Vec<PrecisionRow>) -> Result<Vec<PrecisionRow>> {
    let Some(reference) = rows.first().map(|r| p.out_dir.join(&r.precision)) else { return Ok(rows) };
    for row in &mut rows {
        row.max_abs_diff = map_differences(&reference, &p.out_dir.join(&row.precision))?;
    }
    Ok(rows)
}

/// For every folder of `.npy` maps in `a`: the largest |Δ| against the same file in `b`.
pub fn map_differences(a: &Path, b: &Path) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for dir in std::fs::read_dir(a).map_err(|e| Error::io(a, e))? {
        let dir = dir.map_err(|e| Error::io(a, e))?.path();
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        let npys: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(r) => r
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "npy"))
                .collect(),
            Err(_) => continue,
        };
        let mut worst = 0f64;
        for file in &npys {
            let other = b.join(&name).join(file.file_name().expect("a file"));
            let d = (read_npy(file)? - read_npy(&other)?).abs().max().double_value(&[]);
            worst = worst.max(d);
        }
        if !npys.is_empty() {
            out.insert(name, worst);
        }
    }
    Ok(out)
}

fn read_npy(path: &Path) -> Result<tch::Tensor> {
    crate::io::npy::check(path)?;
    tch::Tensor::read_npy(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))
        .map(|t| t.to_kind(tch::Kind::Double))
}

/// The GPU's name (`nvidia-smi`), or the device as libtorch names it.
fn device_name(device: tch::Device) -> String {
    let smi = std::process::Command::new("nvidia-smi").args(["--query-gpu=name", "--format=csv,noheader"]).output();
    match smi {
        Ok(o) if o.status.success() && device.is_cuda() => {
            String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().into()
        }
        _ => format!("{device:?}"),
    }
}
