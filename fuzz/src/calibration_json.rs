//! `calibration_json`: a stored calibration ([`Calibration::from_json`]) from arbitrary
//! text, then applied to gaze features (ordinary, extreme and NaN ones) and round-tripped
//! through JSON.

use gaze_core::{Calibration, GazeFeatures};

fn features() -> [GazeFeatures; 4] {
    let f = |yaw, pitch, head| GazeFeatures {
        yaw_deg: yaw,
        pitch_deg: pitch,
        horizontal: yaw / 30.0,
        vertical: pitch / 20.0,
        head_yaw_deg: head,
        head_pitch_deg: -head,
    };
    [
        f(0.0, -10.0, 0.0),
        f(25.0, 12.0, 8.0),
        f(f64::NAN, 0.0, 0.0),
        f(1e300, -1e300, f64::INFINITY),
    ]
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cal) = Calibration::from_json(text) else {
        return;
    };
    for f in features() {
        if let Some(p) = cal.predict(&f) {
            assert!(p.x.is_finite() && p.y.is_finite());
        }
    }
    let json = cal.to_json().expect("a calibration serialises");
    let finite = cal.screen_width.is_finite() && cal.screen_height.is_finite();
    if finite {
        let back = Calibration::from_json(&json).expect("a calibration's JSON reads back");
        assert_eq!(back, cal);
    }
}
