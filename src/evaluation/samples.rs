//! Which samples `tools/eval` scores: those with a map, `eval.num_samples` of them drawn with
//! `eval.seed`, and those the model is confident enough on (`eval.min_confidence`, from the original's
//! scores file or from the model); and what `tools/train` recorded each map explains.
use super::EvalConfig;
use crate::error::{Error, Result};
use crate::output::workdir::WorkDir;
use crate::run::Run;
use serde::Deserialize;

/// The names of the samples to evaluate: those with a map, subset and confidence filter applied.
pub(super) fn select(
    run: &Run,
    wd: &WorkDir,
    cfg: &EvalConfig,
    model: &dyn crate::models::Classifier,
    data: &dyn crate::data::Dataset,
) -> Result<Vec<usize>> {
    let dir = &wd.path(&cfg.maps);
    let mut with_map: Vec<usize> =
        (0..data.len()).filter(|&i| cfg.map_format.path(dir, &data.name(i)).is_file()).collect();
    if with_map.is_empty() {
        return Err(Error::file(
            dir,
            format!(
                "no {:?} maps of the attribution split here: run tools/train first, or set eval.maps / eval.map_format",
                cfg.map_format
            ),
        ));
    }
    if with_map.len() < data.len() {
        log::warn!(
            "{} of {} samples have no map in {}; evaluating the others",
            data.len() - with_map.len(),
            data.len(),
            dir.display()
        );
    }
    with_map = crate::data::subset(with_map, cfg.num_samples, cfg.seed);
    if cfg.min_confidence > 0.0 {
        let file = (!cfg.scores_file.as_os_str().is_empty()).then(|| read_scores(&cfg.scores_file)).transpose()?;
        let mut keep = Vec::new();
        for i in with_map {
            let p = match &file {
                Some(f) => {
                    let name = data.name(i);
                    *f.get(&name)
                        .ok_or_else(|| Error::file(&cfg.scores_file, format!("no score for sample `{name}`")))?
                }
                None => {
                    let s = data.get(i)?;
                    let x = model.embed(&s.input.unsqueeze(0).to_device(run.device))?;
                    let target = explained_target(wd, &s)?;
                    tch::no_grad(|| model.forward(&x).softmax(-1, tch::Kind::Float)).double_value(&[0, target])
                }
            };
            if p >= cfg.min_confidence {
                keep.push(i);
            }
        }
        log::info!("{} samples with target confidence ≥ {}", keep.len(), cfg.min_confidence);
        with_map = keep;
    }
    Ok(with_map)
}

/// What `tools/train` recorded of sample `name` (`explained/<name>.json`); `None` for maps made
/// before that record existed.
pub(super) fn explained(wd: &WorkDir, name: &str) -> Result<Option<crate::explanation::Explained>> {
    let path = wd.path(&format!("{}/{name}.json", crate::output::sink::EXPLAINED));
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::file(&path, format!("not a record of a sample: {e}"))),
        Err(_) => Ok(None),
    }
}

/// The class sample `s`'s maps explain; the dataset's label for maps made before that was recorded.
fn explained_target(wd: &WorkDir, s: &crate::data::Sample) -> Result<i64> {
    Ok(explained(wd, &s.name)?.map_or(s.target, |e| e.target))
}

/// The original's scores file: sample name → the model's softmax on its target (`pred`).
fn read_scores(path: &std::path::Path) -> Result<std::collections::HashMap<String, f64>> {
    #[derive(Deserialize)]
    struct Entry {
        pred: f64,
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let raw: std::collections::HashMap<String, Entry> = serde_json::from_slice(&bytes).map_err(|e| {
        Error::file(path, format!("not a scores file ({{name: {{\"target\": int, \"pred\": float}}}}): {e}"))
    })?;
    Ok(raw.into_iter().map(|(k, v)| (k, v.pred)).collect())
}
