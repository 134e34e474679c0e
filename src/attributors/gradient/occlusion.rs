//! Perturbation baselines. Occlusion (Zeiler & Fergus 2014, Captum's `Occlusion`): slide a window
//! of `baseline` values over the image; each pixel's attribution is the mean drop of the target
//! score over the windows that cover it. RandomMap: N(0, ¼) noise, the floor of evaluation metrics.
use super::common::{grad_method, grad_params, per_sample_noise, target_scores};
use super::{GradMethod, GradOutput};
use crate::error::Result;
use crate::models::Classifier;
use tch::{Kind, Tensor};

grad_params! {
    /// Config of [`Occlusion`].
    OcclusionParams = "Occlusion" {
        /// Window [height, width] in pixels.
        window: [i64; 2] = [8, 8],
        /// Step between windows [height, width].
        stride: [i64; 2] = [4, 4],
        /// Value the window is filled with (normalised space; 0 = the dataset mean).
        baseline: f64 = 0.0,
        /// Occluded images per forward pass.
        perturbations_per_eval: i64 = 64,
    }
}

grad_method! {
    /// Occlusion.
    Occlusion(OcclusionParams),
    check = |p| {
        use crate::config::validate::at_least;
        p.window.iter().try_for_each(|&v| at_least("window", v, 1))?;
        p.stride.iter().try_for_each(|&v| at_least("stride", v, 1))?;
        at_least("perturbations_per_eval", p.perturbations_per_eval, 1)
    }
}

/// Window starts along one axis: ceil((len − window)/stride) + 1 of them, the last one clipped.
fn starts(len: i64, window: i64, stride: i64) -> Vec<i64> {
    let n = ((len - window).max(0) + stride - 1) / stride + 1;
    (0..n).map(|k| (k * stride).min((len - window).max(0))).collect()
}

impl Occlusion {
    /// One image x [C,H,W], target t → [1,H,W].
    fn one(&self, model: &dyn Classifier, x: &Tensor, t: &Tensor) -> Tensor {
        let (h, w) = (x.size()[1], x.size()[2]);
        let ([wh, ww], [sh, sw]) = (self.p.window, self.p.stride);
        let windows: Vec<(i64, i64)> =
            starts(h, wh, sh).into_iter().flat_map(|y| starts(w, ww, sw).into_iter().map(move |x0| (y, x0))).collect();
        let score = |b: &Tensor| target_scores(&model.forward(b), &t.repeat([b.size()[0]]), self.common.score);
        tch::no_grad(|| {
            let full = score(&x.unsqueeze(0)).double_value(&[0]);
            let total = Tensor::zeros([h, w], (Kind::Float, x.device()));
            let count = Tensor::zeros([h, w], (Kind::Float, x.device()));
            for chunk in windows.chunks(self.p.perturbations_per_eval.max(1) as usize) {
                let batch: Vec<Tensor> = chunk
                    .iter()
                    .map(|&(y0, x0)| {
                        let o = x.copy();
                        let _ = o.narrow(1, y0, wh.min(h - y0)).narrow(2, x0, ww.min(w - x0)).fill_(self.p.baseline);
                        o
                    })
                    .collect();
                let drops = (-score(&Tensor::stack(&batch, 0)) + full).to_device(tch::Device::Cpu);
                for (k, &(y0, x0)) in chunk.iter().enumerate() {
                    let (dh, dw) = (wh.min(h - y0), ww.min(w - x0));
                    let _ = total.narrow(0, y0, dh).narrow(1, x0, dw).g_add_scalar_(drops.double_value(&[k as i64]));
                    let _ = count.narrow(0, y0, dh).narrow(1, x0, dw).g_add_scalar_(1.0);
                }
            }
            (total / count.clamp_min(1.0)).unsqueeze(0)
        })
    }
}

impl GradMethod for Occlusion {
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        let maps: Vec<Tensor> =
            (0..x.size()[0]).map(|i| self.one(model, &x.get(i), &targets.get(i).view([1]))).collect();
        Ok(Tensor::stack(&maps, 0).into())
    }
}

grad_params! {
    /// Config of [`RandomMap`].
    RandomMapParams = "RandomMap" {}
}

grad_method! {
    /// N(0, ¼) per pixel (InputIBA's random baseline: randn / 2), seeded per image.
    RandomMap(RandomMapParams)
}

impl GradMethod for RandomMap {
    fn compute(&self, _model: &dyn Classifier, x: &Tensor, _targets: &Tensor, seeds: &[i64]) -> Result<GradOutput> {
        let (h, w) = (x.size()[2], x.size()[3]);
        Ok((per_sample_noise(seeds, 7, || Tensor::randn([1, h, w], (Kind::Float, tch::Device::Cpu))) / 2.0)
            .to_device(x.device())
            .into())
    }
}
