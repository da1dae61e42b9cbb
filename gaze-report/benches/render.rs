//! Rendering cost per format on the webcam-clip report: `cargo bench -p gaze-report`.

use criterion::{Criterion, criterion_group, criterion_main};
use gaze_activity::SessionReport;
use gaze_report::{Format, RenderOptions, render};

fn bench(c: &mut Criterion) {
    let report: SessionReport =
        serde_json::from_str(include_str!("../tests/data/webcam_report.json")).expect("fixture");
    let o = RenderOptions::default();
    let mut g = c.benchmark_group("render_webcam_report");
    g.sample_size(10);
    for f in [Format::Csv, Format::Svg, Format::Png, Format::Pdf] {
        g.bench_function(f.extension(), |b| {
            b.iter(|| render(std::hint::black_box(&report), f, &o).expect("renders"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
