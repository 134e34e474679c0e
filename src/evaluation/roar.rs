//! ROAR and KAR (Hooker et al. 2019): remove (ROAR) or keep only (KAR) the fraction r of each
//! image's highest-ranked pixels, retrain a fresh classifier with `[train_classifier]`, and report
//! its test accuracy per r. A map that finds what the model needs drops ROAR accuracy fast and
//! keeps KAR accuracy high; `random` ranks pixels at random, the baseline to beat.
//!
//! Removed pixels get 0 in normalised space (the per-channel mean colour, as Hooker et al.), in the
//! training and, with `modify_test` (Hooker et al.; default), the test images. WhiteBox-Part1 sets
//! them black in the training images only (spec peers §3.5 QUIRK W5): `modify_test = false` comes
//! close to it. This is a run-level procedure, not a per-sample [`crate::metrics::Metric`]: it
//! needs maps of the training split and trains models, so `tools/eval --metric roar` runs it here.
use super::{CurveMean, MetricReport, Stat};
use crate::data::{Dataset, ImageTransform, Sample};
use crate::error::{Error, Result};
use crate::metrics::perturb::ranks;
use crate::metrics::Explain;
use crate::registry::{self, BuildCtx, ModelKind};
use crate::run::Run;
use tch::Tensor;

/// A split held in memory (read once, perturbed for every fraction).
struct Split {
    samples: Vec<Sample>,
    classes: Vec<String>,
    transform: ImageTransform,
}

impl Split {
    /// The split in memory: all of it, or `limit` samples drawn with `seed` (in their order).
    fn load(d: &dyn Dataset, limit: usize, seed: u64) -> Result<Split> {
        let chosen = crate::data::subset((0..d.len()).collect(), limit, seed);
        Ok(Split {
            samples: chosen.into_iter().map(|i| d.get(i)).collect::<Result<_>>()?,
            classes: d.class_names().to_vec(),
            transform: d.transform().clone(),
        })
    }

    /// The split with pixels removed (shares the images' storage until they are perturbed).
    fn removed(&self, ranks: &[Tensor], fraction: f64, keep_top: bool) -> Removed {
        let inner = Split {
            samples: self.samples.iter().map(|s| s.clone_shallow()).collect(),
            classes: self.classes.clone(),
            transform: self.transform.clone(),
        };
        Removed { inner, ranks: ranks.iter().map(|t| t.shallow_clone()).collect(), fraction, keep_top }
    }
}

/// A split whose images lose the pixels that their rank (0 = most relevant) puts in the top
/// `fraction` (ROAR) or outside it (KAR).
struct Removed {
    inner: Split,
    ranks: Vec<Tensor>,
    fraction: f64,
    keep_top: bool,
}

impl Dataset for Removed {
    fn len(&self) -> usize {
        self.inner.samples.len()
    }
    fn get(&self, i: usize) -> Result<Sample> {
        let mut s = self.inner.samples[i].clone_shallow();
        let rank = &self.ranks[i];
        let top = ((rank.numel() as f64) * self.fraction).round() as i64;
        let in_top = rank.lt(top);
        let gone = if self.keep_top { in_top.logical_not() } else { in_top };
        s.input = s.input.masked_fill(&gone.unsqueeze(0), 0.0);
        Ok(s)
    }
    fn name(&self, i: usize) -> String {
        self.inner.samples[i].name.clone()
    }
    fn class_names(&self) -> &[String] {
        &self.inner.classes
    }
    fn transform(&self) -> &ImageTransform {
        &self.inner.transform
    }
    fn modality(&self) -> crate::modality::Modality {
        crate::modality::Modality::Image
    }
}

