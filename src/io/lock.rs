//! An exclusive lock on a file in the work dir, so that several processes sharing one work dir
//! (`tools/train --shard i/n`) compute shared state such as the estimator once: the first takes
//! the lock and computes, the others wait and then reuse its result. Released on drop.
use crate::error::{Error, Result};
use std::path::Path;

pub struct FileLock {
    file: std::fs::File,
}

impl FileLock {
    /// The lock, after saying `why` we wait when another process holds it.
    pub fn acquire_or_say(path: &Path, why: &str) -> Result<Self> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(FileLock { file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                log::warn!("{why} ({} is locked); waiting for it", path.display());
                file.lock().map_err(|e| Error::io(path, e))?;
                Ok(FileLock { file })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }

    fn open(path: &Path) -> Result<std::fs::File> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(|e| Error::io(path, e))
    }

    /// Blocks until the lock on `path` (created if missing) is held.
    pub fn acquire(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.lock().map_err(|e| Error::io(path, e))?;
        Ok(FileLock { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}
