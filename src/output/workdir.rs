//! The work dir the user names: flat, as in the original tool. `config.toml` (resolved, re-runnable),
//! `log.txt`, TensorBoard event files, one folder per kind of map, and cached per-run state
//! (`state/`) so a re-run resumes where the last one stopped.
use crate::error::{Error, Result};
use crate::io::atomic;
use std::path::{Path, PathBuf};

pub struct WorkDir {
    root: PathBuf,
}

impl WorkDir {
    pub fn create(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        Ok(WorkDir { root: root.to_path_buf() })
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    pub fn log_file(&self) -> PathBuf {
        self.path("log.txt")
    }
    /// Cached intermediate results (e.g. the estimator), keyed by file name.
    pub fn state(&self, name: &str) -> PathBuf {
        self.root.join("state").join(name)
    }
    /// Writes the resolved config; refuses to resume into a work dir made with another config,
    /// since the finished samples there would silently mix two settings.
    pub fn write_config(&self, resolved: &str, allow_change: bool) -> Result<()> {
        let path = self.path("config.toml");
        if path.is_file() && !allow_change {
            let old = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            if old != resolved {
                return Err(Error::file(
                    &path,
                    "this work dir was made with a different config; use a new --work-dir, or pass --overwrite-config to resume with the new one",
                ));
            }
        }
        atomic::write(&path, resolved.as_bytes())
    }
}
