//! The GPU stage through cudarc (dynamic loading: a binary built with it runs on machines
//! without CUDA and says so when a GPU stage is asked for): NVRTC compiles `kernels.cu` for the
//! GPU's architecture, and [`GpuStage`] launches the kernels on one stream with the parameters
//! [`super`] computes.

use std::sync::Arc;

use cudarc::driver::sys::CUdeviceptr;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DevicePtrMut,
    DeviceRepr, LaunchConfig, PushKernelArg, SyncOnDrop,
};
use cudarc::nvrtc::{CompileOptions, Ptx};

use super::{
    ARGMAX_NEAREST, AxisTable, FIT, FitOutput, FitParams, GpuError, KERNELS, OVERLAY, grid_2d,
};
use crate::models::card::InputSpec;
use crate::pipeline::frame::FrameRef;

impl From<cudarc::driver::DriverError> for GpuError {
    fn from(e: cudarc::driver::DriverError) -> Self {
        GpuError::Driver(format!("{e:?}"))
    }
}

// SAFETY: plain old data with the C layout the kernel declares.
unsafe impl DeviceRepr for FitParams {}

/// Compiles the kernels for a GPU architecture such as `sm_87` (NVRTC from `libnvrtc.so.*`; no
/// GPU needed). Multiply-adds are not fused, so results match the CPU twins bit for bit.
///
/// # Errors
/// [`GpuError::Compile`] with NVRTC's log, or when NVRTC cannot be loaded.
pub fn compile(arch: &str) -> Result<Ptx, GpuError> {
    let options = CompileOptions {
        fmad: Some(false),
        options: vec![format!("--gpu-architecture={arch}")],
        name: Some("rtseg_kernels.cu".into()),
        ..Default::default()
    };
    // cudarc panics when it cannot load NVRTC, so look for the library first.
    // SAFETY: only tries to dlopen the candidate library names.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        // The wheels scripts/test.sh installs hold it; say where, as the library path is
        // read when the process starts.
        // (CUDA 12's: cudarc asks for libnvrtc.so.12 by that name; CUDA 13's would need an
        // unversioned link.)
        let wheel = crate::backend::tensorrt::in_venv("nvidia/cuda_nvrtc/lib", "libnvrtc.so.12")
            .and_then(|lib| lib.parent().map(|d| d.display().to_string()));
        let hint = match wheel {
            Some(dir) => format!("; .venv has it: run with LD_LIBRARY_PATH={dir}"),
            None => String::new(),
        };
        return Err(GpuError::Compile {
            arch: arch.to_string(),
            message: format!(
                "libnvrtc cannot be loaded: install the CUDA toolkit (JetPack has it) or the \
                 nvidia-cuda-nvrtc wheel, and put the folder holding libnvrtc.so (or \
                 libnvrtc.so.12) on LD_LIBRARY_PATH{hint}"
            ),
        });
    }
    cudarc::nvrtc::compile_ptx_with_opts(KERNELS, options).map_err(|e| GpuError::Compile {
        arch: arch.to_string(),
        message: format!("{e:?}"),
    })
}

/// A GPU with its primary context.
pub struct Gpu {
    pub context: Arc<CudaContext>,
    /// The driver's name for it, e.g. `Orin (nvgpu)` or `Tesla V100-SXM2-16GB`.
    pub name: String,
    /// `(major, minor)`: 7.0 for V100, 7.2 for Xavier, 8.7 for Orin.
    pub compute_capability: (i32, i32),
}

/// GPU `ordinal`, or why there is none.
///
/// # Errors
/// [`GpuError::Driver`] when no CUDA driver or no such device exists.
pub fn device(ordinal: usize) -> Result<Gpu, GpuError> {
    // cudarc panics when it cannot load the driver, so look for it first.
    // SAFETY: only tries to dlopen the candidate library names.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(GpuError::Driver(
            "no CUDA driver (libcuda.so.1 cannot be loaded): this machine has no usable NVIDIA GPU"
                .into(),
        ));
    }
    let context =
        CudaContext::new(ordinal).map_err(|e| GpuError::Driver(format!("GPU {ordinal}: {e:?}")))?;
    Ok(Gpu {
        name: context.name()?,
        compute_capability: context.compute_capability()?,
        context,
    })
}

/// A device buffer of network tensor values: f32, or f16 as bits (the engine's I/O type).
pub enum DeviceFloats {
    F32(CudaSlice<f32>),
    F16(CudaSlice<u16>),
}

