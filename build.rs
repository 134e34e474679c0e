//! Gives every binary a RUNPATH to the libtorch it was built against, so users never export
//! `LD_LIBRARY_PATH` (torch-sys passes its rpath only to its own C++ compile). `LD_LIBRARY_PATH` still
//! takes precedence, which is how a binary built here runs against a GPU machine's PyTorch libraries.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
