// rtseg's kernels built for the host (see host_cuda.h) with one launcher per kernel: the grid
// and block sizes come from the caller, as cudarc's launch does on a GPU.
#include "host_cuda.h"

#include RTSEG_KERNELS

thread_local dim3 threadIdx, blockIdx, blockDim;

template <typename Kernel>
static void launch(unsigned grid_x, unsigned grid_y, unsigned block_x, unsigned block_y,
    Kernel kernel)
{
    blockDim = {block_x, block_y, 1};
    for (unsigned by = 0; by < grid_y; ++by)
        for (unsigned bx = 0; bx < grid_x; ++bx)
            for (unsigned ty = 0; ty < block_y; ++ty)
                for (unsigned tx = 0; tx < block_x; ++tx)
                {
                    blockIdx = {bx, by, 0};
                    threadIdx = {tx, ty, 0};
                    kernel();
                }
}

extern "C" void rtseg_host_fit(const unsigned* grid, const u8* frame, const FitParams* p,
    const int* row_first, const int* row_count, const int* row_offset, const float* row_weights,
    const int* col_first, const int* col_count, const int* col_offset, const float* col_weights,
    void* out, int batch)
{
    launch(grid[0], grid[1], grid[2], grid[3], [&] {
        rtseg_fit(frame, *p, row_first, row_count, row_offset, row_weights, col_first, col_count,
            col_offset, col_weights, out, batch);
    });
}

extern "C" void rtseg_host_argmax_nearest(const unsigned* grid, const void* scores, int half,
    int k, int nw, int nh, int cw, int ch, int W, int H, int batch, u8* mask)
{
    launch(grid[0], grid[1], grid[2], grid[3],
        [&] { rtseg_argmax_nearest(scores, half, k, nw, nh, cw, ch, W, H, batch, mask); });
}

extern "C" void rtseg_host_overlay(const unsigned* grid, const u8* rgb, const u8* mask,
    const u8* palette, int k, float alpha, int W, int H, u8* out)
{
    launch(grid[0], grid[1], grid[2], grid[3],
        [&] { rtseg_overlay(rgb, mask, palette, k, alpha, W, H, out); });
}
