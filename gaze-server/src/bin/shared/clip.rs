//! Shared by the load and soak bench binaries: JPEG frames of a video clip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Errors of the bench binaries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The clip's frames at `fps` as JPEG bytes (ffmpeg into a temporary folder named after `tag`
/// and this process, removed afterwards).
pub fn jpeg_frames(clip: &Path, fps: f64, tag: &str) -> Result<Vec<Vec<u8>>, BoxError> {
    let dir = std::env::temp_dir().join(format!("gaze-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(clip)
        .args(["-vf", &format!("fps={fps}"), "-q:v", "5"])
        .arg(dir.join("f%04d.jpg"))
        .status()?;
    if !status.success() {
        return Err("ffmpeg failed".into());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    let out = paths
        .iter()
        .map(std::fs::read)
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::remove_dir_all(&dir)?;
    if out.is_empty() {
        return Err("no frames extracted".into());
    }
    Ok(out)
}
