//! `gaze track`: runs the tracker over a video, a camera or an image folder and writes the
//! per-frame results (JSON Lines or CSV) and the session report (JSON).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, ValueEnum};
use gaze_core::{
    Activity, ActivityConfig, Attention, Calibration, FrameResult, ScreenGeometry, Session,
    SessionReport, Tracker, TrackerConfig,
};
use serde::Serialize;

use crate::error::{CliError, CliResult, one_line};
use crate::input::{FrameReader, Source};
use crate::progress::{Progress, ProgressMode};

/// Examples shown by `gaze track --help`.
pub const TRACK_EXAMPLES: &str = "\
Examples:
  gaze track clip.mp4                         # ./results.jsonl and ./report.json
  gaze track clip.mp4 -o out/ --every 2       # every second frame, into out/
  gaze track clip.mp4 --results frames.csv    # per-frame CSV instead of JSON Lines
  gaze track 0 --max-frames 900               # camera 0, 900 frames (Ctrl-C also ends)
  gaze track shots/ --fps 10                  # an image folder, sorted by name, 10 fps
  gaze track clip.mp4 --calibration cal.json  # calibrated screen points (cal.json: the
                                              # server's GET /calibration reply)
  gaze track clip.mp4 --results - --quiet | jq .direction

`gaze report results.jsonl` needs the same --screen as the track run (with --calibration:
the calibration's screen size) to give the same totals.
Per-frame JSON lines are gaze-core FrameResult objects plus `frame` and `live`
({activity, attention} after the frame); `gaze report results.jsonl` replays them into the same session report.";

/// Per-frame output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultsFormat {
    /// One JSON object per line (replayable by `gaze report`).
    Jsonl,
    /// One CSV row per frame (flat summary columns).
    Csv,
}

