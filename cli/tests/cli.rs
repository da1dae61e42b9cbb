//! End-to-end tests of the `gaze` binary on the committed webcam clip (real OpenCV decoding,
//! real tracker), plus its error paths: every failure is one `gaze: error: ...` line on
//! stderr with a documented exit code, never a panic.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opencv::core::{Mat, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, videoio};
use serde_json::Value;

const GAZE: &str = env!("CARGO_BIN_EXE_gaze");
const CLIP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"
);
/// 250 frames at 25 fps.
const CLIP_FRAMES: usize = 250;
const CLIP_SECS: f64 = 10.0;
/// One frame of the clip, in seconds.
const FRAME_SECS: f64 = 0.04;

fn gaze(args: &[&str]) -> Output {
    Command::new(GAZE)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run gaze")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "gaze failed ({:?}): {}",
        o.status,
        stderr(o)
    );
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

/// Exit code `code`, exactly one stderr line `gaze: error: ...` containing `needle`.
fn assert_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(!err.contains("RUST_BACKTRACE"), "backtrace hint: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {err}");
    assert!(lines[0].starts_with("gaze: error: "), "{err}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "expected '{needle}' in: {err}"
    );
}

/// A fresh scratch folder.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("gaze-cli-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("json")
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .expect("read")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

/// The report's partition of the session: reading, browsing, watching, other (= focused),
/// distracted, no data.
fn partition(r: &Value) -> [f64; 6] {
    let a = &r["session_report"];
    [
        f(&a["reading_time"]),
        f(&a["browsing_time"]),
        f(&a["watching_time"]),
        f(&r["other_time"]),
        f(&r["distraction_time"]),
        f(&r["no_data_time"]),
    ]
}

/// `gaze track` over the whole clip, once for all tests: (out dir, report).
fn full_track() -> &'static (PathBuf, Value) {
    static RUN: OnceLock<(PathBuf, Value)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("full");
        let o = gaze(&["track", CLIP, "-o", s(&dir)]);
        assert_ok(&o);
        let report = read_json(&dir.join("report.json"));
        (dir, report)
    })
}

#[test]
fn track_whole_clip_times_sum_to_its_duration() {
    let (dir, report) = full_track();
    let parts = partition(report);
    let sum: f64 = parts.iter().sum();
    assert!(
        (sum - CLIP_SECS).abs() <= FRAME_SECS + 1e-6,
        "partition {parts:?} sums to {sum}, clip is {CLIP_SECS} s"
    );
    assert!((sum - f(&report["duration"])).abs() < 1e-6);
    let focus = parts[..4].iter().sum::<f64>();
    assert!((focus - f(&report["focus_time"])).abs() < 1e-6);
    assert_eq!(report["session_id"], "webcam_cap12_t18-28s_640x480_25fps");
    // The subject looks at the screen the whole clip.
    assert!(focus > 9.0, "{report}");

    let rows = lines(&dir.join("results.jsonl"));
    assert_eq!(rows.len(), CLIP_FRAMES);
    for (i, row) in rows.iter().enumerate() {
        let v: Value = serde_json::from_str(row).expect("json line");
        assert_eq!(v["frame"].as_u64(), Some(i as u64));
        assert!((f(&v["timestamp_ms"]) - i as f64 * 40.0).abs() < 1e-6);
        assert!(v["live"]["activity"].is_string() && v["live"]["attention"].is_string());
    }
}

