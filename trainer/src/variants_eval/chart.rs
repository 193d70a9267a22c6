//! The Figures 2-3 plot as a PNG: grouped bars, one group per measure (BLEU
//! of final programs, share that runs, r of goal backtracking, mean goal
//! backtracking), one bar per model, plus the real traces where a measure
//! has a real value; standard-error whiskers. A measure a model has no value
//! for (`last`'s backtracking) is left out and labelled n/a.
//! Same font rules as the probe's chart (`crate::probe::chart`).

use std::path::Path;

use plotters::prelude::*;

use super::EvalVariantsReport;
use crate::probe::chart::register_font;

const FAMILY: &str = "sans-serif";
const COLORS: [RGBColor; 5] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];
const REAL: RGBColor = RGBColor(127, 127, 127);

/// One bar: its label, colour and (mean, standard error), `None` where the model has no value.
type Bar = (String, RGBColor, Option<(f64, f64)>);

/// Draws the report into a PNG at `path`.
pub fn plot(report: &EvalVariantsReport, path: &Path, font: &Path) -> anyhow::Result<()> {
    register_font(font)?;
    let groups = ["BLEU final program", "final program runs", "r goal backtracking", "mean goal backtracking"];
    // bars[group] = (label, color, mean, se) per model, then real where it exists.
    let mut bars: Vec<Vec<Bar>> = vec![Vec::new(); groups.len()];
    for (i, row) in report.rows.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let ms = |m: Option<crate::probe::stats::MeanSe>| m.map(|m| (m.mean, m.se));
        bars[0].push((row.name.clone(), c, ms(Some(row.bleu))));
        bars[1].push((row.name.clone(), c, ms(Some(row.runs))));
        bars[2].push((row.name.clone(), c, ms(row.backtracking_r)));
        bars[3].push((row.name.clone(), c, ms(row.mean_backtracking)));
    }
    bars[1].push(("real".into(), REAL, Some((report.real_runs, 0.0))));
    bars[3].push(("real".into(), REAL, Some((report.real_mean_backtracking, 0.0))));
    let lo = bars.iter().flatten().filter_map(|b| b.2).map(|(m, se)| m - se).fold(0.0f64, f64::min);
    let hi = bars.iter().flatten().filter_map(|b| b.2).map(|(m, se)| m + se).fold(0.0f64, f64::max).max(0.1);
    let pad = (hi - lo) * 0.12;
    let draw = || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let root = BitMapBackend::new(path, (1100, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("trace, last and synthetic models: {} held-out traces, {} seeds", report.traces, report.seeds), (FAMILY, 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5f64..(groups.len() as f64 - 0.5), (lo - pad)..(hi + pad))?;
        let names: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        let label = move |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart.configure_mesh().disable_x_mesh().x_labels(groups.len()).x_label_formatter(&label).label_style((FAMILY, 13)).draw()?;
        chart.draw_series(std::iter::once(PathElement::new(vec![(-0.5, 0.0), (groups.len() as f64 - 0.5, 0.0)], BLACK.mix(0.4))))?;
        for (g, group) in bars.iter().enumerate() {
            let width = 0.8 / group.len().max(1) as f64;
            for (b, (name, color, value)) in group.iter().enumerate() {
                let x0 = g as f64 - 0.4 + b as f64 * width;
                let mid = x0 + width / 2.0;
                let Some((m, se)) = *value else {
                    chart.draw_series(std::iter::once(Text::new(format!("{name}: n/a"), (x0, pad * 0.5), (FAMILY, 12))))?;
                    continue;
                };
                chart.draw_series(std::iter::once(Rectangle::new([(x0 + width * 0.05, 0.0), (x0 + width * 0.95, m)], color.filled())))?;
                chart.draw_series(std::iter::once(PathElement::new(vec![(mid, m - se), (mid, m + se)], BLACK.stroke_width(2))))?;
                let y = if m >= 0.0 { m + se + pad * 0.25 } else { m - se - pad * 0.6 };
                chart.draw_series(std::iter::once(Text::new(name.clone(), (x0 + width * 0.05, y), (FAMILY, 12))))?;
            }
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))
}
