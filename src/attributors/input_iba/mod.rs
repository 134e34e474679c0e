//! InputIBA (Zhang et al., *Fine-Grained Neural Network Explanation by Identifying Input Features
//! with Predictive Information*, NeurIPS 2021), per sample (spec §3): feature IBA on a hidden layer
//! → a WGAN fits an input-space mask whose noisy images look, at that layer, like the feature
//! bottleneck → the input bottleneck, with the GAN mask as its prior. Port of the original's
//! `BaseAttributor.make_attribution` (`train_feat_iba` → `train_gan` → `train_input_iba`).
pub mod critic;
pub mod flops;
mod gan_stop;
mod input_bottleneck;
pub mod wgan;

pub use critic::{ConvCritic, CriticKernels, CriticNet, CriticTraining, GemmCritic, SequenceCritic};
pub use gan_stop::GanStop;
pub use input_bottleneck::{input_capacity, optimise as optimise_input, InputBottleneckParams};
pub use wgan::{GanResult, RealMask, WganParams};

use super::bottleneck::saliency_bits;
use super::feature_iba::FEAT_MASKS;
use super::{
    sample_seed, stage_index, Attribution, AttributionCtx, Attributor, FeatureIba, FeatureIbaParams, MapSpec, Reduce,
    Split, Splits, Streams,
};
use crate::config::Checked;
use crate::data::Sample;
use crate::error::Result;
use crate::explanation::PngScale;
use crate::modality::Modality;
use crate::models::Classifier;
use crate::registry::{AttributorKind, Build, BuildCtx};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tch::Tensor;

/// The output names (and folders) of the input and GAN masks.
pub const INPUT_MASKS: &str = "input_masks";
pub const GAN_MASKS: &str = "gan_masks";

/// The three stages, in order (the sanity check randomises the model from one of them on).
const STAGES: [&str; 3] = ["feat_iba", "gan", "input_iba"];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputIbaParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// The feature stage (layer, estimation, β 20, 10 steps, no smoothing).
    pub feat_iba: FeatureIbaParams,
    pub gan: WganParams,
    pub input_iba: InputBottleneckParams,
    /// Also write `gan_masks/<name>` (σ(θ_G), channel mean).
    pub save_gan_mask: bool,
    /// Samples attributed together, each with its own masks, critic and optimiser state, and its
    /// own random stream, so the maps equal one-at-a-time ones; larger batches fill a GPU.
    pub samples_per_batch: usize,
}

impl Default for InputIbaParams {
    fn default() -> Self {
        InputIbaParams {
            type_: "InputIba".into(),
            feat_iba: FeatureIbaParams::default(),
            gan: WganParams::default(),
            input_iba: InputBottleneckParams::default(),
            save_gan_mask: false,
            samples_per_batch: 1,
        }
    }
}

pub struct InputIba {
    p: InputIbaParams,
    feat: FeatureIba,
}

/// The curve of each stage's seconds per sample (its batch's time shared equally), so the
/// benchmark and TensorBoard read the stages' cost from the attribution itself.
pub const STAGE_SECONDS: [&str; 3] = ["time/feat_iba_s", "time/gan_s", "time/input_iba_s"];

impl InputIba {
    pub fn new(p: InputIbaParams) -> Self {
        InputIba { feat: FeatureIba::new(p.feat_iba.clone()), p }
    }

