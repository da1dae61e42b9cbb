//! The charts, drawn with plotters on any backend (SVG string or RGB buffer).

use std::sync::Once;

use gaze_activity::{Activity, Attention, GazeHeatmap, HeatmapPlane, SessionReport};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::data::{
    activity_style, attention_style, blink_bins, duration_s, fin, format_duration, pct, time_unit,
    totals, utc_time,
};
use crate::{Chart, RenderOptions, ReportError};

/// DejaVu Sans (Bitstream Vera licence, see `assets/README.md`).
pub(crate) static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is embedded and known to parse; a failure leaves text undrawn, no panic.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
        let _ = plotters::style::register_font(FAMILY, FontStyle::Bold, FONT);
    });
}

type Res = Result<(), ReportError>;

fn de<E: std::fmt::Debug>(e: E) -> ReportError {
    ReportError::Draw(format!("{e:?}"))
}

const INK: RGBColor = RGBColor(33, 33, 33);
const MUTED: RGBColor = RGBColor(100, 100, 100);
const GRID: RGBColor = RGBColor(225, 225, 225);

fn col(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

fn text(size: f64) -> TextStyle<'static> {
    (FAMILY, size.max(6.0)).into_font().color(&INK)
}

fn text_at(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    text(size).pos(Pos::new(h, v))
}

/// Draws `chart` as an SVG document.
pub(crate) fn svg(
    r: &SessionReport,
    chart: Chart,
    o: &RenderOptions,
) -> Result<String, ReportError> {
    register_font();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (o.width, o.height)).into_drawing_area();
        draw(&root, r, chart, o.title(), None)?;
        root.present().map_err(de)?;
    }
    Ok(s)
}

/// Draws `chart` into an 8-bit RGB buffer of `o.width × o.height`.
pub(crate) fn rgb(
    r: &SessionReport,
    chart: Chart,
    o: &RenderOptions,
) -> Result<Vec<u8>, ReportError> {
    rgb_inner(r, chart, (o.width, o.height), o.title(), None)
}

/// Draws a single chart into an RGB buffer with a given base font size (pixels).
pub(crate) fn rgb_sized(
    r: &SessionReport,
    chart: Chart,
    w: u32,
    h: u32,
    font_px: f64,
) -> Result<Vec<u8>, ReportError> {
    rgb_inner(r, chart, (w, h), "", Some(font_px))
}

fn rgb_inner(
    r: &SessionReport,
    chart: Chart,
    (w, h): (u32, u32),
    title: &str,
    font: Option<f64>,
) -> Result<Vec<u8>, ReportError> {
    register_font();
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root, r, chart, title, font)?;
        root.present().map_err(de)?;
    }
    Ok(buf)
}

/// Base font size for an area: 20 px on a 1600-px-wide dashboard.
fn base_font(w: u32, h: u32) -> f64 {
    (f64::from(w).min(f64::from(h) * 1.6) / 80.0).clamp(9.0, 40.0)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &SessionReport,
    chart: Chart,
    title: &str,
    font: Option<f64>,
) -> Res {
    root.fill(&WHITE).map_err(de)?;
    let (w, h) = root.dim_in_pixel();
    let f = |fw: u32, fh: u32| font.unwrap_or_else(|| base_font(fw, fh));
    match chart {
        Chart::Dashboard => dashboard(root, r, title, f(w, h)),
        Chart::Timeline => timeline(root, r, f(w, h * 3)),
        Chart::Totals => totals_chart(root, r, f(w * 2, h * 2)),
        Chart::Heatmap => heatmap(root, r, f(w * 2, h * 2)),
        Chart::BlinkRate => blink_chart(root, r, f(w, h * 3)),
    }
}

fn dashboard<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &SessionReport,
    title: &str,
    f: f64,
) -> Res {
    let (w, h) = root.dim_in_pixel();
    let header_h = (f * 5.2) as u32;
    let (header, rest) = root.split_vertically(header_h);
    header_block(&header, r, title, f)?;
    let rest_h = h.saturating_sub(header_h);
    let (top, rest) = rest.split_vertically((f64::from(rest_h) * 0.27) as u32);
    let (middle, bottom) = rest.split_vertically((f64::from(rest_h) * 0.46) as u32);
    timeline(&top, r, f)?;
    let (left, right) = middle.split_horizontally((f64::from(w) * 0.46) as u32);
    totals_chart(&left, r, f)?;
    heatmap(&right, r, f)?;
    blink_chart(&bottom, r, f)
}

