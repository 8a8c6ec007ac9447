//! The `tensorrt` backend: TensorRT engines through rtseg's C++ shim (`crates/trt-sys`, which
//! dlopens `libnvinfer.so.{11,10,8}` or TensorRT-RTX's `libtensorrt_rtx.so.1` at run time) and
//! the CUDA pre/post-processing stage ([`crate::gpu`]): a frame goes to the GPU once, the mask
//! comes back once. Engines are built in-process from rtseg's ONNX exports and cached with a
//! manifest ([`engine`]).
//!
//! A binary with this backend runs where TensorRT or CUDA is missing and says so: every entry
//! point returns an error naming what is missing and how to get it.

pub mod engine;
pub mod segmenter;

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rtseg_trt_sys::{RtsegBuffer, RtsegBuildParams, RtsegCalibrator, RtsegTrtApi};
use serde::{Deserialize, Serialize};

pub use crate::backend::trt_config::Flavour;

impl Flavour {
    fn api(self) -> Option<&'static RtsegTrtApi> {
        match self {
            Flavour::Tensorrt => rtseg_trt_sys::tensorrt(),
            Flavour::TensorrtRtx => rtseg_trt_sys::rtx(),
        }
    }

    /// `(runtime, ONNX parser)` file names tried in order when no path is given.
    fn default_libraries(self) -> Vec<(&'static str, Option<&'static str>)> {
        match self {
            Flavour::Tensorrt => vec![
                ("libnvinfer.so.11", Some("libnvonnxparser.so.11")),
                ("libnvinfer.so.10", Some("libnvonnxparser.so.10")),
                ("libnvinfer.so.8", Some("libnvonnxparser.so.8")),
                // The runtime-only wheel (tensorrt-lean-cu13-libs): runs version-compatible
                // plans, builds nothing.
                ("libnvinfer_lean.so.11", None),
            ],
            Flavour::TensorrtRtx => vec![(
                "libtensorrt_rtx.so.1",
                Some("libtensorrt_onnxparser_rtx.so.1"),
            )],
        }
    }

    /// The wheel folder (`<site-packages>/<folder>`) that ships this flavour's libraries.
    fn wheel_folders(self) -> &'static [&'static str] {
        match self {
            Flavour::Tensorrt => &["tensorrt_libs", "tensorrt_lean_libs"],
            Flavour::TensorrtRtx => &["tensorrt_rtx_libs"],
        }
    }
}

/// Why a TensorRT call failed.
#[derive(Debug, thiserror::Error)]
pub enum TrtError {
    #[error(
        "this rtseg was built without {0} headers; rebuild with `--features tensorrt` and \
         {1} pointing at them"
    )]
    NotCompiled(&'static str, &'static str),
    #[error("{0}")]
    Library(String),
    #[error("{0}")]
    Call(String),
}

/// A loaded TensorRT library (one per flavour and process: the shim keeps it global).
pub struct Library {
    api: &'static RtsegTrtApi,
    pub flavour: Flavour,
    /// The library's own version number (`getInferLibVersion`).
    pub version: i32,
    pub path: PathBuf,
    pub parser: Option<PathBuf>,
}

/// `major.minor.patch` of a TensorRT version number (10+: M·10⁴ + m·10² + p; 8: M·10³ + …).
pub fn version_text(version: i32) -> String {
    let base = if version >= 10_000 { 10_000 } else { 1_000 };
    format!(
        "{}.{}.{}",
        version / base,
        version % base / 100,
        version % 100
    )
}

fn c_text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: the shim returns NUL-terminated strings that live until the next call.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// `.venv/lib/python3.*/site-packages/<folder>/<file>` under the working directory or the
/// binary's ancestors (the test environment `scripts/test.sh` makes).
pub(crate) fn in_venv(folder: &str, file: &str) -> Option<PathBuf> {
    let mut roots: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    roots.iter().find_map(|root| {
        std::fs::read_dir(root.join(".venv/lib"))
            .ok()?
            .flatten()
            .map(|python| python.path().join("site-packages").join(folder).join(file))
            .find(|p| p.is_file())
    })
}

static LIBRARIES: [OnceLock<Result<Library, String>>; 2] = [OnceLock::new(), OnceLock::new()];

