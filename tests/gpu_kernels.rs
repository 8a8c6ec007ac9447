//! Every CUDA kernel of the GPU stage (`src/gpu/kernels.cu`) against its CPU twin, on frames of
//! every encoding, shrunk (area), enlarged (bilinear) and copied, stretched and letterboxed,
//! RGB and BGR cards, f32, f16 and RGB8 outputs, f32 and f16 scores: byte for byte.
//!
//! Without a GPU the kernels run as host C++ (`crates/gpu-host`) over the launch grid rtseg
//! gives cudarc; with `--features tensorrt` on a machine with an NVIDIA GPU the ignored
//! `on_the_gpu` test runs the same cases on the NVRTC-compiled kernels
//! (`scripts/gpu_check.sh` runs it).

use std::ffi::c_void;

use image::{GrayImage, RgbImage};
use rtseg::gpu::{AxisTable, FitOutput, FitParams, grid_2d};
use rtseg::models::card::{ChannelOrder, InputSpec};
use rtseg::pipeline::cpu::{
    argmax_scores, color_overlay, content_size, fit_to_network, normalize_into, restore_mask,
};
use rtseg::pipeline::frame::{FrameRef, decode_raw};
use rtseg::pipeline::{MaskResolution, ResizePolicy};

/// Where the kernels run.
trait Kernels {
    /// `rtseg_fit` into element 1 of a two-element batch; returns that element's bytes.
    fn fit(
        &self,
        frame: &FrameRef<'_>,
        net: (u32, u32),
        content: (u32, u32),
        spec: &InputSpec,
        output: FitOutput,
    ) -> Vec<u8>;
    /// `rtseg_argmax_nearest` of element 1 of `scores` (two elements).
    fn argmax(
        &self,
        scores: &[u8],
        half: bool,
        k: i32,
        net: (u32, u32),
        content: (u32, u32),
        out: (u32, u32),
    ) -> Vec<u8>;
    fn overlay(
        &self,
        rgb: &[u8],
        mask: &[u8],
        palette: &[u8],
        alpha: f32,
        size: (u32, u32),
    ) -> Vec<u8>;
}

/// Values and bytes per value of one fitted network input.
fn fit_size((nw, nh): (u32, u32), output: FitOutput) -> (usize, usize) {
    let bytes = match output {
        FitOutput::PlanesF32 => 4,
        FitOutput::PlanesF16 => 2,
        FitOutput::Rgb8 => 1,
    };
    ((3 * nw * nh) as usize, bytes)
}

fn grid(width: u32, height: u32) -> [u32; 4] {
    let ((gx, gy), (bx, by)) = grid_2d(width, height);
    [gx, gy, bx, by]
}

/// The kernels compiled for the host.
struct Host;

impl Kernels for Host {
    fn fit(
        &self,
        frame: &FrameRef<'_>,
        (nw, nh): (u32, u32),
        (cw, ch): (u32, u32),
        spec: &InputSpec,
        output: FitOutput,
    ) -> Vec<u8> {
        let params = FitParams::new(frame, (nw, nh), (cw, ch), spec, output).unwrap();
        let (values, bytes_per_value) = fit_size((nw, nh), output);
        let (rows, cols) = (
            AxisTable::area(frame.height, ch),
            AxisTable::area(frame.width, cw),
        );
        let mut out = vec![0xAAu8; 2 * values * bytes_per_value];
        // SAFETY: `out` holds two inputs of `values` values, the tables cover the content size.
        unsafe {
            rtseg_gpu_host::fit(
                grid(nw, nh),
                frame.data,
                &params,
                (&rows.first, &rows.count, &rows.offset, &rows.weights),
                (&cols.first, &cols.count, &cols.offset, &cols.weights),
                out.as_mut_ptr().cast::<c_void>(),
                1,
            )
        };
        out.split_off(values * bytes_per_value)
    }

    fn argmax(
        &self,
        scores: &[u8],
        half: bool,
        k: i32,
        (nw, nh): (u32, u32),
        (cw, ch): (u32, u32),
        (w, h): (u32, u32),
    ) -> Vec<u8> {
        let mut mask = vec![0xAAu8; (w * h) as usize];
        // SAFETY: `scores` holds two elements of k × nh × nw; `mask` w × h bytes.
        unsafe {
            rtseg_gpu_host::argmax_nearest(
                grid(w, h),
                scores.as_ptr().cast(),
                half,
                k,
                (nw as i32, nh as i32),
                (cw as i32, ch as i32),
                (w as i32, h as i32),
                1,
                &mut mask,
            )
        };
        mask
    }

