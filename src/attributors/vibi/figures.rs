//! The seed's figures (spec peers §1.7) of its "inspect batch", the held-out batch of 64 with the
//! most black-box errors: the images, the chunk distributions π and the top-k inputs, each tile
//! framed green where the black box is right and red where it is wrong, the frame's strength
//! √(1 − JS(p_bb, q_apx)) with the Jensen–Shannon divergence in bits (1: the approximator on the
//! top-k chunks gives the black box's distribution; 0: disjoint distributions).
use super::training::Trained;
use crate::attributors::khot::{chunks_to_pixels, hard_k_hot};
use crate::error::{Error, Result};
use crate::fitting::{Batch, Rows};
use crate::models::Classifier;
use tch::{Kind, Tensor};

/// Tiles per grid row.
const COLUMNS: i64 = 8;
/// Frame width in pixels (after upscaling).
const FRAME: i64 = 2;

/// The batch of `size` consecutive samples of `data` with the most black-box errors (the first
/// such batch on ties): inputs [B,C,H,W], labels [B], black-box probabilities [B,classes].
pub(super) fn inspect_batch(
    model: &dyn Classifier,
    part: &Rows,
    size: usize,
    device: tch::Device,
) -> Result<(Tensor, Tensor, Tensor)> {
    let mut best: Option<(i64, Batch, Tensor)> = None;
    for at in part.batches(size) {
        if best.is_some() && at.len() < size {
            break; // a short last batch is only taken when there is no other
        }
        let b = Batch::load(part, &at, device)?;
        let probs = tch::no_grad(|| model.forward(&b.x).softmax(-1, Kind::Float));
        let errors = probs.argmax(-1, false).ne_tensor(&b.y).sum(Kind::Int64).int64_value(&[]);
        if best.as_ref().is_none_or(|(e, _, _)| errors > *e) {
            best = Some((errors, b, probs));
        }
    }
    let (_, b, probs) = best.ok_or_else(|| Error::Data("VIBI's figures: the held-out split is empty".into()))?;
    Ok((b.x, b.y, probs))
}

/// JS(p ‖ q) in bits per row of p, q [B,classes]: ½KL(p ‖ m) + ½KL(q ‖ m), m = (p + q)/2.
pub fn js_bits(p: &Tensor, q: &Tensor) -> Tensor {
    let m: Tensor = (p + q) / 2.0;
    let kl =
        |a: &Tensor| (a * (a.clamp_min(1e-12).log2() - m.clamp_min(1e-12).log2())).sum_dim_intlist(-1, false, None);
    ((kl(p) + kl(q)) / 2.0).clamp(0.0, 1.0)
}

/// The three grids, RGB [3,H,W] in [0,1], named `vibi_test_batch`, `vibi_distribution` and
/// `vibi_topk`. `x`: normalised with `mean`/`std` (per channel of x).
pub(super) fn grids(
    t: &Trained,
    (x, labels, bb): (&Tensor, &Tensor, &Tensor),
    mean: &[f64],
    std: &[f64],
) -> Vec<(String, Tensor)> {
    tch::no_grad(|| {
        let c = x.size()[1] as usize;
        let stat =
            |v: &[f64]| Tensor::from_slice(&v[..c]).to_kind(Kind::Float).view([1, -1, 1, 1]).to_device(x.device());
        let images = (x * stat(std) + stat(mean)).clamp(0.0, 1.0).expand([-1, 3, -1, -1], false);
        let logits = t.logits(x);
        let n = &t.nets;
        let pi = chunks_to_pixels(&logits.softmax(-1, Kind::Float), n.channels, n.grid, n.size);
        let pi = &pi / pi.amax(&[1i64, 2, 3][..], true).clamp_min(1e-12);
        let top = chunks_to_pixels(&hard_k_hot(&logits, t.p.k), n.channels, n.grid, n.size);
        let js = js_bits(bb, &t.approximate_top_k(x));
        let strength = (js.ones_like() - js).sqrt();
        let right = bb.argmax(-1, false).eq_tensor(labels);
        let frame = |tiles: Tensor| crate::attributors::grid::tile(&framed(&tiles, &right, &strength), COLUMNS);
        vec![
            ("vibi_test_batch".into(), frame(images.shallow_clone())),
            ("vibi_distribution".into(), frame(pi.expand([-1, 3, -1, -1], false))),
            ("vibi_topk".into(), frame(&images * top.expand([-1, 3, -1, -1], false))),
        ]
    })
}

/// Tiles [B,3,h,w] upscaled to at least 56 pixels a side, each in a frame of green (right) or
/// red (wrong) blended with white by `strength` [B].
fn framed(tiles: &Tensor, right: &Tensor, strength: &Tensor) -> Tensor {
    let tiles = crate::attributors::grid::enlarge(tiles, 56);
    let dev = tiles.device();
    let green = Tensor::from_slice(&[0.1f32, 0.75, 0.2]).to_device(dev);
    let red = Tensor::from_slice(&[0.9f32, 0.1, 0.1]).to_device(dev);
    let colour = green.unsqueeze(0).where_self(&right.unsqueeze(-1), &red.unsqueeze(0)); // [B,3]
    let s = strength.unsqueeze(-1);
    let colour = (&colour * &s + (s.ones_like() - &s)).view([-1, 3, 1, 1]);
    let padded = tiles.constant_pad_nd([FRAME, FRAME, FRAME, FRAME]);
    let inside = tiles.ones_like().constant_pad_nd([FRAME, FRAME, FRAME, FRAME]);
    &padded * &inside + colour * (inside.ones_like() - &inside)
}
