//! What every gradient method shares: the config fields for targets, batching and output, and the
//! gradient of the target score with respect to the input.
use crate::attributors::{Reduce, Target};
use crate::error::Result;
use crate::models::Classifier;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Which output is differentiated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Score {
    /// The target's logit (Captum's default).
    #[default]
    Logit,
    /// The target's softmax probability (WhiteBox's choice).
    Probability,
}

/// The fields every gradient method's config has (each method's params repeat them, since serde
/// cannot flatten into a `deny_unknown_fields` struct).
#[derive(Clone, Debug)]
pub struct Common {
    pub target: Target,
    pub score: Score,
    /// Images per batch.
    pub batch_size: usize,
    /// Folder in the work dir for `<name>.npy` / `.png` / `_overlay.jpg`.
    pub out_dir: String,
    /// Channel reduction for the PNG and the overlay.
    pub reduce: Reduce,
}

/// Declares a gradient method's params: the shared fields (`type`, `target`, `score`, `batch_size`,
/// `out_dir`, `reduce`) plus the method's own, with defaults, `deny_unknown_fields`, and `common()`.
macro_rules! grad_params {
    ($(#[$doc:meta])* $name:ident = $ty:literal { $($(#[$fdoc:meta])* $field:ident : $fty:ty = $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            #[serde(rename = "type")]
            pub type_: String,
            /// "label", "predicted" or a class index.
            pub target: $crate::attributors::Target,
            /// Differentiate the target's logit or its softmax probability.
            pub score: $crate::attributors::gradient::Score,
            /// Images per batch.
            pub batch_size: usize,
            /// Output folder in the work dir.
            pub out_dir: String,
            /// Channel reduction for the PNG and overlay (`sum`, `sum_abs`, `max_abs`).
            pub reduce: $crate::attributors::Reduce,
            $($(#[$fdoc])* pub $field: $fty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    type_: $ty.into(),
                    target: Default::default(),
                    score: Default::default(),
                    batch_size: 16,
                    out_dir: "maps".into(),
                    reduce: Default::default(),
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            pub fn common(&self) -> $crate::attributors::gradient::Common {
                $crate::attributors::gradient::Common {
                    target: self.target,
                    score: self.score,
                    batch_size: self.batch_size,
                    out_dir: self.out_dir.clone(),
                    reduce: self.reduce,
                }
            }
        }
    };
}
pub(crate) use grad_params;

/// [N] target scores of a batch's logits [N,K].
pub fn target_scores(logits: &Tensor, targets: &Tensor, score: Score) -> Tensor {
    let out = match score {
        Score::Logit => logits.shallow_clone(),
        Score::Probability => logits.softmax(-1, Kind::Float),
    };
    out.gather(1, &targets.view([-1, 1]), false).view([-1])
}

/// d score_t / d x for a batch x [N,C,H,W], and the scores [N]. Each sample's gradient depends on
/// its own score only (the model runs in eval mode).
pub fn input_gradients(model: &dyn Classifier, x: &Tensor, targets: &Tensor, score: Score) -> Result<(Tensor, Tensor)> {
    let xg = x.detach().set_requires_grad(true);
    let scores = target_scores(&model.forward(&xg), targets, score);
    let g = Tensor::run_backward(&[&scores.sum(Kind::Float)], &[&xg], false, false);
    // a channels-last model returns the gradient in its layout; ours are NCHW
    Ok((g.into_iter().next().expect("one input, one gradient").contiguous(), scores.detach()))
}

/// Draws, for each sample i, a tensor of `shape` from `draw` with the generator seeded by seeds[i]
/// (and `salt`), so that sample i's noise does not depend on its batch.
pub fn per_sample_noise(seeds: &[i64], salt: i64, draw: impl Fn() -> Tensor) -> Tensor {
    let v: Vec<Tensor> = seeds
        .iter()
        .map(|&s| {
            tch::manual_seed(s.wrapping_add(salt.wrapping_mul(0x9E37_79B9)));
            draw()
        })
        .collect();
    Tensor::stack(&v, 0)
}

/// Declares a method's struct over its params, `from_params`, its registry builder (every method's
/// `batch_size` ≥ 1, plus an optional check of its own params) and its registration under its own
/// name.
macro_rules! grad_method {
    ($(#[$doc:meta])* $name:ident($params:ident) $(, check = $check:expr)?) => {
        $(#[$doc])*
        pub struct $name {
            #[allow(dead_code)]
            p: $params,
            common: $crate::attributors::gradient::Common,
        }

        impl $name {
            pub fn from_params(p: $params) -> Self {
                $name { common: p.common(), p }
            }
        }

        impl $crate::attributors::gradient::WithCommon for $name {
            fn common(&self) -> &$crate::attributors::gradient::Common {
                &self.common
            }
        }

        impl $crate::registry::Build<$crate::registry::AttributorKind> for $name {
            type Params = $params;
            fn validate(p: &$params) -> $crate::config::Checked {
                $crate::config::validate::at_least("batch_size", p.batch_size as i64, 1)?;
                $crate::config::validate::inside("out_dir", &p.out_dir)?;
                $( let check: fn(&$params) -> $crate::config::Checked = $check;
                   check(p)?; )?
                Ok(())
            }
            fn build(p: $params, _cx: &$crate::registry::BuildCtx) -> $crate::error::Result<Box<dyn $crate::attributors::Attributor>> {
                Ok(Box::new($name::from_params(p)))
            }
        }
        $crate::register!($crate::registry::AttributorKind, $name);
    };
}
pub(crate) use grad_method;
