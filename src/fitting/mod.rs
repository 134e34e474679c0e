//! Explainers fitted on a dataset (IBA's Readout Bottleneck, VIBI): epochs of Adam over the train
//! split, a validation figure per epoch, a checkpoint per epoch and the best one, and resume. A run
//! killed at any point and started again continues from its last checkpoint and ends with the
//! weights an uninterrupted run has: the batch order of an epoch and the noise of a step are drawn
//! from generators seeded by (seed, epoch) and (seed, step), not carried over from earlier steps,
//! and the optimiser's moments are in the checkpoint ([`Adam`]).
mod adam;
mod batch;
pub mod checkpoint;

pub use adam::Adam;
pub use batch::{Batch, Rows};
pub use checkpoint::{Loaded, Progress, BEST};

use crate::error::{Error, Result};
use crate::logging::ScalarLog;
use crate::models::Classifier;
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tch::{Kind, Tensor};

/// How an explainer is trained: `[attributor.fit]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FitConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Adam's learning rate (PyTorch's defaults for betas and eps).
    pub lr: f64,
    pub adam_betas: [f64; 2],
    pub adam_eps: f64,
    /// A log line every this many steps when stderr is no terminal (batch jobs); the terminal has a
    /// progress bar.
    pub log_every: usize,
    /// Epoch checkpoints kept (the newest), besides `best`.
    pub keep_checkpoints: usize,
    /// After the last epoch, the weights of the best epoch (the lowest first validation figure)
    /// come back: what VIBI's `--save_best` means (its quirk V5 keeps the last epoch's). False:
    /// the last epoch's weights.
    pub restore_best: bool,
}

impl Default for FitConfig {
    /// IBA's readout notebook: 10 epochs, batch 32, Adam lr 1e-5.
    fn default() -> Self {
        FitConfig {
            epochs: 10,
            batch_size: 32,
            lr: 1e-5,
            adam_betas: [0.9, 0.999],
            adam_eps: 1e-8,
            log_every: 50,
            keep_checkpoints: 2,
            restore_best: false,
        }
    }
}

impl FitConfig {
    pub fn validate(&self) -> crate::config::Checked {
        use crate::config::validate::{adam, at_least, positive};
        at_least("epochs", self.epochs as i64, 1)?;
        at_least("batch_size", self.batch_size as i64, 1)?;
        positive("lr", self.lr)?;
        adam("adam_betas", self.adam_betas, "adam_eps", self.adam_eps)?;
        at_least("log_every", self.log_every as i64, 1)?;
        at_least("keep_checkpoints", self.keep_checkpoints as i64, 1)
    }
}

/// Where training stands when a batch's losses are asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Optimiser steps taken before this one (schedules such as a warm-up read it).
    pub step: i64,
    /// A training step (batch norm on batch statistics, dropout on); false for validation.
    pub train: bool,
}

/// What a fitted explainer trains.
pub trait Trainable {
    /// The trained parameters by name, in a fixed order.
    fn parameters(&self) -> Vec<(String, Tensor)>;
    /// One batch's losses, each a scalar tensor: the total (what is minimised) first, then its
    /// parts.
    fn losses(&self, model: &dyn Classifier, b: &Batch, at: Step) -> Result<Vec<(&'static str, Tensor)>>;
    /// One validation batch's figures, the first the one to minimise (the best checkpoint's);
    /// default: the losses.
    fn validation(&self, model: &dyn Classifier, b: &Batch, at: Step) -> Result<Vec<(&'static str, Tensor)>> {
        self.losses(model, b, at)
    }
    /// Called after each epoch's steps, before validation and the checkpoint, with the train
    /// split: work on the weights that is no gradient step (VIBI recomputes batch-norm statistics).
    fn end_epoch(&self, _model: &dyn Classifier, _train: &Rows) -> Result<()> {
        Ok(())
    }
    /// What else a checkpoint must hold so that it alone explains (e.g. estimator statistics).
    fn extra_state(&self) -> Result<Vec<(String, Tensor)>>;
}

/// One training run's settings and where it reports.
pub struct Fit<'a> {
    pub cfg: &'a FitConfig,
    /// Digest of everything the weights depend on (model, data, settings, seed); a checkpoint
    /// with another key is refused.
    pub key: String,
    pub seed: u64,
    pub device: tch::Device,
    /// Checkpoint folder; `None`: no checkpoints, no resume.
    pub dir: Option<PathBuf>,
    pub scalars: Option<Arc<Mutex<dyn ScalarLog>>>,
}

