//! An offline stand-in for `cubecl-llvm` 0.11.3, the pliron → LLVM → PTX kernel compiler that
//! `cubecl-cuda` 0.11.3 always links. The real crate's build script downloads a prebuilt LLVM
//! (tracel-llvm-bundler), so a `burn/cuda` build fails without network; with this crate patched
//! in (root `Cargo.toml`, `[patch.crates-io]`) and cubecl's `cuda-cpp` feature on, cubecl-cuda
//! compiles every kernel as CUDA C++ through NVRTC, loaded at run time like the rest of CUDA.
//!
//! Only the items cubecl-cuda names exist. They are reached when the LLVM backend is selected
//! (`CudaBackend::Llvm`), which the `cuda-cpp` feature rules out; should that ever change,
//! [`PlironCompiler::compile`] fails with an error that says why instead of emitting PTX.
//! See `../shared/design/burn.md` §1.3 for the probe that chose this route.

use core::fmt;

use cubecl_core::ir::DeviceProperties;
use cubecl_core::ir::attributes::BufferIOAttr;
use cubecl_core::ir::nvidia::SmArch;
use cubecl_core::prelude::KernelDefinition;
use cubecl_runtime::compiler::{CompilationError, Compiler};

pub mod nvptx {
    pub mod ptx_version {
        use core::fmt;

        /// A PTX ISA version (8.7 is `87`): the newest a CUDA driver loads.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct PtxVersion(u32);

        impl PtxVersion {
            /// The PTX version the LLVM backend would emit for a CUDA `driver`
            /// (`cuDriverGetVersion`). Always `None`: only that backend reads it (its PTX header
            /// and cache key), and NVRTC writes its own.
            pub fn for_driver(_driver: i32) -> Option<Self> {
                None
            }
        }

        impl fmt::Display for PtxVersion {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "ptx{}", self.0)
            }
        }
    }
}

pub mod shared {
    pub mod lowered_features {
        use super::super::DeviceProperties;

        /// The target a device's advertised features would be narrowed for.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum GpuTarget {
            Nvptx,
        }

        /// The LLVM backend narrows the advertised features to what it lowers; the C++
        /// backend that runs here lowers what the device advertises, so nothing is removed.
        pub fn restrict_features(_props: &mut DeviceProperties, _target: GpuTarget) {}
    }
}

/// What the LLVM backend would compile for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LlvmTarget {
    #[default]
    Nvptx,
}

/// The LLVM backend's options, as cubecl-cuda fills them.
#[derive(Clone, Debug, Default)]
pub struct PlironOptions {
    /// AMD architecture (always `None` for CUDA).
    pub arch: Option<u32>,
    pub sm_arch: Option<SmArch>,
    pub ptx_version: Option<nvptx::ptx_version::PtxVersion>,
    pub grid_constants: bool,
}

/// A PTX module the LLVM backend would produce; never built here.
#[derive(Clone, Debug)]
pub struct NvptxModule {
    /// NUL-terminated PTX text.
    pub ptx: Vec<core::ffi::c_char>,
    pub ir: String,
    pub shared_memory_size: usize,
    pub io: Vec<BufferIOAttr>,
}

/// The LLVM backend's output.
#[derive(Clone, Debug)]
pub enum PlironArtifact {
    NvptxCode(NvptxModule),
}

impl fmt::Display for PlironArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlironArtifact::NvptxCode(module) => f.write_str(&module.ir),
        }
    }
}

/// The LLVM backend's compiler: present so cubecl-cuda links, and refusing every kernel.
#[derive(Clone, Debug, Default)]
pub struct PlironCompiler {
    pub target: LlvmTarget,
}

impl Compiler for PlironCompiler {
    type Representation = PlironArtifact;
    type CompilationOptions = PlironOptions;

    /// # Errors
    /// Always: this build has no LLVM; cubecl's `cuda-cpp` feature selects NVRTC instead.
    fn compile(
        &mut self,
        _kernel: KernelDefinition,
        _options: &PlironOptions,
    ) -> Result<PlironArtifact, CompilationError> {
        Err(CompilationError::Generic {
            reason: "rtseg's cuda build has no LLVM (crates/cubecl-llvm-stub); kernels compile \
                     through NVRTC with cubecl's cuda-cpp feature, which this build lacks"
                .to_string(),
            backtrace: cubecl_core::environment::backtrace::BackTrace::capture(),
        })
    }

    fn extension(&self) -> &'static str {
        "ll"
    }

    fn lang_tag(&self) -> &'static str {
        "llvm"
    }
}
