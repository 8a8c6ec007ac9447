//! The C table of rtseg's TensorRT shim (`csrc/rtseg_trt.h`), one per TensorRT flavour compiled
//! in (`build.rs` compiles a flavour when it finds its headers). Raw FFI only: the safe wrapper
//! lives in rtseg's `backend::tensorrt`.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

/// ABI version of the table; must equal `RTSEG_TRT_ABI` in `csrc/rtseg_trt.h`.
pub const ABI: u32 = 1;

#[repr(C)]
pub struct RtsegBuffer {
    pub data: *mut c_void,
    pub len: u64,
}

#[repr(C)]
pub struct RtsegCalibrator {
    pub user: *mut c_void,
    pub batch_size: i32,
    pub next_batch: unsafe extern "C" fn(user: *mut c_void, device_ptr: *mut *mut c_void) -> i32,
    pub cache: *const c_void,
    pub cache_len: u64,
    pub write_cache: Option<unsafe extern "C" fn(user: *mut c_void, data: *const c_void, len: u64)>,
}

#[repr(C)]
pub struct RtsegBuildParams {
    pub onnx: *const c_void,
    pub onnx_len: u64,
    pub fp16: i32,
    pub int8: i32,
    pub workspace_bytes: u64,
    pub input_name: *const c_char,
    pub rank: i32,
    pub min_dims: *const i64,
    pub opt_dims: *const i64,
    pub max_dims: *const i64,
    pub timing_cache: *const c_void,
    pub timing_cache_len: u64,
    pub calibrator: *const RtsegCalibrator,
}

type Handle = *mut c_void;

#[repr(C)]
pub struct RtsegTrtApi {
    pub abi: u32,
    pub header_version: i32,
    pub flavour: *const c_char,
    pub load: unsafe extern "C" fn(*const c_char, *const c_char, *mut i32) -> i32,
    pub last_error: unsafe extern "C" fn() -> *const c_char,
    pub set_log_callback: unsafe extern "C" fn(Option<unsafe extern "C" fn(i32, *const c_char)>),
    pub runtime_create: unsafe extern "C" fn() -> Handle,
    pub runtime_destroy: unsafe extern "C" fn(Handle),
    pub engine_deserialize: unsafe extern "C" fn(Handle, *const c_void, u64) -> Handle,
    pub engine_destroy: unsafe extern "C" fn(Handle),
    pub engine_io_count: unsafe extern "C" fn(Handle) -> i32,
    pub engine_io_name: unsafe extern "C" fn(Handle, i32) -> *const c_char,
    pub engine_io_mode: unsafe extern "C" fn(Handle, *const c_char) -> i32,
    pub engine_io_dtype: unsafe extern "C" fn(Handle, *const c_char) -> i32,
    pub engine_io_shape: unsafe extern "C" fn(Handle, *const c_char, *mut i64, i32) -> i32,
    pub engine_profile_count: unsafe extern "C" fn(Handle) -> i32,
    pub engine_profile_shape:
        unsafe extern "C" fn(Handle, *const c_char, i32, i32, *mut i64, i32) -> i32,
    pub context_create: unsafe extern "C" fn(Handle) -> Handle,
    pub context_destroy: unsafe extern "C" fn(Handle),
    pub context_set_input_shape:
        unsafe extern "C" fn(Handle, *const c_char, *const i64, i32) -> i32,
    pub context_set_tensor_address: unsafe extern "C" fn(Handle, *const c_char, *mut c_void) -> i32,
    pub context_enqueue: unsafe extern "C" fn(Handle, *mut c_void) -> i32,
    pub build:
        unsafe extern "C" fn(*const RtsegBuildParams, *mut RtsegBuffer, *mut RtsegBuffer) -> i32,
    pub buffer_free: unsafe extern "C" fn(*mut RtsegBuffer),
}

// SAFETY: the table is immutable static data of function pointers and a string literal.
unsafe impl Sync for RtsegTrtApi {}

#[cfg(rtseg_trt_tensorrt)]
unsafe extern "C" {
    fn rtseg_trt_api_tensorrt() -> *const RtsegTrtApi;
}

#[cfg(rtseg_trt_rtx)]
unsafe extern "C" {
    fn rtseg_trt_api_rtx() -> *const RtsegTrtApi;
}

/// The TensorRT shim, when its headers were found at build time.
pub fn tensorrt() -> Option<&'static RtsegTrtApi> {
    #[cfg(rtseg_trt_tensorrt)]
    {
        // SAFETY: returns a pointer to a static table.
        unsafe { rtseg_trt_api_tensorrt().as_ref() }
    }
    #[cfg(not(rtseg_trt_tensorrt))]
    {
        None
    }
}

/// The TensorRT-RTX shim, when its headers were found at build time.
pub fn rtx() -> Option<&'static RtsegTrtApi> {
    #[cfg(rtseg_trt_rtx)]
    {
        // SAFETY: returns a pointer to a static table.
        unsafe { rtseg_trt_api_rtx().as_ref() }
    }
    #[cfg(not(rtseg_trt_rtx))]
    {
        None
    }
}
