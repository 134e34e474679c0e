//! IBA's Readout Bottleneck (Schulz et al., ICLR 2020, §3.2; spec §2): a small network, trained
//! once over a dataset, reads the activations of several layers and predicts the bottleneck's α
//! for any input; afterwards a map costs one forward pass instead of the Per-Sample Bottleneck's
//! ten optimisation steps. Trained through [`crate::fitting`] (epochs, checkpoints, resume); the
//! map is the capacity in bits per pixel as for the Per-Sample Bottleneck (spec §1.7). It has no
//! target class: α is read from the activations (the logits among them), trained on the labels.
mod estimation;
mod fitted;
mod network;

pub use fitted::{layers, Readout};
pub use network::{normalised, readout_input, ReadoutNet, ReadoutStats};

use super::{
    saliency_bits, Attribution, AttributionCtx, Attributor, MapSpec, PngScale, Reduce, Split, Splits, Welford,
};
use crate::config::Checked;
use crate::data::Sample;
use crate::error::{Error, Result};
use crate::fitting::{checkpoint, Fit, FitConfig, Loaded, Rows, Trainable};
use crate::modality::Modality;
use crate::models::Classifier;
use crate::registry::{AttributorKind, Build, BuildCtx};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{Kind, Tensor};

/// The readout network's shape (spec §2.2): `B` is F_in → F_in/2 → 2·F_out → F_out (the IBA
/// library, and the paper code's released models "by error"); `A` is the paper's
/// F_in → F_in/2 → F_out/4 → F_out.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum Architecture {
    A,
    B,
}

/// How readouts are normalised: `mean_std` (r − mean)/max(std, min_std), the IBA library;
/// `std` r/max(std, min_std), the paper code (no mean subtracted).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Normalise {
    MeanStd,
    Std,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadoutParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// The bottlenecked layer (IBA's notebook: VGG16 `features.10`, conv3_1).
    pub layer: String,
    /// Layers the network reads, `logits` for the model's output (IBA: features.10, .14, .18,
    /// .28 and the logits).
    pub readouts: Vec<String>,
    /// Train samples the estimators read (IBA: 10,000).
    pub n_samples: usize,
    pub estimation_batch_size: usize,
    pub min_std: f64,
    pub normalise: Normalise,
    pub architecture: Architecture,
    /// Bias of the last convolution (its weights scaled by 1e-3): α at initialisation.
    pub initial_alpha: f64,
    /// α is clamped to ±this (IBA: 5).
    pub alpha_clamp: f64,
    /// σ of the Gaussian smoothing of λ in feature cells; 0 = none (IBA: 1; paper code: none).
    pub sigma: f64,
    pub active_neurons_threshold: f64,
    /// Clamp z at 0 after noising (for post-ReLU layers).
    pub relu: bool,
    /// Weight of the information loss (IBA: 10).
    pub beta: f64,
    /// Training: epochs, batch, Adam.
    pub fit: FitConfig,
    /// Images per attribution forward pass.
    pub batch_size: usize,
    /// Resize the map to the input size (bits per pixel); false keeps the layer's resolution.
    pub upscale: bool,
    /// A checkpoint trained elsewhere (`<work-dir>/checkpoints/*.safetensors`): attribute with it,
    /// no training and no train split. Empty: train (or resume) in this work dir.
    pub checkpoint: String,
}

impl Default for ReadoutParams {
    fn default() -> Self {
        ReadoutParams {
            type_: "ReadoutBottleneck".into(),
            layer: "features.10".into(),
            readouts: ["features.10", "features.14", "features.18", "features.28", crate::models::LOGITS]
                .map(String::from)
                .to_vec(),
            n_samples: 10_000,
            estimation_batch_size: 32,
            min_std: 0.01,
            normalise: Normalise::MeanStd,
            architecture: Architecture::B,
            initial_alpha: 5.0,
            alpha_clamp: 5.0,
            sigma: 1.0,
            active_neurons_threshold: 0.01,
            relu: false,
            beta: 10.0,
            fit: FitConfig::default(),
            batch_size: 64,
            upscale: true,
            checkpoint: String::new(),
        }
    }
}

/// The output name (and folder) of the readout maps.
pub const READOUT_MASKS: &str = "readout_masks";

pub struct ReadoutBottleneck {
    p: ReadoutParams,
    fitted: Option<Readout>,
}

