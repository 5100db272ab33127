//! Gantt chart of a simulated step: one row per pipeline stage (stage 0 on top), the
//! compute stream as the tall bar, p2p sends and data-parallel traffic as thin lanes
//! under it, time in milliseconds.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{Chart, DrawResult};
use super::palette::{BLUE, GREEN, GREY, LIGHT, ORANGE, PURPLE, RED, TEAL};
use super::{text_on, FONT, INSET_PX, LABEL_PX, TICK_PX, TITLE_PX};
use crate::sim::{Lane, SimResult, SpanKind};

/// Colour of a span kind.
pub fn colour(k: SpanKind) -> RGBColor {
    match k {
        SpanKind::Forward => BLUE,
        SpanKind::Backward | SpanKind::InputGrad => ORANGE,
        SpanKind::WeightGrad => GREEN,
        SpanKind::ForwardBackward => PURPLE,
        SpanKind::Send => GREY,
        SpanKind::GradReduce | SpanKind::ParamGather => TEAL,
        SpanKind::Optimizer => RED,
    }
}

const WIDTH: u32 = 1600;
const LEGEND_H: u32 = 40;

fn height(stages: u32) -> u32 {
    let row = if stages <= 16 {
        44
    } else if stages <= 48 {
        26
    } else {
        14
    };
    (150 + LEGEND_H + row * stages).min(4000)
}

/// The timeline of one simulated step as a chart: one row per pipeline stage.
#[derive(Debug, Clone, Copy)]
pub struct Gantt<'a> {
    /// The simulated step.
    pub result: &'a SimResult,
    /// What the title starts with (the scenario's short name); schedule, shape, step
    /// (ms) and bubble (%) follow it.
    pub title: &'a str,
}

impl Chart for Gantt<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, height(self.result.pp))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<()>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self.result, self.title)
    }
}

fn kinds_present(r: &SimResult) -> Vec<SpanKind> {
    let mut k: Vec<SpanKind> = r.timeline.iter().map(|s| s.kind).collect();
    k.sort();
    k.dedup();
    // Input-gradient and full backward share a colour: one legend entry.
    if k.contains(&SpanKind::InputGrad) {
        k.retain(|x| *x != SpanKind::Backward);
    }
    if k.contains(&SpanKind::ParamGather) {
        k.retain(|x| *x != SpanKind::GradReduce);
    }
    k
}

fn legend_label(k: SpanKind) -> &'static str {
    match k {
        SpanKind::InputGrad => "backward (input grad)",
        SpanKind::ParamGather => "data-parallel comm",
        SpanKind::GradReduce => "data-parallel grad reduce",
        other => other.label(),
    }
}

/// The chart over one pipeline step: x in milliseconds, y one row per rank.
type Timeline<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &SimResult,
    title: &str,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(
        &heading(r, title),
        (FONT, TITLE_PX).into_font().style(FontStyle::Bold),
    )?;
    let (legend, body) = root.split_vertically(LEGEND_H);
    draw_legend(&legend, &kinds_present(r))?;
    // Half a percent past the step so the last span's edge stays inside the frame.
    let x_max = (r.step_s * 1e3 * 1.005).max(1e-9);
    let mut chart = axes(&body, r, x_max)?;
    draw_spans(&mut chart, r, x_max)?;
    // Plot width in pixels: the body less the y-label area and margins.
    let px_per_ms = body.dim_in_pixel().0.saturating_sub(130) as f64 / x_max;
    draw_mb_labels(&mut chart, r, px_per_ms)
}

/// The title line: schedule, pipeline shape, step (ms) and bubble (%).
fn heading(r: &SimResult, title: &str) -> String {
    format!(
        "{title}: {} pp {}{} m {} | step {:.1} ms, bubble {:.1}%",
        r.schedule.name(),
        r.pp,
        if r.vpp > 1 {
            format!(" vpp {}", r.vpp)
        } else {
            String::new()
        },
        r.microbatches,
        r.step_s * 1e3,
        r.mean_bubble() * 100.0
    )
}

/// Row y of `rank` among `pp` rows: stage 0 at the top.
fn row_y(pp: u32, rank: u32) -> f64 {
    pp as f64 - 1.0 - rank as f64
}

/// A lane's band within its row, (low, high) in row units around the row's centre:
/// compute tall on top, p2p sends and data-parallel traffic as thin lanes under it.
fn lane_band(l: Lane) -> (f64, f64) {
    match l {
        Lane::Compute => (-0.12, 0.42),
        Lane::Send => (-0.27, -0.16),
        Lane::DataParallel => (-0.42, -0.31),
    }
}

/// Builds the plot area (0..`x_max` ms, one row per stage) and draws its axes.
fn axes<'a, DB: DrawingBackend>(
    body: &'a DrawingArea<DB, Shift>,
    r: &SimResult,
    x_max: f64,
) -> DrawResult<Timeline<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let rows = r.pp;
    let mut chart = ChartBuilder::on(body)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..x_max, -0.5..rows as f64 - 0.5)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("time (ms)")
        .axis_desc_style((FONT, LABEL_PX))
        .label_style((FONT, TICK_PX))
        .x_label_formatter(&|x| tick_ms(*x))
        .y_labels(rows.min(64) as usize)
        .y_label_formatter(&|y| {
            let row = y.round();
            if (y - row).abs() > 1e-6 || row < 0.0 || row >= rows as f64 {
                return String::new();
            }
            format!("stage {}", rows as i64 - 1 - row as i64)
        })
        .light_line_style(LIGHT)
        .draw()?;
    Ok(chart)
}