    fn overlay(
        &self,
        rgb: &[u8],
        mask: &[u8],
        palette: &[u8],
        alpha: f32,
        (w, h): (u32, u32),
    ) -> Vec<u8> {
        let mut out = vec![0xAAu8; rgb.len()];
        // SAFETY: the buffers hold w × h pixels and the palette its colours.
        unsafe {
            rtseg_gpu_host::overlay(
                grid(w, h),
                rgb,
                mask,
                palette,
                (palette.len() / 3) as i32,
                alpha,
                (w as i32, h as i32),
                &mut out,
            )
        };
        out
    }
}

/// Deterministic bytes (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

const ENCODINGS: [(&str, u32); 7] = [
    ("rgb8", 3),
    ("bgr8", 3),
    ("rgba8", 4),
    ("bgra8", 4),
    ("mono8", 1),
    ("yuv422_yuy2", 2),
    ("uyvy", 2),
];

/// `(frame w × h, network w × h)`: shrink (area), enlarge (bilinear), both, the same size.
const SIZES: [((u32, u32), (u32, u32)); 4] = [
    ((38, 23), (16, 12)),
    ((14, 10), (40, 32)),
    ((30, 12), (18, 20)),
    ((24, 16), (24, 16)),
];

fn bgr_card() -> InputSpec {
    InputSpec {
        mean: [0.5, 0.25, 0.75],
        std: [0.2, 0.3, 0.4],
        channel_order: ChannelOrder::Bgr,
        ..InputSpec::IMAGENET_RGB
    }
}

/// The fit kernel against decode_raw + fit_to_network + normalize_into for every case.
fn check_fit(kernels: &dyn Kernels) -> usize {
    let mut cases = 0;
    for (e, &(encoding, bpp)) in ENCODINGS.iter().enumerate() {
        for &((w, h), (nw, nh)) in &SIZES {
            for policy in [ResizePolicy::Stretch, ResizePolicy::Letterbox] {
                for spec in [InputSpec::IMAGENET_RGB, bgr_card()] {
                    // Rows padded as camera drivers do.
                    let step = w * bpp + 5;
                    let data = noise((step * h) as usize, (e * 100 + w as usize) as u64);
                    let frame = FrameRef {
                        width: w,
                        height: h,
                        encoding,
                        big_endian: false,
                        step,
                        data: &data,
                    };
                    let rgb = decode_raw(&frame).unwrap();
                    let fitted = fit_to_network(&rgb, nw, nh, policy, spec.pad_rgb());
                    let content = content_size((w, h), (nw, nh), policy);
                    assert_eq!(
                        fitted.content,
                        if (w, h) == (nw, nh) { (w, h) } else { content }
                    );
                    let content = fitted.content;
                    let twin_rgb: RgbImage = fitted.image.unwrap_or_else(|| rgb.clone());
                    let mut planes = Vec::new();
                    normalize_into(&twin_rgb, &spec, &mut planes);
                    let case = format!(
                        "{encoding} {w}x{h} -> {nw}x{nh} {policy:?} {:?}",
                        spec.channel_order
                    );

                    let got = kernels.fit(&frame, (nw, nh), content, &spec, FitOutput::PlanesF32);
                    assert_same(&got, &f32_bytes(&planes), 4, &format!("f32 planes, {case}"));

                    let got = kernels.fit(&frame, (nw, nh), content, &spec, FitOutput::PlanesF16);
                    assert_same(&got, &f16_bytes(&planes), 2, &format!("f16 planes, {case}"));

                    // The overlay's image is the frame stretched to the mask (`fit_rgb`).
                    if content == (nw, nh) {
                        let got = kernels.fit(&frame, (nw, nh), content, &spec, FitOutput::Rgb8);
                        assert_same(&got, twin_rgb.as_raw(), 3, &format!("RGB8, {case}"));
                    }
                    cases += 1;
                }
            }
        }
    }
    cases
}

/// Native-endian bytes of f32 values.
fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// Native-endian bytes of f32 values rounded to f16 (to nearest even).
fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| half::f16::from_f32(*v).to_bits().to_ne_bytes())
        .collect()
}

/// Asserts that `got` is `want`, naming the first differing element (of `size` bytes).
#[track_caller]
fn assert_same(got: &[u8], want: &[u8], size: usize, what: &str) {
    assert_eq!(first_difference(got, want, size), None, "{what}");
}