#[test]
fn every_2_halves_the_results_and_keeps_the_duration() {
    let dir = scratch("every2");
    let o = gaze(&[
        "track",
        CLIP,
        "-o",
        s(&dir),
        "--every",
        "2",
        "--no-landmarks",
        "-q",
    ]);
    assert_ok(&o);
    assert!(stderr(&o).is_empty(), "--quiet: {}", stderr(&o));
    let rows = lines(&dir.join("results.jsonl"));
    assert_eq!(rows.len(), CLIP_FRAMES / 2);
    let v: Value = serde_json::from_str(&rows[1]).expect("json");
    assert_eq!(v["frame"].as_u64(), Some(2));
    assert_eq!(v["left_eye"]["landmarks"], serde_json::json!([]));
    assert_eq!(v["left_eye"]["iris"].as_array().map(Vec::len), Some(5));
    let report = read_json(&dir.join("report.json"));
    let sum: f64 = partition(&report).iter().sum();
    // Frames 0, 2, …, 248: the session spans 9.92 s.
    assert!((sum - 9.92).abs() < 1e-6, "{sum}");
    // Lean lines replay to the same report.
    let out = dir.join("replayed.json");
    assert_ok(&gaze(&[
        "report",
        s(&dir.join("results.jsonl")),
        "--out",
        s(&out),
    ]));
    assert_eq!(partition(&read_json(&out)), partition(&report));
}

#[test]
fn max_frames_bounds_the_results_and_csv_has_one_row_per_frame() {
    let dir = scratch("max");
    let csv = dir.join("frames.csv");
    let o = gaze(&[
        "track",
        CLIP,
        "--max-frames",
        "20",
        "--results",
        s(&csv),
        "--report",
        s(&dir.join("r.json")),
    ]);
    assert_ok(&o);
    let rows = lines(&csv);
    assert_eq!(rows.len(), 1 + 20, "header + 20 rows");
    let header: Vec<&str> = rows[0].split(',').collect();
    assert_eq!(header[0], "frame");
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    for (i, row) in rows[1..].iter().enumerate() {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{row}");
        assert_eq!(cells[col("frame")], i.to_string());
        assert_eq!(cells[col("face")], "1");
        assert_eq!(cells[col("attention")], "focused");
    }
    let sum: f64 = partition(&read_json(&dir.join("r.json"))).iter().sum();
    assert!((sum - 19.0 * FRAME_SECS).abs() < 1e-6, "{sum}");
}

#[test]
fn report_from_results_jsonl_replays_to_the_same_totals() {
    let (dir, report) = full_track();
    let out = scratch("replay").join("replayed.json");
    let o = gaze(&["report", s(&dir.join("results.jsonl")), "--out", s(&out)]);
    assert_ok(&o);
    let replayed = read_json(&out);
    let (a, b) = (partition(report), partition(&replayed));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
    }
    assert_eq!(replayed["blink_count"], report["blink_count"]);
    assert_eq!(replayed["fixation_count"], report["fixation_count"]);
    assert_eq!(replayed["timeline"], report["timeline"]);
    // Per-frame results are recognised by content too (a .json name, a blank first line).
    let renamed = out.with_file_name("frames.json");
    let text = std::fs::read_to_string(dir.join("results.jsonl")).expect("read");
    std::fs::write(&renamed, format!("\n{text}")).expect("write");
    let out2 = out.with_file_name("replayed2.json");
    assert_ok(&gaze(&["report", s(&renamed), "--out", s(&out2)]));
    assert_eq!(partition(&read_json(&out2)), partition(report));
}

