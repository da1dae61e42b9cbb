//! `gaze report`: renders a session report (report.json) or rebuilds one from per-frame
//! results (results.jsonl, replayed through gaze-core's Session) as JSON, CSV, SVG, PNG or PDF.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use gaze_core::{FrameResult, Session, SessionReport};

use crate::error::{CliError, CliResult, one_line};
use crate::track::{activity_config, parse_screen};

/// Examples shown by `gaze report --help`.
pub const REPORT_EXAMPLES: &str = "\
Examples:
  gaze report report.json --out report.pdf      # format from the extension
  gaze report report.json --out charts.png --width 1200 --height 900
  gaze report results.jsonl --out report.json   # rebuild the report from per-frame results
  gaze report results.jsonl --screen 2560x1440 --out r.svg   # same --screen as `gaze track`
  gaze report report.json --format csv --out -  # timeline CSV on stdout

INPUT is a SessionReport JSON (what `gaze track` writes as report.json, or the server's
GET /sessions/{id}/report) or JSON Lines of FrameResult objects (`gaze track`'s
results.jsonl). Per-frame results are replayed through the same accounting as `gaze track`,
so the totals match when the same --screen is given.";

/// Output formats of `gaze report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// The report as pretty JSON.
    Json,
    /// The timeline as CSV.
    Csv,
    /// Charts as SVG.
    Svg,
    /// Charts as PNG.
    Png,
    /// Charts and totals as PDF.
    Pdf,
}

impl From<OutFormat> for gaze_report::Format {
    fn from(f: OutFormat) -> Self {
        match f {
            OutFormat::Json => gaze_report::Format::Json,
            OutFormat::Csv => gaze_report::Format::Csv,
            OutFormat::Svg => gaze_report::Format::Svg,
            OutFormat::Png => gaze_report::Format::Png,
            OutFormat::Pdf => gaze_report::Format::Pdf,
        }
    }
}

/// `gaze report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// report.json (a SessionReport) or results.jsonl (per-frame results).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Output format [default: from the --out extension].
    #[arg(short, long, value_enum)]
    pub format: Option<OutFormat>,
    /// Output file (`-` = stdout).
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    /// Screen size used when replaying results.jsonl (give the same as to `gaze track`).
    #[arg(long, value_name = "WxH", value_parser = parse_screen)]
    pub screen: Option<(u32, u32)>,
    /// Session id when replaying results.jsonl [default: the file's name].
    #[arg(long, value_name = "ID")]
    pub session_id: Option<String>,
    /// Width of SVG / PNG charts in pixels.
    #[arg(long, value_name = "PX", default_value_t = gaze_report::RenderOptions::default().width)]
    pub width: u32,
    /// Height of SVG / PNG charts in pixels.
    #[arg(long, value_name = "PX", default_value_t = gaze_report::RenderOptions::default().height)]
    pub height: u32,
    /// Title over the charts and on the PDF.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

/// The format named by a file extension.
pub fn format_from_path(path: &Path) -> Option<OutFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "json" => OutFormat::Json,
        "csv" => OutFormat::Csv,
        "svg" => OutFormat::Svg,
        "png" => OutFormat::Png,
        "pdf" => OutFormat::Pdf,
        _ => return None,
    })
}

fn read_error(path: &Path, e: &std::io::Error) -> CliError {
    CliError::Input(match e.kind() {
        std::io::ErrorKind::NotFound => format!("{}: no such file", path.display()),
        std::io::ErrorKind::InvalidData => format!("{}: not a text (JSON) file", path.display()),
        _ => format!("{}: cannot read: {e}", path.display()),
    })
}

/// Replays per-frame results (JSON Lines of FrameResult) through a Session, streaming (an
/// hour of results does not have to fit in memory). `first_line` is the 1-based number of
/// the reader's first line in the file (for messages).
pub fn replay(
    path: &Path,
    reader: impl BufRead,
    first_line: usize,
    session_id: String,
    screen: Option<(u32, u32)>,
) -> CliResult<SessionReport> {
    let mut session = Session::new(session_id, activity_config(screen));
    let mut n = 0usize;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| read_error(path, &e))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: FrameResult = serde_json::from_str(&line).map_err(|e| {
            CliError::Input(format!(
                "{} line {}: not a frame result: {}",
                path.display(),
                first_line + i,
                one_line(&e.to_string())
            ))
        })?;
        session.push_frame(&r);
        n += 1;
    }
    if n == 0 {
        return Err(CliError::Input(format!(
            "{}: no frame results in the file",
            path.display()
        )));
    }
    Ok(session.finish())
}

/// Loads INPUT as a report, replaying per-frame results when it holds them (`.jsonl` /
/// `.ndjson`, or any file whose first line is a FrameResult).
pub fn load(
    path: &Path,
    session_id: Option<String>,
    screen: Option<(u32, u32)>,
) -> CliResult<SessionReport> {
    let file = File::open(path).map_err(|e| read_error(path, &e))?;
    let mut reader = BufReader::new(file);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let id = session_id.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "gaze".into())
    });
    if matches!(ext.as_deref(), Some("jsonl" | "ndjson")) {
        return replay(path, reader, 1, id, screen);
    }
    // Sniff the first non-empty line: a FrameResult means JSON Lines.
    let mut first = String::new();
    let mut line_no = 0usize;
    loop {
        first.clear();
        let n = reader
            .read_line(&mut first)
            .map_err(|e| read_error(path, &e))?;
        line_no += 1;
        if n == 0 || !first.trim().is_empty() {
            break;
        }
    }
    if serde_json::from_str::<FrameResult>(first.trim()).is_ok() {
        let rest = std::io::Cursor::new(first.into_bytes()).chain(reader);
        return replay(path, rest, line_no, id, screen);
    }
    let mut text = first;
    reader
        .read_to_string(&mut text)
        .map_err(|e| read_error(path, &e))?;
    match serde_json::from_str::<SessionReport>(&text) {
        Ok(report) => {
            if screen.is_some() {
                eprintln!("gaze: note: --screen only applies when replaying per-frame results");
            }
            Ok(report)
        }
        Err(e) => Err(CliError::Input(format!(
            "{}: neither a session report nor per-frame results ({})",
            path.display(),
            one_line(&e.to_string())
        ))),
    }
}

/// Runs `gaze report`.
pub fn run(args: ReportArgs) -> CliResult<()> {
    let format = match args.format {
        Some(f) => f,
        None => format_from_path(&args.out).ok_or_else(|| {
            CliError::Usage(format!(
                "cannot infer the format from '{}'; give --format json|csv|svg|png|pdf or an --out ending in one of them",
                args.out.display()
            ))
        })?,
    };
    let options = gaze_report::RenderOptions {
        width: args.width,
        height: args.height,
        title: args.title.clone(),
    };
    if !(gaze_report::MIN_SIZE..=gaze_report::MAX_SIZE).contains(&options.width)
        || !(gaze_report::MIN_SIZE..=gaze_report::MAX_SIZE).contains(&options.height)
    {
        return Err(CliError::Usage(format!(
            "--width and --height must be {}..={} pixels, got {}x{}",
            gaze_report::MIN_SIZE,
            gaze_report::MAX_SIZE,
            options.width,
            options.height
        )));
    }
    let report = load(&args.input, args.session_id.clone(), args.screen)?;
    let bytes = gaze_report::render(&report, format.into(), &options)?;
    if args.out == Path::new("-") {
        crate::write_stdout(&bytes)?;
    } else {
        if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CliError::output(dir, e))?;
        }
        std::fs::write(&args.out, &bytes).map_err(|e| CliError::output(&args.out, e))?;
    }
    Ok(())
}
