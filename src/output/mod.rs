//! Everything a run writes: the work dir, attribution maps as PNG/NPY/overlay, TensorBoard events.
//! Every file is written atomically (temp file + rename), so an interrupted run never leaves a
//! half-written map that a re-run would mistake for a finished one.
pub mod atomic;
pub mod font;
pub mod lock;
pub mod maps;
pub mod plot;
pub mod sink;
pub mod tensorboard;
pub mod text_page;
pub mod workdir;

pub use sink::MapSink;
pub use tensorboard::EventWriter;
pub use workdir::WorkDir;
