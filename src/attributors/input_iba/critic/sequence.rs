use super::{leaky, Scorer};
use crate::attributors::Streams;
use tch::nn::{self, Module, RNN};
use tch::{Device, Tensor};

/// The original's `NLPDiscriminator` (spec §4.4) for sequence features [T,H]: an LSTM(H → H) over
/// the sequence, its last hidden state → Linear(H → 128) → LeakyReLU(0.2) → Linear(128 → 1).
/// PyTorch's default init (U(±1/√H) for the LSTM, U(±1/√fan_in) for the linears). One sample at a
/// time (N = 1): sentences of different lengths do not share a batch.
pub struct SequenceCritic {
    vs: nn::VarStore,
    lstm: nn::LSTM,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl SequenceCritic {
    pub fn new(h: i64, device: Device, streams: &mut Streams) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let lstm = nn::lstm(&root / "lstm", h, h, nn::RNNConfig { batch_first: false, ..Default::default() });
        let fc1 = nn::linear(&root / "fc1", h, 128, Default::default());
        let fc2 = nn::linear(&root / "fc2", 128, 1, Default::default());
        streams.seeded(0, || {
            tch::no_grad(|| {
                let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
                vars.sort_by(|a, b| a.0.cmp(&b.0));
                for (name, mut v) in vars {
                    // the LSTM (PyTorch: 1/√hidden) and fc1 read h units, fc2 reads fc1's 128
                    let fan_in = if name.starts_with("fc2") { 128 } else { h };
                    let b = 1.0 / (fan_in as f64).sqrt();
                    let _ = v.uniform_(-b, b);
                }
            })
        });
        SequenceCritic { vs, lstm, fc1, fc2 }
    }
}

impl Scorer for SequenceCritic {
    fn score(&self, x: &Tensor) -> Tensor {
        // [1,B,T,H] → sequence-first [T,B,H]
        let seq = x.squeeze_dim(0).transpose(0, 1);
        let out = self.lstm.seq_init(&seq, &self.lstm.zero_state(seq.size()[1])).0;
        let last = out.select(0, seq.size()[0] - 1);
        self.fc2.forward(&leaky(&self.fc1.forward(&last))).view([1, -1])
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.vs.trainable_variables()
    }
}
