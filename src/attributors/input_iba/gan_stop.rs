//! An early stop of InputIBA's GAN once its generator's mask has settled (`[gan.stop]`; off by
//! default, the original's fixed `epochs`). What the GAN hands on is σ(θ_G), the prior of the input
//! bottleneck, so the rule watches that: after each epoch e ≥ `min_epochs`, sample k's mean change
//! d_k(e) = mean |σ(θ_G(e)) − σ(θ_G(e−1))| over its pixels; `patience` epochs running with
//! d_k < `mask_tol` end sample k's GAN. The losses are not the criterion: with weight clipping the
//! critic keeps improving for all 20 of the original's epochs on the quickstart (its loss grows
//! 60-fold from epoch 2 to 20) while the mask moves about 0.001 per epoch (docs/inputiba.md).
//!
//! A sample that stops inside a batch is frozen, not removed: its losses are multiplied by 0, so
//! RMSprop (no momentum, no weight decay) leaves its critic and generator exactly as they were, its
//! curves end and its random stream is put back where it stood. Its mask is then the one it gets
//! alone, and the batch ends when its last sample stops.
use crate::attributors::{SampleCurves, Streams};
use crate::config::Checked;
use crate::error::Result;
use crate::rng::SplitMix;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GanStop {
    /// Epochs every sample trains before the rule applies.
    pub min_epochs: usize,
    /// Mean change of the mask (in [0, 1]) per epoch below which an epoch counts as settled.
    pub mask_tol: f64,
    /// Settled epochs in a row that end a sample's GAN.
    pub patience: usize,
}

impl Default for GanStop {
    fn default() -> Self {
        GanStop { min_epochs: 1, mask_tol: 1e-3, patience: 2 }
    }
}

impl GanStop {
    pub fn validate(&self) -> Checked {
        use crate::config::validate::{at_least, positive};
        at_least("stop.patience", self.patience as i64, 1)?;
        positive("stop.mask_tol", self.mask_tol)
    }
}

/// Per sample: the mask after the last epoch, settled epochs in a row, the epochs it trained and
/// its stream as it stood when it stopped.
pub struct Settling {
    rule: GanStop,
    previous: Tensor,
    calm: Vec<usize>,
    epochs: Vec<Option<usize>>,
    streams_at_stop: Vec<Option<SplitMix>>,
}

impl Settling {
    /// `mask`: σ(θ_G) before training, [N,…].
    pub fn new(rule: GanStop, mask: &Tensor) -> Self {
        let n = mask.size()[0] as usize;
        Settling {
            rule,
            previous: mask.detach().copy(),
            calm: vec![0; n],
            epochs: vec![None; n],
            streams_at_stop: vec![None; n],
        }
    }

    /// 1 for a sample still training, 0 for one that stopped, [N] on `device`: the losses' weights.
    pub fn active(&self, device: Device) -> Tensor {
        let v: Vec<f32> = self.epochs.iter().map(|e| if e.is_some() { 0.0 } else { 1.0 }).collect();
        Tensor::from_slice(&v).to_device(device)
    }

    pub fn all_stopped(&self) -> bool {
        self.epochs.iter().all(Option::is_some)
    }

    /// After epoch `epoch` (0-based) with the mask `mask`: stops the samples whose mask has
    /// settled, ending their curves and keeping their streams' states. A change that cannot be
    /// read back is an error, not "no change".
    pub fn after_epoch(
        &mut self,
        epoch: usize,
        mask: &Tensor,
        streams: &Streams,
        curves: &mut [&mut SampleCurves],
    ) -> Result<()> {
        let change = (mask - &self.previous).abs().flatten(1, -1).mean_dim(1, false, Kind::Double);
        let change = Vec::<f64>::try_from(change.to_device(Device::Cpu))?;
        self.previous = mask.detach().copy();
        for (k, d) in change.into_iter().enumerate() {
            if self.epochs[k].is_some() {
                continue;
            }
            self.calm[k] =
                if epoch + 1 >= self.rule.min_epochs && d < self.rule.mask_tol { self.calm[k] + 1 } else { 0 };
            if self.calm[k] >= self.rule.patience {
                self.epochs[k] = Some(epoch + 1);
                self.streams_at_stop[k] = Some(streams.snapshot(k));
                curves.iter_mut().for_each(|c| c.end(k));
            }
        }
        Ok(())
    }

    /// Puts the stopped samples' streams back; returns the epochs each sample trained (`ran`:
    /// those of a sample that never stopped).
    pub fn finish(self, streams: &mut Streams, ran: usize) -> Vec<usize> {
        for (k, s) in self.streams_at_stop.into_iter().enumerate() {
            if let Some(s) = s {
                streams.restore(k, s);
            }
        }
        self.epochs.into_iter().map(|e| e.unwrap_or(ran)).collect()
    }
}
