//! The attribution loop: fit the attributor on the splits it declares, then explain every sample
//! of the attribution split (or one shard of it) in the attributor's batches, skipping samples
//! whose outputs exist, recording failed ones and going on.
use super::Run;
use crate::attributors::{AttributionCtx, Attributor};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::models::Classifier;
use crate::output::{MapSink, WorkDir};

/// The work dir's folder of a trained explainer's checkpoints.
pub const CHECKPOINTS: &str = "checkpoints";
/// The work dir's TensorBoard run of a trained explainer's training curves.
pub const FIT_EVENTS: &str = "fit";

/// One of `count` disjoint parts of the attribution split (`tools/train --shard index/count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// `i/n` with 0 ≤ i < n (Slurm's `$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or("expected i/n, e.g. 0/4")?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|e| e.to_string())?,
            n.trim().parse::<usize>().map_err(|e| e.to_string())?,
        );
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 ≤ i < n"));
        }
        Ok(Shard { index, count })
    }
}

/// The lock an unsharded run (or a set of `--jobs`) holds on its work dir: two of them would
/// attribute the same samples at once; the second waits and then finds them done.
pub(super) fn whole_run_lock(wd: &WorkDir) -> Result<crate::io::lock::FileLock> {
    crate::io::lock::FileLock::acquire_or_say(
        &wd.state("attribution.lock"),
        "another run is attributing in this work dir",
    )
}

/// Where a run writes its [`Summary`]: `summary.json`, or one file per shard.
pub(super) fn summary_file(wd: &WorkDir, shard: Option<Shard>) -> std::path::PathBuf {
    match shard {
        Some(s) => wd.path(&format!("summary.shard-{}-of-{}.json", s.index, s.count)),
        None => wd.path("summary.json"),
    }
}

/// A run's frozen model, its fitted attributor, the context they attribute in, and the
/// attribution split.
pub(super) struct Fitted {
    model: Box<dyn Classifier>,
    attr: Box<dyn Attributor>,
    cx: AttributionCtx,
    pub(super) data: Box<dyn Dataset>,
}

/// What an attribution run did.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub attributed: usize,
    pub skipped: usize,
    /// (sample, error) of samples that failed; the run went on without them.
    pub failed: Vec<(String, String)>,
    /// (sample, reasons) of results that say nothing (chance-level class loss, constant maps).
    pub degenerate: Vec<(String, Vec<String>)>,
}

impl Summary {
    pub(super) fn write(&self, path: &std::path::Path) -> Result<()> {
        crate::io::atomic::write(path, serde_json::to_string_pretty(self).expect("json").as_bytes())
    }

    fn record(&mut self, s: &crate::data::Sample, e: crate::explanation::Explained) {
        self.attributed += 1;
        if !e.degenerate.is_empty() {
            self.degenerate.push((s.name.clone(), e.degenerate));
        }
    }
}

impl Run {
    /// Records a failed sample and goes on, or stops with `output.fail_fast`.
    fn failed(&self, summary: &mut Summary, name: String, e: Error) -> Result<()> {
        if self.cfg.output.fail_fast {
            return Err(e);
        }
        log::error!("{e}; going on with the next sample");
        summary.failed.push((name, e.to_string()));
        Ok(())
    }

    /// The gallery (or text pages) of every output of `data` in `wd`, as a finished run leaves them.
    pub(super) fn finish_outputs(&self, wd: &WorkDir, data: &dyn Dataset) -> Result<()> {
        let specs = self.attributor()?.outputs();
        crate::output::write_index(wd, &specs, data.modality(), data.class_names())
    }

    /// The frozen model and the attributor, checked against it and fitted on the splits it
    /// declares (the estimator and a trained explainer's checkpoints cached in `wd`, so that a
    /// later run or another shard finds them), with the context attribution needs and the
    /// attribution split (loaded after the model: a missing model is named first).
    pub(super) fn fitted(&self, wd: &WorkDir) -> Result<Fitted> {
        let mut model = self.model()?;
        model.freeze();
        let mut attr = self.attributor()?;
        attr.check(model.as_ref())?;
        let splits = self.splits(attr.as_ref())?;
        let data = self.dataset("attribution")?;
        if data.modality() != model.modality() {
            return Err(Error::ConfigMsg(format!(
                "data.attribution holds {} inputs, the model reads {} inputs",
                data.modality(),
                model.modality()
            )));
        }
        let cx = AttributionCtx {
            device: self.device,
            seed: self.cfg.seed,
            state_dir: Some(wd.path("state")),
            model_digest: self.model_digest()?,
            checkpoint_dir: Some(wd.path(CHECKPOINTS)),
            scalars: Some(std::sync::Arc::new(std::sync::Mutex::new(crate::output::LazyEventWriter::new(
                &wd.path(FIT_EVENTS),
            )))),
        };
        attr.fit(model.as_ref(), &splits.view(), &cx)?;
        let report = attr.fit_report();
        crate::output::fit_report::write(wd.root(), &report.figures, &report.pictures, &report.tables)?;
        Ok(Fitted { model, attr, cx, data })
    }

