//! Autoware's run-length mask, so rtseg can stand in for `autoware_tensorrt_yolox`'s semantic
//! output in front of `segmentation_pointcloud_fusion`, the one consumer that decodes it. The
//! message stays a mono8 sensor_msgs/Image whose width and height describe the decoded mask,
//! but its data is the mask in row-major order as 5-byte records: the label (u8), then the run
//! length (i32, the producer's native byte order: little-endian on x86-64 and aarch64).
//! Runs continue across rows, as Autoware's encoder walks the image as one sequence.

use image::GrayImage;

/// The run-length records of `mask`.
pub fn run_length_encode(mask: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pixels = mask.as_raw().iter().copied().peekable();
    while let Some(label) = pixels.next() {
        let mut count: i32 = 1;
        while pixels.next_if_eq(&label).is_some() {
            count += 1;
        }
        out.push(label);
        out.extend(count.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_label_then_little_endian_count_across_rows() {
        // Rows [3 3 3] [3 7 7]: the run of 3 continues into the second row.
        let mask = GrayImage::from_raw(3, 2, vec![3, 3, 3, 3, 7, 7]).unwrap();
        assert_eq!(run_length_encode(&mask), [3, 4, 0, 0, 0, 7, 2, 0, 0, 0]);
        let long = GrayImage::from_pixel(300, 1, image::Luma([255]));
        assert_eq!(run_length_encode(&long), [255, 0x2C, 0x01, 0, 0]);
        assert!(run_length_encode(&GrayImage::new(0, 0)).is_empty());
    }
}
