//! Plots with plotters: SVG by default, PNG on request. Every chart here is drawn from data
//! lossbench computed (run folders, comparison tables, loss implementations); nothing is
//! hand-placed.
//!
//! * [`line_chart`] — lines with optional min–max bands (learning curves, loss shapes,
//!   landscape slices, interpolations);
//! * [`cd_diagram`] — Demšar's critical-difference diagram of average ranks;
//! * [`performance_profile`] — Dolan–Moré performance profiles.
//!
//! Text in PNG files uses the embedded DejaVu Sans (licence in `src/plot/FONT-LICENSE.txt`);
//! SVG files name the family and let the viewer render it.

pub mod curves;
pub mod shape;

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

static FONT: &[u8] = include_bytes!("DejaVuSans.ttf");

/// Image format of a plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Svg,
    Png,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        }
    }
}

fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font; a failure here would only affect text in PNGs.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn plot_error<E: std::fmt::Debug>(e: E) -> Error {
    Error::runtime(format!("drawing a plot: {e:?}"))
}

/// `dir/stem.ext`, with the stem made file-name safe.
pub fn file_name(dir: &Path, stem: &str, format: ImageFormat) -> PathBuf {
    let safe: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || "._=+-".contains(c) { c } else { '_' }).collect();
    dir.join(format!("{safe}.{}", format.extension()))
}

/// Draw with `draw` on an SVG or PNG area of `size` and write it to `path` (atomically).
fn render(
    path: &Path,
    size: (u32, u32),
    format: ImageFormat,
    draw: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    draw_png: &dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    ensure_font();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::runtime(format!("creating {}: {e}", dir.display())))?;
    }
    match format {
        ImageFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                root.fill(&WHITE).map_err(plot_error)?;
                draw(&root)?;
                root.present().map_err(plot_error)?;
            }
            crate::run::write_atomic(path, text.as_bytes())
        }
        ImageFormat::Png => {
            // Drawn to a temporary file next to the target, then renamed (atomic like every
            // other output).
            let tmp = path.with_extension(format!("tmp{}.png", std::process::id()));
            {
                let root = BitMapBackend::new(&tmp, size).into_drawing_area();
                root.fill(&WHITE).map_err(plot_error)?;
                draw_png(&root)?;
                root.present().map_err(plot_error)?;
            }
            std::fs::rename(&tmp, path).map_err(|e| Error::runtime(format!("writing {}: {e}", path.display())))
        }
    }
}

/// One line of a chart, with an optional band (lower, upper) around it.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

/// Axis range of finite values with a 5 % margin.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9 * hi.abs().max(1.0));
    (lo - pad, hi + pad)
}

fn draw_lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (x0, x1) = range(series.iter().flat_map(|s| s.x.iter().copied()));
    let ys = series.iter().flat_map(|s| {
        s.y.iter().copied().chain(s.band.iter().flat_map(|(lo, hi)| lo.iter().chain(hi.iter()).copied().collect::<Vec<_>>()))
    });
    let (y0, y1) = range(ys);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_error)?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).label_style(("sans-serif", 13)).draw().map_err(plot_error)?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if let Some((lo, hi)) = &s.band {
            let mut poly: Vec<(f64, f64)> = s.x.iter().zip(lo).map(|(x, y)| (*x, *y)).filter(|p| p.1.is_finite()).collect();
            poly.extend(s.x.iter().zip(hi).rev().map(|(x, y)| (*x, *y)).filter(|p| p.1.is_finite()));
            chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.18).filled()))).map_err(plot_error)?;
        }
        let points: Vec<(f64, f64)> = s.x.iter().zip(&s.y).map(|(x, y)| (*x, *y)).filter(|p| p.1.is_finite()).collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(plot_error)?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if series.len() > 1 || series.first().is_some_and(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(plot_error)?;
    }
    Ok(())
}

/// A line chart of `series`, written to `path`.
pub fn line_chart(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series], format: ImageFormat) -> Result<()> {
    render(path, (900, 560), format, &|root| draw_lines(root, title, x_label, y_label, series), &|root| {
        draw_lines(root, title, x_label, y_label, series)
    })
}

/// Groups of methods (indices into `ranked`, sorted by rank) whose average ranks lie within
/// `cd` of each other: the maximal cliques drawn as bars, as in Demšar (2006).
pub fn cd_groups(ranks: &[f64], cd: f64) -> Vec<(usize, usize)> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for i in 0..ranks.len() {
        let mut j = i;
        while j + 1 < ranks.len() && ranks[j + 1] - ranks[i] <= cd {
            j += 1;
        }
        if j > i && !groups.iter().any(|&(a, b)| a <= i && j <= b) {
            groups.push((i, j));
        }
    }
    groups
}

