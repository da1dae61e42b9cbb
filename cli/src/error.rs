//! The CLI's error type and its exit codes.

use std::path::{Path, PathBuf};

/// Exit code table, printed in `gaze --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  processing failed (tracker or OpenCV error)
  2  usage error (unknown flag, bad value such as --screen 12x)
  3  input not found or unreadable (missing file, not a video, unknown codec,
     camera not present, folder without images, malformed report / results)
  4  calibration file missing or invalid
  5  an output file cannot be written
  6  the report cannot be rendered in the requested format
  7  the server failed to start or stopped with an error";

/// Everything that makes `gaze` exit with a non-zero code. Each variant maps to one documented
/// exit code ([`CliError::exit_code`]); the message is printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad command line (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The input cannot be found, opened or decoded (exit 3).
    #[error("{0}")]
    Input(String),
    /// The calibration file cannot be read or parsed (exit 4).
    #[error("calibration {path}: {reason}")]
    Calibration {
        /// The file.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },
    /// An output cannot be written (exit 5).
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// gaze-report refused or failed (exit 6).
    #[error("cannot render the report: {0}")]
    Render(#[from] gaze_report::ReportError),
    /// The server failed (exit 7).
    #[error("server: {0}")]
    Server(String),
    /// The tracker failed on a frame (exit 1).
    #[error("tracker: {0}")]
    Tracker(#[from] gaze_core::GazeError),
    /// OpenCV failed outside of input opening (exit 1).
    #[error("OpenCV: {0}")]
    OpenCv(#[from] opencv::Error),
}

impl CliError {
    /// The process exit code for this error (see [`EXIT_CODES_HELP`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Tracker(_) | CliError::OpenCv(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Input(_) => 3,
            CliError::Calibration { .. } => 4,
            CliError::Output { .. } => 5,
            CliError::Render(_) => 6,
            CliError::Server(_) => 7,
        }
    }

    /// An output error for `path`.
    pub fn output(path: &Path, source: std::io::Error) -> Self {
        CliError::Output {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The message on one line (OpenCV and serde messages may contain newlines).
pub fn one_line(msg: &str) -> String {
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Result alias.
pub type CliResult<T> = Result<T, CliError>;
