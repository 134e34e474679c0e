//! torchvision's `ImageFolder`: `<root>/<class>/<image>`, class index = sorted folder order; or a
//! flat folder of images without labels (explained with `target = "predicted"`).
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
    /// Class folder → the model's class index, for a model trained with another class order
    /// (`class_index = { cat = 3, dog = 5 }`); every folder must be listed. Empty: the folders in
    /// sorted order are classes 0, 1, …
    pub class_index: std::collections::BTreeMap<String, i64>,
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
            class_index: Default::default(),
        }
    }
}

pub struct ImageFolder {
    /// (file, class, sample name)
    items: Vec<(PathBuf, i64, String)>,
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
        let index = |k: usize, c: &String| -> Result<i64> {
            if p.class_index.is_empty() {
                return Ok(k as i64);
            }
            p.class_index.get(c).copied().ok_or_else(|| {
                Error::file(
                    p.root.join(c),
                    format!("class folder `{c}` is not in class_index (it lists {:?})", p.class_index.keys()),
                )
            })
        };
        let mut items = Vec::new();
        for (k, c) in classes.iter().enumerate() {
            let target = index(k, c)?;
            items.extend(find_images(&p.root.join(c), &p.extensions)?.into_iter().map(|f| (f, target)));
        }
        if classes.is_empty() {
            // a flat folder: images without labels, explained for the model's prediction
            items.extend(find_images(&p.root, &p.extensions)?.into_iter().map(|f| (f, super::UNLABELLED)));
        }
        if !p.class_index.is_empty() {
            // class_names()[i] is the name of class i
            let n = p.class_index.values().max().map_or(0, |m| m + 1) as usize;
            let mut named = (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
            for (c, &i) in &p.class_index {
                named[i as usize] = c.clone();
            }
            classes = named;
        }
        if items.is_empty() {
            return Err(Error::file(
                &p.root,
                format!("no images with extensions {:?} in class folders or in the folder itself", p.extensions),
            ));
        }
        let mut items: Vec<(PathBuf, i64, String)> =
            items.into_iter().map(|(f, k)| (f.clone(), k, super::name_below(&p.root, &f))).collect();
        super::check_unique_names(items.iter().map(|(f, _, n)| (n.clone(), f.as_path())))?;
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
        let (path, target, name) = &self.items[i];
        let (image, _) = self.transform.load(path)?;
        Ok(Sample { name: name.clone(), input: image, target: *target, boxes: Vec::new() })
    }
    fn name(&self, i: usize) -> String {
        self.items[i].2.clone()
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
    fn validate(p: &ImageFolderParams) -> crate::config::Checked {
        super::transforms::check(p.img_size, p.mean, p.std, p.resize_shorter)?;
        p.class_index.values().try_for_each(|&i| crate::config::validate::at_least("class_index", i, 0))
    }
    fn build(p: ImageFolderParams, _cx: &BuildCtx) -> Result<Box<dyn Dataset>> {
        Ok(Box::new(ImageFolder::new(&p)?))
    }
}
crate::register!(DatasetKind, ImageFolder);
