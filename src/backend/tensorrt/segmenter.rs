//! The TensorRT segmenter: engine from the cache (built on demand), the frame uploaded once,
//! fitted and normalised by the GPU stage, the engine enqueued on the same stream, the mask
//! computed by the fused argmax + nearest kernel and downloaded once — plus INT8 calibration for
//! TensorRT ≤ 10.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cudarc::driver::{CudaSlice, DevicePtr};
use image::{GrayImage, RgbImage};

use super::engine::{self, BuildOptions, Target};
use super::{BuildRequest, BuiltPlan, Calibration, Context, Library, TensorType};
use crate::backend::trt_config::{EngineBuild, Precision, TensorRtOptions};
use crate::gpu::cuda::{DeviceFloats, GpuStage};
use crate::models::card::ModelCard;
use crate::pipeline::cpu::{content_size, fit_to_network, normalize_into};
use crate::pipeline::frame::{FrameRef, decode_raw};
use crate::pipeline::{
    Extent, Fit, InputLayout, MaskResolution, ModelIo, SegmentError, Segmentation, Segmenter,
    Timing,
};
use crate::source::ModelSource;

/// The cached engine for `onnx` on this GPU and TensorRT, built when `build` says so.
///
/// # Errors
/// Everything [`engine::build`] can fail on, and a missing or mismatched engine under
/// [`EngineBuild::Never`] (naming why and how to rebuild).
pub fn provision(
    options: &TensorRtOptions,
    onnx: &Path,
    size: (u32, u32),
) -> anyhow::Result<PathBuf> {
    let library = Library::load(options.flavour, options.library.as_deref())?;
    let target = match Target::local(options.gpu) {
        Ok(target) => target,
        Err(e) => anyhow::bail!("the TensorRT backend needs an NVIDIA GPU: {e}"),
    };
    let sha = crate::io::sha256_file(onnx)?;
    let model = crate::onnx::inspect(onnx)?
        .metadata
        .get(crate::onnx::meta::MODEL)
        .cloned()
        .unwrap_or_default();
    let plan = engine::plan_path(
        &options.engine_dir,
        &model,
        &sha,
        &target,
        library,
        options.precision,
    );
    let valid = match options.engine_build {
        EngineBuild::Force => Err("a rebuild was asked for (engine_build: force)".to_string()),
        _ if !plan.is_file() => Err(format!("{} does not exist", plan.display())),
        _ => match engine::check(&plan, Some(onnx), options.library.as_deref(), options.gpu) {
            Ok(report) if report.ok() => Ok(()),
            Ok(report) => Err(report
                .checks
                .iter()
                .filter_map(|(what, r)| r.as_ref().err().map(|e| format!("{what}: {e}")))
                .collect::<Vec<_>>()
                .join("; ")),
            Err(e) => Err(e.to_string()),
        },
    };
    match (valid, options.engine_build) {
        (Ok(()), _) => Ok(plan),
        (Err(why), EngineBuild::Never) => anyhow::bail!(
            "no usable TensorRT engine for {} ({why}); build it with `rtseg engine build --onnx {} \
             --precision {}` or set engine_build: auto",
            onnx.display(),
            onnx.display(),
            options.precision.name()
        ),
        (Err(why), _) => {
            eprintln!("building a TensorRT engine: {why}");
            let (built, _) = engine::build(&BuildOptions {
                onnx,
                precision: Some(options.precision),
                flavour: options.flavour,
                library: options.library.as_deref(),
                dir: &options.engine_dir,
                min: Some(size),
                opt: Some(size),
                max: Some(size),
                max_batch: options.max_batch,
                workspace_mib: options.workspace_mib,
                calibration: None,
                gpu: options.gpu,
            })?;
            Ok(built)
        }
    }
}

