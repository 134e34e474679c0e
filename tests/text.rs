//! The text path's pieces against the original: torchtext's `basic_english` rules, the legacy
//! vocabulary's order, and the DeepLSTM against PyTorch's packed run (fixture).
mod common;
use ibex::models::{DeepLstm, DeepLstmParams};
use ibex::text::{basic_english, Vocab};
use tch::{Kind, Tensor};

fn toks(s: &str) -> Vec<String> {
    basic_english(s)
}

#[test]
fn tokenizer_follows_basic_english() {
    // <br />, quotes, apostrophes, punctuation runs; torchtext gives exactly these tokens
    assert_eq!(
        toks("Great movie!<br /><br />I \"loved\" it..."),
        ["great", "movie", "!", "i", "loved", "it", ".", ".", "."]
    );
    assert_eq!(
        toks("Don't (really) know; maybe: yes?!"),
        ["don", "'", "t", "(", "really", ")", "know", "maybe", "yes", "?", "!"]
    );
    assert_eq!(toks("  A,B  c.D  "), ["a", ",", "b", "c", ".", "d"]);
    assert_eq!(toks("<BR />x"), ["x"]);
    assert!(toks("").is_empty());
}

#[test]
fn vocabulary_order_specials_and_file_round_trip() {
    let docs = [toks("b a a c c d"), toks("c d d e <unk>")];
    let v = Vocab::build(docs.iter().map(|d| d.as_slice()), 3);
    // counts: c 3, d 3, a 2, b 1, e 1 → ties alphabetical; max_size 3 besides the specials
    let order: Vec<&str> = (0..v.len() as i64).map(|i| v.token(i)).collect();
    assert_eq!(order, ["<unk>", "<pad>", "c", "d", "a"]);
    assert_eq!((v.index("<unk>"), v.index("<pad>"), v.index("b"), v.index("zzz")), (0, 1, 0, 0));
    assert_eq!(v.encode(&toks("a c x")), [4, 2, 0]);
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("vocab.txt");
    v.save(&f).unwrap();
    assert_eq!(Vocab::load(&f).unwrap(), v);
    std::fs::write(&f, "<unk>\n<pad>\nx\nx\n").unwrap();
    let e = Vocab::load(&f).unwrap_err().to_string();
    assert!(e.contains("twice") && e.contains("lines 3 and 4"), "{e}");
    std::fs::write(&f, "x\n").unwrap();
    assert!(Vocab::load(&f).unwrap_err().to_string().contains("<unk>"));
}

fn tiny_lstm() -> DeepLstm {
    let p = DeepLstmParams {
        vocab_size: 50,
        embedding_dim: 6,
        hidden_dim: 5,
        weights: common::fixture("tiny_lstm.safetensors").display().to_string(),
        ..Default::default()
    };
    DeepLstm::new(&p, tch::Device::Cpu).unwrap()
}

#[test]
fn deep_lstm_matches_pytorch_with_and_without_padding() {
    let m = tiny_lstm();
    let text = Tensor::read_npy(common::fixture("tiny_lstm_text.npy")).unwrap();
    let lengths = Tensor::read_npy(common::fixture("tiny_lstm_lengths.npy")).unwrap();
    let want = Tensor::read_npy(common::fixture("tiny_lstm_logits.npy")).unwrap();
    let got = tch::no_grad(|| m.logits(&text, &lengths)).unwrap();
    assert_eq!(got.size(), vec![3, 1]);
    assert!(common::max_abs_diff(&got, &want) < 1e-5, "{got} vs {want}");
    // each sentence alone, unpadded, gives its logit in the padded batch: padding changes nothing
    for b in 0..3 {
        let len = lengths.int64_value(&[b]);
        let alone =
            tch::no_grad(|| m.logits(&text.narrow(0, 0, len).narrow(1, b, 1), &Tensor::from_slice(&[len]))).unwrap();
        assert!(common::max_abs_diff(&alone, &want.narrow(0, b, 1)) < 1e-5);
    }
    // and different padding tokens change nothing either
    let repadded = text.masked_fill(
        &Tensor::arange(7, (Kind::Int64, tch::Device::Cpu)).view([7, 1]).ge_tensor(&lengths.view([1, 3])),
        0,
    );
    assert!(common::max_abs_diff(&tch::no_grad(|| m.logits(&repadded, &lengths)).unwrap(), &want) < 1e-5);
    assert!(m.logits(&text, &Tensor::from_slice(&[8i64, 4, 2])).is_err(), "a length beyond T is an error");
}

