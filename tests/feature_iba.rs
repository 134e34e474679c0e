//! Feature IBA on toy models with known answers, and the Welford estimator against a two-pass one.
mod common;
use common::{rng_lock, TensorDataset};
use ibex::attributors::{AttributionCtx, Attributor, FeatureIba, FeatureIbaParams, Split, Splits, Welford};
use ibex::models::Classifier;
use ibex::Result;
use tch::{nn, Device, Kind, Tensor};

/// Features = the input [N,2,5,5]; the class is decided by feature (0, 2, 3) alone.
struct OneFeature;

impl Classifier for OneFeature {
    fn modality(&self) -> ibex::modality::Modality {
        ibex::modality::Modality::Image
    }
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        self.head(x, "input").unwrap()
    }
    fn layer_names(&self) -> Vec<String> {
        vec!["input".into()]
    }
    fn features(&self, x: &Tensor, _layer: &str) -> Result<Tensor> {
        Ok(x.shallow_clone())
    }
    fn head(&self, z: &Tensor, _layer: &str) -> Result<Tensor> {
        let v = z.select(1, 0).select(1, 2).select(1, 3) * 4.0; // [N]
        Ok(Tensor::stack(&[&v, &(-&v)], 1))
    }
    fn num_classes(&self) -> i64 {
        2
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        None
    }
}

fn toy_data(n: usize) -> TensorDataset {
    tch::manual_seed(3);
    let imgs: Vec<Tensor> = (0..n).map(|_| Tensor::randn([2, 5, 5], (Kind::Float, Device::Cpu))).collect();
    TensorDataset::new(imgs, vec![0; n])
}

fn params() -> FeatureIbaParams {
    FeatureIbaParams { layer: "input".into(), n_samples: 100, upscale: false, ..FeatureIbaParams::default() }
}

fn cx() -> AttributionCtx {
    AttributionCtx { device: Device::Cpu, seed: 7, ..Default::default() }
}

#[test]
fn the_deciding_feature_gets_the_most_bits() {
    let _rng = rng_lock();
    let model = OneFeature;
    let data = toy_data(200);
    let mut iba = FeatureIba::new(params());
    iba.fit(&model, &Splits::one(Split::Estimation, &data), &cx()).unwrap();
    let x = Tensor::randn([2, 5, 5], (Kind::Float, Device::Cpu)) * 0.3;
    let _ = x.get(0).get(2).get(3).fill_(2.5);
    let sample = ibex::data::Sample { name: "x".into(), input: x, target: 0, boxes: vec![] };
    let a = iba.attribute(&model, &sample, &cx()).unwrap();
    let map = &a.maps["feat_masks"]; // [5,5] bits, channel-summed
    assert_eq!(map.size(), vec![5, 5]);
    let best = map.flatten(0, -1).argmax(0, false).int64_value(&[]);
    assert_eq!(best, 2 * 5 + 3, "map: {map}");
    let top = map.double_value(&[2, 3]);
    let rest = (map.sum(Kind::Double).double_value(&[]) - top) / 24.0;
    assert!(top > 5.0 * rest, "deciding feature {top} bits vs {rest} elsewhere");
    // the loss curves are recorded per step
    assert_eq!(a.curves[0].1.len(), 10);
}

#[test]
fn same_seed_same_map() {
    let _rng = rng_lock();
    let model = OneFeature;
    let data = toy_data(50);
    let run = || {
        let mut iba = FeatureIba::new(FeatureIbaParams { n_samples: 40, ..params() });
        iba.fit(&model, &Splits::one(Split::Estimation, &data), &cx()).unwrap();
        iba.attribute(&model, &data.get_sample(3), &cx()).unwrap().maps.remove("feat_masks").unwrap()
    };
    assert_eq!((run() - run()).abs().max().double_value(&[]), 0.0);
}

trait GetSample {
    fn get_sample(&self, i: usize) -> ibex::data::Sample;
}
impl GetSample for TensorDataset {
    fn get_sample(&self, i: usize) -> ibex::data::Sample {
        ibex::data::Dataset::get(self, i).unwrap()
    }
}

#[test]
fn estimation_reads_as_many_samples_as_the_original() {
    let _rng = rng_lock();
    let model = OneFeature;
    let data = toy_data(30);
    let count = |n_samples, bs, overshoot| {
        let mut iba = FeatureIba::new(FeatureIbaParams {
            n_samples,
            estimation_batch_size: bs,
            estimation_overshoot: overshoot,
            ..params()
        });
        iba.fit(&model, &Splits::one(Split::Estimation, &data), &cx()).unwrap();
        iba.n_estimated()
    };
    assert_eq!(count(10, 1, true), 11, "the original's `n > n_samples` test reads n_samples + 1 at batch 1");
    assert_eq!(count(10, 4, true), 12);
    assert_eq!(count(10, 1, false), 10);
    assert_eq!(count(10, 4, false), 10);
    assert_eq!(count(100, 1, true), 30, "stops at the end of the data");
}

