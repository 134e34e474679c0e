//! What the perturbation metrics share: a deterministic pixel ranking, batched scoring of many
//! perturbed copies of one image, and the original's Gaussian blur.
use crate::error::Result;
use crate::models::Classifier;
use tch::{Kind, Tensor};

/// Rank of every pixel of an [H,W] map, 0 = highest heat; ties go to the lower flat index, so a
/// constant map gives raster order every time (the original's `topk` leaves ties unspecified).
pub fn ranks(map: &Tensor) -> Tensor {
    let flat = map.to_kind(Kind::Double).flatten(0, -1);
    let n = flat.size()[0];
    let order = flat.argsort_stable(true, 0, true);
    Tensor::zeros([n], (Kind::Int64, tch::Device::Cpu))
        .scatter(0, &order, &Tensor::arange(n, (Kind::Int64, tch::Device::Cpu)))
        .view(map.size().as_slice())
}

/// A tensor's values as f64 on the host.
pub fn to_vec(t: &Tensor) -> Result<Vec<f64>> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).to_device(tch::Device::Cpu).flatten(0, -1))
        .map_err(|e| crate::error::Error::Model(e.to_string()))
}

/// What the model's output is read as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Score {
    /// Softmax probability of the target (insertion/deletion, region perturbation).
    #[default]
    Softmax,
    /// Raw logit of the target (Sensitivity-N).
    Logit,
}

/// Scores of the target class for `count` inputs made by `make(start, end)` ([end−start, C,H,W],
/// on the model's device), in forward batches of `batch` (eval mode, no gradients).
pub fn scores(
    model: &dyn Classifier,
    count: i64,
    batch: i64,
    target: i64,
    score: Score,
    make: impl Fn(i64, i64) -> Tensor,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(count as usize);
    let mut start = 0;
    while start < count {
        let end = (start + batch.max(1)).min(count);
        let logits = tch::no_grad(|| model.forward(&make(start, end)));
        let s = match score {
            Score::Softmax => logits.softmax(-1, Kind::Float),
            Score::Logit => logits,
        };
        out.extend(to_vec(&s.select(1, target))?);
        start = end;
    }
    Ok(out)
}

/// torchvision's `GaussianBlur(kernel, sigma)` on [C,H,W]: separable, weights exp(−x²/2σ²)
/// normalised, reflection padding.
pub fn gaussian_blur(x: &Tensor, kernel: i64, sigma: f64) -> Tensor {
    let k = kernel.max(1) | 1; // torchvision requires an odd size
    let half = (k - 1) / 2;
    let w: Vec<f32> = (-half..=half).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32).collect();
    let w = Tensor::from_slice(&w).to_device(x.device());
    let w = &w / w.sum(Kind::Float);
    let c = x.size()[0];
    let x4 = x.unsqueeze(0).reflection_pad2d([half, half, half, half]);
    let row = w.view([1, 1, 1, k]).expand([c, 1, 1, k], false);
    let col = w.view([1, 1, k, 1]).expand([c, 1, k, 1], false);
    x4.conv2d(&row, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)
        .conv2d(&col, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)
        .squeeze_dim(0)
}
