//! Frame sources: a video file, a camera index or a folder of images, read with OpenCV's
//! videoio / imgcodecs and handed out as packed BGR frames with timestamps.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gaze_core::{Frame, PixelFormat};
use opencv::core::Mat;
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc, videoio};

use crate::error::{CliError, CliResult, one_line};

/// Image file extensions read from a folder (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "pgm", "ppm", "pnm",
];

/// What the INPUT argument names.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A video file.
    Video(PathBuf),
    /// A camera by index.
    Camera(i32),
    /// A folder of images.
    Images(PathBuf),
}

impl Source {
    /// Classifies the INPUT argument: an existing folder is an image folder, an existing file a
    /// video, otherwise a non-negative integer is a camera index.
    pub fn parse(arg: &str) -> CliResult<Source> {
        let path = Path::new(arg);
        if path.is_dir() {
            return Ok(Source::Images(path.to_path_buf()));
        }
        if path.exists() {
            return Ok(Source::Video(path.to_path_buf()));
        }
        if let Ok(i) = arg.parse::<i32>() {
            if i < 0 {
                return Err(CliError::Usage(format!(
                    "camera index must be 0 or more, got {i}"
                )));
            }
            return Ok(Source::Camera(i));
        }
        Err(CliError::Input(format!(
            "{arg}: no such file or directory (INPUT is a video file, a camera index or an image folder)"
        )))
    }

    /// A short name for session ids and messages: the file stem, folder name or `camera-N`.
    pub fn name(&self) -> String {
        match self {
            Source::Video(p) | Source::Images(p) => p
                .file_stem()
                .or_else(|| p.file_name())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "gaze".into()),
            Source::Camera(i) => format!("camera-{i}"),
        }
    }
}

enum Reader {
    Capture(videoio::VideoCapture),
    Images { files: Vec<PathBuf>, next: usize },
}

/// Reads frames one by one. The current frame is kept inside; [`FrameReader::frame`] borrows it.
pub struct FrameReader {
    reader: Reader,
    source: Source,
    fps: f64,
    total: Option<u64>,
    /// Index of the next frame to read.
    index: u64,
    start: Option<Instant>,
    mat: Mat,
    /// A frame read while opening (to fail early on undecodable files).
    pending: bool,
    timestamp_ms: f64,
}

impl FrameReader {
    /// Opens `source`. `fps` overrides the video's frame rate for timestamps (required meaning
    /// for image folders, default 30); cameras use the wall clock.
    pub fn open(source: &Source, fps: Option<f64>) -> CliResult<FrameReader> {
        if let Some(f) = fps
            && !(f.is_finite() && f > 0.0 && f <= 10_000.0)
        {
            return Err(CliError::Usage(format!(
                "--fps must be in (0, 10000], got {f}"
            )));
        }
        let (reader, rate, total) = match source {
            Source::Video(path) => {
                let name = path.display();
                let file = std::fs::File::open(path)
                    .map_err(|e| CliError::Input(format!("{name}: cannot read: {e}")))?;
                drop(file);
                // FFmpeg when OpenCV has it: CAP_ANY would also try GStreamer, which prints
                // pages of warnings for a file it cannot read.
                let api = if videoio::has_backend(videoio::VideoCaptureAPIs::CAP_FFMPEG)
                    .unwrap_or(false)
                {
                    videoio::CAP_FFMPEG
                } else {
                    videoio::CAP_ANY
                };
                let cap = videoio::VideoCapture::from_file(path, api)
                    .ok()
                    .filter(|c| c.is_opened().unwrap_or(false))
                    .ok_or_else(|| {
                        CliError::Input(format!(
                            "{name}: not a readable video (unknown container or codec)"
                        ))
                    })?;
                let native = cap.get(videoio::CAP_PROP_FPS).unwrap_or(0.0);
                let count = cap.get(videoio::CAP_PROP_FRAME_COUNT).unwrap_or(0.0);
                let rate = fps.unwrap_or(if native.is_finite() && native >= 1.0 {
                    native
                } else {
                    30.0
                });
                let total = (count.is_finite() && count >= 1.0).then_some(count as u64);
                (Reader::Capture(cap), rate, total)
            }
            Source::Camera(i) => {
                let cap = videoio::VideoCapture::new(*i, videoio::CAP_ANY)
                    .ok()
                    .filter(|c| c.is_opened().unwrap_or(false))
                    .ok_or_else(|| {
                        CliError::Input(format!(
                            "camera {i} is not available (no such device, or it is busy)"
                        ))
                    })?;
                (Reader::Capture(cap), fps.unwrap_or(30.0), None)
            }
            Source::Images(dir) => {
                let files = image_files(dir)?;
                let n = files.len() as u64;
                (
                    Reader::Images { files, next: 0 },
                    fps.unwrap_or(30.0),
                    Some(n),
                )
            }
        };
        let mut r = FrameReader {
            reader,
            source: source.clone(),
            fps: rate,
            total,
            index: 0,
            start: None,
            mat: Mat::default(),
            pending: false,
            timestamp_ms: 0.0,
        };
        // Decode the first frame now so that an unreadable file fails before any output.
        if !r.read_into()? {
            return Err(CliError::Input(match source {
                Source::Video(p) => format!(
                    "{}: no decodable video frames (unknown codec or not a video)",
                    p.display()
                ),
                Source::Camera(i) => format!("camera {i} delivers no frames"),
                Source::Images(p) => format!("{}: no readable images", p.display()),
            }));
        }
        r.pending = true;
        Ok(r)
    }