/// The first differing element (of `size` bytes) and its index, if any.
fn first_difference(got: &[u8], want: &[u8], size: usize) -> Option<(usize, Vec<u8>, Vec<u8>)> {
    assert_eq!(got.len(), want.len(), "output lengths");
    got.chunks(size)
        .zip(want.chunks(size))
        .position(|(a, b)| a != b)
        .map(|i| {
            (
                i,
                got[i * size..(i + 1) * size].to_vec(),
                want[i * size..(i + 1) * size].to_vec(),
            )
        })
}

/// The fused argmax + nearest kernel against argmax_scores + restore_mask: scores with ties
/// (few distinct values) so the first-maximum rule is exercised, f32 and f16.
fn check_argmax(kernels: &dyn Kernels) -> usize {
    let mut cases = 0;
    for &(k, (nw, nh), (cw, ch), (w, h)) in &[
        (19usize, (16u32, 12u32), (16u32, 12u32), (37u32, 29u32)),
        (11, (20, 20), (20, 13), (61, 40)),
        (5, (24, 16), (12, 8), (6, 4)),
        (3, (8, 8), (8, 8), (8, 8)),
    ] {
        let plane = (nw * nh) as usize;
        let levels = noise(2 * k * plane, k as u64);
        let scores: Vec<f32> = levels.iter().map(|&b| (b % 7) as f32 * 0.5 - 1.0).collect();
        let ids = argmax_scores(&scores, [2, k, nh as usize, nw as usize]);
        let (want, _, _) = restore_mask(
            &ids[plane..],
            (nw, nh),
            (cw, ch),
            (w, h),
            MaskResolution::Input,
        );
        let case = format!("k={k} {nw}x{nh} content {cw}x{ch} -> {w}x{h}");

        let got = kernels.argmax(
            &f32_bytes(&scores),
            false,
            k as i32,
            (nw, nh),
            (cw, ch),
            (w, h),
        );
        assert_same(&got, want.as_raw(), 1, &format!("f32 scores, {case}"));

        // The values are exact in f16, so the twin's answer is the same.
        let got = kernels.argmax(
            &f16_bytes(&scores),
            true,
            k as i32,
            (nw, nh),
            (cw, ch),
            (w, h),
        );
        assert_same(&got, want.as_raw(), 1, &format!("f16 scores, {case}"));
        cases += 1;
    }
    cases
}

/// The overlay kernel against color_overlay, with ids outside the palette (255).
fn check_overlay(kernels: &dyn Kernels) -> usize {
    let (w, h) = (29u32, 17u32);
    let rgb = RgbImage::from_raw(w, h, noise((3 * w * h) as usize, 7)).unwrap();
    let ids: Vec<u8> = noise((w * h) as usize, 8)
        .iter()
        .map(|&b| if b > 230 { 255 } else { b % 12 })
        .collect();
    let mask = GrayImage::from_raw(w, h, ids).unwrap();
    let palette: Vec<[u8; 3]> = noise(33, 9).chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
    let flat: Vec<u8> = palette.iter().flatten().copied().collect();
    let mut cases = 0;
    for alpha in [0.0, 0.35, 0.5, 1.0] {
        let want = color_overlay(&rgb, &mask, &palette, alpha);
        let got = kernels.overlay(rgb.as_raw(), mask.as_raw(), &flat, alpha, (w, h));
        assert_same(&got, want.as_raw(), 3, &format!("overlay, alpha {alpha}"));
        cases += 1;
    }
    cases
}

#[test]
fn the_fit_kernel_is_its_cpu_twin() {
    assert_eq!(check_fit(&Host), ENCODINGS.len() * SIZES.len() * 4);
}

#[test]
fn the_argmax_nearest_kernel_is_its_cpu_twin() {
    assert_eq!(check_argmax(&Host), 4);
}

#[test]
fn the_overlay_kernel_is_its_cpu_twin() {
    assert_eq!(check_overlay(&Host), 4);
}

#[test]
fn frames_the_kernel_cannot_read_are_refused() {
    let data = [0u8; 16];
    let frame = FrameRef {
        width: 2,
        height: 2,
        encoding: "16UC1",
        big_endian: false,
        step: 4,
        data: &data,
    };
    let err = FitParams::new(
        &frame,
        (2, 2),
        (2, 2),
        &InputSpec::IMAGENET_RGB,
        FitOutput::PlanesF32,
    )
    .unwrap_err();
    assert!(err.to_string().contains("16UC1"), "{err}");
}

