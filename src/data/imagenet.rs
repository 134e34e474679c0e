//! The ImageNet layout of the InputIBA original (spec §9): `<img_root>/<wnid>/<name>.JPEG`, a class
//! index JSON `{"0": ["n01440764", "tench"], ...}`, and VOC boxes under `annot_root`, either flat
//! (`<annot_root>/<name>.xml`, what the original's loader opens) or in per-class folders (what its
//! README shows). With `with_bbox`, only annotated images are kept, as in the original.
use super::transforms::Geometry;
use super::{find_images, require_dir, shuffle, voc, BBox, Dataset, ImageTransform, Sample};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, DatasetKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageNetParams {
    #[serde(rename = "type")]
    pub type_: String,
    pub img_root: PathBuf,
    pub ind_to_cls_file: PathBuf,
    /// Folder of VOC XML files; needed when `with_bbox`.
    pub annot_root: PathBuf,
    pub with_bbox: bool,
    /// Image size after the plain resize, [height, width].
    pub img_size: [i64; 2],
    pub mean: [f64; 3],
    pub std: [f64; 3],
    /// 0: plain resize to `img_size` (InputIBA); N: shorter side to N, then centre crop (IBA: 256).
    pub resize_shorter: i64,
    /// File extensions read (case-sensitive).
    pub extensions: Vec<String>,
    /// Shuffle the file order once, with `seed` (the original shuffles the estimation split).
    pub shuffle: bool,
    pub seed: u64,
}

impl Default for ImageNetParams {
    fn default() -> Self {
        let p = ImageTransform::default();
        ImageNetParams {
            type_: "ImageNet".into(),
            img_root: "data/imagenet/images/attribution/".into(),
            ind_to_cls_file: "data/imagenet/imagenet_class_index.json".into(),
            annot_root: PathBuf::new(),
            with_bbox: false,
            img_size: p.img_size,
            mean: p.mean,
            std: p.std,
            resize_shorter: p.resize_shorter,
            extensions: ["JPEG", "jpeg", "jpg", "png"].map(String::from).to_vec(),
            shuffle: false,
            seed: 2021,
        }
    }
}

pub struct ImageNet {
    items: Vec<(PathBuf, i64, Option<PathBuf>)>,
    wnids: Vec<String>,
    names: Vec<String>,
    transform: ImageTransform,
}

/// Reads `{"0": ["wnid", "name"], ...}` into (wnids, names) ordered by index.
pub fn read_class_index(path: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::file(
            path,
            format!("class index not readable ({e}); expected JSON {{\"0\": [\"n01440764\", \"tench\"], ...}}"),
        )
    })?;
    let map: HashMap<String, (String, String)> = serde_json::from_str(&text)
        .map_err(|e| Error::file(path, format!("not a class index {{\"0\": [wnid, name], ...}}: {e}")))?;
    let n = map.len();
    let mut wnids = vec![String::new(); n];
    let mut names = vec![String::new(); n];
    for (k, (w, name)) in map {
        let i: usize = k
            .parse()
            .ok()
            .filter(|&i| i < n)
            .ok_or_else(|| Error::file(path, format!("class key `{k}` is not an index in 0..{n}")))?;
        wnids[i] = w;
        names[i] = name;
    }
    Ok((wnids, names))
}

impl ImageNet {
    pub fn new(p: &ImageNetParams) -> Result<Self> {
        require_dir(
            &p.img_root,
            "the image folder `img_root` (layout <img_root>/<wnid>/<name>.JPEG; see data/README.md)",
        )?;
        let (wnids, names) = read_class_index(&p.ind_to_cls_file)?;
        let by_wnid: HashMap<&str, i64> = wnids.iter().enumerate().map(|(i, w)| (w.as_str(), i as i64)).collect();
        let annots = if p.with_bbox { annotation_index(&p.annot_root)? } else { HashMap::new() };
        let mut items = Vec::new();
        for path in find_images(&p.img_root, &p.extensions)? {
            let wnid = path.parent().and_then(|d| d.file_name()).and_then(|n| n.to_str()).unwrap_or("");
            let target = *by_wnid.get(wnid).ok_or_else(|| {
                Error::file(&path, format!("parent folder `{wnid}` is not a wnid of {}", p.ind_to_cls_file.display()))
            })?;
            if p.with_bbox {
                if let Some(a) = annots.get(&stem(&path)) {
                    items.push((path, target, Some(a.clone())));
                }
            } else {
                items.push((path, target, None));
            }
        }
        if items.is_empty() {
            let why = if p.with_bbox { "no image with an annotation (with_bbox = true)" } else { "no images" };
            return Err(Error::file(&p.img_root, format!("{why} with extensions {:?}", p.extensions)));
        }
        // the original's layout names a sample by its file stem (ImageNet's are unique ids)
        super::check_unique_names(items.iter().map(|(f, _, _)| (stem(f), f.as_path())))?;
        if p.shuffle {
            shuffle(&mut items, p.seed);
        }
        Ok(ImageNet {
            items,
            wnids,
            names,
            transform: ImageTransform {
                img_size: p.img_size,
                mean: p.mean,
                std: p.std,
                resize_shorter: p.resize_shorter,
            },
        })
    }
}

/// A sample's name: its file's stem (lossy where not UTF-8, never dropped).
fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Stem → XML path, for flat and per-class annotation folders alike.
fn annotation_index(root: &Path) -> Result<HashMap<String, PathBuf>> {
    require_dir(root, "the annotation folder `annot_root` (needed by with_bbox = true)")?;
    let files = find_images(root, &["xml".to_string()])?;
    Ok(files.into_iter().filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p.clone()))).collect())
}

impl Dataset for ImageNet {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn get(&self, i: usize) -> Result<Sample> {
        let (path, target, annot) = &self.items[i];
        let (image, geo) = self.transform.load(path)?;
        let boxes = match annot {
            Some(a) => target_boxes(a, &self.wnids[*target as usize], &geo, self.transform.img_size)?,
            None => Vec::new(),
        };
        Ok(Sample { name: stem(path), input: image, target: *target, boxes })
    }
    fn name(&self, i: usize) -> String {
        stem(&self.items[i].0)
    }
    fn class_names(&self) -> &[String] {
        &self.names
    }
    fn transform(&self) -> &ImageTransform {
        &self.transform
    }
    fn modality(&self) -> Modality {
        Modality::Image
    }
}

/// Boxes labelled with the target's wnid, moved with the image's resize and crop.
fn target_boxes(xml: &Path, wnid: &str, geo: &Geometry, size: [i64; 2]) -> Result<Vec<BBox>> {
    Ok(voc::read(xml)?
        .objects
        .into_iter()
        .filter(|o| o.name == wnid)
        .filter_map(|o| geo.map_box(o.bbox, size))
        .map(|[xmin, ymin, xmax, ymax]| BBox { xmin, ymin, xmax, ymax })
        .collect())
}

impl Build<DatasetKind> for ImageNet {
    type Params = ImageNetParams;
    fn validate(p: &ImageNetParams) -> crate::config::Checked {
        super::transforms::check(p.img_size, p.mean, p.std, p.resize_shorter)
    }
    fn build(p: ImageNetParams, _cx: &BuildCtx) -> Result<Box<dyn Dataset>> {
        Ok(Box::new(ImageNet::new(&p)?))
    }
}
crate::register!(DatasetKind, ImageNet);
