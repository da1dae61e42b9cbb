//! `gaze bench`: per-stage timings on this machine, through gaze-core's public API.
//!
//! Stages timed on every frame: decoding (OpenCV videoio / imgcodecs, including the conversion
//! to packed BGR), BlazeFace detection on the whole frame, the iris network on both eyes (crops
//! from the detection's eye keypoints), head pose (six-point Levenberg–Marquardt), the whole `Tracker::process` in
//! tracking mode, and the session accounting (`Session::push_frame`). Gaze fusion, smoothing
//! and blink detection are not exposed on their own by gaze-core; they are inside the tracker
//! frame.

use std::path::Path;
use std::time::Instant;

use clap::Args;
use gaze_core::face::FaceDetector;
use gaze_core::head_pose::{HeadPoseEstimator, PosePoints};
use gaze_core::iris::{EyeRoi, IrisModel};
use gaze_core::{ActivityConfig, EngineChoice, InferenceConfig, Session, Tracker, TrackerConfig};
use opencv::imgproc;
use opencv::prelude::*;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::input::{FrameReader, Source};
use crate::progress::{Progress, ProgressMode};

/// Examples shown by `gaze bench --help`.
pub const BENCH_EXAMPLES: &str = "\
Examples:
  gaze bench clip.mp4                   # one OpenCV thread, up to 300 frames
  gaze bench clip.mp4 --threads 0       # OpenCV's default threads (one per core)
  gaze bench clip.mp4 --engine opencv   # OpenCV DNN instead of OpenVINO
  gaze bench clip.mp4 --json > t.json   # machine-readable
  gaze bench shots/ --max-frames 50     # an image folder

Build with --release (`cargo install --path cli`) for meaningful figures. The tracker frame is
usually cheaper than detection + iris: tracking mode skips the detector on most frames and
crop reuse skips the iris network when the eyes only moved rigidly.";

/// `gaze bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Video file or image folder.
    #[arg(value_name = "VIDEO")]
    pub input: String,
    /// Frames to time.
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_frames: u64,
    /// OpenCV threads per network run (0 = one per core); OpenVINO runs one thread per
    /// network.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: u32,
    /// Inference engine: auto (OpenVINO when its library loads, see GAZE_OPENVINO_LIB),
    /// openvino or opencv.
    #[arg(long, value_name = "ENGINE", default_value = "auto")]
    pub engine: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show progress even when stderr is not a terminal.
    #[arg(long, conflicts_with = "quiet")]
    pub progress: bool,
    /// No progress on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Timing summary of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageStats {
    /// Stage name.
    pub stage: String,
    /// Frames timed.
    pub frames: usize,
    /// Median ms.
    pub median_ms: f64,
    /// 90th percentile ms.
    pub p90_ms: f64,
    /// Mean ms.
    pub mean_ms: f64,
    /// 1000 / mean.
    pub fps: f64,
}

/// The quantile `q` (0..1) of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Summarises a list of per-frame milliseconds.
pub fn stats(stage: &str, ms: &[f64]) -> StageStats {
    let mut v: Vec<f64> = ms.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let mean = if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    };
    StageStats {
        stage: stage.to_string(),
        frames: v.len(),
        median_ms: quantile(&v, 0.5),
        p90_ms: quantile(&v, 0.9),
        mean_ms: mean,
        fps: if mean > 0.0 { 1000.0 / mean } else { f64::NAN },
    }
}

fn timed<T>(out: &mut Vec<f64>, f: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let r = f();
    out.push(t0.elapsed().as_secs_f64() * 1000.0);
    r
}

/// The bench result.
#[derive(Debug, Serialize)]
struct BenchReport {
    input: String,
    width: u32,
    height: u32,
    frames: u64,
    opencv_threads: u32,
    engine: String,
    optimized_build: bool,
    stages: Vec<StageStats>,
    not_separately_timed: &'static str,
}

const NOT_TIMED: &str = "gaze fusion, smoothing and blink detection (gaze-core does not expose them separately; they are inside the tracker frame)";

