// rtseg's CUDA pre/post-processing kernels, compiled at run time by NVRTC (src/gpu/mod.rs).
// Each is the twin of a CPU function in src/pipeline (decode_raw, resize_rgb, normalize_into,
// argmax_scores + restore_mask, color_overlay): the same f32 operations in the same order,
// compiled with --fmad=false so no multiply-add is fused, hence the same bytes.
// No headers, so that the file also compiles as host C++ for the tests (crates/gpu-host).

typedef unsigned char u8;
typedef unsigned short u16;

// Frame encodings (encoding_code in src/gpu/mod.rs).
#define ENC_RGB8 0
#define ENC_BGR8 1
#define ENC_RGBA8 2
#define ENC_BGRA8 3
#define ENC_MONO8 4
#define ENC_YUYV 5
#define ENC_UYVY 6

// How the content region is resampled (FitParams::new in src/gpu/mod.rs).
#define MODE_COPY 0
#define MODE_AREA 1
#define MODE_BILINEAR 2

// Half-precision conversions through PTX (round to nearest even); host builds of this file
// (crates/gpu-host) take them from host_cuda.h.
#ifdef __CUDACC_RTC__
__device__ __forceinline__ u16 f32_to_f16(float f)
{
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float f16_to_f32(u16 h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
#endif

// Rust's `f32::round() ... .clamp(0, 255) as u8`.
__device__ __forceinline__ u8 to_u8(float v)
{
    v = roundf(v);
    return (u8) fminf(fmaxf(v, 0.0f), 255.0f);
}

// One decoded RGB8 pixel of a raw frame (decode_raw): YUYV/UYVY pairs use BT.601 limited
// range, luma below 16 as black.
__device__ void load_rgb(const u8* frame, int step, int encoding, int x, int y, u8 rgb[3])
{
    const u8* row = frame + (long long) y * step;
    switch (encoding)
    {
    case ENC_RGB8: rgb[0] = row[3 * x]; rgb[1] = row[3 * x + 1]; rgb[2] = row[3 * x + 2]; break;
    case ENC_BGR8: rgb[0] = row[3 * x + 2]; rgb[1] = row[3 * x + 1]; rgb[2] = row[3 * x]; break;
    case ENC_RGBA8: rgb[0] = row[4 * x]; rgb[1] = row[4 * x + 1]; rgb[2] = row[4 * x + 2]; break;
    case ENC_BGRA8: rgb[0] = row[4 * x + 2]; rgb[1] = row[4 * x + 1]; rgb[2] = row[4 * x]; break;
    case ENC_MONO8: rgb[0] = rgb[1] = rgb[2] = row[x]; break;
    default:
    {
        // YUYV: Y0 U Y1 V; UYVY: U Y0 V Y1.
        const u8* pair = row + 4 * (x / 2);
        int first = encoding == ENC_UYVY ? 1 : 0;
        float u = (float) pair[1 - first] - 128.0f;
        float v = (float) pair[3 - first] - 128.0f;
        float luma = (float) pair[((x & 1) ? 2 : 0) + first];
        float c = 1.164f * fmaxf(luma - 16.0f, 0.0f);
        rgb[0] = to_u8(c + 1.596f * v);
        rgb[1] = to_u8(c - 0.392f * u - 0.813f * v);
        rgb[2] = to_u8(c + 2.017f * u);
    }
    }
}

// The frame's pixel at (x, y) of its fitted content region (resize_rgb): copied, area-averaged
// (per-axis tables from area_weights: first input index, tap count, offset into the weights),
// or bilinear with half-pixel centres.
__device__ void fitted_rgb(const u8* frame, int step, int encoding, int w, int h, int cw, int ch,
    int mode, const int* row_first, const int* row_count, const int* row_offset,
    const float* row_weights, const int* col_first, const int* col_count, const int* col_offset,
    const float* col_weights, int x, int y, u8 out[3])
{
    if (mode == MODE_COPY)
    {
        load_rgb(frame, step, encoding, x, y, out);
        return;
    }
    if (mode == MODE_AREA)
    {
        // resize_rgb: a vertical pass per input column, then the horizontal pass, in tap order.
        float pixel[3] = {0.0f, 0.0f, 0.0f};
        for (int j = 0; j < col_count[x]; ++j)
        {
            int sx = col_first[x] + j;
            float column[3] = {0.0f, 0.0f, 0.0f};
            for (int i = 0; i < row_count[y]; ++i)
            {
                u8 s[3];
                load_rgb(frame, step, encoding, sx, row_first[y] + i, s);
                float wy = row_weights[row_offset[y] + i];
                for (int c = 0; c < 3; ++c)
                {
                    column[c] += wy * (float) s[c];
                }
            }
            float wx = col_weights[col_offset[x] + j];
            for (int c = 0; c < 3; ++c)
            {
                pixel[c] += wx * column[c];
            }
        }
        for (int c = 0; c < 3; ++c)
        {
            out[c] = to_u8(pixel[c]);
        }
        return;
    }
    // resize_bilinear / bilinear_taps.
    float sx = fmaxf(((float) x + 0.5f) * ((float) w / (float) cw) - 0.5f, 0.0f);
    float sy = fmaxf(((float) y + 0.5f) * ((float) h / (float) ch) - 0.5f, 0.0f);
    int x0 = min((int) floorf(sx), w - 1), x1 = min(x0 + 1, w - 1);
    int y0 = min((int) floorf(sy), h - 1), y1 = min(y0 + 1, h - 1);
    float fx = sx - (float) x0, fy = sy - (float) y0;
    u8 p00[3], p01[3], p10[3], p11[3];
    load_rgb(frame, step, encoding, x0, y0, p00);
    load_rgb(frame, step, encoding, x1, y0, p01);
    load_rgb(frame, step, encoding, x0, y1, p10);
    load_rgb(frame, step, encoding, x1, y1, p11);
    for (int c = 0; c < 3; ++c)
    {
        float top = (float) p00[c] * (1.0f - fx) + (float) p01[c] * fx;
        float bottom = (float) p10[c] * (1.0f - fx) + (float) p11[c] * fx;
        out[c] = to_u8(top * (1.0f - fy) + bottom * fy);
    }
}

struct FitParams
{
    int step, encoding, w, h;
    int nw, nh, cw, ch, mode;
    int pad[3];
    // Output: planes (normalised, in plane order) or interleaved RGB8.
    int out_kind; // 0 f32 planes, 1 f16 planes, 2 rgb8 interleaved
    int plane_src[3];
    float scale[3], shift[3];
};

// Frame → network input of one batch element `batch` (fit_to_network + normalize_into), one
// thread per network pixel; the letterbox pad (outside cw × ch) gets the pad colour.
extern "C" __global__ void rtseg_fit(const u8* frame, FitParams p, const int* row_first,
    const int* row_count, const int* row_offset, const float* row_weights, const int* col_first,
    const int* col_count, const int* col_offset, const float* col_weights, void* out, int batch)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p.nw || y >= p.nh)
    {
        return;
    }
    u8 rgb[3];
    if (x < p.cw && y < p.ch)
    {
        fitted_rgb(frame, p.step, p.encoding, p.w, p.h, p.cw, p.ch, p.mode, row_first, row_count,
            row_offset, row_weights, col_first, col_count, col_offset, col_weights, x, y, rgb);
    }
    else
    {
        rgb[0] = (u8) p.pad[0];
        rgb[1] = (u8) p.pad[1];
        rgb[2] = (u8) p.pad[2];
    }
    long long plane = (long long) p.nw * p.nh;
    long long at = (long long) y * p.nw + x;
    if (p.out_kind == 2)
    {
        u8* o = (u8*) out + (batch * plane + at) * 3;
        o[0] = rgb[0];
        o[1] = rgb[1];
        o[2] = rgb[2];
        return;
    }
    for (int q = 0; q < 3; ++q)
    {
        float v = (float) rgb[p.plane_src[q]] * p.scale[q] + p.shift[q];
        long long index = (batch * 3LL + q) * plane + at;
        if (p.out_kind == 0)
        {
            ((float*) out)[index] = v;
        }
        else
        {
            ((u16*) out)[index] = f32_to_f16(v);
        }
    }
}

