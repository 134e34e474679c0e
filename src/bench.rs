//! Throughput of the pipeline's stages on a config's model and data (`tools/bench`), in seconds per
//! image. Time it with `OMP_WAIT_POLICY=PASSIVE` on a shared machine (see README "Benchmarks").
use crate::attributors::{FeatureIba, FeatureIbaParams, RunCtx};
use crate::data::Sample;
use crate::registry::{self, AttributorKind, BuildCtx};
use crate::error::{Error, Result};
use crate::pipeline::Run;
use std::time::Instant;

#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    pub device: String,
    pub threads: i32,
    /// Seconds per image of the estimator pass (forward to the layer + Welford update).
    pub estimation_s_per_image: f64,
    /// Seconds per image of feature IBA (one sample's optimisation with the config's settings).
    pub feature_iba_s_per_image: Vec<f64>,
}

/// Runs the estimator over `n_est` images, then feature IBA on `n_attr` images, `repeat` times.
pub fn run(run: &Run, n_est: usize, n_attr: usize, repeat: usize) -> Result<BenchReport> {
    let mut model = run.model()?;
    model.freeze();
    let p: FeatureIbaParams = run.fig.extract_inner("attributor").map_err(|e| Error::config("attributor", e))?;
    let est_data = run.dataset("estimation")?;
    let data = run.dataset("attribution")?;
    let n_est = n_est.min(est_data.len());
    let mut iba = FeatureIba::new(FeatureIbaParams { n_samples: n_est, estimation_overshoot: false, ..p });
    let cx = RunCtx { device: run.device, seed: run.cfg.seed, state_dir: None };
    let t = Instant::now();
    iba.estimate(model.as_ref(), est_data.as_ref(), &cx)?;
    let estimation = t.elapsed().as_secs_f64() / n_est.max(1) as f64;
    let samples = (0..n_attr.min(data.len())).map(|i| data.get(i)).collect::<Result<Vec<_>>>()?;
    let mut per_image = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        for s in &samples {
            let x = s.image.to_device(run.device);
            iba.optimise(model.as_ref(), &x, s.target, &s.name, run.cfg.seed)?;
        }
        if let tch::Device::Cuda(i) = run.device {
            tch::Cuda::synchronize(i as i64);
        }
        per_image.push(t.elapsed().as_secs_f64() / samples.len().max(1) as f64);
    }
    Ok(BenchReport { device: format!("{:?}", run.device), threads: tch::get_num_threads(), estimation_s_per_image: estimation, feature_iba_s_per_image: per_image })
}

#[derive(Debug, serde::Serialize)]
pub struct BatchReport {
    pub device: String,
    pub method: String,
    /// Seconds per image with one image per call, then with the config's batch size.
    pub s_per_image_single: f64,
    pub s_per_image_batched: f64,
    pub batch_size: usize,
}

/// Times the config's attributor on `n` attribution images, one at a time and in its batches
/// (after one warm-up call).
pub fn run_batched(run: &Run, n: usize) -> Result<BatchReport> {
    let mut model = run.model()?;
    model.freeze();
    let mut attr = registry::build::<AttributorKind>(&run.fig, "attributor", &BuildCtx { device: run.device, load_weights: true })?;
    attr.check(model.as_ref())?;
    let data = run.dataset("attribution")?;
    let samples = (0..n.min(data.len())).map(|i| data.get(i)).collect::<Result<Vec<Sample>>>()?;
    let cx = RunCtx { device: run.device, seed: run.cfg.seed, state_dir: None };
    attr.attribute(model.as_ref(), &samples[0], &cx)?;
    let sync = || {
        if let tch::Device::Cuda(i) = run.device {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let t = Instant::now();
    for s in &samples {
        attr.attribute(model.as_ref(), s, &cx)?;
    }
    sync();
    let single = t.elapsed().as_secs_f64() / samples.len() as f64;
    let bs = attr.batch_size();
    let t = Instant::now();
    for chunk in samples.chunks(bs) {
        attr.attribute_batch(model.as_ref(), chunk, &cx)?;
    }
    sync();
    let batched = t.elapsed().as_secs_f64() / samples.len() as f64;
    let method: String = run.fig.extract_inner("attributor.type").unwrap_or_default();
    Ok(BatchReport { device: format!("{:?}", run.device), method, s_per_image_single: single, s_per_image_batched: batched, batch_size: bs })
}
