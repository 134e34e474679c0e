//! VIBI (Bang et al. 2019, as willisk/VIBI implements it; spec peers §1): an explainer picks k
//! "chunks" of the input, and an approximator must reproduce the black box's output distribution
//! from those chunks alone, under an information bottleneck: loss = H(p_bb, q_apx) + β·KL(π ‖ U).
//! Trained once on `[data.train]` through [`crate::fitting`] (checkpoints, resume, curves), then a
//! map is one explainer pass: the chunk distribution π and the hard top-k mask, at pixels.
mod nets;

pub use nets::{explainer_widths, ExplainerKind, VibiNets};

use super::khot::{approximator_ce, chunks_to_pixels, hard_k_hot, kl_to_uniform, relaxed_k_hot, temperature};
use super::{Attribution, AttributionCtx, Attributor, MapSpec, PngScale, Reduce, Split, Splits};
use crate::config::Checked;
use crate::data::Sample;
use crate::error::{Error, Result};
use crate::fitting::{Fit, FitConfig, Step, Trainable};
use crate::modality::Modality;
use crate::models::Classifier;
use crate::registry::{AttributorKind, Build, BuildCtx};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VibiParams {
    #[serde(rename = "type")]
    pub type_: String,
    pub explainer: ExplainerKind,
    /// The explainer's widths; empty: the seed's for the explainer and input size.
    pub explainer_widths: Vec<i64>,
    /// The approximator's widths; empty: the seed's resnet18.
    pub approximator_widths: Vec<i64>,
    /// Chunks kept (`--k`; the seed's default 12).
    pub k: i64,
    /// Weight of KL(π ‖ uniform) (`--beta`; default 0).
    pub beta: f64,
    /// Relaxed samples per image (`--num_samples`).
    pub num_samples: i64,
    /// C_x: 1 (one mask for all colours) or 3 (`--xpl_channels`).
    pub xpl_channels: i64,
    /// Steps on unmasked inputs before the explainer trains (MNIST 200, CIFAR 4000).
    pub warmup: i64,
    /// Quirk V4: the seed's cross-entropy is N/C times the per-sample mean (effective β scaled
    /// by C/N). False: the per-sample mean.
    pub seed_ce_scaling: bool,
    /// Training (the seed: Adam lr 0.05 on MNIST, 0.005 on CIFAR, batch 64, 3 epochs).
    pub fit: FitConfig,
    /// Images per attribution pass.
    pub batch_size: usize,
    /// After training, this many train batches of hard top-k inputs recompute the approximator's
    /// batch-norm running statistics (no gradient). Its statistics are otherwise those of relaxed
    /// samples, which show fewer distinct chunks than the hard top-k the evaluation shows: measured
    /// on the quickstart, fidelity 0.34 before and 0.96 after. 0: the seed's behaviour.
    pub recalibrate_batches: usize,
}

impl Default for VibiParams {
    fn default() -> Self {
        VibiParams {
            type_: "Vibi".into(),
            explainer: ExplainerKind::ResNet4x,
            explainer_widths: Vec::new(),
            approximator_widths: Vec::new(),
            k: 12,
            beta: 0.0,
            num_samples: 4,
            xpl_channels: 1,
            warmup: 200,
            seed_ce_scaling: true,
            fit: FitConfig { epochs: 3, batch_size: 64, lr: 0.05, ..FitConfig::default() },
            batch_size: 64,
            recalibrate_batches: 50,
        }
    }
}

/// The chunk distribution π at pixels, and the hard top-k mask.
pub const DISTRIBUTION: &str = "vibi_distribution";
pub const TOP_K: &str = "vibi_topk";

/// The trained networks with the settings they train under.
struct Trained {
    nets: VibiNets,
    p: VibiParams,
}

impl Trained {
    /// The black box's probabilities [B,C] (eval mode, no gradient): VIBI's targets.
    fn targets(model: &dyn Classifier, x: &Tensor) -> Tensor {
        tch::no_grad(|| model.forward(x).softmax(-1, Kind::Float))
    }

    /// x ⊙ mask for chunk masks [M,F] of images x [B,C,H,W] repeated M/B times each.
    fn masked(&self, x: &Tensor, z: &Tensor) -> Tensor {
        let reps = z.size()[0] / x.size()[0];
        let px = chunks_to_pixels(z, self.nets.channels, self.nets.grid, self.nets.size);
        x.repeat_interleave_self_int(reps, 0, None) * px
    }

    /// Recomputes the approximator's batch-norm running statistics on hard top-k inputs of the
    /// first `batches` batches of `data` (see [`VibiParams::recalibrate_batches`]).
    fn recalibrate(&self, data: &dyn crate::data::Dataset, batches: usize, device: tch::Device) -> Result<()> {
        let bs = self.p.fit.batch_size;
        for b in 0..batches.min(data.len().div_ceil(bs)) {
            let idx: Vec<usize> = (b * bs..((b + 1) * bs).min(data.len())).collect();
            let x = Tensor::stack(&idx.iter().map(|&i| data.get(i).map(|s| s.input)).collect::<Result<Vec<_>>>()?, 0)
                .to_device(device);
            tch::no_grad(|| {
                let logits = self.nets.chunk_logits(&x, false).flatten(1, -1);
                let _ = self.nets.approximate(&self.masked(&x, &hard_k_hot(&logits, self.p.k)), true);
            });
        }
        Ok(())
    }

