//! Running mean / sample std / activity of a layer's output over a dataset (IBA's
//! `TorchWelfordEstimator`, spec §1.2). Batches are merged with Chan et al.'s pairwise update, which
//! equals the sequential Welford recursion; sums are kept in float64.
use crate::error::{Error, Result};
use std::path::Path;
use tch::{Kind, Tensor};

pub struct Welford {
    m: Option<Tensor>,
    s: Option<Tensor>,
    nonzero: Option<Tensor>,
    n: i64,
}

impl Default for Welford {
    fn default() -> Self {
        Self::new()
    }
}

impl Welford {
    pub fn new() -> Self {
        Welford { m: None, s: None, nonzero: None, n: 0 }
    }

    /// An estimate made elsewhere: mean and sum of squared deviations (float64), non-zero
    /// counts (int64) and the count that the std and the activity ratio divide by.
    pub fn from_parts(m: Tensor, s: Tensor, nonzero: Tensor, n: i64) -> Self {
        Welford {
            m: Some(m.to_kind(Kind::Double)),
            s: Some(s.to_kind(Kind::Double)),
            nonzero: Some(nonzero.to_kind(Kind::Int64)),
            n,
        }
    }

    pub fn n_samples(&self) -> i64 {
        self.n
    }

    /// Adds a batch [N, *S] of feature maps.
    pub fn update(&mut self, batch: &Tensor) {
        let x = batch.to_kind(Kind::Double);
        let nb = x.size()[0];
        if nb == 0 {
            return;
        }
        let mb = x.mean_dim(0, false, Kind::Double);
        let m2b = (&x - &mb).square().sum_dim_intlist(0, false, Kind::Double);
        let nzb = batch.ne(0.0).sum_dim_intlist(0, false, Kind::Int64);
        match (&self.m, &self.s, &self.nonzero) {
            (Some(m), Some(s), Some(nz)) => {
                let (na, nbf) = (self.n as f64, nb as f64);
                let tot = na + nbf;
                let delta = &mb - m;
                self.m = Some(m + &delta * (nbf / tot));
                self.s = Some(s + m2b + delta.square() * (na * nbf / tot));
                self.nonzero = Some(nz + nzb);
            }
            _ => {
                self.m = Some(mb);
                self.s = Some(m2b);
                self.nonzero = Some(nzb);
            }
        }
        self.n += nb;
    }

    fn need(&self) -> Result<(&Tensor, &Tensor, &Tensor)> {
        match (&self.m, &self.s, &self.nonzero) {
            (Some(m), Some(s), Some(nz)) if self.n >= 2 => Ok((m, s, nz)),
            _ => Err(Error::Data(format!("the estimator has seen {} samples; it needs at least 2", self.n))),
        }
    }

    /// Per-element mean, float32.
    pub fn mean(&self) -> Result<Tensor> {
        Ok(self.need()?.0.to_kind(Kind::Float))
    }

    /// Per-element sample std sqrt(s/(n−1)), float32.
    pub fn std(&self) -> Result<Tensor> {
        Ok((self.need()?.1 / (self.n - 1) as f64).sqrt().to_kind(Kind::Float))
    }

    /// 1.0 where the element was non-zero in more than `threshold` of the samples, else 0.0.
    pub fn active_neurons(&self, threshold: f64) -> Result<Tensor> {
        let nz = self.need()?.2;
        Ok((nz.to_kind(Kind::Double) / self.n as f64).gt(threshold).to_kind(Kind::Float))
    }

    /// The state as named tensors (`m`, `s`, `neuron_nonzero`, `n_samples`), for a checkpoint;
    /// [`Welford::from_named`] reads it back.
    pub fn named(&self) -> Result<Vec<(&'static str, Tensor)>> {
        let (m, s, nz) = self.need()?;
        Ok(vec![
            ("m", m.shallow_clone()),
            ("s", s.shallow_clone()),
            ("neuron_nonzero", nz.shallow_clone()),
            ("n_samples", Tensor::from_slice(&[self.n])),
        ])
    }

    /// The estimate [`Welford::named`] gave; `get` looks a tensor up by its name.
    pub fn from_named(get: impl Fn(&str) -> Result<Tensor>) -> Result<Self> {
        Ok(Welford::from_parts(get("m")?, get("s")?, get("neuron_nonzero")?, get("n_samples")?.int64_value(&[0])))
    }

    /// Saves {m, s, n_samples, neuron_nonzero} (the original's state keys).
    pub fn save(&self, path: &Path) -> Result<()> {
        let named = self.named()?;
        let refs: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (*n, t)).collect();
        crate::io::atomic::with_temp(path, |tmp| {
            Tensor::write_safetensors(&refs, tmp).map_err(|e| Error::file(path, e.to_string()))
        })
    }

    pub fn load(path: &Path, device: tch::Device) -> Result<Self> {
        let named = Tensor::read_safetensors(path).map_err(|e| Error::file(path, e.to_string()))?;
        Welford::from_named(|k| {
            named
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, t)| t.to_device(device))
                .ok_or_else(|| Error::file(path, format!("no tensor `{k}`")))
        })
    }
}
