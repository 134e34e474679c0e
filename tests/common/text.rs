//! The text tests' shared classifier: a small DeepLSTM trained once per test binary on generated
//! reviews (≥ 90% test accuracy), kept as weights under cargo's test scratch folder.
use ibex::models::{Classifier, DeepLstm, DeepLstmParams};
use ibex::text::reviews::{ensure, ReviewsConfig, NEGATIVE, POSITIVE};
use ibex::text::training::{train, TextTrainConfig};
use ibex::text::{AclImdb, Review, Vocab};
use std::path::PathBuf;
use std::sync::OnceLock;
use tch::Kind;

/// The corpus settings and the trained weights; the vocabulary is `root/vocab.txt`.
struct Trained {
    corpus: ReviewsConfig,
    weights: PathBuf,
}

pub const EMBEDDING_DIM: i64 = 16;
pub const HIDDEN_DIM: i64 = 32;
pub const DROPOUT: f64 = 0.2;

fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("trained_lstm_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let corpus =
            ReviewsConfig { root: dir.join("reviews"), train_per_class: 300, test_per_class: 50, ..Default::default() };
        ensure(&corpus).unwrap();
        let read = |split| {
            let data = AclImdb::open(&corpus.root, split, None).unwrap();
            (0..data.len()).map(|i| data.get(i).unwrap()).collect::<Vec<_>>()
        };
        let tr = read("train");
        let vocab = Vocab::build(tr.iter().map(|r| r.tokens.as_slice()), 25000);
        vocab.save(&corpus.root.join("vocab.txt")).unwrap();
        let ids = |rs: &[Review]| rs.iter().map(|r| (r.ids(&vocab), r.target)).collect::<Vec<_>>();
        tch::manual_seed(0);
        let mut m = DeepLstm::new(&params(vocab.len() as i64, false), tch::Device::Cpu).unwrap();
        let acc = train(
            &mut m,
            &ids(&tr),
            &ids(&read("test")),
            &TextTrainConfig { epochs: 15, lr: 5e-3, ..Default::default() },
            1,
            tch::Device::Cpu,
        )
        .unwrap();
        assert!(*acc.last().unwrap() >= 0.9, "{acc:?}");
        let weights = dir.join("lstm.safetensors");
        ibex::training::save_weights(&mut m, &weights).unwrap();
        Trained { corpus, weights }
    })
}

fn params(vocab_size: i64, original_train_mode: bool) -> DeepLstmParams {
    DeepLstmParams {
        vocab_size,
        embedding_dim: EMBEDDING_DIM,
        hidden_dim: HIDDEN_DIM,
        dropout: DROPOUT,
        original_train_mode,
        ..Default::default()
    }
}

/// The trained LSTM (frozen), its vocabulary and the corpus settings. Callers hold `rng_lock`.
pub fn trained_lstm() -> (DeepLstm, Vocab, ReviewsConfig) {
    trained_lstm_with(false)
}

/// As [`trained_lstm`], with the original's train-mode dropout on or off.
pub fn trained_lstm_with(original_train_mode: bool) -> (DeepLstm, Vocab, ReviewsConfig) {
    let t = trained();
    let vocab = Vocab::load(&t.corpus.root.join("vocab.txt")).unwrap();
    let p =
        DeepLstmParams { weights: t.weights.display().to_string(), ..params(vocab.len() as i64, original_train_mode) };
    let mut m = DeepLstm::new(&p, tch::Device::Cpu).unwrap();
    m.freeze();
    (m, vocab, t.corpus.clone())
}

/// Where the trained weights lie, for configs that name them.
pub fn trained_weights() -> PathBuf {
    trained().weights.clone()
}

/// The positive reviews of a split as the registered dataset reads them.
pub fn pos_reviews(c: &ReviewsConfig, split: &str) -> Box<dyn ibex::data::Dataset> {
    use ibex::registry::{Build, BuildCtx};
    use ibex::text::{Imdb, ImdbParams};
    Imdb::build(
        ImdbParams {
            root: c.root.clone(),
            split: split.into(),
            select_cls: "pos".into(),
            vocab: c.root.join("vocab.txt"),
            ..Default::default()
        },
        &BuildCtx { device: tch::Device::Cpu, load_weights: false },
    )
    .unwrap()
}

/// Mean recall@k over the first `n` test reviews — of the k highest-scoring tokens (k = the review's
/// sentiment words), the share that are sentiment words — and what a random ranking gets (k/T).
pub fn recall_at_k(
    test: &dyn ibex::data::Dataset,
    vocab: &Vocab,
    n: usize,
    mut scores_of: impl FnMut(&ibex::data::Sample) -> Vec<f64>,
) -> (f64, f64) {
    let (mut recall, mut chance) = (0.0, 0.0);
    for i in 0..n {
        let s = test.get(i).unwrap();
        let scores = scores_of(&s);
        let words: Vec<&str> = Vec::<i64>::try_from(&s.input).unwrap().iter().map(|&t| vocab.token(t)).collect();
        let is_sent = |w: &str| POSITIVE.contains(&w) || NEGATIVE.contains(&w);
        let k = words.iter().filter(|w| is_sent(w)).count();
        let mut order: Vec<usize> = (0..words.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        recall += order[..k].iter().filter(|&&j| is_sent(words[j])).count() as f64 / k as f64 / n as f64;
        chance += k as f64 / words.len() as f64 / n as f64;
    }
    (recall, chance)
}

/// One map as a list of token scores.
pub fn scores(map: &tch::Tensor) -> Vec<f64> {
    Vec::try_from(map.view(-1).to_kind(Kind::Double)).unwrap()
}
