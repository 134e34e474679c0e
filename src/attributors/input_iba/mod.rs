//! InputIBA (Zhang et al., *Fine-Grained Neural Network Explanation by Identifying Input Features
//! with Predictive Information*, NeurIPS 2021), per sample (spec §3): feature IBA on a hidden layer
//! → a WGAN fits an input-space mask whose noisy images look, at that layer, like the feature
//! bottleneck → the input bottleneck, with the GAN mask as its prior. Port of the original's
//! `BaseAttributor.make_attribution` (`train_feat_iba` → `train_gan` → `train_input_iba`).
mod input_bottleneck;
pub mod wgan;

pub use input_bottleneck::{input_capacity, InputIbaParams};
pub use wgan::{Critic, RealMask, WganParams};

use super::bottleneck::saliency_bits;
use super::{sample_seed, Attribution, Attributor, FeatureIba, FeatureIbaParams, MapSpec, Reduce, RunCtx};
use crate::data::{Dataset, Sample};
use crate::error::Result;
use crate::models::Classifier;
use crate::output::maps::PngScale;
use crate::registry::{AttributorKind, Build, BuildCtx};
use serde::{Deserialize, Serialize};

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
}

impl Default for InputIbaConfig {
    fn default() -> Self {
        InputIbaConfig { type_: "InputIba".into(), feat_iba: FeatureIbaParams::default(), gan: WganParams::default(), input_iba: InputIbaParams::default(), save_gan_mask: false }
    }
}

pub struct InputIba {
    p: InputIbaConfig,
    feat: FeatureIba,
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
        let x = s.image.to_device(cx.device);
        let target = self.p.feat_iba.target.resolve(model, &x, s.target);
        let size = x.size();
        let t0 = std::time::Instant::now();
        let feat = self.feat.optimise(model, &x, target, &s.name, cx.seed)?;
        let t1 = std::time::Instant::now();
        let feat_bits = saliency_bits(&feat.capacity, Some([size[1], size[2]]));
        tch::manual_seed(sample_seed(cx.seed, &s.name) ^ 0x6a6);
        let gan_in = wgan::GanInput { model, layer: &self.p.feat_iba.layer, x: &x.unsqueeze(0), capacity: &feat.capacity, lambda: &feat.lambda, feat_bits: &feat_bits };
        let (gan_mask, gan_curves) = wgan::train(&gan_in, &self.p.gan, sample_seed(cx.seed, &s.name) as u64)
            .map_err(|e| crate::error::Error::Attribution { sample: s.name.clone(), why: format!("WGAN stage: {e}") })?;
        let t2 = std::time::Instant::now();
        let (input_mask, input_curves) = input_bottleneck::optimise(model, &x, target, &gan_mask, &self.p.input_iba, &s.name)?;
        let t3 = std::time::Instant::now();
        log::debug!("{}: feature IBA {:.2}s, WGAN {:.2}s, input IBA {:.2}s", s.name, (t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64(), (t3 - t2).as_secs_f64());
        let mut maps = vec![feat_bits, input_mask];
        if self.p.save_gan_mask {
            maps.push(gan_mask.mean_dim([0, 1].as_slice(), false, tch::Kind::Float));
        }
        let curves = feat.curves.into_iter().chain(gan_curves).chain(input_curves).collect();
        Ok(Attribution { maps, curves })
    }
}

impl Build<AttributorKind> for InputIba {
    type Params = InputIbaConfig;
    fn build(p: InputIbaConfig, _cx: &BuildCtx) -> Result<Box<dyn Attributor>> {
        Ok(Box::new(InputIba { feat: FeatureIba::new(p.feat_iba.clone()), p }))
    }
}
crate::register!(AttributorKind, InputIba);
