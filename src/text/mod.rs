//! Text: the original's tokenizer and vocabulary (spec §4.2), the aclImdb layout, and a generated
//! review corpus, for the IMDb path of InputIBA.
mod dataset;
mod imdb;
pub mod prepare;
pub mod reviews;
mod tokenizer;
pub mod training;
mod vocab;

pub use dataset::{ensure_vocab, Imdb, ImdbParams};
pub use imdb::{AclImdb, Review};
pub use tokenizer::basic_english;
pub use vocab::{Vocab, PAD, UNK};