/// Runs `gaze bench`.
pub fn run(args: BenchArgs) -> CliResult<()> {
    let source = Source::parse(&args.input)?;
    if let Source::Camera(_) = source {
        return Err(CliError::Usage(
            "gaze bench needs a video file or an image folder, not a camera".into(),
        ));
    }
    gaze_core::set_num_threads(args.threads)?;
    let inference = InferenceConfig {
        engine: EngineChoice::parse(&args.engine)?,
        ..InferenceConfig::default()
    };
    let mut reader = FrameReader::open(&source, None)?;
    let mut tracker = Tracker::new(TrackerConfig {
        inference: inference.clone(),
        ..TrackerConfig::default()
    })?;
    let fixed = InferenceConfig::fixed(tracker.engine(), inference.threads);
    let mut detector =
        FaceDetector::with_inference(None, TrackerConfig::default().min_face_score, &fixed)?;
    let mut iris = IrisModel::with_inference(None, &fixed)?;
    let mut head = HeadPoseEstimator::default();
    let mut session = Session::new("bench", ActivityConfig::default());
    let to_rgb = Some(imgproc::COLOR_BGR2RGB);

    let (mut decode, mut detect, mut eyes, mut pose, mut frame_ms, mut account) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let total = reader.total().map(|n| n.min(args.max_frames));
    let mut progress = Progress::new(
        ProgressMode::from_flags(args.progress, args.quiet),
        total.or(Some(args.max_frames)),
    );
    let (mut width, mut height) = (0, 0);
    let mut first = true;
    while progress.done() < args.max_frames {
        let t0 = Instant::now();
        let more = reader.next()?;
        let dt = t0.elapsed().as_secs_f64() * 1000.0;
        if more.is_none() {
            break;
        }
        // The first frame was decoded while opening the input (to fail early); not timed.
        if !first {
            decode.push(dt);
        }
        first = false;
        let mat = reader.mat();
        width = mat.cols() as u32;
        height = mat.rows() as u32;
        let faces = timed(&mut detect, || detector.detect(mat, to_rgb))?;
        if let Some(face) = faces.first() {
            let k = face.keypoints;
            let rois = EyeRoi::pair(k.right_eye, k.left_eye, 1.0);
            let lms = timed(&mut eyes, || iris.run(mat, &rois, to_rgb))?;
            if let [r, l] = lms.as_slice() {
                let (r, l) = (r.to_eye(), l.to_eye());
                let pts = PosePoints {
                    right_outer: r.corners.outer,
                    right_inner: r.corners.inner,
                    left_inner: l.corners.inner,
                    left_outer: l.corners.outer,
                    nose: k.nose_tip,
                    mouth: k.mouth,
                };
                timed(&mut pose, || head.estimate(&pts, width, height))?;
            }
        }
        let frame = reader.frame()?;
        let result = timed(&mut frame_ms, || tracker.process(&frame))?;
        timed(&mut account, || session.push_frame(&result));
        progress.inc();
    }
    progress.finish();
    let n = progress.done();
    let stages = vec![
        stats("decode (videoio/imgcodecs → BGR)", &decode),
        stats("face detection (BlazeFace, whole frame)", &detect),
        stats("iris network (both eyes)", &eyes),
        stats("head pose", &pose),
        stats("tracker frame (Tracker::process, tracking)", &frame_ms),
        stats("session accounting (Session::push_frame)", &account),
    ];
    let report = BenchReport {
        input: args.input.clone(),
        width,
        height,
        frames: n,
        opencv_threads: args.threads,
        engine: tracker.engine().to_string(),
        optimized_build: !cfg!(debug_assertions),
        stages,
        not_separately_timed: NOT_TIMED,
    };
    let text = if args.json {
        let mut t = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::output(Path::new("-"), std::io::Error::other(e)))?;
        t.push('\n');
        t
    } else {
        table(&report)
    };
    crate::write_stdout(text.as_bytes())
}

/// The human-readable table.
fn table(report: &BenchReport) -> String {
    let mut t = format!(
        "gaze bench: {}, {} frames {}x{}, engine: {}, OpenCV threads: {}{}\n",
        report.input,
        report.frames,
        report.width,
        report.height,
        report.engine,
        if report.opencv_threads == 0 {
            "default".to_string()
        } else {
            report.opencv_threads.to_string()
        },
        if report.optimized_build {
            ""
        } else {
            " (debug build: figures are not representative)"
        }
    );
    t += &format!(
        "{:<44} {:>6} {:>10} {:>9} {:>9} {:>9}\n",
        "stage", "frames", "median ms", "p90 ms", "mean ms", "fps"
    );
    for s in &report.stages {
        t += &format!(
            "{:<44} {:>6} {:>10.3} {:>9.3} {:>9.3} {:>9.1}\n",
            s.stage, s.frames, s.median_ms, s.p90_ms, s.mean_ms, s.fps
        );
    }
    t += &format!("not timed separately: {NOT_TIMED}\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_median_p90_mean() {
        let ms: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = stats("x", &ms);
        assert_eq!(s.frames, 10);
        assert_eq!(s.median_ms, 5.0);
        assert_eq!(s.p90_ms, 9.0);
        assert!((s.mean_ms - 5.5).abs() < 1e-12);
        assert!((s.fps - 1000.0 / 5.5).abs() < 1e-9);
        assert!(stats("empty", &[]).median_ms.is_nan());
    }
}
