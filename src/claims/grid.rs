//! Grid contrasts (H14): a statistic of a whole grid of runs per seed, the shape of the region
//! where an optimizer does well, paired by seed between a method's grid and a baseline's.
//!
//! Each run of an arm sits at `(log10 a, log10 b)` for the two axes (its optimizer's
//! parameters). The *good region* of a seed is the set of its runs whose metric is within
//! `delta` of that seed's best run of the arm (diverged or failed runs are never in it). The
//! statistic is `|r|`, the absolute Pearson correlation of the two coordinates over the good
//! region: 0 for a region aligned with the axes (the good values of one parameter do not depend
//! on the other; also when one coordinate is constant over the region, a single cell included),
//! 1 for a region on a diagonal. The method does better when its `|r|` is lower.

use super::decide::Row;
use super::{ClaimFile, Contrast};
use crate::compare::gather::Gathered;
use crate::compare::{self, Select};
use crate::error::{Error, Result};
use crate::run::Status;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `claim.grids[i]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridContrast {
    /// The optimizer (its registry name) whose runs make the method's grid.
    pub method: String,
    /// … and the baseline's.
    pub baseline: String,
    /// Two optimizer parameters (dotted paths in its config: `lr`, `base.lr`) placing each run
    /// in the grid, on a log10 scale: positive numbers.
    pub axes: Vec<String>,
    /// The good region: runs within `delta` of the best, in the claim metric's units.
    pub delta: f64,
}

impl GridContrast {
    pub(super) fn check(&self, i: usize) -> Result<()> {
        let field = format!("claim.grids[{i}]");
        if self.axes.len() != 2 || self.axes[0] == self.axes[1] {
            return Err(Error::input(format!("{field}.axes: give two distinct optimizer parameters, e.g. [lr, weight_decay]")));
        }
        if self.method == self.baseline {
            return Err(Error::input(format!("{field}: `{}` is compared with itself", self.method)));
        }
        crate::registry::check_range(&format!("{field}.delta"), self.delta, 0.0, 1e6)
    }

    /// What the row's metric column says.
    pub(super) fn statistic(&self, metric: &str) -> String {
        format!("|r| of the good region in log {} × log {} ({metric} within {} of the best)", self.axes[0], self.axes[1], self.delta)
    }
}

/// A run of a grid: its coordinates and its value (`None`: diverged or failed).
type Cell = ((f64, f64), Option<f64>);

/// The optimizer configs of a plan by label: where each run sits, and which arm it is in.
pub type Optimizers = BTreeMap<String, serde_json::Value>;

/// The number at dotted `path` of an optimizer config.
fn number_at(config: &serde_json::Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(config, |v, k| v.get(k))?.as_f64()
}

/// The optimizer labels of arm `name` with their coordinates; an error when the plan has none,
/// or an axis is not a positive number of every one.
pub(super) fn arm(optimizers: &Optimizers, name: &str, axes: &[String], id: &str) -> Result<BTreeMap<String, (f64, f64)>> {
    let mut out = BTreeMap::new();
    for (label, config) in optimizers.iter().filter(|(_, c)| c.get("name").and_then(|n| n.as_str()) == Some(name)) {
        let at = |axis: &str| {
            number_at(config, axis).filter(|v| *v > 0.0 && v.is_finite()).map(f64::log10).ok_or_else(|| {
                Error::input(format!("{id}: claim.grids: optimizer `{label}` has no positive number `{axis}` to place it on a log scale"))
            })
        };
        out.insert(label.clone(), (at(&axes[0])?, at(&axes[1])?));
    }
    if out.is_empty() {
        return Err(Error::input(format!("{id}: claim.grids names optimizer `{name}`, which no optimizer entry of the recipe uses")));
    }
    Ok(out)
}

/// Pearson's r of the points, 0 when either coordinate is constant.
fn correlation(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let syy: f64 = points.iter().map(|(_, y)| (y - my).powi(2)).sum();
    if sxx <= 1e-12 || syy <= 1e-12 {
        return 0.0;
    }
    (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
}

/// One seed's good region: its cells' coordinates, from `(coordinates, value)` with `None` for
/// a run that diverged or failed. `None` when no run has a value.
pub fn good_region(cells: &[Cell], higher: bool, delta: f64) -> Option<Vec<(f64, f64)>> {
    // Values turned so that higher is better.
    let sign = if higher { 1.0 } else { -1.0 };
    let values: Vec<((f64, f64), f64)> = cells.iter().filter_map(|(at, v)| v.filter(|v| v.is_finite()).map(|v| (*at, sign * v))).collect();
    let best = values.iter().map(|(_, v)| *v).reduce(f64::max)?;
    Some(values.iter().filter(|(_, v)| *v >= best - delta).map(|(at, _)| *at).collect())
}

/// What one arm's grid gives per seed: `|r|`, `r` and the region's size.
struct ArmSeeds {
    abs_r: Vec<(u64, f64)>,
    r: Vec<f64>,
    size: Vec<f64>,
    /// Runs that diverged or failed (never in a good region).
    excluded: usize,
}

/// What a grid is read at: the metric, split, selection and the good region's width.
struct Reading<'a> {
    metric: &'a str,
    split: &'a str,
    select: &'a Select,
    delta: f64,
}

/// Arm `cells` (optimizer label → coordinates) on `task`, seed by seed; a seed missing a cell
/// gives nothing.
fn arm_seeds(g: &Gathered, task: &str, cells: &BTreeMap<String, (f64, f64)>, reading: &Reading) -> Result<ArmSeeds> {
    let mut by_seed: BTreeMap<u64, Vec<Cell>> = BTreeMap::new();
    let mut excluded = 0;
    for run in g.runs.iter().filter(|r| r.task == task) {
        let Some(at) = cells.get(&run.optimizer) else { continue };
        let value = match run.status {
            Status::Finished => compare::pick(run, reading.metric, reading.split, reading.select)?,
            _ => None,
        };
        excluded += usize::from(value.is_none());
        by_seed.entry(run.seed).or_default().push((*at, value));
    }
    let higher = g.runs.iter().find(|r| r.task == task).is_none_or(|r| r.higher_is_better(reading.metric));
    let mut out = ArmSeeds { abs_r: Vec::new(), r: Vec::new(), size: Vec::new(), excluded };
    for (seed, seed_cells) in by_seed.into_iter().filter(|(_, c)| c.len() == cells.len()) {
        if let Some(region) = good_region(&seed_cells, higher, reading.delta) {
            let r = correlation(&region);
            out.abs_r.push((seed, r.abs()));
            out.r.push(r);
            out.size.push(region.len() as f64);
        }
    }
    Ok(out)
}

/// A side of the row: `adamw grid (mean r = -0.12, 9.5 of 25 cells good)`.
fn describe(name: &str, s: &ArmSeeds, cells: usize) -> String {
    let (r, size) = (compare::mean_std(&s.r).0, compare::mean_std(&s.size).0);
    match (r, size) {
        (Some(r), Some(size)) => format!("{name} grid (mean r = {r:.2}, {size:.1} of {cells} cells good)"),
        _ => format!("{name} grid"),
    }
}

/// The rows of the claim's grid contrasts, one per contrast and task, not yet Holm-adjusted.
pub fn rows(file: &ClaimFile, point: &str, g: &Gathered, optimizers: &Optimizers, tasks: &[String]) -> Result<Vec<Row>> {
    let c = &file.claim;
    let select: Select = c.select.parse()?;
    let mut rows = Vec::new();
    for k in &c.grids {
        let (m_cells, b_cells) = (arm(optimizers, &k.method, &k.axes, &c.id)?, arm(optimizers, &k.baseline, &k.axes, &c.id)?);
        let at = Reading { metric: &c.metric, split: &c.split, select: &select, delta: k.delta };
        for task in tasks {
            let (m, b) = (arm_seeds(g, task, &m_cells, &at)?, arm_seeds(g, task, &b_cells, &at)?);
            let paired = compare::paired::paired(&m.abs_r, &b.abs_r);
            let (m_vals, b_vals): (Vec<f64>, Vec<f64>) = (m.abs_r.iter().map(|v| v.1).collect(), b.abs_r.iter().map(|v| v.1).collect());
            let ((method_mean, method_std), (baseline_mean, baseline_std)) = (compare::mean_std(&m_vals), compare::mean_std(&b_vals));
            rows.push(Row {
                metric: k.statistic(&c.metric),
                method: describe(&k.method, &m, m_cells.len()),
                baseline: describe(&k.baseline, &b, b_cells.len()),
                method_mean,
                method_std,
                baseline_mean,
                baseline_std,
                seeds: paired.as_ref().map_or(0, |p| p.n),
                paired,
                method_excluded: m.excluded,
                baseline_excluded: b.excluded,
                higher_is_better: false,
                ..Row::new(file, point, task, &Contrast::named(&k.method, &k.baseline))
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_axis_aligned_region_has_r_0_and_a_diagonal_one_r_1() {
        // A 3 × 3 grid: good along the anti-diagonal (lr·wd constant), or in one column.
        let grid = |good: &dyn Fn(usize, usize) -> bool| -> Vec<Cell> {
            (0..9)
                .map(|k| ((k / 3) as f64, (k % 3) as f64))
                .map(|(i, j)| ((i, j), Some(if good(i as usize, j as usize) { 0.9 } else { 0.5 })))
                .collect()
        };
        let diagonal = good_region(&grid(&|i, j| i + j == 2), true, 0.05).unwrap();
        assert_eq!(diagonal.len(), 3);
        assert!((correlation(&diagonal) + 1.0).abs() < 1e-12);
        let column = good_region(&grid(&|_, j| j == 0), true, 0.05).unwrap();
        assert_eq!(correlation(&column), 0.0);
        let block = good_region(&grid(&|i, j| i <= 1 && j <= 1), true, 0.05).unwrap();
        assert_eq!((block.len(), correlation(&block)), (4, 0.0));
        // Lower-is-better metrics, and runs without a value, which are never good.
        let mut cells = grid(&|i, _| i == 1);
        cells.iter_mut().for_each(|c| c.1 = c.1.map(|v| 1.0 - v));
        cells[0].1 = None;
        assert_eq!(good_region(&cells, false, 0.05).unwrap().len(), 3);
        assert!(good_region(&[((0.0, 0.0), None)], true, 0.1).is_none());
    }
}
