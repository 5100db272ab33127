//! The best layouts side by side: each layout's step time split into compute, pipeline
//! bubble, exposed communication and the rest (optimizer, imbalance), one horizontal
//! bar per layout, best at the top.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{frame, text_width, Chart, DrawResult};
use super::palette::{BLUE, GREY, ORANGE, TEAL};
use super::{FONT, LABEL_PX, TICK_PX};

/// The segments of a bar, left to right, with their colours.
pub const SEGMENTS: [(&str, RGBColor); 4] = [
    ("compute", BLUE),
    ("pipeline bubble", ORANGE),
    ("exposed communication", TEAL),
    ("optimizer and other", GREY),
];

/// One layout's bar.
#[derive(Debug, Clone)]
pub struct LayoutBar {
    /// Layout in words (the y-axis label).
    pub label: String,
    /// Compute on the critical path, seconds per step.
    pub compute_s: f64,
    /// Pipeline bubble, seconds per step.
    pub bubble_s: f64,
    /// Exposed communication (tensor, expert, context, pipeline, data parallel), seconds.
    pub comm_s: f64,
    /// The rest of the step (optimizer, stage imbalance), seconds.
    pub other_s: f64,
    /// Text after the bar (days, dollars, MFU).
    pub note: String,
}

impl LayoutBar {
    fn parts(&self) -> [f64; 4] {
        [self.compute_s, self.bubble_s, self.comm_s, self.other_s]
    }
    fn total(&self) -> f64 {
        self.parts().iter().map(|v| v.max(0.0)).sum()
    }
}

/// Layouts compared.
#[derive(Debug, Clone)]
pub struct LayoutsChart {
    /// Title.
    pub title: String,
    /// Bars, top first.
    pub bars: Vec<LayoutBar>,
}

const WIDTH: u32 = 1400;

impl LayoutsChart {
    fn label_area(&self) -> u32 {
        self.bars
            .iter()
            .map(|b| text_width(&b.label, TICK_PX))
            .max()
            .unwrap_or(100)
            + 24
    }
}

impl Chart for LayoutsChart {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 170 + 62 * self.bars.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<()>
    where
        DB::ErrorType: 'static,
    {
        let items: Vec<_> = SEGMENTS.iter().map(|(l, c)| (*c, *l)).collect();
        let body = frame(root, &self.title, &items)?;

        let n = self.bars.len().max(1);
        let label_w = self.label_area();
        let plot_w = WIDTH.saturating_sub(label_w + 60).max(200) as f64;
        // Room right of each bar for its note.
        let mut x_max = 1e-9f64;
        for b in &self.bars {
            let room = 1.0 - (text_width(&b.note, TICK_PX) as f64 + 16.0) / plot_w;
            x_max = x_max.max(b.total() / room.max(0.2));
        }
        let x_max = x_max * 1.02;
        let mut chart = ChartBuilder::on(&body)
            .margin_left(10)
            .margin_right(30)
            .margin_bottom(8)
            .x_label_area_size(54)
            .y_label_area_size(label_w)
            .build_cartesian_2d(0.0..x_max, -0.5..n as f64 - 0.5)?;
        let bars = &self.bars;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("time per optimizer step (s)")
            .axis_desc_style((FONT, LABEL_PX))
            .label_style((FONT, TICK_PX))
            .y_labels(n + 1)
            .y_label_formatter(&|y| {
                let r = y.round();
                if (y - r).abs() > 1e-6 || r < 0.0 || r as usize >= bars.len() {
                    return String::new();
                }
                bars[bars.len() - 1 - r as usize].label.clone()
            })
            .x_label_formatter(&|x| super::canvas::tick(*x))
            .max_light_lines(4)
            .light_line_style(super::palette::LIGHT)
            .draw()?;
        let half = 0.32;
        for (i, b) in self.bars.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let mut x = 0.0;
            for (v, (_, c)) in b.parts().iter().zip(SEGMENTS.iter()) {
                let v = v.max(0.0);
                if v > 0.0 {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x, y - half), (x + v, y + half)],
                        c.filled(),
                    )))?;
                }
                x += v;
            }
            chart.draw_series(std::iter::once(Text::new(
                b.note.clone(),
                (x + x_max * 8.0 / plot_w, y),
                (FONT, TICK_PX)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
        }
        Ok(())
    }
}
