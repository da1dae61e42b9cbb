//! Rendering a real report: the fixture `tests/data/webcam_report.json` is the final report
//! of `cargo run --release -p gaze-examples --bin track -- testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4`
//! (gaze-core's tracker and Session over the committed clip; regenerate it the same way).

use std::io::Write as _;
use std::process::{Command, Stdio};

use gaze_activity::{Activity, Attention, SessionReport, TimelineSegment};
use gaze_report::{Chart, Format, RenderOptions, ReportError, render, render_chart};

fn webcam_report() -> SessionReport {
    let json = include_str!("data/webcam_report.json");
    serde_json::from_str(json).expect("fixture parses")
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = dec.read_info().expect("a valid PNG");
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn fixture_is_a_real_session() {
    let r = webcam_report();
    assert!((r.duration - 9.96).abs() < 0.05, "{}", r.duration);
    assert!(!r.timeline.is_empty());
    assert!(r.gaze_heatmap.is_some());
    assert_eq!(r.blink_onsets_ms.len() as u32, r.blink_count);
}

#[test]
fn csv_parses_back_to_the_totals() {
    let r = webcam_report();
    let bytes = render(&r, Format::Csv, &RenderOptions::default()).expect("csv");
    let mut rd = csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(
        rd.headers().expect("header").iter().collect::<Vec<_>>(),
        gaze_report::csv::HEADER.split(',').collect::<Vec<_>>()
    );
    let mut totals = std::collections::HashMap::new();
    let (mut focus, mut distracted, mut no_data, mut reading, mut watching, mut segments) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0);
    for row in rd.records() {
        let row = row.expect("row");
        assert_eq!(row.len(), 8);
        let value: f64 = row[4].parse().expect("value is a number");
        match &row[0] {
            "segment" => {
                segments += 1;
                let (a, b): (f64, f64) = (row[2].parse().unwrap(), row[3].parse().unwrap());
                assert!((b - a - value).abs() < 0.0015);
                match &row[7] {
                    "focused" => focus += value,
                    "distracted" => distracted += value,
                    "no_data" => no_data += value,
                    other => panic!("attention {other}"),
                }
                match &row[6] {
                    "reading" => reading += value,
                    "watching" => watching += value,
                    _ => {}
                }
            }
            "total" => {
                totals.insert(row[1].to_string(), value);
            }
            other => panic!("kind {other}"),
        }
    }
    assert_eq!(segments, r.timeline.len());
    let close = |a: f64, b: f64, tol: f64| assert!((a - b).abs() <= tol, "{a} vs {b}");
    for (name, want) in [
        ("duration", r.duration),
        ("focus_time", r.focus_time),
        ("distraction_time", r.distraction_time),
        ("no_data_time", r.no_data_time),
        ("reading_time", r.session_report.reading_time),
        ("browsing_time", r.session_report.browsing_time),
        ("watching_time", r.session_report.watching_time),
        ("other_time", r.other_time),
        ("blink_count", f64::from(r.blink_count)),
        ("blink_rate_per_min", r.blink_rate_per_min),
        ("fixation_count", f64::from(r.fixation_count)),
        ("mean_fixation_ms", r.mean_fixation_ms),
    ] {
        close(totals[name], want, 0.0005);
    }
    // The segments add up to the same totals.
    let tol = 0.0015 * r.timeline.len() as f64;
    close(focus, r.focus_time, tol);
    close(distracted, r.distraction_time, tol);
    close(no_data, r.no_data_time, tol);
    close(reading, r.session_report.reading_time, tol);
    close(watching, r.session_report.watching_time, tol);
}

#[test]
fn png_has_the_requested_size() {
    let r = webcam_report();
    let o = RenderOptions::default();
    assert_eq!(
        png_size(&render(&r, Format::Png, &o).expect("png")),
        (1600, 1200)
    );
    for (chart, w, h) in [
        (Chart::Timeline, 900, 300),
        (Chart::Totals, 640, 480),
        (Chart::Heatmap, 700, 600),
        (Chart::BlinkRate, 1000, 260),
        (Chart::Dashboard, 800, 600),
    ] {
        let o = RenderOptions {
            width: w,
            height: h,
            ..RenderOptions::default()
        };
        let png = render_chart(&r, chart, Format::Png, &o).expect("chart png");
        assert_eq!(png_size(&png), (w, h), "{chart:?}");
    }
}

