//! Training a SENN or DiSENN (spec peers §2.5–§2.6) on the fitting foundation: one Adam over all
//! parameters, the epoch's validation accuracy picks the best weights (the seed's `best_model.pt`),
//! checkpoints and resume; DiSENN first pretrains its β-VAE alone (`pretrain_epochs`, loss
//! MSE + pre_beta·KL).
pub mod losses;

use crate::data::Dataset;
use crate::error::Result;
use crate::fitting::{Batch, Fit, FitConfig, Rows, Step, Trainable};
use crate::models::senn::Senn;
use crate::models::Classifier;
use losses::Robustness;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::{Kind, Tensor};

/// `[train_senn]`: the seed's training keys with its MNIST SENN defaults.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSennConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub robustness_loss: Robustness,
    /// λ, the robustness loss's weight.
    pub robust_reg: f64,
    /// ξ, the concept loss's weight (COMPAS: 0).
    pub concept_reg: f64,
    /// ζ, the L1 on the concepts inside SENN's concept loss.
    pub sparsity_reg: f64,
    /// DiSENN: epochs of β-VAE pretraining, its KL weight, and the KL weight in training.
    pub pretrain_epochs: usize,
    pub pre_beta: f64,
    pub beta: f64,
    /// Quirk S4: DiSENN's Adam ignores `lr` and uses PyTorch's default 1e-3. False: `lr`.
    pub disenn_default_lr: bool,
    /// libtorch seed of the initial weights and the training noise.
    pub manual_seed: u64,
    /// A log line every this many steps when stderr is no terminal (`print_freq`).
    pub print_freq: usize,
}

impl Default for TrainSennConfig {
    fn default() -> Self {
        TrainSennConfig {
            epochs: 5,
            batch_size: 200,
            lr: 2e-4,
            robustness_loss: Robustness::Mnist,
            robust_reg: 1e-4,
            concept_reg: 1.0,
            sparsity_reg: 2e-5,
            pretrain_epochs: 1,
            pre_beta: 1.0,
            beta: 4.0,
            disenn_default_lr: true,
            manual_seed: 29,
            print_freq: 100,
        }
    }
}

impl TrainSennConfig {
    pub fn validate(&self) -> crate::config::Checked {
        use crate::config::validate::{at_least, non_negative, positive};
        at_least("epochs", self.epochs as i64, 1)?;
        at_least("batch_size", self.batch_size as i64, 1)?;
        positive("lr", self.lr)?;
        non_negative("robust_reg", self.robust_reg)?;
        non_negative("concept_reg", self.concept_reg)?;
        non_negative("sparsity_reg", self.sparsity_reg)?;
        non_negative("pre_beta", self.pre_beta)?;
        non_negative("beta", self.beta)?;
        at_least("print_freq", self.print_freq as i64, 1)
    }

    fn fit(&self, epochs: usize, lr: f64) -> FitConfig {
        FitConfig {
            epochs,
            batch_size: self.batch_size,
            lr,
            log_every: self.print_freq,
            restore_best: true,
            ..FitConfig::default()
        }
    }
}

/// The model with the settings it trains under; `pretrain`: the β-VAE alone.
struct Trainer<'a> {
    net: &'a Senn,
    cfg: &'a TrainSennConfig,
    pretrain: bool,
}

impl Trainable for Trainer<'_> {
    fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self.net.vs.variables().into_iter().collect();
        if self.pretrain {
            v.retain(|(n, _)| n.starts_with("conceptizer."));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
    /// NLL + λ·L_rob + ξ·L_concept (§2.5); pretraining: MSE + pre_beta·KL.
    fn losses(&self, _m: &dyn Classifier, b: &Batch, at: Step) -> Result<Vec<(&'static str, Tensor)>> {
        let x = b.x.detach().set_requires_grad(at.train);
        let out = self.net.parts(&x, at.train);
        let disenn = out.concepts.vae.is_some();
        if self.pretrain {
            let l = losses::concept_bvae(&x, &out, self.cfg.pre_beta);
            return Ok(vec![("loss", l.shallow_clone()), ("concept", l)]);
        }
        let cls = losses::nll(&out.log_probs, &b.y);
        let zero = || Tensor::zeros([], (Kind::Float, x.device()));
        // the seed sets L_rob = 0 in validation: a Jacobian needs the graph
        let rob = if at.train && self.cfg.robust_reg > 0.0 {
            losses::robustness(self.cfg.robustness_loss, &x, &out)
        } else {
            zero()
        };
        let concept = match (disenn, self.cfg.concept_reg > 0.0) {
            (_, false) => zero(),
            (true, true) => losses::concept_bvae(&x, &out, self.cfg.beta),
            (false, true) => losses::concept_senn(&x, &out, self.cfg.sparsity_reg),
        };
        let total = &cls + &rob * self.cfg.robust_reg + &concept * self.cfg.concept_reg;
        Ok(vec![("loss", total), ("classification", cls), ("robustness", rob), ("concept", concept)])
    }
    /// 1 − accuracy first (the best epoch is the seed's best validation accuracy), then accuracy.
    fn validation(&self, m: &dyn Classifier, b: &Batch, at: Step) -> Result<Vec<(&'static str, Tensor)>> {
        if self.pretrain {
            return self.losses(m, b, at);
        }
        let out = self.net.parts(&b.x, false);
        let acc = out.log_probs.argmax(-1, false).eq_tensor(&b.y).to_kind(Kind::Float).mean(Kind::Float);
        Ok(vec![
            ("error", acc.ones_like() - &acc),
            ("accuracy", acc),
            ("classification", losses::nll(&out.log_probs, &b.y)),
        ])
    }
    fn extra_state(&self) -> Result<Vec<(String, Tensor)>> {
        Ok(Vec::new())
    }
}

