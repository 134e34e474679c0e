//! The information bottleneck of IBA (Schulz et al., ICLR 2020), spec §1.3–1.7: the noise
//! injection z = λR + (1−λ)ε, its KL capacity against the prior, the Gaussian smoothing of λ and the
//! conversion of the capacity into a saliency map in bits per pixel.
use tch::{Kind, Tensor};

/// Per-element KL( N(λr, (1−λ)²) ‖ N(0,1) ) in nats, eq. (6) of the IBA paper in normalised
/// coordinates r = (R − μ_R)/σ_R (spec §1.5). Shapes broadcast; output has the shape of λ·r.
pub fn capacity(r_norm: &Tensor, lambda: &Tensor) -> Tensor {
    let mu_z = lambda * r_norm;
    let var_z = (lambda.ones_like() - lambda).square();
    (1.0 + var_z.log() - mu_z.square() - var_z) * -0.5
}

/// z = λR + (1−λ)ε with ε = σ_R·n + μ_R, n ~ N(0, I) drawn per element and per copy (spec §1.4).
/// `r`: [1,C,H,W]; `lambda` and `n`: [B,C,H,W]; mean/std: [C,H,W] (any leading dims broadcast).
pub fn noisy_features(r: &Tensor, lambda: &Tensor, n: &Tensor, mean: &Tensor, std: &Tensor) -> Tensor {
    let eps = n * std + mean;
    lambda * r + (lambda.ones_like() - lambda) * eps
}

/// Depthwise Gaussian blur of λ (IBA's `_SpatialGaussianKernel`): kernel size 2·round(2σ)+1 with
/// Python's `round` (halves to even: σ = 1.25 gives 5, not 7), reflection padding, weights
/// normalised to sum 1.
pub struct GaussianSmoothing {
    kernel: Tensor,
    pad: i64,
}

impl GaussianSmoothing {
    pub fn new(sigma: f64, channels: i64, device: tch::Device) -> Self {
        let size = 2 * (2.0 * sigma).round_ties_even() as i64 + 1;
        let c = (size - 1) as f64 / 2.0;
        let mut w = Vec::with_capacity((size * size) as usize);
        for i in 0..size {
            for j in 0..size {
                let d2 = (i as f64 - c).powi(2) + (j as f64 - c).powi(2);
                w.push((-d2 / (2.0 * sigma * sigma)).exp() as f32);
            }
        }
        let k = Tensor::from_slice(&w).view([1, 1, size, size]);
        let k = (&k / k.sum(Kind::Float)).expand([channels, 1, size, size], false).contiguous().to_device(device);
        GaussianSmoothing { kernel: k, pad: (size - 1) / 2 }
    }

    /// [B,C,H,W] → [B,C,H,W].
    pub fn apply(&self, x: &Tensor) -> Tensor {
        let padded = x.reflection_pad2d([self.pad, self.pad, self.pad, self.pad]);
        let groups = self.kernel.size()[0];
        padded.conv2d(&self.kernel, None::<Tensor>, [1, 1], [0, 0], [1, 1], groups)
    }
}

/// Capacity [C,h,w] in nats → saliency [H,W] in bits per pixel (spec §1.7): nansum over channels,
/// ÷ ln 2, then, when `out` is given, × (h·w)/(H·W) and the original's bilinear resize
/// ([`resize_mirror`]), so the total number of bits is kept (up to the mirrored border).
pub fn saliency_bits(capacity: &Tensor, out: Option<[i64; 2]>) -> Tensor {
    let bits = capacity.nansum(&[0i64][..], false, Kind::Float) / std::f64::consts::LN_2;
    match out {
        None => bits,
        Some([h, w]) => {
            let s = bits.size();
            let scale = (s[0] * s[1]) as f64 / (h * w) as f64;
            resize_mirror(&(bits * scale), [h, w])
        }
    }
}

