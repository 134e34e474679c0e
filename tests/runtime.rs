//! The CUDA start-up path, checked on CPU with a stand-in library: a binary built against the CPU
//! libtorch loads `libtorch_cuda.so` when one lies next to the `libtorch_cpu.so` it runs against
//! (`LD_LIBRARY_PATH` wins over the binary's RUNPATH), and runs on without one.
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder of the libtorch_cpu.so this test process has loaded.
fn libtorch_dir() -> PathBuf {
    let _ = tch::Tensor::zeros([1], (tch::Kind::Float, tch::Device::Cpu));
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let p = maps.lines().filter_map(|l| l.split_whitespace().last()).find(|p| p.ends_with("/libtorch_cpu.so")).unwrap();
    Path::new(p).parent().unwrap().to_path_buf()
}

fn print_config(ld_path: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_print_config"))
        .args(["--config", concat!(env!("CARGO_MANIFEST_DIR"), "/configs/quickstart.toml")])
        .env("LD_LIBRARY_PATH", ld_path)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cuda_backend_is_loaded_when_present_next_to_libtorch() {
    let real = libtorch_dir();
    let d = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&real).unwrap() {
        let p = e.unwrap().path();
        // hard links (or copies), not symlinks: the loader reports a symlink's target as the
        // library's path, and the stand-in must sit next to the path it reports
        let to = d.path().join(p.file_name().unwrap());
        let real_file = std::fs::canonicalize(&p).unwrap();
        if std::fs::hard_link(&real_file, &to).is_err() {
            std::fs::copy(&real_file, &to).unwrap();
        }
    }
    assert!(!print_config(d.path()).contains("libtorch_cuda loaded"), "no CUDA library, no CUDA");
    // a stand-in libtorch_cuda.so (an empty shared library)
    let src = d.path().join("stub.c");
    std::fs::write(&src, "void ibex_stub(void) {}\n").unwrap();
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(d.path().join("libtorch_cuda.so"))
        .arg(&src)
        .status()
        .unwrap();
    assert!(cc.success());
    assert!(print_config(d.path()).contains("libtorch_cuda loaded"));
}

#[test]
fn binaries_find_libtorch_without_ld_library_path() {
    let out = Command::new(env!("CARGO_BIN_EXE_list")).env_remove("LD_LIBRARY_PATH").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FeatureIba"));
}

/// The TF32 and autocast-dtype switches reach libtorch (read back through libtorch itself); they
/// are process-wide flags, harmless on the CPU.
#[test]
fn precision_switches_reach_libtorch() {
    use ibex::precision::{allow_tf32, cuda_autocast_dtype, Precision};
    let _ = tch::Tensor::zeros([1], (tch::Kind::Float, tch::Device::Cpu));
    Precision::Tf32.apply().unwrap();
    assert!(allow_tf32().unwrap());
    Precision::Bf16.apply().unwrap();
    assert!(!allow_tf32().unwrap());
    assert_eq!(cuda_autocast_dtype().unwrap(), 15, "bfloat16");
    Precision::Fp16.apply().unwrap();
    assert_eq!(cuda_autocast_dtype().unwrap(), 5, "half");
    Precision::Fp32.apply().unwrap();
    assert!(!allow_tf32().unwrap());
    // "original": PyTorch's defaults, TF32 in cuDNN convolutions only
    Precision::Original.apply().unwrap();
    assert!(!allow_tf32().unwrap() && ibex::precision::allow_tf32_cudnn().unwrap());
    Precision::Fp32.apply().unwrap();
    assert!(!ibex::precision::allow_tf32_cudnn().unwrap(), "fp32 is strict");
}
