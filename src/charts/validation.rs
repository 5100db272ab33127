//! Predicted over published, one dot per row, grouped by source: a dot on the 1.0 line
//! is exact, the shaded band is +-10%. Ratios put every quantity (TFLOP/s, seconds,
//! GPU-hours) on one linear axis where a 27% miss looks like one.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{Chart, DrawResult};
use super::palette::{BLUE, GREEN, GREY, ORANGE, PURPLE, RED, TEAL};
use super::{FONT, LABEL_PX, TICK_PX, TITLE_PX};

const COLOURS: [RGBColor; 7] = [BLUE, ORANGE, GREEN, RED, PURPLE, TEAL, GREY];

/// One validated row (its headline quantity).
#[derive(Debug, Clone)]
pub struct Point {
    /// Source group (one line of the chart).
    pub group: String,
    /// Published value, in the quantity's own unit.
    pub published: f64,
    /// Predicted value, same unit.
    pub predicted: f64,
}

/// The dot plot.
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

    /// (group index + offset within the group's line, ratio) per point.
    fn dots(&self) -> Vec<(usize, f64, f64)> {
        let groups = self.groups();
        let mut seen = vec![0usize; groups.len()];
        let mut out = Vec::new();
        for p in &self.points {
            if !(p.published > 0.0 && p.predicted > 0.0) {
                continue;
            }
            let g = groups.iter().position(|x| *x == p.group).unwrap_or(0);
            // Spread a group's dots over its line so equal ratios stay visible.
            let k = seen[g];
            seen[g] += 1;
            let offset = ((k % 5) as f64 - 2.0) * 0.09;
            out.push((g, g as f64 + offset, p.predicted / p.published));
        }
        out
    }
}

impl Chart for ValidationChart {
    fn size(&self) -> (u32, u32) {
        (1100, 160 + 60 * self.groups().len().max(1) as u32)
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
        let dots = self.dots();
        let lo = dots.iter().map(|d| d.2).fold(0.8f64, f64::min);
        let hi = dots.iter().map(|d| d.2).fold(1.2f64, f64::max);
        let (lo, hi) = ((lo - 0.05).max(0.0), hi + 0.05);
        let n = groups.len().max(1) as f64;
        let names: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        let mut chart = ChartBuilder::on(&root)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(60)
            .y_label_area_size(280)
            .build_cartesian_2d(lo..hi, -0.5..n - 0.5)?;
        chart
            .configure_mesh()
            .x_desc("llmplan / published step time (each row's headline quantity; rates inverted)")
            .axis_desc_style((FONT, LABEL_PX))
            .label_style((FONT, TICK_PX))
            .y_labels(groups.len().max(1))
            .y_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_label_formatter(&|v| format!("{v:.2}"))
            .light_line_style(super::palette::LIGHT)
            .bold_line_style(super::palette::LIGHT)
            .draw()?;
        // The +-10% band and the exact line.
        chart.draw_series(std::iter::once(Rectangle::new(
            [(1.0 / 1.1, -0.5), (1.1, n - 0.5)],
            super::palette::LIGHT.filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, -0.5), (1.0, n - 0.5)],
            ShapeStyle::from(&BLACK).stroke_width(2),
        )))?;
        chart.draw_series(
            dots.iter()
                .map(|&(g, y, r)| Circle::new((r, y), 6, COLOURS[g % COLOURS.len()].filled())),
        )?;
        Ok(())
    }
}