/// Where and under what key a SENN trains.
pub struct Run<'a> {
    pub cfg: &'a TrainSennConfig,
    /// What the weights depend on besides `cfg` (the model's table, the train split).
    pub key: String,
    /// `<weights>.checkpoints/`, or none (tests).
    pub dir: Option<PathBuf>,
    pub device: tch::Device,
    pub scalars: Option<std::sync::Arc<std::sync::Mutex<dyn crate::logging::ScalarLog>>>,
}

impl Run<'_> {
    /// Trains `net` (weights as built: seed them before) on `train`, the best epoch on
    /// `validation` kept; DiSENN pretrains its β-VAE first. Returns the validation accuracy per
    /// epoch trained in this call (empty without validation; a resumed run's earlier epochs are not
    /// in it).
    pub fn train(&self, net: &Senn, train: &dyn Dataset, validation: Option<&dyn Dataset>) -> Result<Vec<f64>> {
        // not the epoch count (a longer run continues a shorter one) nor the log frequency
        let keyed = TrainSennConfig { epochs: 0, print_freq: 0, ..self.cfg.clone() };
        let settings = serde_json::to_string(&keyed).expect("json");
        let key = crate::io::digest::text(&format!("{}|{settings}", self.key));
        let (train, validation) = (Rows::all(train), validation.map(Rows::all));
        let x0 = train.data.get(0)?.input.unsqueeze(0).to_device(self.device);
        let probe = tch::no_grad(|| net.parts(&x0, false));
        let disenn = probe.concepts.vae.is_some();
        if self.cfg.robustness_loss == Robustness::Compas && probe.h.size() != x0.flatten(1, -1).size() {
            return Err(crate::error::Error::ConfigMsg(
                "train_senn.robustness_loss = \"compas_robustness_loss\" takes the concepts to be the inputs \
                 (J_h = I): use it with the IdentityConceptizer, or mnist_robustness_loss"
                    .into(),
            ));
        }
        let lr = if disenn && self.cfg.disenn_default_lr { 1e-3 } else { self.cfg.lr };
        if disenn && self.cfg.pretrain_epochs > 0 {
            let fit_cfg = FitConfig { restore_best: false, ..self.cfg.fit(self.cfg.pretrain_epochs, 1e-3) };
            let pre = Trainer { net, cfg: self.cfg, pretrain: true };
            let dir = self.dir.as_ref().map(|d| d.join("pretrain"));
            self.fit(&fit_cfg, &format!("{key}|pretrain"), dir).run(&pre, net, &train, validation.as_ref())?;
        }
        let fit_cfg = self.cfg.fit(self.cfg.epochs, lr);
        let t = Trainer { net, cfg: self.cfg, pretrain: false };
        let fitted = self.fit(&fit_cfg, &key, self.dir.clone()).run(&t, net, &train, validation.as_ref())?;
        Ok(fitted.figures.iter().filter(|_| validation.is_some()).map(|e| 1.0 - e).collect())
    }

    fn fit<'c>(&self, cfg: &'c FitConfig, key: &str, dir: Option<PathBuf>) -> Fit<'c> {
        Fit {
            cfg,
            key: key.to_string(),
            seed: self.cfg.manual_seed,
            device: self.device,
            dir,
            scalars: self.scalars.clone(),
        }
    }
}
