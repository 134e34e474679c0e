//! Where one run's per-sample results go: map files in the work dir (PNG, NPY, overlay, as the
//! config's `[output]` asks) and TensorBoard events. Also says which samples are already done, so a
//! re-run resumes.
use super::maps::{self, PngScale};
use super::{EventWriter, WorkDir};
use crate::data::{Dataset, Sample};
use crate::error::Result;
use crate::explanation::{Attribution, Explained, Layout, MapSpec};
use crate::modality::Modality;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The config's `[output]`: which files each map gets.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Write `<name>.png` (8-bit, the original's format).
    pub png: bool,
    /// Write `<name>.npy` (float32, the exact map).
    pub npy: bool,
    /// Write `<name>_overlay.jpg`, the map over the input image.
    pub overlay: bool,
    /// Write `<name>_heatmap.png` for image maps: the input, the map min–max normalised in
    /// `colormap` with a colour bar, and the two blended, upscaled to `heatmap_min_side`.
    pub heatmap: bool,
    /// viridis, inferno, jet or gray.
    pub colormap: String,
    pub heatmap_min_side: u32,
    /// How many samples of every class (the label; the prediction where there is none) have their
    /// heatmaps in TensorBoard's Images tab.
    pub tensorboard_images_per_class: usize,
    /// How many samples' per-step loss curves go to TensorBoard, each under its own tag
    /// (`<curve>/<sample>`, steps from 0), so that they can be read one by one; every sample's final
    /// values go to `<curve>_final`, one point per sample.
    pub tensorboard_curves: usize,
    /// Stop at the first failing sample instead of recording it and going on.
    pub fail_fast: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            png: true,
            npy: true,
            overlay: true,
            heatmap: true,
            colormap: "viridis".into(),
            heatmap_min_side: 224,
            tensorboard_images_per_class: 2,
            tensorboard_curves: 16,
            fail_fast: false,
        }
    }
}

/// The folder of the per-sample records of what the maps explain ([`Explained`]).
pub const EXPLAINED: &str = "explained";

pub struct MapSink<'a> {
    wd: &'a WorkDir,
    cfg: OutputConfig,
    specs: Vec<MapSpec>,
    tb: EventWriter,
    /// Images get overlays; 1-D inputs (text) get one score per element, written as a 50-row strip
    /// PNG (the original's format) and `<name>.json` (words and scores) instead.
    modality: Modality,
    /// Samples of each class whose heatmaps went to TensorBoard so far.
    tb_images: std::collections::HashMap<i64, usize>,
}

impl<'a> MapSink<'a> {
    /// Starts a new TensorBoard event file in the work dir.
    pub fn new(wd: &'a WorkDir, cfg: OutputConfig, specs: Vec<MapSpec>, modality: Modality) -> Result<Self> {
        Ok(MapSink { tb: EventWriter::create(wd.root())?, wd, cfg, specs, modality, tb_images: Default::default() })
    }

    fn strips(&self) -> bool {
        self.modality.is_one_dimensional()
    }

