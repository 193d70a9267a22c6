//! The Figure 6 plot as a PNG: test loss per token against k (left) and BLEU
//! of sampled final programs against k (right), with standard-error whiskers.
//! Same font rules as the probe's chart (`crate::probe::chart`).

use std::path::Path;

use plotters::prelude::*;

use super::EvalAdaptReport;
use crate::probe::chart::register_font;
use crate::probe::stats::MeanSe;

/// Draws the report into a PNG at `path`.
pub fn plot(report: &EvalAdaptReport, path: &Path, font: &Path) -> anyhow::Result<()> {
    register_font(font)?;
    let loss: Vec<(usize, MeanSe)> = report.rows.iter().map(|r| (r.k, r.loss)).collect();
    let bleu: Vec<(usize, MeanSe)> = report.rows.iter().filter_map(|r| r.bleu.map(|b| (r.k, b))).collect();
    let draw = || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let root = BitMapBackend::new(path, (1100, 450)).into_drawing_area();
        root.fill(&WHITE)?;
        let panels = root.split_evenly((1, 2));
        panel(&panels[0], "test loss per token (lower is better)", &loss, RGBColor(31, 119, 180))?;
        panel(&panels[1], "BLEU, sampled vs real final program", &bleu, RGBColor(255, 127, 14))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))
}

/// One panel: the values at each k (x on a log2(1 + k) scale, as the paper's k = 0, 1, 2, 4, 8).
fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    points: &[(usize, MeanSe)],
    color: RGBColor,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    const FAMILY: &str = "sans-serif";
    if points.is_empty() {
        area.draw(&Text::new(format!("{caption}: not measured"), (40, 200), (FAMILY, 16)))?;
        return Ok(());
    }
    let x = |k: usize| ((k + 1) as f64).log2();
    let lo = points.iter().map(|(_, m)| m.mean - m.se).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|(_, m)| m.mean + m.se).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.15).max(1e-3);
    let x_max = points.iter().map(|(k, _)| x(*k)).fold(0.0, f64::max) + 0.3;
    let ks: Vec<usize> = points.iter().map(|(k, _)| *k).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FAMILY, 18))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..x_max, (lo - pad)..(hi + pad))?;
    let label = move |v: &f64| ks.iter().find(|&&k| (x(k) - v).abs() < 1e-6).map_or(String::new(), |k| k.to_string());
    chart
        .configure_mesh()
        .x_desc("k (traces adapted on)")
        .x_labels(40)
        .x_label_formatter(&label)
        .label_style((FAMILY, 13))
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(points.iter().map(|(k, m)| (x(*k), m.mean)).collect::<Vec<_>>(), color.stroke_width(2))))?;
    chart.draw_series(points.iter().map(|(k, m)| Circle::new((x(*k), m.mean), 4, color.filled())))?;
    chart.draw_series(points.iter().map(|(k, m)| PathElement::new(vec![(x(*k), m.mean - m.se), (x(*k), m.mean + m.se)], BLACK.stroke_width(2))))?;
    Ok(())
}
