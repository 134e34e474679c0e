//! Attribution maps on disk in the original's formats (spec §5.2): an 8-bit grey PNG, the exact map
//! as float32 `.npy`, and a colour overlay on the input image for people to look at.
use crate::error::{Error, Result};
use crate::io::atomic;
use std::path::Path;
use tch::{Kind, Tensor};

pub use crate::explanation::PngScale;

/// [H,W] map → [H,W] u8 with the original's truncating cast.
pub fn to_u8(map: &Tensor, scale: PngScale) -> Tensor {
    let m = map.to_kind(Kind::Float).to_device(tch::Device::Cpu).nan_to_num(0., None, None);
    let v = match scale {
        PngScale::MaxNormalised => {
            let max = m.max().double_value(&[]);
            if max > 0. {
                m / max
            } else {
                m.zeros_like()
            }
        }
        PngScale::Raw => m,
    };
    (v * 255.0).clamp(0., 255.).floor().to_kind(Kind::Uint8)
}

fn encode(pixels: &Tensor, color: bool, path: &Path) -> Result<Vec<u8>> {
    let size = pixels.size();
    let (h, w) = (size[size.len() - 2] as u32, size[size.len() - 1] as u32);
    let data: Vec<u8> = if color {
        pixels.permute([1, 2, 0]).contiguous().flatten(0, -1).try_into()
    } else {
        pixels.contiguous().flatten(0, -1).try_into()
    }
    .map_err(|e: tch::TchError| Error::file(path, e.to_string()))?;
    let mut out = Vec::new();
    let fmt = match path.extension().and_then(|e| e.to_str()) {
        Some("png") => image::ImageFormat::Png,
        _ => image::ImageFormat::Jpeg,
    };
    let res = if color {
        image::RgbImage::from_raw(w, h, data).expect("size").write_to(&mut std::io::Cursor::new(&mut out), fmt)
    } else {
        image::GrayImage::from_raw(w, h, data).expect("size").write_to(&mut std::io::Cursor::new(&mut out), fmt)
    };
    res.map_err(|e| Error::file(path, format!("image encoding failed: {e}")))?;
    Ok(out)
}

pub fn write_png(path: &Path, map: &Tensor, scale: PngScale) -> Result<()> {
    atomic::write(path, &encode(&to_u8(map, scale), false, path)?)
}

/// Exact float32 values of a map ([H,W] or [C,H,W]).
pub fn write_npy(path: &Path, map: &Tensor) -> Result<()> {
    let m = map.to_kind(Kind::Float).to_device(tch::Device::Cpu).contiguous();
    atomic::with_temp(path, |tmp| m.write_npy(tmp).map_err(|e| Error::file(path, e.to_string())))
}

/// [3,H,W] image in [0,1] with the max-normalised map laid over it in white→red ('bwr' above its
/// centre, as the original's JPEGs), stronger where the map is larger. Returns [3,H,W] u8.
pub fn overlay(image01: &Tensor, map: &Tensor) -> Tensor {
    let img = image01.to_device(tch::Device::Cpu).to_kind(Kind::Float);
    let mut m = map.to_device(tch::Device::Cpu).to_kind(Kind::Float).nan_to_num(0., None, None);
    let (h, w) = (img.size()[1], img.size()[2]);
    if m.size() != [h, w] {
        // a map at the layer's resolution (upscale = false) is stretched for display only
        m = m.view([1, 1, m.size()[0], m.size()[1]]).upsample_bilinear2d([h, w], false, None, None).view([h, w]);
    }
    let max = m.max().double_value(&[]);
    let v = if max > 0. { (m / max).clamp(0., 1.) } else { m.zeros_like() }.unsqueeze(0);
    let red = Tensor::from_slice(&[1.0f32, 0.0, 0.0]).view([3, 1, 1]);
    let colour: Tensor = &v * &red + (v.ones_like() - &v); // white → red
    let alpha: Tensor = &v * 0.7 + 0.15;
    let out: Tensor = &img * (alpha.ones_like() - &alpha) + colour * &alpha;
    (out * 255.0).round().clamp(0., 255.).to_kind(Kind::Uint8)
}

/// An RGB figure [3,H,W] with values in [0,1] as PNG or JPEG.
pub fn write_rgb01(path: &Path, rgb01: &Tensor) -> Result<()> {
    let u8 = (rgb01.to_device(tch::Device::Cpu) * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8);
    write_rgb(path, &u8)
}

pub fn write_rgb(path: &Path, rgb_u8: &Tensor) -> Result<()> {
    atomic::write(path, &encode(rgb_u8, true, path)?)
}

/// PNG bytes of a [3,H,W] u8 image (TensorBoard's image summaries).
pub fn png_bytes(rgb_u8: &Tensor) -> Result<Vec<u8>> {
    encode(rgb_u8, true, Path::new("x.png"))
}