fn header_block<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &SessionReport,
    title: &str,
    f: f64,
) -> Res {
    let x = (f * 1.2) as i32;
    area.draw(&Text::new(
        title.to_string(),
        (x, (f * 0.6) as i32),
        text(f * 1.6).color(&INK),
    ))
    .map_err(de)?;
    let mut sub = format!("Session {}", r.session_id);
    if let Some(t) = utc_time(r.started_at) {
        sub.push_str(&format!(" · started {t}"));
    }
    area.draw(&Text::new(
        sub,
        (x, (f * 2.6) as i32),
        text(f * 0.9).color(&MUTED),
    ))
    .map_err(de)?;
    let dur = duration_s(r);
    let line = format!(
        "Duration {} · focused {} ({:.0} %) · distracted {} ({:.0} %) · {} blink{} ({:.1} per min) · {} fixation{} (mean {:.0} ms)",
        format_duration(dur),
        format_duration(r.focus_time),
        pct(fin(r.focus_time), dur),
        format_duration(r.distraction_time),
        pct(fin(r.distraction_time), dur),
        r.blink_count,
        if r.blink_count == 1 { "" } else { "s" },
        fin(r.blink_rate_per_min),
        r.fixation_count,
        if r.fixation_count == 1 { "" } else { "s" },
        fin(r.mean_fixation_ms),
    );
    area.draw(&Text::new(line, (x, (f * 3.8) as i32), text(f)))
        .map_err(de)?;
    Ok(())
}

/// Draws a "no data" note in the middle of a plot.
fn no_data<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, msg: &str, f: f64) -> Res {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        msg.to_string(),
        (w as i32 / 2, h as i32 / 2),
        text_at(f, HPos::Center, VPos::Center).color(&MUTED),
    ))
    .map_err(de)
}

fn axis_number(v: f64, span: f64) -> String {
    // No "-0.0"; enough decimals that ticks (about a twelfth of the span apart) differ.
    let v = if v.abs() < 1e-9 { 0.0 } else { v };
    if span <= 1.5 {
        format!("{v:.2}")
    } else if span <= 15.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A row of colour swatches with names, starting at `(x, y)` (area pixels); returns the end x.
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (mut x, y): (i32, i32),
    title: &str,
    items: &[(&str, RGBColor)],
    f: f64,
    draw: bool,
) -> Result<i32, ReportError> {
    let style = text_at(f * 0.85, HPos::Left, VPos::Center);
    let tw = |s: &str| {
        area.estimate_text_size(s, &style)
            .map(|(w, _)| w as i32)
            .unwrap_or((s.len() as f64 * f * 0.5) as i32)
    };
    if draw {
        area.draw(&Text::new(title.to_string(), (x, y), style.clone()))
            .map_err(de)?;
    }
    x += tw(title) + (f * 0.6) as i32;
    let sw = (f * 0.8) as i32;
    for (name, c) in items {
        if !draw {
            x += sw + (f * 0.3) as i32 + tw(name) + (f * 1.0) as i32;
            continue;
        }
        area.draw(&Rectangle::new(
            [(x, y - sw / 2), (x + sw, y + sw / 2)],
            c.filled(),
        ))
        .map_err(de)?;
        area.draw(&Rectangle::new(
            [(x, y - sw / 2), (x + sw, y + sw / 2)],
            MUTED.stroke_width(1),
        ))
        .map_err(de)?;
        x += sw + (f * 0.3) as i32;
        area.draw(&Text::new(name.to_string(), (x, y), style.clone()))
            .map_err(de)?;
        x += tw(name) + (f * 1.0) as i32;
    }
    Ok(x)
}

