//! IBA's Per-Sample Bottleneck on a hidden layer (Schulz et al., ICLR 2020), as InputIBA's first
//! stage uses it (spec §1, §3.1–3.2). Port of `IBA/pytorch.py::IBA` and InputIBA's
//! `VisionFeatureIBA`: estimate μ_R, σ_R over a dataset, then per sample optimise the logits α of
//! λ = σ(α) with Adam so that the noisy features z = λR + (1−λ)ε keep the class while the KL
//! capacity (β-weighted) is small. The map is the capacity in bits per pixel.
mod estimation;

use super::bottleneck::{capacity, noisy_features, saliency_bits, GaussianSmoothing, NoisyCopies};
use super::sample_curves::SampleCurves;
use super::streams::Streams;
use super::{sample_seed, Attribution, AttributionCtx, Attributor, Curves, MapSpec, Reduce, Split, Splits, Target};
use crate::config::Checked;
use crate::data::{Dataset, Sample};
use crate::error::{Error, Result};
use crate::explanation::PngScale;
use crate::modality::Modality;
use crate::models::Classifier;
use crate::registry::{AttributorKind, Build, BuildCtx};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureIbaParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Layer whose output is bottlenecked, torchvision naming (VGG16: `features.17`, pre-ReLU conv4_1).
    pub layer: String,
    /// Samples for the estimator (InputIBA: 1000; IBA recommends 10000).
    pub n_samples: usize,
    /// Images per estimation batch (the original's loader: 1).
    pub estimation_batch_size: usize,
    /// Reproduce the original's break test (`n_seen > n_samples` before each batch), which reads
    /// one batch more than `n_samples` (1001 images at batch 1). False: exactly `n_samples`.
    pub estimation_overshoot: bool,
    /// An element is active when non-zero in more than this fraction of estimation samples.
    pub active_neurons_threshold: f64,
    /// Initial α (λ = σ(5) ≈ 0.993: nearly everything passes).
    pub initial_alpha: f64,
    /// σ of the Gaussian smoothing of λ in feature cells; 0 = none (InputIBA forces none, IBA uses 1).
    pub sigma: f64,
    /// Lower bound of σ_R.
    pub min_std: f64,
    /// Clamp z at 0 after noising (for post-ReLU layers).
    pub relu: bool,
    /// Weight of the information loss (IBA: 10, InputIBA: 20).
    pub beta: f64,
    pub opt_steps: usize,
    /// Adam learning rate (PyTorch defaults for betas and eps).
    pub lr: f64,
    pub adam_betas: [f64; 2],
    pub adam_eps: f64,
    /// Noisy copies of the sample per step.
    pub batch_size: i64,
    /// Resize the map to the input size (bits per pixel); false keeps the layer's resolution.
    pub upscale: bool,
    pub target: Target,
    /// Text, bottleneck on the last LSTM (spec §10 item 6). The original's hook noises `rnn_4`'s
    /// output sequence but passes `h_n` on unchanged, and the classifier reads `h_n`: the noise
    /// never reaches the logit, the prediction loss has no gradient and the mask is shaped by the
    /// information term alone. True restores that (the class loss is taken on the clean features).
    /// False (default): the classifier reads the last step of the bottlenecked sequence.
    pub original_rnn_hook: bool,
    /// Text (spec §4.3, §10 item 7). The original's estimator updates per token (padding zeros of
    /// each padded batch included) but counts sentences, and only after each batch: every token of a
    /// batch divides by (sentences before it + 1), the std divides the token sums by sentences − 1
    /// and the activity ratio is token count / sentences. True restores that; false (default):
    /// per-token moments over the valid tokens.
    pub original_nlp_estimator: bool,
}

impl Default for FeatureIbaParams {
    fn default() -> Self {
        FeatureIbaParams {
            type_: "FeatureIba".into(),
            layer: "features.17".into(),
            n_samples: 1000,
            estimation_batch_size: 1,
            estimation_overshoot: true,
            active_neurons_threshold: 0.01,
            initial_alpha: 5.0,
            sigma: 0.0,
            min_std: 0.01,
            relu: false,
            beta: 20.0,
            opt_steps: 10,
            lr: 1.0,
            adam_betas: [0.9, 0.999],
            adam_eps: 1e-8,
            batch_size: 10,
            upscale: true,
            target: Target::Label,
            original_rnn_hook: false,
            original_nlp_estimator: false,
        }
    }
}

/// The output name (and folder) of the feature masks.
pub const FEAT_MASKS: &str = "feat_masks";

/// The estimator's results as the bottleneck uses them.
struct Prior {
    mean: Tensor,
    std: Tensor,
    active: Tensor,
}