#[test]
fn png_is_not_blank() {
    let r = webcam_report();
    let bytes = render(&r, Format::Png, &RenderOptions::default()).expect("png");
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes.as_slice()))
        .read_info()
        .expect("png");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    reader.next_frame(&mut buf).expect("frame");
    // The watching colour (148, 103, 189) fills most of the activity lane.
    let purple = buf
        .chunks_exact(3)
        .filter(|p| p == &[148, 103, 189])
        .count();
    assert!(purple > 10_000, "{purple} watching pixels");
    let dark = buf
        .chunks_exact(3)
        .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
        .count();
    assert!(dark > 2_000, "{dark} text pixels");
}

#[test]
fn svg_is_well_formed_with_labels_and_legend() {
    let r = webcam_report();
    let bytes = render(&r, Format::Svg, &RenderOptions::default()).expect("svg");
    let text = String::from_utf8(bytes).expect("utf-8");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect();
    let all = texts.join("\n");
    for needle in [
        "time since start (s)",
        "Activity",
        "Attention",
        "reading",
        "watching",
        "distracted",
        "blinks per minute",
        "Where the gaze rested",
        "vertical gaze ratio",
        "Time per activity",
        "session average",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in {all}");
    }
}

fn pdftotext(pdf: &[u8]) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext runs (poppler-utils, installed by scripts/setup.sh test)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pdf)
        .expect("write");
    let out = child.wait_with_output().expect("pdftotext output");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pdf_text_holds_the_totals() {
    let r = webcam_report();
    let pdf = render(&r, Format::Pdf, &RenderOptions::default()).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdftotext(&pdf);
    assert_eq!(text.matches('\u{c}').count(), 2, "two pages: {text}");
    for (label, v) in [
        ("Duration", r.duration),
        ("Focused", r.focus_time),
        ("Reading", r.session_report.reading_time),
        ("Watching", r.session_report.watching_time),
        ("Distracted", r.distraction_time),
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in {text}"));
        assert!(line.contains(&format!("{v:.2}")), "{line:?} lacks {v:.2}");
    }
    let blinks = text
        .lines()
        .find(|l| l.starts_with("Blinks"))
        .expect("blinks line");
    assert!(blinks.contains(&r.blink_count.to_string()));
    assert!(blinks.contains(&format!("{:.1} per minute", r.blink_rate_per_min)));
    assert!(text.contains("Session track-example"));
}

#[test]
fn empty_and_odd_reports_render_without_panicking() {
    let empty = SessionReport::default();
    let weird = SessionReport {
        session_id: "weird \"<&>\" ünïcode".into(),
        duration: f64::NAN,
        focus_time: f64::INFINITY,
        started_at: 5000.0,
        timeline: vec![TimelineSegment {
            start_ms: 4000.0,
            end_ms: f64::NAN,
            activity: Activity::Reading,
            attention: Attention::Focused,
        }],
        blink_onsets_ms: vec![f64::NEG_INFINITY, 1e300],
        gaze_heatmap: Some(gaze_activity::GazeHeatmap {
            cols: 3,
            rows: 2,
            cells: vec![1.0],
            ..Default::default()
        }),
        ..SessionReport::default()
    };
    for r in [&empty, &weird] {
        for f in Format::ALL {
            let out = render(r, f, &RenderOptions::default()).expect("renders");
            assert!(!out.is_empty());
        }
        let svg = String::from_utf8(render(r, Format::Svg, &RenderOptions::default()).unwrap())
            .expect("utf-8");
        roxmltree::Document::parse(&svg).expect("well-formed even with odd text");
    }
    let svg =
        String::from_utf8(render(&empty, Format::Svg, &RenderOptions::default()).unwrap()).unwrap();
    assert!(svg.contains("no gaze points recorded") && svg.contains("no timeline recorded"));
    let text = pdftotext(&render(&empty, Format::Pdf, &RenderOptions::default()).unwrap());
    assert!(text.contains("Duration"), "{text}");
}

#[test]
fn bad_options_and_formats_are_typed_errors() {
    let r = webcam_report();
    for (w, h) in [(0, 100), (100, 1200), (1600, 100_000)] {
        let o = RenderOptions {
            width: w,
            height: h,
            ..RenderOptions::default()
        };
        assert!(matches!(
            render(&r, Format::Png, &o),
            Err(ReportError::InvalidOptions(_))
        ));
    }
    assert!(matches!(
        render_chart(&r, Chart::Timeline, Format::Csv, &RenderOptions::default()),
        Err(ReportError::Unsupported(Format::Csv))
    ));
    assert_eq!(Format::from_extension("out/report.PDF"), Some(Format::Pdf));
    assert_eq!(Format::from_extension("svg"), Some(Format::Svg));
    assert_eq!(Format::from_extension("report.txt"), None);
    let json = render(&r, Format::Json, &RenderOptions::default()).expect("json");
    let back: SessionReport = serde_json::from_slice(&json).expect("json parses back");
    assert_eq!(back, r);
}

