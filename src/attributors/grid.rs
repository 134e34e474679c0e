//! Pictures of many small images at once (the seed's `make_grid`): the figures of the trained and
//! self-explaining methods (VIBI's inspect batch, SENN's prototypes and DiSENN's traversals).
use tch::{Kind, Tensor};

/// Tiles [B,3,h,w] in rows of `columns`, one pixel of white between them (the last row filled
/// with white): [3,H,W].
pub fn tile(tiles: &Tensor, columns: i64) -> Tensor {
    let b = tiles.size()[0];
    let rows = ((b + columns - 1) / columns).max(1);
    let blank = Tensor::ones([rows * columns - b, 3, tiles.size()[2], tiles.size()[3]], (Kind::Float, tiles.device()));
    let all = Tensor::cat(&[tiles.to_kind(Kind::Float), blank], 0).pad([0, 1, 0, 1], "constant", 1.0);
    let (h, w) = (all.size()[2], all.size()[3]);
    all.view([rows, columns, 3, h, w]).permute([2, 0, 3, 1, 4]).reshape([3, rows * h, columns * w])
}

/// Tiles [B,C,h,w] (C = 1 or 3) as RGB, upscaled by nearest neighbour to at least `min_side`
/// pixels a side, so that 28×28 digits are visible in a figure.
pub fn enlarge(tiles: &Tensor, min_side: i64) -> Tensor {
    let side = tiles.size()[2];
    let scale = (min_side + side - 1) / side;
    tiles.to_kind(Kind::Float).expand([-1, 3, -1, -1], false).upsample_nearest2d(
        [side * scale, tiles.size()[3] * scale],
        None,
        None,
    )
}
