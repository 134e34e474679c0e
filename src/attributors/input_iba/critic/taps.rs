//! A convolution as batched matrix products over only the kernel taps that land inside the input.
//!
//! On the critic's small maps most of a padded window is padding: a 4×4 kernel at stride 2 on a
//! 4×4 map sees 9 of its 16 taps at every output position, a 3×3 on 2×2 sees 4 of 9. Output
//! positions whose valid taps are the same rows [r₀, r₁) and columns [c₀, c₁) of the kernel form a
//! class; for each class and each kernel row r, y += X_r · W[r, c₀..c₁], where X_r gathers the
//! class's input pixels (rows [positions], columns [taps × C_in]) and W[r, c₀..c₁] is a contiguous
//! [taps·C_in, C_out] block of a weight laid out [k, k, C_in, C_out]. The products skipped are
//! products with zero, so the sums differ from a padded convolution's only by rounding.
//!
//! Feature maps are [N, M, P, C]: N independent copies (samples), M maps, P positions in the
//! layer's own order (`order`: class by class), C channels last.
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use tch::{Device, Kind, Tensor};

/// The kernel taps [a, b) of one axis that land inside an input of length `n` for output index
/// `o`, and the input index of tap a.
fn valid_taps(n: i64, k: i64, stride: i64, pad: i64, o: i64) -> (Range<i64>, i64) {
    let start = stride * o - pad;
    let a = (-start).max(0);
    let b = k.min(n - start).max(a);
    (a..b, start + a)
}

/// Output positions sharing their valid kernel rows and columns.
struct Class {
    rows: Range<i64>,
    cols: Range<i64>,
    positions: i64,
    /// The input positions gathered, ordered (output position, kernel row, kernel column).
    index: Tensor,
}

pub struct TapConv {
    pub cin: i64,
    pub cout: i64,
    classes: Vec<Class>,
    inputs: i64,
    /// (row, column) of each output position, in this layer's order.
    pub order: Vec<(i64, i64)>,
    /// The output's height and width.
    pub out: (i64, i64),
}

impl TapConv {
    /// A k×k convolution at `stride`, zero padding `pad`, on an h×w input whose positions are
    /// `input` ((row, column) of each, in the previous layer's order).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        pad: i64,
        (h, w): (i64, i64),
        input: &[(i64, i64)],
        device: Device,
    ) -> Self {
        let at: HashMap<(i64, i64), i64> = input.iter().enumerate().map(|(i, &rc)| (rc, i as i64)).collect();
        let out = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1);
        // (kernel rows and columns [r₀, r₁, c₀, c₁)) → [(output row, column, first input row, column)]
        let mut groups: BTreeMap<[i64; 4], Vec<[i64; 4]>> = BTreeMap::new();
        for i in 0..out.0 {
            for j in 0..out.1 {
                let (rows, r0) = valid_taps(h, k, stride, pad, i);
                let (cols, c0) = valid_taps(w, k, stride, pad, j);
                groups.entry([rows.start, rows.end, cols.start, cols.end]).or_default().push([i, j, r0, c0]);
            }
        }
        let mut order = Vec::new();
        let classes = groups
            .into_iter()
            .map(|([ra, rb, ca, cb], members)| {
                let index: Vec<i64> = members
                    .iter()
                    .flat_map(|&[_, _, r0, c0]| {
                        let at = &at;
                        (0..rb - ra).flat_map(move |r| (0..cb - ca).map(move |c| at[&(r0 + r, c0 + c)]))
                    })
                    .collect();
                order.extend(members.iter().map(|&[i, j, _, _]| (i, j)));
                Class {
                    rows: ra..rb,
                    cols: ca..cb,
                    positions: members.len() as i64,
                    index: Tensor::from_slice(&index).to_device(device),
                }
            })
            .collect();
        TapConv { cin, cout, classes, inputs: input.len() as i64, order, out }
    }

    /// Kernel row r, columns `cols`, of a weight [N, k, k, C_in, C_out]: a [N, taps·C_in, C_out] view.
    fn block(&self, weight: &Tensor, r: i64, cols: &Range<i64>) -> Tensor {
        let n = weight.size()[0];
        weight.select(1, r).narrow(1, cols.start, cols.end - cols.start).view([n, -1, self.cout])
    }

    /// x [N, M, P_in, C_in], weight [N, k, k, C_in, C_out], bias [N, 1, C_out] → the output
    /// [N, M, P, C_out] and each class's gathered input (for the backward pass).
    pub fn forward(&self, x: &Tensor, weight: &Tensor, bias: &Tensor) -> (Tensor, Vec<Tensor>) {
        let (n, m) = (x.size()[0], x.size()[1]);
        let mut outs = Vec::with_capacity(self.classes.len());
        let mut gathered = Vec::with_capacity(self.classes.len());
        for c in &self.classes {
            let wide = (c.cols.end - c.cols.start) * self.cin;
            let xc = x.index_select(2, &c.index).view([n, m * c.positions, -1]);
            let mut y = bias.expand([n, m * c.positions, self.cout], false).contiguous();
            for (i, r) in c.rows.clone().enumerate() {
                let _ = y.baddbmm_(&xc.narrow(2, i as i64 * wide, wide), &self.block(weight, r, &c.cols));
            }
            outs.push(y.view([n, m, c.positions, self.cout]));
            gathered.push(xc);
        }
        (Tensor::cat(&outs, 2), gathered)
    }

    /// dy [N, M, P, C_out] → dx [N, M, P_in, C_in] when `want_dx`; adds the weight's and bias's
    /// gradients into `grads` ([N, k, k, C_in, C_out], [N, 1, C_out]) when given.
    pub fn backward(
        &self,
        dy: &Tensor,
        gathered: &[Tensor],
        weight: &Tensor,
        grads: Option<(&Tensor, &Tensor)>,
        want_dx: bool,
    ) -> Option<Tensor> {
        let (n, m) = (dy.size()[0], dy.size()[1]);
        if let Some((_, gb)) = grads {
            let mut acc = gb.shallow_clone();
            acc += dy.sum_dim_intlist(&[1i64, 2][..], false, Kind::Float).unsqueeze(1);
        }
        let dx = want_dx.then(|| Tensor::zeros([n, m, self.inputs, self.cin], (Kind::Float, dy.device())));
        let mut offset = 0;
        for (c, xc) in self.classes.iter().zip(gathered) {
            let wide = (c.cols.end - c.cols.start) * self.cin;
            let d = dy.narrow(2, offset, c.positions).reshape([n, m * c.positions, self.cout]);
            offset += c.positions;
            let dxc = want_dx.then(|| xc.empty_like());
            for (i, r) in c.rows.clone().enumerate() {
                let xr = xc.narrow(2, i as i64 * wide, wide);
                if let Some((gw, _)) = grads {
                    let _ = self.block(gw, r, &c.cols).baddbmm_(&xr.transpose(1, 2), &d);
                }
                if let Some(dxc) = &dxc {
                    dxc.narrow(2, i as i64 * wide, wide).copy_(&d.bmm(&self.block(weight, r, &c.cols).transpose(1, 2)));
                }
            }
            if let (Some(dx), Some(dxc)) = (&dx, dxc) {
                let _ = dx.shallow_clone().index_add_(2, &c.index, &dxc.view([n, m, -1, self.cin]));
            }
        }
        dx
    }
}
