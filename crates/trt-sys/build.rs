//! Compiles `csrc/shim.cpp` once per TensorRT flavour whose headers are found: TensorRT from
//! `TENSORRT_INCLUDE_DIR` or the system paths JetPack and NVIDIA's packages use, TensorRT-RTX
//! from `TENSORRT_RTX_INCLUDE_DIR`. No TensorRT library is linked (the shim dlopens it), so the
//! headers are the only build-time requirement; without any, the build stops with what to set.

use std::path::{Path, PathBuf};

/// Where JetPack and NVIDIA's Debian/RPM packages put `NvInfer.h`.
const SYSTEM_DIRS: [&str; 4] = [
    "/usr/include/aarch64-linux-gnu",
    "/usr/include/x86_64-linux-gnu",
    "/usr/local/tensorrt/include",
    "/usr/include",
];

fn has_headers(dir: &Path) -> bool {
    dir.join("NvInfer.h").is_file() && dir.join("NvOnnxParser.h").is_file()
}

fn find(var: &str, system: &[&str]) -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed={var}");
    if let Some(dir) = std::env::var_os(var) {
        let dir = PathBuf::from(dir);
        if !has_headers(&dir) {
            panic!(
                "{var}={} holds no NvInfer.h and NvOnnxParser.h; point it at a TensorRT include folder",
                dir.display()
            );
        }
        return Some(dir);
    }
    system.iter().map(PathBuf::from).find(|d| has_headers(d))
}

fn compile(flavour: &str, headers: &Path, getter: &str, extra: &[(&str, &str)]) {
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .file("csrc/shim.cpp")
        .include("csrc")
        .include(headers)
        .define("RTSEG_API_GETTER", getter)
        .flag_if_supported("-fvisibility=hidden")
        .flag_if_supported("-Wno-deprecated-declarations")
        .warnings(false);
    // The shim passes streams through as opaque pointers; real CUDA headers are optional.
    match std::env::var_os("CUDA_INCLUDE_DIR") {
        Some(cuda) => build.include(cuda),
        None => build.include("csrc/cuda_stub"),
    };
    for (name, value) in extra {
        build.define(name, *value);
    }
    build.compile(&format!("rtseg_trt_{flavour}"));
    println!("cargo:rustc-cfg=rtseg_trt_{flavour}");
}

fn main() {
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-env-changed=CUDA_INCLUDE_DIR");
    println!("cargo:rustc-check-cfg=cfg(rtseg_trt_tensorrt)");
    println!("cargo:rustc-check-cfg=cfg(rtseg_trt_rtx)");
    let tensorrt = find("TENSORRT_INCLUDE_DIR", &SYSTEM_DIRS);
    let rtx = find("TENSORRT_RTX_INCLUDE_DIR", &[]);
    if tensorrt.is_none() && rtx.is_none() {
        panic!(
            "the `tensorrt` feature needs TensorRT headers (NvInfer.h, NvOnnxParser.h) and found none \
             in {SYSTEM_DIRS:?}: set TENSORRT_INCLUDE_DIR (JetPack: /usr/include/aarch64-linux-gnu) \
             and/or TENSORRT_RTX_INCLUDE_DIR. `bash scripts/trt_headers.sh` prints both for the \
             Apache-2.0 headers that the trtx-sys crate ships (fetched with cargo, not copied)"
        );
    }
    if let Some(dir) = tensorrt {
        compile("tensorrt", &dir, "rtseg_trt_api_tensorrt", &[]);
    }
    if let Some(dir) = rtx {
        // Renamed namespaces keep the two flavours' header-defined classes apart in one binary.
        let renames = [
            ("RTSEG_FLAVOUR_RTX", "1"),
            ("nvinfer1", "nvinfer1_rtx"),
            ("nvonnxparser", "nvonnxparser_rtx"),
        ];
        compile("rtx", &dir, "rtseg_trt_api_rtx", &renames);
    }
    println!("cargo:rustc-link-lib=dl");
}