    /// Fidelity of the approximator on hard top-k inputs to the black box's top-1: [B] of 0/1.
    fn agreement(&self, model: &dyn Classifier, x: &Tensor) -> Tensor {
        let logits = self.nets.chunk_logits(x, false).flatten(1, -1);
        let t = self.masked(x, &hard_k_hot(&logits, self.p.k));
        let bb = Self::targets(model, x).argmax(-1, false);
        self.nets.approximate(&t, false).argmax(-1, false).eq_tensor(&bb).to_kind(Kind::Float)
    }
}

impl Trainable for Trained {
    fn parameters(&self) -> Vec<(String, Tensor)> {
        self.nets.parameters()
    }
    /// Warm-up: the approximator on unmasked x, H = mean CE. Then H(p, q) over N relaxed k-hot
    /// samples + β·KL(π ‖ U), τ = 10/(step − warm-up) (spec peers §1.4–§1.6).
    fn losses(&self, model: &dyn Classifier, x: &Tensor, _y: &Tensor, at: Step) -> Result<Vec<(&'static str, Tensor)>> {
        let p = Self::targets(model, x);
        if at.step - self.p.warmup < 1 {
            let q = self.nets.approximate(x, at.train).unsqueeze(1);
            let h = approximator_ce(&p, &q, false);
            return Ok(vec![
                ("loss", h.shallow_clone()),
                ("ce", h),
                ("kl", Tensor::zeros([], (Kind::Float, x.device()))),
            ]);
        }
        let tau = temperature(at.step, self.p.warmup);
        let logits = self.nets.chunk_logits(x, at.train).flatten(1, -1);
        let b = logits.size()[0];
        let z = relaxed_k_hot(&logits, self.p.k, self.p.num_samples, tau).view([b * self.p.num_samples, -1]);
        let q = self.nets.approximate(&self.masked(x, &z), at.train).view([b, self.p.num_samples, -1]);
        let h = approximator_ce(&p, &q, self.p.seed_ce_scaling);
        let kl = kl_to_uniform(&logits);
        Ok(vec![("loss", &h + &kl * self.p.beta), ("ce", h), ("kl", kl)])
    }
    /// 1 − fidelity first (what the best checkpoint minimises), then the fidelity.
    fn validation(
        &self,
        model: &dyn Classifier,
        x: &Tensor,
        _y: &Tensor,
        _at: Step,
    ) -> Result<Vec<(&'static str, Tensor)>> {
        let agree = self.agreement(model, x).mean(Kind::Float);
        Ok(vec![("disagreement", agree.ones_like() - &agree), ("fidelity", agree)])
    }
    fn extra_state(&self) -> Result<Vec<(String, Tensor)>> {
        Ok(Vec::new())
    }
}

pub struct Vibi {
    p: VibiParams,
    trained: Option<Trained>,
}

impl Vibi {
    pub fn new(p: VibiParams) -> Self {
        Vibi { p, trained: None }
    }

    /// What the weights depend on: the black box, the train split, the settings, the seed.
    fn key(&self, data: &Splits, cx: &AttributionCtx) -> Result<String> {
        let train = data.get(Split::Train)?;
        let names: Vec<String> = (0..train.len()).map(|i| train.name(i)).collect();
        let trained = VibiParams {
            batch_size: 0,
            fit: FitConfig { epochs: 0, log_every: 0, keep_checkpoints: 0, ..self.p.fit.clone() },
            ..self.p.clone()
        };
        let settings = serde_json::to_string(&trained).map_err(|e| Error::Fit(e.to_string()))?;
        let source = format!(
            "{}|{}|{}|{}|{settings}|{}",
            cx.model_digest,
            data.identity(Split::Train),
            train.len(),
            crate::io::digest::text(&names.join("/")),
            cx.seed
        );
        Ok(crate::io::digest::text(&source))
    }
}

