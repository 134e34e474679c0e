//! Reduced-precision arithmetic on CUDA (`precision` in the config). `tf32` lets cuBLAS and cuDNN
//! use TF32 tensor cores for float32 matmuls and convolutions (10-bit mantissa products, float32
//! accumulation); `bf16` and `fp16` run the attribution under CUDA autocast, which computes convs
//! and matmuls (the classifier's passes, and the WGAN critic's) in that type and keeps losses,
//! softmax and the optimisers in float32. Default `fp32`: strict float32 everywhere (TF32 off in
//! cuBLAS and cuDNN). `original`: PyTorch's defaults, under which the original ran: TF32 allowed in
//! cuDNN convolutions, not in cuBLAS matmuls (on the CPU the same as fp32).
//!
//! tch exposes autocast but neither its dtype nor the TF32 switches, so the few libtorch entry
//! points are looked up in the process (libtorch_cpu.so is linked) and called directly.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::ffi::c_void;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    #[default]
    Fp32,
    Original,
    Tf32,
    Bf16,
    Fp16,
}

/// c10::DeviceType::CUDA; c10::ScalarType::Half and BFloat16.
const CUDA: i8 = 1;
const HALF: i8 = 5;
const BFLOAT16: i8 = 15;

fn symbol<T: Copy>(name: &[u8]) -> Result<T> {
    let this = libloading::os::unix::Library::this();
    // SAFETY: the caller names a libtorch function whose C++ signature matches T under the
    // Itanium ABI (a member function takes `this` first).
    unsafe { this.get::<T>(name).map(|s| *s) }
        .map_err(|e| Error::Device(format!("libtorch entry point {} not found: {e}", String::from_utf8_lossy(name))))
}

fn global_context() -> Result<*mut c_void> {
    let f: extern "C" fn() -> *mut c_void = symbol(b"_ZN2at13globalContextEv\0")?;
    Ok(f())
}

/// Sets libtorch's `allow_tf32` for cuBLAS and cuDNN (torch.backends.*.allow_tf32).
pub fn set_allow_tf32(on: bool) -> Result<()> {
    set_allow_tf32_each(on, on)
}

/// Sets cuBLAS's (matmuls) and cuDNN's (convolutions) TF32 switches separately.
pub fn set_allow_tf32_each(cublas_on: bool, cudnn_on: bool) -> Result<()> {
    let ctx = global_context()?;
    let cublas: extern "C" fn(*mut c_void, bool) = symbol(b"_ZN2at7Context18setAllowTF32CuBLASEb\0")?;
    let cudnn: extern "C" fn(*mut c_void, bool) = symbol(b"_ZN2at7Context17setAllowTF32CuDNNEb\0")?;
    cublas(ctx, cublas_on);
    cudnn(ctx, cudnn_on);
    Ok(())
}

/// libtorch's current cuDNN TF32 switch. Its argument is a `std::optional<Float32Op>`, trivially
/// copyable and so passed in one register; 0 is `nullopt` (the switch for every cuDNN op).
pub fn allow_tf32_cudnn() -> Result<bool> {
    let f: extern "C" fn(*const c_void, u64) -> bool =
        symbol(b"_ZNK2at7Context14allowTF32CuDNNESt8optionalINS_9Float32OpEE\0")?;
    Ok(f(global_context()?, 0))
}

/// libtorch's current cuBLAS TF32 switch.
pub fn allow_tf32() -> Result<bool> {
    let f: extern "C" fn(*const c_void) -> bool = symbol(b"_ZNK2at7Context15allowTF32CuBLASEv\0")?;
    Ok(f(global_context()?))
}

/// The type CUDA autocast computes in: 5 (half) or 15 (bfloat16).
pub fn cuda_autocast_dtype() -> Result<i8> {
    let f: extern "C" fn(i8) -> i8 = symbol(b"_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE\0")?;
    Ok(f(CUDA))
}

pub fn set_cuda_autocast_dtype(dtype: i8) -> Result<()> {
    let f: extern "C" fn(i8, i8) =
        symbol(b"_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE\0")?;
    f(CUDA, dtype);
    Ok(())
}

impl Precision {
    /// Reduced precision needs a CUDA device (`original` is fp32 on the CPU).
    pub fn check(self, device: tch::Device) -> Result<()> {
        if !matches!(self, Precision::Fp32 | Precision::Original) && !device.is_cuda() {
            return Err(Error::ConfigMsg(format!(
                "`precision = \"{}\"` needs `device = \"cuda\"` (it is CUDA-only); use \"fp32\" on the CPU",
                self.name()
            )));
        }
        Ok(())
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Original => "original",
            Precision::Tf32 => "tf32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        }
    }

    /// Sets the process-wide switches for this precision (TF32 on for tf32; for original, in
    /// cuDNN only, as PyTorch's defaults; off otherwise).
    pub fn apply(self) -> Result<()> {
        match self {
            Precision::Original => set_allow_tf32_each(false, true)?,
            other => set_allow_tf32(other == Precision::Tf32)?,
        }
        match self {
            Precision::Bf16 => set_cuda_autocast_dtype(BFLOAT16),
            Precision::Fp16 => set_cuda_autocast_dtype(HALF),
            _ => Ok(()),
        }
    }

    /// Runs `f` under CUDA autocast for bf16/fp16, as it is otherwise.
    pub fn run<T>(self, f: impl FnOnce() -> T) -> T {
        tch::autocast(matches!(self, Precision::Bf16 | Precision::Fp16), f)
    }
}
