//! The Figure 6 plot as a PNG: the paired change of test loss per token
//! against k = 0 (left; each k over the students who have more than k
//! traces) and BLEU of sampled final programs (right), with standard-error
//! whiskers; k evenly spaced, labelled with its students.
//! Same font rules as the probe's chart (`crate::probe::chart`).

use std::path::Path;

use plotters::prelude::*;

use super::EvalAdaptReport;
use crate::probe::chart::register_font;
use crate::probe::stats::MeanSe;

/// Draws the report into a PNG at `path`.
pub fn plot(report: &EvalAdaptReport, path: &Path, font: &Path) -> anyhow::Result<()> {
    register_font(font)?;
    let labels: Vec<String> = report.rows.iter().map(|r| format!("k={} (n={})", r.k, r.students)).collect();
    let loss: Vec<(usize, MeanSe)> = report.rows.iter().enumerate().map(|(i, r)| (i, r.loss_change)).collect();
    let bleu: Vec<(usize, MeanSe)> = report.rows.iter().enumerate().filter_map(|(i, r)| r.bleu.map(|b| (i, b))).collect();
    let draw = || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let root = BitMapBackend::new(path, (1100, 450)).into_drawing_area();
        root.fill(&WHITE)?;
        let panels = root.split_evenly((1, 2));
        panel(&panels[0], "test loss per token minus k = 0's (paired)", &loss, &labels, RGBColor(31, 119, 180))?;
        panel(&panels[1], "BLEU, sampled vs real final program", &bleu, &labels, RGBColor(255, 127, 14))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))
}

/// One panel: the values at each row index, labelled with `labels`.
fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    points: &[(usize, MeanSe)],
    labels: &[String],
    color: RGBColor,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    const FAMILY: &str = "sans-serif";
    if points.is_empty() {
        area.draw(&Text::new(format!("{caption}: not measured"), (40, 200), (FAMILY, 16)))?;
        return Ok(());
    }
    let lo = points.iter().map(|(_, m)| m.mean - m.se).fold(0.0f64, f64::min);
    let hi = points.iter().map(|(_, m)| m.mean + m.se).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.15).max(1e-3);
    let n = labels.len();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FAMILY, 18))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo - pad)..(hi + pad))?;
    let names = labels.to_vec();
    let label = move |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
            names[i as usize].clone()
        } else {
            String::new()
        }
    };
    chart.configure_mesh().disable_x_mesh().x_labels(n).x_label_formatter(&label).label_style((FAMILY, 13)).draw()?;
    let x = |i: usize| i as f64;
    chart.draw_series(std::iter::once(PathElement::new(vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)], BLACK.mix(0.4))))?;
    chart.draw_series(std::iter::once(PathElement::new(points.iter().map(|(i, m)| (x(*i), m.mean)).collect::<Vec<_>>(), color.stroke_width(2))))?;
    chart.draw_series(points.iter().map(|(i, m)| Circle::new((x(*i), m.mean), 4, color.filled())))?;
    chart.draw_series(points.iter().map(|(i, m)| PathElement::new(vec![(x(*i), m.mean - m.se), (x(*i), m.mean + m.se)], BLACK.stroke_width(2))))?;
    Ok(())
}