fn timeline<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, r: &SessionReport, f: f64) -> Res {
    let dur = duration_s(r);
    let unit = time_unit(dur);
    let xmax = if dur > 0.0 { dur / unit.div } else { 1.0 };
    let (w, h) = area.dim_in_pixel();
    let acts: Vec<(&str, RGBColor)> = [
        Activity::Reading,
        Activity::Browsing,
        Activity::Watching,
        Activity::Other,
    ]
    .into_iter()
    .map(|a| {
        let (n, c) = activity_style(a);
        (n, col(c))
    })
    .collect();
    let atts: Vec<(&str, RGBColor)> =
        [Attention::Focused, Attention::Distracted, Attention::NoData]
            .into_iter()
            .map(|a| {
                let (n, c) = attention_style(a);
                (n, col(c))
            })
            .collect();
    // One legend row when both groups fit, else one row per group.
    let x0 = (f * 6.5) as i32;
    let end_acts = legend_row(area, (x0, 0), "Activity:", &acts, f, false)?;
    let end_both = legend_row(
        area,
        (end_acts + (f * 1.5) as i32, 0),
        "Attention:",
        &atts,
        f,
        false,
    )?;
    let one_row = end_both <= w as i32;
    let legend_h = (f * if one_row { 2.0 } else { 3.6 }) as u32;
    let (plot, legend) = area.split_vertically(h.saturating_sub(legend_h));
    let mut chart = ChartBuilder::on(&plot)
        .caption("Activity and attention over the session", text(f * 1.1))
        .margin((f * 0.5) as u32)
        .margin_right((f * 1.5) as u32)
        .x_label_area_size((f * 2.6) as u32)
        .y_label_area_size((f * 6.5) as u32)
        .build_cartesian_2d(0f64..xmax, 0f64..2f64)
        .map_err(de)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(2)
        .y_label_formatter(&|_| String::new())
        .x_labels(12)
        .x_label_formatter(&|v| axis_number(*v, xmax))
        .x_desc(format!("time since start ({})", unit.name))
        .label_style(text(f * 0.8))
        .axis_desc_style(text(f * 0.85))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(de)?;
    let t0 = fin(r.started_at);
    let x = |ms: f64| (fin(ms - t0) / 1000.0 / unit.div).clamp(0.0, xmax);
    chart
        .draw_series(r.timeline.iter().flat_map(|s| {
            let (a, b) = (x(s.start_ms), x(s.end_ms));
            [
                Rectangle::new(
                    [(a, 1.1), (b, 1.9)],
                    col(activity_style(s.activity).1).filled(),
                ),
                Rectangle::new(
                    [(a, 0.1), (b, 0.9)],
                    col(attention_style(s.attention).1).filled(),
                ),
            ]
        }))
        .map_err(de)?;
    let (bx, by) = plot.get_base_pixel();
    for (label, y) in [("Activity", 1.5), ("Attention", 0.5)] {
        let (px, py) = chart.backend_coord(&(0.0, y));
        plot.draw(&Text::new(
            label,
            (px - bx - (f * 0.6) as i32, py - by),
            text_at(f * 0.9, HPos::Right, VPos::Center),
        ))
        .map_err(de)?;
    }
    if r.timeline.is_empty() {
        let (px, py) = chart.backend_coord(&(xmax / 2.0, 1.0));
        plot.draw(&Text::new(
            "no timeline recorded",
            (px - bx, py - by),
            text_at(f, HPos::Center, VPos::Center).color(&MUTED),
        ))
        .map_err(de)?;
    }
    if one_row {
        let y = (legend_h / 2) as i32;
        let x = legend_row(&legend, (x0, y), "Activity:", &acts, f, true)?;
        legend_row(
            &legend,
            (x + (f * 1.5) as i32, y),
            "Attention:",
            &atts,
            f,
            true,
        )?;
    } else {
        let y = (f * 0.9) as i32;
        legend_row(&legend, (x0, y), "Activity:", &acts, f, true)?;
        legend_row(
            &legend,
            (x0, y + (f * 1.6) as i32),
            "Attention:",
            &atts,
            f,
            true,
        )?;
    }
    Ok(())
}

