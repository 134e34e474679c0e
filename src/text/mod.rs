//! Text: the original's tokenizer and vocabulary (spec §4.2), for the IMDb path of InputIBA.
mod tokenizer;
mod vocab;

pub use tokenizer::basic_english;
pub use vocab::{Vocab, PAD, UNK};
