//! The node's ROS-free core: frame decoding (every encoding, row padding, every malformed
//! case), fitting frames to the network, the keep-latest slot and the statistics.

use std::sync::Arc;
use std::time::Duration;

use image::{Rgb, RgbImage};
use rtseg::labels::LabelSpace;
use rtseg::models::card::{InputSpec, ModelCard};
use rtseg::pipeline::cpu::{CpuSegmenter, HostBatch, TensorRunner};
use rtseg::pipeline::frame::{FrameError, FrameRef, decode_compressed, decode_raw};
use rtseg::pipeline::latest::LatestSlots;
use rtseg::pipeline::stats::PipelineStats;
use rtseg::pipeline::{
    Extent, Fit, InputLayout, MaskResolution, ModelIo, ResizePolicy, SegmentError, Segmentation,
    Segmenter,
};

fn reference() -> RgbImage {
    RgbImage::from_fn(6, 4, |x, y| {
        Rgb([x as u8 * 40, y as u8 * 60, (x + y) as u8 * 10])
    })
}

/// Packs the reference image in `encoding` with `pad` garbage bytes after every row.
fn pack(encoding: &str, pad: usize) -> (Vec<u8>, u32) {
    let img = reference();
    let mut data = Vec::new();
    for row in img.rows() {
        for p in row {
            let [r, g, b] = p.0;
            let bytes: Vec<u8> = match encoding {
                "rgb8" => vec![r, g, b],
                "bgr8" => vec![b, g, r],
                "rgba8" => vec![r, g, b, 255],
                "bgra8" => vec![b, g, r, 255],
                _ => unreachable!(),
            };
            data.extend(bytes);
        }
        data.extend(std::iter::repeat_n(0xAB, pad));
    }
    let step = data.len() as u32 / img.height();
    (data, step)
}

fn raw<'a>(encoding: &'a str, step: u32, data: &'a [u8]) -> FrameRef<'a> {
    FrameRef {
        width: 6,
        height: 4,
        encoding,
        big_endian: false,
        step,
        data,
    }
}

#[test]
fn colour_encodings_decode_to_the_same_rgb_with_and_without_padding() {
    for encoding in ["rgb8", "bgr8", "rgba8", "bgra8"] {
        for pad in [0, 5] {
            let (data, step) = pack(encoding, pad);
            let got = decode_raw(&raw(encoding, step, &data)).unwrap();
            assert_eq!(got, reference(), "{encoding} pad {pad}");
        }
    }
}

#[test]
fn mono8_and_yuyv_decode() {
    let data: Vec<u8> = (0..4 * 8).map(|i| (i * 7) as u8).collect();
    let frame = FrameRef {
        width: 6,
        height: 4,
        encoding: "mono8",
        big_endian: false,
        step: 8,
        data: &data,
    };
    let got = decode_raw(&frame).unwrap();
    assert_eq!(got.get_pixel(5, 3).0, [data[3 * 8 + 5]; 3]);
    // Grey in limited-range YUV (Y 128, U = V = 128) is RGB 130 everywhere.
    let yuyv: Vec<u8> = [128u8, 128, 128, 128].repeat(3 * 4);
    let frame = FrameRef {
        encoding: "yuv422_yuy2",
        big_endian: false,
        step: 12,
        data: &yuyv,
        ..frame
    };
    assert!(
        decode_raw(&frame)
            .unwrap()
            .pixels()
            .all(|p| p.0 == [130, 130, 130])
    );
    // Saturated red: Y 82, U 90, V 240 (BT.601) comes back red.
    let red: Vec<u8> = [82u8, 90, 82, 240].repeat(3 * 4);
    let frame = FrameRef {
        data: &red,
        ..frame
    };
    let p = decode_raw(&frame).unwrap().get_pixel(0, 0).0;
    assert!(p[0] > 240 && p[1] < 15 && p[2] < 15, "{p:?}");
}

#[test]
fn data_shorter_than_step_times_height_is_rejected() {
    let (data, step) = pack("rgb8", 2);
    let err = decode_raw(&raw("rgb8", step, &data[..data.len() - 1])).unwrap_err();
    assert!(matches!(err, FrameError::DataTooShort { .. }), "{err}");
}