/// `gaze track` arguments.
#[derive(Debug, Args)]
pub struct TrackArgs {
    /// Video file, camera index (0, 1, ...) or folder of images.
    #[arg(value_name = "INPUT")]
    pub input: String,
    /// Folder for the default output files (created if missing).
    #[arg(short = 'o', long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
    /// Per-frame results file (`-` = stdout) [default: DIR/results.jsonl].
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Per-frame format [default: from the --results extension, else jsonl].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub results_format: Option<ResultsFormat>,
    /// Session report file (JSON) [default: DIR/report.json].
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Session id written into the report [default: the input's name].
    #[arg(long, value_name = "ID")]
    pub session_id: Option<String>,
    /// Calibration JSON for screen points: a gaze-core Calibration or the server's
    /// GET /calibration reply.
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// Screen size in pixels for the activity model, e.g. 1920x1080 [default: the
    /// calibration's screen, else 1920x1080 laptop geometry].
    #[arg(long, value_name = "WxH", value_parser = parse_screen)]
    pub screen: Option<(u32, u32)>,
    /// Process every N-th frame (timestamps stay those of the source).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    /// Stop after this many processed frames.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_frames: Option<u64>,
    /// OpenCV threads per network run (0 = one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: u32,
    /// Frame rate for timestamps: image folders (default 30) or to override a video's rate.
    #[arg(long, value_name = "FPS")]
    pub fps: Option<f64>,
    /// Write eye `landmarks` as empty lists in results.jsonl (71 points per eye are ~70% of
    /// each line; replaying with `gaze report` does not need them).
    #[arg(long)]
    pub no_landmarks: bool,
    /// Run the face detector on every frame (no tracking mode; slower).
    #[arg(long)]
    pub detect_every_frame: bool,
    /// Show progress even when stderr is not a terminal (plain lines then).
    #[arg(long, conflicts_with = "quiet")]
    pub progress: bool,
    /// No progress and no summary on stderr (errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Parses `WIDTHxHEIGHT` (also `W×H`, `W,H`).
pub fn parse_screen(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("expected WIDTHxHEIGHT in pixels, e.g. 1920x1080, got '{s}'");
    let t = s.trim().to_ascii_lowercase().replace(['×', ','], "x");
    let (w, h) = t.split_once('x').ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(100..=16384).contains(&w) || !(100..=16384).contains(&h) {
        return Err(format!(
            "screen size must be 100..16384 pixels per side, got {w}x{h}"
        ));
    }
    Ok((w, h))
}

/// The activity configuration for a screen size (None: gaze-core's laptop default).
pub fn activity_config(screen: Option<(u32, u32)>) -> ActivityConfig {
    match screen {
        Some((w, h)) => {
            ActivityConfig::with_geometry(ScreenGeometry::from_px(f64::from(w), f64::from(h)))
        }
        None => ActivityConfig::default(),
    }
}

/// Reads and checks a calibration file.
pub fn load_calibration(path: &Path) -> CliResult<Calibration> {
    let err = |reason: String| CliError::Calibration {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| err(format!("not JSON: {}", one_line(&e.to_string()))))?;
    // The server's GET /calibration wraps the model: {"samples": n, "calibration": {...}}.
    let value = match value.get("calibration") {
        Some(inner) if inner.is_object() => inner.clone(),
        _ => value,
    };
    let cal: Calibration = serde_json::from_value(value)
        .map_err(|e| err(format!("not a calibration: {}", one_line(&e.to_string()))))?;
    if !(cal.screen_width >= 1.0 && cal.screen_height >= 1.0)
        || cal.weights_x.len() != cal.mean.len() + 1
        || cal.weights_y.len() != cal.mean.len() + 1
        || cal.scale.len() != cal.mean.len()
    {
        return Err(err(
            "inconsistent calibration (screen size or weight vectors)".into(),
        ));
    }
    Ok(cal)
}

/// One JSON line of `results.jsonl`: the FrameResult plus the frame index and the session's
/// live labels after this frame.
#[derive(Serialize)]
struct ResultLine<'a> {
    frame: u64,
    #[serde(flatten)]
    result: &'a FrameResult,
    live: LiveLabels,
}

/// The session's labels after one frame.
#[derive(Serialize)]
struct LiveLabels {
    activity: Activity,
    attention: Attention,
}

/// CSV header of the per-frame CSV.
pub const CSV_HEADER: &str = "frame,timestamp_ms,face,face_x,face_y,face_w,face_h,face_score,detected,direction,horizontal,vertical,gaze_yaw_deg,gaze_pitch_deg,confidence,screen_x,screen_y,head_yaw_deg,head_pitch_deg,head_roll_deg,left_iris_x,left_iris_y,right_iris_x,right_iris_y,left_openness,right_openness,eyes_closed,blink_count,activity,attention";

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn enum_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn csv_row(frame: u64, r: &FrameResult, activity: Activity, attention: Attention) -> String {
    let f = r.face.as_ref();
    let g = r.gaze.as_ref();
    let hp = r.head_pose.as_ref();
    let cols = [
        frame.to_string(),
        r.timestamp_ms.to_string(),
        u8::from(r.face.is_some()).to_string(),
        opt(f.map(|f| f.bbox.x)),
        opt(f.map(|f| f.bbox.y)),
        opt(f.map(|f| f.bbox.w)),
        opt(f.map(|f| f.bbox.h)),
        opt(f.map(|f| f.score)),
        u8::from(r.detected).to_string(),
        r.direction.as_str().to_string(),
        opt(g.map(|g| g.horizontal)),
        opt(g.map(|g| g.vertical)),
        opt(g.map(|g| g.yaw_deg)),
        opt(g.map(|g| g.pitch_deg)),
        opt(g.map(|g| g.confidence)),
        opt(g.and_then(|g| g.screen).map(|p| p.x)),
        opt(g.and_then(|g| g.screen).map(|p| p.y)),
        opt(hp.map(|h| h.yaw_deg)),
        opt(hp.map(|h| h.pitch_deg)),
        opt(hp.map(|h| h.roll_deg)),
        opt(r.left_eye.as_ref().map(|e| e.center.x)),
        opt(r.left_eye.as_ref().map(|e| e.center.y)),
        opt(r.right_eye.as_ref().map(|e| e.center.x)),
        opt(r.right_eye.as_ref().map(|e| e.center.y)),
        opt(r.left_eye.as_ref().map(|e| e.openness)),
        opt(r.right_eye.as_ref().map(|e| e.openness)),
        u8::from(r.blink.closed).to_string(),
        r.blink.count.to_string(),
        enum_str(&activity),
        enum_str(&attention),
    ];
    cols.join(",")
}

/// Where per-frame results go.
struct ResultsSink {
    out: Box<dyn Write>,
    path: PathBuf,
    format: ResultsFormat,
    /// stdout was closed by the reader (`gaze track ... --results - | head`).
    closed: bool,
}

impl ResultsSink {
    fn open(path: &Path, format: ResultsFormat) -> CliResult<Self> {
        let out: Box<dyn Write> = if path == Path::new("-") {
            Box::new(BufWriter::new(std::io::stdout().lock()))
        } else {
            Box::new(BufWriter::new(
                File::create(path).map_err(|e| CliError::output(path, e))?,
            ))
        };
        let mut sink = ResultsSink {
            out,
            path: path.to_path_buf(),
            format,
            closed: false,
        };
        if format == ResultsFormat::Csv {
            sink.line(CSV_HEADER.to_string())?;
        }
        Ok(sink)
    }

