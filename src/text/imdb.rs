//! The aclImdb layout as users have it after unpacking the official archive (spec §4.2, §9):
//! `<root>/<train|test>/<pos|neg>/<id>_<rating>.txt`, one review per file, label from the folder
//! (pos = 1, neg = 0). The original iterates the archive's order, which the unpacked folder does
//! not keep: here files are sorted by (label folder, id), so runs are reproducible.
use super::{basic_english, Vocab};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One review.
#[derive(Clone, Debug)]
pub struct Review {
    /// File stem, e.g. `10000_8`.
    pub name: String,
    pub text: String,
    pub tokens: Vec<String>,
    /// 1 = pos, 0 = neg.
    pub target: i64,
}

impl Review {
    pub fn ids(&self, vocab: &Vocab) -> Vec<i64> {
        vocab.encode(&self.tokens)
    }
}

/// The reviews of one split; `only` keeps one polarity (the original attributes `pos` only).
pub struct AclImdb {
    files: Vec<(PathBuf, i64)>,
}

impl AclImdb {
    pub fn open(root: &Path, split: &str, only: Option<&str>) -> Result<Self> {
        let mut files = Vec::new();
        for (label, target) in [("neg", 0), ("pos", 1)] {
            if only.is_some_and(|o| o != label) {
                continue;
            }
            let dir = root.join(split).join(label);
            let rd = std::fs::read_dir(&dir).map_err(|e| Error::file(&dir, format!("{e}; expected the aclImdb layout <root>/{split}/{{pos,neg}}/<id>_<rating>.txt (unpack aclImdb_v1.tar.gz there, or run tools/make_reviews)")))?;
            let mut here: Vec<(u64, PathBuf)> = Vec::new();
            for e in rd {
                let p = e.map_err(|e| Error::io(&dir, e))?.path();
                if p.extension().is_some_and(|x| x == "txt") {
                    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                    let id = stem
                        .split('_')
                        .next()
                        .and_then(|i| i.parse().ok())
                        .ok_or_else(|| Error::file(&p, "review files are named <id>_<rating>.txt"))?;
                    here.push((id, p));
                }
            }
            here.sort();
            files.extend(here.into_iter().map(|(_, p)| (p, target)));
        }
        if files.is_empty() {
            return Err(Error::file(root.join(split), "no reviews (*.txt) under pos/ or neg/"));
        }
        Ok(AclImdb { files })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The file stem of review `i`, without reading it.
    pub fn name(&self, i: usize) -> String {
        self.files[i].0.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string()
    }

    pub fn get(&self, i: usize) -> Result<Review> {
        let (p, target) = &self.files[i];
        let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        Ok(Review { name, tokens: basic_english(&text), text, target: *target })
    }
}
