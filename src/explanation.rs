//! What an explanation method hands on, and what the writers and the evaluation read: maps by
//! output name, the loss curves behind them, and how each map is shown. Shared by producers
//! (`attributors`) and consumers (`output`, `evaluation`), so neither imports the other.
use std::collections::BTreeMap;
use tch::Tensor;

/// How a map becomes 8-bit grey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PngScale {
    /// ⌊255·m/max(m)⌋: the feature mask in bits (original: `feat_masks/`).
    MaxNormalised,
    /// ⌊255·m⌋ for a mask already in [0,1] (original: `input_masks/`).
    Raw,
}

/// Where and how one kind of map is written (e.g. `feat_masks/`, max-normalised PNG); `dir` is
/// also the map's name in [`Attribution::maps`].
#[derive(Clone, Debug)]
pub struct MapSpec {
    pub dir: String,
    pub scale: PngScale,
    /// How a [C,H,W] map becomes [H,W] for the PNG and the overlay (the `.npy` keeps all channels).
    pub reduce: Reduce,
    pub layout: Layout,
}

impl MapSpec {
    /// A map over the input (pixels, tokens or features).
    pub fn input(dir: &str, scale: PngScale, reduce: Reduce) -> Self {
        MapSpec { dir: dir.into(), scale, reduce, layout: Layout::Input }
    }
}

/// What the elements of a map stand for, which decides how it is drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One score per input element ([H,W] or [C,H,W] for an image, [1,T] or [1,F] for 1-D
    /// inputs): overlays, or strips for 1-D inputs.
    Input,
    /// One score per concept of a self-explaining model, [1,K]: bars with the concepts' names
    /// (empty: the dataset's feature names where the concepts are the features, else C1…CK) and
    /// JSON, whatever the input is.
    Concepts { names: Vec<String> },
    /// A figure per sample (RGB [3,H,W] in [0,1], e.g. DiSENN's traversals), written as a PNG.
    Picture,
}

/// Channel reduction of a [C,H,W] attribution for display and evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduce {
    Sum,
    #[default]
    SumAbs,
    MaxAbs,
}

impl Reduce {
    /// [C,H,W] → [H,W]; an [H,W] map is returned as it is.
    pub fn apply(self, map: &Tensor) -> Tensor {
        if map.dim() == 2 {
            return map.shallow_clone();
        }
        match self {
            Reduce::Sum => map.sum_dim_intlist(0, false, tch::Kind::Float),
            Reduce::SumAbs => map.abs().sum_dim_intlist(0, false, tch::Kind::Float),
            Reduce::MaxAbs => map.abs().amax([0], false),
        }
    }
}

/// Named series for TensorBoard: (tag, value per optimisation step), e.g. ("feat_iba/loss", [...]).
pub type Curves = Vec<(String, Vec<f64>)>;

/// One sample's result: its maps keyed by output name (a [`MapSpec::dir`]; [H,W], or [C,H,W] with
/// the input's H×W; text: [1,T]), and curves (per optimisation step, or single values) for
/// TensorBoard.
#[derive(Default)]
pub struct Attribution {
    pub maps: BTreeMap<String, Tensor>,
    pub curves: Curves,
    /// The class the maps explain (the label, the prediction or a fixed class, as the method's
    /// `target` says); `None` where a method explains no class.
    pub target: Option<i64>,
}

/// What one sample's maps explain, recorded beside them (`explained/<name>.json`) so that the
/// evaluation scores the class that was explained, not the dataset's label.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Explained {
    /// The dataset's label.
    pub label: i64,
    /// The class the maps explain.
    pub target: i64,
    /// The model's top-1 class and its softmax probability, and the target's (none when the
    /// model has no such class).
    pub prediction: i64,
    pub p_prediction: f64,
    pub p_target: Option<f64>,
    /// Why the result says nothing (see [`degenerate`]); empty for a usable one.
    #[serde(default)]
    pub degenerate: Vec<String>,
    /// Wall-clock seconds its attribution took (a batch's time shared equally among its samples;
    /// fitting, e.g. an estimator, not included): the cost side of `tools/compare`'s quality–cost
    /// plot. Absent in work dirs made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

/// A result that looks like an explanation but says nothing, each with its reason: an input mask
/// whose class loss ends at chance level (≥ 90% of ln K for K classes: the mask keeps no class
/// evidence, its image looks black), or a map that is constant. The feature stage's class loss is
/// no criterion: with the original's β and 10 steps its noisy copies often end above chance while
/// the capacity map still sits on the object (10 of the 16 quickstart images, whose maps put 3.3×
/// a uniform share in the box). Maps that are not over the input (a SENN's concept scores, which
/// are all zero for an all-zero row) are no explanation of their own to judge; `specs` says which.
pub fn degenerate(a: &Attribution, classes: i64, specs: &[MapSpec]) -> Vec<String> {
    let chance = (classes.max(2) as f64).ln();
    let mut why = Vec::new();
    for (tag, curve) in a.curves.iter().filter(|(t, _)| t.ends_with("/cls_loss") && !t.starts_with("feat_iba/")) {
        if let Some(&last) = curve.last().filter(|&&v| v >= 0.9 * chance) {
            why.push(format!("{tag} ends at {last:.3}, chance level is ln {classes} = {chance:.3}"));
        }
    }
    let over_input = |name: &str| specs.iter().find(|s| s.dir == name).is_none_or(|s| s.layout == Layout::Input);
    for (name, map) in a.maps.iter().filter(|(n, _)| over_input(n)) {
        let (lo, hi) = (map.min().double_value(&[]), map.max().double_value(&[]));
        if hi - lo <= 1e-6 * hi.abs().max(1.0) {
            why.push(format!("{name} is constant ({hi:.3e})"));
        }
    }
    why
}

impl Attribution {
    /// An attribution of one map.
    pub fn single(name: &str, map: Tensor, curves: Curves) -> Self {
        Attribution { maps: BTreeMap::from([(name.to_string(), map)]), curves, target: None }
    }
    /// Records the class the maps explain.
    pub fn for_target(mut self, target: i64) -> Self {
        self.target = Some(target);
        self
    }
    /// Adds (or replaces) the map called `name`.
    pub fn with_map(mut self, name: &str, map: Tensor) -> Self {
        self.maps.insert(name.to_string(), map);
        self
    }
    /// The map called `name`; the error lists the maps there are.
    pub fn map(&self, name: &str) -> crate::error::Result<&Tensor> {
        self.maps.get(name).ok_or_else(|| {
            let have: Vec<&str> = self.maps.keys().map(String::as_str).collect();
            crate::error::Error::Model(format!("no map `{name}` in this attribution (it has {have:?})"))
        })
    }
}