#[test]
fn generated_reviews_read_back_in_the_aclimdb_layout() {
    use ibex::text::reviews::{ensure, ReviewsConfig, NEGATIVE, POSITIVE};
    use ibex::text::AclImdb;
    let d = tempfile::tempdir().unwrap();
    let c = ReviewsConfig { root: d.path().join("r"), train_per_class: 6, test_per_class: 2, ..Default::default() };
    assert!(ensure(&c).unwrap());
    assert!(!ensure(&c).unwrap(), "a second call finds the corpus");
    let train = AclImdb::open(&c.root, "train", None).unwrap();
    assert_eq!(train.len(), 12);
    let pos_only = AclImdb::open(&c.root, "train", Some("pos")).unwrap();
    assert_eq!(pos_only.len(), 6);
    for i in 0..train.len() {
        let r = train.get(i).unwrap();
        let (own, other) = if r.target == 1 { (&POSITIVE, &NEGATIVE) } else { (&NEGATIVE, &POSITIVE) };
        let count = |ws: &[&str]| r.tokens.iter().filter(|t| ws.contains(&t.as_str())).count();
        assert!(count(own) >= 1 && count(own) > count(other), "{} {:?}", r.name, r.tokens);
        let rating: u32 = r.name.split('_').nth(1).unwrap().parse().unwrap();
        assert_eq!(rating >= 7, r.target == 1);
    }
    // deterministic by seed
    let c2 = ReviewsConfig { root: d.path().join("r2"), ..c.clone() };
    ensure(&c2).unwrap();
    let again = AclImdb::open(&c2.root, "train", None).unwrap();
    assert_eq!(again.get(3).unwrap().text, train.get(3).unwrap().text);
    // a folder without the layout says what is expected
    let e = AclImdb::open(d.path(), "train", None).err().unwrap().to_string();
    assert!(e.contains("aclImdb layout"), "{e}");
    // without a vocabulary file, the test split's dataset builds the original's from the train
    // split (pos + neg) and writes it
    use ibex::registry::{Build, BuildCtx};
    let vocab_file = c.root.join("vocab.txt");
    let p = ibex::text::ImdbParams {
        root: c.root.clone(),
        split: "test".into(),
        vocab: vocab_file.clone(),
        ..Default::default()
    };
    let test = ibex::text::Imdb::build(p, &BuildCtx { device: tch::Device::Cpu, load_weights: false }).unwrap();
    let expected = Vocab::build(
        (0..train.len()).map(|i| train.get(i).unwrap().tokens).collect::<Vec<_>>().iter().map(|t| t.as_slice()),
        25000,
    );
    assert_eq!(Vocab::load(&vocab_file).unwrap(), expected);
    assert_eq!(test.len(), 4);
}

#[test]
fn a_small_lstm_learns_the_generated_reviews() {
    use ibex::text::reviews::{ensure, ReviewsConfig};
    use ibex::text::training::{train, TextTrainConfig};
    use ibex::text::AclImdb;
    let _rng = common::rng_lock();
    let d = tempfile::tempdir().unwrap();
    let c = ReviewsConfig {
        root: d.path().to_path_buf(),
        train_per_class: 300,
        test_per_class: 50,
        length: [10, 30],
        ..Default::default()
    };
    ensure(&c).unwrap();
    let read = |split| {
        let data = AclImdb::open(&c.root, split, None).unwrap();
        (0..data.len()).map(|i| data.get(i).unwrap()).collect::<Vec<_>>()
    };
    let (tr, te) = (read("train"), read("test"));
    let vocab = Vocab::build(tr.iter().map(|r| r.tokens.as_slice()), 25000);
    let ids = |rs: &[ibex::text::Review]| rs.iter().map(|r| (r.ids(&vocab), r.target)).collect::<Vec<_>>();
    let p = DeepLstmParams {
        vocab_size: vocab.len() as i64,
        embedding_dim: 16,
        hidden_dim: 32,
        dropout: 0.2,
        ..Default::default()
    };
    tch::manual_seed(0);
    let mut m = DeepLstm::new(&p, tch::Device::Cpu).unwrap();
    let acc = train(
        &mut m,
        &ids(&tr),
        &ids(&te),
        &TextTrainConfig { epochs: 15, lr: 5e-3, ..Default::default() },
        1,
        tch::Device::Cpu,
    )
    .unwrap();
    assert!(*acc.last().unwrap() >= 0.9, "{acc:?}");
}

#[test]
fn deep_lstm_as_a_classifier_reads_embeddings_and_cuts_at_its_lstms() {
    use ibex::models::Classifier;
    let m = tiny_lstm();
    let text = Tensor::read_npy(common::fixture("tiny_lstm_text.npy")).unwrap();
    let want = Tensor::read_npy(common::fixture("tiny_lstm_logits.npy")).unwrap();
    // the first sentence is full length (7): batch-first tokens [1,7] → embeddings → [0, logit]
    let tokens = text.narrow(1, 0, 1).transpose(0, 1);
    let x = m.embed(&tokens).unwrap();
    assert_eq!(x.size(), vec![1, 7, 6]);
    let two = tch::no_grad(|| m.forward(&x));
    assert_eq!(two.double_value(&[0, 0]), 0.0);
    assert!((two.double_value(&[0, 1]) - want.double_value(&[0, 0])).abs() < 1e-5);
    // head(features(x)) = forward(x) at every cut
    for layer in ["embedding", "rnn_1", "rnn_3", "rnn_4"] {
        let f = tch::no_grad(|| m.features(&x, layer)).unwrap();
        assert_eq!(f.size()[..2], [1, 7]);
        assert!(common::max_abs_diff(&tch::no_grad(|| m.head(&f, layer)).unwrap(), &two) < 1e-6, "{layer}");
    }
    assert!(m.embed(&x).is_err(), "embeddings are not token ids");
    assert!(m.check_layer("rnn_5").is_err());
}