fn draw_cd<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, methods: &[(String, f64)], cd: f64) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut ranked: Vec<(String, f64)> = methods.to_vec();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
    // The axis runs to the last rank, or further when the CD bar is longer than that.
    let k = axis_end(ranked.len(), cd);
    let (w, _h) = root.dim_in_pixel();
    let margin = label_margin(methods);
    let (left, right) = (margin, w as i32 - margin);
    let axis_y = 90i32;
    let x_of = |r: f64| left + ((r - 1.0) / (k as f64 - 1.0) * (right - left) as f64).round() as i32;
    let font = ("sans-serif", 14).into_font();
    let text = |s: &str, pos: (i32, i32), anchor: plotters::style::text_anchor::Pos| -> Result<()> {
        root.draw(&Text::new(s.to_string(), pos, font.clone().into_text_style(root).pos(anchor))).map_err(plot_error)
    };
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    text(title, (w as i32 / 2, 18), Pos::new(HPos::Center, VPos::Center))?;
    root.draw(&PathElement::new(vec![(left, axis_y), (right, axis_y)], BLACK.stroke_width(1))).map_err(plot_error)?;
    for r in 1..=k {
        let x = x_of(r as f64);
        root.draw(&PathElement::new(vec![(x, axis_y - 6), (x, axis_y)], BLACK)).map_err(plot_error)?;
        text(&r.to_string(), (x, axis_y - 16), Pos::new(HPos::Center, VPos::Center))?;
    }
    // The CD bar above the axis, at its length in ranks.
    let cd_px = x_of(1.0 + cd) - x_of(1.0);
    root.draw(&PathElement::new(vec![(left, 45), (left + cd_px, 45)], BLACK.stroke_width(2))).map_err(plot_error)?;
    text(&format!("CD = {cd:.3}"), (left + cd_px / 2, 32), Pos::new(HPos::Center, VPos::Center))?;
    // Methods: the better half on the left, the rest on the right.
    let half = ranked.len().div_ceil(2);
    for (i, (name, r)) in ranked.iter().enumerate() {
        // Tied ranks: each connector a few pixels beside the previous, so none hides another.
        let ties = ranked[..i].iter().filter(|(_, o)| o == r).count() as i32;
        let x = x_of(*r) + 4 * ties;
        let (y, label_x, anchor) = if i < half {
            (axis_y + 40 + 22 * i as i32, left - 10, Pos::new(HPos::Right, VPos::Center))
        } else {
            (axis_y + 40 + 22 * (ranked.len() - 1 - i) as i32, right + 10, Pos::new(HPos::Left, VPos::Center))
        };
        let end_x = if i < half { left } else { right };
        root.draw(&PathElement::new(vec![(x, axis_y), (x, y), (end_x, y)], BLACK.stroke_width(1))).map_err(plot_error)?;
        text(&format!("{name} ({r:.2})"), (label_x, y), anchor)?;
    }
    // Cliques of methods not significantly different.
    let ranks: Vec<f64> = ranked.iter().map(|m| m.1).collect();
    for (g, (a, b)) in cd_groups(&ranks, cd).into_iter().enumerate() {
        let y = axis_y + 14 + 7 * g as i32;
        root.draw(&PathElement::new(vec![(x_of(ranks[a]) - 3, y), (x_of(ranks[b]) + 3, y)], BLACK.stroke_width(4))).map_err(plot_error)?;
    }
    Ok(())
}

/// The last rank on the axis: the number of methods (at least 2), or the first whole rank
/// beyond `1 + cd` when the critical difference is longer than the methods' range.
fn axis_end(methods: usize, cd: f64) -> usize {
    let needed = if cd.is_finite() { (1.0 + cd).ceil() as usize } else { 0 };
    methods.max(2).max(needed.min(1000))
}

/// Pixels beside the rank axis for the longest `name (rank)` label (14 px text).
fn label_margin(methods: &[(String, f64)]) -> i32 {
    let longest = methods.iter().map(|(n, _)| n.chars().count() + 7).max().unwrap_or(10);
    (longest as i32 * 8 + 20).max(120)
}

/// Demšar's critical-difference diagram: methods at their average ranks (1 = best), joined by a
/// bar where their ranks differ by less than the critical difference `cd`.
pub fn cd_diagram(path: &Path, title: &str, methods: &[(String, f64)], cd: f64, format: ImageFormat) -> Result<()> {
    let height = 150 + 22 * methods.len().div_ceil(2) as u32 + 40;
    let width = (500 + 2 * label_margin(methods) as u32).max(900);
    render(path, (width, height), format, &|root| draw_cd(root, title, methods, cd), &|root| draw_cd(root, title, methods, cd))
}