    pub fn config(&self) -> &InputIbaParams {
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
    fn splits(&self) -> Vec<Split> {
        self.feat.splits()
    }
    fn fit(&mut self, model: &dyn Classifier, data: &Splits, cx: &AttributionCtx) -> Result<()> {
        self.feat.fit(model, data, cx)
    }
    /// The input masks, InputIBA's result (the feature and GAN masks are its stages').
    fn main_output(&self) -> String {
        INPUT_MASKS.into()
    }
    fn outputs(&self) -> Vec<MapSpec> {
        let mut v = vec![
            MapSpec::input(FEAT_MASKS, PngScale::MaxNormalised, Reduce::Sum),
            MapSpec::input(INPUT_MASKS, PngScale::Raw, Reduce::Sum),
        ];
        if self.p.save_gan_mask {
            v.push(MapSpec::input(GAN_MASKS, PngScale::Raw, Reduce::Sum));
        }
        v
    }
    fn attribute(&mut self, model: &dyn Classifier, s: &Sample, cx: &AttributionCtx) -> Result<Attribution> {
        let mut v = self.attribute_batch(model, std::slice::from_ref(s), cx)?;
        Ok(v.pop().expect("one attribution per sample"))
    }
    fn batch_size(&self) -> usize {
        self.p.samples_per_batch.max(1)
    }
    fn attribute_batch(
        &mut self,
        model: &dyn Classifier,
        samples: &[Sample],
        cx: &AttributionCtx,
    ) -> Result<Vec<Attribution>> {
        self.run_stages([model; 3], samples, cx)
    }
    fn stages(&self) -> Vec<&'static str> {
        STAGES.to_vec()
    }
    fn attribute_randomised(
        &mut self,
        original: &dyn Classifier,
        randomised: &dyn Classifier,
        sample: &Sample,
        stage: &str,
        cx: &AttributionCtx,
    ) -> Result<Attribution> {
        let from = stage_index(&STAGES, stage)?;
        let models: [&dyn Classifier; 3] = std::array::from_fn(|k| if k < from { original } else { randomised });
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
        cx: &AttributionCtx,
    ) -> Result<Vec<Attribution>> {
        let xs: Vec<Tensor> = samples
            .iter()
            .map(|s| Ok(model.embed(&s.input.to_device(cx.device).unsqueeze(0))?.squeeze_dim(0).detach()))
            .collect::<Result<_>>()?;
        let targets: Vec<i64> = xs
            .iter()
            .zip(samples)
            .map(|(x, s)| self.p.feat_iba.target.resolve(model, x, s.target))
            .collect::<Result<_>>()?;
        let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
        let x = Tensor::stack(&xs, 0);
        let size = x.size();
        let text = model.modality() == Modality::Tokens;
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
        let seconds = [(t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64(), (t3 - t2).as_secs_f64()];
        let [a, b, c] = seconds;
        log::debug!("{}: feature IBA {a:.2}s, WGAN {b:.2}s, input IBA {c:.2}s", names.join(", "));
        let per_sample = |t: f64| t / samples.len() as f64;
        let timing = STAGE_SECONDS.iter().zip(seconds).map(|(tag, t)| (tag.to_string(), vec![per_sample(t)]));
        let timing: Vec<(String, Vec<f64>)> = timing.collect();
        let results = feats.into_iter().zip(gan.curves).zip(input_curves).enumerate();
        Ok(results
            .map(|(k, ((feat, gan_c), input_c))| {
                let k = k as i64;
                // text maps are [1,T] strips: one score per token
                let strip = |t: Tensor| if text { t.unsqueeze(0) } else { t };
                let curves = feat.curves.into_iter().chain(gan_c).chain(input_c).chain(timing.clone()).collect();
                let mut a = Attribution::single(FEAT_MASKS, feat_maps.get(k), curves)
                    .with_map(INPUT_MASKS, strip(input_masks.get(k)))
                    .for_target(targets[k as usize]);
                if self.p.save_gan_mask {
                    let gan_map = gan.masks.get(k).mean_dim(if text { -1 } else { 0 }, false, tch::Kind::Float);
                    a = a.with_map(GAN_MASKS, strip(gan_map));
                }
                a
            })
            .collect())
    }
}

impl Build<AttributorKind> for InputIba {
    type Params = InputIbaParams;
    /// The nested stages' tables, each with its own checks, under its key.
    fn validate(p: &InputIbaParams) -> Checked {
        p.feat_iba.validate().map_err(|e| e.under("feat_iba"))?;
        p.gan.validate().map_err(|e| e.under("gan"))?;
        p.input_iba.validate().map_err(|e| e.under("input_iba"))?;
        crate::config::validate::at_least("samples_per_batch", p.samples_per_batch as i64, 1)
    }
    fn build(p: InputIbaParams, _cx: &BuildCtx) -> Result<Box<dyn Attributor>> {
        Ok(Box::new(InputIba::new(p)))
    }
}
crate::register!(AttributorKind, InputIba);
