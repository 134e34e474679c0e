//! `[senn_sweep]`: the seed's accuracy-vs-λ study (spec peers §2.9, `plot_lambda_accuracy` over
//! `num_seeds`) with the robustness-vs-λ figure beside it. For each robustness weight λ and seed
//! the config's SENN is trained into `<work-dir>/sweep/lambda_<λ>_seed_<s>/` (a point trained
//! under the same settings is reused; a killed one, or one given more epochs, resumes from its
//! checkpoints), scored on
//! `data.test` for accuracy and for the local Lipschitz estimate of its relevances
//! ([`crate::metrics::lipschitz`]), and the whole written as `sweep.json` and two plots.
use super::Run;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::fitting::{Batch, Rows};
use crate::models::{Classifier, SelfExplaining};
use crate::output::plot::{LinePlot, Series};
use crate::output::WorkDir;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SennSweepConfig {
    /// The robustness weights λ (`train_senn.robust_reg`), the seed's 1e-4 … 1.
    pub lambdas: Vec<f64>,
    /// The seeds (`train_senn.manual_seed`); empty: `num_seeds` seeds m, m + 222, m + 444, …
    /// from the config's m (111 gives the seed's COMPAS seeds 111, 333, 555).
    pub seeds: Vec<u64>,
    pub num_seeds: usize,
    /// The ball of the Lipschitz estimate: δ ~ U(−ε, ε) per input element (the model's units).
    pub lipschitz_eps: f64,
    /// Random points per test sample.
    pub lipschitz_samples: usize,
    /// Test samples estimated (the first of `data.test`).
    pub lipschitz_rows: usize,
    /// libtorch seed of the estimate's draws.
    pub lipschitz_seed: u64,
}

impl Default for SennSweepConfig {
    fn default() -> Self {
        SennSweepConfig {
            lambdas: vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0],
            seeds: Vec::new(),
            num_seeds: 1,
            lipschitz_eps: 0.1,
            lipschitz_samples: 20,
            lipschitz_rows: 200,
            lipschitz_seed: 0,
        }
    }
}

impl SennSweepConfig {
    pub fn validate(&self) -> crate::config::Checked {
        use crate::config::validate::{at_least, non_negative, positive};
        at_least("lambdas", self.lambdas.len() as i64, 1)?;
        self.lambdas.iter().try_for_each(|&l| non_negative("lambdas", l))?;
        at_least("num_seeds", self.num_seeds as i64, 1)?;
        positive("lipschitz_eps", self.lipschitz_eps)?;
        at_least("lipschitz_samples", self.lipschitz_samples as i64, 1)?;
        at_least("lipschitz_rows", self.lipschitz_rows as i64, 1)
    }

    fn seeds(&self, first: u64) -> Vec<u64> {
        if self.seeds.is_empty() {
            (0..self.num_seeds as u64).map(|i| first + 222 * i).collect()
        } else {
            self.seeds.clone()
        }
    }
}

/// One trained SENN of the sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    pub lambda: f64,
    pub seed: u64,
    pub test_accuracy: f64,
    /// Mean and largest L̂ over the estimated test samples.
    pub lipschitz_mean: f64,
    pub lipschitz_max: f64,
    /// On a generated COMPAS file (`[compas]`): the mean share of the planted rule's columns among
    /// each test row's k largest |relevances| of its predicted class, k = the planted columns' count
    /// (recall@k; chance k/11).
    pub planted_recall: Option<f64>,
    pub weights: PathBuf,
}

impl Run {
    /// Trains (or reuses) every point of `[senn_sweep]`, measures it, and writes `sweep.json`,
    /// `accuracy_vs_lambda.png` and `robustness_vs_lambda.png` into `wd`.
    pub fn senn_sweep(&self, wd: &WorkDir) -> Result<Vec<SweepPoint>> {
        let sc = self.cfg.senn_sweep.clone().unwrap_or_default();
        let tc = self.cfg.train_senn.as_ref().ok_or_else(|| {
            Error::ConfigMsg("the SENN sweep trains the config's SENN: add its [train_senn] table".into())
        })?;
        let mut points = Vec::new();
        for &lambda in &sc.lambdas {
            for seed in sc.seeds(tc.manual_seed) {
                let weights = wd.path(&format!("sweep/lambda_{lambda:e}_seed_{seed}/senn.safetensors"));
                let run = self.with_options(&[
                    format!("train_senn.robust_reg={lambda:e}"),
                    format!("train_senn.manual_seed={seed}"),
                    format!("model.weights={}", toml::Value::String(weights.display().to_string())),
                ])?;
                points.push((lambda, seed, weights, run));
            }
        }
        let (mut done, total) = (Vec::new(), points.len());
        for (i, (lambda, seed, weights, run)) in points.into_iter().enumerate() {
            log::info!("sweep point {}/{total}: lambda {lambda:e}, seed {seed}", i + 1);
            // the data, and the SENN when its weights are missing; weights of other settings are
            // trained again, resuming from their checkpoints where only the epochs differ (other
            // settings are refused there, naming the checkpoint)
            run.prepare()?;
            if !run.senn_trained()? {
                run.train_senn()?;
            }
            let (model, test) = (run.model()?, run.dataset("test")?);
            let test_accuracy = super::senn::accuracy(model.as_ref(), test.as_ref(), tc.batch_size, run.device)?;
            let (lipschitz_mean, lipschitz_max) = lipschitz(model.as_ref(), test.as_ref(), &sc, run.device)?;
            let planted_recall = run
                .cfg
                .compas
                .is_some()
                .then(|| planted_recall(model.as_ref(), test.as_ref(), run.device))
                .transpose()?;
            done.push(SweepPoint {
                lambda,
                seed,
                test_accuracy,
                lipschitz_mean,
                lipschitz_max,
                planted_recall,
                weights,
            });
        }
        write(wd, &done)?;
        Ok(done)
    }
}

