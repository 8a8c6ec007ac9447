//! The burn device rtseg computes on (training, the architecture search, `rtseg bench` and
//! `--backend burn`): the first backend this build has in burn's own order — CUDA (feature
//! `cuda`), Vulkan (feature `vulkan`), then the CPU `flex` backend every build has — unless
//! `BURN_DEVICE` (burn's variable) names another one this build has.
//!
//! burn panics on a `BURN_DEVICE` it does not know or was not built with, and cudarc, under
//! burn's CUDA backend, panics in a worker thread when the CUDA driver or NVRTC cannot be
//! loaded. [`device`] checks both first so that either is an error naming the cause.

use burn::prelude::Device;

/// burn's device variable: `flex`, `cuda` or `vulkan` (case-insensitive), as built.
pub const VARIABLE: &str = "BURN_DEVICE";

/// The backends this build has, in the order burn picks its default.
pub const BUILT: &[&str] = &[
    #[cfg(feature = "cuda")]
    "cuda",
    #[cfg(feature = "vulkan")]
    "vulkan",
    "flex",
];

/// The device named by `BURN_DEVICE`, or the build's first backend ([`BUILT`]) when unset.
///
/// # Errors
/// `BURN_DEVICE` naming a backend this build does not have (listing those it has), or CUDA
/// chosen on a machine where `libcuda` or `libnvrtc` cannot be loaded.
pub fn device() -> anyhow::Result<Device> {
    let (name, chosen) = match std::env::var(VARIABLE) {
        Ok(name) => (name.to_lowercase(), format!("{VARIABLE}={name}")),
        Err(std::env::VarError::NotPresent) => (
            BUILT[0].to_string(),
            format!("{} (this build's default; {VARIABLE} unset)", BUILT[0]),
        ),
        Err(std::env::VarError::NotUnicode(raw)) => {
            anyhow::bail!("{VARIABLE}={raw:?} is not UTF-8")
        }
    };
    if !BUILT.contains(&name.as_str()) {
        anyhow::bail!(
            "{chosen}: this build computes on {}; the GPU backends are the cargo features \
             `cuda` and `vulkan` (README: Cargo features)",
            BUILT.join(", ")
        );
    }
    #[cfg(feature = "cuda")]
    if name == "cuda" {
        cuda_libraries(&chosen)?;
    }
    // Validated above, so burn's own choice (the same variable, the same order) cannot panic.
    Ok(Device::default())
}

/// Both libraries burn's CUDA backend loads at run time: the driver, and NVRTC, which
/// compiles its kernels (cubecl's C++ backend, see `crates/cubecl-llvm-stub`).
///
/// Looked up with libloading rather than cudarc's own `is_culib_present`: depending on cudarc
/// here would unify its CUDA-version feature (rtseg's `cuda-12060`) with the one cubecl-cuda
/// builds against, and cubecl-cuda's build script picks its API level from the other.
#[cfg(feature = "cuda")]
fn cuda_libraries(chosen: &str) -> anyhow::Result<()> {
    for (what, names) in [
        ("the CUDA driver", &["libcuda.so.1", "libcuda.so"][..]),
        (
            "NVRTC",
            &["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"][..],
        ),
    ] {
        // SAFETY: loading runs the libraries' initialisers, as cudarc's own loading would.
        let found = names
            .iter()
            .any(|name| unsafe { libloading::Library::new(name) }.is_ok());
        anyhow::ensure!(
            found,
            "{chosen}: {what} cannot be loaded (tried {}; put its folder on \
             LD_LIBRARY_PATH); {VARIABLE}=flex computes on the CPU",
            names.join(", ")
        );
    }
    Ok(())
}