fn totals_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &SessionReport,
    f: f64,
) -> Res {
    let dur = duration_s(r);
    let rows = totals(r);
    let unit = time_unit(dur.max(rows.iter().map(|x| x.1).fold(0.0, f64::max)));
    let vmax = rows.iter().map(|x| x.1 / unit.div).fold(0.0, f64::max);
    let xmax = if vmax > 0.0 { vmax * 1.45 } else { 1.0 };
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Time per activity (session {})", format_duration(dur)),
            text(f * 1.1),
        )
        .margin((f * 0.6) as u32)
        .x_label_area_size((f * 2.6) as u32)
        .y_label_area_size((f * 8.0) as u32)
        .build_cartesian_2d(0f64..xmax, 0f64..n)
        .map_err(de)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(1)
        .y_label_formatter(&|_| String::new())
        .x_labels(6)
        .x_label_formatter(&|v| axis_number(*v, xmax))
        .x_desc(format!("time ({})", unit.name))
        .label_style(text(f * 0.8))
        .axis_desc_style(text(f * 0.85))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(de)?;
    let (bx, by) = area.get_base_pixel();
    for (i, (label, secs, c)) in rows.iter().enumerate() {
        let y0 = n - 1.0 - i as f64;
        let v = secs / unit.div;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y0 + 0.18), (v, y0 + 0.82)],
                col(*c).filled(),
            )))
            .map_err(de)?;
        let (lx, ly) = chart.backend_coord(&(0.0, y0 + 0.5));
        area.draw(&Text::new(
            label.to_string(),
            (lx - bx - (f * 0.5) as i32, ly - by),
            text_at(f * 0.85, HPos::Right, VPos::Center),
        ))
        .map_err(de)?;
        let (vx, vy) = chart.backend_coord(&(v, y0 + 0.5));
        area.draw(&Text::new(
            format!("{} · {:.0} %", format_duration(*secs), pct(*secs, dur)),
            (vx - bx + (f * 0.4) as i32, vy - by),
            text_at(f * 0.8, HPos::Left, VPos::Center),
        ))
        .map_err(de)?;
    }
    Ok(())
}

/// Yellow-orange-red ramp for `t` in 0..=1.
fn heat_color(t: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [255.0, 255.0, 204.0]),
        (0.25, [254.0, 217.0, 118.0]),
        (0.5, [253.0, 141.0, 60.0]),
        (0.75, [227.0, 26.0, 28.0]),
        (1.0, [128.0, 0.0, 38.0]),
    ];
    let t = fin(t).clamp(0.0, 1.0);
    let mut i = 0;
    while i + 2 < STOPS.len() && t > STOPS[i + 1].0 {
        i += 1;
    }
    let (a, ca) = STOPS[i];
    let (b, cb) = STOPS[i + 1];
    let u = ((t - a) / (b - a)).clamp(0.0, 1.0);
    let m = |k: usize| (ca[k] + (cb[k] - ca[k]) * u).round() as u8;
    RGBColor(m(0), m(1), m(2))
}

/// A usable heatmap (consistent grid and extent) or `None`.
fn usable(h: &Option<GazeHeatmap>) -> Option<&GazeHeatmap> {
    let h = h.as_ref()?;
    let ok = h.cols > 0
        && h.rows > 0
        && h.cells.len() == h.cols as usize * h.rows as usize
        && h.x_max > h.x_min
        && h.y_max > h.y_min
        && [h.x_min, h.x_max, h.y_min, h.y_max]
            .iter()
            .all(|v| v.is_finite());
    ok.then_some(h)
}

