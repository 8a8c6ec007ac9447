/* rtseg's C ABI over the TensorRT runtime and builder APIs (see shim.cpp). The same table is
 * compiled once per TensorRT flavour (TensorRT, TensorRT-RTX); Rust mirrors it in src/lib.rs.
 * Every function catches C++ exceptions; failures return a null pointer or a negative status, and
 * rtseg_trt_last_error-style text is read through `last_error`. */
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the table below changes. */
#define RTSEG_TRT_ABI 1

typedef struct RtsegBuffer {
    void* data;
    uint64_t len;
} RtsegBuffer;

/* INT8 entropy calibration (TensorRT <= 10): `next_batch` stores the device address of the next
 * calibration batch of the input and returns 1, or returns 0 when the set is exhausted. The
 * calibration cache is read from `cache` when non-empty and handed to `write_cache`. */
typedef struct RtsegCalibrator {
    void* user;
    int32_t batch_size;
    int32_t (*next_batch)(void* user, void** device_ptr);
    const void* cache;
    uint64_t cache_len;
    void (*write_cache)(void* user, const void* data, uint64_t len);
} RtsegCalibrator;

typedef struct RtsegBuildParams {
    const void* onnx;
    uint64_t onnx_len;
    /* Precision requests: builder flags where the library has them (TensorRT <= 10); TensorRT 11
     * and TensorRT-RTX take precision from the ONNX (fp16 weights, Q/DQ nodes). */
    int32_t fp16;
    int32_t int8;
    uint64_t workspace_bytes;
    /* One optimisation profile for the input named `input_name`. */
    const char* input_name;
    int32_t rank;
    const int64_t* min_dims;
    const int64_t* opt_dims;
    const int64_t* max_dims;
    const void* timing_cache;
    uint64_t timing_cache_len;
    const RtsegCalibrator* calibrator; /* nullable */
} RtsegBuildParams;

typedef struct RtsegTrtApi {
    uint32_t abi;
    /* Version of the headers the shim was compiled against (major*10000 + minor*100 + patch;
     * TensorRT 8.x: major*1000 + minor*100 + patch). */
    int32_t header_version;
    const char* flavour; /* "tensorrt" or "tensorrt-rtx" */
    /* dlopen the runtime (and, when non-null, the ONNX parser) library; checks the major
     * version against the headers. Returns 0, or -1 with last_error set. */
    int32_t (*load)(const char* infer_path, const char* parser_path, int32_t* lib_version);
    const char* (*last_error)(void);
    /* Receives every message TensorRT logs (severity: 0 internal error .. 4 verbose). */
    void (*set_log_callback)(void (*callback)(int32_t severity, const char* msg));

    void* (*runtime_create)(void);
    void (*runtime_destroy)(void* runtime);
    void* (*engine_deserialize)(void* runtime, const void* plan, uint64_t len);
    void (*engine_destroy)(void* engine);
    int32_t (*engine_io_count)(void* engine);
    const char* (*engine_io_name)(void* engine, int32_t index);
    /* 1 input, 2 output, 0 neither. */
    int32_t (*engine_io_mode)(void* engine, const char* name);
    /* TensorRT's DataType value (0 float, 1 half, 2 int8, 3 int32, 4 bool, 5 uint8, 8 int64). */
    int32_t (*engine_io_dtype)(void* engine, const char* name);
    /* Writes up to `cap` dims (-1 = dynamic) and returns the rank, or -1. */
    int32_t (*engine_io_shape)(void* engine, const char* name, int64_t* dims, int32_t cap);
    int32_t (*engine_profile_count)(void* engine);
    /* `select`: 0 min, 1 opt, 2 max. */
    int32_t (*engine_profile_shape)(void* engine, const char* name, int32_t profile, int32_t select,
                                    int64_t* dims, int32_t cap);
    void* (*context_create)(void* engine);
    void (*context_destroy)(void* context);
    int32_t (*context_set_input_shape)(void* context, const char* name, const int64_t* dims,
                                       int32_t rank);
    int32_t (*context_set_tensor_address)(void* context, const char* name, void* address);
    /* enqueueV3 on a cudaStream_t (a CUstream from cudarc). */
    int32_t (*context_enqueue)(void* context, void* stream);

    /* Parses the ONNX and builds a serialized plan (and the updated timing cache). */
    int32_t (*build)(const RtsegBuildParams* params, RtsegBuffer* plan, RtsegBuffer* timing_cache);
    void (*buffer_free)(RtsegBuffer* buffer);
} RtsegTrtApi;

#ifdef __cplusplus
}
#endif