/// The ONNX the backend builds from: the configured one, or an export of `source` at `size`
/// in the cache (fp16 weights for an fp16 engine, which TensorRT 11 requires).
fn onnx_for(
    options: &TensorRtOptions,
    source: &ModelSource,
    size: (u32, u32),
) -> anyhow::Result<PathBuf> {
    if let Some(path) = &options.onnx {
        anyhow::ensure!(path.is_file(), "{}: no such ONNX file", path.display());
        let info = crate::onnx::inspect(path)?;
        let seed = info.metadata.get(crate::onnx::meta::RANDOM_INIT_SEED);
        crate::onnx::warn_if_untrained(path, seed.map(String::as_str), source);
        return Ok(path.clone());
    }
    anyhow::ensure!(
        options.precision != Precision::Int8,
        "an INT8 engine needs a Q/DQ ONNX (rtseg export --int8-qdq) or calibration: set the onnx \
         path"
    );
    let fp16 = options.precision == Precision::Fp16;
    let identity = source.cache_identity()?;
    let dir = crate::backend::cache_dir().join("onnx");
    let path = dir.join(format!(
        "{}_{}_{identity}_{}x{}_b{}{}_rtseg{}.onnx",
        source.model,
        source.label_space.name(),
        size.0,
        size.1,
        options.max_batch,
        if fp16 { "_fp16" } else { "" },
        env!("CARGO_PKG_VERSION")
    ));
    if !path.is_file() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
        let model = source.build(&burn::prelude::Device::flex())?;
        let export = crate::onnx::ExportOptions {
            size: Some(size),
            batch: Some(options.max_batch as usize),
            fp16,
            ..Default::default()
        };
        crate::onnx::save(&crate::onnx::export(&model, source, &export)?, &path)?;
    }
    Ok(path)
}

/// Device buffers of one network call, grown on demand.
struct Buffers {
    frame: CudaSlice<u8>,
    /// The network input, of the engine input's type.
    input: DeviceFloats,
    /// The class scores, of the engine output's type.
    scores: DeviceFloats,
    mask: CudaSlice<u8>,
    rgb: CudaSlice<u8>,
    overlay: CudaSlice<u8>,
    palette: CudaSlice<u8>,
}

/// Frames in, masks out, all on the GPU but the two copies.
pub struct TensorRtSegmenter {
    gpu: GpuStage,
    /// Holds the engine alive.
    context: Context,
    input: (String, TensorType),
    output: (String, TensorType),
    size: (u32, u32),
    max_batch: u32,
    card: ModelCard,
    buffers: Buffers,
    io: ModelIo,
}

// SAFETY: the segmenter is moved to one worker thread and used only there; cudarc's context
// and stream are thread-safe and the TensorRT context is used by one thread at a time.
unsafe impl Send for TensorRtSegmenter {}

fn gpu_error(e: impl std::fmt::Display) -> SegmentError {
    SegmentError::Backend {
        backend: "tensorrt",
        message: e.to_string(),
    }
}