/// The NVRTC-compiled kernels on GPU 0, through rtseg's own launch code.
#[cfg(feature = "tensorrt")]
mod device {
    use cudarc::driver::CudaSlice;
    use rtseg::gpu::cuda::{DeviceFloats, GpuStage, device};

    use super::*;

    pub struct Device(pub GpuStage);

    impl Device {
        pub fn open() -> Self {
            let gpu = device(0).expect("an NVIDIA GPU");
            let (major, minor) = gpu.compute_capability;
            eprintln!("GPU 0: {} (sm {major}.{minor})", gpu.name);
            Device(GpuStage::new(gpu.context).expect("the kernels compile and load"))
        }

        fn upload(&self, bytes: &[u8]) -> CudaSlice<u8> {
            self.0.stream.clone_htod(bytes).unwrap()
        }

        fn download(&self, slice: &CudaSlice<u8>) -> Vec<u8> {
            self.0.stream.clone_dtoh(slice).unwrap()
        }
    }

    impl Kernels for Device {
        fn fit(
            &self,
            frame: &FrameRef<'_>,
            net: (u32, u32),
            content: (u32, u32),
            spec: &InputSpec,
            output: FitOutput,
        ) -> Vec<u8> {
            let (values, _) = fit_size(net, output);
            let stream = &self.0.stream;
            let bytes = self.upload(frame.data);
            let element = match output {
                FitOutput::Rgb8 => {
                    assert_eq!(net, content, "fit_rgb stretches to the whole size");
                    let mut out = self.upload(&vec![0xAA; values]);
                    self.0.fit_rgb(frame, &bytes, net, spec, &mut out).unwrap();
                    return self.download(&out);
                }
                planes => {
                    let mut out =
                        DeviceFloats::new(stream, planes == FitOutput::PlanesF16).unwrap();
                    out.ensure(stream, 2 * values).unwrap();
                    self.0
                        .fit(frame, &bytes, net, content, spec, &mut out, 1)
                        .unwrap();
                    match out {
                        DeviceFloats::F32(out) => f32_bytes(&stream.clone_dtoh(&out).unwrap()),
                        DeviceFloats::F16(out) => {
                            let bits: Vec<u16> = stream.clone_dtoh(&out).unwrap();
                            bits.iter().flat_map(|b| b.to_ne_bytes()).collect()
                        }
                    }
                }
            };
            element[element.len() / 2..].to_vec()
        }

        fn argmax(
            &self,
            scores: &[u8],
            half: bool,
            k: i32,
            net: (u32, u32),
            content: (u32, u32),
            out: (u32, u32),
        ) -> Vec<u8> {
            let stream = &self.0.stream;
            let scores = match half {
                true => {
                    let bits: Vec<u16> = scores
                        .chunks(2)
                        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
                        .collect();
                    DeviceFloats::F16(stream.clone_htod(&bits).unwrap())
                }
                false => {
                    let values: Vec<f32> = scores
                        .chunks(4)
                        .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    DeviceFloats::F32(stream.clone_htod(&values).unwrap())
                }
            };
            let mut mask = self.upload(&vec![0xAA; (out.0 * out.1) as usize]);
            self.0
                .argmax_nearest(&scores, k, net, content, out, 1, &mut mask)
                .unwrap();
            self.download(&mask)
        }

        fn overlay(
            &self,
            rgb: &[u8],
            mask: &[u8],
            palette: &[u8],
            alpha: f32,
            size: (u32, u32),
        ) -> Vec<u8> {
            let (rgb_d, mask_d, palette_d) =
                (self.upload(rgb), self.upload(mask), self.upload(palette));
            let mut out = self.upload(&vec![0xAA; rgb.len()]);
            self.0
                .overlay(
                    &rgb_d,
                    &mask_d,
                    &palette_d,
                    (palette.len() / 3) as i32,
                    alpha,
                    size,
                    &mut out,
                )
                .unwrap();
            self.download(&out)
        }
    }
}

/// The same cases on the GPU: `scripts/gpu_check.sh` runs this on a machine with one.
#[cfg(feature = "tensorrt")]
#[test]
#[ignore = "needs an NVIDIA GPU (scripts/gpu_check.sh)"]
fn on_the_gpu_every_kernel_is_its_cpu_twin() {
    let gpu = device::Device::open();
    assert_eq!(check_fit(&gpu), ENCODINGS.len() * SIZES.len() * 4);
    assert_eq!(check_argmax(&gpu), 4);
    assert_eq!(check_overlay(&gpu), 4);
}
