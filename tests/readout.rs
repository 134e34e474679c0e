//! IBA's Readout Bottleneck and the training foundation under it: the initial α, the capacity and
//! the class loss by hand, a zero-variance readout, resume equal to an uninterrupted run, and the
//! errors a researcher meets first.
mod common;
use common::{rng_lock, tiny_vgg, TensorDataset};
use ibex::attributors::readout::{layers, Readout};
use ibex::attributors::{AttributionCtx, Attributor, ReadoutBottleneck, ReadoutParams, Split, Splits, Welford};
use ibex::data::Dataset;
use ibex::fitting::{Fit, FitConfig, Trainable};
use ibex::models::Classifier;
use ibex::Result;
use tch::{Device, Kind, Tensor};

fn random_images(n: usize, seed: i64) -> TensorDataset {
    tch::manual_seed(seed);
    let images: Vec<Tensor> = (0..n).map(|_| Tensor::randn([3, 32, 32], (Kind::Float, Device::Cpu))).collect();
    TensorDataset::new(images, (0..n as i64).map(|i| i % 10).collect())
}

/// The tiny VGG's bottleneck at features.3 (16×16×16), readouts features.3, .6 (8×8) and the logits.
fn params() -> ReadoutParams {
    ReadoutParams {
        layer: "features.3".into(),
        readouts: vec!["features.3".into(), "features.6".into(), "logits".into()],
        n_samples: 24,
        estimation_batch_size: 8,
        sigma: 0.0,
        fit: FitConfig { epochs: 3, batch_size: 8, lr: 1e-3, keep_checkpoints: 5, ..FitConfig::default() },
        ..ReadoutParams::default()
    }
}

/// Estimators of every layer the readout reads, over `data`.
fn estimators(model: &dyn Classifier, data: &dyn Dataset, p: &ReadoutParams) -> Vec<Welford> {
    let (layers, _) = layers(p);
    let asked: Vec<&str> = layers.iter().map(String::as_str).collect();
    let x = Tensor::stack(&(0..data.len()).map(|i| data.get(i).unwrap().input).collect::<Vec<_>>(), 0);
    let outs = tch::no_grad(|| model.features_many(&x, &asked)).unwrap();
    outs.iter()
        .map(|o| {
            let mut w = Welford::new();
            w.update(o);
            w
        })
        .collect()
}

#[test]
fn alpha_is_about_five_everywhere_at_initialisation() {
    let _rng = rng_lock();
    let model = tiny_vgg();
    let data = random_images(24, 1);
    let p = params();
    let readout = Readout::new(&p, estimators(&model, &data, &p), Device::Cpu).unwrap();
    let x = Tensor::stack(&[data.get(0).unwrap().input, data.get(1).unwrap().input], 0);
    let (r, lambda) = readout.lambda(&model, &x).unwrap();
    assert_eq!(lambda.size(), r.size());
    let alpha = lambda.logit(None::<f64>);
    let (lo, hi) = (alpha.min().double_value(&[]), alpha.max().double_value(&[]));
    assert!(lo > 4.9 && hi <= 5.0 + 1e-4, "α in [{lo}, {hi}], not ≈ 5");
}