impl Library {
    /// Loads `flavour`'s runtime and ONNX parser: `path` (the parser beside it), else
    /// `$RTSEG_TENSORRT_LIBRARY` / `$RTSEG_TENSORRT_RTX_LIBRARY`, else the system's library
    /// search path, else the wheels in `.venv`. Loads once per process.
    ///
    /// # Errors
    /// [`TrtError::NotCompiled`] without headers at build time; [`TrtError::Library`] naming
    /// every file tried, or a library of another major version than the headers.
    pub fn load(flavour: Flavour, path: Option<&Path>) -> Result<&'static Library, TrtError> {
        let Some(api) = flavour.api() else {
            return Err(match flavour {
                Flavour::Tensorrt => TrtError::NotCompiled("TensorRT", "TENSORRT_INCLUDE_DIR"),
                Flavour::TensorrtRtx => {
                    TrtError::NotCompiled("TensorRT-RTX", "TENSORRT_RTX_INCLUDE_DIR")
                }
            });
        };
        let slot = &LIBRARIES[flavour as usize];
        let loaded = slot.get_or_init(|| Self::open(api, flavour, path));
        match loaded {
            Ok(library) => {
                if let Some(asked) = path
                    && asked != library.path
                {
                    return Err(TrtError::Library(format!(
                        "{} is already loaded from {}; cannot also load {}",
                        flavour.name(),
                        library.path.display(),
                        asked.display()
                    )));
                }
                Ok(library)
            }
            Err(e) => Err(TrtError::Library(e.clone())),
        }
    }

    fn open(
        api: &'static RtsegTrtApi,
        flavour: Flavour,
        path: Option<&Path>,
    ) -> Result<Self, String> {
        if api.abi != rtseg_trt_sys::ABI {
            return Err(format!(
                "shim ABI {} does not match {}",
                api.abi,
                rtseg_trt_sys::ABI
            ));
        }
        let env = match flavour {
            Flavour::Tensorrt => "RTSEG_TENSORRT_LIBRARY",
            Flavour::TensorrtRtx => "RTSEG_TENSORRT_RTX_LIBRARY",
        };
        let mut candidates: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        let explicit = path
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(env).map(PathBuf::from));
        let defaults = flavour.default_libraries();
        match explicit {
            Some(runtime) => {
                // The parser that pairs with the runtime's file name, in the same folder.
                let name = runtime.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let parser = defaults
                    .iter()
                    .find(|(r, _)| *r == name)
                    .and_then(|(_, p)| p.map(|p| runtime.with_file_name(p)));
                candidates.push((runtime, parser));
            }
            None => {
                for (runtime, parser) in &defaults {
                    candidates.push((PathBuf::from(runtime), parser.map(PathBuf::from)));
                    for folder in flavour.wheel_folders() {
                        if let Some(found) = in_venv(folder, runtime) {
                            let parser = parser.map(|p| found.with_file_name(p));
                            candidates.push((found, parser));
                        }
                    }
                }
            }
        }
        let mut tried = Vec::new();
        for (runtime, parser) in candidates {
            let runtime_c =
                CString::new(runtime.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
            let parser = parser.filter(|p| !p.is_absolute() || p.is_file());
            let parser_c = parser
                .as_ref()
                .map(|p| CString::new(p.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string()))
                .transpose()?;
            let mut version = 0;
            // SAFETY: valid NUL-terminated paths and an out pointer; the shim catches everything.
            let status = unsafe {
                (api.load)(
                    runtime_c.as_ptr(),
                    parser_c.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                    &mut version,
                )
            };
            // SAFETY: as above.
            let error = c_text(unsafe { (api.last_error)() });
            if status == 0 {
                return Ok(Library {
                    api,
                    flavour,
                    version,
                    path: runtime,
                    parser,
                });
            }
            if !error.contains("cannot load") {
                // The file exists but is not a usable library of this flavour: say why.
                return Err(error);
            }
            tried.push(runtime.display().to_string());
        }
        Err(format!(
            "no {} library found (tried {}); install {} or set {env} to its runtime library",
            flavour.name(),
            tried.join(", "),
            match flavour {
                Flavour::Tensorrt => "TensorRT (JetPack ships it)",
                Flavour::TensorrtRtx => "TensorRT-RTX (`pip install tensorrt-rtx-cu13-libs`)",
            }
        ))
    }

    /// `flavour major.minor.patch` of the loaded library.
    pub fn describe(&self) -> String {
        format!("{} {}", self.flavour.name(), version_text(self.version))
    }

    /// The version of the headers the shim was compiled against.
    pub fn header_version(&self) -> i32 {
        self.api.header_version
    }

    fn error(&self) -> String {
        // SAFETY: the shim returns this thread's last error text.
        c_text(unsafe { (self.api.last_error)() })
    }

    /// A runtime for deserializing engines.
    ///
    /// # Errors
    /// [`TrtError::Call`] (e.g. no CUDA driver) with TensorRT's own message.
    pub fn runtime(&'static self) -> Result<Runtime, TrtError> {
        // SAFETY: the library is loaded; the shim checks for errors logged during creation.
        let ptr = unsafe { (self.api.runtime_create)() };
        if ptr.is_null() {
            return Err(TrtError::Call(self.error()));
        }
        Ok(Runtime { lib: self, ptr })
    }

    /// Parses `onnx` and builds a serialized engine (and the updated timing cache).
    ///
    /// # Errors
    /// [`TrtError::Call`]: no builder in the loaded library, the ONNX parser's errors, or the
    /// builder's.
    pub fn build(&'static self, request: &BuildRequest<'_>) -> Result<BuiltPlan, TrtError> {
        let name = CString::new(request.input_name).map_err(|e| TrtError::Call(e.to_string()))?;
        let rank = request.min.len();
        if request.opt.len() != rank || request.max.len() != rank {
            return Err(TrtError::Call(
                "profile dimensions of different ranks".into(),
            ));
        }
        let calibrator = request.calibrator.as_ref().map(|c| c.as_ffi());
        let params = RtsegBuildParams {
            onnx: request.onnx.as_ptr().cast(),
            onnx_len: request.onnx.len() as u64,
            fp16: request.fp16 as i32,
            int8: request.int8 as i32,
            workspace_bytes: request.workspace_bytes,
            input_name: name.as_ptr(),
            rank: rank as i32,
            min_dims: request.min.as_ptr(),
            opt_dims: request.opt.as_ptr(),
            max_dims: request.max.as_ptr(),
            timing_cache: request.timing_cache.as_ptr().cast(),
            timing_cache_len: request.timing_cache.len() as u64,
            calibrator: calibrator
                .as_ref()
                .map_or(std::ptr::null(), |c| c as *const _),
        };
        let mut plan = RtsegBuffer {
            data: std::ptr::null_mut(),
            len: 0,
        };
        let mut cache = RtsegBuffer {
            data: std::ptr::null_mut(),
            len: 0,
        };
        // SAFETY: every pointer in `params` lives until the call returns; the shim fills the
        // two buffers with malloc'd memory that `take` frees.
        let status = unsafe { (self.api.build)(&params, &mut plan, &mut cache) };
        if status != 0 {
            return Err(TrtError::Call(self.error()));
        }
        Ok(BuiltPlan {
            plan: self.take(&mut plan),
            timing_cache: self.take(&mut cache),
        })
    }

    fn take(&self, buffer: &mut RtsegBuffer) -> Vec<u8> {
        if buffer.data.is_null() {
            return Vec::new();
        }
        // SAFETY: the shim allocated `len` bytes at `data`.
        let bytes =
            unsafe { std::slice::from_raw_parts(buffer.data as *const u8, buffer.len as usize) }
                .to_vec();
        // SAFETY: frees what the shim allocated.
        unsafe { (self.api.buffer_free)(buffer) };
        bytes
    }
}

