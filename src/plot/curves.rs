//! Learning curves: per task, one line per method (mean over seeds) with a min–max band, for
//! any recorded metric and split. Written by `lossbench plot` and at the end of `train`.

use super::{file_name, line_chart, ImageFormat, Series};
use crate::compare::LoadedRun;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `lossbench plot`: learning curves of the runs under `paths` (default `results`) into `out`
/// (default `<first path>/plots`).
pub fn command(
    paths: Vec<PathBuf>,
    metric: Option<String>,
    split: String,
    out: Option<PathBuf>,
    format: ImageFormat,
) -> Result<Vec<PathBuf>> {
    let paths = if paths.is_empty() { vec![PathBuf::from("results")] } else { paths };
    if !["train", "val", "test"].contains(&split.as_str()) {
        return Err(Error::input(format!("--split `{split}`: allowed: train, val, test")));
    }
    let filter = crate::compare::RowFilter { split: split.clone(), metric: metric.clone(), select_by: None, extra_splits: Vec::new() };
    let gathered = crate::compare::gather(&paths, &filter, &[])?;
    crate::compare::warn_all(&gathered.warnings());
    if let Some(m) = &metric {
        let names = &gathered.metric_names;
        if !names.contains(m) {
            let hint =
                crate::registry::suggest(m, names.iter().map(String::as_str)).map(|c| format!("did you mean `{c}`? ")).unwrap_or_default();
            let recorded: Vec<&str> = names.iter().map(String::as_str).collect();
            return Err(Error::input(format!("--metric {m}: no run has it; {hint}(recorded: {})", recorded.join(", "))));
        }
    }
    let out = out.unwrap_or_else(|| paths[0].join("plots"));
    learning_curves(&gathered.runs, metric.as_deref(), &split, &out, format)
}

/// One learning-curve chart per task of `runs` (metric: `metric` or each task's first), into
/// `out`. Returns the files written.
pub fn learning_curves(runs: &[LoadedRun], metric: Option<&str>, split: &str, out: &Path, format: ImageFormat) -> Result<Vec<PathBuf>> {
    if runs.is_empty() {
        return Err(Error::input("no runs found (no folder with a run.json); train a recipe first"));
    }
    // Columns and rows as in the comparison tables: two configurations never share a curve.
    let (labelled, _) = crate::compare::group::label(runs);
    let mut tasks: Vec<&str> = Vec::new();
    for l in &labelled {
        if !tasks.contains(&l.task.as_str()) {
            tasks.push(&l.task);
        }
    }
    let mut written = Vec::new();
    for task in tasks {
        let task_runs: Vec<&crate::compare::group::Labelled> = labelled.iter().filter(|l| l.task == task).collect();
        let Some(m) = metric.map(str::to_string).or_else(|| task_runs.iter().find_map(|l| l.run.first_metric().map(str::to_string))) else {
            continue;
        };
        // method → epoch → values over seeds.
        let mut curves: BTreeMap<String, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for l in &task_runs {
            if !order.contains(&l.method) {
                order.push(l.method.clone());
            }
            for p in &l.run.rows {
                if p.split == split && *p.metric == *m && p.value.is_finite() {
                    curves.entry(l.method.clone()).or_default().entry(p.epoch).or_default().push(p.value);
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
