//! Screen geometry: converts screen pixels to degrees of visual angle.

use serde::{Deserialize, Serialize};

/// Default laptop screen width in pixels.
pub const LAPTOP_WIDTH_PX: f64 = 1920.0;
/// Default laptop screen height in pixels.
pub const LAPTOP_HEIGHT_PX: f64 = 1080.0;
/// Default laptop screen width in millimetres (15.6" 16:9 panel).
pub const LAPTOP_WIDTH_MM: f64 = 344.0;
/// Default laptop screen height in millimetres.
pub const LAPTOP_HEIGHT_MM: f64 = 194.0;
/// Default viewing distance in millimetres.
pub const LAPTOP_DISTANCE_MM: f64 = 600.0;

/// Size of the screen the gaze points live on, and how far the viewer sits from it.
///
/// Physical size and distance are optional. Missing values fall back to a typical laptop:
/// a missing physical size assumes a panel [`LAPTOP_WIDTH_MM`] wide with the pixel aspect
/// ratio of `width_px`×`height_px`; a missing distance assumes [`LAPTOP_DISTANCE_MM`].
///
/// Conversions use the visual angle at the screen centre (a linear scale). At the edge of
/// a laptop screen at 60 cm this underestimates angles by about 3 %, which is far below
/// webcam gaze noise and keeps the per-sample cost at one multiplication.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScreenGeometry {
    /// Screen (or viewport) width in pixels.
    pub width_px: f64,
    /// Screen (or viewport) height in pixels.
    pub height_px: f64,
    /// Physical width in millimetres, if known.
    #[serde(default)]
    pub width_mm: Option<f64>,
    /// Physical height in millimetres, if known.
    #[serde(default)]
    pub height_mm: Option<f64>,
    /// Eye-to-screen distance in millimetres, if known.
    #[serde(default)]
    pub distance_mm: Option<f64>,
}

impl Default for ScreenGeometry {
    fn default() -> Self {
        ScreenGeometry {
            width_px: LAPTOP_WIDTH_PX,
            height_px: LAPTOP_HEIGHT_PX,
            width_mm: Some(LAPTOP_WIDTH_MM),
            height_mm: Some(LAPTOP_HEIGHT_MM),
            distance_mm: Some(LAPTOP_DISTANCE_MM),
        }
    }
}

fn positive(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite() && *v > 0.0)
}

impl ScreenGeometry {
    /// A screen of the given pixel size with laptop physical defaults.
    pub fn from_px(width_px: f64, height_px: f64) -> Self {
        ScreenGeometry {
            width_px,
            height_px,
            width_mm: None,
            height_mm: None,
            distance_mm: None,
        }
    }

    /// A fully specified screen.
    pub fn new(
        width_px: f64,
        height_px: f64,
        width_mm: f64,
        height_mm: f64,
        distance_mm: f64,
    ) -> Self {
        ScreenGeometry {
            width_px,
            height_px,
            width_mm: Some(width_mm),
            height_mm: Some(height_mm),
            distance_mm: Some(distance_mm),
        }
    }

    /// Pixel width, or the laptop default when the value is unusable.
    pub fn width(&self) -> f64 {
        if self.width_px.is_finite() && self.width_px >= 1.0 {
            self.width_px
        } else {
            LAPTOP_WIDTH_PX
        }
    }

    /// Pixel height, or the laptop default when the value is unusable.
    pub fn height(&self) -> f64 {
        if self.height_px.is_finite() && self.height_px >= 1.0 {
            self.height_px
        } else {
            LAPTOP_HEIGHT_PX
        }
    }

    /// Viewing distance in millimetres (the given one or the laptop default).
    pub fn distance(&self) -> f64 {
        positive(self.distance_mm).unwrap_or(LAPTOP_DISTANCE_MM)
    }

