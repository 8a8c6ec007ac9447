/* The two CUDA runtime types the TensorRT headers name, for a shim that never calls CUDA itself:
 * streams arrive from Rust (cudarc) as opaque pointers. Used only when no CUDA headers are
 * configured (CUDA_INCLUDE_DIR). */
#pragma once
typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
