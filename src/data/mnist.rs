//! MNIST as users have it on disk: LeCun's IDX files (`train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-…` for the test split; gzipped or not), read as
//! torchvision's `MNIST` does, normalised with VIBI's values (spec peers §1.2: mean 0.1307,
//! std 0.3080). Fashion-MNIST and generated digits (`data::digits`) use the same files.
use super::{Dataset, ImageTransform, Sample};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, DatasetKind};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MnistParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// The folder holding the four IDX files.
    pub root: PathBuf,
    /// `train` (60,000 images) or `test` (`t10k`, 10,000).
    pub split: String,
    pub mean: f64,
    pub std: f64,
    /// The first this many images only (a quick attribution split); 0: all.
    pub max_samples: usize,
    /// Leaves out this many images at the start, before `max_samples` (SENN's seed validates on
    /// the first 6,000 training images, `max_samples = 6000`, and trains on the rest, `skip = 6000`).
    pub skip: usize,
}

impl Default for MnistParams {
    fn default() -> Self {
        MnistParams {
            type_: "Mnist".into(),
            root: PathBuf::from("data/mnist"),
            split: "train".into(),
            mean: 0.1307,
            std: 0.3080,
            max_samples: 0,
            skip: 0,
        }
    }
}

/// The IDX magic of unsigned-byte data with `dims` dimensions (0x0000_08_dd).
fn magic(dims: u8) -> [u8; 4] {
    [0, 0, 0x08, dims]
}

/// An IDX file of unsigned bytes: its dimensions and its data. A wrong magic number, a header
/// whose sizes the data does not fill (a truncated download) or trailing bytes are errors naming
/// the file.
pub fn read_idx(path: &Path, dims: u8) -> Result<(Vec<usize>, Vec<u8>)> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| Error::file(path, format!("not a readable gzip file: {e}")))?;
        out
    } else {
        raw
    };
    let head = 4 + 4 * dims as usize;
    if bytes.len() < head || bytes[..4] != magic(dims) {
        let found = bytes.get(..4).map_or("fewer than 4 bytes".to_string(), |m| format!("{m:02x?}"));
        return Err(Error::file(
            path,
            format!("not an IDX file of {dims}-d unsigned bytes: magic {found}, expected {:02x?}", magic(dims)),
        ));
    }
    let shape: Vec<usize> = (0..dims as usize)
        .map(|k| u32::from_be_bytes(bytes[4 + 4 * k..8 + 4 * k].try_into().expect("4 bytes")) as usize)
        .collect();
    let want = shape.iter().product::<usize>();
    let have = bytes.len() - head;
    if have != want {
        let what = if have < want { "truncated" } else { "longer than its header says" };
        return Err(Error::file(
            path,
            format!("{what}: the header says {shape:?} = {want} bytes, the file holds {have}"),
        ));
    }
    Ok((shape, bytes[head..].to_vec()))
}

/// Writes an IDX file of unsigned bytes (the generated digits), atomically.
pub fn write_idx(path: &Path, shape: &[usize], data: &[u8]) -> Result<()> {
    let mut out = magic(shape.len() as u8).to_vec();
    for &d in shape {
        out.extend((d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    crate::io::atomic::write(path, &out)
}

/// The split's file `stem` in `root`, plain or gzipped.
fn idx_file(root: &Path, stem: &str) -> Result<PathBuf> {
    let plain = root.join(stem);
    let gz = root.join(format!("{stem}.gz"));
    [plain.clone(), gz].into_iter().find(|p| p.is_file()).ok_or_else(|| {
        Error::file(
            &plain,
            "not found (nor .gz): put MNIST's four IDX files in this folder (data/README.md), \
             or generate digits in the same format with tools/make_digits",
        )
    })
}

pub struct Mnist {
    /// [N,1,28,28] uint8.
    images: Tensor,
    labels: Vec<i64>,
    split: String,
    /// The index in the file of the first image kept (`skip`), so names stay the file's.
    offset: usize,
    classes: Vec<String>,
    transform: ImageTransform,
}

impl Mnist {
    pub fn new(p: &MnistParams) -> Result<Self> {
        let prefix = match p.split.as_str() {
            "train" => "train",
            "test" => "t10k",
            other => return Err(Error::ConfigMsg(format!("Mnist split `{other}`: expected \"train\" or \"test\""))),
        };
        let (ipath, lpath) = (
            idx_file(&p.root, &format!("{prefix}-images-idx3-ubyte"))?,
            idx_file(&p.root, &format!("{prefix}-labels-idx1-ubyte"))?,
        );
        let (shape, pixels) = read_idx(&ipath, 3)?;
        let (lshape, labels) = read_idx(&lpath, 1)?;
        if shape[0] != lshape[0] {
            return Err(Error::file(
                &lpath,
                format!("{} labels for the {} images of {}", lshape[0], shape[0], ipath.display()),
            ));
        }
        if p.skip >= shape[0] {
            return Err(Error::file(&ipath, format!("skip = {} leaves none of its {} images", p.skip, shape[0])));
        }
        let rest = shape[0] - p.skip;
        let keep = if p.max_samples == 0 { rest } else { p.max_samples.min(rest) };
        let labels: Vec<i64> = labels[p.skip..p.skip + keep].iter().map(|&l| l as i64).collect();
        if let Some(bad) = labels.iter().find(|&&l| l > 9) {
            return Err(Error::file(&lpath, format!("label {bad}: MNIST's classes are 0 … 9")));
        }
        let side = shape[1] * shape[2];
        let images = Tensor::from_slice(&pixels[p.skip * side..(p.skip + keep) * side]).view([
            keep as i64,
            1,
            shape[1] as i64,
            shape[2] as i64,
        ]);
        let transform = ImageTransform {
            img_size: [shape[1] as i64, shape[2] as i64],
            mean: [p.mean; 3],
            std: [p.std; 3],
            resize_shorter: 0,
        };
        Ok(Mnist {
            images,
            labels,
            split: p.split.clone(),
            offset: p.skip,
            classes: (0..10).map(|c| c.to_string()).collect(),
            transform,
        })
    }
}

impl Dataset for Mnist {
    fn len(&self) -> usize {
        self.labels.len()
    }
    /// [1,28,28]: x/255, then (x − mean)/std.
    fn get(&self, i: usize) -> Result<Sample> {
        let x = self.images.get(i as i64).to_kind(Kind::Float) / 255.0;
        let input = (x - self.transform.mean[0]) / self.transform.std[0];
        Ok(Sample { name: self.name(i), input, target: self.labels[i], boxes: Vec::new() })
    }
    fn name(&self, i: usize) -> String {
        format!("{}_{:05}", self.split, self.offset + i)
    }
    fn class_names(&self) -> &[String] {
        &self.classes
    }
    fn transform(&self) -> &ImageTransform {
        &self.transform
    }
    fn modality(&self) -> Modality {
        Modality::Image
    }
}

impl Build<DatasetKind> for Mnist {
    type Params = MnistParams;
    fn validate(p: &MnistParams) -> crate::config::Checked {
        crate::config::validate::finite("mean", p.mean)?;
        crate::config::validate::positive("std", p.std)?;
        crate::config::validate::one_of("split", &p.split, &["train", "test"])
    }
    fn build(p: MnistParams, _cx: &BuildCtx) -> Result<Box<dyn Dataset>> {
        Ok(Box::new(Mnist::new(&p)?))
    }
}
crate::register!(DatasetKind, Mnist);
