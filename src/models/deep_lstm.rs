//! The original's `DeepLSTM` for IMDb sentiment (spec §4.1): embedding (padding index 1) →
//! dropout → four single-layer LSTMs `rnn_1` … `rnn_4` → the last valid step of `rnn_4` → dropout →
//! linear to one logit. Parameter names are the original `state_dict`'s, so a checkpoint converted
//! to `.safetensors` loads as it is.
//!
//! Variable lengths: the original packs the batch and reads `h_n`. Here the padded batch runs
//! through the LSTMs and the output at step len−1 is read; LSTMs are causal, so valid steps never
//! see the padding and this equals `h_n` of the packed run (checked against PyTorch in
//! `tests/deep_lstm.rs`). Text is sequence-first, [T, B], as in the original.
use super::{weights, Classifier, TokenEmbedding};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, ModelKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::nn::{self, Module, RNN};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeepLstmParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// 25,000 words + `<unk>` + `<pad>`.
    pub vocab_size: i64,
    pub embedding_dim: i64,
    pub hidden_dim: i64,
    pub padding_idx: i64,
    pub dropout: f64,
    /// The original keeps the LSTM in train mode through every attribution stage ("to allow
    /// backprop", spec §10 item 8), so its dropout is active in estimation, feature IBA, GAN and
    /// input IBA, and in any metric run with this model. True restores that: dropout acts in
    /// every forward. False (default): dropout only while the classifier is trained.
    /// Not reproduced even then: feature IBA computes the bottleneck layer's output R once per
    /// sample (one dropout draw up to the layer), where the original reruns the model at every
    /// step, with fresh dropout for each noisy copy and step.
    pub original_train_mode: bool,
    /// `.safetensors` with the original's keys; empty = random init.
    pub weights: String,
}

impl Default for DeepLstmParams {
    fn default() -> Self {
        DeepLstmParams {
            type_: "DeepLstm".into(),
            vocab_size: 25002,
            embedding_dim: 100,
            hidden_dim: 256,
            padding_idx: 1,
            dropout: 0.5,
            original_train_mode: false,
            weights: String::new(),
        }
    }
}

pub struct DeepLstm {
    vs: nn::VarStore,
    embedding: nn::Embedding,
    rnns: Vec<nn::LSTM>,
    fc: nn::Linear,
    dropout: f64,
    original_train_mode: bool,
}

/// The layers whose output the pipeline can cut at.
pub const LAYERS: [&str; 5] = ["embedding", "rnn_1", "rnn_2", "rnn_3", "rnn_4"];

impl DeepLstm {
    pub fn new(p: &DeepLstmParams, device: tch::Device) -> Result<Self> {
        let mut vs = nn::VarStore::new(device);
        let root = vs.root();
        let embedding = nn::embedding(
            &root / "embedding",
            p.vocab_size,
            p.embedding_dim,
            nn::EmbeddingConfig { padding_idx: p.padding_idx, ..Default::default() },
        );
        let cfg = nn::RNNConfig { batch_first: false, ..Default::default() };
        let rnns = (1..=4)
            .map(|k| {
                nn::lstm(
                    &root / format!("rnn_{k}"),
                    if k == 1 { p.embedding_dim } else { p.hidden_dim },
                    p.hidden_dim,
                    cfg,
                )
            })
            .collect();
        let fc = nn::linear(&root / "fc", p.hidden_dim, 1, Default::default());
        if !p.weights.is_empty() {
            weights::load(&mut vs, &PathBuf::from(&p.weights))?;
        }
        Ok(DeepLstm { vs, embedding, rnns, fc, dropout: p.dropout, original_train_mode: p.original_train_mode })
    }

    /// Tokens [T,B] (int64) → word embeddings [T,B,E] (before the model's dropout, where the
    /// original hooks the input bottleneck).
    pub fn embed_seq(&self, tokens: &Tensor) -> Tensor {
        self.embedding.forward(tokens)
    }

    /// Embeddings [T,B,E] → the output sequence of `rnn_k` [T,B,H] (k = 1…4).
    pub fn run_to(&self, emb: &Tensor, k: usize, train: bool) -> Tensor {
        self.run_range(emb, 0, k, train)
    }

    /// Whether dropout acts: in training, and always under `original_train_mode`.
    fn dropout_on(&self, train: bool) -> bool {
        train || self.original_train_mode
    }

    /// Runs `rnn_{from+1}` … `rnn_to` on a sequence-first [T,B,·] input; from the embeddings
    /// (`from` = 0) the model's embedding dropout comes first.
    fn run_range(&self, x: &Tensor, from: usize, to: usize, train: bool) -> Tensor {
        let b = x.size()[1];
        let mut h =
            if from == 0 && to > 0 { x.dropout(self.dropout, self.dropout_on(train)) } else { x.shallow_clone() };
        for rnn in &self.rnns[from..to] {
            h = rnn.seq_init(&h, &rnn.zero_state(b)).0;
        }
        h
    }