impl Attributor for Vibi {
    fn check(&self, model: &dyn Classifier) -> Result<()> {
        if model.modality() != Modality::Image {
            return Err(Error::ConfigMsg(format!(
                "attributor: VIBI explains image models here; this model reads {}",
                model.modality()
            )));
        }
        Ok(())
    }
    fn splits(&self) -> Vec<Split> {
        vec![Split::Train]
    }
    fn optional_splits(&self) -> Vec<Split> {
        vec![Split::Validation]
    }
    fn fit(&mut self, model: &dyn Classifier, data: &Splits, cx: &AttributionCtx) -> Result<()> {
        let train = data.get(Split::Train)?;
        let input: [i64; 3] =
            train.get(0)?.input.size().try_into().map_err(|_| {
                Error::Data("VIBI reads images [C,H,W]; the train split's first sample is not one".into())
            })?;
        if self.p.xpl_channels != 1 && self.p.xpl_channels != input[0] {
            return Err(Error::ConfigMsg(format!(
                "attributor.xpl_channels = {}: the images have {} channels (use 1, one mask for all)",
                self.p.xpl_channels, input[0]
            )));
        }
        let key = self.key(data, cx)?;
        let dir = cx.checkpoint_dir.as_deref();
        let _lock = dir.map(|d| crate::io::lock::FileLock::acquire(&d.join("fit.lock"))).transpose()?;
        tch::manual_seed(cx.seed as i64);
        let p = &self.p;
        let nets = VibiNets::new(
            input,
            model.num_classes(),
            p.explainer,
            &p.explainer_widths,
            &p.approximator_widths,
            p.xpl_channels,
            cx.device,
        )?;
        let trained = Trained { nets, p: p.clone() };
        let fit = Fit {
            cfg: &p.fit,
            key,
            seed: cx.seed,
            device: cx.device,
            dir: dir.map(Path::to_path_buf),
            scalars: cx.scalars.clone(),
        };
        let validation = data.get(Split::Validation).ok();
        fit.run(&trained, model, train, validation)?;
        trained.recalibrate(train, p.recalibrate_batches, cx.device)?;
        if let Some(v) = validation {
            let n = v.len().min(1024);
            let x = Tensor::stack(&(0..n).map(|i| v.get(i).map(|s| s.input)).collect::<Result<Vec<_>>>()?, 0)
                .to_device(cx.device);
            let f = tch::no_grad(|| trained.agreement(model, &x).mean(Kind::Float).double_value(&[]));
            log::info!("vibi: approximator fidelity on the top-{} chunks of {n} validation images: {f:.3}", p.k);
        }
        self.trained = Some(trained);
        Ok(())
    }
    fn outputs(&self) -> Vec<MapSpec> {
        [DISTRIBUTION, TOP_K]
            .map(|d| MapSpec { dir: d.into(), scale: PngScale::MaxNormalised, reduce: Reduce::Sum })
            .to_vec()
    }
    fn batch_size(&self) -> usize {
        self.p.batch_size
    }
    fn attribute(&mut self, model: &dyn Classifier, s: &Sample, cx: &AttributionCtx) -> Result<Attribution> {
        let mut a = self.attribute_batch(model, std::slice::from_ref(s), cx)?;
        Ok(a.pop().expect("one result per sample"))
    }
    /// One explainer pass: π = softmax(ℓ) and the top-k mask, as pixels.
    fn attribute_batch(
        &mut self,
        _model: &dyn Classifier,
        samples: &[Sample],
        cx: &AttributionCtx,
    ) -> Result<Vec<Attribution>> {
        let t = self.trained.as_ref().ok_or_else(|| Error::Attribution {
            sample: samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
            why: "VIBI is not trained (fit first)".into(),
        })?;
        let x =
            Tensor::stack(&samples.iter().map(|s| s.input.shallow_clone()).collect::<Vec<_>>(), 0).to_device(cx.device);
        let n = &t.nets;
        let (pi, top) = tch::no_grad(|| {
            let logits = n.chunk_logits(&x, false).flatten(1, -1);
            let pi = chunks_to_pixels(&logits.softmax(-1, Kind::Float), n.channels, n.grid, n.size);
            (pi, chunks_to_pixels(&hard_k_hot(&logits, t.p.k), n.channels, n.grid, n.size))
        });
        let map = |m: &Tensor| if n.channels == 1 { m.squeeze_dim(0) } else { m.shallow_clone() };
        Ok((0..samples.len() as i64)
            .map(|k| {
                Attribution::single(DISTRIBUTION, map(&pi.get(k)), Default::default()).with_map(TOP_K, map(&top.get(k)))
            })
            .collect())
    }
}

impl Build<AttributorKind> for Vibi {
    type Params = VibiParams;
    fn validate(p: &VibiParams) -> Checked {
        use crate::config::validate::{at_least, non_negative};
        p.fit.validate().map_err(|e| e.under("fit"))?;
        at_least("k", p.k, 1)?;
        at_least("num_samples", p.num_samples, 1)?;
        at_least("warmup", p.warmup, 0)?;
        at_least("batch_size", p.batch_size as i64, 1)?;
        non_negative("beta", p.beta)?;
        if p.xpl_channels != 1 && p.xpl_channels != 3 {
            return Err(crate::config::Invalid::new("xpl_channels", format!("{}: expected 1 or 3", p.xpl_channels)));
        }
        Ok(())
    }
    fn build(p: VibiParams, _cx: &BuildCtx) -> Result<Box<dyn Attributor>> {
        Ok(Box::new(Vibi::new(p)))
    }
}
crate::register!(AttributorKind, Vibi);
