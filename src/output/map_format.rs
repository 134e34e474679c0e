//! Reading the maps of a work dir back: `<dir>/<name>.png` as the original's evaluation tools read
//! them (8-bit grey / 255), or `<dir>/<name>.npy` (float32, [H,W], or [C,H,W] averaged over C as
//! the original's EHR does; text: [T], one score per word).
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapFormat {
    #[default]
    Png,
    Npy,
}

impl MapFormat {
    pub fn path(self, dir: &Path, name: &str) -> PathBuf {
        dir.join(format!(
            "{name}.{}",
            match self {
                MapFormat::Png => "png",
                MapFormat::Npy => "npy",
            }
        ))
    }

    /// The map [H,W] as float on the CPU.
    pub fn load(self, path: &Path) -> Result<Tensor> {
        let map = match self {
            MapFormat::Png => {
                let img = image::open(path)
                    .map_err(|e| Error::file(path, format!("not a readable PNG map: {e}")))?
                    .to_luma8();
                let (w, h) = img.dimensions();
                Tensor::from_slice(img.as_raw()).view([h as i64, w as i64]).to_kind(Kind::Float) / 255.0
            }
            MapFormat::Npy => {
                crate::io::npy::check(path)?;
                let t = Tensor::read_npy(path)
                    .map_err(|e| {
                        Error::file(path, format!("not a readable .npy map: {}", crate::error::libtorch_message(&e)))
                    })?
                    .to_kind(Kind::Float);
                match t.dim() {
                    1 => t.unsqueeze(0), // text: one score per word
                    2 => t,
                    3 => t.mean_dim(0, false, Kind::Float),
                    d => {
                        return Err(Error::file(
                            path,
                            format!("a map must be [H,W] or [C,H,W], this one has {d} dimensions"),
                        ))
                    }
                }
            }
        };
        if map.isfinite().logical_not().any().int64_value(&[]) != 0 {
            return Err(Error::file(path, "the map contains NaN or infinite values"));
        }
        Ok(map)
    }
}