    /// The attribution run into `wd`; with `shard = Some(Shard { index, count })` only the samples
    /// whose position k in the attribution split has k mod count = index.
    pub fn attribute(&self, wd: &WorkDir, shard: Option<Shard>) -> Result<Summary> {
        // shards split the samples and need no such lock
        let _whole = match shard {
            None => Some(whole_run_lock(wd)?),
            Some(_) => None,
        };
        let Fitted { model, mut attr, cx, data } = self.fitted(wd)?;
        let precision = self.cfg.precision;
        precision.apply()?;
        let specs = attr.outputs();
        let mut sink = MapSink::new(wd, self.cfg.output.clone(), specs.clone(), data.modality())?;
        let mut summary = Summary::default();
        let mine: Vec<usize> = (0..data.len()).filter(|&i| shard.is_none_or(|s| i % s.count == s.index)).collect();
        let pending: Vec<usize> = mine.iter().copied().filter(|&i| !sink.is_done(&data.name(i))).collect();
        summary.skipped = mine.len() - pending.len();
        let bar = crate::logging::progress(mine.len() as u64, "attribution").every(std::time::Duration::from_secs(2));
        bar.inc(summary.skipped as u64);
        for chunk in pending.chunks(attr.batch_size().max(1)) {
            let mut samples = Vec::new();
            for &i in chunk {
                match data.get(i) {
                    Ok(s) => samples.push((i, s)),
                    Err(e) => self.failed(&mut summary, data.name(i), e)?,
                }
            }
            let batch: Vec<_> = samples.iter().map(|(_, s)| s.clone_shallow()).collect();
            let names = batch.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
            let t = std::time::Instant::now();
            match crate::panics::guard(&names, || precision.run(|| attr.attribute_batch(model.as_ref(), &batch, &cx))) {
                Ok(results) => {
                    let seconds = t.elapsed().as_secs_f64() / batch.len().max(1) as f64;
                    let probs = probabilities(model.as_ref(), &batch, self.device)?;
                    for (((i, s), a), p) in samples.iter().zip(results).zip(&probs) {
                        let e = explained(s, &a, p, model.num_classes(), &specs, seconds);
                        sink.write(*i, s, &a, &e, data.as_ref())?;
                        summary.record(s, e);
                    }
                }
                // one bad sample must not take its batch with it: redo the batch one by one
                Err(_) if samples.len() > 1 => {
                    for (i, s) in &samples {
                        let t = std::time::Instant::now();
                        match crate::panics::guard(&s.name, || precision.run(|| attr.attribute(model.as_ref(), s, &cx)))
                        {
                            Ok(a) => {
                                let seconds = t.elapsed().as_secs_f64();
                                let p = probabilities(model.as_ref(), std::slice::from_ref(s), self.device)?;
                                let e = explained(s, &a, &p[0], model.num_classes(), &specs, seconds);
                                sink.write(*i, s, &a, &e, data.as_ref())?;
                                summary.record(s, e);
                            }
                            Err(e) => self.failed(&mut summary, s.name.clone(), e)?,
                        }
                    }
                }
                Err(e) => {
                    self.failed(&mut summary, samples.first().map(|(_, s)| s.name.clone()).unwrap_or_default(), e)?
                }
            }
            bar.inc_named(chunk.len() as u64, &chunk.last().map(|&i| data.name(i)).unwrap_or_default());
        }
        bar.finish_and_clear();
        sink.finish(data.class_names())?;
        summary.write(&summary_file(wd, shard))?;
        Ok(summary)
    }
}

/// Each sample's softmax [classes] on the CPU: one forward for a batch of same-shaped inputs
/// (images), one per sample otherwise (sentences differ in length).
fn probabilities(
    model: &dyn crate::models::Classifier,
    samples: &[crate::data::Sample],
    device: tch::Device,
) -> Result<Vec<tch::Tensor>> {
    let forward = |x: tch::Tensor| -> Result<tch::Tensor> {
        let x = model.embed(&x.to_device(device))?;
        Ok(tch::no_grad(|| model.forward(&x).softmax(-1, tch::Kind::Double)).to_device(tch::Device::Cpu))
    };
    if !samples.is_empty() && samples.windows(2).all(|w| w[0].input.size() == w[1].input.size()) {
        let inputs: Vec<tch::Tensor> = samples.iter().map(|s| s.input.shallow_clone()).collect();
        let p = forward(tch::Tensor::stack(&inputs, 0))?;
        Ok((0..samples.len() as i64).map(|i| p.get(i)).collect())
    } else {
        samples.iter().map(|s| forward(s.input.unsqueeze(0)).map(|p| p.get(0))).collect()
    }
}

/// What `a` explains for `s`: its target (the label where the method names none), and the model's
/// prediction and probabilities `p`; whether the result says nothing; what it cost (`seconds`).
fn explained(
    s: &crate::data::Sample,
    a: &crate::explanation::Attribution,
    p: &tch::Tensor,
    classes: i64,
    specs: &[crate::explanation::MapSpec],
    seconds: f64,
) -> crate::explanation::Explained {
    let target = a.target.unwrap_or(s.target);
    let prediction = p.argmax(0, false).int64_value(&[]);
    let prob = |c: i64| (0..p.size()[0]).contains(&c).then(|| p.double_value(&[c]));
    let degenerate = crate::explanation::degenerate(a, classes, specs);
    if !degenerate.is_empty() {
        log::warn!("{}: the result says nothing: {}", s.name, degenerate.join("; "));
    }
    crate::explanation::Explained {
        label: s.target,
        target,
        prediction,
        p_prediction: p.double_value(&[prediction]),
        p_target: prob(target),
        degenerate,
        seconds: Some(seconds),
    }
}
