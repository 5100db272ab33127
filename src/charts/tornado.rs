//! Sensitivity (tornado) chart: training days and dollars when each input moves by
//! -x% and +x%, one row per input, largest swing at the top, around the base value.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{frame, text_width, Chart, DrawResult};
use super::palette::{BLUE, GREY, ORANGE};
use super::{FONT, LABEL_PX, TICK_PX};

/// One input's row: (days, dollars) with the input lowered and raised.
#[derive(Debug, Clone)]
pub struct TornadoRow {
    /// The input in words.
    pub input: String,
    /// (days, US$) with the input at -x%.
    pub low: (f64, f64),
    /// (days, US$) with the input at +x%.
    pub high: (f64, f64),
}

/// The whole tornado.
#[derive(Debug, Clone)]
pub struct TornadoChart {
    /// Title.
    pub title: String,
    /// The change applied, percent (20 = +-20%).
    pub delta_pct: f64,
    /// Base (days, US$).
    pub base: (f64, f64),
    /// Rows, drawn top to bottom in this order.
    pub rows: Vec<TornadoRow>,
}

const WIDTH: u32 = 1500;

impl Chart for TornadoChart {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 200 + 56 * self.rows.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<()>
    where
        DB::ErrorType: 'static,
    {
        let lo = format!("input -{:.0}%", self.delta_pct);
        let hi = format!("input +{:.0}%", self.delta_pct);
        let body = frame(
            root,
            &self.title,
            &[(BLUE, lo.as_str()), (ORANGE, hi.as_str())],
        )?;
        let (left, right) = body.split_horizontally(WIDTH / 2);
        panel(
            &left,
            self,
            &format!("Training days (plan: {:.1})", self.base.0),
            "training time (days)",
            |p| p.0,
            &|v| format!("{v:.1}"),
        )?;
        panel(
            &right,
            self,
            &format!("Training cost (plan: ${:.2}M)", self.base.1 / 1e6),
            "cost (millions of US$)",
            |p| p.1 / 1e6,
            &|v| format!("{v:.1}"),
        )?;
        Ok(())
    }
}

/// The plot of one panel: x the quantity, y one row per input.
type Bars<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One panel of the tornado: the quantity `of` picks from (days, US$), its axis named
/// `x_desc`, values printed with `fmt`.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    t: &TornadoChart,
    caption: &str,
    x_desc: &str,
    of: impl Fn((f64, f64)) -> f64,
    fmt: &dyn Fn(f64) -> String,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let n = t.rows.len().max(1);
    let base = of(t.base);
    let (x0, x1) = x_range(t, &of);
    let mut chart = axes(area, t, caption, x_desc, x0..x1)?;
    let pad = (x1 - x0) * 0.008;
    for (i, r) in t.rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        draw_row(&mut chart, (of(r.low), of(r.high)), base, y, pad, fmt)?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(base, -0.5), (base, n as f64 - 0.5)],
        BLACK.stroke_width(2),
    )))?;
    Ok(())
}

/// The x range of a panel: the base and every row's values, widened by 22% of their
/// span on both sides for the value labels (the span at least 2% of the base, so a
/// flat panel still has a width).
fn x_range(t: &TornadoChart, of: &impl Fn((f64, f64)) -> f64) -> (f64, f64) {
    let base = of(t.base);
    let (mut x0, mut x1) = (base, base);
    for r in &t.rows {
        for v in [of(r.low), of(r.high)] {
            x0 = x0.min(v);
            x1 = x1.max(v);
        }
    }
    let span = (x1 - x0).max(base.abs() * 0.02).max(1e-9);
    (x0 - span * 0.22, x1 + span * 0.22)
}

/// Builds the panel's plot over `x` (one row per input, the first on top, labelled by
/// the input's name) and draws its caption and axes.
fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    t: &TornadoChart,
    caption: &str,
    x_desc: &str,
    x: std::ops::Range<f64>,
) -> DrawResult<Bars<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let n = t.rows.len().max(1);
    // Wide enough for the longest input's name.
    let label_w = t
        .rows
        .iter()
        .map(|r| text_width(&r.input, TICK_PX))
        .max()
        .unwrap_or(100)
        + 20;
    let mut chart = ChartBuilder::on(area)
        .caption(
            caption,
            (FONT, LABEL_PX + 3.0).into_font().style(FontStyle::Bold),
        )
        .margin(10)
        .margin_right(26)
        .x_label_area_size(54)
        .y_label_area_size(label_w)
        .build_cartesian_2d(x, -0.5..n as f64 - 0.5)?;
    let rows = &t.rows;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_desc)
        .axis_desc_style((FONT, LABEL_PX))
        .label_style((FONT, TICK_PX))
        .x_labels(8)
        .x_label_formatter(&|x| super::canvas::tick(*x))
        .y_labels(n + 1)
        .y_label_formatter(&|y| {
            let r = y.round();
            if (y - r).abs() > 1e-6 || r < 0.0 || r as usize >= rows.len() {
                return String::new();
            }
            rows[rows.len() - 1 - r as usize].input.clone()
        })
        .max_light_lines(4)
        .light_line_style(super::palette::LIGHT)
        .draw()?;
    Ok(chart)
}

/// One input's row at height `y`: its two bars from `base` to the lowered and raised
/// values `(l, h)` with their values printed `pad` beyond the bars' ends, or "no
/// effect" when neither moves.
fn draw_row<DB: DrawingBackend>(
    chart: &mut Bars<'_, DB>,
    (l, h): (f64, f64),
    base: f64,
    y: f64,
    pad: f64,
    fmt: &dyn Fn(f64) -> String,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let half = 0.3;
    let tick = (FONT, TICK_PX).into_font();
    if (l - base).abs() < 1e-9 * base.abs().max(1.0)
        && (h - base).abs() < 1e-9 * base.abs().max(1.0)
    {
        chart.draw_series(std::iter::once(Text::new(
            "no effect".to_string(),
            (base + pad, y),
            tick.clone()
                .color(&GREY)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )))?;
        return Ok(());
    }
    // The longer bar first, so a shorter one on the same side stays visible.
    let mut bars = [(l, BLUE), (h, ORANGE)];
    if (l - base).abs() < (h - base).abs() {
        bars.swap(0, 1);
    }
    for (v, c) in bars {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(base.min(v), y - half), (base.max(v), y + half)],
            c.filled(),
        )))?;
    }
    for (v, at, left) in value_labels(l, h, base) {
        let (x, hp) = if left {
            (at - pad, HPos::Right)
        } else {
            (at + pad, HPos::Left)
        };
        chart.draw_series(std::iter::once(Text::new(
            fmt(v),
            (x, y),
            tick.clone().color(&BLACK).pos(Pos::new(hp, VPos::Center)),
        )))?;
    }
    Ok(())
}

/// Where a row's two values are printed: (value, x it is printed beside, whether to
/// its left). Each value at its bar's outer end; when both move the same way, the
/// nearer one's value goes on the other side of the base line (its bar's end lies
/// inside the longer bar).
fn value_labels(l: f64, h: f64, base: f64) -> [(f64, f64, bool); 2] {
    if (l - base) * (h - base) < 0.0 {
        return [(l, l, l < base), (h, h, h < base)];
    }
    let (near, far) = if (l - base).abs() <= (h - base).abs() {
        (l, h)
    } else {
        (h, l)
    };
    let left = far < base;
    [(far, far, left), (near, base, !left)]
}
