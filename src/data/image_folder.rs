//! torchvision's `ImageFolder`: `<root>/<class>/<image>`, class index = sorted folder order.
use super::{find_images, require_dir, shuffle, Dataset, ImageTransform, Sample};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, DatasetKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageFolderParams {
    #[serde(rename = "type")]
    pub type_: String,
    pub root: PathBuf,
    pub img_size: [i64; 2],
    pub mean: [f64; 3],
    pub std: [f64; 3],
    /// 0: plain resize to `img_size` (InputIBA); N: shorter side to N, then centre crop (IBA: 256).
    pub resize_shorter: i64,
    pub extensions: Vec<String>,
    pub shuffle: bool,
    pub seed: u64,
}

impl Default for ImageFolderParams {
    fn default() -> Self {
        let p = ImageTransform::default();
        ImageFolderParams {
            type_: "ImageFolder".into(),
            root: PathBuf::new(),
            img_size: p.img_size,
            mean: p.mean,
            std: p.std,
            resize_shorter: p.resize_shorter,
            extensions: ["JPEG", "jpeg", "jpg", "png", "bmp"].map(String::from).to_vec(),
            shuffle: false,
            seed: 2021,
        }
    }
}

pub struct ImageFolder {
    items: Vec<(PathBuf, i64)>,
    classes: Vec<String>,
    transform: ImageTransform,
}

impl ImageFolder {
    pub fn new(p: &ImageFolderParams) -> Result<Self> {
        require_dir(&p.root, "the ImageFolder `root` (layout <root>/<class>/<image>)")?;
        let mut classes: Vec<String> = std::fs::read_dir(&p.root)
            .map_err(|e| Error::io(&p.root, e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        classes.sort();
        let mut items = Vec::new();
        for (k, c) in classes.iter().enumerate() {
            items.extend(find_images(&p.root.join(c), &p.extensions)?.into_iter().map(|f| (f, k as i64)));
        }
        if items.is_empty() {
            return Err(Error::file(&p.root, format!("no images with extensions {:?} in class folders", p.extensions)));
        }
        if p.shuffle {
            shuffle(&mut items, p.seed);
        }
        Ok(ImageFolder {
            items,
            classes,
            transform: ImageTransform {
                img_size: p.img_size,
                mean: p.mean,
                std: p.std,
                resize_shorter: p.resize_shorter,
            },
        })
    }
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn get(&self, i: usize) -> Result<Sample> {
        let (path, target) = &self.items[i];
        let (image, _) = self.transform.load(path)?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
        Ok(Sample { name, input: image, target: *target, boxes: Vec::new() })
    }
    fn name(&self, i: usize) -> String {
        self.items[i].0.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string()
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

impl Build<DatasetKind> for ImageFolder {
    type Params = ImageFolderParams;
    fn build(p: ImageFolderParams, _cx: &BuildCtx) -> Result<Box<dyn Dataset>> {
        Ok(Box::new(ImageFolder::new(&p)?))
    }
}
crate::register!(DatasetKind, ImageFolder);
