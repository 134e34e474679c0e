//! Everything a run writes: the work dir, attribution maps as PNG/NPY/overlay, TensorBoard events.
//! Every file is written atomically (temp file + rename), so an interrupted run never leaves a
//! half-written map that a re-run would mistake for a finished one.
pub mod bars;
pub mod fit_report;
pub mod font;
pub mod gallery;
pub mod heatmap;
pub mod map_format;
pub mod maps;
pub mod plot;
pub mod sink;
pub mod tensorboard;
pub mod text_page;
pub mod workdir;

pub use map_format::MapFormat;
pub use sink::{write_index, MapSink, OutputConfig};
pub use tensorboard::{EventWriter, LazyEventWriter};
pub use workdir::WorkDir;
