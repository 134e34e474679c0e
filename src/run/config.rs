//! The top level of a run config. Component tables (`model`, `data.*`, `attributor`) are checked by
//! the component that the registry picks; everything else is checked here, so a typo anywhere is
//! an error that names the key. It lives with the run, at the top, because it gathers the tables of
//! every layer below (data generation, training, output, evaluation).
use crate::data::synthetic::SyntheticConfig;
use crate::output::OutputConfig;
use crate::training::TrainClassifierConfig;
use figment::value::Dict;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    #[serde(rename = "_base_", default, skip_serializing)]
    pub base: Vec<String>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[serde(default = "default_device")]
    pub device: String,
    /// CUDA only: "tf32", "bf16" or "fp16" arithmetic for the attribution's convs and matmuls
    /// (see `crate::precision`); default "fp32", the original's.
    #[serde(default)]
    pub precision: crate::precision::Precision,
    /// Seeds data shuffling, noise and training (the original's `--seed`).
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub model: Dict,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub attributor: Option<Dict>,
    /// Generate the synthetic ground-truth dataset first, when it is not there yet.
    #[serde(default)]
    pub synthetic: Option<SyntheticConfig>,
    /// Train the model first when `model.weights` does not exist yet.
    #[serde(default)]
    pub train_classifier: Option<TrainClassifierConfig>,
    #[serde(default)]
    pub output: OutputConfig,
    /// Generate handwriting-like digits in MNIST's IDX files first, when they are not there yet.
    #[serde(default)]
    pub digits: Option<crate::data::digits::DigitsConfig>,
    /// Train a SENN `[model]` (its `weights` file is missing): the seed's training keys.
    #[serde(default)]
    pub train_senn: Option<crate::training::senn::TrainSennConfig>,
    /// `tools/senn_sweep`: the SENN trained per robustness weight λ and seed, its accuracy and
    /// explanation robustness against λ.
    #[serde(default)]
    pub senn_sweep: Option<super::SennSweepConfig>,
    /// Generate a COMPAS file in the seed's layout with a planted rule first, when it is not there.
    #[serde(default)]
    pub compas: Option<crate::data::compas_gen::CompasGenConfig>,
    /// Write the generated review corpus first (the text quickstart).
    #[serde(default)]
    pub reviews: Option<crate::text::reviews::ReviewsConfig>,
    /// Build the vocabulary of `data.train` and train the DeepLSTM when their files are missing.
    #[serde(default)]
    pub train_text_classifier: Option<crate::text::training::TextTrainConfig>,
    /// `tools/eval`'s settings and metric tables.
    #[serde(default)]
    pub eval: Option<super::EvalConfig>,
}

fn default_device() -> String {
    "cpu".into()
}
fn default_seed() -> u64 {
    2021
}

/// Dataset tables by role; each is a registry component (`type = "ImageNet"`, ...).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub estimation: Option<Dict>,
    pub attribution: Option<Dict>,
    pub train: Option<Dict>,
    pub test: Option<Dict>,
    /// Held-out data for a method trained on `train` (a per-epoch validation figure).
    pub validation: Option<Dict>,
}