#[test]
fn report_csv_parses_back_to_the_same_totals() {
    let (dir, report) = full_track();
    let out = scratch("csv").join("timeline.csv");
    let o = gaze(&["report", s(&dir.join("report.json")), "--out", s(&out)]);
    assert_ok(&o);
    let rows = lines(&out);
    let header: Vec<&str> = rows[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (kind, name, value) = (col("kind"), col("name"), col("value"));
    let (activity, attention) = (col("activity"), col("attention"));
    let mut seg = [0.0f64; 6];
    let mut segments = 0usize;
    let mut totals = std::collections::HashMap::new();
    for row in &rows[1..] {
        let c: Vec<&str> = row.split(',').collect();
        let v: f64 = c[value].parse().expect("value");
        match c[kind] {
            "segment" => {
                segments += 1;
                let i = match (c[attention], c[activity]) {
                    ("focused", "reading") => 0,
                    ("focused", "browsing") => 1,
                    ("focused", "watching") => 2,
                    ("focused", _) => 3,
                    ("distracted", _) => 4,
                    _ => 5,
                };
                seg[i] += v;
            }
            "total" => {
                totals.insert(c[name].to_string(), v);
            }
            _ => {}
        }
    }
    let want = partition(report);
    let tol = 0.0005 * (segments as f64 + 1.0);
    for (i, (x, y)) in seg.iter().zip(&want).enumerate() {
        assert!(
            (x - y).abs() <= tol,
            "part {i}: csv {seg:?} vs report {want:?}"
        );
    }
    for (key, v) in [
        ("reading_time", want[0]),
        ("watching_time", want[2]),
        ("other_time", want[3]),
        ("distraction_time", want[4]),
        ("no_data_time", want[5]),
        ("duration", f(&report["duration"])),
    ] {
        let got = totals.get(key).copied().unwrap_or(f64::NAN);
        assert!((got - v).abs() <= 0.0005, "{key}: csv {got} vs report {v}");
    }
}

#[test]
fn report_png_has_the_requested_size() {
    let (dir, _) = full_track();
    let out = scratch("png").join("charts.png");
    let o = gaze(&[
        "report",
        s(&dir.join("report.json")),
        "--out",
        s(&out),
        "--width",
        "900",
        "--height",
        "700",
    ]);
    assert_ok(&o);
    let png = std::fs::read(&out).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().expect("w"));
    let h = u32::from_be_bytes(png[20..24].try_into().expect("h"));
    assert_eq!((w, h), (900, 700));
}

#[test]
fn report_pdf_reads_back_with_the_totals() {
    let (dir, report) = full_track();
    let out = scratch("pdf").join("report.pdf");
    // Format forced, extension ignored.
    let o = gaze(&[
        "report",
        s(&dir.join("report.json")),
        "--format",
        "pdf",
        "--out",
        s(&out),
    ]);
    assert_ok(&o);
    let txt = Command::new("pdftotext")
        .args(["-layout", s(&out), "-"])
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/setup.sh test)");
    assert!(txt.status.success(), "{}", stderr(&txt));
    let text = String::from_utf8_lossy(&txt.stdout);
    let p = partition(report);
    for (label, v) in [
        ("Duration", f(&report["duration"])),
        ("Reading", p[0]),
        ("Watching", p[2]),
        ("Distracted", p[4]),
        ("No data", p[5]),
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no '{label}' line in:\n{text}"));
        assert!(
            line.contains(&format!("{v:.1}")),
            "{label} {v:.1} not in '{line}'"
        );
    }
}

#[test]
fn image_folder_uses_sorted_files_and_fps() {
    let dir = scratch("images");
    let mut cap = videoio::VideoCapture::from_file(CLIP, videoio::CAP_ANY).expect("open clip");
    let mut img = Mat::default();
    // Written out of order on purpose; names sort to frame order.
    for (i, name) in ["b.png", "a.png", "d.jpg", "c.png"].iter().enumerate() {
        assert!(cap.read(&mut img).expect("read") && !img.empty());
        let _ = i;
        imgcodecs::imwrite(s(&dir.join(name)), &img, &Vector::new()).expect("imwrite");
    }
    std::fs::write(dir.join("notes.txt"), "not an image").expect("write");
    let out = scratch("images-out");
    let o = gaze(&["track", s(&dir), "-o", s(&out), "--fps", "10", "-q"]);
    assert_ok(&o);
    let rows = lines(&out.join("results.jsonl"));
    assert_eq!(rows.len(), 4);
    let ts: Vec<f64> = rows
        .iter()
        .map(|r| f(&serde_json::from_str::<Value>(r).expect("json")["timestamp_ms"]))
        .collect();
    assert_eq!(ts, vec![0.0, 100.0, 200.0, 300.0]);
    let report = read_json(&out.join("report.json"));
    assert!((partition(&report).iter().sum::<f64>() - 0.3).abs() < 1e-9);
    assert_eq!(report["session_id"], "images");
}