impl DeviceFloats {
    /// A one-value buffer of the given type, grown by [`DeviceFloats::ensure`].
    ///
    /// # Errors
    /// A driver failure.
    pub fn new(stream: &Arc<CudaStream>, half: bool) -> Result<Self, GpuError> {
        Ok(match half {
            true => DeviceFloats::F16(stream.alloc_zeros(1)?),
            false => DeviceFloats::F32(stream.alloc_zeros(1)?),
        })
    }

    /// Grows the buffer to hold at least `len` values (the old contents are dropped).
    ///
    /// # Errors
    /// A driver failure.
    pub fn ensure(&mut self, stream: &Arc<CudaStream>, len: usize) -> Result<(), GpuError> {
        match self {
            DeviceFloats::F32(s) if s.len() < len => *s = stream.alloc_zeros(len)?,
            DeviceFloats::F16(s) if s.len() < len => *s = stream.alloc_zeros(len)?,
            _ => {}
        }
        Ok(())
    }

    /// The device address for reading on `stream`, valid while the guard lives.
    pub fn device_ptr<'a>(&'a self, stream: &'a CudaStream) -> (CUdeviceptr, SyncOnDrop<'a>) {
        match self {
            DeviceFloats::F32(s) => s.device_ptr(stream),
            DeviceFloats::F16(s) => s.device_ptr(stream),
        }
    }

    /// The device address for writing on `stream`, valid while the guard lives.
    pub fn device_ptr_mut<'a>(
        &'a mut self,
        stream: &'a CudaStream,
    ) -> (CUdeviceptr, SyncOnDrop<'a>) {
        match self {
            DeviceFloats::F32(s) => s.device_ptr_mut(stream),
            DeviceFloats::F16(s) => s.device_ptr_mut(stream),
        }
    }
}

/// The compiled kernels and a stream on one GPU.
pub struct GpuStage {
    pub context: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    _module: Arc<CudaModule>,
    fit: CudaFunction,
    argmax: CudaFunction,
    overlay: CudaFunction,
}

/// Device copies of one axis table pair, kept per (frame, content) size.
struct Tables {
    rows: [CudaSlice<i32>; 3],
    row_weights: CudaSlice<f32>,
    cols: [CudaSlice<i32>; 3],
    col_weights: CudaSlice<f32>,
}

fn launch_2d(width: u32, height: u32) -> LaunchConfig {
    let ((gx, gy), (bx, by)) = grid_2d(width, height);
    LaunchConfig {
        grid_dim: (gx, gy, 1),
        block_dim: (bx, by, 1),
        shared_mem_bytes: 0,
    }
}

impl GpuStage {
    /// Compiles the kernels for `context`'s GPU and loads them.
    ///
    /// # Errors
    /// NVRTC or driver failures.
    pub fn new(context: Arc<CudaContext>) -> Result<Self, GpuError> {
        let (major, minor) = context.compute_capability()?;
        let ptx = compile(&format!("sm_{major}{minor}"))?;
        let module = context.load_module(ptx)?;
        Ok(Self {
            stream: context.new_stream()?,
            fit: module.load_function(FIT)?,
            argmax: module.load_function(ARGMAX_NEAREST)?,
            overlay: module.load_function(OVERLAY)?,
            _module: module,
            context,
        })
    }

    fn tables(&self, (w, h): (u32, u32), (cw, ch): (u32, u32)) -> Result<Tables, GpuError> {
        let (rows, cols) = (AxisTable::area(h, ch), AxisTable::area(w, cw));
        let s = &self.stream;
        Ok(Tables {
            rows: [
                s.clone_htod(&rows.first)?,
                s.clone_htod(&rows.count)?,
                s.clone_htod(&rows.offset)?,
            ],
            row_weights: s.clone_htod(&rows.weights)?,
            cols: [
                s.clone_htod(&cols.first)?,
                s.clone_htod(&cols.count)?,
                s.clone_htod(&cols.offset)?,
            ],
            col_weights: s.clone_htod(&cols.weights)?,
        })
    }