impl TensorRtSegmenter {
    /// Finds or builds the engine for `source` at `size` and prepares the GPU stage.
    ///
    /// # Errors
    /// No GPU or TensorRT, an engine that cannot be built or loaded, an engine whose tensors are
    /// not an rtseg export's.
    pub fn open(
        options: &TensorRtOptions,
        source: &ModelSource,
        size: Option<(u32, u32)>,
    ) -> anyhow::Result<Self> {
        let size = size.ok_or_else(|| {
            anyhow::anyhow!(
                "the TensorRT backend runs at a fixed network size: set network_size / --size"
            )
        })?;
        let onnx = onnx_for(options, source, size)?;
        let plan_path = provision(options, &onnx, size)?;
        let manifest = engine::read_manifest(&plan_path)?;
        if manifest.model != source.model
            || manifest.num_classes != source.label_space.num_classes()
        {
            anyhow::bail!(
                "{} is {} with {} classes, not {} with {}",
                plan_path.display(),
                manifest.model,
                manifest.num_classes,
                source.model,
                source.label_space.num_classes()
            );
        }
        let library = Library::load(options.flavour, options.library.as_deref())?;
        let plan = std::fs::read(&plan_path)?;
        let engine = Arc::new(library.runtime()?.deserialize(&plan)?);
        let tensors = engine.tensors();
        let find = |input: bool| {
            tensors
                .iter()
                .find(|t| t.input == input)
                .map(|t| (t.name.clone(), t.dtype))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: the engine has no {}",
                        plan_path.display(),
                        if input { "input" } else { "output" }
                    )
                })
        };
        let (input, output) = (find(true)?, find(false)?);
        for (name, dtype) in [&input, &output] {
            anyhow::ensure!(
                matches!(dtype, TensorType::F32 | TensorType::F16),
                "{}: tensor {name} is {dtype:?}; rtseg engines take and give f32 or f16",
                plan_path.display()
            );
        }
        let context = engine.context()?;
        let crate::gpu::cuda::Gpu {
            context: cuda,
            name,
            ..
        } = crate::gpu::cuda::device(options.gpu)?;
        let gpu = GpuStage::new(cuda)?;
        let s = &gpu.stream;
        let buffers = Buffers {
            frame: s.alloc_zeros(1)?,
            input: DeviceFloats::new(s, input.1 == TensorType::F16)?,
            scores: DeviceFloats::new(s, output.1 == TensorType::F16)?,
            mask: s.alloc_zeros(1)?,
            rgb: s.alloc_zeros(1)?,
            overlay: s.alloc_zeros(1)?,
            palette: s.clone_htod(&source.label_space.palette().concat())?,
        };
        let io = ModelIo {
            backend: "tensorrt",
            device: format!("cuda:{} ({name})", options.gpu),
            model: source.model.clone(),
            num_classes: source.label_space.num_classes(),
            height: Extent::Fixed(size.0 as usize),
            width: Extent::Fixed(size.1 as usize),
            batch: Extent::Fixed(options.max_batch.max(1) as usize),
            precision: manifest.precision.name(),
            input: InputLayout::NormalizedNchwF32,
        };
        Ok(Self {
            gpu,
            context,
            input,
            output,
            size,
            max_batch: options.max_batch.max(1),
            card: source.card(),
            buffers,
            io,
        })
    }

    fn ensure<T: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits>(
        stream: &Arc<cudarc::driver::CudaStream>,
        buffer: &mut CudaSlice<T>,
        len: usize,
    ) -> Result<(), SegmentError> {
        if buffer.len() < len {
            *buffer = stream.alloc_zeros(len).map_err(gpu_error)?;
        }
        Ok(())
    }

    /// One network call over at most `max_batch` frames.
    fn run(
        &mut self,
        frames: &[FrameRef<'_>],
        fit: &Fit,
        out: &mut Vec<Segmentation>,
    ) -> Result<(), SegmentError> {
        let Self {
            gpu,
            context,
            input,
            output,
            size: (nh, nw),
            card,
            buffers: b,
            ..
        } = self;
        let (nh, nw) = (*nh, *nw);
        let n = frames.len();
        let plane = (nw * nh) as usize;
        let k = card.num_classes();
        let stream = gpu.stream.clone();
        let started = Instant::now();
        b.input.ensure(&stream, n * 3 * plane).map_err(gpu_error)?;
        let mut contents = Vec::with_capacity(n);
        for (i, frame) in frames.iter().enumerate() {
            let bytes = &frame.data[..(frame.step as usize * frame.height as usize)];
            Self::ensure(&stream, &mut b.frame, bytes.len())?;
            stream.memcpy_htod(bytes, &mut b.frame).map_err(gpu_error)?;
            let content = match fit.size {
                Some(_) => content_size((frame.width, frame.height), (nw, nh), fit.policy),
                None => (nw, nh),
            };
            contents.push(content);
            gpu.fit(
                frame,
                &b.frame,
                (nw, nh),
                content,
                &card.input,
                &mut b.input,
                i as i32,
            )
            .map_err(gpu_error)?;
        }
        stream.synchronize().map_err(gpu_error)?;
        let pre_ms = started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        b.scores.ensure(&stream, n * k * plane).map_err(gpu_error)?;
        context
            .set_input_shape(&input.0, &[n as i64, 3, nh as i64, nw as i64])
            .map_err(gpu_error)?;
        {
            let (input_ptr, _i) = b.input.device_ptr(&stream);
            let (output_ptr, _o) = b.scores.device_ptr_mut(&stream);
            // SAFETY: both buffers hold the whole batch and stay allocated until the stream is
            // synchronised below, while their guards are alive.
            unsafe {
                context
                    .set_tensor_address(&input.0, input_ptr as *mut c_void)
                    .map_err(gpu_error)?;
                context
                    .set_tensor_address(&output.0, output_ptr as *mut c_void)
                    .map_err(gpu_error)?;
                context
                    .enqueue(stream.cu_stream() as *mut c_void)
                    .map_err(gpu_error)?;
            }
            stream.synchronize().map_err(gpu_error)?;
        }
        let network_ms = started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        let mut done = Vec::with_capacity(n);
        for (i, (frame, &(cw, ch))) in frames.iter().zip(&contents).enumerate() {
            let (w, h) = (frame.width, frame.height);
            let (size, scale) = match fit.resolution {
                MaskResolution::Input => ((w, h), (1.0, 1.0)),
                MaskResolution::Network => ((cw, ch), (cw as f64 / w as f64, ch as f64 / h as f64)),
            };
            let pixels = (size.0 * size.1) as usize;
            Self::ensure(&stream, &mut b.mask, pixels)?;
            let (net, content) = ((nw, nh), (cw, ch));
            gpu.argmax_nearest(
                &b.scores,
                k as i32,
                net,
                content,
                size,
                i as i32,
                &mut b.mask,
            )
            .map_err(gpu_error)?;
            let mut ids = vec![0u8; pixels];
            stream
                .memcpy_dtoh(&b.mask.slice(..pixels), &mut ids)
                .map_err(gpu_error)?;
            let overlay = match fit.overlay_alpha {
                Some(alpha) => {
                    // The frame at the mask's size: decoded, or resized as the CPU stage does.
                    let bytes = &frame.data[..(frame.step as usize * h as usize)];
                    Self::ensure(&stream, &mut b.frame, bytes.len())?;
                    stream.memcpy_htod(bytes, &mut b.frame).map_err(gpu_error)?;
                    Self::ensure(&stream, &mut b.rgb, 3 * pixels)?;
                    Self::ensure(&stream, &mut b.overlay, 3 * pixels)?;
                    gpu.fit_rgb(frame, &b.frame, size, &card.input, &mut b.rgb)
                        .map_err(gpu_error)?;
                    gpu.overlay(
                        &b.rgb,
                        &b.mask,
                        &b.palette,
                        k as i32,
                        alpha,
                        size,
                        &mut b.overlay,
                    )
                    .map_err(gpu_error)?;
                    let mut rgb = vec![0u8; 3 * pixels];
                    stream
                        .memcpy_dtoh(&b.overlay.slice(..3 * pixels), &mut rgb)
                        .map_err(gpu_error)?;
                    RgbImage::from_raw(size.0, size.1, rgb)
                }
                None => None,
            };
            let mask =
                GrayImage::from_raw(size.0, size.1, ids).ok_or_else(|| gpu_error("mask size"))?;
            done.push((mask, scale, overlay));
        }
        let timing = Timing {
            pre_ms,
            network_ms,
            post_ms: started.elapsed().as_secs_f64() * 1e3,
        };
        out.extend(
            done.into_iter()
                .map(|(mask, (scale_x, scale_y), overlay)| Segmentation {
                    mask,
                    scale_x,
                    scale_y,
                    overlay,
                    timing,
                }),
        );
        Ok(())
    }
}