/// Dolan–Moré performance profile: for each method, the fraction of tasks on which its cost
/// is within a factor τ of the best method's, `ρ_s(τ) = |{p : r_ps ≤ τ}| / |P|`,
/// `r_ps = t_ps / min_s t_ps`. `costs[task][method]` must be positive; `None` (no result)
/// never counts as solved. Returns the τ breakpoints and each method's ρ at them.
pub fn profile_points(costs: &[Vec<Option<f64>>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let methods = costs.first().map_or(0, Vec::len);
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); methods];
    for row in costs {
        let best = row.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        for (s, c) in row.iter().enumerate() {
            ratios[s].push(match c {
                Some(c) if best > 0.0 && best.is_finite() => c / best,
                Some(_) => 1.0,
                None => f64::INFINITY,
            });
        }
    }
    let mut taus: Vec<f64> = ratios.iter().flatten().copied().filter(|r| r.is_finite()).collect();
    taus.push(1.0);
    taus.sort_by(f64::total_cmp);
    taus.dedup();
    let n = costs.len().max(1) as f64;
    let rho = ratios.iter().map(|rs| taus.iter().map(|t| rs.iter().filter(|r| **r <= *t).count() as f64 / n).collect()).collect();
    (taus, rho)
}

/// Draw performance profiles (step functions over τ) of `names` from `costs`.
pub fn performance_profile(path: &Path, title: &str, names: &[String], costs: &[Vec<Option<f64>>], format: ImageFormat) -> Result<()> {
    let (taus, rho) = profile_points(costs);
    let t_max = taus.last().copied().unwrap_or(1.0).max(1.0) * 1.05;
    let series: Vec<Series> = names
        .iter()
        .zip(&rho)
        .map(|(name, r)| {
            let mut x = Vec::new();
            let mut y = Vec::new();
            let mut prev = 0.0;
            for (t, v) in taus.iter().zip(r) {
                x.push(*t);
                y.push(prev);
                x.push(*t);
                y.push(*v);
                prev = *v;
            }
            x.push(t_max);
            y.push(prev);
            Series { label: name.clone(), x, y, band: None }
        })
        .collect();
    line_chart(path, title, "τ (cost ratio to the best method)", "fraction of tasks within τ", &series, format)
}

/// The critical-difference diagram and the performance profile of every comparison table that
/// supports them, into `dir` as `cd-<split>-<metric>` and `profile-<split>-<metric>`. The CD
/// diagram needs a Friedman test (≥ 2 tasks, ≥ 3 methods); the profile needs ≥ 2 methods and
/// costs that are positive: `1 − value` for higher-is-better metrics in [0, 1] (error rates),
/// the value itself for positive lower-is-better metrics.
pub fn comparison_plots(sections: &[crate::compare::Section], dir: &Path, format: ImageFormat) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for s in sections {
        let stem = format!("{}-{}", s.split, s.metric);
        if let (Some(f), Some(cd)) = (&s.friedman, s.cd) {
            let methods: Vec<(String, f64)> = s.friedman_methods.iter().cloned().zip(f.mean_ranks.iter().copied()).collect();
            let path = file_name(dir, &format!("cd-{stem}"), format);
            let title = format!(
                "{} {}: average rank over {} tasks (Friedman p = {:.3}, Nemenyi α = {})",
                s.split, s.metric, f.blocks, f.p_value, s.alpha
            );
            cd_diagram(&path, &title, &methods, cd, format)?;
            out.push(path);
        }
        if s.methods.len() < 2 {
            continue;
        }
        let means: Vec<Vec<Option<f64>>> = s
            .tasks
            .iter()
            .map(|t| s.methods.iter().map(|m| s.cell(t, m).and_then(|c| c.mean).filter(|v| v.is_finite())).collect())
            .collect();
        let all: Vec<f64> = means.iter().flatten().flatten().copied().collect();
        let costs: Option<Vec<Vec<Option<f64>>>> = if s.higher_is_better && all.iter().all(|v| (0.0..=1.0).contains(v)) {
            Some(means.iter().map(|row| row.iter().map(|v| v.map(|v| (1.0 - v).max(1e-12))).collect()).collect())
        } else if !s.higher_is_better && all.iter().all(|v| *v > 0.0) {
            Some(means)
        } else {
            None
        };
        if let Some(costs) = costs {
            let path = file_name(dir, &format!("profile-{stem}"), format);
            let what = if s.higher_is_better { format!("1 − {}", s.metric) } else { s.metric.clone() };
            performance_profile(
                &path,
                &format!("performance profile: {} {what} over {} tasks", s.split, s.tasks.len()),
                &s.methods,
                &costs,
                format,
            )?;
            out.push(path);
        }
    }
    Ok(out)
}

