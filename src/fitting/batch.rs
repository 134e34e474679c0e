//! What the fitting loop trains on: rows of a split (all of it, or a part such as VIBI's 90/10
//! split), and one batch of them with each sample's row, so per-sample tables (VIBI's cached
//! black-box probabilities) are looked up by row.
use crate::data::Dataset;
use crate::error::{Error, Result};
use tch::Tensor;

/// The rows `rows` of `data`, in that order.
pub struct Rows<'a> {
    pub data: &'a dyn Dataset,
    pub rows: Vec<usize>,
}

impl<'a> Rows<'a> {
    /// Every sample of `data`.
    pub fn all(data: &'a dyn Dataset) -> Self {
        Rows { data, rows: (0..data.len()).collect() }
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// The positions 0..len in consecutive batches of `size` (the last may be shorter), for
    /// [`Batch::load`].
    pub fn batches(&self, size: usize) -> impl Iterator<Item = Vec<usize>> {
        let (n, size) = (self.rows.len(), size.max(1));
        (0..n).step_by(size).map(move |s| (s..(s + size).min(n)).collect())
    }
}

/// One batch on the device: inputs [B,…], labels [B], and the samples' rows in the split [B].
pub struct Batch {
    pub x: Tensor,
    pub y: Tensor,
    pub rows: Tensor,
}

impl Batch {
    /// The samples at positions `at` of `part`.
    pub fn load(part: &Rows, at: &[usize], device: tch::Device) -> Result<Batch> {
        let rows: Vec<usize> = at.iter().map(|&i| part.rows[i]).collect();
        let samples = rows.iter().map(|&i| part.data.get(i)).collect::<Result<Vec<_>>>()?;
        let first = samples[0].input.size();
        if let Some(s) = samples.iter().find(|s| s.input.size() != first) {
            return Err(Error::Data(format!(
                "`{}` has shape {:?}, `{}` {first:?}: training batches need inputs of one shape",
                s.name,
                s.input.size(),
                samples[0].name
            )));
        }
        let x = Tensor::stack(&samples.iter().map(|s| s.input.shallow_clone()).collect::<Vec<_>>(), 0);
        let y = Tensor::from_slice(&samples.iter().map(|s| s.target).collect::<Vec<_>>());
        let rows = Tensor::from_slice(&rows.iter().map(|&r| r as i64).collect::<Vec<_>>());
        Ok(Batch { x: x.to_device(device), y: y.to_device(device), rows: rows.to_device(device) })
    }
}
