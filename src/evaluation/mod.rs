//! `tools/eval`: the registered metrics over the maps of a finished work dir, into
//! `<work dir>/metrics.json` (per sample and aggregated), the aggregates into TensorBoard
//! (`eval/<metric>/<value>`). A metric is named by a label; its parameters come from
//! `[eval.metrics.<label>]` when the config has that table, otherwise it is the registered type
//! whose snake_case name the label is (`insertion_deletion` → `InsertionDeletion`) with the
//! original's defaults. A metric already in `metrics.json` with the same parameters and samples is
//! not recomputed; one interrupted half-way resumes from its progress in `state/`.
pub mod cost;
mod explainer;
pub mod grid;
mod plots;
mod report;
pub mod roar;
mod samples;
mod table;

pub use crate::output::MapFormat;
pub use crate::run::{EvalConfig, RoarConfig};
pub use plots::{write_compare_plots, write_eval_plots};
pub use report::{CurveMean, MetricReport, MetricsFile, Stat};
pub use table::{compare, summary_table};

use crate::error::{Error, Result};
use crate::logging::ScalarLog;
use crate::metrics::{EvalSample, Metric};
use crate::modality::Modality;
use crate::output::workdir::WorkDir;
use crate::registry::{self, BuildCtx, MetricKind};
use crate::run::Run;
use figment::providers::Serialized;

/// `insertion_deletion` → `InsertionDeletion`.
fn type_name(label: &str) -> String {
    label.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

/// The config of metric `label` and its key (`eval.metrics.<label>`): the config's table, its
/// `type` defaulting to the registered metric whose snake_case name the label is.
pub fn metric_config(fig: &figment::Figment, label: &str) -> (figment::Figment, String) {
    let key = format!("eval.metrics.{label}");
    (fig.clone().join(Serialized::default(&format!("{key}.type"), type_name(label))), key)
}

/// What the metrics of one `tools/eval` call share; the sample list and the explainer are made on
/// first use (ROAR needs neither the work dir's maps nor, with box or random rankings, an attributor).
struct Evaluation<'a> {
    run: &'a Run,
    wd: &'a WorkDir,
    cfg: EvalConfig,
    model: Box<dyn crate::models::Classifier>,
    /// The model's digest ([`Run::model_digest`]), part of every result's source.
    model_digest: String,
    data: Box<dyn crate::data::Dataset>,
    chosen: Option<Chosen>,
    explainer: Option<explainer::RunExplainer<'a>>,
}

/// The samples every metric of one call evaluates, and what is read once for all of them.
struct Chosen {
    indices: Vec<usize>,
    names: Vec<String>,
    /// What the figures depend on besides a metric's parameters (see [`Evaluation::source`]).
    source: String,
    /// `tools/train`'s record of each sample (`explained/<name>.json`), where there is one.
    records: std::collections::HashMap<String, crate::explanation::Explained>,
}

impl<'a> Evaluation<'a> {
    fn ensure_explainer(&mut self) -> Result<()> {
        if self.explainer.is_none() {
            self.explainer = Some(explainer::RunExplainer::new(
                self.run,
                self.wd,
                self.model.as_ref(),
                &self.cfg.maps,
                self.cfg.map_format,
            )?);
        }
        Ok(())
    }

    /// The report of `label`, or `None` when `done` already holds it for the same parameters and
    /// samples.
    fn report(&mut self, label: &str, done: Option<&MetricReport>) -> Result<Option<MetricReport>> {
        if label == "roar" {
            let params = roar::params(&self.cfg);
            if done.is_some_and(|r| r.params == params) {
                return Ok(None);
            }
            if self.cfg.roar.maps == "attributor" {
                self.ensure_explainer()?;
            }
            let ex = self.explainer.as_ref().map(|e| e as &dyn crate::metrics::Explain);
            return roar::run(self.run, self.wd, &self.cfg, self.model.as_ref(), ex).map(Some);
        }
        let (fig, key) = metric_config(&self.run.fig, label);
        let params: serde_json::Value = fig.extract_inner(&key).map_err(|e| Error::config(key.clone(), e))?;
        let chosen = self.chosen()?;
        if done.is_some_and(|r| r.params == params && r.evaluated == chosen.names && r.source == chosen.source) {
            return Ok(None);
        }
        let mut metric =
            registry::build::<MetricKind>(&fig, &key, &BuildCtx { device: self.run.device, load_weights: true })?;
        let modality = self.model.modality();
        if metric.modality() != modality {
            let use_ = match modality {
                Modality::Tokens => "text_insertion_deletion, text_sensitivity_n",
                Modality::Image => "the image metrics (insertion_deletion, sensitivity_n, ehr, …)",
                Modality::Tabular => "none yet: no metric reads tabular inputs",
            };
            return Err(Error::ConfigMsg(format!(
                "{key}: this metric reads {} inputs, the model reads {modality} inputs; use {use_}",
                metric.modality()
            )));
        }
        if metric.needs_explainer() {
            self.ensure_explainer()?;
        }
        self.run_metric(metric.as_mut(), label, params).map(Some)
    }