#[test]
fn step_smaller_than_a_row_is_rejected() {
    let (data, _) = pack("rgb8", 0);
    let err = decode_raw(&raw("rgb8", 17, &data)).unwrap_err();
    assert_eq!(
        err,
        FrameError::StepTooSmall {
            step: 17,
            width: 6,
            bytes: 3
        }
    );
}

#[test]
fn unknown_encoding_is_rejected() {
    let (data, step) = pack("rgb8", 0);
    // A depth image: float samples are not a camera picture.
    let err = decode_raw(&raw("32FC1", step, &data)).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("\"32FC1\"") && message.contains("yuyv (yuv422_yuy2)"),
        "{message}"
    );
}

#[test]
fn zero_and_huge_sizes_are_rejected() {
    for (width, height) in [(0, 4), (6, 0), (8193, 4), (6, 100_000)] {
        let frame = FrameRef {
            width,
            height,
            encoding: "rgb8",
            big_endian: false,
            step: 3 * width,
            data: &[],
        };
        assert_eq!(
            decode_raw(&frame).unwrap_err(),
            FrameError::BadSize { width, height }
        );
    }
}

#[test]
fn corrupt_compressed_frames_are_rejected() {
    let mut png = Vec::new();
    reference()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    assert_eq!(decode_compressed(&png).unwrap(), reference());
    let mut jpeg = Vec::new();
    reference()
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    assert_eq!(decode_compressed(&jpeg).unwrap().dimensions(), (6, 4));
    for bad in [&png[..png.len() / 2], &jpeg[..20], b"not an image at all"] {
        assert!(matches!(
            decode_compressed(bad),
            Err(FrameError::Compressed(_))
        ));
    }
}

/// Class 1 wherever the network input differs from the letterbox pad colour, else 0.
struct PadDetector(ModelIo);

impl TensorRunner for PadDetector {
    fn io(&self) -> &ModelIo {
        &self.0
    }
    fn run(&mut self, batch: HostBatch<'_>) -> Result<Vec<u8>, SegmentError> {
        let HostBatch::F32(data, [n, _, h, w]) = batch else {
            unreachable!("declared normalised input")
        };
        let plane = h * w;
        Ok((0..n * plane)
            .map(|i| {
                let (image, i) = (i / plane, i % plane);
                let at = |c: usize| data[(3 * image + c) * plane + i];
                (0..3).any(|c| at(c).abs() > 0.05) as u8
            })
            .collect())
    }
}

/// The CPU stage around [`PadDetector`], taking batches of at most `batch` frames.
fn pad_detector(batch: Extent) -> CpuSegmenter<PadDetector> {
    let io = ModelIo {
        backend: "pad-detector",
        device: "cpu".into(),
        model: "pad-detector".into(),
        num_classes: 2,
        height: Extent::Any,
        width: Extent::Any,
        batch,
        precision: "f32",
        input: InputLayout::NormalizedNchwF32,
    };
    let card = ModelCard {
        model: "pad-detector".into(),
        input: InputSpec::IMAGENET_RGB,
        label_space: LabelSpace::Camvid,
    };
    CpuSegmenter::new(PadDetector(io), card)
}

fn segment_one(
    frame: &RgbImage,
    size: Option<(u32, u32)>,
    policy: ResizePolicy,
    resolution: MaskResolution,
) -> Segmentation {
    let fit = Fit {
        size,
        policy,
        resolution,
        overlay_alpha: None,
    };
    pad_detector(Extent::Any)
        .segment(&[FrameRef::rgb(frame)], &fit)
        .unwrap()
        .remove(0)
}

#[test]
fn letterbox_keeps_the_pad_out_of_the_mask() {
    let frame = RgbImage::from_pixel(200, 100, Rgb([250, 10, 10]));
    let run = |policy, resolution| segment_one(&frame, Some((128, 128)), policy, resolution);
    let s = run(ResizePolicy::Letterbox, MaskResolution::Input);
    assert_eq!(s.mask.dimensions(), (200, 100));
    assert!(
        s.mask.pixels().all(|p| p[0] == 1),
        "pad leaked into the mask"
    );
    let s = run(ResizePolicy::Letterbox, MaskResolution::Network);
    assert_eq!(s.mask.dimensions(), (128, 64));
    assert!((s.scale_x - 0.64).abs() < 1e-9 && (s.scale_y - 0.64).abs() < 1e-9);
    let s = run(ResizePolicy::Stretch, MaskResolution::Network);
    assert_eq!(s.mask.dimensions(), (128, 128));
    assert_eq!((s.scale_x, s.scale_y), (0.64, 1.28));
}

