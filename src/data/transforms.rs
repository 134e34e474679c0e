//! Image preprocessing. InputIBA's (albumentations `Resize` + `Normalize` + `ToTensorV2`): a plain
//! bilinear resize to a fixed size (aspect ratio not kept, cv2 INTER_LINEAR, result rounded to 8 bit
//! as cv2 does on uint8 images), then (x/255 − mean)/std. IBA's notebooks instead resize the shorter
//! side and crop the centre (torchvision `Resize(256)` + `CenterCrop(224)`): `resize_shorter`.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageTransform {
    /// Output size [height, width].
    pub img_size: [i64; 2],
    pub mean: [f64; 3],
    pub std: [f64; 3],
    /// 0: plain resize to `img_size` (InputIBA). N > 0: resize the shorter side to N keeping the
    /// aspect ratio, then crop the centre `img_size` (IBA: 256 then 224).
    pub resize_shorter: i64,
}

impl Default for ImageTransform {
    fn default() -> Self {
        ImageTransform {
            img_size: [224, 224],
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            resize_shorter: 0,
        }
    }
}

/// Where the pixels of an (h, w) image end up: resized to `resized`, then cropped at `offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub original: (i64, i64),
    pub resized: (i64, i64),
    /// (top, left) of the crop in the resized image.
    pub offset: (i64, i64),
}

impl Geometry {
    /// Maps a box (xmin, ymin, xmax, ymax, in original pixels) into the output image, clipped to
    /// `size` [H,W]; `None` when it falls outside the crop.
    pub fn map_box(&self, b: [f64; 4], [oh, ow]: [i64; 2]) -> Option<[f64; 4]> {
        let (sy, sx) = (self.resized.0 as f64 / self.original.0 as f64, self.resized.1 as f64 / self.original.1 as f64);
        let (top, left) = (self.offset.0 as f64, self.offset.1 as f64);
        let x0 = (b[0] * sx - left).max(0.0);
        let y0 = (b[1] * sy - top).max(0.0);
        let x1 = (b[2] * sx - left).min(ow as f64 - 1.0);
        let y1 = (b[3] * sy - top).min(oh as f64 - 1.0);
        (x1 >= x0 && y1 >= y0).then_some([x0, y0, x1, y1])
    }
}

/// Decodes an image file to [3,H,W] uint8 RGB; a corrupt or unsupported file names itself.
pub fn read_rgb(path: &Path) -> Result<Tensor> {
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?
        .decode()
        .map_err(|e| Error::file(path, format!("cannot decode image: {e}")))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    Ok(Tensor::from_slice(img.as_raw()).view([h as i64, w as i64, 3]).permute([2, 0, 1]).contiguous())
}

impl ImageTransform {
    /// Image file → ([3,H,W] normalised float, where its pixels went).
    pub fn load(&self, path: &Path) -> Result<(Tensor, Geometry)> {
        let rgb = read_rgb(path)?;
        let geo = self.geometry(rgb.size()[1], rgb.size()[2]);
        Ok((self.apply(&rgb), geo))
    }

    /// The resize and crop for an (h, w) image (torchvision's rounding for `resize_shorter`).
    pub fn geometry(&self, h: i64, w: i64) -> Geometry {
        let [oh, ow] = self.img_size;
        if self.resize_shorter <= 0 {
            return Geometry { original: (h, w), resized: (oh, ow), offset: (0, 0) };
        }
        let s = self.resize_shorter;
        let resized = if h <= w { (s, s * w / h) } else { (s * h / w, s) };
        // torchvision's CenterCrop: int(round(d / 2)), Python's round (half to even)
        let top = ((resized.0 - oh) as f64 / 2.0).round_ties_even() as i64;
        let left = ((resized.1 - ow) as f64 / 2.0).round_ties_even() as i64;
        Geometry { original: (h, w), resized, offset: (top, left) }
    }

    /// [3,h,w] uint8 → [3,H,W] normalised float.
    pub fn apply(&self, rgb: &Tensor) -> Tensor {
        let x = rgb.to_kind(Kind::Float).unsqueeze(0);
        let g = self.geometry(x.size()[2], x.size()[3]);
        let [oh, ow] = self.img_size;
        let (rh, rw) = g.resized;
        let resized = if x.size()[2..] == [rh, rw] {
            x
        } else if self.resize_shorter > 0 {
            // torchvision's Resize on images is antialiased
            x.internal_upsample_bilinear2d_aa([rh, rw], false, None, None).round().clamp(0., 255.)
        } else {
            x.upsample_bilinear2d([rh, rw], false, None, None).round().clamp(0., 255.)
        };
        let resized = resized.narrow(2, g.offset.0, oh).narrow(3, g.offset.1, ow);
        let mean = Tensor::from_slice(&self.mean).to_kind(Kind::Float).view([1, 3, 1, 1]);
        let std = Tensor::from_slice(&self.std).to_kind(Kind::Float).view([1, 3, 1, 1]);
        ((resized / 255.0 - mean) / std).squeeze_dim(0)
    }

    /// Inverse of the normalisation: [3,H,W] → [3,H,W] in [0,1], for overlays.
    pub fn denormalize(&self, x: &Tensor) -> Tensor {
        let dev = x.device();
        let mean = Tensor::from_slice(&self.mean).to_kind(Kind::Float).view([3, 1, 1]).to_device(dev);
        let std = Tensor::from_slice(&self.std).to_kind(Kind::Float).view([3, 1, 1]).to_device(dev);
        (x * std + mean).clamp(0., 1.)
    }
}

/// The ranges of a transform's settings, for every dataset table that has them: a zero size or a
/// zero std would fail (or divide by zero) on every sample instead of once at load.
pub fn check(img_size: [i64; 2], mean: [f64; 3], std: [f64; 3], resize_shorter: i64) -> crate::config::Checked {
    use crate::config::validate::{at_least, finite, positive};
    img_size.iter().try_for_each(|&v| at_least("img_size", v, 1))?;
    mean.iter().try_for_each(|&v| finite("mean", v))?;
    std.iter().try_for_each(|&v| positive("std", v))?;
    at_least("resize_shorter", resize_shorter, 0)
}
