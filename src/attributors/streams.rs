//! One random stream per sample, so that a sample's noise does not depend on which other samples
//! share its batch (`samples_per_batch`). libtorch has one global generator per device; before each
//! draw for sample k it is reseeded from k's own SplitMix, so sample k sees the same numbers alone or
//! in a batch of eight, on the same device.
use crate::rng::SplitMix;
use tch::{Device, Kind, Tensor};

pub struct Streams(Vec<SplitMix>);

impl Streams {
    /// One stream per seed (e.g. [`super::sample_seed`] of each sample, xor a per-stage constant).
    pub fn new(seeds: impl IntoIterator<Item = u64>) -> Self {
        Streams(seeds.into_iter().map(SplitMix::new).collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs `f` with libtorch's generator seeded from stream k (e.g. a sample's critic init).
    pub fn seeded<T>(&mut self, k: usize, f: impl FnOnce() -> T) -> T {
        tch::manual_seed((self.0[k].next_u64() >> 1) as i64);
        f()
    }

    /// N(0, 1) of shape [N, each…]: slice k drawn from stream k.
    pub fn randn(&mut self, each: &[i64], device: Device) -> Tensor {
        let parts: Vec<Tensor> =
            (0..self.len()).map(|k| self.seeded(k, || Tensor::randn(each, (Kind::Float, device)))).collect();
        Tensor::stack(&parts, 0)
    }

    /// A host-side permutation of 0..n per stream (Fisher–Yates).
    pub fn permutations(&mut self, n: usize) -> Vec<Vec<usize>> {
        self.0
            .iter_mut()
            .map(|r| {
                let mut v: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    v.swap(i, r.below(i as u64 + 1) as usize);
                }
                v
            })
            .collect()
    }

    /// Stream k's state, to [`Streams::restore`] later: a sample that stops early in a batch
    /// leaves its stream where it would be had it run alone.
    pub fn snapshot(&self, k: usize) -> SplitMix {
        self.0[k].clone()
    }

    pub fn restore(&mut self, k: usize, state: SplitMix) {
        self.0[k] = state;
    }

    /// The host-side generator of stream k (noise statistics and other scalars).
    pub fn host(&mut self, k: usize) -> &mut SplitMix {
        &mut self.0[k]
    }
}
