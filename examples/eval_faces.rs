//! Face detection recall and precision against hand-drawn boxes (`boxes.csv`:
//! `split,file,left,top,width,height,ignore`, e.g. `../shared/testdata/dlib_voc_faces`).
//! A detection matches an unmatched box at IoU ≥ 0.3 (BlazeFace boxes are tighter than
//! dlib's); boxes flagged `ignore` neither count as misses nor make a detection false.
//!
//! ```text
//! cargo run --release -p gaze-examples --bin eval_faces -- ../shared/testdata/dlib_voc_faces
//! ```
use gaze_core::BoundingBox;
use gaze_core::face::FaceDetector;
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eval_faces: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: eval_faces DIR (with boxes.csv)")?;
    let csv = std::fs::read_to_string(Path::new(&dir).join("boxes.csv"))?;
    let mut boxes: BTreeMap<String, Vec<(BoundingBox, bool)>> = BTreeMap::new();
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 7 {
            return Err(format!("bad boxes.csv line: {line}").into());
        }
        let n = |i: usize| f[i].trim().parse::<f32>();
        let b = BoundingBox {
            x: n(2)?,
            y: n(3)?,
            w: n(4)?,
            h: n(5)?,
        };
        boxes
            .entry(f[1].to_string())
            .or_default()
            .push((b, f[6].trim() == "1"));
    }
    let mut det = FaceDetector::new(None, 0.5)?;
    println!(
        "{:<10} {:>6} {:>6} {:>6} {:>9} {:>9}",
        "mode", "boxes", "found", "false", "recall", "precision"
    );
    for (mode, tiled) in [("whole", false), ("tiled", true)] {
        let (mut total, mut tp, mut fp) = (0usize, 0usize, 0usize);
        for (file, truth) in &boxes {
            let path = Path::new(&dir).join(file);
            let img = imgcodecs::imread(&path, imgcodecs::IMREAD_COLOR)?;
            if img.empty() {
                return Err(format!("cannot read {}", path.display()).into());
            }
            let faces = if tiled {
                det.detect_tiled(&img, Some(imgproc::COLOR_BGR2RGB), 64.0)?
            } else {
                det.detect(&img, Some(imgproc::COLOR_BGR2RGB))?
            };
            let mut used = vec![false; truth.len()];
            for f in &faces {
                let best = truth
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !used[*i])
                    .map(|(i, (b, _))| (i, f.bbox.iou(b)))
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                match best {
                    Some((i, iou)) if iou >= 0.3 => {
                        used[i] = true;
                        if !truth[i].1 {
                            tp += 1;
                        }
                    }
                    _ => fp += 1,
                }
            }
            total += truth.iter().filter(|(_, ignore)| !ignore).count();
        }
        println!(
            "{:<10} {:>6} {:>6} {:>6} {:>9.3} {:>9.3}",
            mode,
            total,
            tp,
            fp,
            tp as f64 / total.max(1) as f64,
            tp as f64 / (tp + fp).max(1) as f64
        );
    }
    Ok(())
}