/// Host-side INT8 calibration for TensorRT ≤ 10: the caller's closure puts each batch on the
/// GPU and returns its device address, `None` at the end of the set.
pub struct Calibration<'a> {
    pub batch_size: i32,
    pub next: Box<dyn FnMut() -> Option<*mut c_void> + 'a>,
    /// A previous run's calibration table (empty: calibrate).
    pub cache: Vec<u8>,
    /// Receives the new calibration table.
    pub written: std::cell::RefCell<Vec<u8>>,
}

unsafe extern "C" fn next_batch(user: *mut c_void, device: *mut *mut c_void) -> i32 {
    // SAFETY: `user` is the `Calibration` that `as_ffi` pointed at; it outlives the build.
    let calibration = unsafe { &mut *(user as *mut Calibration<'_>) };
    match (calibration.next)() {
        Some(ptr) => {
            // SAFETY: the shim passes a valid out pointer.
            unsafe { *device = ptr };
            1
        }
        None => 0,
    }
}

unsafe extern "C" fn write_cache(user: *mut c_void, data: *const c_void, len: u64) {
    // SAFETY: as in `next_batch`; TensorRT passes `len` readable bytes.
    let calibration = unsafe { &*(user as *const Calibration<'_>) };
    let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, len as usize) };
    *calibration.written.borrow_mut() = bytes.to_vec();
}

impl Calibration<'_> {
    fn as_ffi(&self) -> RtsegCalibrator {
        RtsegCalibrator {
            user: self as *const Self as *mut c_void,
            batch_size: self.batch_size,
            next_batch,
            cache: self.cache.as_ptr().cast(),
            cache_len: self.cache.len() as u64,
            write_cache: Some(write_cache),
        }
    }
}

/// What to build.
pub struct BuildRequest<'a> {
    pub onnx: &'a [u8],
    pub fp16: bool,
    pub int8: bool,
    pub workspace_bytes: u64,
    pub input_name: &'a str,
    /// Optimisation profile of the input.
    pub min: Vec<i64>,
    pub opt: Vec<i64>,
    pub max: Vec<i64>,
    pub timing_cache: &'a [u8],
    pub calibrator: Option<Calibration<'a>>,
}