pub struct FeatureIba {
    p: FeatureIbaParams,
    prior: Option<Prior>,
    n_estimated: i64,
}

/// One sample's optimisation result at the layer's resolution.
pub struct FeatureResult {
    /// Capacity [C,h,w] in nats, active-masked, batch-mean, of the last forward.
    pub capacity: Tensor,
    /// The (smoothed) mask λ [C,h,w] of the last forward.
    pub lambda: Tensor,
    pub curves: Curves,
}

impl FeatureIba {
    pub fn new(p: FeatureIbaParams) -> Self {
        FeatureIba { p, prior: None, n_estimated: 0 }
    }

    pub fn params(&self) -> &FeatureIbaParams {
        &self.p
    }

    /// How many samples the estimator has seen.
    pub fn n_estimated(&self) -> i64 {
        self.n_estimated
    }

    /// Runs the estimator over `data` (or reloads it from the run's state folder). `identity` says
    /// which data `data` is beyond its samples' names (see [`Splits::identity`]).
    pub fn estimate(
        &mut self,
        model: &dyn Classifier,
        data: &dyn Dataset,
        identity: &str,
        cx: &AttributionCtx,
    ) -> Result<()> {
        let est = estimation::cached_or_run(model, data, identity, &self.p, cx)?;
        self.n_estimated = est.n_samples();
        let std = est.std()?.clamp_min(self.p.min_std);
        self.prior =
            Some(Prior { mean: est.mean()?, std, active: est.active_neurons(self.p.active_neurons_threshold)? });
        Ok(())
    }

    /// Optimises α for one input x [C,H,W] and class `target` (spec §1.6).
    pub fn optimise(
        &self,
        model: &dyn Classifier,
        x: &Tensor,
        target: i64,
        name: &str,
        seed: u64,
    ) -> Result<FeatureResult> {
        let mut r = self.optimise_batch(model, &[x.shallow_clone()], &[target], &[name], seed)?;
        Ok(r.pop().expect("one result per sample"))
    }

    /// Optimises one α per sample, all samples in one batch of N·B noisy copies. The summed loss
    /// gives each α its own sample's gradient, and Adam is element-wise, so every result equals
    /// the sample's own `optimise` (same noise: one [`Streams`] stream per sample).
    pub fn optimise_batch(
        &self,
        model: &dyn Classifier,
        xs: &[Tensor],
        targets: &[i64],
        names: &[&str],
        seed: u64,
    ) -> Result<Vec<FeatureResult>> {
        let prior = self.prior.as_ref().ok_or_else(|| Error::Attribution {
            sample: names.join(", "),
            why: "the estimator has not run (fit first)".into(),
        })?;
        let p = &self.p;
        let n = xs.len() as i64;
        let mut streams = Streams::new(names.iter().map(|s| sample_seed(seed, s) as u64));
        // The frozen part before the bottleneck runs once per sample.
        let r = tch::no_grad(|| model.features(&Tensor::stack(xs, 0), &p.layer))?; // [N,C,h,w]
        let r_norm = ((&r - &prior.mean) / &prior.std).unsqueeze(1);
        let shape = r.size()[1..].to_vec();
        let alpha = Tensor::full(r.size(), p.initial_alpha, (Kind::Float, r.device())).set_requires_grad(true);
        let mut opt = tch::COptimizer::adam(p.lr, p.adam_betas[0], p.adam_betas[1], 0.0, p.adam_eps, false)?;
        opt.add_parameters(&alpha, 0)?;
        let smooth = (p.sigma > 0.0).then(|| GaussianSmoothing::new(p.sigma, shape[0], r.device()));
        let copies = NoisyCopies::new(&shape, p.batch_size, targets, r.device());
        let mut curves = SampleCurves::new(&["feat_iba/loss", "feat_iba/cls_loss", "feat_iba/info_loss"], xs.len());
        let (mut last_cap, mut last_lambda) = (None, None);
        for step in 0..p.opt_steps {
            opt.zero_grad()?;
            let lambda = copies.lambda(&alpha, smooth.as_ref());
            let mut z = noisy_features(
                &r.unsqueeze(1),
                &lambda,
                &streams.randn(&copies.each, r.device()),
                &prior.mean,
                &prior.std,
            ) * &prior.active;
            if p.relu {
                z = z.relu();
            }
            // the original's rnn hook: the classifier reads the clean final state, never z
            let seen = if p.original_rnn_hook { r.unsqueeze(1).expand(&copies.batch, false) } else { z };
            let cls = copies.class_loss(&model.head(&seen.reshape(&copies.flat), &p.layer)?);
            let cap = capacity(&r_norm, &lambda) * &prior.active;
            let info = cap.view([n, -1]).mean_dim(1, false, Kind::Float);
            let loss = &cls + &info * p.beta;
            curves.push(&[&loss, &cls, &info], names, |v| format!("feature IBA loss is {v} at step {step}"))?;
            last_cap = Some(cap.detach().mean_dim(1, false, Kind::Float));
            last_lambda = Some(lambda.detach().mean_dim(1, false, Kind::Float));
            loss.sum(Kind::Float).backward();
            opt.step()?;
        }
        let (capacity, lambda) = last_cap
            .zip(last_lambda)
            .ok_or_else(|| Error::Attribution { sample: names.join(", "), why: "opt_steps is 0".into() })?;
        Ok(curves
            .into_curves()
            .into_iter()
            .enumerate()
            .map(|(k, curves)| FeatureResult { capacity: capacity.get(k as i64), lambda: lambda.get(k as i64), curves })
            .collect())
    }
}

