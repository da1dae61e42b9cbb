//! criterion benches: full `Tracker::process` on the webcam clip (tracking mode and
//! detect-every-frame mode) and each stage on its own. Run single-threaded for comparisons:
//! `taskset -c 0 cargo bench -p gaze-benches --bench tracker`.

use criterion::{Criterion, criterion_group, criterion_main};
use gaze_benches::{CLIP, decode};
use gaze_core::face::FaceDetector;
use gaze_core::head_pose::{HeadPoseEstimator, PosePoints};
use gaze_core::iris::{EyeRoi, IrisModel};
use gaze_core::{Frame, PixelFormat, Tracker, TrackerConfig};
use opencv::core::Mat;
use opencv::imgproc;
use opencv::prelude::*;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let _ = opencv::core::set_num_threads(1);
    let frames = decode(CLIP, 250).expect("decode clip");
    assert!(!frames.is_empty(), "no frames decoded from {CLIP}");
    let mut group = c.benchmark_group("process_640x480");
    for (name, every) in [("tracking", false), ("detect_every_frame", true)] {
        let mut tracker = Tracker::new(TrackerConfig {
            detect_every_frame: every,
            ..TrackerConfig::default()
        })
        .expect("tracker");
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                let f = &frames[i % frames.len()];
                let frame = Frame::packed(
                    &f.data,
                    f.width,
                    f.height,
                    PixelFormat::Bgr8,
                    i as f64 * 40.0,
                )
                .expect("frame");
                i += 1;
                black_box(tracker.process(&frame).expect("process"))
            })
        });
    }
    group.finish();

    // Stages, on the first frame.
    let f = &frames[0];
    let mat = Mat::new_rows_cols_with_data::<opencv::core::Vec3b>(
        f.height as i32,
        f.width as i32,
        bytemuck_bgr(&f.data),
    )
    .expect("mat")
    .try_clone()
    .expect("clone");
    let mut det = FaceDetector::new(None, 0.5).expect("detector");
    let faces = det
        .detect(&mat, Some(imgproc::COLOR_BGR2RGB))
        .expect("detect");
    let face = faces.first().copied().expect("a face in frame 0");
    let mut stages = c.benchmark_group("stages");
    stages.bench_function("face_detect", |b| {
        b.iter(|| {
            black_box(
                det.detect(&mat, Some(imgproc::COLOR_BGR2RGB))
                    .expect("detect"),
            )
        })
    });
    let k = face.keypoints;
    let rois = EyeRoi::pair(k.right_eye, k.left_eye, 1.0);
    let mut iris = IrisModel::new(None).expect("iris");
    stages.bench_function("iris_both_eyes", |b| {
        b.iter(|| {
            black_box(
                iris.run(&mat, &rois, Some(imgproc::COLOR_BGR2RGB))
                    .expect("iris"),
            )
        })
    });
    let lms = iris
        .run(&mat, &rois, Some(imgproc::COLOR_BGR2RGB))
        .expect("iris");
    let (r, l) = (lms[0].to_eye(), lms[1].to_eye());
    let pts = PosePoints {
        right_outer: r.corners.outer,
        right_inner: r.corners.inner,
        left_inner: l.corners.inner,
        left_outer: l.corners.outer,
        nose: k.nose_tip,
        mouth: k.mouth,
    };
    let mut head = HeadPoseEstimator::default();
    stages.bench_function("head_pose", |b| {
        b.iter(|| black_box(head.estimate(&pts, f.width, f.height).expect("pose")))
    });
    stages.finish();
}

fn bytemuck_bgr(data: &[u8]) -> &[opencv::core::Vec3b] {
    // SAFETY: Vec3b is three u8 with alignment 1, so any u8 slice of a multiple of 3 bytes
    // reinterprets exactly.
    unsafe {
        std::slice::from_raw_parts(data.as_ptr() as *const opencv::core::Vec3b, data.len() / 3)
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
