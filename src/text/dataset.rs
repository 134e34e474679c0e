//! The IMDb reviews as a registered dataset: a sample's input is its token ids [T] (int64; the
//! model embeds them), its target 1 = pos / 0 = neg. The vocabulary comes from a file (the one the
//! checkpoint was trained with); `select_cls = "pos"` keeps the positive reviews only, as the
//! original's estimation and attribution splits do.
use super::{AclImdb, Vocab};
use crate::data::{Dataset, ImageTransform, Sample};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, DatasetKind};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::Tensor;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImdbParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// The aclImdb folder (holding `train/` and `test/`).
    pub root: PathBuf,
    pub split: String,
    /// "pos", "neg" or "" for both.
    pub select_cls: String,
    /// Vocabulary file, one token per line (`<unk>`, `<pad>`, then the words).
    pub vocab: PathBuf,
    /// Keep at most this many samples (0 = all), in file order.
    pub max_samples: usize,
}

impl Default for ImdbParams {
    fn default() -> Self {
        ImdbParams {
            type_: "Imdb".into(),
            root: "data/aclImdb".into(),
            split: "train".into(),
            select_cls: String::new(),
            vocab: "data/aclImdb/vocab.txt".into(),
            max_samples: 0,
        }
    }
}

pub struct Imdb {
    reviews: AclImdb,
    vocab: Vocab,
    len: usize,
    classes: Vec<String>,
    transform: ImageTransform,
}

impl Dataset for Imdb {
    fn len(&self) -> usize {
        self.len
    }
    fn get(&self, i: usize) -> Result<Sample> {
        let r = self.reviews.get(i)?;
        if r.tokens.is_empty() {
            return Err(Error::Attribution { sample: r.name, why: "the review has no tokens".into() });
        }
        Ok(Sample { input: Tensor::from_slice(&r.ids(&self.vocab)), name: r.name, target: r.target, boxes: Vec::new() })
    }
    fn name(&self, i: usize) -> String {
        self.reviews.name(i)
    }
    fn class_names(&self) -> &[String] {
        &self.classes
    }
    fn transform(&self) -> &ImageTransform {
        &self.transform
    }
    fn modality(&self) -> Modality {
        Modality::Tokens
    }
    fn words(&self, s: &Sample) -> Option<Vec<String>> {
        Vec::<i64>::try_from(&s.input).ok().map(|ids| ids.iter().map(|&t| self.vocab.token(t).to_string()).collect())
    }
}

/// The vocabulary at `path`; when there is none, the original's (spec §4.2: the 25,000 most
/// frequent words of `root`'s whole train split, ties alphabetical, after `<unk>` and `<pad>`),
/// built once and written there, which is the index order the original's checkpoint was trained
/// with. Shards of one run share it (a file lock).
pub fn ensure_vocab(root: &Path, path: &Path) -> Result<Vocab> {
    // no lock for the common case, so a read-only dataset folder with its vocabulary works
    if path.is_file() {
        return Vocab::load(path);
    }
    let _lock = crate::io::lock::FileLock::acquire(&path.with_extension("lock"))?;
    if path.is_file() {
        return Vocab::load(path);
    }
    log::info!("no vocabulary at {}: building the original's from {}/train", path.display(), root.display());
    let train = AclImdb::open(root, "train", None)?;
    let docs = (0..train.len()).map(|i| train.get(i).map(|r| r.tokens)).collect::<Result<Vec<_>>>()?;
    let vocab = Vocab::build(docs.iter().map(|d| d.as_slice()), 25000);
    vocab.save(path)?;
    log::info!("wrote {} ({} tokens)", path.display(), vocab.len());
    Ok(vocab)
}

impl Build<DatasetKind> for Imdb {
    type Params = ImdbParams;
    fn build(p: ImdbParams, _cx: &BuildCtx) -> Result<Box<dyn Dataset>> {
        let only = match p.select_cls.as_str() {
            "" => None,
            c @ ("pos" | "neg") => Some(c),
            other => {
                return Err(Error::ConfigMsg(format!(
                    "Imdb: select_cls = \"{other}\": expected \"pos\", \"neg\" or \"\""
                )))
            }
        };
        let reviews = AclImdb::open(&p.root, &p.split, only)?;
        let vocab = ensure_vocab(&p.root, &p.vocab)?;
        let len = if p.max_samples > 0 { p.max_samples.min(reviews.len()) } else { reviews.len() };
        Ok(Box::new(Imdb {
            reviews,
            vocab,
            len,
            classes: vec!["neg".into(), "pos".into()],
            transform: ImageTransform::default(),
        }))
    }
}
crate::register!(DatasetKind, Imdb);