    fn line(&mut self, s: String) -> CliResult<()> {
        match writeln!(self.out, "{s}") {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe && self.path == Path::new("-") => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(CliError::output(&self.path, e)),
        }
    }

    fn write(
        &mut self,
        frame: u64,
        r: &FrameResult,
        activity: Activity,
        attention: Attention,
    ) -> CliResult<()> {
        let s = match self.format {
            ResultsFormat::Jsonl => serde_json::to_string(&ResultLine {
                frame,
                result: r,
                live: LiveLabels {
                    activity,
                    attention,
                },
            })
            .map_err(|e| CliError::output(&self.path, std::io::Error::other(e)))?,
            ResultsFormat::Csv => csv_row(frame, r, activity, attention),
        };
        self.line(s)
    }

    fn finish(mut self) -> CliResult<()> {
        match self.out.flush() {
            Err(e)
                if !(e.kind() == std::io::ErrorKind::BrokenPipe && self.path == Path::new("-")) =>
            {
                Err(CliError::output(&self.path, e))
            }
            _ => Ok(()),
        }
    }
}

/// Writes `report` as pretty JSON to `path`.
pub fn write_report_json(report: &SessionReport, path: &Path) -> CliResult<()> {
    let mut text = serde_json::to_string_pretty(report)
        .map_err(|e| CliError::output(path, std::io::Error::other(e)))?;
    text.push('\n');
    if path == Path::new("-") {
        return crate::write_stdout(text.as_bytes());
    }
    std::fs::write(path, text).map_err(|e| CliError::output(path, e))
}

/// Set by Ctrl-C while a camera (or any input) is being tracked: ends the session cleanly.
/// The SIGINT handler is registered before this returns, so a Ctrl-C right after never
/// kills the process half-way; a second Ctrl-C aborts (exit 130).
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return flag;
    };
    #[cfg(unix)]
    let Ok(mut sig) = rt.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    }) else {
        return flag;
    };
    let f = flag.clone();
    // Without the thread, Ctrl-C keeps its default action (the process ends).
    let _ = std::thread::Builder::new()
        .name("gaze-ctrl-c".into())
        .spawn(move || {
            rt.block_on(async {
                #[cfg(unix)]
                let mut next = async || sig.recv().await.is_some();
                #[cfg(not(unix))]
                let mut next = async || tokio::signal::ctrl_c().await.is_ok();
                if next().await {
                    f.store(true, Ordering::SeqCst);
                    eprintln!("gaze: interrupted, finishing the session (Ctrl-C again to abort)");
                    if next().await {
                        std::process::exit(130);
                    }
                }
            });
        });
    flag
}

