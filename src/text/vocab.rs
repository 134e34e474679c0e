//! The original's vocabulary (torchtext legacy `Vocab(counter, max_size=25000)`, spec §4.2):
//! `<unk>` = 0, `<pad>` = 1, then the `max_size` most frequent training tokens, ties in
//! alphabetical (code point) order. Saved as a plain file, one token per line, line k = index k,
//! so a checkpoint's vocabulary can be carried with it.
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

pub const UNK: i64 = 0;
pub const PAD: i64 = 1;

#[derive(Clone, Debug, PartialEq)]
pub struct Vocab {
    itos: Vec<String>,
    stoi: HashMap<String, i64>,
}

impl Vocab {
    fn from_itos(itos: Vec<String>) -> Self {
        let stoi = itos.iter().enumerate().map(|(i, s)| (s.clone(), i as i64)).collect();
        Vocab { itos, stoi }
    }

    /// From tokenised documents: counts, specials first, then by descending count, ties
    /// alphabetical; at most `max_size` words besides the specials.
    pub fn build<'a>(docs: impl IntoIterator<Item = &'a [String]>, max_size: usize) -> Self {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for d in docs {
            for t in d {
                *counts.entry(t.as_str()).or_default() += 1;
            }
        }
        counts.remove("<unk>");
        counts.remove("<pad>");
        let mut words: Vec<(&str, u64)> = counts.into_iter().collect();
        words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let itos = ["<unk>", "<pad>"]
            .into_iter()
            .chain(words.into_iter().take(max_size).map(|w| w.0))
            .map(str::to_string)
            .collect();
        Vocab::from_itos(itos)
    }

    pub fn len(&self) -> usize {
        self.itos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.itos.is_empty()
    }

    /// The index of a token; unknown tokens are `<unk>` = 0.
    pub fn index(&self, token: &str) -> i64 {
        self.stoi.get(token).copied().unwrap_or(UNK)
    }

    pub fn token(&self, index: i64) -> &str {
        self.itos.get(index as usize).map(String::as_str).unwrap_or("<unk>")
    }

    pub fn encode(&self, tokens: &[String]) -> Vec<i64> {
        tokens.iter().map(|t| self.index(t)).collect()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::atomic::write(path, (self.itos.join("\n") + "\n").as_bytes())
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let itos: Vec<String> = text.lines().map(str::to_string).collect();
        if itos.len() < 2 || itos[0] != "<unk>" || itos[1] != "<pad>" {
            return Err(Error::file(
                path,
                "a vocabulary file starts with the lines <unk> and <pad> (one token per line, line k = index k)",
            ));
        }
        let v = Vocab::from_itos(itos);
        if v.stoi.len() != v.itos.len() {
            let dup = v
                .itos
                .iter()
                .enumerate()
                .find(|(i, t)| v.stoi[*t] != *i as i64)
                .map(|(i, t)| format!("`{t}` appears twice (lines {} and {})", i + 1, v.stoi[t] + 1))
                .unwrap_or_default();
            return Err(Error::file(path, format!("token {dup}")));
        }
        Ok(v)
    }
}
