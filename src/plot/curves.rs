//! Learning curves: per task, one line per method (mean over seeds) with a min–max band, for
//! any recorded metric and split. Written by `lossbench plot` and at the end of `train`.

use super::{file_name, line_chart, ImageFormat, Series};
use crate::compare::{first_metric, LoadedRun};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One learning-curve chart per task of `runs` (metric: `metric` or each task's first), into
/// `out`. Returns the files written.
pub fn learning_curves(runs: &[LoadedRun], metric: Option<&str>, split: &str, out: &Path, format: ImageFormat) -> Result<Vec<PathBuf>> {
    if runs.is_empty() {
        return Err(Error::input("no runs found (no folder with a run.json); train a recipe first"));
    }
    if let Some(m) = metric {
        if !runs.iter().any(|r| r.rows.iter().any(|row| row.2 == m)) {
            let names: BTreeSet<&str> = runs.iter().flat_map(|r| r.rows.iter().map(|row| row.2.as_str())).collect();
            let hint = crate::registry::suggest(m, names.iter().copied()).map(|c| format!("did you mean `{c}`? ")).unwrap_or_default();
            return Err(Error::input(format!(
                "--metric {m}: no run has it; {hint}(recorded: {})",
                names.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let optimizers: BTreeSet<&str> = runs.iter().map(|r| r.record.optimizer.as_str()).collect();
    let mut tasks: Vec<&str> = Vec::new();
    for r in runs {
        if !tasks.contains(&r.record.task.as_str()) {
            tasks.push(&r.record.task);
        }
    }
    let mut written = Vec::new();
    for task in tasks {
        let task_runs: Vec<&LoadedRun> = runs.iter().filter(|r| r.record.task == task).collect();
        let Some(m) = metric.map(str::to_string).or_else(|| task_runs.iter().find_map(|r| first_metric(&r.record))) else { continue };
        // method → epoch → values over seeds.
        let mut curves: BTreeMap<String, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for r in &task_runs {
            let method = if optimizers.len() > 1 { format!("{} / {}", r.record.loss, r.record.optimizer) } else { r.record.loss.clone() };
            if !order.contains(&method) {
                order.push(method.clone());
            }
            for (epoch, s, name, value) in &r.rows {
                if s == split && *name == m && value.is_finite() {
                    curves.entry(method.clone()).or_default().entry(*epoch).or_default().push(*value);
                }
            }
        }
        let series: Vec<Series> = order
            .iter()
            .filter_map(|method| {
                let by_epoch = curves.get(method)?;
                let x: Vec<f64> = by_epoch.keys().map(|e| *e as f64).collect();
                let mean = by_epoch.values().map(|v| v.iter().sum::<f64>() / v.len() as f64).collect();
                let lo = by_epoch.values().map(|v| v.iter().copied().fold(f64::INFINITY, f64::min)).collect();
                let hi = by_epoch.values().map(|v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
                Some(Series { label: method.clone(), x, y: mean, band: Some((lo, hi)) })
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let path = file_name(out, &format!("curves-{task}-{split}-{m}"), format);
        line_chart(&path, &format!("{task}: {split} {m} (mean over seeds, min–max band)"), "epoch", &m, &series, format)?;
        written.push(path);
    }
    if written.is_empty() {
        return Err(Error::input(format!("no run recorded a metric on the `{split}` split to plot")));
    }
    Ok(written)
}