/// Colour of `t` in [0, 1] on a perceptually ordered ramp (dark blue → teal → yellow).
fn ramp(t: f64) -> RGBColor {
    let stops = [(0.0, (68.0, 1.0, 84.0)), (0.33, (49.0, 104.0, 142.0)), (0.66, (53.0, 183.0, 121.0)), (1.0, (253.0, 231.0, 37.0))];
    let t = t.clamp(0.0, 1.0);
    let k = stops.iter().position(|s| s.0 >= t).unwrap_or(3).max(1);
    let (t0, c0) = stops[k - 1];
    let (t1, c1) = stops[k];
    let u = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
    let mix = |a: f64, b: f64| (a + (b - a) * u).round() as u8;
    RGBColor(mix(c0.0, c1.0), mix(c0.1, c1.1), mix(c0.2, c1.2))
}

/// Contour segments of `grid[i][j]` (on coordinates `xs[i]`, `xs[j]`) at `level`, by marching
/// squares (each cell's crossing points on its edges joined in pairs).
pub fn contour_segments(xs: &[f64], grid: &[Vec<f64>], level: f64) -> Vec<((f64, f64), (f64, f64))> {
    let mut out = Vec::new();
    let n = xs.len();
    let lerp = |a: (f64, f64, f64), b: (f64, f64, f64)| -> (f64, f64) {
        let t = if b.2 != a.2 { (level - a.2) / (b.2 - a.2) } else { 0.5 };
        (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
    };
    for i in 0..n.saturating_sub(1) {
        for j in 0..n.saturating_sub(1) {
            let corners = [
                (xs[i], xs[j], grid[i][j]),
                (xs[i + 1], xs[j], grid[i + 1][j]),
                (xs[i + 1], xs[j + 1], grid[i + 1][j + 1]),
                (xs[i], xs[j + 1], grid[i][j + 1]),
            ];
            if corners.iter().any(|c| !c.2.is_finite()) {
                continue;
            }
            let mut points = Vec::new();
            for e in 0..4 {
                let (a, b) = (corners[e], corners[(e + 1) % 4]);
                if (a.2 < level) != (b.2 < level) {
                    points.push(lerp(a, b));
                }
            }
            for pair in points.chunks(2) {
                if let [p, q] = pair {
                    out.push((*p, *q));
                }
            }
        }
    }
    out
}

fn draw_contour<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, xs: &[f64], grid: &[Vec<f64>]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let values: Vec<f64> = grid.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1) = (xs[0], xs[xs.len() - 1]);
    let half = (x1 - x0) / (2.0 * (xs.len() - 1).max(1) as f64);
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{title} (loss {lo:.4} … {hi:.4})"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x0 - half..x1 + half, x0 - half..x1 + half)
        .map_err(plot_error)?;
    chart.configure_mesh().disable_mesh().x_desc("α (direction 1)").y_desc("β (direction 2)").draw().map_err(plot_error)?;
    // Colour by log-loss so the basin shows; NaN cells stay white.
    let norm = |v: f64| if hi > lo { ((v - lo).ln_1p()) / ((hi - lo).ln_1p()) } else { 0.0 };
    chart
        .draw_series(xs.iter().enumerate().flat_map(|(i, a)| {
            xs.iter()
                .enumerate()
                .filter(move |(j, _)| grid[i][*j].is_finite())
                .map(move |(j, b)| Rectangle::new([(a - half, b - half), (a + half, b + half)], ramp(norm(grid[i][j])).filled()))
        }))
        .map_err(plot_error)?;
    for k in 1..10 {
        let level = lo + (hi - lo) * (k as f64 / 10.0).powi(2);
        let segments = contour_segments(xs, grid, level);
        chart.draw_series(segments.into_iter().map(|(p, q)| PathElement::new(vec![p, q], WHITE.mix(0.8)))).map_err(plot_error)?;
    }
    chart.draw_series(std::iter::once(Circle::new((0.0, 0.0), 4, RED.filled()))).map_err(plot_error)?;
    Ok(())
}

