//! The Figure 4 bar chart as a PNG, drawn with plotters' bitmap backend.
//! Text needs a font file read at run time (plotters' `ab_glyph` feature:
//! nothing is downloaded or linked from the system): by default DejaVu Sans
//! of the Debian package `fonts-dejavu-core`, which `scripts/setup.sh`
//! installs. A missing font is an error that names the package.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use plotters::prelude::*;

use super::figure4::Figure4Report;

/// The font the chart's text uses unless `--font` names another.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// The Debian package that provides [`DEFAULT_FONT`].
pub const FONT_PACKAGE: &str = "fonts-dejavu-core";
/// The font family name the chart registers its font under.
const FAMILY: &str = "sans-serif";

/// Fonts already registered in this process. plotters keeps registered fonts
/// for the life of the process and wants `'static` bytes, so each file is read
/// and leaked once, not at every chart.
static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers the TrueType font at `path` as the chart's family.
pub fn register_font(path: &Path) -> anyhow::Result<()> {
    let mut done = REGISTERED.lock().map_err(|_| anyhow::anyhow!("the font registry lock is poisoned"))?;
    if done.last().is_some_and(|p| p == path) {
        return Ok(());
    }
    let bytes = std::fs::read(path).with_context(|| {
        format!("cannot read the chart's font {}: install the Debian package {FONT_PACKAGE} (scripts/setup.sh does) or pass --font", path.display())
    })?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{} is not a TrueType/OpenType font plotters can read", path.display()))?;
    done.push(path.to_path_buf());
    Ok(())
}

/// Short labels of the targets under their bars.
fn short(target: &str) -> &str {
    match target {
        "title" => "title",
        "is_last" => "is last",
        "at_least_halfway" => "halfway",
        "backtracks_later" => "backtracks",
        "future_attempts" => "attempts",
        "future_seconds" => "seconds",
        "remaining_distance" => "distance",
        "final_correct" => "correct",
        other => other,
    }
}

/// Draws the report's rows as grouped bars (model, shuffled students,
/// shuffled embeddings) with standard-error whiskers and each target's chance
/// level, into a PNG at `path`.
pub fn bar_chart(report: &Figure4Report, path: &Path, font: &Path) -> anyhow::Result<()> {
    register_font(font)?;
    let draw = || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let root = BitMapBackend::new(path, (1200, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = report.rows.len();
        let lowest = report
            .rows
            .iter()
            .flat_map(|r| [&r.model, &r.shuffled_students, &r.shuffled_embeddings])
            .map(|m| m.mean - m.se)
            .fold(0.0f64, f64::min);
        let y_min = if lowest < 0.0 { (lowest - 0.05).max(-1.0) } else { 0.0 };
        let mut chart = ChartBuilder::on(&root)
            .caption("Probes of the trace model's prefix representations (accuracy / AUC / R² of ln(1+y))", (FAMILY, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y_min..1.05f64)?;
        let names: Vec<String> = report.rows.iter().map(|r| short(&r.target).to_string()).collect();
        let label = move |x: &f64| -> String {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .y_desc("score")
            .label_style((FAMILY, 14))
            .draw()?;
        let series = [("model (own student)", RGBColor(31, 119, 180)), ("shuffled students", RGBColor(255, 127, 14)), ("shuffled embeddings", RGBColor(127, 127, 127))];
        let width = 0.26;
        for (s, (name, color)) in series.iter().enumerate() {
            let offset = (s as f64 - 1.0) * width;
            let value = |r: &super::figure4::Figure4Row| match s {
                0 => r.model,
                1 => r.shuffled_students,
                _ => r.shuffled_embeddings,
            };
            let color = *color;
            chart
                .draw_series(report.rows.iter().enumerate().map(|(i, r)| {
                    let x = i as f64 + offset;
                    Rectangle::new([(x - width / 2.0, 0.0), (x + width / 2.0, value(r).mean)], color.filled())
                }))?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
            chart.draw_series(report.rows.iter().enumerate().map(|(i, r)| {
                let (x, m) = (i as f64 + offset, value(r));
                PathElement::new(vec![(x, m.mean - m.se), (x, m.mean + m.se)], BLACK.stroke_width(2))
            }))?;
        }
        chart
            .draw_series(report.rows.iter().enumerate().map(|(i, r)| {
                let x = i as f64;
                PathElement::new(vec![(x - 1.6 * width, r.chance.mean), (x + 1.6 * width, r.chance.mean)], RED.stroke_width(2))
            }))?
            .label("chance")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperMiddle)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FAMILY, 14))
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::figure4::{Figure4Row, Metric, TARGETS};
    use crate::probe::stats::MeanSe;

    fn report(model: f64) -> Figure4Report {
        let m = |v: f64| MeanSe { mean: v, se: 0.02, n: 5 };
        Figure4Report {
            command: "test".into(),
            model_dir: "m".into(),
            graph: "model.onnx".into(),
            corpus: vec![],
            seeds: vec![0],
            split_rule: "by student".into(),
            traces: 1,
            prefixes: 1,
            students: 1,
            titles: 1,
            seconds: 0.0,
            rows: TARGETS
                .iter()
                .map(|&(key, description, metric)| Figure4Row {
                    target: key.into(),
                    description: description.into(),
                    metric,
                    chance: m(if metric == Metric::Auc { 0.5 } else { 0.0 }),
                    model: m(model),
                    shuffled_students: m(0.3),
                    shuffled_embeddings: m(-0.1),
                    per_split: Default::default(),
                    test_examples: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn the_chart_is_a_png_whose_bars_follow_the_scores() {
        let font = Path::new(DEFAULT_FONT);
        assert!(font.is_file(), "{DEFAULT_FONT} is missing: scripts/setup.sh installs {FONT_PACKAGE}");
        let dir = tempfile::tempdir().expect("tempdir");
        let (high, low) = (dir.path().join("high.png"), dir.path().join("low.png"));
        bar_chart(&report(0.9), &high, font).expect("draws");
        bar_chart(&report(0.1), &low, font).expect("draws");
        let (a, b) = (std::fs::read(&high).expect("png"), std::fs::read(&low).expect("png"));
        assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
        assert_ne!(a, b, "different scores draw different bars");
    }

    #[test]
    fn a_missing_font_names_the_package() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = bar_chart(&report(0.5), &dir.path().join("x.png"), &dir.path().join("no-such-font.ttf")).expect_err("no font").to_string();
        assert!(e.contains(FONT_PACKAGE) && e.contains("no-such-font.ttf"), "{e}");
        assert!(!dir.path().join("x.png").exists());
    }
}
