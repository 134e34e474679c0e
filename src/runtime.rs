//! Device selection and libtorch start-up. A binary built against the CPU libtorch can use a GPU
//! machine's PyTorch libraries (`LD_LIBRARY_PATH=<site-packages>/torch/lib`): rustc links with
//! `--as-needed`, so `libtorch_cuda.so` is never loaded unless we load it ourselves, before any tch
//! call, from the folder the loaded `libtorch_cpu.so` came from.
use crate::error::{Error, Result};
use tch::Device;

/// Loads `libtorch_cuda.so` next to the loaded `libtorch_cpu.so`, if there is one. Returns whether
/// it did; on a CPU-only libtorch it does nothing.
pub fn load_cuda_backend() -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let Some(dir) = maps
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .and_then(|p| std::path::Path::new(p).parent().map(|d| d.to_path_buf()))
    else {
        return false;
    };
    let cuda = dir.join("libtorch_cuda.so");
    if !cuda.is_file() {
        return false;
    }
    // SAFETY: loading a shared library runs its initialisers; libtorch_cuda's register CUDA kernels.
    match unsafe {
        libloading::os::unix::Library::open(
            Some(&cuda),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL,
        )
    } {
        Ok(lib) => {
            std::mem::forget(lib);
            true
        }
        Err(e) => {
            log::warn!("found {} but could not load it: {e}", cuda.display());
            false
        }
    }
}

/// The largest block glibc may serve from its heaps instead of a fresh `mmap` (its ceiling for
/// `M_MMAP_THRESHOLD` on 64-bit: half of a 64 MiB heap).
pub const HEAP_BLOCK_MAX: i32 = 32 << 20;
/// Freed heap memory glibc keeps before it returns any to the kernel.
pub const KEEP_FREED: i32 = 1 << 30;

/// Makes glibc keep freed tensor memory for the next tensor instead of handing it back to the
/// kernel. libtorch's CPU allocator is plain `malloc`; a batch of activations of a few MiB each
/// (a 64×64 model's first layer at 64 images: 16 MiB) is, by glibc's defaults, `mmap`ed, zeroed
/// page by page on first touch and unmapped at `free`, every pass: on 2 cores that was a quarter
/// of Integrated Gradients' time in the kernel (`clear_page_erms`, page faults) and removing it
/// took batched IG from 0.109 to 0.071 s per image and SmoothGrad from 0.065 to 0.041
/// (docs/benchmarks.md). The cost: the process keeps up to [`KEEP_FREED`] of freed memory
/// resident. `IBEX_MALLOC=default` leaves glibc's settings alone. Returns whether it applied them.
pub fn keep_freed_memory() -> bool {
    if std::env::var("IBEX_MALLOC").is_ok_and(|v| v == "default") {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes the allocator's thresholds; called before any tensor exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_BLOCK_MAX) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREED) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// `cpu`, `cuda`, `cuda:N` → a device that exists here.
pub fn parse_device(s: &str) -> Result<Device> {
    let dev = match s {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => Device::Cuda(n),
            None => return Err(Error::Device(format!("`{s}` is not a device; use cpu, cuda or cuda:N"))),
        },
    };
    let n = tch::Cuda::device_count() as usize;
    match dev {
        Device::Cuda(i) if i >= n => Err(Error::Device(format!(
            "`{s}` requested but {n} CUDA device(s) are visible (CPU libtorch, or no GPU; see README \"GPU machines\")"
        ))),
        d => Ok(d),
    }
}
