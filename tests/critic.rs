//! The vision critic computed two ways (spec §3.3): libtorch's convolutions under autograd, and
//! matrix products over the valid kernel taps with the backward pass written out. They are one
//! function: from the same stream the same parameters, and scores, the critic step's gradients and
//! the generator's input gradients agree to float rounding, on square, oblong and odd-sized maps and
//! with several samples' critics side by side.
mod common;
use common::rng_lock;
use ibex::attributors::input_iba::critic::{vision, Autograd, ConvCritic, CriticKernels, CriticNet, CriticTraining};
use ibex::attributors::input_iba::GemmCritic;
use ibex::attributors::Streams;
use tch::{Device, Kind, Tensor};

const TRAIN: CriticTraining = CriticTraining { lr: 5e-5, clip: 0.01 };

fn pair(c: i64, h: i64, w: i64, seeds: &[u64]) -> (Autograd<ConvCritic>, GemmCritic) {
    let conv = ConvCritic::new(c, h, w, Device::Cpu, &mut Streams::new(seeds.to_vec()));
    let gemm = GemmCritic::new(c, h, w, Device::Cpu, &mut Streams::new(seeds.to_vec()), TRAIN);
    (Autograd::new(conv, TRAIN).unwrap(), gemm)
}

/// max |a − b| / max |b|, or max |a − b| where b is (near) zero.
fn rel(a: &Tensor, b: &Tensor) -> f64 {
    let scale = b.abs().max().double_value(&[]).max(1e-3);
    (a - b).abs().max().double_value(&[]) / scale
}

/// Non-negative maps, as the post-ReLU features the critic sees: [N, B, C, h, w].
fn maps(n: i64, b: i64, c: i64, h: i64, w: i64) -> Tensor {
    Tensor::randn([n, b, c, h, w], (Kind::Float, Device::Cpu)).relu()
}

const SHAPES: [(i64, i64, i64); 4] = [(8, 8, 8), (6, 12, 8), (4, 9, 7), (5, 4, 4)];

#[test]
fn the_same_stream_gives_the_same_critic() {
    let _rng = rng_lock();
    for (c, h, w) in SHAPES {
        let (conv, gemm) = pair(c, h, w, &[3, 4]);
        for (a, b) in gemm.torch_layout(false).iter().zip(conv.parameters()) {
            assert_eq!(a.size(), b.size(), "{c}×{h}×{w}");
            assert_eq!((a - &b).abs().max().double_value(&[]), 0.0, "{c}×{h}×{w}: parameters differ");
        }
        tch::manual_seed(1);
        let x = maps(2, 6, c, h, w);
        let d = rel(&gemm.score(&x), &conv.score(&x));
        assert!(d < 1e-5, "{c}×{h}×{w}: scores differ by {d:e}");
    }
}

#[test]
fn a_critic_step_has_the_convolutions_gradients_and_losses() {
    let _rng = rng_lock();
    for (c, h, w) in SHAPES {
        let (mut conv, mut gemm) = pair(c, h, w, &[5, 6]);
        tch::manual_seed(2);
        let (real, fake) = (maps(2, 7, c, h, w), maps(2, 7, c, h, w));
        let weight = Tensor::from_slice(&[1.0f32, 0.5]);
        let lc = conv.train_step(&real, &fake, Some(&weight)).unwrap();
        let lg = gemm.train_step(&real, &fake, Some(&weight)).unwrap();
        assert!(rel(&lg, &lc) < 1e-5, "{c}×{h}×{w}: losses {lg:?} vs {lc:?}");
        let grads = gemm.torch_layout(true);
        let largest = conv.parameters().iter().map(|p| p.grad().abs().max().double_value(&[])).fold(0.0, f64::max);
        for (i, (a, p)) in grads.iter().zip(conv.parameters()).enumerate() {
            // the conv biases' true gradient is 0 (batch norm removes them): both are rounding
            let err = (a - p.grad()).abs().max().double_value(&[]);
            assert!(
                err <= 1e-4 * p.grad().abs().max().double_value(&[]) + 1e-6 * largest,
                "{c}×{h}×{w}: gradient {i} off by {err:e}"
            );
        }
        // BN's γ starts at 1: the step's clip brought every parameter within ±0.01
        assert!(gemm.max_abs_parameter() <= 0.01 + 1e-9 && conv.max_abs_parameter() <= 0.01 + 1e-9);
    }
}

#[test]
fn the_generator_gets_the_convolutions_input_gradient() {
    let _rng = rng_lock();
    for (c, h, w) in SHAPES {
        let (mut conv, mut gemm) = pair(c, h, w, &[7, 8]);
        tch::manual_seed(3);
        let fake = maps(2, 5, c, h, w);
        let weight = Tensor::from_slice(&[0.0f32, 1.0]);
        let grad = |critic: &mut dyn CriticNet| {
            let x = fake.detach().set_requires_grad(true);
            let loss = critic.generator_backward(&(&x * 1.0), Some(&weight)).unwrap();
            (loss, x.grad())
        };
        let (lc, gc) = grad(&mut conv);
        let (lg, gg) = grad(&mut gemm);
        assert!(rel(&lg, &lc) < 1e-5, "{c}×{h}×{w}: losses {lg:?} vs {lc:?}");
        let d = rel(&gg, &gc);
        assert!(d < 1e-4, "{c}×{h}×{w}: input gradients differ by {d:e}");
        // a stopped sample (weight 0) gets no gradient
        assert_eq!(gg.get(0).abs().max().double_value(&[]), 0.0);
        // and the critic's own parameters none: the generator's step leaves them be
        assert!(conv.parameters().iter().all(|p| !p.grad().defined() || p.grad().abs().max().double_value(&[]) == 0.0));
    }
}

#[test]
fn several_steps_keep_the_two_together_and_auto_picks_gemm_on_the_cpu() {
    let _rng = rng_lock();
    let (c, h, w) = (8, 8, 8);
    let mut conv = vision(c, h, w, Device::Cpu, &mut Streams::new([9]), CriticKernels::Convolution, TRAIN).unwrap();
    let mut gemm = vision(c, h, w, Device::Cpu, &mut Streams::new([9]), CriticKernels::Auto, TRAIN).unwrap();
    tch::manual_seed(4);
    for _ in 0..5 {
        let (real, fake) = (maps(1, 8, c, h, w), maps(1, 8, c, h, w));
        let (lc, lg) = (conv.train_step(&real, &fake, None).unwrap(), gemm.train_step(&real, &fake, None).unwrap());
        assert!((lc - lg).abs().max().double_value(&[]) < 1e-4);
    }
    let x = maps(1, 8, c, h, w);
    let d = rel(&gemm.score(&x), &conv.score(&x));
    assert!(d < 1e-3, "after 5 steps the scores differ by {d:e}");
    assert!(gemm.max_abs_parameter() <= 0.01 + 1e-9 && conv.max_abs_parameter() <= 0.01 + 1e-9);
}
