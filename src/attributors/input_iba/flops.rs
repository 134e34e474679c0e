//! Floating-point operations of one InputIBA attribution, by stage, from the model's conv/linear
//! multiply-accumulates (spec §7.2's accounting): FLOPs = 2·MACs; a backward pass to the input
//! costs one forward, one that also reaches weights two. Element-wise work (noise, masks, batch
//! norm, the KL) is left out: it is a few percent at these sizes.
use super::InputIbaParams;

/// Multiply-accumulates of the critic (`Critic`) on one [C,h,w] feature map.
pub fn critic_macs(c: i64, h: i64, w: i64) -> f64 {
    let (h2, w2, h4, w4) = (h / 2, w / 2, h / 4, w / 4);
    let conv = (2 * c * c * 16 * h2 * w2) + (4 * c * 2 * c * 16 * h4 * w4) + (c * 4 * c * 9 * h4 * w4);
    let mlp = c * h4 * w4 * 512 + 512 * 256 + 256;
    (conv + mlp) as f64
}

/// FLOPs per image of each stage.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct StageFlops {
    /// One estimation forward (to the layer); the run does `n_samples` of them once.
    pub estimation_per_image: f64,
    pub feature_iba: f64,
    pub wgan: f64,
    pub input_iba: f64,
}

/// `model` = [MACs up to the layer, MACs after it] per image; `feature` = the layer's [C,h,w].
pub fn per_image(p: &InputIbaParams, model: [f64; 2], feature: [i64; 3]) -> StageFlops {
    let [f, t] = model;
    let d = critic_macs(feature[0], feature[1], feature[2]);
    let fi = &p.feat_iba;
    let feature_iba = fi.opt_steps as f64 * fi.batch_size as f64 * 2.0 * t;
    let g = &p.gan;
    let bs = g.batch_size.max(1);
    let mut wgan = 0.0;
    for (i, start) in (0..g.dataset_size.max(0)).step_by(bs as usize).enumerate() {
        let b = (bs.min(g.dataset_size - start)) as f64;
        // fake images to the layer; critic forward on real and fake, weight gradients
        wgan += b * f + 2.0 * b * d + 2.0 * b * d;
        if i % g.critic_iter.max(1) == 0 {
            // generator: to the layer and back to the input, critic forward and full backward
            wgan += b * (2.0 * f + 3.0 * d);
        }
    }
    wgan *= g.epochs as f64;
    let ii = &p.input_iba;
    let input_iba = ii.opt_steps as f64 * ii.batch_size as f64 * 2.0 * (f + t);
    StageFlops {
        estimation_per_image: 2.0 * f,
        feature_iba: 2.0 * feature_iba,
        wgan: 2.0 * wgan,
        input_iba: 2.0 * input_iba,
    }
}
