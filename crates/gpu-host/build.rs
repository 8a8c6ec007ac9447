//! Compiles `src/gpu/kernels.cu` of the rtseg crate as host C++ (with `csrc/host_cuda.h`) and
//! the launchers in `csrc/host.cpp`. Multiply-adds stay unfused, as NVRTC's `--fmad=false`
//! keeps them on the GPU.

fn main() {
    let kernels = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src/gpu/kernels.cu");
    println!("cargo:rerun-if-changed={}", kernels.display());
    println!("cargo:rerun-if-changed=csrc");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .file("csrc/host.cpp")
        .include("csrc")
        .define(
            "RTSEG_KERNELS",
            format!("\"{}\"", kernels.display()).as_str(),
        )
        .flag("-ffp-contract=off")
        .flag_if_supported("-fno-fast-math")
        .opt_level(2)
        .compile("rtseg_gpu_host");
}