impl Segmenter for TensorRtSegmenter {
    fn io(&self) -> &ModelIo {
        &self.io
    }

    fn segment(
        &mut self,
        frames: &[FrameRef<'_>],
        fit: &Fit,
    ) -> Result<Vec<Segmentation>, SegmentError> {
        // Encodings the fit kernel does not read (16-bit, NV12/NV21, Bayer) are decoded on the
        // CPU and uploaded as rgb8.
        let mut decoded = Vec::with_capacity(frames.len());
        for (index, frame) in frames.iter().enumerate() {
            let error = |source| SegmentError::Frame { index, source };
            frame.validate().map_err(error)?;
            let size = fit.size.unwrap_or((frame.height, frame.width));
            self.io.check_size(size.0, size.1)?;
            decoded.push(match crate::gpu::encoding_code(frame.encoding) {
                Some(_) => None,
                None => Some(decode_raw(frame).map_err(error)?),
            });
        }
        let frames: Vec<FrameRef<'_>> = frames
            .iter()
            .zip(&decoded)
            .map(|(frame, rgb)| rgb.as_ref().map_or(*frame, FrameRef::rgb))
            .collect();
        let frames = frames.as_slice();
        let mut out = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.max_batch as usize) {
            self.run(chunk, fit, &mut out)?;
        }
        Ok(out)
    }
}