    /// Number of frames when known (video container count, number of images).
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Frames per second used for timestamps (video / folder).
    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// Frames read or skipped so far (the current frame included).
    pub fn frames_seen(&self) -> u64 {
        self.index + 1
    }

    /// True for a live camera.
    pub fn is_camera(&self) -> bool {
        matches!(self.source, Source::Camera(_))
    }

    fn read_into(&mut self) -> CliResult<bool> {
        let ok = match &mut self.reader {
            Reader::Capture(cap) => {
                let ok = cap.read(&mut self.mat).unwrap_or(false) && !self.mat.empty();
                if ok && matches!(self.source, Source::Camera(_)) {
                    let start = *self.start.get_or_insert_with(Instant::now);
                    self.timestamp_ms = start.elapsed().as_secs_f64() * 1000.0;
                }
                ok
            }
            Reader::Images { files, next } => {
                let Some(path) = files.get(*next) else {
                    return Ok(false);
                };
                *next += 1;
                let img = imgcodecs::imread(path, imgcodecs::IMREAD_COLOR).map_err(|e| {
                    CliError::Input(format!(
                        "{}: cannot decode image: {}",
                        path.display(),
                        one_line(&e.message)
                    ))
                })?;
                if img.empty() {
                    return Err(CliError::Input(format!(
                        "{}: cannot decode image",
                        path.display()
                    )));
                }
                self.mat = img;
                true
            }
        };
        if ok && !matches!(self.source, Source::Camera(_)) {
            self.timestamp_ms = self.index as f64 * 1000.0 / self.fps;
        }
        if ok {
            self.make_packed_bgr()?;
        }
        Ok(ok)
    }

    /// Makes the current Mat a continuous 8-bit BGR image.
    fn make_packed_bgr(&mut self) -> CliResult<()> {
        let code = match self.mat.channels() {
            1 => Some(imgproc::COLOR_GRAY2BGR),
            4 => Some(imgproc::COLOR_BGRA2BGR),
            3 => None,
            c => {
                return Err(CliError::Input(format!(
                    "unsupported frame with {c} channels"
                )));
            }
        };
        if self.mat.depth() != opencv::core::CV_8U {
            let mut out = Mat::default();
            self.mat
                .convert_to(&mut out, opencv::core::CV_8U, 1.0, 0.0)?;
            self.mat = out;
        }
        if let Some(code) = code {
            let mut out = Mat::default();
            imgproc::cvt_color_def(&self.mat, &mut out, code)?;
            self.mat = out;
        }
        if !self.mat.is_continuous() {
            self.mat = self.mat.try_clone()?;
        }
        Ok(())
    }

    /// Advances to the next frame; returns its index and timestamp (ms), or None at the end.
    pub fn next(&mut self) -> CliResult<Option<(u64, f64)>> {
        if self.pending {
            self.pending = false;
        } else {
            self.index += 1;
            if !self.read_into()? {
                return Ok(None);
            }
        }
        Ok(Some((self.index, self.timestamp_ms)))
    }

    /// Skips one frame without decoding it where the source allows (video `grab`, image
    /// folders skip the file). Returns false at the end.
    pub fn skip(&mut self) -> CliResult<bool> {
        if self.pending {
            self.pending = false;
            return Ok(true);
        }
        self.index += 1;
        match &mut self.reader {
            Reader::Capture(cap) if !matches!(self.source, Source::Camera(_)) => {
                Ok(cap.grab().unwrap_or(false))
            }
            Reader::Images { files, next } => {
                let more = *next < files.len();
                *next += 1;
                Ok(more)
            }
            Reader::Capture(_) => self.read_into(),
        }
    }

    /// The current frame (after [`FrameReader::next`] returned `Some`).
    pub fn frame(&self) -> CliResult<Frame<'_>> {
        let bytes = self.mat.data_bytes()?;
        Ok(Frame::packed(
            bytes,
            self.mat.cols() as u32,
            self.mat.rows() as u32,
            PixelFormat::Bgr8,
            self.timestamp_ms,
        )?)
    }

    /// The current frame as an OpenCV Mat (BGR, continuous).
    pub fn mat(&self) -> &Mat {
        &self.mat
    }
}

/// The image files of `dir`, sorted by name.
pub fn image_files(dir: &Path) -> CliResult<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Input(format!("{}: cannot list folder: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    if files.is_empty() {
        return Err(CliError::Input(format!(
            "{}: no image files in folder (looked for {})",
            dir.display(),
            IMAGE_EXTENSIONS.join(", ")
        )));
    }
    files.sort();
    Ok(files)
}