    /// The samples to evaluate, chosen, digested and their records read on first use.
    fn chosen(&mut self) -> Result<&Chosen> {
        if self.chosen.is_none() {
            let indices = samples::select(self.run, self.wd, &self.cfg, self.model.as_ref(), self.data.as_ref())?;
            let names: Vec<String> = indices.iter().map(|&i| self.data.name(i)).collect();
            let source = self.source(&names)?;
            let mut records = std::collections::HashMap::new();
            for n in &names {
                if let Some(e) = samples::explained(self.wd, n)? {
                    records.insert(n.clone(), e);
                }
            }
            let degenerate = records.values().filter(|e| !e.degenerate.is_empty()).count();
            if degenerate > 0 {
                log::warn!(
                    "{degenerate} of the {} samples evaluated have results that say nothing \
                     (explained/<name>.json: chance-level class loss or a constant map); they count in the figures",
                    names.len()
                );
            }
            self.chosen = Some(Chosen { indices, names, source, records });
        }
        Ok(self.chosen.as_ref().expect("chosen just now"))
    }

    /// What the figures of the maps `names` depend on besides the metric's parameters: the map
    /// folder and format, every map file's content, and the model.
    fn source(&self, names: &[String]) -> Result<String> {
        let dir = self.wd.path(&self.cfg.maps);
        let maps = names
            .iter()
            .map(|n| crate::io::digest::file(&self.cfg.map_format.path(&dir, n)))
            .collect::<Result<Vec<_>>>()?;
        let all = format!("{}|{:?}|{}|{}", self.cfg.maps, self.cfg.map_format, self.model_digest, maps.join(","));
        Ok(crate::io::digest::text(&all))
    }

    /// Runs `metric` over the chosen samples, in order. Progress is kept in `state/` (at
    /// most every few seconds, atomically), so an interrupted metric resumes at its first
    /// unfinished sample.
    fn run_metric(&self, metric: &mut dyn Metric, label: &str, params: serde_json::Value) -> Result<MetricReport> {
        let explainer = self.explainer.as_ref().map(|e| e as &dyn crate::metrics::Explain);
        let chosen = self.chosen.as_ref().expect("samples chosen before a metric runs");
        let (names, source) = (&chosen.names, &chosen.source);
        let partial = self
            .wd
            .state(&format!("eval_{}_{:?}_{label}.partial.json", self.cfg.maps, self.cfg.map_format).to_lowercase());
        // progress counts only for the same metric on the same samples, taken in the same order
        let same = |r: &MetricReport| r.params == params && &r.source == source && names.starts_with(&r.evaluated);
        let mut report = read_partial(&partial).filter(same).unwrap_or(MetricReport {
            params: params.clone(),
            source: source.clone(),
            ..Default::default()
        });
        let done: std::collections::HashSet<String> = report.evaluated.iter().cloned().collect();
        if !done.is_empty() {
            log::info!("{label}: resuming after {} samples ({})", done.len(), partial.display());
        }
        let bar = crate::logging::progress(chosen.indices.len() as u64, label);
        let mut saved = std::time::Instant::now();
        for &i in &chosen.indices {
            bar.inc(1);
            let s = self.data.get(i)?;
            if done.contains(&s.name) {
                continue;
            }
            let map = self.load_map(metric.modality(), &s)?;
            let target = chosen.records.get(&s.name).map_or(s.target, |e| e.target);
            let r = crate::panics::guard(&s.name, || {
                metric.evaluate(
                    self.model.as_ref(),
                    &EvalSample { sample: &s, map: &map, target, device: self.run.device, explainer },
                )
            })?;
            for w in &r.warnings {
                log::warn!("{label}, {}: {w}", s.name);
            }
            report.add(&s.name, r);
            if saved.elapsed().as_secs_f64() > 5.0 {
                crate::io::atomic::write(&partial, serde_json::to_string(&report).expect("json").as_bytes())?;
                saved = std::time::Instant::now();
            }
        }
        bar.finish_and_clear();
        report.finish(|c| metric.curve_x(c));
        let _ = std::fs::remove_file(&partial);
        Ok(report)
    }