impl ReadoutBottleneck {
    pub fn new(p: ReadoutParams) -> Self {
        ReadoutBottleneck { p, fitted: None }
    }

    /// The trained explainer (after [`Attributor::fit`]).
    pub fn readout(&self) -> Option<&Readout> {
        self.fitted.as_ref()
    }

    /// What the trained weights depend on: the model, the train split and the samples in it, every
    /// setting that shapes training, the seed. Attribution-only settings are left out, so changing
    /// them never retrains, and so is the number of epochs: an epoch's weights do not depend on how
    /// many follow, so a longer run continues a shorter one.
    fn key(&self, data: &Splits, cx: &AttributionCtx) -> Result<String> {
        let train = data.get(Split::Train)?;
        let names: Vec<String> = (0..train.len()).map(|i| train.name(i)).collect();
        let trained = ReadoutParams {
            batch_size: 0,
            upscale: false,
            checkpoint: String::new(),
            fit: FitConfig { epochs: 0, log_every: 0, keep_checkpoints: 0, restore_best: false, ..self.p.fit.clone() },
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

    /// Estimators and weights from a checkpoint, for attribution only.
    fn load_trained(&self, c: &Loaded, device: tch::Device) -> Result<Readout> {
        let readout = Readout::new(&self.p, estimators_in(c, &layers(&self.p).0)?, device)?;
        let (names, params): (Vec<String>, Vec<Tensor>) = readout.parameters().into_iter().unzip();
        crate::fitting::restore_parameters(c, &names, &params)?;
        Ok(readout)
    }

    /// Trains in `cx.checkpoint_dir` (or resumes there); shards wait for the one that trains.
    fn train(&self, model: &dyn Classifier, data: &Splits, cx: &AttributionCtx) -> Result<Readout> {
        let key = self.key(data, cx)?;
        let dir = cx.checkpoint_dir.as_deref();
        let _lock = dir.map(|d| crate::io::lock::FileLock::acquire(&d.join("fit.lock"))).transpose()?;
        let train = data.get(Split::Train)?;
        let (layers, _) = layers(&self.p);
        // a resumed run takes the estimators its checkpoint was trained with
        let estimators = match dir.and_then(checkpoint::latest) {
            Some(file) => {
                let c = Loaded::read(&file, cx.device)?;
                c.check_key(&key)?;
                estimators_in(&c, &layers)?
            }
            None => estimation::cached_or_run(model, train, data.identity(Split::Train), &layers, &self.p, cx)?,
        };
        tch::manual_seed(cx.seed as i64);
        let readout = Readout::new(&self.p, estimators, cx.device)?;
        let fit = Fit {
            cfg: &self.p.fit,
            key,
            seed: cx.seed,
            device: cx.device,
            dir: dir.map(Path::to_path_buf),
            scalars: cx.scalars.clone(),
        };
        let validation = data.get(Split::Validation).ok().map(Rows::all);
        let fitted = fit.run(&readout, model, &Rows::all(train), validation.as_ref())?;
        warn_if_closed(&fitted, model.num_classes());
        Ok(readout)
    }
}

/// A class loss near ln(classes) after training means the bottleneck closed: the classifier sees
/// noise, and the maps say nothing (the quickstart's net at β = 10: 1.47 against ln 4 = 1.39).
fn warn_if_closed(fitted: &crate::fitting::Fitted, classes: i64) {
    let chance = (classes.max(2) as f64).ln();
    if let Some((_, cls)) = fitted.last.iter().find(|(n, _)| *n == "cls_loss").filter(|(_, c)| *c >= 0.9 * chance) {
        log::warn!(
            "readout: the class loss ended at {cls:.3}, chance level is {chance:.3}: the bottleneck lets no \
             class information through and the maps will say nothing; lower attributor.beta or raise attributor.fit.lr"
        );
    }
}

/// The estimators a checkpoint holds (`extra/<layer>/…`), one per layer.
fn estimators_in(c: &Loaded, layers: &[String]) -> Result<Vec<Welford>> {
    layers.iter().map(|l| Welford::from_named(|n| c.get(&format!("extra/{l}/{n}")))).collect()
}

impl Attributor for ReadoutBottleneck {
    fn check(&self, model: &dyn Classifier) -> Result<()> {
        if model.modality() != Modality::Image {
            return Err(Error::ConfigMsg(format!(
                "attributor: the Readout Bottleneck explains image models; this model reads {}",
                model.modality()
            )));
        }
        model.check_layer(&self.p.layer)?;
        for r in &self.p.readouts {
            model.check_readout(r)?;
        }
        if !self.p.checkpoint.is_empty() && !Path::new(&self.p.checkpoint).is_file() {
            return Err(Error::file(
                &self.p.checkpoint,
                "attributor.checkpoint: no such file (a trained run's <work-dir>/checkpoints/best.safetensors or epoch_NNNN.safetensors)",
            ));
        }
        Ok(())
    }
    fn splits(&self) -> Vec<Split> {
        if self.p.checkpoint.is_empty() {
            vec![Split::Train]
        } else {
            Vec::new()
        }
    }
    fn optional_splits(&self) -> Vec<Split> {
        if self.p.checkpoint.is_empty() {
            vec![Split::Validation]
        } else {
            Vec::new()
        }
    }
    fn fit(&mut self, model: &dyn Classifier, data: &Splits, cx: &AttributionCtx) -> Result<()> {
        let readout = if self.p.checkpoint.is_empty() {
            self.train(model, data, cx)?
        } else {
            let c = Loaded::read(Path::new(&self.p.checkpoint), cx.device)?;
            log::info!("readout: weights of {} (epoch {})", c.path.display(), c.at.epoch);
            self.load_trained(&c, cx.device)?
        };
        self.fitted = Some(readout);
        Ok(())
    }
    fn outputs(&self) -> Vec<MapSpec> {
        vec![MapSpec::input(READOUT_MASKS, PngScale::MaxNormalised, Reduce::Sum)]
    }
    fn batch_size(&self) -> usize {
        self.p.batch_size
    }
    fn attribute(&mut self, model: &dyn Classifier, s: &Sample, cx: &AttributionCtx) -> Result<Attribution> {
        let mut a = self.attribute_batch(model, std::slice::from_ref(s), cx)?;
        Ok(a.pop().expect("one map per sample"))
    }
    /// One forward pass of the classifier and the readout network for the whole batch.
    fn attribute_batch(
        &mut self,
        model: &dyn Classifier,
        samples: &[Sample],
        cx: &AttributionCtx,
    ) -> Result<Vec<Attribution>> {
        let readout = self.fitted.as_ref().ok_or_else(|| Error::Attribution {
            sample: samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
            why: "the readout network is not trained (fit first)".into(),
        })?;
        let x =
            Tensor::stack(&samples.iter().map(|s| s.input.shallow_clone()).collect::<Vec<_>>(), 0).to_device(cx.device);
        let cap = tch::no_grad(|| -> Result<Tensor> {
            let (r, lambda) = readout.lambda(model, &model.embed(&x)?)?;
            Ok(readout.capacity(&r, &lambda))
        })?;
        let out = self.p.upscale.then(|| [x.size()[2], x.size()[3]]);
        Ok((0..samples.len() as i64)
            .map(|k| {
                Attribution::single(
                    READOUT_MASKS,
                    saliency_bits(&cap.get(k), out).to_kind(Kind::Float),
                    Default::default(),
                )
            })
            .collect())
    }
}

impl ReadoutParams {
    pub fn validate(&self) -> Checked {
        use crate::config::validate::{at_least, finite, non_negative, positive, within};
        self.fit.validate().map_err(|e| e.under("fit"))?;
        at_least("readouts", self.readouts.len() as i64, 1)?;
        at_least("n_samples", self.n_samples as i64, 2)?;
        at_least("estimation_batch_size", self.estimation_batch_size as i64, 1)?;
        at_least("batch_size", self.batch_size as i64, 1)?;
        positive("min_std", self.min_std)?; // it guards the division by σ
        finite("initial_alpha", self.initial_alpha)?;
        positive("alpha_clamp", self.alpha_clamp)?;
        non_negative("sigma", self.sigma)?;
        non_negative("beta", self.beta)?;
        within("active_neurons_threshold", self.active_neurons_threshold, 0.0, 1.0)
    }
}

impl Build<AttributorKind> for ReadoutBottleneck {
    type Params = ReadoutParams;
    fn validate(p: &ReadoutParams) -> Checked {
        p.validate()
    }
    fn build(p: ReadoutParams, _cx: &BuildCtx) -> Result<Box<dyn Attributor>> {
        Ok(Box::new(ReadoutBottleneck::new(p)))
    }
}
crate::register!(AttributorKind, ReadoutBottleneck);