/// One element active with mean 1, std 2 (n = 5, Σ(x − m)² = 16), read at R = 3 (r = 1) with
/// λ = ½: KL(N(½, ¼) ‖ N(0, 1)) = −½(1 + ln ¼ − ¼ − ¼) = 0.44315 nats. A second element never
/// non-zero in the estimation set is inactive: capacity 0.
#[test]
fn the_capacity_is_the_per_sample_formula_by_hand() {
    let _rng = rng_lock();
    let p = ReadoutParams { layer: "input".into(), readouts: vec!["input".into()], ..ReadoutParams::default() };
    let shape = [2i64, 1, 1];
    let est = Welford::from_parts(
        Tensor::from_slice(&[1.0f64, 0.0]).view(shape),
        Tensor::from_slice(&[16.0f64, 16.0]).view(shape),
        Tensor::from_slice(&[5i64, 0]).view(shape),
        5,
    );
    let readout = Readout::new(&p, vec![est], Device::Cpu).unwrap();
    let r = Tensor::from_slice(&[3.0f32, 3.0]).view([1, 2, 1, 1]);
    let lambda = Tensor::full([1, 2, 1, 1], 0.5, (Kind::Float, Device::Cpu));
    let cap = readout.capacity(&r, &lambda);
    let by_hand = -0.5 * (1.0 + 0.25f64.ln() - 0.25 - 0.25);
    assert!((cap.double_value(&[0, 0, 0, 0]) - by_hand).abs() < 1e-6, "{cap}");
    assert_eq!(cap.double_value(&[0, 1, 0, 0]), 0.0);
}

#[test]
fn each_sample_gets_the_cross_entropy_of_its_own_class() {
    let _rng = rng_lock();
    tch::manual_seed(4);
    let logits = Tensor::randn([5, 7], (Kind::Float, Device::Cpu));
    let classes = Tensor::from_slice(&[0i64, 6, 3, 3, 1]);
    let batch = Readout::class_loss(&logits, &classes);
    for i in 0..5 {
        let c = classes.int64_value(&[i]);
        let one = -logits.get(i).log_softmax(0, Kind::Float).double_value(&[c]);
        assert!((batch.double_value(&[i]) - one).abs() < 1e-6, "sample {i}");
    }
}

/// Features = the input [N,2,4,4]; the class is the sign of channel 0's mean.
struct Identity;

impl Classifier for Identity {
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
        let v = z.select(1, 0).mean_dim(&[1i64, 2][..], false, Kind::Float) * 3.0;
        Ok(Tensor::stack(&[&v, &(-&v)], 1))
    }
    fn num_classes(&self) -> i64 {
        2
    }
}

#[test]
fn a_zero_variance_readout_channel_gives_finite_alpha_and_loss() {
    let _rng = rng_lock();
    tch::manual_seed(2);
    // channel 1 is 0.3 everywhere in every image: std 0, clamped to min_std
    let images: Vec<Tensor> = (0..16)
        .map(|_| {
            let x = Tensor::randn([2, 4, 4], (Kind::Float, Device::Cpu));
            let _ = x.get(1).fill_(0.3);
            x
        })
        .collect();
    let data = TensorDataset::new(images, (0..16).map(|i| i % 2).collect());
    let p = ReadoutParams {
        layer: "input".into(),
        readouts: vec!["input".into(), "logits".into()],
        n_samples: 16,
        ..ReadoutParams::default()
    };
    let readout = Readout::new(&p, estimators(&Identity, &data, &p), Device::Cpu).unwrap();
    let x = Tensor::stack(&[data.get(0).unwrap().input, data.get(1).unwrap().input], 0);
    let (_, lambda) = readout.lambda(&Identity, &x).unwrap();
    assert!(bool::try_from(lambda.isfinite().all()).unwrap());
    for (name, l) in readout
        .losses(
            &Identity,
            &ibex::fitting::Batch { x, y: Tensor::from_slice(&[0i64, 1]), rows: Tensor::from_slice(&[0i64, 1]) },
            ibex::fitting::Step { step: 0, train: true },
        )
        .unwrap()
    {
        assert!(l.double_value(&[]).is_finite(), "{name} = {l}");
    }
}

fn fit_in(
    dir: &std::path::Path,
    p: &ReadoutParams,
    model: &dyn Classifier,
    data: &dyn Dataset,
) -> ibex::fitting::Fitted {
    let ests = estimators(model, data, p);
    tch::manual_seed(11);
    let readout = Readout::new(p, ests, Device::Cpu).unwrap();
    let fit = Fit { cfg: &p.fit, key: "k".into(), seed: 3, device: Device::Cpu, dir: Some(dir.into()), scalars: None };
    let fitted = fit.run(&readout, model, &ibex::fitting::Rows::all(data), None).unwrap();
    let last = ibex::fitting::Loaded::read(&dir.join("epoch_0003.safetensors"), Device::Cpu).unwrap();
    for (n, t) in readout.parameters() {
        assert!(last.get(&format!("param/{n}")).unwrap().equal(&t), "{n}: the checkpoint holds the weights");
    }
    fitted
}