/// A serialized engine and the builder's timing cache.
pub struct BuiltPlan {
    pub plan: Vec<u8>,
    pub timing_cache: Vec<u8>,
}

/// A TensorRT runtime.
pub struct Runtime {
    lib: &'static Library,
    ptr: *mut c_void,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // SAFETY: created by runtime_create and destroyed once.
        unsafe { (self.lib.api.runtime_destroy)(self.ptr) };
    }
}

/// Element types of engine tensors (TensorRT's `DataType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorType {
    F32,
    F16,
    I8,
    I32,
    Bool,
    U8,
    Fp8,
    Bf16,
    I64,
    Other,
}

impl TensorType {
    fn from_trt(code: i32) -> Self {
        match code {
            0 => TensorType::F32,
            1 => TensorType::F16,
            2 => TensorType::I8,
            3 => TensorType::I32,
            4 => TensorType::Bool,
            5 => TensorType::U8,
            6 => TensorType::Fp8,
            7 => TensorType::Bf16,
            8 => TensorType::I64,
            _ => TensorType::Other,
        }
    }
}

/// An engine input or output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    pub name: String,
    pub input: bool,
    pub dtype: TensorType,
    /// `-1` where dynamic.
    pub shape: Vec<i64>,
    /// Inputs: profile 0's `[min, opt, max]` shapes.
    pub profile: Option<[Vec<i64>; 3]>,
}

/// A deserialized engine.
pub struct Engine {
    lib: &'static Library,
    ptr: *mut c_void,
    // The runtime must outlive its engines.
    _runtime: Runtime,
}

// SAFETY: a TensorRT engine may be used from any thread; rtseg gives each worker its own
// execution context.
unsafe impl Send for Engine {}
unsafe impl Sync for Engine {}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: created by engine_deserialize and destroyed once, before its runtime.
        unsafe { (self.lib.api.engine_destroy)(self.ptr) };
    }
}

impl Runtime {
    /// Deserializes a plan.
    ///
    /// # Errors
    /// [`TrtError::Call`]: a plan of another TensorRT version, GPU or a truncated file.
    pub fn deserialize(self, plan: &[u8]) -> Result<Engine, TrtError> {
        // SAFETY: the bytes live for the call.
        let ptr = unsafe {
            (self.lib.api.engine_deserialize)(self.ptr, plan.as_ptr().cast(), plan.len() as u64)
        };
        if ptr.is_null() {
            return Err(TrtError::Call(self.lib.error()));
        }
        Ok(Engine {
            lib: self.lib,
            ptr,
            _runtime: self,
        })
    }
}

fn dims(read: impl Fn(*mut i64, i32) -> i32) -> Option<Vec<i64>> {
    let mut buffer = [0i64; 8];
    let rank = read(buffer.as_mut_ptr(), buffer.len() as i32);
    (0..=8)
        .contains(&rank)
        .then(|| buffer[..rank as usize].to_vec())
}

