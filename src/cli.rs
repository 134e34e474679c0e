//! What every tool does first, so that the binaries in `tools/` stay a page of argument parsing.
use std::path::{Path, PathBuf};

/// Sets the allocator up ([`crate::runtime::keep_freed_memory`]), loads the CUDA backend when
/// present (see [`crate::runtime`]) and installs the logger.
pub fn start() {
    let kept = crate::runtime::keep_freed_memory();
    let cuda = crate::runtime::load_cuda_backend();
    crate::logging::init();
    crate::panics::install_hook();
    if !kept {
        log::debug!("glibc's allocator left at its defaults (IBEX_MALLOC=default, or not glibc)");
    }
    if cuda {
        log::debug!("libtorch_cuda loaded; {} CUDA device(s)", tch::Cuda::device_count());
    }
}

/// `--work-dir` if given, else `workdirs/<config stem>` (as the original's tools do).
pub fn work_dir(arg: Option<&Path>, config: &Path) -> PathBuf {
    arg.map(Path::to_path_buf).unwrap_or_else(|| {
        let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
        PathBuf::from("workdirs").join(stem)
    })
}
