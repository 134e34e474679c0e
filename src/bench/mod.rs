//! Throughput of the pipeline's stages on a config's model and data (`tools/bench`), in seconds per
//! image. Time it with `OMP_WAIT_POLICY=PASSIVE` on a shared machine (see README "Benchmarks").
use crate::attributors::input_iba::{flops, InputIbaParams, STAGE_SECONDS};
use crate::attributors::{AttributionCtx, Attributor, Split, Splits};
use crate::data::{Dataset, ImageTransform, Sample};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{self, AttributorKind, BuildCtx};
use crate::run::Run;
use std::time::Instant;
use tch::Tensor;

mod fitted;
pub mod gpu_check;
pub use fitted::{run_fitted, FittedReport};

#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    pub device: String,
    pub threads: i32,
    /// Seconds per image of the estimator pass (forward to the layer + Welford update).
    pub estimation_s_per_image: f64,
    /// Seconds per image of feature IBA (one sample's optimisation with the config's settings).
    pub feature_iba_s_per_image: Vec<f64>,
}

/// The config's attributor built through the registry with its estimator reading exactly
/// `n_est` samples (`table`: where the estimator's keys live, `attributor` or
/// `attributor.feat_iba`), checked against `model`.
fn estimating_attributor(
    run: &Run,
    table: &str,
    n_est: usize,
    model: &dyn crate::models::Classifier,
) -> Result<Box<dyn Attributor>> {
    let fig = run
        .fig
        .clone()
        .merge((format!("{table}.n_samples"), n_est))
        .merge((format!("{table}.estimation_overshoot"), false));
    let attr =
        registry::build::<AttributorKind>(&fig, "attributor", &BuildCtx { device: run.device, load_weights: true })?;
    attr.check(model)?;
    Ok(attr)
}

/// The estimation and attribution splits of the config, or `n_est` and `n_images` random inputs
/// of side `random` when given (for models whose data is not here).
fn estimation_and_attribution(
    run: &Run,
    model: &dyn crate::models::Classifier,
    n_est: usize,
    n_images: usize,
    random: Option<i64>,
) -> Result<(Box<dyn Dataset>, Box<dyn Dataset>)> {
    Ok(match random {
        Some(side) => (random_inputs(run, model, n_est, side), random_inputs(run, model, n_images, side)),
        None => (run.dataset("estimation")?, run.dataset("attribution")?),
    })
}

/// Runs the estimator over `n_est` images, then feature IBA on `n_attr` images, `repeat` times
/// (random images of side `random` for both when given).
pub fn run(run: &Run, n_est: usize, n_attr: usize, repeat: usize, random: Option<i64>) -> Result<BenchReport> {
    let mut model = run.model()?;
    model.freeze();
    let (est_data, data) = estimation_and_attribution(run, model.as_ref(), n_est, n_attr, random)?;
    let n_est = n_est.min(est_data.len());
    let mut iba = estimating_attributor(run, "attributor", n_est, model.as_ref())?;
    let cx = AttributionCtx { device: run.device, seed: run.cfg.seed, ..Default::default() };
    let t = Instant::now();
    iba.fit(model.as_ref(), &Splits::one(Split::Estimation, est_data.as_ref()), &cx)?;
    let estimation = t.elapsed().as_secs_f64() / n_est.max(1) as f64;
    let samples = (0..n_attr.min(data.len())).map(|i| data.get(i)).collect::<Result<Vec<_>>>()?;
    let mut per_image = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        for s in &samples {
            iba.attribute(model.as_ref(), s, &cx)?;
        }
        if let tch::Device::Cuda(i) = run.device {
            tch::Cuda::synchronize(i as i64);
        }
        per_image.push(t.elapsed().as_secs_f64() / samples.len().max(1) as f64);
    }
    Ok(BenchReport {
        device: format!("{:?}", run.device),
        threads: tch::get_num_threads(),
        estimation_s_per_image: estimation,
        feature_iba_s_per_image: per_image,
    })
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

