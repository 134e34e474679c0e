//! The text quickstart's first-use steps: the vocabulary of `data.train` when its file is missing
//! (`ensure_vocab`), and the DeepLSTM trained on it when `model.weights` is missing (`[train_text_classifier]`).
use super::training::{train, TextTrainConfig};
use super::{AclImdb, ImdbParams, Vocab};
use crate::error::{Error, Result};
use crate::models::{DeepLstm, DeepLstmParams};
use figment::Figment;
use std::path::Path;

/// (token ids, label) of every review of a split.
fn encoded(p: &ImdbParams, vocab: &Vocab) -> Result<Vec<(Vec<i64>, i64)>> {
    let data = AclImdb::open(&p.root, &p.split, None)?;
    (0..data.len()).map(|i| data.get(i).map(|r| (r.ids(vocab), r.target))).collect()
}

/// Builds the vocabulary file from `data.train` if needed, then trains and saves the model if its
/// weights file is missing.
pub fn ensure(fig: &Figment, cfg: &TextTrainConfig, seed: u64, device: tch::Device) -> Result<()> {
    let tr: ImdbParams = fig.extract_inner("data.train").map_err(|e| Error::config("data.train", e))?;
    let te: ImdbParams = fig.extract_inner("data.test").map_err(|e| Error::config("data.test", e))?;
    let vocab = super::dataset::ensure_vocab(&tr.root, &tr.vocab)?;
    let mut p: DeepLstmParams = fig.extract_inner("model").map_err(|e| Error::config("model", e))?;
    if p.weights.is_empty() || Path::new(&p.weights).is_file() {
        return Ok(());
    }
    if vocab.len() as i64 != p.vocab_size {
        return Err(Error::ConfigMsg(format!(
            "model.vocab_size = {} but {} holds {} tokens; set vocab_size to match",
            p.vocab_size,
            tr.vocab.display(),
            vocab.len()
        )));
    }
    let out = std::mem::take(&mut p.weights);
    tch::manual_seed(seed as i64);
    let mut model = DeepLstm::new(&p, device)?;
    log::info!("no weights at {out}: training the text classifier ([train_text_classifier])");
    let acc = train(&mut model, &encoded(&tr, &vocab)?, &encoded(&te, &vocab)?, cfg, seed, device)?;
    crate::training::save_weights(&mut model, Path::new(&out))?;
    log::info!("saved {out} (test accuracy {:.3})", acc.last().copied().unwrap_or(0.0));
    Ok(())
}
