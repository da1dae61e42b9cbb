//! # gaze-report
//!
//! Turns a [`gaze_core::SessionReport`] into documents people look at: charts (SVG, PNG),
//! a timeline CSV, and a PDF. Used by the `gaze` CLI and by gaze-server's export endpoints.
//! No vision, network or storage code lives here.

#![deny(missing_docs)]

use gaze_core::SessionReport;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The report itself as pretty JSON.
    Json,
    /// The timeline as CSV.
    Csv,
    /// Charts as one SVG document.
    Svg,
    /// Charts as one PNG image.
    Png,
    /// Charts and totals as a PDF.
    Pdf,
}

/// Rendering options.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {}

/// Why a report cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The format is not implemented yet.
    #[error("format {0:?} is not supported")]
    Unsupported(Format),
}

/// Renders `report` in `format`.
pub fn render(
    report: &SessionReport,
    format: Format,
    options: &RenderOptions,
) -> Result<Vec<u8>, ReportError> {
    let _ = (report, options);
    Err(ReportError::Unsupported(format))
}
