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
        let wd = WorkDir { root: root.to_path_buf() };
        wd.remove_stale_temp_files();
        Ok(wd)
    }

    /// Temp files (`.<name>.<pid>.tmp`) left by a process killed mid-write: removed when that
    /// process is gone (a live shard's are its own business). Only ever half-written copies.
    fn remove_stale_temp_files(&self) {
        let dirs = std::iter::once(self.root.clone()).chain(
            std::fs::read_dir(&self.root).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()),
        );
        for dir in dirs {
            for f in std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()) {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let pid =
                    name.strip_suffix(".tmp").filter(|_| name.starts_with('.')).and_then(|s| s.rsplit('.').next());
                if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) {
                    if !Path::new(&format!("/proc/{pid}")).exists() && std::fs::remove_file(&f).is_ok() {
                        log::info!("removed {}, left by an interrupted write", f.display());
                    }
                }
            }
        }
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
        self.pin(&self.path("config.toml"), resolved, allow_change, "a different config")
    }
    /// Records the model's digest (its table and weights file); refuses a work dir whose maps were
    /// made with other weights, e.g. a weights file replaced in place.
    pub fn write_model_digest(&self, digest: &str, allow_change: bool) -> Result<()> {
        self.pin(&self.state("model_digest.txt"), digest, allow_change, "other model weights")
    }
    /// Writes `content` to `path`. When the file holds something else, the work dir's outputs were
    /// made under other settings: refused, or with `allow_change` moved to `superseded/` first,
    /// so that no old map is ever mistaken for a new one.
    fn pin(&self, path: &Path, content: &str, allow_change: bool, what: &str) -> Result<()> {
        let old =
            if path.is_file() { Some(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?) } else { None };
        if old.as_deref().is_some_and(|o| o != content) {
            if allow_change {
                let to = self.supersede()?;
                log::warn!("this work dir was made with {what}: its outputs were moved to {}", to.display());
            } else {
                return Err(Error::file(
                    path,
                    format!(
                        "this work dir was made with {what}; use a new --work-dir, or pass --overwrite-config \
                         to start over in it (the old outputs are moved to superseded/)"
                    ),
                ));
            }
        }
        atomic::write(path, content.as_bytes())
    }

    /// Moves every output (maps, state, events, summaries, metrics) into
    /// `superseded/<unix time>/`, keeping `log.txt` and a copy of `config.toml` there.
    fn supersede(&self) -> Result<PathBuf> {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let to = self.root.join("superseded").join(secs.to_string());
        std::fs::create_dir_all(&to).map_err(|e| Error::io(&to, e))?;
        for entry in std::fs::read_dir(&self.root).map_err(|e| Error::io(&self.root, e))? {
            let p = entry.map_err(|e| Error::io(&self.root, e))?.path();
            match p.file_name().and_then(|n| n.to_str()) {
                Some("log.txt" | "superseded") => {}
                Some("config.toml") => {
                    std::fs::copy(&p, to.join("config.toml")).map_err(|e| Error::io(&p, e))?;
                }
                _ => {
                    let dest = to.join(p.file_name().unwrap_or_default());
                    std::fs::rename(&p, &dest).map_err(|e| Error::io(&p, e))?;
                }
            }
        }
        Ok(to)
    }
}
