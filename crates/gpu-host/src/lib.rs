//! rtseg's CUDA kernels (`src/gpu/kernels.cu`) run on the CPU: every thread of the launch grid
//! in turn, with the grid the caller would give cudarc. For tests only — they compare each
//! kernel with its CPU twin where no GPU exists; `scripts/gpu_check.sh` repeats the comparison
//! with the NVRTC-compiled kernels on a GPU.
//!
//! The functions are `unsafe`: like a kernel launch, they trust the caller that every buffer is
//! as large as the parameters say.

use std::ffi::c_void;

/// `[grid_x, grid_y, block_x, block_y]` of a launch.
pub type Grid = [u32; 4];

unsafe extern "C" {
    fn rtseg_host_fit(
        grid: *const u32,
        frame: *const u8,
        params: *const c_void,
        row_first: *const i32,
        row_count: *const i32,
        row_offset: *const i32,
        row_weights: *const f32,
        col_first: *const i32,
        col_count: *const i32,
        col_offset: *const i32,
        col_weights: *const f32,
        out: *mut c_void,
        batch: i32,
    );
    fn rtseg_host_argmax_nearest(
        grid: *const u32,
        scores: *const c_void,
        half: i32,
        k: i32,
        nw: i32,
        nh: i32,
        cw: i32,
        ch: i32,
        width: i32,
        height: i32,
        batch: i32,
        mask: *mut u8,
    );
    fn rtseg_host_overlay(
        grid: *const u32,
        rgb: *const u8,
        mask: *const u8,
        palette: *const u8,
        k: i32,
        alpha: f32,
        width: i32,
        height: i32,
        out: *mut u8,
    );
}

/// One axis of the area tables: `(first, count, offset, weights)`.
pub type Axis<'a> = (&'a [i32], &'a [i32], &'a [i32], &'a [f32]);

/// `rtseg_fit` over `grid`.
///
/// # Safety
/// `params` points at a `FitParams` (rtseg's `gpu::FitParams`); `frame` holds `step × h`
/// bytes; the tables cover the content size; `out` holds batch + 1 network inputs of the
/// kind `params` names.
pub unsafe fn fit<P>(
    grid: Grid,
    frame: &[u8],
    params: &P,
    rows: Axis<'_>,
    cols: Axis<'_>,
    out: *mut c_void,
    batch: i32,
) {
    // SAFETY: the caller's contract above.
    unsafe {
        rtseg_host_fit(
            grid.as_ptr(),
            frame.as_ptr(),
            (params as *const P).cast(),
            rows.0.as_ptr(),
            rows.1.as_ptr(),
            rows.2.as_ptr(),
            rows.3.as_ptr(),
            cols.0.as_ptr(),
            cols.1.as_ptr(),
            cols.2.as_ptr(),
            cols.3.as_ptr(),
            out,
            batch,
        )
    }
}

/// `rtseg_argmax_nearest` over `grid`; `half` when `scores` holds f16 bits.
///
/// # Safety
/// `scores` holds batch + 1 score tensors of `k × nh × nw`; `mask` holds `width × height`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn argmax_nearest(
    grid: Grid,
    scores: *const c_void,
    half: bool,
    k: i32,
    (nw, nh): (i32, i32),
    (cw, ch): (i32, i32),
    (width, height): (i32, i32),
    batch: i32,
    mask: &mut [u8],
) {
    // SAFETY: the caller's contract above.
    unsafe {
        rtseg_host_argmax_nearest(
            grid.as_ptr(),
            scores,
            half as i32,
            k,
            nw,
            nh,
            cw,
            ch,
            width,
            height,
            batch,
            mask.as_mut_ptr(),
        )
    }
}

/// `rtseg_overlay` over `grid`.
///
/// # Safety
/// `rgb` and `out` hold `3 × width × height` bytes, `mask` `width × height`, `palette` `3 × k`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn overlay(
    grid: Grid,
    rgb: &[u8],
    mask: &[u8],
    palette: &[u8],
    k: i32,
    alpha: f32,
    (width, height): (i32, i32),
    out: &mut [u8],
) {
    // SAFETY: the caller's contract above.
    unsafe {
        rtseg_host_overlay(
            grid.as_ptr(),
            rgb.as_ptr(),
            mask.as_ptr(),
            palette.as_ptr(),
            k,
            alpha,
            width,
            height,
            out.as_mut_ptr(),
        )
    }
}