/// Times the config's attributor on `n` attribution images (random ones of side `random` when
/// given), one at a time and in its batches, each after a warm-up call of its shape (oneDNN and
/// cuDNN set up kernels per shape); each figure is the fastest of `repeat` passes, since on a
/// shared machine the slower passes measure the neighbours.
pub fn run_batched(run: &Run, n: usize, repeat: usize, random: Option<i64>) -> Result<BatchReport> {
    let mut model = run.model()?;
    model.freeze();
    let mut attr = run.attributor()?;
    attr.check(model.as_ref())?;
    let data = match random {
        Some(side) => random_inputs(run, model.as_ref(), n, side),
        None => run.dataset("attribution")?,
    };
    let samples = (0..n.min(data.len())).map(|i| data.get(i)).collect::<Result<Vec<Sample>>>()?;
    let cx = AttributionCtx { device: run.device, seed: run.cfg.seed, ..Default::default() };
    let bs = attr.batch_size();
    let mut pass = |batch: usize| -> Result<f64> {
        attr.attribute_batch(model.as_ref(), &samples[..batch.min(samples.len())], &cx)?;
        let mut best = f64::INFINITY;
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            for chunk in samples.chunks(batch) {
                attr.attribute_batch(model.as_ref(), chunk, &cx)?;
            }
            if let tch::Device::Cuda(i) = run.device {
                tch::Cuda::synchronize(i as i64);
            }
            best = best.min(t.elapsed().as_secs_f64() / samples.len() as f64);
        }
        Ok(best)
    };
    let single = pass(1)?;
    let batched = pass(bs)?;
    let method: String = run.fig.extract_inner("attributor.type").unwrap_or_default();
    Ok(BatchReport {
        device: format!("{:?}", run.device),
        method,
        s_per_image_single: single,
        s_per_image_batched: batched,
        batch_size: bs,
    })
}

/// Random inputs of one size, for timing models whose data is not here: images (VGG16 at 224²),
/// or sentences (the DeepLSTM at IMDb's ≈ 230 words a review; token ids in 2..vocab: no `<unk>`,
/// no `<pad>`).
struct RandomInputs {
    n: usize,
    kind: RandomKind,
    classes: Vec<String>,
    transform: ImageTransform,
}

enum RandomKind {
    Images([i64; 3]),
    Sentences { len: i64, vocab: i64 },
}

impl Dataset for RandomInputs {
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, i: usize) -> Result<Sample> {
        let mut g = crate::rng::SplitMix::new(i as u64);
        let image = match self.kind {
            RandomKind::Images(shape) => {
                let v: Vec<f32> =
                    (0..shape.iter().product::<i64>()).map(|_| (g.uniform() * 2.0 - 1.0) as f32 * 1.7).collect();
                Tensor::from_slice(&v).view(shape)
            }
            RandomKind::Sentences { len, vocab } => {
                Tensor::from_slice(&(0..len).map(|_| 2 + g.below((vocab - 2).max(1) as u64) as i64).collect::<Vec<_>>())
            }
        };
        Ok(Sample { name: self.name(i), input: image, target: (i % self.classes.len()) as i64, boxes: Vec::new() })
    }
    fn name(&self, i: usize) -> String {
        format!("random_{i:05}")
    }
    fn class_names(&self) -> &[String] {
        &self.classes
    }
    fn transform(&self) -> &ImageTransform {
        &self.transform
    }
    fn modality(&self) -> Modality {
        match self.kind {
            RandomKind::Images(_) => Modality::Image,
            RandomKind::Sentences { .. } => Modality::Tokens,
        }
    }
}

/// `n` random inputs for `model`: images [3, side, side], or, for a text model, sentences of
/// `side` tokens below the config's `model.vocab_size`.
pub(crate) fn random_inputs(run: &Run, model: &dyn crate::models::Classifier, n: usize, side: i64) -> Box<dyn Dataset> {
    let kind = if model.modality() == Modality::Tokens {
        RandomKind::Sentences { len: side, vocab: run.fig.extract_inner::<i64>("model.vocab_size").unwrap_or(100) }
    } else {
        RandomKind::Images([3, side, side])
    };
    Box::new(RandomInputs {
        n,
        kind,
        classes: (0..model.num_classes()).map(|c| c.to_string()).collect(),
        transform: ImageTransform::default(),
    })
}

