//! The original's preprocessing (albumentations `Resize` + `Normalize` + `ToTensorV2`): a plain
//! bilinear resize to a fixed size (aspect ratio not kept, cv2 INTER_LINEAR, result rounded to 8 bit
//! as cv2 does on uint8 images), then (x/255 − mean)/std.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Output size [height, width].
    pub img_size: [i64; 2],
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline { img_size: [224, 224], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
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

impl Pipeline {
    /// Image file → ([3,H,W] normalised float, original (height, width)).
    pub fn load(&self, path: &Path) -> Result<(Tensor, (i64, i64))> {
        let rgb = read_rgb(path)?;
        let (h, w) = (rgb.size()[1], rgb.size()[2]);
        Ok((self.apply(&rgb), (h, w)))
    }

    /// [3,h,w] uint8 → [3,H,W] normalised float.
    pub fn apply(&self, rgb: &Tensor) -> Tensor {
        let x = rgb.to_kind(Kind::Float).unsqueeze(0);
        let [oh, ow] = self.img_size;
        let resized = if x.size()[2..] == [oh, ow] {
            x
        } else {
            x.upsample_bilinear2d([oh, ow], false, None, None).round().clamp(0., 255.)
        };
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
