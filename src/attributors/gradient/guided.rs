//! Guided Backpropagation (Springenberg et al. 2015) and DeconvNet (Zeiler & Fergus 2014): the
//! input gradient with the backward rule of the ReLUs replaced. tch has no backward hooks, so we
//! walk the model's [`Stage`] chain backwards ourselves: every other layer contributes its exact
//! vector–Jacobian product (autograd on that layer's graph from the one forward pass), ReLUs apply
//! the method's rule.
use super::common::{grad_method, grad_params};
use super::{GradMethod, GradOutput, Score};
use crate::error::{Error, Result};
use crate::models::{Classifier, Stage};
use tch::{Kind, Tensor};

/// The backward rule at a ReLU with input r and incoming gradient g.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReluRule {
    /// 1[r > 0] · g: plain backpropagation.
    Gradient,
    /// 1[r > 0] · max(g, 0).
    Guided,
    /// max(g, 0), ignoring the forward mask.
    Deconv,
}

/// d(score_t)/dx with `rule` at the ReLUs (all of them, or those in `features` only), for x [N,C,H,W].
pub fn relu_rule_backward(
    model: &dyn Classifier,
    x: &Tensor,
    targets: &Tensor,
    score: Score,
    rule: ReluRule,
    features_only: bool,
) -> Result<Tensor> {
    let stages = model.stages().ok_or_else(|| Error::Model("this model does not expose its layers".into()))?.chain();
    // one forward that keeps each layer's own graph (its input a leaf), for the walk back
    let mut inputs = Vec::with_capacity(stages.len());
    let mut outputs = Vec::with_capacity(stages.len());
    let mut h = x.detach();
    for st in &stages {
        let xi = match st {
            Stage::Op(_) => h.detach().set_requires_grad(true),
            Stage::Relu { .. } => h.detach(),
        };
        let y = st.forward(&xi);
        h = y.detach();
        inputs.push(xi);
        outputs.push(y);
    }
    let out = h;
    let onehot = out.zeros_like().scatter_value(1, &targets.view([-1, 1]), 1.0);
    let mut g = match score {
        Score::Logit => onehot,
        // d p_t / d logits = p_t (e_t − p)
        Score::Probability => {
            let p = out.softmax(-1, Kind::Float);
            p.gather(1, &targets.view([-1, 1]), false) * (onehot - &p)
        }
    };
    for ((st, input), output) in stages.iter().zip(&inputs).zip(&outputs).rev() {
        g = match st {
            Stage::Relu { in_features } => {
                let r = if features_only && !in_features { ReluRule::Gradient } else { rule };
                let mask = input.gt(0.0).to_kind(Kind::Float);
                match r {
                    ReluRule::Gradient => g * mask,
                    ReluRule::Guided => g.relu() * mask,
                    ReluRule::Deconv => g.relu(),
                }
            }
            Stage::Op(_) => Tensor::run_backward(&[&(output * &g).sum(Kind::Float)], &[input], false, false).remove(0),
        };
    }
    Ok(g.contiguous())
}

fn needs_stages(model: &dyn Classifier, method: &str) -> Result<()> {
    match model.stages() {
        Some(_) => Ok(()),
        None => Err(Error::Model(format!(
            "{method} needs a model that exposes its layers (e.g. Vgg); this model's layers are opaque"
        ))),
    }
}

grad_params! {
    /// Config of [`GuidedBackprop`].
    GuidedBackpropParams = "GuidedBackprop" {
        /// Apply the rule to the ReLUs of `features` only (WhiteBox), not also to the classifier's
        /// (Captum, the default).
        features_only: bool = false,
    }
}

grad_method! {
    /// Guided backpropagation.
    GuidedBackprop(GuidedBackpropParams)
}

impl GradMethod for GuidedBackprop {
    fn check_model(&self, model: &dyn Classifier) -> Result<()> {
        needs_stages(model, "GuidedBackprop")
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        Ok(relu_rule_backward(model, x, targets, self.common.score, ReluRule::Guided, self.p.features_only)?.into())
    }
}

grad_params! {
    /// Config of [`DeconvNet`].
    DeconvNetParams = "DeconvNet" {
        /// Apply the rule to the ReLUs of `features` only, not also to the classifier's.
        features_only: bool = false,
    }
}

grad_method! {
    /// DeconvNet.
    DeconvNet(DeconvNetParams)
}

impl GradMethod for DeconvNet {
    fn check_model(&self, model: &dyn Classifier) -> Result<()> {
        needs_stages(model, "DeconvNet")
    }
    fn compute(&self, model: &dyn Classifier, x: &Tensor, targets: &Tensor, _seeds: &[i64]) -> Result<GradOutput> {
        Ok(relu_rule_backward(model, x, targets, self.common.score, ReluRule::Deconv, self.p.features_only)?.into())
    }
}