#[derive(Debug, serde::Serialize)]
pub struct StageReport {
    pub stage: &'static str,
    pub seconds_per_image: f64,
    /// `None` where the model cannot count its FLOPs (the LSTM).
    pub flops_per_image: Option<f64>,
    /// Achieved FLOP/s (flops_per_image / seconds_per_image).
    pub flop_per_s: Option<f64>,
}

#[derive(Debug, serde::Serialize)]
pub struct InputIbaReport {
    pub device: String,
    pub threads: i32,
    pub precision: String,
    /// The first sample's input shape ([C,H,W]; text: [T] token ids).
    pub image: Vec<i64>,
    pub layer: String,
    pub samples_per_batch: usize,
    pub images: usize,
    pub estimation_images: usize,
    /// The estimation row is per estimation image; the run pays it `n_samples` times, once.
    pub stages: Vec<StageReport>,
    /// Feature IBA + WGAN + input IBA, seconds per image.
    pub attribution_s_per_image: f64,
}

fn stage(stage: &'static str, seconds: f64, flops: Option<f64>) -> StageReport {
    StageReport {
        stage,
        seconds_per_image: seconds,
        flops_per_image: flops,
        flop_per_s: flops.map(|f| f / seconds.max(1e-12)),
    }
}

/// Times InputIBA's stages on `n_images` attribution images (random ones of side `random` when
/// given), after an estimator over `n_est` images, with the config's settings (`samples_per_batch`
/// included), and counts each stage's FLOPs from the model's layer shapes.
pub fn run_input_iba(run: &Run, n_est: usize, n_images: usize, random: Option<i64>) -> Result<InputIbaReport> {
    let mut model = run.model()?;
    model.freeze();
    // the FLOP count reads the stages' settings; the attribution itself is built by the registry
    let cfg: InputIbaParams = run.fig.extract_inner("attributor").map_err(|e| Error::config("attributor", e))?;
    let (est_data, data) = estimation_and_attribution(run, model.as_ref(), n_est, n_images, random)?;
    let n_est = n_est.min(est_data.len());
    let mut attr = estimating_attributor(run, "attributor.feat_iba", n_est, model.as_ref())?;
    let cx = AttributionCtx { device: run.device, seed: run.cfg.seed, ..Default::default() };
    let t = Instant::now();
    attr.fit(model.as_ref(), &Splits::one(Split::Estimation, est_data.as_ref()), &cx)?;
    let est_s = t.elapsed().as_secs_f64() / n_est.max(1) as f64;
    let samples = (0..n_images.min(data.len())).map(|i| data.get(i)).collect::<Result<Vec<_>>>()?;
    let image = samples[0].input.size();
    let precision = run.cfg.precision;
    precision.apply()?;
    if run.device.is_cuda() {
        precision.run(|| attr.attribute(model.as_ref(), &samples[0], &cx))?; // warm-up: cuDNN autotuning, allocator
    }
    let mut secs = [0f64; 3];
    let mut gan_epochs = 0.0; // with [gan.stop], the epochs each GAN ran
    let first = |a: &crate::explanation::Attribution, tag: &str| {
        a.curves.iter().find(|(t, _)| t == tag).and_then(|(_, v)| v.first()).copied()
    };
    for chunk in samples.chunks(attr.batch_size()) {
        for a in precision.run(|| attr.attribute_batch(model.as_ref(), chunk, &cx))? {
            for (s, tag) in secs.iter_mut().zip(STAGE_SECONDS) {
                *s += first(&a, tag).unwrap_or(0.0);
            }
            gan_epochs += first(&a, "gan/epochs").unwrap_or(cfg.gan.epochs as f64);
        }
    }
    let n = samples.len() as f64;
    let mut f = stage_flops(model.as_ref(), &cfg, &samples[0].input.to_device(run.device))?;
    if let Some(f) = f.as_mut().filter(|_| cfg.gan.epochs > 0) {
        f.wgan *= gan_epochs / n / cfg.gan.epochs as f64; // counted for the full schedule
    }
    let stages = vec![
        stage("estimation", est_s, f.as_ref().map(|f| f.estimation_per_image)),
        stage("feature_iba", secs[0] / n, f.as_ref().map(|f| f.feature_iba)),
        stage("wgan", secs[1] / n, f.as_ref().map(|f| f.wgan)),
        stage("input_iba", secs[2] / n, f.as_ref().map(|f| f.input_iba)),
    ];
    Ok(InputIbaReport {
        device: format!("{:?}", run.device),
        threads: tch::get_num_threads(),
        precision: precision.name().into(),
        image,
        layer: cfg.feat_iba.layer.clone(),
        samples_per_batch: attr.batch_size(),
        images: samples.len(),
        estimation_images: n_est,
        attribution_s_per_image: secs.iter().sum::<f64>() / n,
        stages,
    })
}