#[test]
fn a_batch_gives_each_frame_its_own_mask_in_calls_of_the_backends_batch() {
    // Left half red, right half the pad (mean) colour; and its mirror image.
    let pad = Rgb(InputSpec::IMAGENET_RGB.pad_rgb());
    let half = |red_left: bool| {
        RgbImage::from_fn(200, 100, |x, _| {
            if (x < 100) == red_left {
                Rgb([250, 10, 10])
            } else {
                pad
            }
        })
    };
    let (a, b) = (half(true), half(false));
    let other_size = RgbImage::from_pixel(100, 100, Rgb([250, 10, 10]));
    let fit = Fit {
        size: Some((64, 128)),
        ..Fit::default()
    };
    let frames = [&a, &b, &other_size, &a].map(FrameRef::rgb);
    for batch in [Extent::Any, Extent::Fixed(1), Extent::Fixed(2)] {
        let batched = pad_detector(batch).segment(&frames, &fit).unwrap();
        assert_eq!(batched.len(), 4);
        for (image, seg) in [&a, &b, &other_size, &a].into_iter().zip(&batched) {
            let alone = segment_one(image, fit.size, fit.policy, fit.resolution);
            assert_eq!(seg.mask, alone.mask, "{batch:?}");
        }
        assert_eq!(batched[0].mask.get_pixel(10, 50).0, [1]);
        assert_eq!(batched[1].mask.get_pixel(10, 50).0, [0]);
        assert_eq!(batched[2].mask.dimensions(), (100, 100));
    }
}

#[test]
fn a_malformed_frame_or_size_is_a_named_error() {
    let fit = Fit::default();
    let data = [0u8; 10];
    let short = FrameRef {
        width: 4,
        height: 4,
        encoding: "rgb8",
        big_endian: false,
        step: 12,
        data: &data,
    };
    let good = RgbImage::new(64, 64);
    let err = pad_detector(Extent::Any)
        .segment(&[FrameRef::rgb(&good), short], &fit)
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            SegmentError::Frame {
                index: 1,
                source: FrameError::DataTooShort { .. }
            }
        ),
        "{err}"
    );
    let tiny = RgbImage::new(32, 32);
    let err = pad_detector(Extent::Any)
        .segment(&[FrameRef::rgb(&tiny)], &fit)
        .err()
        .unwrap();
    assert!(err.to_string().contains("64 to 8192"), "{err}");
}

#[test]
fn a_fixed_size_backend_refuses_other_sizes_by_name() {
    let segmenter = pad_detector(Extent::Any);
    let io = segmenter.io().clone();
    let fixed = ModelIo {
        height: Extent::Fixed(96),
        width: Extent::Fixed(128),
        ..io
    };
    assert!(fixed.check_size(96, 128).is_ok());
    let err = fixed.check_size(64, 128).unwrap_err().to_string();
    assert!(err.contains("96×128") && err.contains("64×128"), "{err}");
}

#[test]
fn latest_slots_keep_only_the_newest_and_count_drops() {
    let slots = Arc::new(LatestSlots::new(2));
    for i in 0..3 {
        slots.put(1, i);
    }
    slots.put(0, 10);
    // Source 1 has waited longest; its newest item comes first.
    assert_eq!(slots.take(Duration::ZERO, 1), [(1, 2)]);
    assert_eq!(slots.take(Duration::ZERO, 1), [(0, 10)]);
    assert_eq!((slots.dropped(0), slots.dropped(1)), (0, 2));
    assert!(slots.take(Duration::from_millis(10), 1).is_empty());
    // A batch takes every waiting source, oldest first, and no more than asked.
    slots.put(1, 5);
    slots.put(0, 6);
    assert_eq!(slots.take(Duration::ZERO, 8), [(1, 5), (0, 6)]);
    slots.put(0, 8);
    slots.put(1, 9);
    assert_eq!(slots.take(Duration::ZERO, 1), [(0, 8)]);
    assert_eq!(slots.take(Duration::ZERO, 2), [(1, 9)]);
    let waiter = {
        let slots = slots.clone();
        std::thread::spawn(move || slots.take(Duration::from_secs(30), 2))
    };
    slots.put(0, 7);
    assert_eq!(waiter.join().unwrap(), [(0, 7)]);
    let waiter = {
        let slots = slots.clone();
        std::thread::spawn(move || slots.take(Duration::from_secs(30), 2))
    };
    slots.close();
    assert!(waiter.join().unwrap().is_empty());
}