#[test]
fn errors_are_one_line_with_documented_codes() {
    let dir = scratch("errors");
    // Missing input.
    assert_error(
        &gaze(&["track", s(&dir.join("nope.mp4"))]),
        3,
        "no such file",
    );
    // A text file named .mp4.
    let fake = dir.join("fake.mp4");
    std::fs::write(&fake, "this is not a video\n").expect("write");
    assert_error(
        &gaze(&["track", s(&fake), "-o", s(&dir)]),
        3,
        "not a readable video",
    );
    // A folder without images.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::write(empty.join("readme.txt"), "x").expect("write");
    assert_error(&gaze(&["track", s(&empty)]), 3, "no image files");
    // A folder whose only image is not an image.
    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    std::fs::write(broken.join("a.png"), "not a png").expect("write");
    assert_error(&gaze(&["track", s(&broken)]), 3, "cannot decode image");
    // Bad --fps.
    assert_error(&gaze(&["track", s(&broken), "--fps", "0"]), 2, "--fps");
    // A camera that does not exist.
    assert_error(&gaze(&["track", "99"]), 3, "camera 99");
    // Bad --screen (usage).
    assert_error(&gaze(&["track", CLIP, "--screen", "wide"]), 2, "--screen");
    assert_error(
        &gaze(&["track", CLIP, "--screen", "10x10"]),
        2,
        "100..16384",
    );
    // --every 0, unknown flag.
    assert_error(&gaze(&["track", CLIP, "--every", "0"]), 2, "--every");
    assert_error(&gaze(&["track", CLIP, "--bogus"]), 2, "--bogus");
    // Calibration missing / not a calibration.
    assert_error(
        &gaze(&["track", CLIP, "--calibration", s(&dir.join("none.json"))]),
        4,
        "calibration",
    );
    let bad = dir.join("cal.json");
    std::fs::write(&bad, "{\"screen_width\": 1920}").expect("write");
    assert_error(
        &gaze(&["track", CLIP, "--calibration", s(&bad)]),
        4,
        "not a calibration",
    );
    // Report: missing input, unknown output extension, not a report.
    let out = dir.join("r.pdf");
    assert_error(
        &gaze(&["report", s(&dir.join("none.json")), "--out", s(&out)]),
        3,
        "no such file",
    );
    assert_error(
        &gaze(&["report", s(&bad), "--out", s(&dir.join("r.txt"))]),
        2,
        "--format",
    );
    assert_error(
        &gaze(&["report", s(&fake), "--out", s(&out)]),
        3,
        "neither a session report",
    );
    let jsonl = dir.join("broken.jsonl");
    std::fs::write(&jsonl, "{\"timestamp_ms\": 0}\nnot json\n").expect("write");
    assert_error(&gaze(&["report", s(&jsonl), "--out", s(&out)]), 3, "line 1");
    // Bench on a camera is a usage error.
    assert_error(&gaze(&["bench", "7"]), 2, "not a camera");
    // An output that cannot be written.
    assert_error(
        &gaze(&[
            "track",
            CLIP,
            "--max-frames",
            "1",
            "--results",
            s(&fake.join("x.jsonl")),
        ]),
        5,
        "cannot write",
    );
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in ["track", "report", "serve", "bench", "completions"] {
        let o = gaze(&[sub, "--help"]);
        assert_ok(&o);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("Examples:"), "{sub}: {text}");
        assert!(text.contains(&format!("gaze {sub}")), "{sub}: {text}");
    }
    let o = gaze(&["--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Exit codes:"));
    // serve takes gaze-server's own flags.
    let o = gaze(&["serve", "--help"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--bind",
        "--store-url",
        "--data-dir",
        "--workers",
        "--admin-user",
    ] {
        assert!(text.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn completions_for_bash_and_zsh() {
    for (shell, marker) in [
        ("bash", "complete"),
        ("zsh", "#compdef gaze"),
        ("fish", "complete -c gaze"),
    ] {
        let o = gaze(&["completions", shell]);
        assert_ok(&o);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains(marker), "{shell}");
        for sub in ["track", "report", "serve", "bench"] {
            assert!(text.contains(sub), "{shell} lacks {sub}");
        }
    }
    assert_error(&gaze(&["completions", "tcsh"]), 2, "tcsh");
}

#[test]
fn bench_reports_every_stage() {
    let o = gaze(&["bench", CLIP, "--max-frames", "6", "--json"]);
    assert_ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("bench json");
    assert_eq!(v["frames"].as_u64(), Some(6));
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(640), Some(480))
    );
    let stages = v["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 6);
    for st in stages {
        let name = st["stage"].as_str().expect("name");
        let n = st["frames"].as_u64().expect("frames");
        // Decode skips the first frame (read while opening); the others see all 6.
        let want = if name.starts_with("decode") { 5 } else { 6 };
        assert_eq!(n, want, "{name}");
        let (med, p90, mean) = (f(&st["median_ms"]), f(&st["p90_ms"]), f(&st["mean_ms"]));
        assert!(med > 0.0 && p90 >= med && mean > 0.0, "{st}");
    }
    // The table form names the stages too.
    let o = gaze(&["bench", CLIP, "--max-frames", "2"]);
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    for word in [
        "face detection",
        "iris",
        "head pose",
        "tracker frame",
        "median ms",
        "p90 ms",
    ] {
        assert!(text.contains(word), "{word} missing:\n{text}");
    }
}

#[test]
fn serve_starts_the_server_with_its_flags() {
    let mut child = Command::new(GAZE)
        .args(["serve", "--store-url", "memory://", "--bind", "127.0.0.1:0"])
        .env("GAZE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gaze serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut url = None;
    while url.is_none() && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Some(rest) = line.split("web UI at http://").nth(1)
        {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
    }
    let Some(addr) = url else {
        let _ = child.kill();
        panic!("gaze serve printed no URL");
    };
    let mut conn = TcpStream::connect(&addr).expect("connect");
    write!(
        conn,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut reply = String::new();
    conn.read_to_string(&mut reply).expect("reply");
    let _ = child.kill();
    let _ = child.wait();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[test]
fn results_to_stdout_and_clean_stderr_when_not_a_terminal() {
    let dir = scratch("stdout");
    let report = dir.join("r.json");
    // --results - : JSON lines on stdout, nothing else there.
    let o = gaze(&[
        "track",
        CLIP,
        "--max-frames",
        "3",
        "--results",
        "-",
        "--report",
        s(&report),
        "-q",
    ]);
    assert_ok(&o);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(report.exists());
    // Without a terminal and without --progress: no progress output, just the summary line.
    let o = gaze(&["track", CLIP, "--max-frames", "5", "-o", s(&dir)]);
    assert_ok(&o);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("gaze: 5 frames (5 with a face)"), "{err}");
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");
}

#[test]
fn forced_progress_without_a_terminal_prints_plain_lines() {
    let dir = scratch("progress");
    let o = gaze(&["track", CLIP, "--every", "2", "--progress", "-o", s(&dir)]);
    assert_ok(&o);
    let err = stderr(&o);
    assert!(!err.contains('\x1b'), "no terminal escapes: {err:?}");
    let progress: Vec<&str> = err.lines().filter(|l| l.contains("/125 frames")).collect();
    // One line per second of processing: the summary says how long processing took
    // ("… in 0.6 s (…)"), which excludes start-up (building the tracker, warming up the networks).
    let secs: f64 = err
        .lines()
        .last()
        .and_then(|l| l.split(" in ").nth(1))
        .and_then(|rest| rest.split(" s ").next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no processing time in the summary: {err}"));
    if secs > 2.5 {
        assert!(!progress.is_empty(), "{err}");
    }
    for l in &progress {
        assert!(
            l.starts_with("gaze: ") && l.contains(" fps") && l.contains("ETA"),
            "{l}"
        );
    }
}

#[test]
fn truncated_video_is_processed_with_a_warning() {
    let dir = scratch("truncated");
    let clip = std::fs::read(CLIP).expect("clip");
    let cut = dir.join("cut.mp4");
    // The first 30 kB hold the header and a few frames.
    std::fs::write(&cut, &clip[..30_000]).expect("write");
    let o = gaze(&["track", s(&cut), "-o", s(&dir)]);
    assert_ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("gaze: warning: the input ended after"),
        "{err}"
    );
    let n = lines(&dir.join("results.jsonl")).len();
    assert!(n > 0 && n < CLIP_FRAMES, "{n} frames");
}

#[test]
fn calibration_fills_screen_points_and_sets_the_screen() {
    use gaze_core::{Calibration, CalibrationSample, GazeFeatures, Point};
    let dir = scratch("calibration");
    let mut samples = Vec::new();
    for gy in [-1.0f64, 0.0, 1.0] {
        for gx in [-1.0f64, 0.0, 1.0] {
            samples.push(CalibrationSample {
                features: GazeFeatures {
                    yaw_deg: 15.0 * gx + 0.2 * (gx * gy),
                    pitch_deg: -10.0 + 8.0 * gy,
                    ..Default::default()
                },
                target: Point::new((640.0 + 600.0 * gx) as f32, (360.0 - 330.0 * gy) as f32),
            });
        }
    }
    let cal = Calibration::fit(&samples, 1280.0, 720.0).expect("fit");
    let path = dir.join("cal.json");
    std::fs::write(&path, cal.to_json().expect("json")).expect("write");
    let o = gaze(&[
        "track",
        CLIP,
        "--calibration",
        s(&path),
        "--max-frames",
        "10",
        "-o",
        s(&dir),
        "-q",
    ]);
    assert_ok(&o);
    for row in lines(&dir.join("results.jsonl")) {
        let v: Value = serde_json::from_str(&row).expect("json");
        let p = &v["gaze"]["screen"];
        assert!(p["x"].as_f64().is_some_and(f64::is_finite), "{p}");
        assert!(p["y"].as_f64().is_some_and(f64::is_finite), "{p}");
    }
    // The server's GET /calibration reply wraps the model; it is accepted as is.
    let wrapped = dir.join("server-cal.json");
    let reply = format!(
        "{{\"samples\": 9, \"calibration\": {}}}",
        cal.to_json().expect("json")
    );
    std::fs::write(&wrapped, reply).expect("write");
    assert_ok(&gaze(&[
        "track",
        CLIP,
        "--calibration",
        s(&wrapped),
        "--max-frames",
        "2",
        "-o",
        s(&dir),
        "-q",
    ]));
    // The same screen is fine, another one is a usage error.
    let same = gaze(&[
        "track",
        CLIP,
        "--calibration",
        s(&path),
        "--screen",
        "1280x720",
        "--max-frames",
        "2",
        "-o",
        s(&dir),
        "-q",
    ]);
    assert_ok(&same);
    assert_error(
        &gaze(&[
            "track",
            CLIP,
            "--calibration",
            s(&path),
            "--screen",
            "1920x1080",
        ]),
        2,
        "differs from the calibration",
    );
}

#[test]
fn serve_errors_are_one_line() {
    // A port that is taken: exit 7.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    // (Server logs at info level would be lines of their own; warnings and errors only.)
    let o = Command::new(GAZE)
        .args(["serve", "--store-url", "memory://", "--bind", &addr])
        .env("GAZE_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run gaze serve");
    assert_error(&o, 7, "cannot bind");
    // A malformed flag value: exit 2.
    assert_error(&gaze(&["serve", "--bind", "nonsense"]), 2, "--bind");
}

#[test]
fn ctrl_c_ends_the_session_with_a_report() {
    let dir = scratch("sigint");
    let results = dir.join("results.jsonl");
    let child = Command::new(GAZE)
        .args(["track", CLIP, "-o", s(&dir), "--threads", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until frames are being written (the handler is installed before the first one).
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&results).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no results written");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let n = lines(&results).len();
    let report = read_json(&dir.join("report.json"));
    let sum: f64 = partition(&report).iter().sum();
    if n < CLIP_FRAMES {
        // The report covers exactly the frames processed before Ctrl-C.
        assert!(
            (sum - (n as f64 - 1.0) * FRAME_SECS).abs() < 1e-6,
            "{n} frames, {sum} s"
        );
    }
}
