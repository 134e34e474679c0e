//! Per-sample loss curves of an optimisation that runs several samples in one batch, and the
//! finiteness guard on them (spec §10.15): a NaN or Inf loss names its sample and step.
use super::Curves;
use crate::error::{Error, Result};
use tch::Tensor;

pub struct SampleCurves {
    tags: Vec<&'static str>,
    /// values[k][j]: sample k, series j, one entry per push.
    values: Vec<Vec<Vec<f64>>>,
    /// Samples whose optimisation has ended while others in the batch go on: nothing more is
    /// recorded or checked for them, as if they had run alone.
    ended: Vec<bool>,
}

impl SampleCurves {
    /// `tags[0]` is the loss whose finiteness is checked.
    pub fn new(tags: &[&'static str], samples: usize) -> Self {
        SampleCurves {
            tags: tags.to_vec(),
            values: vec![vec![Vec::new(); tags.len()]; samples],
            ended: vec![false; samples],
        }
    }

    /// Appends one value per sample of each series ([N] tensors, in `tags` order). `what` describes
    /// the place (e.g. "feature IBA loss … at step 3") for the error.
    pub fn push(&mut self, series: &[&Tensor], names: &[&str], what: impl Fn(f64) -> String) -> Result<()> {
        let host: Vec<Vec<f64>> = series
            .iter()
            .map(|t| Vec::<f64>::try_from(t.detach().to_kind(tch::Kind::Double).to_device(tch::Device::Cpu).view(-1)))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Model(e.to_string()))?;
        for (k, v) in self.values.iter_mut().enumerate().filter(|(k, _)| !self.ended[*k]) {
            let loss = host[0][k];
            if !loss.is_finite() {
                return Err(Error::Attribution { sample: names[k].into(), why: what(loss) });
            }
            for (j, s) in v.iter_mut().enumerate() {
                s.push(host[j][k]);
            }
        }
        Ok(())
    }

    /// Sample k's curves end here.
    pub fn end(&mut self, k: usize) {
        self.ended[k] = true;
    }

    /// One [`Curves`] per sample.
    pub fn into_curves(self) -> Vec<Curves> {
        let tags = self.tags;
        self.values.into_iter().map(|v| tags.iter().map(|t| t.to_string()).zip(v).collect()).collect()
    }
}