/// Pixel ranks of every image of `data` from the chosen source.
fn rankings(
    source: &str,
    data: &Split,
    model: &dyn crate::models::Classifier,
    explainer: Option<&dyn Explain>,
    cache: &std::path::Path,
    seed: u64,
) -> Result<Vec<Tensor>> {
    let bar = crate::logging::progress(data.samples.len() as u64, &format!("ROAR maps ({source})"));
    let mut rng = crate::rng::SplitMix::new(seed);
    let out = data
        .samples
        .iter()
        .map(|s| {
            let (h, w) = (s.input.size()[1], s.input.size()[2]);
            let map = match source {
                "boxes" if s.boxes.is_empty() => return Err(Error::ConfigMsg(format!("eval.roar.maps = \"boxes\": sample {} has no box; give data.train and data.test an annot_root and with_bbox = true", s.name))),
                "boxes" => crate::data::box_mask(&s.boxes, h, w),
                "random" => Tensor::from_slice(&(0..h * w).map(|_| rng.uniform() as f32).collect::<Vec<_>>()).view([h, w]),
                "attributor" => {
                    let f = cache.join(format!("{}.npy", s.name));
                    if f.is_file() {
                        Tensor::read_npy(&f).map_err(|e| Error::file(&f, e.to_string()))?
                    } else {
                        let ex = explainer.ok_or_else(|| Error::ConfigMsg("eval.roar.maps = \"attributor\" needs an [attributor]".into()))?;
                        let m = ex.explain(model, s)?;
                        crate::output::maps::write_npy(&f, &m)?;
                        m
                    }
                }
                other => return Err(Error::ConfigMsg(format!("eval.roar.maps = \"{other}\": expected \"attributor\", \"boxes\" or \"random\""))),
            };
            bar.inc(1);
            Ok(ranks(&map))
        })
        .collect();
    bar.finish_and_clear();
    out
}

/// What a ROAR report depends on besides the maps: `[eval.roar]`, and `eval.num_samples` (with
/// its seed) when it limits the train and test images.
pub fn params(cfg: &crate::run::EvalConfig) -> serde_json::Value {
    let mut p = serde_json::to_value(&cfg.roar).expect("json");
    if cfg.num_samples > 0 {
        p["num_samples"] = cfg.num_samples.into();
        p["num_samples_seed"] = cfg.seed.into();
    }
    p
}

/// Runs ROAR/KAR; the report holds `<mode>@<r>` (and `random_<mode>@<r>`) test accuracies and one
/// curve per mode.
pub fn run(
    run: &Run,
    wd: &crate::output::WorkDir,
    eval: &crate::run::EvalConfig,
    model: &dyn crate::models::Classifier,
    explainer: Option<&dyn Explain>,
) -> Result<MetricReport> {
    let cfg = &eval.roar;
    let tc = run.cfg.train_classifier.clone().ok_or_else(|| {
        Error::ConfigMsg("ROAR/KAR retrains the classifier: the config needs a [train_classifier] table".into())
    })?;
    let (n, seed) = (eval.num_samples, eval.seed);
    let (train, test) = (
        Split::load(run.dataset("train")?.as_ref(), n, seed)?,
        Split::load(run.dataset("test")?.as_ref(), n, seed ^ 1)?,
    );
    if n > 0 {
        log::info!(
            "ROAR: {} train and {} test images (eval.num_samples = {n})",
            train.samples.len(),
            test.samples.len()
        );
    }
    let mut sources = vec![cfg.maps.clone()];
    if cfg.random_baseline && cfg.maps != "random" {
        sources.push("random".into());
    }
    let mut report = MetricReport { params: params(eval), ..Default::default() };
    for source in &sources {
        let cache = wd.path("roar/maps");
        let (tr_rank, te_rank) = (
            rankings(source, &train, model, explainer, &cache.join("train"), cfg.seed)?,
            rankings(source, &test, model, explainer, &cache.join("test"), cfg.seed ^ 1)?,
        );
        for mode in &cfg.modes {
            let keep_top = match mode.as_str() {
                "roar" => false,
                "kar" => true,
                other => return Err(Error::ConfigMsg(format!("eval.roar.modes: `{other}` is not roar or kar"))),
            };
            let tag = if source == &cfg.maps { mode.clone() } else { format!("{source}_{mode}") };
            let mut curve = Vec::new();
            for &r in &cfg.fractions {
                let tr = train.removed(&tr_rank, r, keep_top);
                let te = test.removed(&te_rank, if cfg.modify_test { r } else { 0.0 }, keep_top && cfg.modify_test);
                tch::manual_seed(run.cfg.seed as i64);
                let mut model = registry::build::<ModelKind>(
                    &run.fig,
                    "model",
                    &BuildCtx { device: run.device, load_weights: false },
                )?;
                let acc = *crate::training::train(model.as_mut(), &tr, &te, &tc, run.cfg.seed, run.device)?
                    .last()
                    .unwrap_or(&0.0);
                log::info!("{tag} r = {r}: test accuracy {acc:.3}");
                report.aggregate.insert(format!("{tag}@{r}"), Stat { mean: acc, std: 0.0, n: 1 });
                curve.push(acc);
            }
            report.curves.insert(tag, CurveMean { x: cfg.fractions.clone(), mean: curve, n: 1 });
        }
    }
    Ok(report)
}