#[test]
fn stats_report_rates_percentiles_and_counts() {
    let mut stats = PipelineStats::default();
    for i in 1..=100 {
        stats.frame_received();
        stats.mask_published(i as f64 + 0.5, 0.5);
    }
    stats.frame_malformed();
    let r = stats.report();
    let (latency, overhead) = (r.latency_ms.unwrap(), r.overhead_ms.unwrap());
    assert_eq!((latency.p50, latency.p99, r.malformed), (50.5, 99.5, 1));
    assert_eq!((overhead.p50, overhead.p99), (50.0, 99.0));
    assert_eq!((r.model_ms.unwrap().p99, r.total_published), (0.5, 100));
    assert!(r.input_hz > 0.0 && r.output_hz == r.input_hz);
    let r = stats.report();
    assert_eq!((r.input_hz, r.malformed, r.total_published), (0.0, 1, 100));
}

#[test]
fn stats_withhold_a_mask_older_than_one_already_published() {
    let mut stats = PipelineStats::default();
    let first = std::time::Instant::now();
    let second = first + Duration::from_millis(33);
    // Two workers on one camera: the newer frame's mask is ready first.
    assert!(stats.claim(second));
    assert!(!stats.claim(first));
    assert!(stats.claim(second + Duration::from_millis(33)));
    assert_eq!(stats.report().superseded, 1);
}

#[test]
fn a_suppressed_count_belongs_to_the_warning_it_is_printed_with() {
    use rtseg::pipeline::stats::WarningThrottle;
    let mut throttle = WarningThrottle::new(Duration::from_millis(200));
    let short = |n: u32| format!("data has {n} bytes, less than step 480 × 360 rows");
    assert!(throttle.warn("/cam", &short(10)).is_some());
    // Same kind (numbers aside): held back and counted; another kind is logged at once.
    assert!(throttle.warn("/cam", &short(11)).is_none());
    assert!(throttle.warn("/cam", &short(12)).is_none());
    let other = throttle
        .warn("/cam", "unsupported encoding \"32FC1\"")
        .unwrap();
    assert!(!other.contains("more like it"), "{other}");
    std::thread::sleep(Duration::from_millis(250));
    let line = throttle.warn("/cam", &short(13)).unwrap();
    assert!(
        line.ends_with("(and 2 more like it since the last such warning)"),
        "{line}"
    );
}

#[test]
fn health_turns_warn_or_error_as_a_dashboard_expects() {
    use rtseg::pipeline::stats::{HealthThresholds, Level};
    let t = HealthThresholds::default();
    let mut stats = PipelineStats::default();
    assert_eq!(stats.report().health(&t).0, Level::Warn, "before any frame");
    for _ in 0..10 {
        stats.frame_received();
        stats.mask_published(1.0, 0.5);
    }
    assert_eq!(stats.report().health(&t).0, Level::Ok);
    for _ in 0..10 {
        stats.frame_received();
    }
    stats.mask_published(1.0, 0.5);
    let (level, message) = stats.report().health(&t);
    assert_eq!(level, Level::Warn, "{message}");
    assert!(message.starts_with("falling behind"), "{message}");
    stats.frame_received();
    for _ in 0..3 {
        stats.frame_malformed();
    }
    let (level, message) = stats.report().health(&t);
    assert_eq!(
        (level, message.starts_with("3 of 4 frames malformed")),
        (Level::Error, true),
        "{message}"
    );
    let quick = HealthThresholds {
        input_timeout_s: 0.05,
        ..t
    };
    std::thread::sleep(Duration::from_millis(80));
    let (level, message) = stats.report().health(&quick);
    assert_eq!(level, Level::Error);
    assert!(message.starts_with("no frame for"), "{message}");
}