    fn files(&self, spec: &MapSpec, name: &str) -> Vec<PathBuf> {
        let dir = self.wd.path(&spec.dir);
        let o = &self.cfg;
        let (overlay, json) = match spec.layout {
            Layout::Input => (o.overlay && !self.strips(), self.strips()),
            Layout::Concepts { .. } => (false, true),
            Layout::Picture => return vec![dir.join(format!("{name}.png"))],
        };
        let heatmap = o.heatmap && spec.layout == Layout::Input && !self.strips();
        [(o.png, "png"), (o.npy, "npy")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, ext)| dir.join(format!("{name}.{ext}")))
            .chain(overlay.then(|| dir.join(format!("{name}_overlay.jpg"))))
            .chain(heatmap.then(|| dir.join(format!("{name}_heatmap.png"))))
            .chain(json.then(|| dir.join(format!("{name}.json"))))
            .collect()
    }

    /// Every file of every map of `name` exists (each was written atomically, so it is whole).
    pub fn is_done(&self, name: &str) -> bool {
        self.specs.iter().all(|s| self.files(s, name).iter().all(|f| f.is_file()))
    }

    /// Writes sample number `index`'s maps, loss curves and what they explain.
    pub fn write(
        &mut self,
        index: usize,
        s: &Sample,
        a: &Attribution,
        explained: &Explained,
        data: &dyn Dataset,
    ) -> Result<()> {
        let step = index as i64;
        let json = serde_json::to_string_pretty(explained).expect("json");
        crate::io::atomic::write(&self.wd.path(&format!("{EXPLAINED}/{}.json", s.name)), json.as_bytes())?;
        // 1 where the result says nothing, one point per sample
        self.tb.scalar("quality/degenerate", step, if explained.degenerate.is_empty() { 0.0 } else { 1.0 })?;
        for (tag, curve) in &a.curves {
            if let Some(last) = curve.last() {
                self.tb.scalar(&format!("{tag}_final"), step, *last)?;
            }
            if index < self.cfg.tensorboard_curves && curve.len() > 1 {
                for (k, v) in curve.iter().enumerate() {
                    self.tb.scalar(&format!("{tag}/{}", s.name), k as i64, *v)?;
                }
            }
        }
        for spec in &self.specs {
            let map = a.map(&spec.dir)?;
            match &spec.layout {
                Layout::Input => {}
                Layout::Concepts { names } => self.write_concepts(spec, names, s, a, map, data)?,
                Layout::Picture => {
                    super::maps::write_rgb01(&self.wd.path(&spec.dir).join(format!("{}.png", s.name)), map)?
                }
            }
        }
        if self.strips() {
            return self.write_text(s, a, data);
        }
        let image01 = data.transform().denormalize(&s.input);
        let class = if explained.label >= 0 { explained.label } else { explained.prediction };
        let shown = self.tb_images.entry(class).or_insert(0);
        let to_tensorboard = *shown < self.cfg.tensorboard_images_per_class;
        *shown += usize::from(to_tensorboard);
        for spec in self.specs.iter().filter(|s| s.layout == Layout::Input) {
            let raw = a.map(&spec.dir)?;
            let dir = self.wd.path(&spec.dir);
            let map = &spec.reduce.apply(raw);
            if self.cfg.overlay {
                maps::write_rgb(&dir.join(format!("{}_overlay.jpg", s.name)), &maps::overlay(&image01, map))?;
            }
            if self.cfg.heatmap || to_tensorboard {
                let title = figure_title(s, spec, a);
                let figure =
                    super::heatmap::render(&image01, map, &self.cfg.colormap, self.cfg.heatmap_min_side, &title)?;
                if self.cfg.heatmap {
                    super::plot::write_image(&figure, &dir.join(format!("{}_heatmap.png", s.name)))?;
                }
                if to_tensorboard {
                    let png = super::plot::png_bytes(&figure)?;
                    let (w, h) = figure.dimensions();
                    self.tb.image_png(&format!("{}/{}", spec.dir, s.name), step, h as i32, w as i32, png)?;
                }
            }
            if self.cfg.npy {
                maps::write_npy(&dir.join(format!("{}.npy", s.name)), raw)?;
            }
            if self.cfg.png {
                maps::write_png(&dir.join(format!("{}.png", s.name)), map, spec.scale)?;
            }
        }
        Ok(())
    }

    /// Text maps [1,T]: the strip PNG (50 rows, ⌊255·score/max⌋, as the original), `.npy` and `<name>.json`.
    fn write_text(&mut self, s: &Sample, a: &Attribution, data: &dyn Dataset) -> Result<()> {
        let words = data.words(s).unwrap_or_default();
        for spec in self.specs.iter().filter(|s| s.layout == Layout::Input) {
            let raw = a.map(&spec.dir)?;
            let dir = self.wd.path(&spec.dir);
            let scores = raw.to_kind(tch::Kind::Float).to_device(tch::Device::Cpu).view([1, -1]);
            if self.cfg.npy {
                maps::write_npy(&dir.join(format!("{}.npy", s.name)), &scores.view(-1))?;
            }
            if self.cfg.png {
                // every text strip is max-normalised, input masks too (spec §5.3)
                maps::write_png(
                    &dir.join(format!("{}.png", s.name)),
                    &scores.expand([50, -1], false),
                    PngScale::MaxNormalised,
                )?;
            }
            let v = Vec::<f64>::try_from(scores.to_kind(tch::Kind::Double).view(-1))?;
            let json = serde_json::json!({ "name": s.name, "target": s.target, "tokens": words, "scores": v });
            crate::io::atomic::write(
                &dir.join(format!("{}.json", s.name)),
                serde_json::to_string_pretty(&json).expect("json").as_bytes(),
            )?;
        }
        Ok(())
    }

    /// One score per concept [1,K]: bars (the seed's explanation plot), `.npy` and `<name>.json`
    /// with the concepts' names: `names`, else the dataset's feature names (the concepts of a
    /// tabular SENN are its features), else C1…CK.
    fn write_concepts(
        &self,
        spec: &MapSpec,
        names: &[String],
        s: &Sample,
        a: &Attribution,
        map: &tch::Tensor,
        data: &dyn Dataset,
    ) -> Result<()> {
        let dir = self.wd.path(&spec.dir);
        let scores = Vec::<f64>::try_from(map.to_kind(tch::Kind::Double).to_device(tch::Device::Cpu).view(-1))?;
        let names: Vec<String> = match (names.len() == scores.len(), data.words(s)) {
            (true, _) => names.to_vec(),
            (false, Some(w)) if w.len() == scores.len() => w,
            _ => (1..=scores.len()).map(|k| format!("C{k}")).collect(),
        };
        if self.cfg.npy {
            maps::write_npy(&dir.join(format!("{}.npy", s.name)), &map.view(-1))?;
        }
        if self.cfg.png {
            let title = figure_title(s, spec, a);
            super::bars::BarPlot { title, labels: names.clone(), values: scores.clone() }
                .write(&dir.join(format!("{}.png", s.name)))?;
        }
        let json = serde_json::json!({ "name": s.name, "class": a.target, "concepts": names, "scores": scores });
        crate::io::atomic::write(
            &dir.join(format!("{}.json", s.name)),
            serde_json::to_string_pretty(&json).expect("json").as_bytes(),
        )
    }

    /// Images: `index.html`, every sample written so far with its maps' pictures ([`super::gallery`]).
    /// Text: one HTML page per map folder (`<dir>.html`) showing every review written so far with
    /// its words shaded by score (max-normalised per review); readable without a server.
    pub fn finish(&self, classes: &[String]) -> Result<()> {
        write_index(self.wd, &self.specs, self.modality, classes)
    }
}

/// The gallery of an image run (`index.html`) or the text pages of a 1-D one, of every sample in
/// `wd` so far.
pub fn write_index(wd: &WorkDir, specs: &[MapSpec], modality: Modality, classes: &[String]) -> Result<()> {
    if !modality.is_one_dimensional() {
        return super::gallery::write(wd.root(), specs, classes);
    }
    for spec in specs.iter().filter(|s| s.layout == Layout::Input) {
        super::text_page::write(&wd.path(&spec.dir), &wd.path(&format!("{}.html", spec.dir)))?;
    }
    Ok(())
}

/// A sample's figure title: its name, the map and the class explained.
fn figure_title(s: &Sample, spec: &MapSpec, a: &Attribution) -> String {
    format!("{}: {}{}", s.name, spec.dir, a.target.map_or(String::new(), |c| format!(", class {c}")))
}
