//! Memory per GPU, one stacked bar per pipeline stage (weights, gradients, optimizer
//! states, activations, other), against the GPU's capacity.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{frame, Chart, DrawResult};
use super::palette::{BLUE, GREEN, GREY, ORANGE, PURPLE, RED};
use super::{FONT, LABEL_PX, TICK_PX};
use crate::analytic::stage::MemoryBreakdown;
use crate::units::GIB;

/// The parts of a stage's memory, bottom to top, with their colours.
pub const PARTS: [(&str, RGBColor); 5] = [
    ("weights", BLUE),
    ("gradients", ORANGE),
    ("optimizer states", GREEN),
    ("activations", PURPLE),
    ("other (buffers, fragmentation)", GREY),
];

fn parts(m: &MemoryBreakdown) -> [f64; 5] {
    [m.weights, m.gradients, m.optimizer, m.activations, m.other]
}

/// Memory per GPU of every pipeline stage against capacity.
#[derive(Debug, Clone)]
pub struct MemoryChart {
    /// Title.
    pub title: String,
    /// Memory at each stage's peak, stage 0 first.
    pub stages: Vec<MemoryBreakdown>,
    /// GPU memory, bytes.
    pub capacity_bytes: f64,
}

impl Chart for MemoryChart {
    fn size(&self) -> (u32, u32) {
        (1400, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<()>
    where
        DB::ErrorType: 'static,
    {
        let items: Vec<_> = PARTS.iter().map(|(l, c)| (*c, *l)).collect();
        let body = frame(root, &self.title, &items)?;

        let n = self.stages.len().max(1);
        let cap = self.capacity_bytes / GIB;
        let peak = self
            .stages
            .iter()
            .map(|m| m.total() / GIB)
            .fold(0.0f64, f64::max);
        let y_max = cap.max(peak) * 1.12;
        let mut chart = ChartBuilder::on(&body)
            .margin_left(14)
            .margin_right(30)
            .margin_bottom(8)
            .x_label_area_size(54)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..y_max)?;
        let every = n.div_ceil(32).max(1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("pipeline stage (stage 0 holds the embedding)")
            .y_desc("memory per GPU (GiB)")
            .axis_desc_style((FONT, LABEL_PX))
            .label_style((FONT, TICK_PX))
            .x_labels(n.min(64) + 1)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() > 1e-6
                    || i < 0.0
                    || i as usize >= n
                    || !(i as usize).is_multiple_of(every)
                {
                    String::new()
                } else {
                    format!("{i:.0}")
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .max_light_lines(4)
            .light_line_style(super::palette::LIGHT)
            .draw()?;

        let half = 0.36;
        for (i, m) in self.stages.iter().enumerate() {
            let x = i as f64;
            let mut base = 0.0;
            for (v, (_, c)) in parts(m).iter().zip(PARTS.iter()) {
                let top = base + v / GIB;
                if v > &0.0 {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x - half, base), (x + half, top)],
                        c.filled(),
                    )))?;
                }
                base = top;
            }
        }
        // Capacity line and its label, above the bars' highest point when they exceed it.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, cap), (n as f64 - 0.5, cap)],
            RED.stroke_width(3),
        )))?;
        // Label in the free band above the tallest bar (the axis leaves 12% there).
        let over = peak > cap;
        let label = format!(
            "capacity {cap:.0} GiB | peak {peak:.1} GiB ({})",
            if over {
                format!("over by {:.1} GiB", peak - cap)
            } else {
                format!("{:.1} GiB free", cap - peak)
            }
        );
        chart.draw_series(std::iter::once(Text::new(
            label,
            (n as f64 - 0.5, y_max * 0.99),
            (FONT, LABEL_PX)
                .into_font()
                .color(&RED)
                .pos(Pos::new(HPos::Right, VPos::Top)),
        )))?;
        Ok(())
    }
}
