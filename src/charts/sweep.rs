//! The sweep chart: training days and dollars against GPU count (log-log), one line
//! per GPU type, Pareto-optimal points ringed, written through [`super::canvas`].

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{Chart, DrawResult};
use super::{palette, FONT, LABEL_PX, TICK_PX, TITLE_PX};
use crate::search::sweep::Sweep;
use crate::search::Ranked;

const WIDTH: u32 = 1500;
const HEIGHT: u32 = 640;
const COLOURS: [RGBColor; 7] = [
    palette::BLUE,
    palette::ORANGE,
    palette::GREEN,
    palette::RED,
    palette::PURPLE,
    palette::TEAL,
    palette::GREY,
];

/// The sweep as a chart: two panels (days, dollars) against GPU count.
#[derive(Debug, Clone, Copy)]
pub struct SweepChart<'a> {
    /// The sweep drawn.
    pub sweep: &'a Sweep,
}

impl Chart for SweepChart<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<()>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self.sweep)
    }
}

/// "1,024" / "16k" / "64k".
fn gpus_label(x: f64) -> String {
    let n = x.round() as u64;
    if n >= 1024 && n.is_multiple_of(1024) {
        format!("{}k", n / 1024)
    } else if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    }
}

/// 1-2-5 ticks in each decade between `lo` and `hi`: a log axis with a label every
/// step, where plotters' own key points skip everything below the first power of ten.
fn nice_log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if !(lo > 0.0 && hi > lo) {
        return out;
    }
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = m * decade;
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
        decade *= 10.0;
    }
    out
}

fn num_label(y: f64) -> String {
    if y >= 10.0 {
        format!("{y:.0}")
    } else if y >= 1.0 {
        format!("{y:.1}")
    } else {
        format!("{y:.2}")
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Sweep) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let title = format!(
        "{}: best layout per GPU count ({} objective)",
        s.scenario,
        s.objective.name()
    );
    let root = root.titled(&title, (FONT, TITLE_PX).into_font().style(FontStyle::Bold))?;
    let (left, right) = root.split_horizontally(WIDTH / 2);
    panel(
        &left,
        s,
        "Training days",
        "training time (days, log scale)",
        true,
        |b| b.days,
    )?;
    panel(
        &right,
        s,
        "Training cost",
        "cost (millions of US$)",
        false,
        |b| b.usd / 1e6,
    )?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Sweep,
    caption: &str,
    y_desc: &str,
    log_y: bool,
    y_of: impl Fn(&Ranked) -> f64,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    // x is log2(GPUs) on a linear axis, so every doubling gets a labelled tick.
    let xf = |g: u64| (g as f64).log2();
    let pts: Vec<(f64, f64)> = s
        .points
        .iter()
        .filter_map(|p| p.best.as_ref().map(|b| (xf(p.gpus), y_of(b))))
        .collect();
    let (mut x0, mut x1) = (f64::MAX, f64::MIN);
    let (mut y0, mut y1) = (f64::MAX, f64::MIN);
    for &(x, y) in &pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if pts.is_empty() {
        (x0, x1, y0, y1) = (1.0, 2.0, 1.0, 2.0);
    }
    // Margins so end points and labels stay inside the frame.
    let (x0, x1) = (x0.floor() - 0.35, x1.ceil() + 0.35);
    let ticks = (x1 - x0).round() as usize + 1;
    let x_fmt = |x: &f64| {
        if (x - x.round()).abs() < 1e-6 {
            gpus_label(2f64.powf(x.round()))
        } else {
            String::new()
        }
    };
    let cap = (FONT, LABEL_PX + 3.0).into_font().style(FontStyle::Bold);
    if log_y {
        let (y0, y1) = (y0 / 1.3, y1 * 1.3);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, cap)
            .margin(14)
            .margin_right(24)
            .x_label_area_size(58)
            .y_label_area_size(78)
            .build_cartesian_2d(
                x0..x1,
                (y0..y1).log_scale().with_key_points(nice_log_ticks(y0, y1)),
            )?;
        mesh(&mut chart, y_desc, &x_fmt, ticks, 40)?;
        series(&mut chart, s, &xf, &y_of, SeriesLabelPosition::UpperRight)
    } else {
        let pad = ((y1 - y0) * 0.12).max(y1 * 0.02);
        let (y0, y1) = ((y0 - pad).max(0.0), y1 + pad);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, cap)
            .margin(14)
            .margin_right(24)
            .x_label_area_size(58)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        mesh(&mut chart, y_desc, &x_fmt, ticks, 10)?;
        series(&mut chart, s, &xf, &y_of, SeriesLabelPosition::UpperLeft)
    }
}

/// The grid and axis labels both y scales share; `y_labels` is the most y ticks.
fn mesh<'a, DB, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    ticks: usize,
    y_labels: usize,
) -> DrawResult<()>
where
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    DB::ErrorType: 'static,
{
    chart
        .configure_mesh()
        .x_desc("GPUs (log scale; 1k = 1,024)")
        .y_desc(y_desc)
        .axis_desc_style((FONT, LABEL_PX))
        .label_style((FONT, TICK_PX))
        .x_label_formatter(x_fmt)
        .y_label_formatter(&|y| num_label(*y))
        .x_labels(ticks)
        .y_labels(y_labels)
        .max_light_lines(1)
        .light_line_style(palette::LIGHT)
        .bold_line_style(palette::LIGHT)
        .draw()?;
    Ok(())
}

fn series<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    s: &Sweep,
    xf: &dyn Fn(u64) -> f64,
    y_of: &dyn Fn(&Ranked) -> f64,
    legend: SeriesLabelPosition,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let mut types: Vec<&str> = Vec::new();
    for p in &s.points {
        if !types.contains(&p.gpu_type.as_str()) {
            types.push(&p.gpu_type);
        }
    }
    for (i, t) in types.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let line: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.gpu_type == *t)
            .filter_map(|p| p.best.as_ref().map(|b| (xf(p.gpus), y_of(b))))
            .collect();
        let price = s
            .points
            .iter()
            .find(|p| p.gpu_type == *t)
            .map_or(0.0, |p| p.usd_per_gpu_hour);
        chart
            .draw_series(std::iter::once(PathElement::new(
                line.clone(),
                c.stroke_width(3),
            )))?
            .label(format!("{t} (${price:.2}/GPU-h)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3)));
        chart.draw_series(
            line.iter()
                .map(|&(x, y)| Circle::new((x, y), 4, c.filled())),
        )?;
    }
    let frontier: Vec<(f64, f64)> = s
        .points
        .iter()
        .filter(|p| p.pareto)
        .filter_map(|p| p.best.as_ref().map(|b| (xf(p.gpus), y_of(b))))
        .collect();
    if !frontier.is_empty() {
        chart
            .draw_series(
                frontier
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 9, BLACK.stroke_width(2))),
            )?
            .label("Pareto-optimal (days, $)")
            .legend(|(x, y)| Circle::new((x + 11, y), 7, BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.9))
        .border_style(palette::GREY)
        .label_font((FONT, LABEL_PX))
        .draw()?;
    Ok(())
}