impl Engine {
    /// The engine's inputs and outputs.
    pub fn tensors(&self) -> Vec<TensorInfo> {
        let api = self.lib.api;
        // SAFETY: the engine is alive; names are NUL-terminated strings the engine owns.
        let count = unsafe { (api.engine_io_count)(self.ptr) };
        (0..count)
            .filter_map(|i| {
                let name_ptr = unsafe { (api.engine_io_name)(self.ptr, i) };
                let name = c_text(name_ptr);
                let mode = unsafe { (api.engine_io_mode)(self.ptr, name_ptr) };
                let dtype =
                    TensorType::from_trt(unsafe { (api.engine_io_dtype)(self.ptr, name_ptr) });
                let shape =
                    dims(|d, cap| unsafe { (api.engine_io_shape)(self.ptr, name_ptr, d, cap) })?;
                let profile = (mode == 1).then(|| {
                    [0, 1, 2].map(|select| {
                        dims(|d, cap| unsafe {
                            (api.engine_profile_shape)(self.ptr, name_ptr, 0, select, d, cap)
                        })
                        .unwrap_or_default()
                    })
                });
                Some(TensorInfo {
                    name,
                    input: mode == 1,
                    dtype,
                    shape,
                    profile,
                })
            })
            .collect()
    }

    /// An execution context (one per CUDA stream); it keeps the engine alive.
    ///
    /// # Errors
    /// [`TrtError::Call`] with TensorRT's message.
    pub fn context(self: &Arc<Self>) -> Result<Context, TrtError> {
        // SAFETY: the engine is alive.
        let ptr = unsafe { (self.lib.api.context_create)(self.ptr) };
        if ptr.is_null() {
            return Err(TrtError::Call(self.lib.error()));
        }
        Ok(Context {
            engine: self.clone(),
            ptr,
        })
    }
}

/// An execution context of an engine, used by one thread at a time.
pub struct Context {
    engine: Arc<Engine>,
    ptr: *mut c_void,
}

// SAFETY: a context is moved to its worker and used only there (TensorRT contexts are not
// thread-safe, but may change threads between calls).
unsafe impl Send for Context {}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created by context_create, destroyed once, before its engine.
        unsafe { (self.engine.lib.api.context_destroy)(self.ptr) };
    }
}

impl Context {
    fn check(&self, status: i32) -> Result<(), TrtError> {
        if status == 0 {
            Ok(())
        } else {
            Err(TrtError::Call(self.engine.lib.error()))
        }
    }

    /// # Errors
    /// A shape outside the engine's profile.
    pub fn set_input_shape(&mut self, name: &str, shape: &[i64]) -> Result<(), TrtError> {
        let name = CString::new(name).map_err(|e| TrtError::Call(e.to_string()))?;
        // SAFETY: the shape lives for the call.
        let status = unsafe {
            (self.engine.lib.api.context_set_input_shape)(
                self.ptr,
                name.as_ptr(),
                shape.as_ptr(),
                shape.len() as i32,
            )
        };
        self.check(status)
    }

    /// # Errors
    /// An unknown tensor name.
    ///
    /// # Safety
    /// `address` must be device memory large enough for the tensor, valid until the enqueued
    /// work has finished.
    pub unsafe fn set_tensor_address(
        &mut self,
        name: &str,
        address: *mut c_void,
    ) -> Result<(), TrtError> {
        let name = CString::new(name).map_err(|e| TrtError::Call(e.to_string()))?;
        // SAFETY: the caller guarantees the address.
        let status = unsafe {
            (self.engine.lib.api.context_set_tensor_address)(self.ptr, name.as_ptr(), address)
        };
        self.check(status)
    }

    /// Enqueues the network on `stream` (a `CUstream`).
    ///
    /// # Errors
    /// TensorRT's enqueue error.
    ///
    /// # Safety
    /// Every tensor address set must stay valid until the stream has run the work.
    pub unsafe fn enqueue(&mut self, stream: *mut c_void) -> Result<(), TrtError> {
        // SAFETY: the caller guarantees the addresses and the stream.
        let status = unsafe { (self.engine.lib.api.context_enqueue)(self.ptr, stream) };
        self.check(status)
    }
}