/// A 2-D slice as a colour map with contour lines (levels quadratic in the loss range, so the
/// basin gets most of them); the trained weights are the red dot at the origin.
pub fn contour(path: &Path, title: &str, xs: &[f64], grid: &[Vec<f64>], format: ImageFormat) -> Result<()> {
    render(path, (760, 700), format, &|root| draw_contour(root, title, xs, grid), &|root| draw_contour(root, title, xs, grid))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CD bar is drawn at its length in ranks even when it is longer than the methods'
    /// range (CD 2.344 over 3 methods was drawn as 2.0), measured in the SVG.
    #[test]
    fn cd_bar_is_drawn_at_its_length() {
        let dir = tempfile::tempdir().unwrap();
        for (methods, cd) in [(3usize, 2.344f64), (5, 8.494), (6, 1.25)] {
            let ms: Vec<(String, f64)> = (0..methods).map(|i| (format!("m{i}"), 1.0 + i as f64 * 0.5)).collect();
            let path = dir.path().join("cd.svg");
            cd_diagram(&path, "t", &ms, cd, ImageFormat::Svg).unwrap();
            let svg = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<Vec<(f64, f64)>> = svg
                .split("points=\"")
                .skip(1)
                .map(|p| {
                    p.split('"')
                        .next()
                        .unwrap()
                        .split_whitespace()
                        .map(|xy| xy.split_once(',').unwrap())
                        .map(|(x, y)| (x.parse().unwrap(), y.parse().unwrap()))
                        .collect()
                })
                .collect();
            // The bar at y = 45, and the axis's ticks (rank r at x_of(r)) at y = 84..90.
            let bar = lines.iter().find(|l| l.len() == 2 && l[0].1 == 45.0 && l[1].1 == 45.0).unwrap();
            let mut ticks: Vec<f64> = lines.iter().filter(|l| l.len() == 2 && l[0].1 == 84.0 && l[1].1 == 90.0).map(|l| l[0].0).collect();
            ticks.sort_by(f64::total_cmp);
            let per_rank = (ticks[ticks.len() - 1] - ticks[0]) / (ticks.len() - 1) as f64;
            let drawn = (bar[1].0 - bar[0].0) / per_rank;
            assert!((drawn - cd).abs() < 0.01, "CD {cd} over {methods} methods drawn as {drawn}");
            assert!(ticks.len() as f64 >= 1.0 + cd, "the axis ends before the bar: {ticks:?}");
        }
        // Tied ranks get connectors of their own.
        let ms: Vec<(String, f64)> = vec![("a".into(), 1.5), ("b".into(), 1.5), ("c".into(), 3.0)];
        let path = dir.path().join("ties.svg");
        cd_diagram(&path, "t", &ms, 1.0, ImageFormat::Svg).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let starts: Vec<&str> =
            svg.split("points=\"").skip(1).filter_map(|p| p.split_whitespace().next()).filter(|xy| xy.ends_with(",90")).collect();
        let distinct: std::collections::BTreeSet<&&str> = starts.iter().collect();
        assert_eq!(distinct.len(), starts.len(), "connectors overdraw: {starts:?}");
    }

    #[test]
    fn cliques_and_profiles() {
        // Ranks 1, 1.5, 3, 3.2 with CD 1: {1, 1.5} and {3, 3.2}.
        assert_eq!(cd_groups(&[1.0, 1.5, 3.0, 3.2], 1.0), vec![(0, 1), (2, 3)]);
        assert_eq!(cd_groups(&[1.0, 1.5, 2.2], 1.5), vec![(0, 2)]);
        // Two tasks, two methods: method 0 best on task 0, 2× worse on task 1; method 1 has no
        // result on task 0.
        let (taus, rho) = profile_points(&[vec![Some(0.1), None], vec![Some(0.4), Some(0.2)]]);
        assert_eq!(taus, vec![1.0, 2.0]);
        assert_eq!(rho[0], vec![0.5, 1.0]);
        assert_eq!(rho[1], vec![0.5, 0.5]);
        // A bowl x² + y² at level 0.5: the contour crosses the grid near radius √0.5.
        let xs: Vec<f64> = (0..21).map(|i| -1.0 + 0.1 * i as f64).collect();
        let grid: Vec<Vec<f64>> = xs.iter().map(|a| xs.iter().map(|b| a * a + b * b).collect()).collect();
        let segs = contour_segments(&xs, &grid, 0.5);
        assert!(!segs.is_empty());
        for (p, q) in segs {
            for (x, y) in [p, q] {
                assert!(((x * x + y * y).sqrt() - 0.5f64.sqrt()).abs() < 0.03);
            }
        }
    }
}