/// How a training run went.
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    /// The epoch it resumed after (0: from the start).
    pub resumed_after: usize,
    /// Epoch figures of the epochs this call ran (validation loss, or training loss without
    /// validation).
    pub figures: Vec<f64>,
    pub at: Progress,
    /// The last epoch's mean losses by name (validation where given, else training); empty when
    /// this call ran no epoch.
    pub last: Vec<(&'static str, f64)>,
}

/// Sample-weighted means of named losses over an epoch.
#[derive(Default)]
struct Means {
    sums: Vec<(&'static str, f64)>,
    n: usize,
}

impl Means {
    fn add(&mut self, losses: &[(&'static str, Tensor)], n: usize) {
        for (k, (name, l)) in losses.iter().enumerate() {
            let v = l.double_value(&[]) * n as f64;
            match self.sums.get_mut(k) {
                Some(s) => s.1 += v,
                None => self.sums.push((name, v)),
            }
        }
        self.n += n;
    }
    fn means(&self) -> Vec<(&'static str, f64)> {
        self.sums.iter().map(|(name, s)| (*name, s / self.n.max(1) as f64)).collect()
    }
    /// The total (the first loss).
    fn total(&self) -> f64 {
        self.means().first().map_or(f64::NAN, |m| m.1)
    }
    /// `loss 1.6 (cls_loss 0.3, info_loss 0.13)`.
    fn describe(&self) -> String {
        let m = self.means();
        let parts: Vec<String> = m.iter().skip(1).map(|(n, v)| format!("{n} {v:.4}")).collect();
        format!("{} {:.4} ({})", m.first().map_or("loss", |f| f.0), self.total(), parts.join(", "))
    }
}

/// Where an epoch's steps stand, for the progress report.
struct Clock {
    bar: crate::logging::Progress,
    started: std::time::Instant,
    /// Steps before this call (a resumed run's).
    before: i64,
}

impl Fit<'_> {
    /// Trains `net` on `train` (resuming from the newest checkpoint in the folder), with
    /// `validation`'s loss as the epoch figure where given.
    pub fn run(
        &self,
        net: &dyn Trainable,
        model: &dyn Classifier,
        train: &Rows,
        validation: Option<&Rows>,
    ) -> Result<Fitted> {
        if train.is_empty() {
            return Err(Error::Fit("the train split holds no samples".into()));
        }
        let (names, params): (Vec<String>, Vec<Tensor>) = net.parameters().into_iter().unzip();
        let mut adam = Adam::new(&params, self.cfg.lr, self.cfg.adam_betas, self.cfg.adam_eps);
        let mut at = Progress { epoch: 0, step: 0, best: f64::INFINITY };
        if let Some(c) = self.dir.as_deref().and_then(checkpoint::latest) {
            let c = Loaded::read(&c, self.device)?;
            c.check_key(&self.key)?;
            restore_parameters(&c, &names, &params)?;
            adam.restore(&names, |n| c.get(&format!("adam/{n}")))?;
            at = c.at;
            log::info!("training: resuming after epoch {} of {} ({})", at.epoch, self.cfg.epochs, c.path.display());
        }
        let resumed_after = at.epoch;
        let left = self.cfg.epochs.saturating_sub(at.epoch) * train.len().div_ceil(self.cfg.batch_size);
        let clock = Clock {
            bar: crate::logging::progress(left as u64, "fit").without_lines(),
            started: std::time::Instant::now(),
            before: at.step,
        };
        let (mut figures, mut last) = (Vec::new(), Vec::new());
        let mut best: Option<Vec<Tensor>> = None;
        for epoch in at.epoch..self.cfg.epochs {
            let trained = self.epoch(net, model, train, &params, &mut adam, epoch, &mut at.step, &clock)?;
            net.end_epoch(model, train)?;
            let validated = validation.map(|v| self.validate(net, model, v, at.step)).transpose()?;
            let figure = validated.as_ref().unwrap_or(&trained).total();
            figures.push(figure);
            last = validated.as_ref().unwrap_or(&trained).means();
            let improved = figure < at.best;
            at.best = at.best.min(figure);
            at.epoch = epoch + 1;
            if improved && self.cfg.restore_best {
                best = Some(tch::no_grad(|| params.iter().map(Tensor::copy).collect()));
            }
            log::info!(
                "training: epoch {}/{}: train {}{}",
                at.epoch,
                self.cfg.epochs,
                trained.describe(),
                validated.map_or(String::new(), |v| format!(", validation {}", v.describe()))
            );
            if let Some(dir) = &self.dir {
                let mut tensors: Vec<(String, Tensor)> =
                    names.iter().zip(&params).map(|(n, p)| (format!("param/{n}"), p.shallow_clone())).collect();
                tensors.extend(adam.state(&names).into_iter().map(|(n, t)| (format!("adam/{n}"), t)));
                tensors.extend(net.extra_state()?.into_iter().map(|(n, t)| (format!("extra/{n}"), t)));
                // `best` first: an epoch file that records this epoch as the best is only ever
                // written after `best` holds it, so a kill between the two cannot lose it
                if improved {
                    checkpoint::save(&dir.join(BEST), &self.key, at, &tensors)?;
                }
                checkpoint::save(&checkpoint::epoch_file(dir, at.epoch), &self.key, at, &tensors)?;
                checkpoint::prune(dir, self.cfg.keep_checkpoints);
            }
        }
        clock.bar.finish_and_clear();
        if self.cfg.restore_best {
            self.restore_best(best, &names, &params)?;
        }
        Ok(Fitted { resumed_after, figures, at, last })
    }

    /// The best epoch's weights into `params`: those kept in memory during this call, else the
    /// `best` checkpoint (the best epoch came before a resume).
    fn restore_best(&self, kept: Option<Vec<Tensor>>, names: &[String], params: &[Tensor]) -> Result<()> {
        if let Some(kept) = kept {
            tch::no_grad(|| params.iter().zip(&kept).for_each(|(p, b)| p.shallow_clone().copy_(b)));
            log::info!("training: the best epoch's weights restored");
            return Ok(());
        }
        if let Some(path) = self.dir.as_ref().map(|d| d.join(BEST)).filter(|p| p.is_file()) {
            let c = Loaded::read(&path, self.device)?;
            c.check_key(&self.key)?;
            restore_parameters(&c, names, params)?;
            log::info!("training: the best epoch's weights restored (epoch {}, {})", c.at.epoch, path.display());
        } else {
            log::warn!("training: no best checkpoint to restore; the last epoch's weights stay");
        }
        Ok(())
    }

    /// One epoch of Adam steps in the epoch's batch order; each step's noise from its own seed.
    #[allow(clippy::too_many_arguments)]
    fn epoch(
        &self,
        net: &dyn Trainable,
        model: &dyn Classifier,
        train: &Rows,
        params: &[Tensor],
        adam: &mut Adam,
        epoch: usize,
        step: &mut i64,
        clock: &Clock,
    ) -> Result<Means> {
        let mut means = Means::default();
        for batch in shuffled(train.len(), self.seed, epoch).chunks(self.cfg.batch_size) {
            tch::manual_seed(step_seed(self.seed, *step));
            let b = Batch::load(train, batch, self.device)?;
            let losses = net.losses(model, &b, Step { step: *step, train: true })?;
            let total = finite(&losses, epoch, *step)?;
            losses[0].1.backward();
            adam.step(params);
            Adam::zero_grad(params);
            *step += 1;
            means.add(&losses, batch.len());
            self.report(&losses, *step)?;
            clock.bar.set_message(format!("fit {}/{} loss {total:.4}", epoch + 1, self.cfg.epochs));
            clock.bar.inc(1);
            let done = (*step - clock.before) as usize;
            if !std::io::stderr().is_terminal() && done.is_multiple_of(self.cfg.log_every) {
                let left = clock.bar.length().unwrap_or(0) as usize - done;
                let eta = clock.started.elapsed().as_secs_f64() / done as f64 * left as f64;
                log::info!(
                    "training: epoch {}/{}, step {step}, loss {total:.4}, eta {eta:.0} s",
                    epoch + 1,
                    self.cfg.epochs
                );
            }
        }
        Ok(means)
    }

    /// Mean losses over `data` with noise fixed across epochs (so epochs compare), reported as
    /// `fit/val_<name>`.
    fn validate(&self, net: &dyn Trainable, model: &dyn Classifier, data: &Rows, step: i64) -> Result<Means> {
        tch::manual_seed(step_seed(self.seed, -1));
        let mut means = Means::default();
        for batch in data.batches(self.cfg.batch_size) {
            let b = Batch::load(data, &batch, self.device)?;
            means.add(&tch::no_grad(|| net.validation(model, &b, Step { step, train: false }))?, batch.len());
        }
        if let Some(log) = &self.scalars {
            let mut log = log.lock().map_err(|_| Error::Fit("the curve writer failed earlier".into()))?;
            for (n, v) in means.means() {
                log.scalar(&format!("fit/val_{n}"), step, v)?;
            }
        }
        Ok(means)
    }

    fn report(&self, losses: &[(&'static str, Tensor)], step: i64) -> Result<()> {
        if let Some(log) = &self.scalars {
            let mut log = log.lock().map_err(|_| Error::Fit("the curve writer failed earlier".into()))?;
            for (n, l) in losses {
                log.scalar(&format!("fit/{n}"), step, l.double_value(&[]))?;
            }
        }
        Ok(())
    }
}

/// Copies a checkpoint's `param/…` into `params`; a missing or misshapen tensor is an error naming it.
pub fn restore_parameters(c: &Loaded, names: &[String], params: &[Tensor]) -> Result<()> {
    tch::no_grad(|| {
        for (n, p) in names.iter().zip(params) {
            let saved = c.get(&format!("param/{n}"))?;
            if saved.size() != p.size() {
                return Err(Error::file(
                    &c.path,
                    format!(
                        "tensor `param/{n}` has shape {:?}, this explainer's {:?}: a checkpoint of another architecture",
                        saved.size(),
                        p.size()
                    ),
                ));
            }
            p.shallow_clone().copy_(&saved);
        }
        Ok(())
    })
}

/// The epoch's batch order: a Fisher–Yates shuffle seeded by (seed, epoch).
fn shuffled(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = crate::rng::SplitMix::new(seed ^ (epoch as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    order
}

/// libtorch's seed for step `step` (−1: validation).
fn step_seed(seed: u64, step: i64) -> i64 {
    (crate::rng::SplitMix::new(seed ^ (step as u64).wrapping_mul(0x9FB2_1C65_1E98_DF25)).next_u64() >> 1) as i64
}

/// The total loss as a number, or an error saying where training diverged.
fn finite(losses: &[(&'static str, Tensor)], epoch: usize, step: i64) -> Result<f64> {
    let total = losses.first().ok_or_else(|| Error::Fit("the explainer returned no loss".into()))?;
    let v = total.1.to_kind(Kind::Double).double_value(&[]);
    if !v.is_finite() {
        let parts: Vec<String> = losses.iter().map(|(n, l)| format!("{n} {}", l.double_value(&[]))).collect();
        return Err(Error::Fit(format!(
            "the loss is not finite at epoch {}, step {step} ({}): lower the learning rate, or check the data",
            epoch + 1,
            parts.join(", ")
        )));
    }
    Ok(v)
}
