//! What VIBI trains (spec peers §1.4–§1.6): the explainer and the approximator against the black
//! box's cached probabilities, warm-up first, then relaxed k-hot samples under β·KL(π ‖ U); the
//! validation figure is the approximator's fidelity on hard top-k inputs (§1.7).
use super::nets::VibiNets;
use super::VibiParams;
use crate::attributors::khot::{
    approximator_ce, chunks_to_pixels, hard_k_hot, kl_to_uniform, relaxed_k_hot, temperature,
};
use crate::error::Result;
use crate::fitting::{Batch, Rows, Step, Trainable};
use crate::models::Classifier;
use tch::{Kind, Tensor};

/// The networks, the settings they train under, and the black box's probabilities [N, classes]
/// over the train split (on the device), indexed by the row each training sample carries.
pub(super) struct Trained {
    pub nets: VibiNets,
    pub p: VibiParams,
    pub probs: Tensor,
}

impl Trained {
    /// x ⊙ mask for chunk masks z [M,F] of images x [B,C,H,W] repeated M/B times each.
    pub fn masked(&self, x: &Tensor, z: &Tensor) -> Tensor {
        let reps = z.size()[0] / x.size()[0];
        let px = chunks_to_pixels(z, self.nets.channels, self.nets.grid, self.nets.size);
        x.repeat_interleave_self_int(reps, 0, None) * px
    }

    /// The explainer's chunk logits [B,F] (eval mode).
    pub fn logits(&self, x: &Tensor) -> Tensor {
        self.nets.chunk_logits(x, false).flatten(1, -1)
    }

    /// The approximator's probabilities [B,classes] on the hard top-k inputs of x (eval mode).
    pub fn approximate_top_k(&self, x: &Tensor) -> Tensor {
        let t = self.masked(x, &hard_k_hot(&self.logits(x), self.p.k));
        self.nets.approximate(&t, false).softmax(-1, Kind::Float)
    }

    /// Fidelity: 1 where the approximator on the hard top-k inputs picks the black box's top
    /// class `bb` [B], else 0.
    pub fn agreement(&self, x: &Tensor, bb: &Tensor) -> Tensor {
        self.approximate_top_k(x).argmax(-1, false).eq_tensor(bb).to_kind(Kind::Float)
    }

    /// The approximator's batch-norm running statistics recomputed on hard top-k inputs of the
    /// first batches of `data` (see [`VibiParams::recalibrate_batches`]); no gradient.
    fn recalibrate(&self, data: &Rows) -> Result<()> {
        for at in data.batches(self.p.fit.batch_size).take(self.p.recalibrate_batches) {
            let x = Batch::load(data, &at, self.probs.device())?.x;
            tch::no_grad(|| {
                let t = self.masked(&x, &hard_k_hot(&self.logits(&x), self.p.k));
                let _ = self.nets.approximate(&t, true);
            });
        }
        Ok(())
    }
}

impl Trainable for Trained {
    fn parameters(&self) -> Vec<(String, Tensor)> {
        self.nets.parameters()
    }
    /// Warm-up: the approximator on unmasked x, H = mean CE. Then H(p, q) over N relaxed k-hot
    /// samples (with the seed's N/C factor unless switched off, quirk V4) + β·KL(π ‖ U),
    /// τ = 10/(step − warm-up) (spec peers §1.4–§1.6); the targets by each sample's row.
    fn losses(&self, _bb: &dyn Classifier, batch: &Batch, at: Step) -> Result<Vec<(&'static str, Tensor)>> {
        let (x, p) = (&batch.x, self.probs.index_select(0, &batch.rows));
        if at.step - self.p.warmup < 1 {
            let q = self.nets.approximate(x, at.train).unsqueeze(1);
            let h = approximator_ce(&p, &q, false);
            let zero = Tensor::zeros([], (Kind::Float, x.device()));
            return Ok(vec![("loss", h.shallow_clone()), ("ce", h), ("kl", zero)]);
        }
        let tau = temperature(at.step, self.p.warmup);
        let logits = self.nets.chunk_logits(x, at.train).flatten(1, -1);
        let (b, n) = (logits.size()[0], self.p.num_samples);
        let z = relaxed_k_hot(&logits, self.p.k, n, tau).view([b * n, -1]);
        let q = self.nets.approximate(&self.masked(x, &z), at.train).view([b, n, -1]);
        let h = approximator_ce(&p, &q, self.p.seed_ce_scaling);
        let kl = kl_to_uniform(&logits);
        Ok(vec![("loss", &h + &kl * self.p.beta), ("ce", h), ("kl", kl)])
    }
    /// 1 − fidelity first (what the best epoch minimises), then the fidelity.
    fn validation(&self, _bb: &dyn Classifier, batch: &Batch, _at: Step) -> Result<Vec<(&'static str, Tensor)>> {
        let bb = self.probs.index_select(0, &batch.rows).argmax(-1, false);
        let agree = self.agreement(&batch.x, &bb).mean(Kind::Float);
        Ok(vec![("disagreement", agree.ones_like() - &agree), ("fidelity", agree)])
    }
    /// The batch-norm statistics the evaluation sees: those of hard top-k inputs.
    fn end_epoch(&self, _bb: &dyn Classifier, train: &Rows) -> Result<()> {
        self.recalibrate(train)
    }
    fn extra_state(&self) -> Result<Vec<(String, Tensor)>> {
        Ok(Vec::new())
    }
}
