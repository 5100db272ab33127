//! Rendering one chart to PNG or SVG with the shared style: a [`Chart`] draws itself on
//! any plotters backend; [`write`] picks the backend from the path's extension and
//! writes atomically; [`svg`] returns the SVG text (for pages that inline it).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw_err, register_fonts, temp_beside, write_atomic, Format, FONT, LABEL_PX};
use crate::error::{Error, Result};

/// What drawing returns: plotters' errors boxed.
pub type DrawResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A chart that can draw itself on any backend.
pub trait Chart {
    /// Size in pixels (width, height).
    fn size(&self) -> (u32, u32);
    /// Draws the whole chart (background included) on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<()>
    where
        DB::ErrorType: 'static;
}

/// The chart as SVG text.
pub fn svg<C: Chart>(c: &C) -> Result<String> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, c.size()).into_drawing_area();
        let e = |e: Box<dyn std::error::Error>| Error::Usage(format!("drawing a chart: {e}"));
        c.draw(&root).map_err(e)?;
        root.present()
            .map_err(|x| Error::Usage(format!("drawing a chart: {x}")))?;
    }
    Ok(out)
}

/// Draws `c` into `path` (`.png` or `.svg`), written to a temporary name and renamed.
pub fn write<C: Chart>(c: &C, path: &Path) -> Result<()> {
    register_fonts();
    match Format::of(path)? {
        Format::Svg => {
            let text = svg(c).map_err(|e| draw_err(path, e))?;
            write_atomic(path, text.as_bytes())
        }
        Format::Png => {
            let tmp = temp_beside(path);
            {
                let root = BitMapBackend::new(&tmp, c.size()).into_drawing_area();
                c.draw(&root).map_err(|e| draw_err(path, e))?;
                root.present().map_err(|e| draw_err(path, e))?;
            }
            std::fs::rename(&tmp, path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                draw_err(path, e)
            })
        }
    }
}

/// Paints the background, the bold title and a legend row (`legend_rows` rows of up
/// to half the items each past the first), and returns the area left for the plot.
pub fn frame<'a, DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[LegendItem<'a>],
) -> DrawResult<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(
        title,
        (FONT, super::TITLE_PX).into_font().style(FontStyle::Bold),
    )?;
    let (area, body) = root.split_vertically(40);
    legend_row(&area, legend)?;
    Ok(body)
}

/// A legend entry: colour swatch and label.
pub type LegendItem<'a> = (RGBColor, &'a str);

/// Draws a one-line legend of coloured swatches, centred in `area`.
pub fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[LegendItem],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let font: TextStyle = (FONT, LABEL_PX).into_font().into();
    let widths: Vec<i32> = items
        .iter()
        .map(|(_, l)| {
            area.estimate_text_size(l, &font)
                .map(|(w, _)| w as i32)
                .unwrap_or(8 * l.len() as i32)
        })
        .collect();
    let total: i32 = widths.iter().map(|w| 28 + w + 26).sum::<i32>() - 26;
    let (w, h) = area.dim_in_pixel();
    let mut x = ((w as i32 - total) / 2).max(10);
    let cy = h as i32 / 2;
    for ((c, label), tw) in items.iter().zip(widths) {
        area.draw(&Rectangle::new([(x, cy - 8), (x + 22, cy + 8)], c.filled()))?;
        area.draw(&Text::new(
            *label,
            (x + 28, cy),
            font.clone().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += 28 + tw + 26;
    }
    Ok(())
}

/// Width in pixels of `text` at `px` in the chart font (an estimate when the font is
/// unavailable).
pub fn text_width(text: &str, px: f64) -> u32 {
    register_fonts();
    let font: TextStyle = (FONT, px).into_font().into();
    font.font
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or((px * 0.6 * text.len() as f64) as u32)
}

/// "1.8", "18", "180" with digits to suit the size.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// An axis tick: [`num`] without a trailing ".0".
pub fn tick(x: f64) -> String {
    let s = num(x);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A log-axis tick: [`tick`] below 1,000, then with a k, M or G suffix (1k, 10M).
pub fn tick_si(x: f64) -> String {
    let a = x.abs();
    for (scale, suffix) in [(1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if a >= scale {
            return format!("{}{suffix}", tick(x / scale));
        }
    }
    tick(x)
}

/// Plotters' SVG made smaller without changing the picture: runs of filled rectangles
/// become one path per colour (in first-drawn order, so overlaps keep their stacking),
/// runs of opaque lines of one stroke become one path, and default attributes go.
/// A timeline of thousands of spans shrinks about fivefold.
pub fn compact_svg(svg: &str) -> String {
    enum Item {
        Line(String),
        Rects(Vec<(String, String)>),
        Strokes(String, String),
    }
    fn rect(l: &str) -> Option<(String, String)> {
        let rest = l.strip_prefix("<rect x=\"")?;
        let (x, rest) = rest.split_once("\" y=\"")?;
        let (y, rest) = rest.split_once("\" width=\"")?;
        let (w, rest) = rest.split_once("\" height=\"")?;
        let (h, rest) = rest.split_once("\" opacity=\"1\" fill=\"")?;
        let (fill, rest) = rest.split_once('"')?;
        (rest == " stroke=\"none\"/>")
            .then(|| (fill.to_string(), format!("M{x} {y}h{w}v{h}h-{w}z")))
    }
    fn polyline(l: &str) -> Option<(String, String)> {
        let rest = l.strip_prefix("<polyline fill=\"none\" opacity=\"1\" ")?;
        let (style, rest) = rest.split_once(" points=\"")?;
        let pts = rest.strip_suffix("\"/>")?;
        let mut d = String::new();
        for (i, p) in pts.split_whitespace().enumerate() {
            d.push(if i == 0 { 'M' } else { 'L' });
            d.push_str(&p.replace(',', " "));
        }
        (!d.is_empty()).then(|| (style.to_string(), d))
    }
    let mut items: Vec<Item> = Vec::new();
    for l in svg.lines() {
        if let Some((fill, d)) = rect(l) {
            if let Some(Item::Rects(v)) = items.last_mut() {
                v.push((fill, d));
            } else {
                items.push(Item::Rects(vec![(fill, d)]));
            }
        } else if let Some((style, d)) = polyline(l) {
            match items.last_mut() {
                Some(Item::Strokes(s, acc)) if *s == style => acc.push_str(&d),
                _ => items.push(Item::Strokes(style, d)),
            }
        } else {
            items.push(Item::Line(l.replace(" opacity=\"1\"", "")));
        }
    }
    let mut out = String::with_capacity(svg.len() / 3);
    for it in items {
        match it {
            Item::Line(l) => out.push_str(&l),
            Item::Rects(v) => {
                let mut fills: Vec<(String, String)> = Vec::new();
                for (f, d) in v {
                    match fills.iter_mut().find(|x| x.0 == f) {
                        Some(x) => x.1.push_str(&d),
                        None => fills.push((f, d)),
                    }
                }
                for (i, (f, d)) in fills.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    out.push_str(&format!("<path fill=\"{f}\" d=\"{d}\"/>"));
                }
            }
            Item::Strokes(style, d) => {
                out.push_str(&format!("<path fill=\"none\" {style} d=\"{d}\"/>"));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_take_si_suffixes() {
        assert_eq!(tick_si(1.0), "1");
        assert_eq!(tick_si(10.0), "10");
        assert_eq!(tick_si(100.0), "100");
        assert_eq!(tick_si(1000.0), "1k");
        assert_eq!(tick_si(100_000.0), "100k");
        assert_eq!(tick_si(10_000_000.0), "10M");
        assert_eq!(tick_si(0.5), "0.5");
    }
}