fn heatmap<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, r: &SessionReport, f: f64) -> Res {
    let Some(hm) = usable(&r.gaze_heatmap) else {
        let (title, rest) = area.split_vertically((f * 2.5) as u32);
        title
            .draw(&Text::new(
                "Where the gaze rested",
                ((title.dim_in_pixel().0 / 2) as i32, (f * 0.8) as i32),
                text_at(f * 1.1, HPos::Center, VPos::Top),
            ))
            .map_err(de)?;
        return no_data(&rest, "no gaze points recorded", f);
    };
    let screen = hm.plane == HeatmapPlane::Screen;
    let caption = if screen {
        format!(
            "Where the gaze rested (screen, {:.0}×{:.0} px)",
            hm.x_max - hm.x_min,
            hm.y_max - hm.y_min
        )
    } else {
        "Where the gaze rested (uncalibrated: gaze direction)".to_string()
    };
    let (aw, ah) = area.dim_in_pixel();
    // Keep the plane's aspect ratio: fit the plot, leave room for the labels and colour bar.
    let (label_l, label_b, bar_w, cap_h, note_h) = (f * 5.0, f * 3.0, f * 7.5, f * 2.6, f * 3.0);
    let avail_w = (f64::from(aw) - label_l - bar_w - f).max(10.0);
    let avail_h = (f64::from(ah) - label_b - cap_h - note_h - f).max(10.0);
    let aspect = if screen {
        (hm.x_max - hm.x_min) / (hm.y_max - hm.y_min)
    } else {
        1.0
    };
    let (pw, ph) = if avail_w / avail_h > aspect {
        (avail_h * aspect, avail_h)
    } else {
        (avail_w, avail_w / aspect)
    };
    let side = ((f64::from(aw) - pw - label_l - bar_w) / 2.0).max(0.0);
    let inner = area.margin(
        0,
        (f64::from(ah) - ph - label_b - cap_h - note_h).max(0.0) as u32,
        side as u32,
        (side + bar_w) as u32,
    );
    // The ratio plane is shown mirrored so it reads like the screen from the user's seat:
    // horizontal ratio +1 (image right) is the user's left.
    let (x0, x1) = if screen {
        (hm.x_min, hm.x_max)
    } else {
        (-hm.x_max, -hm.x_min)
    };
    let mut chart = ChartBuilder::on(&inner)
        .caption(caption, text(f * 1.1))
        .margin_top((f * 0.4) as u32)
        .x_label_area_size(label_b as u32)
        .y_label_area_size(label_l as u32)
        .build_cartesian_2d(x0..x1, -hm.y_max..-hm.y_min)
        .map_err(de)?;
    let (x_desc, y_desc) = if screen {
        ("x (px)", "y (px, down)")
    } else {
        (
            "horizontal gaze ratio, mirrored (user's left … right)",
            "vertical gaze ratio (up … down)",
        )
    };
    let span_x = x1 - x0;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|v| axis_number(*v, span_x))
        .y_label_formatter(&|v| axis_number(-*v, span_x))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(text(f * 0.75))
        .axis_desc_style(text(f * 0.8))
        .draw()
        .map_err(de)?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(x0, -hm.y_max), (x1, -hm.y_min)],
            RGBColor(243, 243, 243).filled(),
        )))
        .map_err(de)?;
    let max = hm.cells.iter().copied().map(fin).fold(0.0, f64::max);
    let (cw, ch) = (
        (hm.x_max - hm.x_min) / f64::from(hm.cols),
        (hm.y_max - hm.y_min) / f64::from(hm.rows),
    );
    let cols = hm.cols as usize;
    chart
        .draw_series(hm.cells.iter().enumerate().filter_map(|(i, &v)| {
            let v = fin(v);
            if v <= 0.0 || max <= 0.0 {
                return None;
            }
            let (c, rw) = ((i % cols) as f64, (i / cols) as f64);
            let (mut xa, mut xb) = (hm.x_min + c * cw, hm.x_min + (c + 1.0) * cw);
            if !screen {
                (xa, xb) = (-xb, -xa);
            }
            let (ya, yb) = (hm.y_min + rw * ch, hm.y_min + (rw + 1.0) * ch);
            Some(Rectangle::new(
                [(xa, -yb), (xb, -ya)],
                heat_color((v / max).sqrt()).filled(),
            ))
        }))
        .map_err(de)?;
    // Colour bar (square-root scale) to the right of the plot.
    let (bx, by) = inner.get_base_pixel();
    let (abx, aby) = area.get_base_pixel();
    let (_, top) = chart.backend_coord(&(x1, -hm.y_min));
    let (right, bottom) = chart.backend_coord(&(x1, -hm.y_max));
    let _ = (bx, by);
    let (cx, ty, byy) = (right - abx + (f * 1.2) as i32, top - aby, bottom - aby);
    let bw = (f * 1.0) as i32;
    let steps = 64;
    for k in 0..steps {
        let t0 = f64::from(k) / f64::from(steps);
        let t1 = f64::from(k + 1) / f64::from(steps);
        let ya = byy - ((byy - ty) as f64 * t1) as i32;
        // Overlap the next band by a pixel so no seams show between bands.
        let yb = (byy - ((byy - ty) as f64 * t0) as i32 + 1).min(byy);
        area.draw(&Rectangle::new(
            [(cx, ya), (cx + bw, yb)],
            heat_color((t0 + t1) / 2.0).filled(),
        ))
        .map_err(de)?;
    }
    area.draw(&Rectangle::new(
        [(cx, ty), (cx + bw, byy)],
        MUTED.stroke_width(1),
    ))
    .map_err(de)?;
    for t in [0.0, 0.5, 1.0] {
        let y = byy - ((byy - ty) as f64 * t) as i32;
        let v = max * t * t;
        area.draw(&Text::new(
            format!("{v:.1} s"),
            (cx + bw + (f * 0.4) as i32, y),
            text_at(f * 0.75, HPos::Left, VPos::Center),
        ))
        .map_err(de)?;
    }
    area.draw(&Text::new(
        "per cell",
        (cx, byy + (f * 0.6) as i32),
        text_at(f * 0.75, HPos::Left, VPos::Top).color(&MUTED),
    ))
    .map_err(de)?;
    let total = hm.total();
    let note = format!(
        "{} of gaze in {}×{} cells · {:.0} % outside the {}",
        format_duration(total),
        hm.cols,
        hm.rows,
        pct(fin(hm.outside), total),
        if screen { "screen" } else { "plotted range" }
    );
    // Below the x-axis title: the plot's bottom + the label area + a line.
    let (aw, ah) = area.dim_in_pixel();
    let y = (byy + (label_b + f * 0.8) as i32).min(ah as i32 - (f * 0.2) as i32);
    area.draw(&Text::new(
        note,
        (aw as i32 / 2, y),
        text_at(f * 0.8, HPos::Center, VPos::Bottom).color(&MUTED),
    ))
    .map_err(de)?;
    Ok(())
}