#[test]
fn title_option_is_used() {
    let r = webcam_report();
    let o = RenderOptions {
        title: Some("Tuesday reading".into()),
        ..RenderOptions::default()
    };
    let svg = String::from_utf8(render(&r, Format::Svg, &o).expect("svg")).expect("utf-8");
    assert!(svg.contains("Tuesday reading"));
    assert!(pdftotext(&render(&r, Format::Pdf, &o).expect("pdf")).contains("Tuesday reading"));
}

/// A 20-minute calibrated session from gaze-activity's `Session` (pushed screen samples with
/// reading, looking away and blinks): the axes switch to minutes, the heatmap is over the
/// screen. `GAZE_REPORT_DUMP=dir` writes the PNG there to look at.
#[test]
fn long_calibrated_session_uses_minutes_and_the_screen_plane() {
    use gaze_activity::activity::{ActivityConfig, GazeSample};
    use gaze_activity::{AttentionEvidence, Session};
    let mut s = Session::new("long", ActivityConfig::default());
    let t0 = 1_764_151_200_000.0;
    let dt = 1000.0 / 30.0;
    for i in 0..(20 * 60 * 30) {
        let t = i as f64 * dt;
        let sec = t / 1000.0;
        let ev = AttentionEvidence {
            face_present: true,
            head_away: (300.0..330.0).contains(&sec) || (900.0..960.0).contains(&sec),
            eyes_closed: (sec % 4.0) < 0.15,
            ..AttentionEvidence::default()
        };
        // Reading lines in the upper-left two thirds of the screen.
        let x = 200.0 + (t % 3000.0) / 3000.0 * 1000.0;
        let y = 150.0 + ((t / 3000.0).floor() % 15.0) * 40.0;
        let sample = if ev.eyes_closed || ev.head_away {
            GazeSample::invalid(t0 + t, ev)
        } else {
            GazeSample::new(t0 + t, x, y).with_evidence(ev)
        };
        s.push_sample(sample);
    }
    let r = s.finish();
    assert!(r.duration > 1190.0 && r.distraction_time > 60.0, "{r:?}");
    assert!(r.blink_count > 200, "{}", r.blink_count);
    let svg =
        String::from_utf8(render(&r, Format::Svg, &RenderOptions::default()).unwrap()).unwrap();
    assert!(svg.contains("time since start (min)"));
    assert!(
        svg.contains("Where the gaze rested (screen, 1920×1080 px)"),
        "screen plane"
    );
    assert!(svg.contains("started 2025-11-26 10:00:00 UTC"));
    assert!(svg.contains("blinks per minute in each 30 s interval"));
    let png = render(&r, Format::Png, &RenderOptions::default()).unwrap();
    assert_eq!(png_size(&png), (1600, 1200));
    if let Some(dir) = std::env::var_os("GAZE_REPORT_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::write(dir.join("long.png"), &png).expect("dump png");
        let pdf = render(&r, Format::Pdf, &RenderOptions::default()).unwrap();
        std::fs::write(dir.join("long.pdf"), pdf).expect("dump pdf");
    }
}

#[test]
fn every_chart_renders_at_the_size_limits() {
    let r = webcam_report();
    let empty = SessionReport::default();
    for (w, h) in [(200, 200), (200, 2000), (2000, 200), (8000, 200)] {
        for chart in [
            Chart::Dashboard,
            Chart::Timeline,
            Chart::Totals,
            Chart::Heatmap,
            Chart::BlinkRate,
        ] {
            let o = RenderOptions {
                width: w,
                height: h,
                ..RenderOptions::default()
            };
            for rep in [&r, &empty] {
                let png = render_chart(rep, chart, Format::Png, &o)
                    .unwrap_or_else(|e| panic!("{chart:?} at {w}×{h}: {e}"));
                assert_eq!(png_size(&png), (w, h));
                render_chart(rep, chart, Format::Svg, &o)
                    .unwrap_or_else(|e| panic!("{chart:?} svg at {w}×{h}: {e}"));
            }
        }
    }
}