/// The stages' FLOPs for one [C,H,W] image; `None` for models whose layers cannot be counted
/// (text: an LSTM's work depends on the sentence).
fn stage_flops(
    model: &dyn crate::models::Classifier,
    cfg: &InputIbaParams,
    x: &Tensor,
) -> Result<Option<flops::StageFlops>> {
    let (Ok(image), false) = (<[i64; 3]>::try_from(x.size()), model.modality() == Modality::Tokens) else {
        return Ok(None);
    };
    let Some(macs) = model.mac_counter().and_then(|m| m.macs(image, &cfg.feat_iba.layer)) else { return Ok(None) };
    let feature: [i64; 3] = tch::no_grad(|| model.features(&x.unsqueeze(0), &cfg.feat_iba.layer))?.size()[1..]
        .try_into()
        .expect("[N,C,h,w]");
    Ok(Some(flops::per_image(cfg, macs, feature)))
}

#[derive(Debug, serde::Serialize)]
pub struct MetricBench {
    pub device: String,
    pub threads: i32,
    pub metric: String,
    pub image: Vec<i64>,
    pub images: usize,
    pub images_per_s: f64,
    pub seconds_per_image: f64,
}

/// Times a registered metric (default parameters, or the config's `[eval.metrics.<label>]`) on
/// `n` images with random maps: the evaluation's hot path (insertion/deletion: ≈ 10,000 forwards
/// per 224² image).
pub fn run_metric(run: &Run, label: &str, n: usize, random: Option<i64>) -> Result<MetricBench> {
    use crate::registry::MetricKind;
    let mut model = run.model()?;
    model.freeze();
    let data: Box<dyn Dataset> = match random {
        Some(side) => random_inputs(run, model.as_ref(), n, side),
        None => run.dataset("attribution")?,
    };
    let (fig, key) = crate::evaluation::metric_config(&run.fig, label);
    let mut metric = registry::build::<MetricKind>(&fig, &key, &BuildCtx { device: run.device, load_weights: true })?;
    let samples = (0..n.min(data.len())).map(|i| data.get(i)).collect::<Result<Vec<_>>>()?;
    let mut g = crate::rng::SplitMix::new(7);
    let maps: Vec<Tensor> = samples
        .iter()
        .map(|s| {
            // a sentence's map is one score per word, [1,T]; an image's [H,W]
            let size = s.input.size();
            let (h, w) = if model.modality() == Modality::Tokens { (1, size[0]) } else { (size[1], size[2]) };
            Tensor::from_slice(&(0..h * w).map(|_| g.uniform() as f32).collect::<Vec<_>>()).view([h, w])
        })
        .collect();
    let t = Instant::now();
    for (s, m) in samples.iter().zip(&maps) {
        metric.evaluate(
            model.as_ref(),
            &crate::metrics::EvalSample { sample: s, map: m, target: s.target, device: run.device, explainer: None },
        )?;
    }
    if let tch::Device::Cuda(i) = run.device {
        tch::Cuda::synchronize(i as i64);
    }
    let secs = t.elapsed().as_secs_f64() / samples.len().max(1) as f64;
    Ok(MetricBench {
        device: format!("{:?}", run.device),
        threads: tch::get_num_threads(),
        metric: label.into(),
        image: samples[0].input.size(),
        images: samples.len(),
        images_per_s: 1.0 / secs,
        seconds_per_image: secs,
    })
}