fn blink_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &SessionReport,
    f: f64,
) -> Res {
    let dur = duration_s(r);
    let unit = time_unit(dur);
    let xmax = if dur > 0.0 { dur / unit.div } else { 1.0 };
    let bins = blink_bins(r);
    let avg = fin(r.blink_rate_per_min);
    let top = bins.bins.iter().map(|b| b.3).fold(avg, f64::max).max(20.0) * 1.6; // headroom for the legend
    let bin_label = if bins.bin_s < 60.0 {
        format!("{:.0} s", bins.bin_s)
    } else {
        format!("{:.0} min", bins.bin_s / 60.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption("Blink rate over the session", text(f * 1.1))
        .margin((f * 0.5) as u32)
        .margin_right((f * 1.5) as u32)
        .x_label_area_size((f * 2.6) as u32)
        .y_label_area_size((f * 6.5) as u32)
        .build_cartesian_2d(0f64..xmax, 0f64..top)
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_labels(12)
        .y_labels(5)
        .x_label_formatter(&|v| axis_number(*v, xmax))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_desc(format!("time since start ({})", unit.name))
        .y_desc("blinks per minute")
        .label_style(text(f * 0.8))
        .axis_desc_style(text(f * 0.85))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(de)?;
    let bar = RGBColor(66, 146, 198);
    chart
        .draw_series(bins.bins.iter().map(|&(a, len, _, rate)| {
            let gap = len * 0.04;
            Rectangle::new(
                [
                    ((a + gap) / unit.div, 0.0),
                    ((a + len - gap) / unit.div, rate),
                ],
                bar.filled(),
            )
        }))
        .map_err(de)?
        .label(format!("blinks per minute in each {bin_label} interval"))
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], bar.filled()));
    let t0 = fin(r.started_at);
    let tick = top * 0.05;
    chart
        .draw_series(r.blink_onsets_ms.iter().filter_map(|&t| {
            let x = (t - t0) / 1000.0 / unit.div;
            (x.is_finite() && (0.0..=xmax).contains(&x))
                .then(|| PathElement::new(vec![(x, 0.0), (x, tick)], INK.stroke_width(2)))
        }))
        .map_err(de)?
        .label(format!("blink onset ({} in total)", r.blink_count))
        .legend(|(x, y)| {
            PathElement::new(vec![(x + 7, y - 6), (x + 7, y + 6)], INK.stroke_width(2))
        });
    let avg_color = RGBColor(214, 39, 40);
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, avg), (xmax, avg)],
            avg_color.stroke_width(2),
        )))
        .map_err(de)?
        .label(format!("session average: {avg:.1} per minute of face time"))
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 14, y)], avg_color.stroke_width(2))
        });
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(text(f * 0.8))
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .draw()
        .map_err(de)?;
    if bins.bins.is_empty() {
        let (bx, by) = area.get_base_pixel();
        let (px, py) = chart.backend_coord(&(xmax / 2.0, top / 2.0));
        area.draw(&Text::new(
            "no samples recorded",
            (px - bx, py - by),
            text_at(f, HPos::Center, VPos::Center).color(&MUTED),
        ))
        .map_err(de)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_ramp_ends() {
        assert_eq!(heat_color(0.0), RGBColor(255, 255, 204));
        assert_eq!(heat_color(1.0), RGBColor(128, 0, 38));
        assert_eq!(heat_color(f64::NAN), RGBColor(255, 255, 204));
    }
}