/// Bilinear resize of an [h,w] map to [H,W] as scikit-image's `resize(order=1, mode='reflect')`
/// (scipy's `zoom(order=1, mode='mirror', grid_mode=True)`): pixel-centre sampling, input
/// coordinate u = (o + ½)·h/H − ½, and beyond the outermost centres the map mirrored about the
/// edge pixel (x₋₁ = x₁). PyTorch's `align_corners=False` resize holds the edge value there instead,
/// which changes the outermost H/(2h) rows and columns (4 pixels a side at 28 → 224).
pub fn resize_mirror(map: &Tensor, [h_out, w_out]: [i64; 2]) -> Tensor {
    let (h, w) = (map.size()[0], map.size()[1]);
    let (ry, rx) = (mirror_weights(h, h_out, map.device()), mirror_weights(w, w_out, map.device()));
    ry.matmul(&map.to_kind(Kind::Float)).matmul(&rx.tr())
}

/// [out, n] linear-interpolation weights along one axis (see [`resize_mirror`]).
fn mirror_weights(n: i64, out: i64, device: tch::Device) -> Tensor {
    let mirror = |i: i64| -> i64 {
        if n == 1 {
            return 0;
        }
        let period = 2 * (n - 1);
        let k = i.rem_euclid(period);
        if k < n {
            k
        } else {
            period - k
        }
    };
    let mut w = vec![0f32; (out * n) as usize];
    for o in 0..out {
        let u = (o as f64 + 0.5) * n as f64 / out as f64 - 0.5;
        let (i0, f) = (u.floor() as i64, u - u.floor());
        w[(o * n + mirror(i0)) as usize] += (1.0 - f) as f32;
        w[(o * n + mirror(i0 + 1)) as usize] += f as f32;
    }
    Tensor::from_slice(&w).view([out, n]).to_device(device)
}

/// The batch a per-sample bottleneck optimises over: N samples × B noisy copies of a per-sample
/// shape, with each copy's target class. Shared by the feature and the input bottleneck.
pub struct NoisyCopies {
    n: i64,
    b: i64,
    /// [B, shape…]: one sample's copies (what each random stream draws).
    pub each: Vec<i64>,
    /// [N·B, shape…]: the batch the model sees.
    pub flat: Vec<i64>,
    /// [N, B, shape…].
    pub batch: Vec<i64>,
    /// [N·B, 1] class of every copy.
    target: Tensor,
}

impl NoisyCopies {
    pub fn new(shape: &[i64], copies: i64, targets: &[i64], device: tch::Device) -> Self {
        let n = targets.len() as i64;
        let each: Vec<i64> = [copies].into_iter().chain(shape.iter().copied()).collect();
        let flat: Vec<i64> = [n * copies].into_iter().chain(shape.iter().copied()).collect();
        let batch: Vec<i64> = [n].into_iter().chain(each.iter().copied()).collect();
        let target =
            Tensor::from_slice(targets).to_device(device).repeat_interleave_self_int(copies, 0, None).unsqueeze(1);
        NoisyCopies { n, b: copies, each, flat, batch, target }
    }

    /// λ = smooth(σ(α)) for every copy: α [N, shape…] → [N, B, shape…].
    pub fn lambda(&self, alpha: &Tensor, smooth: Option<&GaussianSmoothing>) -> Tensor {
        let lambda = alpha.sigmoid().unsqueeze(1).expand(&self.batch, false);
        match smooth {
            Some(s) => s.apply(&lambda.reshape(&self.flat)).view(self.batch.as_slice()),
            None => lambda,
        }
    }

    /// Cross-entropy of each copy's target, averaged over a sample's copies: logits [N·B, classes] → [N].
    pub fn class_loss(&self, logits: &Tensor) -> Tensor {
        -logits.log_softmax(-1, Kind::Float).gather(1, &self.target, false).view([self.n, self.b]).mean_dim(
            1,
            false,
            Kind::Float,
        )
    }
}
