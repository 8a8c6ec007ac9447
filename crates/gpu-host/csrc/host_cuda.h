// Just enough of CUDA's kernel language for rtseg's kernels to compile and run as host C++:
// each launch runs every thread of the grid in order on one CPU thread. The kernels use no
// shared memory, synchronisation or atomics, so the order does not matter and the results
// are the GPU's: the same IEEE f32 operations with nothing fused (-ffp-contract=off here,
// --fmad=false under NVRTC), and f16 rounding to nearest even as cvt.rn.f16.f32 does.
#pragma once

#include <math.h>

#define __global__
#define __device__
#define __forceinline__ inline

struct dim3
{
    unsigned x, y, z;
};

extern thread_local dim3 threadIdx, blockIdx, blockDim;

static inline int min(int a, int b)
{
    return a < b ? a : b;
}

static inline unsigned short f32_to_f16(float f)
{
    _Float16 h = (_Float16) f;
    unsigned short bits;
    __builtin_memcpy(&bits, &h, sizeof bits);
    return bits;
}

static inline float f16_to_f32(unsigned short bits)
{
    _Float16 h;
    __builtin_memcpy(&h, &bits, sizeof h);
    return (float) h;
}