/// Runs `gaze track`.
pub fn run(args: TrackArgs) -> CliResult<()> {
    let source = Source::parse(&args.input)?;
    let calibration = args
        .calibration
        .as_deref()
        .map(load_calibration)
        .transpose()?;
    let screen = match (args.screen, &calibration) {
        (Some(s), Some(c))
            if (s.0 as f32 - c.screen_width).abs() > 0.5
                || (s.1 as f32 - c.screen_height).abs() > 0.5 =>
        {
            return Err(CliError::Usage(format!(
                "--screen {}x{} differs from the calibration's screen {}x{} (calibrated points are in the calibration's pixels; leave --screen out)",
                s.0, s.1, c.screen_width, c.screen_height
            )));
        }
        (Some(s), _) => Some(s),
        (None, Some(c)) => Some((
            c.screen_width.round() as u32,
            c.screen_height.round() as u32,
        )),
        (None, None) => None,
    };
    let config = activity_config(screen);
    config
        .validate()
        .map_err(|e| CliError::Usage(one_line(&e.to_string())))?;

    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| args.out_dir.join("results.jsonl"));
    let results_format = args.results_format.unwrap_or_else(|| {
        match results_path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => ResultsFormat::Csv,
            _ => ResultsFormat::Jsonl,
        }
    });
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| args.out_dir.join("report.json"));

    gaze_core::set_num_threads(args.threads)?;
    let mut reader = FrameReader::open(&source, args.fps)?;
    let mut tracker = Tracker::new(TrackerConfig {
        detect_every_frame: args.detect_every_frame,
        ..TrackerConfig::default()
    })?;
    tracker.set_calibration(calibration);
    let session_id = args.session_id.clone().unwrap_or_else(|| source.name());
    let mut session = Session::new(session_id, config);

    for p in [&results_path, &report_path] {
        if p != Path::new("-")
            && let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| CliError::output(dir, e))?;
        }
    }
    let mut sink = ResultsSink::open(&results_path, results_format)?;

    let total = if reader.is_camera() {
        args.max_frames
    } else {
        reader
            .total()
            .map(|n| n.div_ceil(args.every))
            .map(|n| args.max_frames.map_or(n, |m| n.min(m)))
    };
    let step_ms = args.every as f64 * 1000.0 / reader.fps();
    if !reader.is_camera() && !args.quiet && step_ms > session.classifier().config().max_gap_ms {
        eprintln!(
            "gaze: warning: --every {} gives one frame per {step_ms:.0} ms, more than the session's {:.0} ms gap limit: the report will count that time as no data",
            args.every,
            session.classifier().config().max_gap_ms
        );
    }
    let mode = ProgressMode::from_flags(args.progress, args.quiet);
    let mut progress = Progress::new(mode, total);
    let stop = interrupt_flag();
    let mut with_face = 0u64;
    let mut rejected = 0u64;

    let mut source_ended = false;
    'frames: loop {
        if stop.load(Ordering::SeqCst) || args.max_frames.is_some_and(|m| progress.done() >= m) {
            break;
        }
        let Some((index, _t)) = reader.next()? else {
            source_ended = true;
            break;
        };
        let frame = reader.frame()?;
        let r = tracker.process(&frame)?;
        let live = session.push_frame(&r);
        if !live.accepted {
            rejected += 1;
        }
        if r.face.is_some() {
            with_face += 1;
        }
        if args.no_landmarks {
            let mut lean = r;
            for eye in [lean.left_eye.as_mut(), lean.right_eye.as_mut()]
                .into_iter()
                .flatten()
            {
                eye.landmarks = Vec::new();
            }
            sink.write(index, &lean, live.activity, live.attention)?;
        } else {
            sink.write(index, &r, live.activity, live.attention)?;
        }
        progress.inc();
        if sink.closed {
            break;
        }
        for _ in 1..args.every {
            if !reader.skip()? {
                source_ended = true;
                break 'frames;
            }
        }
    }
    progress.finish();
    sink.finish()?;
    let n = progress.done();
    let report = session.finish();
    write_report_json(&report, &report_path)?;
    if let (true, false, Some(expected)) = (source_ended, args.quiet, reader.total()) {
        // The container's count is an estimate: warn only when clearly short.
        let seen = reader.frames_seen().saturating_sub(1);
        if !reader.is_camera() && (seen as f64) < expected as f64 * 0.98 {
            eprintln!(
                "gaze: warning: the input ended after {seen} of {expected} frames (truncated or damaged file)"
            );
        }
    }
    if !args.quiet {
        let secs = progress.elapsed_secs();
        let fps = if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let extra = if rejected > 0 {
            format!(", {rejected} with out-of-order timestamps ignored")
        } else {
            String::new()
        };
        eprintln!(
            "gaze: {n} frames ({with_face} with a face{extra}) in {secs:.1} s ({fps:.1} fps); session {:.2} s: focus {:.2} s, distraction {:.2} s, no data {:.2} s; results: {}, report: {}",
            report.duration,
            report.focus_time,
            report.distraction_time,
            report.no_data_time,
            if results_path == Path::new("-") {
                "stdout".to_string()
            } else {
                results_path.display().to_string()
            },
            report_path.display()
        );
    }
    Ok(())
}
