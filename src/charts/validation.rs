//! Predicted against published, every validated quantity on log axes with the y = x
//! line: points on the line are exact, a factor off shows as the same distance
//! anywhere on the chart whatever the quantity's unit.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{legend_row, Chart, DrawResult};
use super::palette::{BLUE, GREEN, GREY, ORANGE, PURPLE, RED, TEAL};
use super::{FONT, LABEL_PX, TICK_PX, TITLE_PX};

const COLOURS: [RGBColor; 7] = [BLUE, ORANGE, GREEN, RED, PURPLE, TEAL, GREY];

/// One validated quantity.
#[derive(Debug, Clone)]
pub struct Point {
    /// Source group (colour).
    pub group: String,
    /// Published value, in the quantity's own unit.
    pub published: f64,
    /// Predicted value, same unit.
    pub predicted: f64,
}

/// The scatter chart.
#[derive(Debug, Clone)]
pub struct ValidationChart {
    /// Title.
    pub title: String,
    /// Points.
    pub points: Vec<Point>,
}

impl ValidationChart {
    fn groups(&self) -> Vec<&str> {
        let mut g: Vec<&str> = Vec::new();
        for p in &self.points {
            if !g.contains(&p.group.as_str()) {
                g.push(&p.group);
            }
        }
        g
    }
}

impl Chart for ValidationChart {
    fn size(&self) -> (u32, u32) {
        (1100, 860)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let root = root.titled(
            &self.title,
            (FONT, TITLE_PX).into_font().style(FontStyle::Bold),
        )?;
        let groups = self.groups();
        let (legend, body) = root.split_vertically(70);
        let items: Vec<(RGBColor, &str)> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (COLOURS[i % COLOURS.len()], *g))
            .collect();
        let (l1, l2) = legend.split_vertically(35);
        let half = items.len().div_ceil(2);
        legend_row(&l1, &items[..half])?;
        legend_row(&l2, &items[half..])?;

        let vals = self
            .points
            .iter()
            .flat_map(|p| [p.published, p.predicted])
            .filter(|v| *v > 0.0);
        let lo = vals.clone().fold(f64::INFINITY, f64::min);
        let hi = vals.fold(0.0, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo / 2.0, hi * 2.0)
        } else {
            (0.1, 10.0)
        };
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d((lo..hi).log_scale(), (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("published (each quantity in its own unit: TFLOP/s, s, ms, %, GPU-hours, days; log)")
            .y_desc("llmplan prediction (same unit, log)")
            .axis_desc_style((FONT, LABEL_PX))
            .label_style((FONT, TICK_PX))
            .x_label_formatter(&|v| super::canvas::tick_si(*v))
            .y_label_formatter(&|v| super::canvas::tick_si(*v))
            .light_line_style(super::palette::LIGHT)
            .bold_line_style(super::palette::LIGHT)
            .draw()?;
        // y = x, and the +-15% band the tightest bounds use.
        for (f, style) in [
            (1.0, ShapeStyle::from(&BLACK).stroke_width(2)),
            (1.15, ShapeStyle::from(&GREY).stroke_width(1)),
            (1.0 / 1.15, ShapeStyle::from(&GREY).stroke_width(1)),
        ] {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(lo, lo * f), (hi, hi * f)],
                style,
            )))?;
        }
        for (i, g) in groups.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            chart.draw_series(
                self.points
                    .iter()
                    .filter(|p| p.group == *g && p.published > 0.0 && p.predicted > 0.0)
                    .map(|p| Circle::new((p.published, p.predicted), 6, c.filled())),
            )?;
        }
        Ok(())
    }
}
