//! COMPAS as SENN's seed reads it (spec peers §2.7): eleven features of a defendant and the
//! binarised COMPAS score (`score_factor`) as the label, from either of ProPublica's files a user
//! has: `propublica_data_for_fairml.csv` (the seed's, its columns by name) or
//! `compas-scores-two-years.csv` (the raw one, filtered and coded as ProPublica's analysis does).
//! Then the seed's preprocessing: Number_of_Priors → √(v / max v), the consensus pruning of
//! conflicting duplicates (δ = 0.2, quirk S5 kept by default), an 80/20 train/test split and the
//! first tenth of train as validation, the split seeded (quirk S6 fixed: the seed's is not).
use super::transforms::ImageTransform;
use super::{Dataset, Sample};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::registry::{Build, BuildCtx, DatasetKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// The features in the seed's order (the fairml file's column names).
pub const FEATURES: [&str; 11] = [
    "Two_yr_Recidivism",
    "Number_of_Priors",
    "Age_Above_FourtyFive",
    "Age_Below_TwentyFive",
    "African_American",
    "Asian",
    "Hispanic",
    "Native_American",
    "Other",
    "Female",
    "Misdemeanor",
];
/// The label column of the fairml file.
pub const TARGET: &str = "score_factor";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompasParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// `propublica_data_for_fairml.csv` or `compas-scores-two-years.csv`.
    pub path: PathBuf,
    /// `train`, `validation` or `test`.
    pub split: String,
    /// Seed of the 80/20 permutation (the seed's `manual_seed` 111/333/555 comes too late to
    /// seed its split, quirk S6, so no permutation of its can be matched; this one is ibex's own).
    pub seed: u64,
    /// Share of the rows for training (`train_percent`).
    pub train_percent: f64,
    /// Share of the train rows, the first ones, for validation (`valid_size`).
    pub valid_size: f64,
    /// The seed's `find_conflicting` pruning of identical feature vectors with disagreeing labels.
    pub prune_conflicting: bool,
    /// Quirk S5: as written, the pruning drops every row without an exact duplicate. False keeps them.
    pub drop_unique_rows: bool,
}

impl Default for CompasParams {
    fn default() -> Self {
        CompasParams {
            type_: "Compas".into(),
            path: PathBuf::from("data/compas/propublica_data_for_fairml.csv"),
            split: "train".into(),
            seed: 111,
            train_percent: 0.8,
            valid_size: 0.1,
            prune_conflicting: true,
            drop_unique_rows: true,
        }
    }
}

/// The rows of the file: features [N × 11] before scaling, and labels.
pub struct Table {
    pub features: Vec<[f64; 11]>,
    pub labels: Vec<i64>,
    /// Row numbers in the file (1 = the first data row), for names and errors.
    pub rows: Vec<usize>,
}

/// Reads `path` in whichever of the two layouts its header shows.
pub fn read_table(path: &Path) -> Result<Table> {
    if !path.is_file() {
        return Err(Error::file(
            path,
            "no such file: put ProPublica's propublica_data_for_fairml.csv or compas-scores-two-years.csv there \
             (data/README.md), or generate one ([compas] in the config)",
        ));
    }
    let mut r = csv::ReaderBuilder::new().from_path(path).map_err(|e| Error::file(path, csv_error(e)))?;
    let header: Vec<String> =
        r.headers().map_err(|e| Error::file(path, csv_error(e)))?.iter().map(String::from).collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let raw = col(TARGET).is_none() && col("two_year_recid").is_some();
    let mut t = Table { features: Vec::new(), labels: Vec::new(), rows: Vec::new() };
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| Error::file(path, csv_error(e)))?;
        let row = if raw { raw_row(&header, &rec, i + 1, path)? } else { fairml_row(&header, &rec, i + 1, path)? };
        if let Some((f, y)) = row {
            t.features.push(f);
            t.labels.push(y);
            t.rows.push(i + 1);
        }
    }
    if t.labels.is_empty() {
        return Err(Error::file(path, "holds no rows"));
    }
    Ok(t)
}