// Class scores [n, k, nh, nw] (f32 or f16) → the mask of batch element `batch` at W × H: the
// first maximum over k at the network pixel that nearest sampling of the content region
// cw × ch picks (argmax_scores + restore_mask, fused: one byte written per output pixel).
extern "C" __global__ void rtseg_argmax_nearest(const void* scores, int half, int k, int nw, int nh,
    int cw, int ch, int W, int H, int batch, u8* mask)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= W || y >= H)
    {
        return;
    }
    long long sx = ((2LL * x + 1) * cw) / (2LL * W);
    long long sy = ((2LL * y + 1) * ch) / (2LL * H);
    long long plane = (long long) nw * nh;
    long long base = (long long) batch * k * plane + sy * nw + sx;
    float best = 0.0f;
    int id = 0;
    for (int c = 0; c < k; ++c)
    {
        long long at = base + c * plane;
        float v = half ? f16_to_f32(((const u16*) scores)[at]) : ((const float*) scores)[at];
        if (c == 0 || v > best)
        {
            best = v;
            id = c;
        }
    }
    mask[(long long) y * W + x] = (u8) id;
}

// The palette over an RGB8 image of the mask's size (color_overlay): α·colour + (1 − α)·pixel;
// ids without a colour (e.g. 255) are black.
extern "C" __global__ void rtseg_overlay(const u8* rgb, const u8* mask, const u8* palette, int k,
    float alpha, int W, int H, u8* out)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= W || y >= H)
    {
        return;
    }
    long long at = (long long) y * W + x;
    int id = mask[at];
    for (int c = 0; c < 3; ++c)
    {
        float colour = id < k ? (float) palette[3 * id + c] : 0.0f;
        float v = alpha * colour + (1.0f - alpha) * (float) rgb[3 * at + c];
        out[3 * at + c] = to_u8(v);
    }
}
