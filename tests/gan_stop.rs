//! InputIBA's GAN stopped once its mask settles (`[gan.stop]`): a stop is a truncation of the fixed
//! schedule, a rule that never fires changes nothing, and a sample that stops inside a batch ends
//! as it would alone (mask, curves and the random stream the input stage goes on with).
mod common;
use common::{rng_lock, tiny_vgg};
use ibex::attributors::input_iba::{wgan, GanResult, GanStop, WganParams};
use ibex::attributors::Streams;
use ibex::models::{Classifier, Vgg};
use tch::{Device, Kind, Tensor};

/// Feature-IBA-like inputs for `n` random images on the tiny VGG at features.8.
struct Inputs {
    model: Vgg,
    x: Tensor,
    cap: Tensor,
    lambda: Tensor,
    theta: Tensor,
}

fn inputs(n: i64) -> Inputs {
    tch::manual_seed(0);
    let mut model = tiny_vgg();
    model.freeze();
    let x = Tensor::randn([n, 3, 32, 32], (Kind::Float, Device::Cpu));
    let feat = tch::no_grad(|| model.features(&x, "features.8")).unwrap();
    let cap = feat.abs() * 0.5;
    let lambda = cap.sigmoid();
    let bits = Tensor::rand([n, 1, 32, 32], (Kind::Float, Device::Cpu)) * 3.0;
    let theta = bits.expand([n, 3, 32, 32], false).contiguous();
    Inputs { model, x, cap, lambda, theta }
}

/// The GAN of samples `pick` of `i`, with stream seeds 10 + k; also each stream's next number
/// after the GAN (where the input stage goes on from).
fn train(i: &Inputs, pick: &[i64], p: &WganParams) -> (GanResult, Vec<u64>) {
    let rows = Tensor::from_slice(pick);
    let (x, cap, lambda, theta) = (
        i.x.index_select(0, &rows),
        i.cap.index_select(0, &rows),
        i.lambda.index_select(0, &rows),
        i.theta.index_select(0, &rows),
    );
    let names: Vec<&str> = pick.iter().map(|_| "s").collect();
    let input = wgan::GanInput {
        model: &i.model,
        layer: "features.8",
        x: &x,
        capacity: &cap,
        lambda: &lambda,
        theta_init: &theta,
        names: &names,
    };
    let mut streams = Streams::new(pick.iter().map(|&k| 10 + k as u64));
    let gan = wgan::train(&input, p, &mut streams).unwrap();
    let next = (0..pick.len()).map(|k| streams.host(k).next_u64()).collect();
    (gan, next)
}

fn schedule(epochs: usize, stop: Option<GanStop>) -> WganParams {
    WganParams { dataset_size: 40, batch_size: 16, epochs, stop, ..Default::default() }
}

fn curve<'a>(g: &'a GanResult, k: usize, tag: &str) -> &'a [f64] {
    &g.curves[k].iter().find(|(t, _)| t == tag).unwrap_or_else(|| panic!("no {tag}")).1
}

#[test]
fn a_stop_after_one_epoch_is_the_one_epoch_schedule() {
    let _rng = rng_lock();
    let i = inputs(2);
    let settles_at_once = GanStop { min_epochs: 1, mask_tol: 1.0, patience: 1 };
    let (stopped, next_stopped) = train(&i, &[0, 1], &schedule(5, Some(settles_at_once)));
    let (short, next_short) = train(&i, &[0, 1], &schedule(1, None));
    assert_eq!((&stopped.masks - &short.masks).abs().max().double_value(&[]), 0.0, "bit-equal");
    assert_eq!(next_stopped, next_short, "the streams stand where one epoch leaves them");
    for k in 0..2 {
        assert_eq!(curve(&stopped, k, "gan/epochs"), [1.0]);
        assert_eq!(curve(&stopped, k, "gan/critic_loss"), curve(&short, k, "gan/critic_loss"));
        assert_eq!(curve(&stopped, k, "gan/generator_loss").len(), 1);
    }
}

#[test]
fn a_rule_that_never_fires_changes_nothing() {
    let _rng = rng_lock();
    let i = inputs(2);
    let never = GanStop { min_epochs: 1, mask_tol: 1e-30, patience: 1 };
    let (watched, next_watched) = train(&i, &[0, 1], &schedule(3, Some(never)));
    let (plain, next_plain) = train(&i, &[0, 1], &schedule(3, None));
    assert_eq!((&watched.masks - &plain.masks).abs().max().double_value(&[]), 0.0, "bit-equal");
    assert_eq!(next_watched, next_plain);
    assert_eq!(curve(&watched, 1, "gan/epochs"), [3.0]);
    assert!(plain.curves[0].iter().all(|(t, _)| t != "gan/epochs"), "no epochs curve without a rule");
}

#[test]
fn a_sample_that_stops_inside_a_batch_ends_as_it_would_alone() {
    let _rng = rng_lock();
    let i = inputs(3);
    // sample 2's mask moves less than 2.5e-4 in its first epoch, the others' more (measured)
    let rule = GanStop { min_epochs: 1, mask_tol: 2.5e-4, patience: 1 };
    let p = schedule(4, Some(rule));
    let (batch, next_batch) = train(&i, &[0, 1, 2], &p);
    let epochs: Vec<f64> = (0..3).map(|k| curve(&batch, k, "gan/epochs")[0]).collect();
    assert_eq!(epochs, [4.0, 4.0, 1.0], "the samples should stop at different epochs");
    for (k, next) in next_batch.iter().enumerate() {
        let (alone, next_alone) = train(&i, &[k as i64], &p);
        let d = (batch.masks.get(k as i64) - alone.masks.get(0)).abs().max().double_value(&[]);
        assert!(d < 1e-5, "sample {k}: batch vs alone max |Δ| = {d}");
        assert_eq!(*next, next_alone[0], "sample {k}: its stream goes on from the same place");
        for tag in ["gan/epochs", "gan/critic_loss", "gan/generator_loss"] {
            let (b, a) = (curve(&batch, k, tag), curve(&alone, 0, tag));
            assert_eq!(b.len(), a.len(), "sample {k}: {tag}");
            assert!(b.iter().zip(a).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs())), "sample {k}: {tag}");
        }
    }
}

#[test]
fn a_meaningless_rule_is_refused() {
    let bad = |stop: GanStop| schedule(3, Some(stop)).validate().unwrap_err().field;
    assert_eq!(bad(GanStop { patience: 0, ..GanStop::default() }), "stop.patience");
    assert_eq!(bad(GanStop { mask_tol: 0.0, ..GanStop::default() }), "stop.mask_tol");
}