fn csv_error(e: csv::Error) -> String {
    format!("not a readable CSV file: {e}")
}

/// The value of column `name` of a record, or an error naming the file, column and row.
fn field<'r>(header: &[String], rec: &'r csv::StringRecord, name: &str, row: usize, path: &Path) -> Result<&'r str> {
    let k = header.iter().position(|h| h == name).ok_or_else(|| {
        Error::file(path, format!("has no column `{name}` (a COMPAS file needs {} and {TARGET})", FEATURES.join(", ")))
    })?;
    rec.get(k).map(str::trim).ok_or_else(|| Error::file(path, format!("row {row} has no value in column `{name}`")))
}

fn number(header: &[String], rec: &csv::StringRecord, name: &str, row: usize, path: &Path) -> Result<f64> {
    let v = field(header, rec, name, row, path)?;
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Error::file(path, format!("row {row}, column `{name}`: {v:?} is not a number")))
}

/// The seed's file: the eleven columns and `score_factor` (0/1) by name.
fn fairml_row(h: &[String], rec: &csv::StringRecord, row: usize, path: &Path) -> Result<Option<([f64; 11], i64)>> {
    let mut f = [0.0; 11];
    for (k, name) in FEATURES.iter().enumerate() {
        f[k] = number(h, rec, name, row, path)?;
    }
    let y = number(h, rec, TARGET, row, path)?;
    if y != 0.0 && y != 1.0 {
        return Err(Error::file(path, format!("row {row}, column `{TARGET}`: {y} is not 0 or 1")));
    }
    Ok(Some((f, y as i64)))
}

/// ProPublica's raw file, with their analysis's filter (charge within 30 days of the screening,
/// a known recidivism outcome, no ordinary traffic offence, a score) and the fairml coding:
/// score_factor = score_text ≠ Low; age and race categories as indicators (Caucasian the
/// baseline); Female; Misdemeanor = charge degree M. Filtered rows give `None`.
fn raw_row(h: &[String], rec: &csv::StringRecord, row: usize, path: &Path) -> Result<Option<([f64; 11], i64)>> {
    let text = |name: &str| field(h, rec, name, row, path);
    let days = text("days_b_screening_arrest")?;
    let in_window = days.parse::<f64>().is_ok_and(|d| (-30.0..=30.0).contains(&d));
    let score = text("score_text")?;
    if !in_window || number(h, rec, "is_recid", row, path)? == -1.0 || text("c_charge_degree")? == "O" || score == "N/A"
    {
        return Ok(None);
    }
    let is = |b: bool| if b { 1.0 } else { 0.0 };
    let (age, race) = (text("age_cat")?, text("race")?);
    let f = [
        number(h, rec, "two_year_recid", row, path)?,
        number(h, rec, "priors_count", row, path)?,
        is(age == "Greater than 45"),
        is(age == "Less than 25"),
        is(race == "African-American"),
        is(race == "Asian"),
        is(race == "Hispanic"),
        is(race == "Native American"),
        is(race == "Other"),
        is(text("sex")? == "Female"),
        is(text("c_charge_degree")? == "M"),
    ];
    Ok(Some((f, (score != "Low") as i64)))
}

/// The seed's `find_conflicting` (δ = 0.2): rows with identical features form a group with mean
/// label m; a row stays if |m − ½| < δ or its label is round(m). Rows without a duplicate form no
/// group and are dropped when `drop_unique` (quirk S5), kept otherwise. Returns the kept indices.
pub fn prune_conflicting(t: &Table, drop_unique: bool) -> Vec<usize> {
    let mut groups: BTreeMap<Vec<u64>, Vec<usize>> = BTreeMap::new();
    for (i, f) in t.features.iter().enumerate() {
        groups.entry(f.iter().map(|v| v.to_bits()).collect()).or_default().push(i);
    }
    let mut keep: Vec<usize> = Vec::new();
    for members in groups.values() {
        if members.len() == 1 {
            if !drop_unique {
                keep.push(members[0]);
            }
            continue;
        }
        let m = members.iter().map(|&i| t.labels[i] as f64).sum::<f64>() / members.len() as f64;
        let consensus = m.round() as i64;
        keep.extend(members.iter().filter(|&&i| (m - 0.5).abs() < 0.2 || t.labels[i] == consensus));
    }
    keep.sort_unstable();
    keep
}