/// A run killed during epoch 2 left only epoch 1's checkpoint: started again it resumes there and
/// ends with the very weights (bit for bit) and optimiser state of an uninterrupted run.
#[test]
fn killed_and_resumed_training_equals_an_uninterrupted_run() {
    let _rng = rng_lock();
    let model = tiny_vgg();
    let data = random_images(20, 5); // 3 batches a epoch, the last one short
    let p = params();
    let (whole, resumed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let uninterrupted = fit_in(whole.path(), &p, &model, &data);
    assert_eq!(uninterrupted.resumed_after, 0);
    assert_eq!(uninterrupted.at.step, 9);
    std::fs::copy(whole.path().join("epoch_0001.safetensors"), resumed.path().join("epoch_0001.safetensors")).unwrap();
    let again = fit_in(resumed.path(), &p, &model, &data);
    assert_eq!(again.resumed_after, 1);
    assert_eq!(again.figures, uninterrupted.figures[1..].to_vec(), "epoch losses");
    let read =
        |d: &std::path::Path| ibex::fitting::Loaded::read(&d.join("epoch_0003.safetensors"), Device::Cpu).unwrap();
    let (a, b) = (read(whole.path()), read(resumed.path()));
    for name in a.names("") {
        assert!(a.get(&name).unwrap().equal(&b.get(&name).unwrap()), "{name} differs after resuming");
    }
}

#[test]
fn a_readout_layer_the_model_lacks_is_an_error_listing_the_model_layers() {
    let model = tiny_vgg();
    let p = ReadoutParams { readouts: vec!["features.3".into(), "features.99".into()], ..params() };
    let e = ReadoutBottleneck::new(p).check(&model).unwrap_err().to_string();
    assert!(e.contains("features.99") && e.contains("features.0") && e.contains("logits"), "{e}");
}

/// A checkpoint trained with architecture B, read by an explainer of architecture A: the error
/// names the tensor whose shape differs.
#[test]
fn a_checkpoint_of_another_architecture_is_an_error_naming_the_tensor() {
    let _rng = rng_lock();
    let (model, data, dir) = (tiny_vgg(), random_images(16, 6), tempfile::tempdir().unwrap());
    let cx = AttributionCtx { checkpoint_dir: Some(dir.path().into()), ..Default::default() };
    let p = ReadoutParams { fit: FitConfig { epochs: 1, ..params().fit }, ..params() };
    let mut trained = ReadoutBottleneck::new(p.clone());
    trained.fit(&model, &Splits::one(Split::Train, &data), &cx).unwrap();
    let file = dir.path().join("best.safetensors");
    assert!(file.is_file());
    let other = ReadoutParams {
        architecture: ibex::attributors::readout::Architecture::A,
        checkpoint: file.display().to_string(),
        ..p.clone()
    };
    let e = ReadoutBottleneck::new(other).fit(&model, &Splits::default(), &AttributionCtx::default()).err().unwrap();
    assert!(e.to_string().contains("param/conv2.bias") && e.to_string().contains("another architecture"), "{e}");
    // the same architecture attributes with the trained weights, without any split
    let mut same = ReadoutBottleneck::new(ReadoutParams { checkpoint: file.display().to_string(), ..p });
    same.fit(&model, &Splits::default(), &AttributionCtx::default()).unwrap();
    let s = data.get(0).unwrap();
    let a = trained.attribute(&model, &s, &cx).unwrap();
    let b = same.attribute(&model, &s, &AttributionCtx::default()).unwrap();
    assert!(a.maps["readout_masks"].equal(&b.maps["readout_masks"]));
}

/// Training again in a folder whose checkpoints were made under other settings is refused
/// before any step, naming the file.
#[test]
fn a_checkpoint_of_other_settings_is_never_resumed() {
    let _rng = rng_lock();
    let (model, data, dir) = (tiny_vgg(), random_images(16, 6), tempfile::tempdir().unwrap());
    let cx = AttributionCtx { checkpoint_dir: Some(dir.path().into()), ..Default::default() };
    let p = ReadoutParams { fit: FitConfig { epochs: 1, ..params().fit }, ..params() };
    ReadoutBottleneck::new(p.clone()).fit(&model, &Splits::one(Split::Train, &data), &cx).unwrap();
    let more = ReadoutParams { beta: 3.0, fit: FitConfig { epochs: 2, ..p.fit.clone() }, ..p.clone() };
    let e = ReadoutBottleneck::new(more).fit(&model, &Splits::one(Split::Train, &data), &cx).err().unwrap();
    assert!(
        e.to_string().contains("epoch_0001.safetensors") && e.to_string().contains("another model, data or settings"),
        "{e}"
    );
    // more epochs of the same settings continue where the first run stopped (an epoch's weights
    // do not depend on how many follow)
    let longer = ReadoutParams { fit: FitConfig { epochs: 2, ..p.fit.clone() }, ..p };
    ReadoutBottleneck::new(longer).fit(&model, &Splits::one(Split::Train, &data), &cx).unwrap();
    assert!(dir.path().join("epoch_0002.safetensors").is_file());
}

/// A TorchScript model whose third file returns several layers' outputs as a tuple (README, "Your
/// own model") gives them in one call, equal to the model it was traced from; the Readout
/// Bottleneck then explains it as it explains the native model.
#[test]
fn a_torchscript_model_gives_every_readout_from_one_tuple() {
    use ibex::models::{TorchScript, TorchScriptParams};
    let _rng = rng_lock();
    let mut vgg = tiny_vgg();
    vgg.freeze(); // traced weights become the modules' constants
    let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    let dir = tempfile::tempdir().unwrap();
    let trace = |input: &Tensor, f: &mut dyn FnMut(&[Tensor]) -> Vec<Tensor>| {
        tch::CModule::create_by_tracing("m", "forward", &[input.shallow_clone()], &mut |i: &[Tensor]| f(i)).unwrap()
    };
    let save = |m: tch::CModule, name: &str| {
        let path = dir.path().join(name);
        m.save(&path).unwrap();
        path
    };
    let layers = ["features.3", "features.6", "logits"];
    let f3 = vgg.features(&x, "features.3").unwrap();
    let head = save(trace(&x, &mut |i| vec![vgg.features(&i[0], "features.3").unwrap()]), "head.pt");
    let tail = save(trace(&f3, &mut |i| vec![vgg.head(&i[0], "features.3").unwrap()]), "tail.pt");
    // libtorch traces one output per method: trace the readouts flattened into one tensor, then
    // rewrite the module's code to return them as a tuple, as torch.jit.trace writes it
    let flat = trace(&x, &mut |i| {
        let outs = vgg.features_many(&i[0], &layers).unwrap();
        vec![Tensor::cat(&outs.iter().map(|o| o.flatten(0, -1)).collect::<Vec<_>>(), 0)]
    });
    let readouts = dir.path().join("readouts.pt");
    returning_a_tuple(&save(flat, "flat.pt"), &readouts);
    let p = TorchScriptParams {
        head,
        tail,
        layer: "features.3".into(),
        num_classes: 10,
        readouts,
        readout_layers: layers.map(String::from).to_vec(),
        ..TorchScriptParams::default()
    };
    let ts = TorchScript::new(&p, Device::Cpu).unwrap();
    let x2 = Tensor::randn([3, 3, 32, 32], (Kind::Float, Device::Cpu));
    for (a, b) in ts.features_many(&x2, &layers).unwrap().iter().zip(vgg.features_many(&x2, &layers).unwrap()) {
        assert!(common::max_abs_diff(a, &b) < 1e-5);
    }
    let e = ReadoutBottleneck::new(ReadoutParams { readouts: vec!["features.5".into()], ..params() }).check(&ts);
    assert!(e.unwrap_err().to_string().contains("features.6"), "the error lists the tuple's names");
    let data = random_images(16, 8);
    let mut maps = Vec::new();
    for model in [&vgg as &dyn Classifier, &ts] {
        let p = ReadoutParams { fit: FitConfig { epochs: 1, ..params().fit }, ..params() };
        let mut r = ReadoutBottleneck::new(p);
        r.check(model).unwrap();
        tch::manual_seed(0);
        r.fit(model, &Splits::one(Split::Train, &data), &AttributionCtx::default()).unwrap();
        maps.push(
            r.attribute(model, &data.get(3).unwrap(), &AttributionCtx::default()).unwrap().maps["readout_masks"].copy(),
        );
    }
    assert!(common::max_abs_diff(&maps[0], &maps[1]) < 1e-3 * (1.0 + maps[0].abs().max().double_value(&[])));
}

/// Copies the traced TorchScript archive `from` to `to`, its forward changed from
/// `_k = [torch.flatten(a), torch.flatten(b), …]; return torch.cat(_k)` to `return (a, b, …)`.
fn returning_a_tuple(from: &std::path::Path, to: &std::path::Path) {
    use std::io::{Read, Write};
    let mut src = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let stored = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..src.len() {
        let mut entry = src.by_index(i).unwrap();
        let name = entry.name().to_string();
        if name.ends_with(".debug_pkl") {
            continue; // source ranges of the old code
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name.ends_with("code/__torch__.py") {
            let code = String::from_utf8(bytes).unwrap();
            let list = code.lines().find(|l| l.contains("= [torch.flatten(")).expect("the flattened list");
            let parts: Vec<&str> = list.split("torch.flatten(").skip(1).map(|p| p.split(')').next().unwrap()).collect();
            let ret = code.lines().find(|l| l.trim_start().starts_with("return torch.cat(")).unwrap();
            let tuple = format!("Tuple[{}]", vec!["Tensor"; parts.len()].join(", "));
            let code = code
                .replace(") -> Tensor:", &format!(") -> {tuple}:"))
                .replace(list, "")
                .replace(ret, &format!("    return ({})", parts.join(", ")));
            bytes = code.into_bytes();
        }
        out.start_file(name, stored).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
}

/// Without `[data.train]` the run says which table to add; with one whose folder is not there it
/// names the folder and the table, before any work starts.
#[test]
fn a_missing_training_split_names_the_key_and_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let base = r#"
[model]
type = "Vgg"
cfg = [8, "M"]
avgpool = [1, 1]
classifier = []
num_classes = 2
weights = "random"
[attributor]
type = "ReadoutBottleneck"
layer = "features.0"
readouts = ["features.0", "logits"]
[data.attribution]
type = "ImageFolder"
root = "nowhere/attribution"
"#;
    let run = |extra: &str| {
        let config = tmp.path().join("c.toml");
        std::fs::write(&config, format!("{base}{extra}")).unwrap();
        let run = ibex::Run::load(&config, &[]).unwrap();
        let wd = ibex::output::WorkDir::create(&tmp.path().join("wd")).unwrap();
        run.attribute(&wd, None).err().unwrap().to_string()
    };
    let e = run("");
    assert!(e.contains("[data.train]"), "{e}");
    let e = run("[data.train]\ntype = \"ImageFolder\"\nroot = \"/no/such/train\"\n");
    assert!(e.contains("/no/such/train") && e.contains("data.train"), "{e}");
}

/// The fast α (each readout through its block of the first convolution at its own resolution,
/// then resized) equals the network applied to the concatenated, resized readouts of spec §2.1.
#[test]
fn the_fast_alpha_equals_the_network_on_the_concatenated_readouts() {
    use ibex::attributors::readout::{normalised, readout_input, Normalise, ReadoutStats};
    let _rng = rng_lock();
    let model = tiny_vgg();
    let data = random_images(24, 9);
    let p = params();
    // train a little so the first convolution's weights are no longer the initial ones
    let cx = AttributionCtx::default();
    let mut r = ReadoutBottleneck::new(ReadoutParams { fit: FitConfig { epochs: 1, ..p.fit.clone() }, ..p.clone() });
    r.fit(&model, &Splits::one(Split::Train, &data), &cx).unwrap();
    let net = &r.readout().unwrap().net;
    let x = Tensor::stack(&[data.get(0).unwrap().input, data.get(5).unwrap().input], 0);
    let outs = model.features_many(&x, &["features.3", "features.6", "logits"]).unwrap();
    let ests = estimators(&model, &data, &p);
    let stats: Vec<ReadoutStats> = ests[..3]
        .iter()
        .map(|e| ReadoutStats { mean: e.mean().unwrap(), std: e.std().unwrap().clamp_min(0.01) })
        .collect();
    for norm in [Normalise::MeanStd, Normalise::Std] {
        let spec = net.alpha_of_input(&readout_input(&outs, &stats, [16, 16], norm));
        let fast = net.alpha(&normalised(&outs, &stats, norm), [16, 16]);
        assert_eq!(fast.size(), vec![2, 16, 16, 16]);
        assert!(common::max_abs_diff(&spec, &fast) < 1e-4, "{}", common::max_abs_diff(&spec, &fast));
    }
}

/// One weight w from 0 towards 1 (Adam's first step is lr = 0.3 exactly); the validation figure
/// (w − 0.3)² is lowest after epoch 1, so `restore_best` ends at w = 0.3, without it at ≈ 0.9.
struct Towards1 {
    w: Tensor,
}

impl Trainable for Towards1 {
    fn parameters(&self) -> Vec<(String, Tensor)> {
        vec![("w".into(), self.w.shallow_clone())]
    }
    fn losses(&self, _m: &dyn Classifier, _b: &ibex::fitting::Batch, _at: ibex::fitting::Step) -> Result<Losses> {
        Ok(vec![("loss", (&self.w - 1.0).square().sum(Kind::Float))])
    }
    fn validation(&self, _m: &dyn Classifier, _b: &ibex::fitting::Batch, _at: ibex::fitting::Step) -> Result<Losses> {
        Ok(vec![("off", (&self.w - 0.3).square().sum(Kind::Float))])
    }
    fn extra_state(&self) -> Result<Vec<(String, Tensor)>> {
        Ok(Vec::new())
    }
}

type Losses = Vec<(&'static str, Tensor)>;

#[test]
fn restore_best_brings_back_the_best_epochs_weights() {
    let data = TensorDataset::new(vec![Tensor::zeros([3, 4, 4], (Kind::Float, Device::Cpu))], vec![0]);
    let model = common::tiny_vgg();
    for (restore_best, want) in [(true, 0.3), (false, 0.9)] {
        let net = Towards1 { w: Tensor::zeros([1], (Kind::Float, Device::Cpu)).set_requires_grad(true) };
        let cfg = FitConfig { epochs: 3, batch_size: 1, lr: 0.3, restore_best, ..FitConfig::default() };
        let dir = tempfile::tempdir().unwrap();
        let fit = Fit {
            cfg: &cfg,
            key: "k".into(),
            seed: 1,
            device: Device::Cpu,
            dir: Some(dir.path().into()),
            scalars: None,
        };
        let rows = ibex::fitting::Rows::all(&data);
        fit.run(&net, &model, &rows, Some(&rows)).unwrap();
        let w = net.w.double_value(&[0]);
        assert!((w - want).abs() < 0.05, "restore_best {restore_best}: w = {w}");
    }
}
