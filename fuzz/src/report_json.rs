//! `report_json`: arbitrary text read as a [`SessionReport`] (then rendered by gaze-report:
//! CSV and SVG always, PNG and PDF for one input in 16; and round-tripped through JSON), as a [`SessionSnapshot`] (then restored with
//! [`Session::restore`], fed samples and frames, reported and finished) and as a server
//! checkpoint state ([`LiveAccount::restore`], then a frame pushed).

use gaze_core::{FrameResult, GazeSample, Session, SessionReport, SessionSnapshot};
use gaze_report::{Chart, Format, RenderOptions};
use gaze_server::accounting::LiveAccount;

fn check_report(r: &SessionReport, heavy: bool) {
    let csv = gaze_report::csv::to_csv(r);
    let fixed = gaze_report::csv::to_csv(&SessionReport::default())
        .lines()
        .count();
    assert_eq!(csv.lines().count(), fixed + r.timeline.len());
    let small = RenderOptions {
        width: gaze_report::MIN_SIZE,
        height: gaze_report::MIN_SIZE,
        title: Some(r.session_id.clone()),
    };
    let svg = gaze_report::render(r, Format::Svg, &small).expect("SVG renders");
    assert!(svg.starts_with(b"<svg") || svg.starts_with(b"<?xml"));
    if heavy {
        gaze_report::render_chart(r, Chart::Timeline, Format::Png, &small).expect("PNG renders");
        let pdf = gaze_report::render(r, Format::Pdf, &small).expect("PDF renders");
        assert!(pdf.starts_with(b"%PDF"));
    }
    let json = serde_json::to_string(r).expect("a report serialises");
    // Every float read from JSON is finite, so the report must read back unchanged.
    let back: SessionReport = serde_json::from_str(&json).expect("report JSON reads back");
    assert_eq!(&back, r);
}

fn exercise(mut s: Session) {
    let last = s.classifier().ended_at();
    let t0 = last.unwrap_or(0.0);
    for (i, t) in [t0 - 5.0, t0, t0 + 40.0, t0 + 80.0, t0 + 5000.0]
        .into_iter()
        .enumerate()
    {
        let st = if i % 2 == 0 {
            s.push_sample(GazeSample::new(t, 400.0 + 10.0 * i as f64, 300.0))
        } else {
            s.push_frame(&FrameResult {
                timestamp_ms: t,
                ..FrameResult::default()
            })
        };
        if i < 2 && last.is_some() {
            // Not after the restored session's last sample: rejected.
            assert!(!st.accepted, "sample at {t} after {t0} accepted");
        }
    }
    let _ = serde_json::to_string(&s.report()).expect("report serialises");
    let _ = s.snapshot_json();
    let _ = serde_json::to_string(&s.finish()).expect("report serialises");
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = serde_json::from_str::<SessionReport>(text) {
        check_report(&r, data.len() % 16 == 0);
    }
    if let Ok(snap) = serde_json::from_str::<SessionSnapshot>(text)
        && let Ok(s) = Session::restore(snap)
    {
        exercise(s);
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
        && let Some(mut acc) = LiveAccount::restore(&v)
    {
        let t = acc.report().ended_at + 33.0;
        let _ = acc.push(&FrameResult {
            timestamp_ms: t,
            ..FrameResult::default()
        });
        let _ = acc.report();
        let _ = acc.snapshot();
        let _ = acc.finish();
    }
}