/// Builds with an entropy calibrator (TensorRT ≤ 10): each image is fitted and normalised on the
/// CPU (the model card in the ONNX), uploaded and handed to TensorRT; the calibration table is
/// cached under `calibration/` keyed by the ONNX and the set's hash.
///
/// # Errors
/// No GPU, an unreadable image, or the build's errors.
pub fn build_calibrated<'a>(
    library: &'static Library,
    mut request: BuildRequest<'a>,
    set: &'a crate::onnx::quantize::CalibrationSet,
    options: &BuildOptions<'_>,
) -> anyhow::Result<BuiltPlan> {
    let info = crate::onnx::inspect(options.onnx)?;
    let spec = info.input_spec()?;
    let (h, w) = (request.opt[2] as u32, request.opt[3] as u32);
    let cuda = crate::gpu::cuda::device(options.gpu)?.context;
    let stream = cuda.default_stream();
    let mut buffer: CudaSlice<f32> = stream.alloc_zeros(3 * (h * w) as usize)?;
    let cache_dir = Path::new("calibration");
    let model = info
        .metadata
        .get(crate::onnx::meta::MODEL)
        .cloned()
        .unwrap_or_default();
    let onnx_sha = crate::io::sha256_file(options.onnx)?;
    let cache_file = cache_dir.join(format!(
        "{model}-{}-{}.calib",
        &onnx_sha[..12],
        &set.sha256[..16]
    ));
    let cached = std::fs::read(&cache_file).unwrap_or_default();
    let mut next = set.files.iter();
    let calibration = Calibration {
        batch_size: 1,
        next: Box::new(move || {
            let file = next.next()?;
            let image = crate::io::load_rgb(file).ok()?;
            let fitted = fit_to_network(
                &image,
                w,
                h,
                crate::pipeline::ResizePolicy::Stretch,
                spec.pad_rgb(),
            );
            let mut data = Vec::with_capacity(3 * (w * h) as usize);
            match &fitted.image {
                Some(f) => normalize_into(f, &spec, &mut data),
                None => normalize_into(&image, &spec, &mut data),
            }
            stream.memcpy_htod(&data, &mut buffer).ok()?;
            stream.synchronize().ok()?;
            let (ptr, _guard) = buffer.device_ptr(&stream);
            Some(ptr as *mut c_void)
        }),
        cache: cached,
        written: Default::default(),
    };
    request.calibrator = Some(calibration);
    let built = library.build(&request)?;
    if let Some(calibration) = &request.calibrator {
        let table = calibration.written.borrow();
        if !table.is_empty() {
            std::fs::create_dir_all(cache_dir)?;
            crate::io::write_atomic(&cache_file, &table)?;
        }
    }
    Ok(built)
}