impl Attributor for FeatureIba {
    fn check(&self, model: &dyn Classifier) -> Result<()> {
        model.check_layer(&self.p.layer)?;
        self.p.target.check(model)?;
        let last = model.layer_names().last().cloned().unwrap_or_default();
        if self.p.original_rnn_hook && !(model.modality() == Modality::Tokens && self.p.layer == last) {
            return Err(Error::ConfigMsg(format!("attributor: original_rnn_hook reproduces the original's hook on a text model's last LSTM (`{last}` here); it has no meaning at `{}` on this model", self.p.layer)));
        }
        if self.p.original_nlp_estimator && model.modality() != Modality::Tokens {
            return Err(Error::ConfigMsg("attributor: original_nlp_estimator applies to text models only".into()));
        }
        Ok(())
    }
    fn splits(&self) -> Vec<Split> {
        vec![Split::Estimation]
    }
    fn fit(&mut self, model: &dyn Classifier, data: &Splits, cx: &AttributionCtx) -> Result<()> {
        self.estimate(model, data.get(Split::Estimation)?, data.identity(Split::Estimation), cx)
    }
    fn outputs(&self) -> Vec<MapSpec> {
        vec![MapSpec::input(FEAT_MASKS, PngScale::MaxNormalised, Reduce::Sum)]
    }
    fn attribute(&mut self, model: &dyn Classifier, s: &Sample, cx: &AttributionCtx) -> Result<Attribution> {
        let x = model.embed(&s.input.to_device(cx.device).unsqueeze(0))?.squeeze_dim(0);
        let target = self.p.target.resolve(model, &x, s.target)?;
        let res = self.optimise(model, &x, target, &s.name, cx.seed)?;
        let map = if model.modality() == Modality::Tokens {
            // text (spec §4.3): capacity [T,H] summed over the hidden units, in nats as the
            // original reports it; one value per token, as a [1,T] strip
            res.capacity.sum_dim_intlist(-1, false, Kind::Float).unsqueeze(0)
        } else {
            let size = x.size();
            saliency_bits(&res.capacity, self.p.upscale.then(|| [size[1], size[2]]))
        };
        Ok(Attribution::single(FEAT_MASKS, map, res.curves).for_target(target))
    }
}

impl FeatureIbaParams {
    /// The ranges of every value, for this table wherever it sits (`[attributor]`, or InputIBA's
    /// `[attributor.feat_iba]`).
    pub fn validate(&self) -> Checked {
        use crate::config::validate::{adam, at_least, finite, non_negative, positive, within};
        at_least("batch_size", self.batch_size, 1)?;
        at_least("opt_steps", self.opt_steps as i64, 1)?;
        at_least("estimation_batch_size", self.estimation_batch_size as i64, 1)?;
        at_least("n_samples", self.n_samples as i64, 1)?;
        positive("lr", self.lr)?;
        adam("adam_betas", self.adam_betas, "adam_eps", self.adam_eps)?;
        non_negative("beta", self.beta)?;
        positive("min_std", self.min_std)?; // it guards the division by σ_R
        finite("initial_alpha", self.initial_alpha)?;
        non_negative("sigma", self.sigma)?; // 0: no smoothing
        within("active_neurons_threshold", self.active_neurons_threshold, 0.0, 1.0)
    }
}

impl Build<AttributorKind> for FeatureIba {
    type Params = FeatureIbaParams;
    fn validate(p: &FeatureIbaParams) -> Checked {
        p.validate()
    }
    fn build(p: FeatureIbaParams, _cx: &BuildCtx) -> Result<Box<dyn Attributor>> {
        Ok(Box::new(FeatureIba::new(p)))
    }
}
crate::register!(AttributorKind, FeatureIba);
