//! The original's text estimator, reproduced on request (`original_nlp_estimator`; InputIBA's
//! `NLPWelfordEstimator`, spec §4.3 and §10 item 7). Each estimation batch of sentences is padded
//! to its longest sentence with zero rows, and every row (step × sentence, padding included) is one
//! Welford update — but the count moves by the number of *sentences*, and only after the batch. So
//! inside a batch every update divides by (sentences before it + 1), the std divides the token
//! sums by (sentences − 1), and a unit's activity ratio is its non-zero token count per sentence.
//! The fixed estimator (the default) is [`Welford`] over the valid tokens.
use super::Welford;
use crate::error::{Error, Result};
use tch::{Kind, Tensor};

#[derive(Default)]
pub struct OriginalNlpWelford {
    m: Vec<f64>,
    s: Vec<f64>,
    nonzero: Vec<i64>,
    sentences: i64,
}

impl OriginalNlpWelford {
    pub fn new() -> Self {
        Self::default()
    }

    /// One estimation batch: each sentence's layer output [T_i, H]. The rows are visited in the
    /// original's order, step-major over the padded [T, B, H].
    pub fn update(&mut self, sentences: &[Tensor]) -> Result<()> {
        let rows: Vec<Vec<Vec<f64>>> = sentences
            .iter()
            .map(|t| Vec::<Vec<f64>>::try_from(t.to_kind(Kind::Double)))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Data(format!("estimator: {e}")))?;
        let h = rows.iter().flat_map(|r| r.first()).map(|r| r.len()).next().unwrap_or(0);
        if self.m.is_empty() {
            (self.m, self.s, self.nonzero) = (vec![0.0; h], vec![0.0; h], vec![0; h]);
        }
        let zeros = vec![0.0; self.m.len()];
        let divisor = (self.sentences + 1) as f64;
        let longest = rows.iter().map(Vec::len).max().unwrap_or(0);
        for t in 0..longest {
            for sentence in &rows {
                let x = sentence.get(t).unwrap_or(&zeros);
                if x.len() != self.m.len() {
                    return Err(Error::Data(format!(
                        "estimator: a layer output of width {} after width {}",
                        x.len(),
                        self.m.len()
                    )));
                }
                for (j, &xj) in x.iter().enumerate() {
                    self.nonzero[j] += (xj != 0.0) as i64;
                    let old = self.m[j];
                    self.m[j] += (xj - old) / divisor;
                    self.s[j] += (xj - self.m[j]) * (xj - old);
                }
            }
        }
        self.sentences += sentences.len() as i64;
        Ok(())
    }

    /// As a [`Welford`] whose count is the sentences, so its std and activity are the original's.
    pub fn into_welford(self, device: tch::Device) -> Welford {
        let m = Tensor::from_slice(&self.m).to_device(device);
        let s = Tensor::from_slice(&self.s).to_device(device);
        let nonzero = Tensor::from_slice(&self.nonzero).to_device(device);
        Welford::from_parts(m, s, nonzero, self.sentences)
    }
}