#[test]
fn welford_equals_two_pass_statistics() {
    let _rng = rng_lock();
    tch::manual_seed(5);
    let x = Tensor::randn([37, 3, 4, 4], (Kind::Float, Device::Cpu)) * 3.0 + 1.0;
    let x = x.relu(); // some exact zeros for the activity count
    let mut w = Welford::new();
    let mut at = 0;
    for bs in [1, 5, 2, 13, 16] {
        w.update(&x.narrow(0, at, bs));
        at += bs;
    }
    assert_eq!(w.n_samples(), 37);
    let mean = x.mean_dim(0, false, Kind::Float);
    let std = x.std_dim(0, true, false); // sample std (n − 1)
    assert!((w.mean().unwrap() - mean).abs().max().double_value(&[]) < 1e-5);
    assert!((w.std().unwrap() - std).abs().max().double_value(&[]) < 1e-5);
    let frac = x.ne(0.0).to_kind(Kind::Float).mean_dim(0, false, Kind::Float);
    let active = w.active_neurons(0.5).unwrap();
    assert_eq!(active, frac.gt(0.5).to_kind(Kind::Float));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("est.safetensors");
    w.save(&path).unwrap();
    let back = Welford::load(&path, Device::Cpu).unwrap();
    assert_eq!(back.n_samples(), 37);
    assert_eq!((back.std().unwrap() - w.std().unwrap()).abs().max().double_value(&[]), 0.0);
}

/// A model whose head turns the noisy features into NaN.
struct NanHead;

impl Classifier for NanHead {
    fn modality(&self) -> ibex::modality::Modality {
        ibex::modality::Modality::Image
    }
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        OneFeature.forward_t(x, false)
    }
    fn layer_names(&self) -> Vec<String> {
        vec!["input".into()]
    }
    fn features(&self, x: &Tensor, _layer: &str) -> Result<Tensor> {
        Ok(x.shallow_clone())
    }
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor> {
        Ok(OneFeature.head(z, layer)? * f64::NAN)
    }
    fn num_classes(&self) -> i64 {
        2
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        None
    }
}

#[test]
fn a_nan_loss_is_an_error_naming_the_sample_and_stage() {
    let _rng = rng_lock();
    let data = toy_data(20);
    let mut iba = FeatureIba::new(FeatureIbaParams { n_samples: 20, ..params() });
    iba.fit(&NanHead, &Splits::one(Split::Estimation, &data), &cx()).unwrap();
    let e = iba.attribute(&NanHead, &data.get_sample(0), &cx()).err().unwrap().to_string();
    assert!(e.contains("s0000") && e.contains("feature IBA loss is NaN at step 0"), "{e}");
}

#[test]
fn smoothing_of_lambda_keeps_the_bits_around_the_deciding_feature() {
    let _rng = rng_lock();
    let model = OneFeature;
    let data = toy_data(200);
    let mut iba = FeatureIba::new(FeatureIbaParams { sigma: 1.0, beta: 10.0, ..params() });
    iba.fit(&model, &Splits::one(Split::Estimation, &data), &cx()).unwrap();
    let x = Tensor::randn([2, 5, 5], (Kind::Float, Device::Cpu)) * 0.3;
    let _ = x.get(0).get(2).get(3).fill_(2.5);
    let sample = ibex::data::Sample { name: "x".into(), input: x, target: 0, boxes: vec![] };
    let map = iba.attribute(&model, &sample, &cx()).unwrap().maps.remove("feat_masks").unwrap();
    let best = map.flatten(0, -1).argmax(0, false).int64_value(&[]);
    let (r, c) = (best / 5, best % 5);
    assert!((r - 2).abs() <= 1 && (c - 3).abs() <= 1, "peak at ({r}, {c}): {map}");
    // the smoothed mask spreads the information: the neighbours of the feature carry more than
    // the far corner
    assert!(map.double_value(&[2, 2]) > map.double_value(&[0, 0]));
}

/// The cached estimator is keyed on the model's digest, the estimation split's identity and its
/// samples: other weights or other data compute a new estimate instead of reusing a stale one; a
/// cached file of the wrong shape is an error naming it, not a panic.
#[test]
fn the_cached_estimator_is_keyed_on_model_and_data() {
    let _rng = rng_lock();
    let model = OneFeature;
    let (data, other) = (toy_data(30), toy_data(20));
    let state = tempfile::tempdir().unwrap();
    let files = || {
        let mut v: Vec<_> = std::fs::read_dir(state.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        v.sort();
        v
    };
    let fit = |digest: &str, data: &TensorDataset, identity: &str| {
        let cx = AttributionCtx {
            device: Device::Cpu,
            seed: 7,
            state_dir: Some(state.path().to_path_buf()),
            model_digest: digest.into(),
            ..Default::default()
        };
        let mut iba = FeatureIba::new(FeatureIbaParams { n_samples: 10, ..params() });
        iba.fit(&model, &Splits::one(Split::Estimation, data).with_identity(Split::Estimation, identity.into()), &cx)
    };
    fit("weights-a", &data, "root-a").unwrap();
    fit("weights-a", &data, "root-a").unwrap();
    assert_eq!(files().len(), 1, "the same model and data reuse the estimate");
    fit("weights-b", &data, "root-a").unwrap();
    assert_eq!(files().len(), 2, "other weights: a new estimate");
    fit("weights-a", &data, "root-b").unwrap();
    assert_eq!(files().len(), 3, "another estimation split: a new estimate");
    fit("weights-a", &other, "root-a").unwrap();
    assert_eq!(files().len(), 4, "other samples: a new estimate");
    // files of the wrong shape where the estimates are expected
    let mut w = Welford::new();
    w.update(&Tensor::ones([2, 3], (Kind::Float, Device::Cpu)));
    for f in files() {
        w.save(&f).unwrap();
    }
    let e = fit("weights-a", &data, "root-a").expect_err("a cached estimate of the wrong shape").to_string();
    assert!(e.contains("estimator_input_n10") && e.contains("shape"), "{e}");
}
