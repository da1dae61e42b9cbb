//! criterion bench: samples per second through the streaming activity classifier and the
//! session accountant, at a webcam rate (30 Hz, I-DT) and a lab rate (500 Hz, I-VT), for the
//! shipped boosted-tree model and the earlier linear one (`_legacy`).
//! `cargo bench -p gaze-activity --bench stream` (no OpenCV in its build).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gaze_activity::activity::{ActivityClassifier, ActivityConfig, GazeSample};
use gaze_activity::{AttentionEvidence, Session};

/// Reading-like scan path: lines of fixations with forward saccades and return sweeps,
/// plus deterministic jitter, a blink every 4 s and a looking-away stretch every 60 s.
fn trace(n: usize, hz: f64) -> Vec<GazeSample> {
    let dt = 1000.0 / hz;
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut jitter = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 2001) as f64 / 1000.0 - 1.0
    };
    (0..n)
        .map(|i| {
            let t = i as f64 * dt;
            let fix = (t / 250.0).floor();
            let x = 200.0 + (fix % 12.0) * 120.0 + 6.0 * jitter();
            let y = 200.0 + ((fix / 12.0).floor() % 15.0) * 45.0 + 6.0 * jitter();
            let evidence = AttentionEvidence {
                face_present: true,
                eyes_closed: t % 4000.0 < 150.0,
                head_away: t % 60_000.0 > 55_000.0,
                gaze_off_screen: false,
            };
            if evidence.eyes_closed {
                GazeSample::invalid(t, evidence)
            } else {
                GazeSample::new(t, x, y).with_evidence(evidence)
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    const N: usize = 200_000;
    let mut group = c.benchmark_group("activity_stream");
    group.throughput(Throughput::Elements(N as u64));
    // The shipped boosted-tree model next to the earlier linear model (`legacy`, scored
    // every bin), the peer measured in the same run.
    for (name, hz, legacy) in [
        ("classifier_30hz", 30.0, false),
        ("classifier_30hz_legacy", 30.0, true),
        ("classifier_500hz", 500.0, false),
        ("classifier_500hz_legacy", 500.0, true),
    ] {
        let samples = trace(N, hz);
        let config = if legacy {
            ActivityConfig::legacy()
        } else {
            ActivityConfig::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut c = ActivityClassifier::new(config.clone());
                for s in &samples {
                    black_box(c.push(*s));
                }
                black_box(c.totals())
            })
        });
    }
    let samples = trace(N, 30.0);
    group.bench_function("session_30hz", |b| {
        b.iter(|| {
            let mut s = Session::new("bench", ActivityConfig::default());
            for x in &samples {
                black_box(s.push_sample(*x));
            }
            black_box(s.finish().duration)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
