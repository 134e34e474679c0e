//! What a sample's input is. Samples, models, attributors, metrics and the writers all ask this
//! one value instead of each keeping a flag, so a new kind of input (tabular features for SENN's
//! COMPAS) is one variant, and every place that must handle it is a `match` the compiler finds.
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// A [C,H,W] float image, normalised with the dataset's mean and std; maps are [H,W] (or
    /// [C,H,W]) and are shown as overlays.
    Image,
    /// A [T] int64 sequence of token ids; the model embeds it into [T,E], hidden outputs are
    /// sequences [T,·] of varying length, and maps are one score per token, [1,T].
    Tokens,
    /// A [F] float feature vector (tabular data); maps are one score per feature, [1,F].
    Tabular,
}

impl Modality {
    /// The word used in messages ("image", "text", "tabular").
    pub fn describe(self) -> &'static str {
        match self {
            Modality::Image => "image",
            Modality::Tokens => "text",
            Modality::Tabular => "tabular",
        }
    }

    /// Whether hidden outputs are sequences [N,T,·] of varying length, so that statistics pool
    /// over the steps (one value per unit of the last dimension).
    pub fn is_sequence(self) -> bool {
        matches!(self, Modality::Tokens)
    }

    /// Whether a map is one score per element of a 1-D input ([1,T] or [1,F]), written as a strip
    /// and JSON rather than an image overlay.
    pub fn is_one_dimensional(self) -> bool {
        !matches!(self, Modality::Image)
    }
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}
