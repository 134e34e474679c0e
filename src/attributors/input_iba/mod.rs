//! InputIBA (Zhang et al., *Fine-Grained Neural Network Explanation by Identifying Input Features
//! with Predictive Information*, NeurIPS 2021), per sample (spec §3): feature IBA on a hidden layer
//! → a WGAN fits an input-space mask whose noisy images look, at that layer, like the feature
//! bottleneck → the input bottleneck, with the GAN mask as its prior. Port of the original's
//! `BaseAttributor.make_attribution` (`train_feat_iba` → `train_gan` → `train_input_iba`).
mod critic;
pub mod flops;
mod input_bottleneck;
pub mod wgan;

pub use critic::{Critic, CriticNet, SequenceCritic};
pub use input_bottleneck::{input_capacity, optimise as optimise_input, InputIbaParams};
pub use wgan::{GanResult, RealMask, WganParams};

use super::bottleneck::saliency_bits;
use super::{sample_seed, Attribution, Attributor, FeatureIba, FeatureIbaParams, MapSpec, Reduce, RunCtx, Streams};
use crate::data::{Dataset, Sample};
use crate::error::Result;
use crate::models::Classifier;
use crate::output::maps::PngScale;
use crate::registry::{AttributorKind, Build, BuildCtx};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tch::Tensor;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputIbaConfig {
    #[serde(rename = "type")]
    pub type_: String,
    /// The feature stage (layer, estimation, β 20, 10 steps, no smoothing).
    pub feat_iba: FeatureIbaParams,
    pub gan: WganParams,
    pub input_iba: InputIbaParams,
    /// Also write `gan_masks/<name>` (σ(θ_G), channel mean).
    pub save_gan_mask: bool,
    /// Samples attributed together, each with its own masks, critic and optimiser state, and its
    /// own random stream, so the maps equal one-at-a-time ones; larger batches fill a GPU.
    pub samples_per_batch: usize,
}

impl Default for InputIbaConfig {
    fn default() -> Self {
        InputIbaConfig {
            type_: "InputIba".into(),
            feat_iba: FeatureIbaParams::default(),
            gan: WganParams::default(),
            input_iba: InputIbaParams::default(),
            save_gan_mask: false,
            samples_per_batch: 1,
        }
    }
}

pub struct InputIba {
    p: InputIbaConfig,
    feat: FeatureIba,
    /// Seconds of the last batch's feature-IBA, WGAN and input-IBA stages (for the benchmark).
    pub last_stage_seconds: [f64; 3],
}

impl InputIba {
    pub fn new(p: InputIbaConfig) -> Self {
        InputIba { feat: FeatureIba::new(p.feat_iba.clone()), p, last_stage_seconds: [0.0; 3] }
    }

    pub fn config(&self) -> &InputIbaConfig {
        &self.p
    }

    pub fn feature_iba(&mut self) -> &mut FeatureIba {
        &mut self.feat
    }
}

/// Waits for the device, so that stage times are the GPU's work and not its queueing.
fn sync(device: tch::Device) -> Instant {
    if let tch::Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
    Instant::now()
}

impl Attributor for InputIba {
    fn check(&self, model: &dyn Classifier) -> Result<()> {
        self.feat.check(model)
    }
    fn needs_estimation(&self) -> bool {
        self.feat.needs_estimation()
    }
    fn fit(&mut self, model: &dyn Classifier, data: Option<&dyn Dataset>, cx: &RunCtx) -> Result<()> {
        self.feat.fit(model, data, cx)
    }
    fn outputs(&self) -> Vec<MapSpec> {
        let mut v = vec![
            MapSpec { dir: "feat_masks".into(), scale: PngScale::MaxNormalised, reduce: Reduce::Sum },
            MapSpec { dir: "input_masks".into(), scale: PngScale::Raw, reduce: Reduce::Sum },
        ];
        if self.p.save_gan_mask {
            v.push(MapSpec { dir: "gan_masks".into(), scale: PngScale::Raw, reduce: Reduce::Sum });
        }
        v
    }
    fn attribute(&mut self, model: &dyn Classifier, s: &Sample, cx: &RunCtx) -> Result<Attribution> {
        let mut v = self.attribute_batch(model, std::slice::from_ref(s), cx)?;
        Ok(v.pop().expect("one attribution per sample"))
    }
    fn batch_size(&self) -> usize {
        self.p.samples_per_batch.max(1)
    }
    fn attribute_batch(&mut self, model: &dyn Classifier, samples: &[Sample], cx: &RunCtx) -> Result<Vec<Attribution>> {
        self.run_stages([model; 3], samples, cx)
    }
    fn attribute_randomised(
        &mut self,
        original: &dyn Classifier,
        randomised: &dyn Classifier,
        sample: &Sample,
        stage: &str,
        cx: &RunCtx,
    ) -> Result<Attribution> {
        let models = match stage {
            "gan" => [original, randomised, randomised],
            "input_iba" => [original, original, randomised],
            "all" => [randomised; 3],
            other => {
                return Err(crate::error::Error::ConfigMsg(format!(
                    "sanity-check stage `{other}`: expected \"all\", \"gan\" or \"input_iba\""
                )))
            }
        };
        let mut v = self.run_stages(models, std::slice::from_ref(sample), cx)?;
        Ok(v.pop().expect("one attribution per sample"))
    }
}