    /// Millimetres per pixel, horizontally and vertically.
    pub fn mm_per_px(&self) -> (f64, f64) {
        let (w, h) = (self.width(), self.height());
        let mx = positive(self.width_mm).map(|mm| mm / w);
        let my = positive(self.height_mm).map(|mm| mm / h);
        match (mx, my) {
            (Some(x), Some(y)) => (x, y),
            (Some(x), None) => (x, x),
            (None, Some(y)) => (y, y),
            // Assume square pixels on a laptop-wide panel.
            (None, None) => {
                let p = LAPTOP_WIDTH_MM / w;
                (p, p)
            }
        }
    }

    /// Pixels per degree of visual angle at the screen centre, horizontally and vertically.
    pub fn px_per_deg(&self) -> (f64, f64) {
        // Size on screen of one degree centred on the line of sight.
        let mm_per_deg = 2.0 * self.distance() * (0.5f64).to_radians().tan();
        let (mx, my) = self.mm_per_px();
        (mm_per_deg / mx, mm_per_deg / my)
    }

    /// Converts a pixel displacement to degrees of visual angle.
    pub fn px_to_deg(&self, dx_px: f64, dy_px: f64) -> (f64, f64) {
        let (px, py) = self.px_per_deg();
        (dx_px / px, dy_px / py)
    }

    /// Converts degrees of visual angle to a pixel displacement.
    pub fn deg_to_px(&self, dx_deg: f64, dy_deg: f64) -> (f64, f64) {
        let (px, py) = self.px_per_deg();
        (dx_deg * px, dy_deg * py)
    }

    /// Screen size in degrees of visual angle (width, height), using the exact arctangent.
    pub fn size_deg(&self) -> (f64, f64) {
        let (mx, my) = self.mm_per_px();
        let d = self.distance();
        let w = 2.0 * ((self.width() * mx * 0.5) / d).atan().to_degrees();
        let h = 2.0 * ((self.height() * my * 0.5) / d).atan().to_degrees();
        (w, h)
    }

    /// True when the pixel position lies on the screen, with `margin_px` slack on every side.
    pub fn contains(&self, x: f64, y: f64, margin_px: f64) -> bool {
        x >= -margin_px
            && y >= -margin_px
            && x <= self.width() + margin_px
            && y <= self.height() + margin_px
    }

    /// Maps normalised gaze ratios (as in [`crate::Gaze`]: `horizontal` −1 image-left … 1
    /// image-right, `vertical` −1 up … 1 down) to an approximate screen position in pixels.
    ///
    /// The camera faces the user, so looking toward the image's right means looking toward
    /// the user's left, which is the screen's left: the horizontal axis is mirrored.
    /// Ratio ±1 maps to the screen edges, 0 to the centre, and the result is not clamped.
    /// This is only a rough linear map for uncalibrated use; event detection and the
    /// activity model need relative movement, which it preserves.
    pub fn ratios_to_px(&self, horizontal: f64, vertical: f64) -> (f64, f64) {
        let x = (1.0 - horizontal) * 0.5 * self.width();
        let y = (1.0 + vertical) * 0.5 * self.height();
        (x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laptop_default_scale() {
        let g = ScreenGeometry::default();
        let (px, py) = g.px_per_deg();
        // 1 deg at 600 mm = 10.47 mm; 1920 px / 344 mm = 5.58 px/mm.
        assert!((px - 58.4).abs() < 0.5, "{px}");
        assert!((py - 58.3).abs() < 0.5, "{py}");
        let (w, _) = g.size_deg();
        assert!((w - 32.0).abs() < 0.5, "{w}");
    }

    #[test]
    fn missing_values_fall_back() {
        let g = ScreenGeometry::from_px(f64::NAN, 0.0);
        let (px, py) = g.px_per_deg();
        assert!(px.is_finite() && py.is_finite() && px > 0.0);
        let (x, y) = g.ratios_to_px(1.0, 1.0);
        assert_eq!((x, y), (0.0, LAPTOP_HEIGHT_PX));
    }
}