/// The indices of `split` among `n` rows: 80/20 by a Fisher–Yates permutation seeded by `seed`
/// (libtorch's global generator is left alone), then the first `valid_size` of train as validation.
pub fn split_indices(n: usize, p: &CompasParams) -> Result<Vec<usize>> {
    let mut rng = crate::rng::SplitMix::new(p.seed ^ 0x5EED_C0A5);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        perm.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let n_train = (n as f64 * p.train_percent) as usize;
    let (train, test) = perm.split_at(n_train);
    let n_valid = (train.len() as f64 * p.valid_size).floor() as usize;
    Ok(match p.split.as_str() {
        "train" => train[n_valid..].to_vec(),
        "validation" => train[..n_valid].to_vec(),
        _ => test.to_vec(),
    })
}

pub struct Compas {
    /// [N, 11] float, preprocessed.
    features: Tensor,
    labels: Vec<i64>,
    names: Vec<String>,
    classes: Vec<String>,
    transform: ImageTransform,
}

impl Compas {
    pub fn new(p: &CompasParams) -> Result<Self> {
        let t = read_table(&p.path)?;
        let max_priors = t.features.iter().map(|f| f[1]).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
        let kept =
            if p.prune_conflicting { prune_conflicting(&t, p.drop_unique_rows) } else { (0..t.labels.len()).collect() };
        let chosen: Vec<usize> = split_indices(kept.len(), p)?.into_iter().map(|i| kept[i]).collect();
        let mut flat = Vec::with_capacity(chosen.len() * 11);
        for &i in &chosen {
            let mut f = t.features[i];
            f[1] = (f[1] / max_priors).sqrt();
            flat.extend(f.map(|v| v as f32));
        }
        Ok(Compas {
            features: Tensor::from_slice(&flat).view([chosen.len() as i64, 11]),
            labels: chosen.iter().map(|&i| t.labels[i]).collect(),
            names: chosen.iter().map(|&i| format!("compas_{:05}", t.rows[i])).collect(),
            classes: vec!["low".into(), "medium_or_high".into()],
            transform: ImageTransform::default(),
        })
    }
}

impl Dataset for Compas {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn get(&self, i: usize) -> Result<Sample> {
        if i >= self.labels.len() {
            return Err(Error::Data(format!("row {i} of {}", self.labels.len())));
        }
        Ok(Sample {
            name: self.names[i].clone(),
            input: self.features.get(i as i64),
            target: self.labels[i],
            boxes: Vec::new(),
        })
    }
    fn name(&self, i: usize) -> String {
        self.names[i].clone()
    }
    fn class_names(&self) -> &[String] {
        &self.classes
    }
    fn transform(&self) -> &ImageTransform {
        &self.transform
    }
    fn modality(&self) -> Modality {
        Modality::Tabular
    }
    /// The feature names, so that tabular maps are labelled by column.
    fn words(&self, _s: &Sample) -> Option<Vec<String>> {
        Some(FEATURES.map(String::from).to_vec())
    }
}

impl Build<DatasetKind> for Compas {
    type Params = CompasParams;
    fn validate(p: &CompasParams) -> crate::config::Checked {
        use crate::config::validate::{one_of, within};
        one_of("split", &p.split, &["train", "validation", "test"])?;
        within("train_percent", p.train_percent, 0.05, 0.95)?;
        within("valid_size", p.valid_size, 0.0, 0.9)
    }
    fn build(p: CompasParams, _cx: &BuildCtx) -> Result<Box<dyn Dataset>> {
        Ok(Box::new(Compas::new(&p)?))
    }
}
crate::register!(DatasetKind, Compas);