impl InputIba {
    /// The three stages on their models ([feature IBA, WGAN, input IBA]; the same model but for
    /// the sanity check), all `samples` in one batch.
    fn run_stages(
        &mut self,
        [model, gan_model, input_model]: [&dyn Classifier; 3],
        samples: &[Sample],
        cx: &RunCtx,
    ) -> Result<Vec<Attribution>> {
        let xs: Vec<Tensor> = samples
            .iter()
            .map(|s| Ok(model.embed(&s.image.to_device(cx.device).unsqueeze(0))?.squeeze_dim(0).detach()))
            .collect::<Result<_>>()?;
        let targets: Vec<i64> =
            xs.iter().zip(samples).map(|(x, s)| self.p.feat_iba.target.resolve(model, x, s.target)).collect();
        let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
        let x = Tensor::stack(&xs, 0);
        let size = x.size();
        let text = model.sequence_features();
        let t0 = sync(cx.device);
        let feats = self.feat.optimise_batch(model, &xs, &targets, &names, cx.seed)?;
        let t1 = sync(cx.device);
        let stack = |f: &dyn Fn(&super::feature_iba::FeatureResult) -> Tensor| {
            Tensor::stack(&feats.iter().map(f).collect::<Vec<_>>(), 0)
        };
        // the feature map and θ_G's start: images, bits per pixel at input size over the channels;
        // text (spec §4.4), nats per token over the embedding
        let (feat_maps, theta_init) = if text {
            let nats = stack(&|f| f.capacity.sum_dim_intlist(-1, false, tch::Kind::Float)); // [N,T]
            (nats.unsqueeze(1), nats.unsqueeze(-1).expand(&size, false))
        } else {
            let bits = stack(&|f| saliency_bits(&f.capacity, Some([size[2], size[3]])));
            (bits.shallow_clone(), bits.unsqueeze(1).expand(&size, false))
        };
        let mut streams = Streams::new(names.iter().map(|n| sample_seed(cx.seed, n) as u64 ^ 0x6a6));
        let gan_in = wgan::GanInput {
            model: gan_model,
            layer: &self.p.feat_iba.layer,
            x: &x,
            capacity: &stack(&|f| f.capacity.shallow_clone()),
            lambda: &stack(&|f| f.lambda.shallow_clone()),
            theta_init: &theta_init,
            names: &names,
        };
        let gan = wgan::train(&gan_in, &self.p.gan, &mut streams)?;
        let t2 = sync(cx.device);
        let (input_masks, input_curves) =
            input_bottleneck::optimise(input_model, &x, &targets, &gan.masks, &self.p.input_iba, &names, &mut streams)?;
        let t3 = sync(cx.device);
        self.last_stage_seconds = [(t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64(), (t3 - t2).as_secs_f64()];
        let [a, b, c] = self.last_stage_seconds;
        log::debug!("{}: feature IBA {a:.2}s, WGAN {b:.2}s, input IBA {c:.2}s", names.join(", "));
        let results = feats.into_iter().zip(gan.curves).zip(input_curves).enumerate();
        Ok(results
            .map(|(k, ((feat, gan_c), input_c))| {
                let k = k as i64;
                // text maps are [1,T] strips: one score per token
                let strip = |t: Tensor| if text { t.unsqueeze(0) } else { t };
                let mut maps = vec![feat_maps.get(k), strip(input_masks.get(k))];
                if self.p.save_gan_mask {
                    maps.push(strip(gan.masks.get(k).mean_dim(if text { -1 } else { 0 }, false, tch::Kind::Float)));
                }
                Attribution { maps, curves: feat.curves.into_iter().chain(gan_c).chain(input_c).collect() }
            })
            .collect())
    }
}

impl Build<AttributorKind> for InputIba {
    type Params = InputIbaConfig;
    fn build(p: InputIbaConfig, _cx: &BuildCtx) -> Result<Box<dyn Attributor>> {
        Ok(Box::new(InputIba::new(p)))
    }
}
crate::register!(AttributorKind, InputIba);