    /// The map of sample `s`, checked against its input: [H,W] for an image, [1,T] for a sentence
    /// (the original's text maps are 50×T strips of equal rows; one score per word).
    fn load_map(&self, modality: Modality, s: &crate::data::Sample) -> Result<tch::Tensor> {
        let path = self.cfg.map_format.path(&self.wd.path(&self.cfg.maps), &s.name);
        let map = self.cfg.map_format.load(&path)?;
        if modality.is_one_dimensional() {
            let (map, t) = (map.mean_dim(0, true, tch::Kind::Float), s.input.size()[0]);
            if map.size() != [1, t] {
                return Err(Error::file(
                    path,
                    format!("map has {} scores, the {} input {t} elements", map.size()[1], modality),
                ));
            }
            return Ok(map);
        }
        let (h, w) = (s.input.size()[1], s.input.size()[2]);
        if map.size() != [h, w] {
            let concepts = if map.dim() == 1 || map.size()[0] == 1 {
                " (one score per concept, as a SENN's own explanation: the pixel metrics need a map over the \
                 image, such as a gradient method's on the SENN)"
            } else {
                ""
            };
            return Err(Error::file(path, format!("map is {:?}, the image {h}×{w}{concepts}", map.size())));
        }
        Ok(map)
    }
}

/// A metric's saved progress, if any; an unreadable one is ignored (it is only a cache).
fn read_partial(path: &std::path::Path) -> Option<MetricReport> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The maps of a work dir were made by the `[model]` and `[attributor]` of its `config.toml`; an
/// evaluation with other tables would score one model's maps on another, or explain again
/// (sanity check, max-sensitivity, ROAR) with another method than the one that made them.
fn check_made_with(run: &Run, wd: &WorkDir) -> Result<()> {
    let made = wd.path("config.toml");
    if !made.is_file() {
        return Ok(());
    }
    let theirs = crate::config::load(&made, &[])?;
    let tables = |fig: &figment::Figment| -> Result<(serde_json::Value, Option<serde_json::Value>)> {
        let model = registry::resolve::<crate::registry::ModelKind>(fig, "model")?;
        let attr = fig.find_value("attributor").is_ok();
        Ok((model, attr.then(|| registry::resolve::<crate::registry::AttributorKind>(fig, "attributor")).transpose()?))
    };
    let (mine, made_with) = (tables(&run.fig)?, tables(&theirs)?);
    for (key, differs) in [("model", mine.0 != made_with.0), ("attributor", mine.1 != made_with.1)] {
        if differs {
            return Err(Error::file(
                &made,
                format!(
                    "the maps here were made with another [{key}] than this config's; evaluate with the \
                     config that made them (e.g. --config {})",
                    made.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Runs the metrics `labels` on `wd`; returns the updated `metrics.json` content.
pub fn evaluate(run: &Run, wd: &WorkDir, labels: &[String]) -> Result<MetricsFile> {
    check_made_with(run, wd)?;
    let mut cfg: EvalConfig = run.fig.extract_inner::<Option<EvalConfig>>("eval").ok().flatten().unwrap_or_default();
    if cfg.maps.is_empty() {
        cfg.maps = run.attributor()?.main_output();
        log::info!("evaluating {} (the attributor's maps; --maps or eval.maps picks another folder)", cfg.maps);
    }
    let out = wd.path("metrics.json");
    let mut file: MetricsFile = match std::fs::read(&out) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::file(&out, format!("not a metrics file ({e}); move it away to start afresh")))?,
        Err(_) => MetricsFile::default(),
    };
    file.switch_to(&cfg.maps);
    let mut model = run.model()?;
    model.freeze();
    let data = run.dataset("attribution")?;
    let model_digest = run.model_digest()?;
    let made_with = wd.state("model_digest.txt");
    if std::fs::read_to_string(&made_with).is_ok_and(|d| d != model_digest) {
        log::warn!(
            "the maps of this work dir were made with another model than this config's ({} differs): \
             the figures describe this config's model explaining those maps",
            made_with.display()
        );
    }
    let mut ev = Evaluation { run, wd, cfg, model, model_digest, data, chosen: None, explainer: None };
    // made on the first value, so an evaluation that fails first leaves no empty events file
    let mut tb = crate::output::LazyEventWriter::new(wd.root());
    let mut computed = false;
    for label in labels {
        let Some(report) = ev.report(label, file.metrics.get(label))? else {
            log::info!("{label}: already in {} (same parameters and samples)", out.display());
            continue;
        };
        for (k, s) in &report.aggregate {
            tb.scalar(&format!("eval/{label}/{k}"), 0, s.mean)?;
        }
        file.metrics.insert(label.clone(), report);
        crate::io::atomic::write(&out, serde_json::to_string_pretty(&file).expect("json").as_bytes())?;
        computed = true;
    }
    if computed {
        tb.text("eval/summary", 0, &summary_table(&file, labels))?;
    }
    write_eval_plots(&file, &wd.path("plots"))?;
    Ok(file)
}

/// Reads `<work dir>/metrics.json`.
pub fn read_metrics(work_dir: &std::path::Path) -> Result<MetricsFile> {
    let p = work_dir.join("metrics.json");
    let b = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_slice(&b).map_err(|e| Error::file(&p, format!("not a metrics file: {e}")))
}