    /// Fits `frame` (already on the GPU as `bytes`) into element `batch` of the network input
    /// `out` (f32 or f16 planes): the content region `(cw, ch)` of an `(nw, nh)` input, the
    /// rest padded; see `fit_to_network` and `normalize_into`.
    ///
    /// # Errors
    /// An encoding the kernel does not read, or a launch failure.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        &self,
        frame: &FrameRef<'_>,
        bytes: &CudaSlice<u8>,
        net: (u32, u32),
        content: (u32, u32),
        spec: &InputSpec,
        out: &mut DeviceFloats,
        batch: i32,
    ) -> Result<(), GpuError> {
        let output = match out {
            DeviceFloats::F32(_) => FitOutput::PlanesF32,
            DeviceFloats::F16(_) => FitOutput::PlanesF16,
        };
        let (ptr, _guard) = out.device_ptr_mut(&self.stream);
        self.launch_fit(frame, bytes, (net, content), spec, output, ptr, batch)
    }

    /// `frame` (on the GPU as `bytes`) resized to `size` as interleaved RGB8: the image the
    /// overlay is drawn on.
    ///
    /// # Errors
    /// An encoding the kernel does not read, or a launch failure.
    pub fn fit_rgb(
        &self,
        frame: &FrameRef<'_>,
        bytes: &CudaSlice<u8>,
        size: (u32, u32),
        spec: &InputSpec,
        out: &mut CudaSlice<u8>,
    ) -> Result<(), GpuError> {
        let (ptr, _guard) = out.device_ptr_mut(&self.stream);
        self.launch_fit(frame, bytes, (size, size), spec, FitOutput::Rgb8, ptr, 0)
    }

    /// `rtseg_fit` writing to the device address `out`.
    #[allow(clippy::too_many_arguments)]
    fn launch_fit(
        &self,
        frame: &FrameRef<'_>,
        bytes: &CudaSlice<u8>,
        ((nw, nh), (cw, ch)): ((u32, u32), (u32, u32)),
        spec: &InputSpec,
        output: FitOutput,
        out: CUdeviceptr,
        batch: i32,
    ) -> Result<(), GpuError> {
        let params = FitParams::new(frame, (nw, nh), (cw, ch), spec, output)?;
        let t = self.tables((frame.width, frame.height), (cw, ch))?;
        let mut launch = self.stream.launch_builder(&self.fit);
        launch.arg(bytes).arg(&params);
        launch
            .arg(&t.rows[0])
            .arg(&t.rows[1])
            .arg(&t.rows[2])
            .arg(&t.row_weights);
        launch
            .arg(&t.cols[0])
            .arg(&t.cols[1])
            .arg(&t.cols[2])
            .arg(&t.col_weights);
        launch.arg(&out).arg(&batch);
        // SAFETY: the argument list matches `rtseg_fit` (a device address is the kernel's
        // `void*`); every buffer is sized by the caller for an (nw × nh) output and the frame's
        // step × height bytes.
        unsafe { launch.launch(launch_2d(nw, nh)) }?;
        Ok(())
    }

    /// The mask of batch element `batch` of `scores` (`[n, k, nh, nw]`, f32 or f16) at
    /// `(width, height)`, sampled from the content region `(cw, ch)`.
    ///
    /// # Errors
    /// A launch failure.
    #[allow(clippy::too_many_arguments)]
    pub fn argmax_nearest(
        &self,
        scores: &DeviceFloats,
        k: i32,
        (nw, nh): (u32, u32),
        (cw, ch): (u32, u32),
        (width, height): (u32, u32),
        batch: i32,
        mask: &mut CudaSlice<u8>,
    ) -> Result<(), GpuError> {
        let dims = [nw, nh, cw, ch, width, height].map(|v| v as i32);
        let half = matches!(scores, DeviceFloats::F16(_)) as i32;
        let (ptr, _guard) = scores.device_ptr(&self.stream);
        let mut launch = self.stream.launch_builder(&self.argmax);
        launch.arg(&ptr).arg(&half).arg(&k);
        for d in &dims {
            launch.arg(d);
        }
        launch.arg(&batch).arg(mask);
        // SAFETY: the argument list matches `rtseg_argmax_nearest`; `scores` holds at least
        // batch + 1 elements of k × nh × nw and `mask` width × height bytes.
        unsafe { launch.launch(launch_2d(width, height)) }?;
        Ok(())
    }

    /// The palette overlay of `mask` on `rgb` (both `width × height`).
    ///
    /// # Errors
    /// A launch failure.
    #[allow(clippy::too_many_arguments)]
    pub fn overlay(
        &self,
        rgb: &CudaSlice<u8>,
        mask: &CudaSlice<u8>,
        palette: &CudaSlice<u8>,
        classes: i32,
        alpha: f32,
        (width, height): (u32, u32),
        out: &mut CudaSlice<u8>,
    ) -> Result<(), GpuError> {
        let (w, h) = (width as i32, height as i32);
        let mut launch = self.stream.launch_builder(&self.overlay);
        launch
            .arg(rgb)
            .arg(mask)
            .arg(palette)
            .arg(&classes)
            .arg(&alpha);
        launch.arg(&w).arg(&h).arg(out);
        // SAFETY: the argument list matches `rtseg_overlay`; the buffers hold width × height
        // pixels (3 bytes for RGB) and the palette `classes` colours.
        unsafe { launch.launch(launch_2d(width, height)) }?;
        Ok(())
    }
}