    /// `rnn_k` → k (0 for `embedding`).
    fn layer_k(layer: &str) -> Result<usize> {
        LAYERS
            .iter()
            .position(|l| *l == layer)
            .ok_or_else(|| Error::Model(format!("no layer `{layer}` to cut at; available: {}", LAYERS.join(", "))))
    }

    /// The last step of rnn_4's output [T,N,H] → two-class logits [N,2] = [0, l]: their softmax
    /// cross-entropy is the original's BCE on the single logit l, so the image code's losses apply.
    fn two_class(&self, out: &Tensor, train: bool) -> Tensor {
        let l = self.fc.forward(&out.select(0, out.size()[0] - 1).dropout(self.dropout, self.dropout_on(train)));
        Tensor::cat(&[l.zeros_like(), l], 1)
    }

    /// The output sequence of `rnn_4` [T,B,H] → logits [B,1]: the last valid step of each sentence.
    pub fn classify(&self, out: &Tensor, lengths: &Tensor, train: bool) -> Tensor {
        let (b, h) = (out.size()[1], out.size()[2]);
        let last = (lengths.to_device(out.device()) - 1).clamp_min(0).view([1, b, 1]).expand([1, b, h], false);
        self.fc.forward(&out.gather(0, &last, false).squeeze_dim(0).dropout(self.dropout, self.dropout_on(train)))
    }

    /// Tokens [T,B] and lengths [B] → logits [B,1] (eval mode: no dropout unless `original_train_mode`).
    pub fn logits(&self, tokens: &Tensor, lengths: &Tensor) -> Result<Tensor> {
        let t = tokens.size()[0];
        if lengths.max().int64_value(&[]) > t || lengths.min().int64_value(&[]) < 1 {
            return Err(Error::Model(format!("sentence lengths must lie in 1..={t} (the padded length)")));
        }
        let out = self.run_to(&self.embed_seq(tokens), 4, false);
        Ok(self.classify(&out, lengths, false).to_kind(Kind::Float))
    }
}

/// As a [`Classifier`], the model reads batch-first word embeddings [N,T,E] of full-length
/// sentences (attribution runs one unpadded sentence at a time, as the original), and its layers
/// are `embedding` (the input itself) and `rnn_1` … `rnn_4`, whose outputs are [N,T,H].
impl Classifier for DeepLstm {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let out = self.run_to(&x.transpose(0, 1), 4, train);
        self.two_class(&out, train)
    }
    fn layer_names(&self) -> Vec<String> {
        LAYERS.iter().map(|s| s.to_string()).collect()
    }
    fn features(&self, x: &Tensor, layer: &str) -> Result<Tensor> {
        let k = Self::layer_k(layer)?;
        Ok(self.run_range(&x.transpose(0, 1), 0, k, false).transpose(0, 1))
    }
    fn head(&self, z: &Tensor, layer: &str) -> Result<Tensor> {
        let k = Self::layer_k(layer)?;
        Ok(self.two_class(&self.run_range(&z.transpose(0, 1), k, 4, false), false))
    }
    fn num_classes(&self) -> i64 {
        2
    }
    fn modality(&self) -> Modality {
        Modality::Tokens
    }
    fn var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        Some(&mut self.vs)
    }
    fn token_embedding(&self) -> Option<&dyn TokenEmbedding> {
        Some(self)
    }
}

impl TokenEmbedding for DeepLstm {
    fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        if ids.kind() != Kind::Int64 {
            return Err(Error::Model(format!("DeepLstm reads token ids (int64), got {:?}", ids.kind())));
        }
        Ok(self.embedding.forward(ids))
    }
}

impl Build<ModelKind> for DeepLstm {
    type Params = DeepLstmParams;
    fn validate(p: &DeepLstmParams) -> crate::config::Checked {
        use crate::config::validate::{at_least, within};
        within("dropout", p.dropout, 0.0, 1.0)?;
        at_least("vocab_size", p.vocab_size, 1)?;
        at_least("embedding_dim", p.embedding_dim, 1)?;
        at_least("hidden_dim", p.hidden_dim, 1)
    }
    fn build(p: DeepLstmParams, cx: &BuildCtx) -> Result<Box<dyn Classifier>> {
        let hint = "convert the original checkpoint (README: \"Text\") or train one";
        let p = DeepLstmParams { weights: weights::to_load(&p.weights, cx.load_weights, hint)?, ..p };
        Ok(Box::new(DeepLstm::new(&p, cx.device)?))
    }
}
crate::register!(ModelKind, DeepLstm);