/// Each row's pale background, every span in its lane and colour, and a white line at
/// each compute span's start.
fn draw_spans<DB: DrawingBackend>(
    chart: &mut Timeline<'_, DB>,
    r: &SimResult,
    x_max: f64,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let y = |rank: u32| row_y(r.pp, rank);
    chart.draw_series((0..r.pp).map(|rank| {
        Rectangle::new(
            [(0.0, y(rank) - 0.46), (x_max, y(rank) + 0.46)],
            RGBColor(249, 249, 249).filled(),
        )
    }))?;
    chart.draw_series(r.timeline.iter().map(|s| {
        let (lo, hi) = lane_band(s.lane);
        let c = colour(s.kind);
        Rectangle::new(
            [
                (s.start_s * 1e3, y(s.rank) + lo),
                (s.end_s * 1e3, y(s.rank) + hi),
            ],
            c.filled(),
        )
    }))?;
    // Thin white separators so back-to-back chunks stay distinguishable.
    chart.draw_series(
        r.timeline
            .iter()
            .filter(|s| s.lane == Lane::Compute)
            .map(|s| {
                let (lo, hi) = lane_band(s.lane);
                PathElement::new(
                    vec![
                        (s.start_s * 1e3, y(s.rank) + lo),
                        (s.start_s * 1e3, y(s.rank) + hi),
                    ],
                    WHITE.stroke_width(1),
                )
            }),
    )?;
    Ok(())
}

/// Micro-batch numbers on the compute bars wide enough to hold them (`px_per_ms`:
/// pixels per millisecond of the plot).
fn draw_mb_labels<DB: DrawingBackend>(
    chart: &mut Timeline<'_, DB>,
    r: &SimResult,
    px_per_ms: f64,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let inset = (FONT, INSET_PX).into_font();
    let labels: Vec<_> = r
        .timeline
        .iter()
        .filter(|s| s.lane == Lane::Compute && s.kind != SpanKind::Optimizer)
        .filter_map(|s| {
            let text = s.mb.to_string();
            let need = INSET_PX * 0.62 * text.len() as f64 + 4.0;
            let w = (s.end_s - s.start_s) * 1e3 * px_per_ms;
            (w >= need).then(|| {
                let style = inset
                    .clone()
                    .color(&text_on(colour(s.kind)))
                    .pos(Pos::new(HPos::Center, VPos::Center));
                Text::new(
                    text,
                    ((s.start_s + s.end_s) * 0.5e3, row_y(r.pp, s.rank) + 0.15),
                    style,
                )
            })
        })
        .collect();
    chart.draw_series(labels)?;
    Ok(())
}

/// A time tick in milliseconds: thousands grouped, decimals only for short steps.
fn tick_ms(x: f64) -> String {
    if x.abs() < 10.0 {
        return format!("{x:.1}");
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        out.insert(0, '-');
    }
    out
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    kinds: &[SpanKind],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let font: TextStyle = (FONT, LABEL_PX).into_font().into();
    let mut x = 110i32;
    let cy = (LEGEND_H / 2) as i32;
    for &k in kinds {
        let label = legend_label(k);
        area.draw(&Rectangle::new(
            [(x, cy - 8), (x + 22, cy + 8)],
            colour(k).filled(),
        ))?;
        area.draw(&Text::new(
            label,
            (x + 28, cy),
            font.clone().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        let (w, _) = area.estimate_text_size(label, &font)?;
        x += 28 + w as i32 + 26;
    }
    area.draw(&Text::new(
        "bar labels: micro-batch",
        (x + 10, cy),
        font.clone()
            .color(&RGBColor(90, 90, 90))
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::canvas;
    use crate::sim::{simulate, SimInput};
    use crate::spec::layout::Schedule;

    #[test]
    fn ticks_group_thousands() {
        assert_eq!(tick_ms(45000.0), "45,000");
        assert_eq!(tick_ms(500.0), "500");
        assert_eq!(tick_ms(2.5), "2.5");
    }

    #[test]
    fn writes_png_and_svg() {
        let dir = std::env::temp_dir().join(format!("llmplan-gantt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut inp = SimInput::uniform(Schedule::ZbH1, 4, 8, 1, 0.010, 0.020);
        inp.p2p_s = vec![0.001; 4];
        let r = simulate(&inp).unwrap();
        for name in ["t.png", "t.svg"] {
            let p = dir.join(name);
            canvas::write(
                &Gantt {
                    result: &r,
                    title: "test",
                },
                &p,
            )
            .unwrap();
            let bytes = std::fs::read(&p).unwrap();
            assert!(bytes.len() > 1000, "{name}: {} bytes", bytes.len());
        }
        let svg = std::fs::read_to_string(dir.join("t.svg")).unwrap();
        assert!(
            svg.contains("time (ms)") && svg.contains("stage 0") && svg.contains("weight grad")
        );
        let x = Gantt {
            result: &r,
            title: "x",
        };
        assert!(canvas::write(&x, &dir.join("t.jpg")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
