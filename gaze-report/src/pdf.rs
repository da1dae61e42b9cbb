//! The PDF: A4 portrait, page 1 the totals as text plus the timeline and totals charts,
//! page 2 the heatmap and blink-rate charts. Text uses the standard Helvetica fonts
//! (WinAnsi), so `pdftotext` and screen readers get real text; charts are embedded RGB
//! images (Flate).

use gaze_activity::SessionReport;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use crate::data::{duration_s, fin, format_duration, pct, utc_time};
use crate::{Chart, RenderOptions, ReportError, charts};

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
/// Image pixels per PDF point.
const PX_PER_PT: f32 = 3.0;
/// Chart font size in points.
const CHART_FONT_PT: f32 = 11.0;

/// Latin-1 / WinAnsi bytes for the standard fonts (other characters become `?`).
fn winansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '…' => 0x85,
            _ => b'?',
        })
        .collect()
}

struct Image {
    name: Vec<u8>,
    id: Ref,
    w: u32,
    h: u32,
    data: Vec<u8>,
}

struct Page {
    content: Content,
    images: Vec<Image>,
}

impl Page {
    fn new() -> Self {
        Page {
            content: Content::new(),
            images: Vec::new(),
        }
    }

    fn text(&mut self, font: &[u8], size: f32, x: f32, y: f32, s: &str) {
        let bytes = winansi(s);
        self.content
            .begin_text()
            .set_font(Name(font), size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    /// Draws `chart` as an image `w_pt × h_pt` with its top-left corner at (`x`, `top`).
    #[allow(clippy::too_many_arguments)]
    fn chart(
        &mut self,
        r: &SessionReport,
        chart: Chart,
        id: Ref,
        x: f32,
        top: f32,
        w_pt: f32,
        h_pt: f32,
    ) -> Result<(), ReportError> {
        let (w, h) = ((w_pt * PX_PER_PT) as u32, (h_pt * PX_PER_PT) as u32);
        let rgb = charts::rgb_sized(r, chart, w, h, f64::from(CHART_FONT_PT * PX_PER_PT))?;
        let data = miniz_oxide::deflate::compress_to_vec_zlib(&rgb, 6);
        let name = format!("Im{}", self.images.len() + 1).into_bytes();
        self.content
            .save_state()
            .transform([w_pt, 0.0, 0.0, h_pt, x, top - h_pt])
            .x_object(Name(&name))
            .restore_state();
        self.images.push(Image {
            name,
            id,
            w,
            h,
            data,
        });
        Ok(())
    }
}

/// Renders the PDF.
pub(crate) fn to_pdf(r: &SessionReport, o: &RenderOptions) -> Result<Vec<u8>, ReportError> {
    let mut next = 1;
    let mut alloc = || {
        let id = Ref::new(next);
        next += 1;
        id
    };
    let (catalog, tree, font, bold) = (alloc(), alloc(), alloc(), alloc());
    let width = PAGE_W - 2.0 * MARGIN;

    // Page 1: title, totals, timeline, totals bars.
    let mut p1 = Page::new();
    let mut y = PAGE_H - MARGIN - 16.0;
    p1.text(b"F2", 18.0, MARGIN, y, o.title());
    y -= 18.0;
    let mut sub = format!("Session {}", r.session_id);
    if let Some(t) = utc_time(r.started_at) {
        sub.push_str(&format!("  -  started {t}"));
    }
    p1.text(b"F1", 9.5, MARGIN, y, &sub);
    y -= 26.0;
    let dur = duration_s(r);
    let cols = [MARGIN, MARGIN + 150.0, MARGIN + 250.0, MARGIN + 360.0];
    for (i, h) in ["", "seconds", "", "share of session"].iter().enumerate() {
        p1.text(b"F2", 9.0, cols[i], y, h);
    }
    y -= 14.0;
    let secs_rows: [(&str, f64); 8] = [
        ("Duration", dur),
        ("Focused", fin(r.focus_time)),
        ("    Reading", fin(r.session_report.reading_time)),
        ("    Browsing", fin(r.session_report.browsing_time)),
        ("    Watching", fin(r.session_report.watching_time)),
        ("    Other (focused)", fin(r.other_time)),
        ("Distracted", fin(r.distraction_time)),
        ("No data", fin(r.no_data_time)),
    ];
    for (label, v) in secs_rows {
        let f: &[u8] = if label.starts_with(' ') { b"F1" } else { b"F2" };
        p1.text(f, 10.0, cols[0], y, label);
        p1.text(b"F1", 10.0, cols[1], y, &format!("{v:.2}"));
        p1.text(b"F1", 10.0, cols[2], y, &format_duration(v));
        p1.text(b"F1", 10.0, cols[3], y, &format!("{:.1} %", pct(v, dur)));
        y -= 14.0;
    }
    y -= 4.0;
    p1.text(b"F2", 10.0, cols[0], y, "Blinks");
    p1.text(b"F1", 10.0, cols[1], y, &r.blink_count.to_string());
    p1.text(
        b"F1",
        10.0,
        cols[2],
        y,
        &format!("{:.1} per minute of face time", fin(r.blink_rate_per_min)),
    );
    y -= 14.0;
    p1.text(b"F2", 10.0, cols[0], y, "Fixations");
    p1.text(b"F1", 10.0, cols[1], y, &r.fixation_count.to_string());
    p1.text(
        b"F1",
        10.0,
        cols[2],
        y,
        &format!("mean {:.0} ms", fin(r.mean_fixation_ms)),
    );
    y -= 20.0;
    let timeline_h = 190.0;
    p1.chart(r, Chart::Timeline, alloc(), MARGIN, y, width, timeline_h)?;
    y -= timeline_h + 10.0;
    let totals_h = (y - MARGIN).clamp(150.0, 260.0);
    p1.chart(r, Chart::Totals, alloc(), MARGIN, y, width, totals_h)?;

    // Page 2: heatmap and blink rate.
    let mut p2 = Page::new();
    let mut y = PAGE_H - MARGIN - 12.0;
    p2.text(
        b"F2",
        12.0,
        MARGIN,
        y,
        &format!("{} (continued)", o.title()),
    );
    y -= 12.0;
    let heat_h = 380.0;
    p2.chart(r, Chart::Heatmap, alloc(), MARGIN, y, width, heat_h)?;
    y -= heat_h + 16.0;
    p2.chart(r, Chart::BlinkRate, alloc(), MARGIN, y, width, 220.0)?;

    let mut pdf = Pdf::new();
    let pages: Vec<(Ref, Ref, Page)> = vec![(alloc(), alloc(), p1), (alloc(), alloc(), p2)];
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(pages.iter().map(|p| p.0))
        .count(pages.len() as i32);
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (page_id, content_id, page) in pages {
        {
            let mut pw = pdf.page(page_id);
            pw.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            pw.parent(tree);
            pw.contents(content_id);
            let mut res = pw.resources();
            res.fonts().pair(Name(b"F1"), font).pair(Name(b"F2"), bold);
            {
                let mut xo = res.x_objects();
                for im in &page.images {
                    xo.pair(Name(&im.name), im.id);
                }
            }
            res.finish();
            pw.finish();
        }
        for im in &page.images {
            let mut x = pdf.image_xobject(im.id, &im.data);
            x.filter(Filter::FlateDecode);
            x.width(im.w as i32);
            x.height(im.h as i32);
            x.color_space().device_rgb();
            x.bits_per_component(8);
            x.finish();
        }
        let content = page.content.finish();
        pdf.stream(content_id, &content);
    }
    Ok(pdf.finish())
}
