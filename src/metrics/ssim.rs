//! Structural similarity as InputIBA's sanity check computes it (`skimage.metrics.structural_similarity(a, b,
//! win_size=5, data_range=255)`): uniform 5×5 windows, K1 = 0.01, K2 = 0.03, sample covariances
//! (×25/24), the mean over the windows that lie inside the image.
use tch::{Kind, Tensor};

/// SSIM of two [H,W] maps on a 0…255 scale.
pub fn ssim(a: &Tensor, b: &Tensor) -> f64 {
    let (win, range) = (5i64, 255.0f64);
    let prep = |t: &Tensor| t.to_kind(Kind::Double).to_device(tch::Device::Cpu).unsqueeze(0).unsqueeze(0);
    let (x, y) = (prep(a), prep(b));
    let pool = |t: &Tensor| t.avg_pool2d([win, win], [1, 1], [0, 0], false, true, None::<i64>);
    let (ux, uy) = (pool(&x), pool(&y));
    let n = (win * win) as f64;
    let cov = n / (n - 1.0);
    let vx = (pool(&(&x * &x)) - &ux * &ux) * cov;
    let vy = (pool(&(&y * &y)) - &uy * &uy) * cov;
    let vxy = (pool(&(&x * &y)) - &ux * &uy) * cov;
    let (c1, c2) = ((0.01 * range).powi(2), (0.03 * range).powi(2));
    let num = (&ux * &uy * 2.0 + c1) * (vxy * 2.0 + c2);
    let den = (&ux * &ux + &uy * &uy + c1) * (vx + vy + c2);
    (num / den).mean(Kind::Double).double_value(&[])
}
