//! The bottom layer for files: atomic writes (temp file + rename, so a reader sees the old file or
//! the whole new one) and cross-process locks. Every layer above writes through it.
pub mod atomic;
pub mod digest;
pub mod lock;
pub mod npy;