fn explainer(model: &dyn Classifier) -> Result<&dyn SelfExplaining> {
    model.self_explaining().ok_or_else(|| Error::Model("not a self-explaining model".into()))
}

/// Mean and largest local Lipschitz estimate over the first `lipschitz_rows` test samples.
fn lipschitz(
    model: &dyn Classifier,
    test: &dyn Dataset,
    sc: &SennSweepConfig,
    device: tch::Device,
) -> Result<(f64, f64)> {
    let explainer = explainer(model)?;
    let part = Rows { data: test, rows: (0..test.len().min(sc.lipschitz_rows)).collect() };
    tch::manual_seed(sc.lipschitz_seed as i64);
    let mut all = Vec::new();
    for at in part.batches(256) {
        let b = Batch::load(&part, &at, device)?;
        let l = crate::metrics::lipschitz::local_lipschitz(explainer, &b.x, sc.lipschitz_eps, sc.lipschitz_samples);
        all.extend(Vec::<f64>::try_from(l.to_device(tch::Device::Cpu))?);
    }
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    Ok((mean, all.iter().copied().fold(0.0, f64::max)))
}

/// Recall@k of [`crate::data::compas_gen::PLANTED`] in the relevances of the predicted class,
/// over `data.test` (the concepts of a COMPAS SENN are its columns, in the file's order).
fn planted_recall(model: &dyn Classifier, test: &dyn Dataset, device: tch::Device) -> Result<f64> {
    use crate::data::{compas::FEATURES, compas_gen::PLANTED};
    let explainer = explainer(model)?;
    let planted: Vec<i64> =
        FEATURES.iter().enumerate().filter(|(_, f)| PLANTED.contains(f)).map(|(k, _)| k as i64).collect();
    let planted = tch::Tensor::from_slice(&planted);
    let (part, mut hits) = (Rows::all(test), 0i64);
    for at in part.batches(256) {
        let b = Batch::load(&part, &at, device)?;
        let (_, theta) = explainer.concepts_and_relevances(&b.x);
        let pred = tch::no_grad(|| model.forward(&b.x)).argmax(-1, false);
        let relevance = theta.gather(2, &pred.view([-1, 1, 1]).expand([-1, theta.size()[1], 1], false), false);
        let (_, top) = relevance.squeeze_dim(-1).abs().topk(planted.size()[0], 1, true, false);
        let is_planted = top.unsqueeze(-1).eq_tensor(&planted.to_device(top.device()).view([1, 1, -1]));
        hits += is_planted.sum(tch::Kind::Int64).int64_value(&[]);
    }
    Ok(hits as f64 / (planted.size()[0] as usize * test.len().max(1)) as f64)
}

/// `sweep.json` (every point, and per λ the mean and standard deviation over seeds) and the two
/// plots (PNG and SVG) against λ on a log axis (λ = 0 left out), one line per seed and their mean.
fn write(wd: &WorkDir, points: &[SweepPoint]) -> Result<()> {
    let mut lambdas: Vec<f64> = points.iter().map(|p| p.lambda).collect();
    lambdas.dedup();
    let stats = |l: f64, f: &dyn Fn(&SweepPoint) -> f64| {
        let v: Vec<f64> = points.iter().filter(|p| p.lambda == l).map(f).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt())
    };
    let by_lambda: Vec<serde_json::Value> = lambdas
        .iter()
        .map(|&l| {
            let (acc, acc_sd) = stats(l, &|p| p.test_accuracy);
            let (lip, lip_sd) = stats(l, &|p| p.lipschitz_mean);
            let (recall, _) = stats(l, &|p| p.planted_recall.unwrap_or(f64::NAN));
            serde_json::json!({ "lambda": l, "test_accuracy": acc, "test_accuracy_std": acc_sd,
                                "lipschitz_mean": lip, "lipschitz_mean_std": lip_sd,
                                "planted_recall": if recall.is_finite() { Some(recall) } else { None } })
        })
        .collect();
    let json = serde_json::json!({ "points": points, "by_lambda": by_lambda });
    crate::io::atomic::write(&wd.path("sweep.json"), serde_json::to_string_pretty(&json).expect("json").as_bytes())?;
    let mut seeds: Vec<u64> = points.iter().map(|p| p.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    for (file, y_label, f) in [
        ("accuracy_vs_lambda.png", "test accuracy", (|p: &SweepPoint| p.test_accuracy) as fn(&SweepPoint) -> f64),
        ("robustness_vs_lambda.png", "mean local lipschitz estimate", |p: &SweepPoint| p.lipschitz_mean),
    ] {
        let mut series: Vec<Series> = seeds
            .iter()
            .map(|&s| {
                let mine: Vec<&SweepPoint> = points.iter().filter(|p| p.seed == s).collect();
                Series {
                    name: format!("seed {s}"),
                    x: mine.iter().map(|p| p.lambda).collect(),
                    y: mine.iter().map(|p| f(p)).collect(),
                }
            })
            .collect();
        if seeds.len() > 1 {
            let y = lambdas.iter().map(|&l| stats(l, &|p| f(p)).0).collect();
            series.push(Series { name: "mean".into(), x: lambdas.clone(), y });
        }
        let title = format!("senn: {} vs lambda", if file.starts_with("acc") { "accuracy" } else { "robustness" });
        LinePlot { title, x_label: "lambda".into(), y_label: y_label.into(), x_log: true, series }
            .write(&wd.path(file))?;
    }
    Ok(())
}
