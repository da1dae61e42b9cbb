//! # gaze-report
//!
//! Turns a [`gaze_activity::SessionReport`] into documents people look at: charts (SVG, PNG),
//! a timeline CSV, and a PDF. Used by the `gaze` CLI and by gaze-server's export endpoints.
//! No vision, network or storage code lives here.
//!
//! * [`render`] with [`Format::Svg`] / [`Format::Png`]: one picture with four charts — the
//!   timeline of activity and attention, the totals as bars, the gaze heatmap (over the
//!   screen when calibrated, over the gaze-ratio plane otherwise) and the blink rate over
//!   time. [`render_chart`] draws one of them alone.
//! * [`Format::Csv`]: the layout is documented in [`csv`].
//! * [`Format::Pdf`]: an A4 document, page 1 the totals (real text) with the timeline and
//!   totals charts, page 2 the heatmap and blink charts (embedded images).
//!
//! Text in PNGs uses DejaVu Sans, embedded in the library (see `assets/`).

#![deny(missing_docs)]

mod charts;
pub mod csv;
mod data;
mod pdf;

use gaze_activity::SessionReport;

pub use data::{BlinkBins, blink_bins, format_duration};

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

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Csv,
        Format::Svg,
        Format::Png,
        Format::Pdf,
    ];

    /// The format for a file extension or name (`"pdf"`, `".PDF"`, `"out/report.svg"`).
    pub fn from_extension(ext: &str) -> Option<Format> {
        let ext = ext.rsplit('.').next().unwrap_or(ext).to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }

    /// The usual file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Svg => "svg",
            Format::Png => "png",
            Format::Pdf => "pdf",
        }
    }

    /// The MIME type (for HTTP `Content-Type`).
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
            Format::Pdf => "application/pdf",
        }
    }
}

/// One chart, for [`render_chart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// All four charts with a title and the headline totals (what [`render`] draws).
    Dashboard,
    /// Activity and attention over the session.
    Timeline,
    /// Time per activity / attention as bars.
    Totals,
    /// Where the gaze rested.
    Heatmap,
    /// Blinks per minute over the session.
    BlinkRate,
}

/// Smallest accepted image side (pixels).
pub const MIN_SIZE: u32 = 200;
/// Largest accepted image side (pixels).
pub const MAX_SIZE: u32 = 8000;

/// Rendering options.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Width of SVG / PNG charts in pixels ([`MIN_SIZE`]..=[`MAX_SIZE`]).
    pub width: u32,
    /// Height of SVG / PNG charts in pixels ([`MIN_SIZE`]..=[`MAX_SIZE`]).
    pub height: u32,
    /// Title over the charts and on the PDF (default: "Gaze session report").
    pub title: Option<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            width: 1600,
            height: 1200,
            title: None,
        }
    }
}

impl RenderOptions {
    /// The title to show.
    pub fn title(&self) -> &str {
        self.title.as_deref().unwrap_or("Gaze session report")
    }

    fn check(&self) -> Result<(), ReportError> {
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if !(MIN_SIZE..=MAX_SIZE).contains(&v) {
                return Err(ReportError::InvalidOptions(format!(
                    "{name} {v} outside {MIN_SIZE}..={MAX_SIZE} pixels"
                )));
            }
        }
        Ok(())
    }
}

/// Why a report cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The format cannot be produced by this function (e.g. JSON from [`render_chart`]).
    #[error("format {0:?} is not supported here")]
    Unsupported(Format),
    /// Bad [`RenderOptions`].
    #[error("invalid render options: {0}")]
    InvalidOptions(String),
    /// The chart library failed.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// Encoding the output failed.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// JSON serialisation failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Renders `report` in `format`.
///
/// Reports with missing parts (no timeline, zero duration, no heatmap, non-finite numbers)
/// render with "no data" notes instead of failing; errors are for bad options and
/// encoder failures.
pub fn render(
    report: &SessionReport,
    format: Format,
    options: &RenderOptions,
) -> Result<Vec<u8>, ReportError> {
    match format {
        Format::Json => Ok(serde_json::to_vec_pretty(report)?),
        Format::Csv => Ok(csv::to_csv(report).into_bytes()),
        Format::Svg | Format::Png => render_chart(report, Chart::Dashboard, format, options),
        Format::Pdf => pdf::to_pdf(report, options),
    }
}

/// Renders one chart as SVG or PNG at `options.width` × `options.height`.
pub fn render_chart(
    report: &SessionReport,
    chart: Chart,
    format: Format,
    options: &RenderOptions,
) -> Result<Vec<u8>, ReportError> {
    options.check()?;
    match format {
        Format::Svg => charts::svg(report, chart, options).map(String::into_bytes),
        Format::Png => {
            let rgb = charts::rgb(report, chart, options)?;
            encode_png(&rgb, options.width, options.height)
        }
        other => Err(ReportError::Unsupported(other)),
    }
}

/// Encodes 8-bit RGB pixels as PNG.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ReportError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Balanced);
        let mut w = enc
            .write_header()
            .map_err(|e| ReportError::Encode(e.to_string()))?;
        w.write_image_data(rgb)
            .map_err(|e| ReportError::Encode(e.to_string()))?;
    }
    Ok(out)
}
