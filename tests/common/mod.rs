//! Helpers shared by the integration tests.
#![allow(dead_code)]
use ibex::data::{Dataset, ImageTransform, Sample};
use ibex::Result;
use std::path::PathBuf;
use tch::Tensor;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// An in-memory dataset of [C,H,W] tensors, for toy models.
pub struct TensorDataset {
    pub images: Vec<Tensor>,
    pub targets: Vec<i64>,
    pub transform: ImageTransform,
    pub classes: Vec<String>,
}

impl TensorDataset {
    pub fn new(images: Vec<Tensor>, targets: Vec<i64>) -> Self {
        TensorDataset { images, targets, transform: ImageTransform::default(), classes: vec!["a".into(), "b".into()] }
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.images.len()
    }
    fn get(&self, i: usize) -> Result<Sample> {
        Ok(Sample { name: self.name(i), input: self.images[i].shallow_clone(), target: self.targets[i], boxes: vec![] })
    }
    fn name(&self, i: usize) -> String {
        format!("s{i:04}")
    }
    fn class_names(&self) -> &[String] {
        &self.classes
    }
    fn transform(&self) -> &ImageTransform {
        &self.transform
    }
    fn modality(&self) -> ibex::modality::Modality {
        ibex::modality::Modality::Image
    }
}

/// libtorch's generator is global: tests that seed it hold this lock so parallel tests cannot
/// draw from it in between.
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The tiny torchvision VGG of the fixtures (cfg [8,"M",16,"M",32,32,"M"], 32×32, 10 classes),
/// with its PyTorch weights.
pub fn tiny_vgg() -> ibex::models::Vgg {
    ibex::models::Vgg::new(&tiny_vgg_params(), tch::Device::Cpu).unwrap()
}

pub fn tiny_vgg_params() -> ibex::models::VggParams {
    use ibex::models::{CfgItem, VggParams};
    let c = |n| CfgItem::Conv(n);
    let m = || CfgItem::Pool("M".into());
    VggParams {
        cfg: vec![c(8), m(), c(16), m(), c(32), c(32), m()],
        avgpool: [4, 4],
        classifier: vec![64, 64],
        num_classes: 10,
        weights: fixture("tiny_vgg.safetensors").display().to_string(),
        ..VggParams::default()
    }
}

/// Settings that make each method small enough for a test, on the tiny VGG (32×32, features.0–10).
pub fn attributor_table(name: &str) -> String {
    let extra = match name {
        "FeatureIba" => "layer = \"features.8\"\nn_samples = 12",
        "InputIba" => "[attributor.feat_iba]\nlayer = \"features.8\"\nn_samples = 12\n[attributor.gan]\ndataset_size = 16\nbatch_size = 8\nepochs = 1\n[attributor.input_iba]\nopt_steps = 3",
        "ReadoutBottleneck" => "layer = \"features.3\"\nreadouts = [\"features.3\", \"features.6\", \"logits\"]\nn_samples = 12\n[attributor.fit]\nepochs = 1\nbatch_size = 8",
        "Vibi" => "explainer_widths = [8, 16]\napproximator_widths = [8, 16]\nk = 4\nwarmup = 2\n[attributor.fit]\nepochs = 1\nbatch_size = 8",
        "GradCam" | "GuidedGradCam" => "layer = \"features.9\"",
        "IntegratedGradients" => "steps = 8\ninternal_batch_size = 8",
        "NoiseTunnel" => "samples = 3",
        "Occlusion" => "window = [8, 8]\nstride = [8, 8]",
        _ => "",
    };
    format!("[attributor]\ntype = \"{name}\"\n{extra}\n")
}

pub mod text;
