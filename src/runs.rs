//! Run tables for pandas, polars and duckdb users: `runs.parquet`, one row per run (its id,
//! recipe, task, loss, optimizer, seed, status, timings, every config parameter as a column and
//! the final metrics), and `metrics.parquet`, every recorded value of every run as tidy rows
//! with the run's id. `lossbench runs` lists the runs of any result folders.

use crate::compare::gather::{run_dirs, Where};
use crate::compare::keys;
use crate::error::{Error, Result};
use crate::run::{self, RunRecord, Status};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One run as the tables show it.
pub struct RunRow {
    pub dir: PathBuf,
    pub record: RunRecord,
    /// Every config parameter by its path (`optimizer.lr`, `task.dataset.n`), as text.
    pub params: BTreeMap<String, String>,
}

fn state(s: &Status) -> &'static str {
    match s {
        Status::Finished => "finished",
        Status::Diverged { .. } => "diverged",
        Status::Failed { .. } => "failed",
    }
}

/// Every run (finished, diverged or failed) under `paths` whose config matches every `--where`,
/// each folder once.
pub fn collect(paths: &[PathBuf], wheres: &[Where]) -> Vec<RunRow> {
    let dirs: Vec<PathBuf> = paths.iter().flat_map(|p| run_dirs(p)).collect();
    of_dirs(&dirs, wheres)
}

/// The runs in `dirs` (each folder once) whose config matches every `--where`.
pub fn of_dirs(dirs: &[PathBuf], wheres: &[Where]) -> Vec<RunRow> {
    let mut seen = BTreeSet::new();
    let mut rows = Vec::new();
    for dir in dirs {
        if !seen.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())) {
            continue;
        }
        let Ok(record) = run::read_record(dir) else { continue };
        let dir = dir.clone();
        if wheres.iter().all(|w| w.selects(&record.config)) {
            rows.push(RunRow { params: keys::flatten(&record.config), dir, record });
        }
    }
    rows
}

/// A column of integers when every present value is one, else of numbers when every present
/// value is one, else of text.
fn typed_column(name: &str, values: Vec<Option<&str>>) -> Column {
    fn all<T: std::str::FromStr>(values: &[Option<&str>]) -> Option<Vec<Option<T>>> {
        values.iter().map(|v| v.map_or(Some(None), |s| s.parse::<T>().ok().map(Some))).collect()
    }
    if let Some(integers) = all::<i64>(&values) {
        return Column::new(name.into(), integers);
    }
    match all::<f64>(&values) {
        Some(numbers) => Column::new(name.into(), numbers),
        None => Column::new(name.into(), values.iter().map(|v| v.map(str::to_string)).collect::<Vec<Option<String>>>()),
    }
}

/// The runs table: fixed columns, then each parameter (`optimizer.lr`), then each final metric
/// (`final.test.accuracy`).
pub fn runs_frame(rows: &[RunRow]) -> Result<DataFrame> {
    let text = |f: &dyn Fn(&RunRow) -> String| -> Vec<String> { rows.iter().map(f).collect() };
    let number = |f: &dyn Fn(&RunRow) -> f64| -> Vec<f64> { rows.iter().map(f).collect() };
    let mut columns = vec![
        Column::new("run_id".into(), text(&|r| r.record.config_hash.clone())),
        Column::new("dir".into(), text(&|r| r.dir.display().to_string())),
        Column::new("recipe".into(), text(&|r| r.record.recipe.clone())),
        Column::new("task".into(), text(&|r| r.record.task.clone())),
        Column::new("loss".into(), text(&|r| r.record.loss.clone())),
        Column::new("optimizer".into(), text(&|r| r.record.optimizer.clone())),
        Column::new("seed".into(), rows.iter().map(|r| r.record.seed).collect::<Vec<u64>>()),
        Column::new("status".into(), text(&|r| state(&r.record.status).to_string())),
        Column::new("epochs_completed".into(), rows.iter().map(|r| r.record.epochs_completed as u64).collect::<Vec<u64>>()),
        Column::new("wall_s".into(), number(&|r| r.record.timings.wall_s)),
        Column::new("train_s".into(), number(&|r| r.record.timings.train_s)),
        Column::new("eval_s".into(), number(&|r| r.record.timings.eval_s)),
    ];
    let params: BTreeSet<&String> = rows.iter().flat_map(|r| r.params.keys()).collect();
    for p in params {
        columns.push(typed_column(p, rows.iter().map(|r| r.params.get(p).map(String::as_str)).collect()));
    }
    let finals: BTreeSet<(&String, &String)> =
        rows.iter().flat_map(|r| r.record.final_metrics.iter().flat_map(|(s, m)| m.keys().map(move |k| (s, k)))).collect();
    for (split, metric) in finals {
        let values: Vec<Option<f64>> =
            rows.iter().map(|r| r.record.final_metrics.get(split).and_then(|m| m.get(metric)).copied()).collect();
        columns.push(Column::new(format!("final.{split}.{metric}").into(), values));
    }
    DataFrame::new(rows.len(), columns).map_err(|e| Error::runtime(format!("building the runs table: {e}")))
}

/// Every row of every run's `metrics.csv`, with the run's id.
pub fn metrics_frame(rows: &[RunRow]) -> Result<DataFrame> {
    let (mut ids, mut epochs, mut splits, mut metrics, mut values) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let Ok(text) = crate::files::read_bounded(&r.dir.join(run::METRICS_FILE), run::MAX_METRICS_BYTES) else { continue };
        for line in String::from_utf8_lossy(&text).lines().skip(1) {
            let mut f = line.split(',');
            let (Some(e), Some(s), Some(m), Some(v)) = (f.next(), f.next(), f.next(), f.next()) else { continue };
            let (Ok(e), Ok(v)) = (e.parse::<u64>(), v.parse::<f64>()) else { continue };
            ids.push(r.record.config_hash.clone());
            epochs.push(e);
            splits.push(s.to_string());
            metrics.push(m.to_string());
            values.push(v);
        }
    }
    let n = ids.len();
    let columns = vec![
        Column::new("run_id".into(), ids),
        Column::new("epoch".into(), epochs),
        Column::new("split".into(), splits),
        Column::new("metric".into(), metrics),
        Column::new("value".into(), values),
    ];
    DataFrame::new(n, columns).map_err(|e| Error::runtime(format!("building the metrics table: {e}")))
}

fn parquet_bytes(mut df: DataFrame) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df).map_err(|e| Error::runtime(format!("writing Parquet: {e}")))?;
    Ok(buf)
}

/// Write `runs.parquet` and `metrics.parquet` of `rows` into `dir`.
pub fn write_tables(rows: &[RunRow], dir: &Path) -> Result<Vec<PathBuf>> {
    let (runs, metrics) = (dir.join("runs.parquet"), dir.join("metrics.parquet"));
    run::write_atomic(&runs, &parquet_bytes(runs_frame(rows)?)?)?;
    run::write_atomic(&metrics, &parquet_bytes(metrics_frame(rows)?)?)?;
    Ok(vec![runs, metrics])
}

/// The columns `lossbench runs` prints as Markdown: the fixed ones but the folder and timings,
/// the parameters that differ between the runs, and the final test metrics.
fn shown_columns(df: &DataFrame) -> Vec<String> {
    let fixed = ["run_id", "task", "loss", "optimizer", "seed", "status"];
    let mut out: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    for c in df.columns() {
        let name = c.name().to_string();
        let varies = c.n_unique().is_ok_and(|n| n > 1);
        // The components' names and labels are the task, loss and optimizer columns already.
        let label = name.ends_with(".label") || ["task.name", "loss.name", "optimizer.name"].contains(&name.as_str());
        let param = !name.starts_with("final.") && name.contains('.') && !label;
        if (param && varies) || name.starts_with("final.test.") {
            out.push(name);
        }
    }
    out
}

fn cell(c: &Column, i: usize) -> String {
    match c.get(i) {
        Ok(AnyValue::Null) | Err(_) => String::new(),
        Ok(AnyValue::String(s)) => s.to_string(),
        Ok(AnyValue::Float64(v)) => crate::compare::render::num(v),
        Ok(v) => v.to_string(),
    }
}

fn markdown(df: &DataFrame) -> String {
    let names = shown_columns(df);
    let columns: Vec<&Column> = names.iter().filter_map(|n| df.column(n).ok()).collect();
    let mut out = format!("| {} |\n|{}\n", names.join(" | "), "---|".repeat(names.len()));
    for i in 0..df.height() {
        let cells: Vec<String> = columns.iter().map(|c| cell(c, i)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// What `lossbench runs` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The runs' ids, labels, seeds and status, the parameters that differ and the final test metrics.
    Md,
    /// Every column.
    Csv,
    /// Every column, one object per run.
    Json,
}

/// One object per run, every column.
fn json(df: &DataFrame) -> Result<String> {
    let objects: Vec<serde_json::Value> = (0..df.height())
        .map(|i| {
            let fields = df.columns().iter().map(|c| {
                let v = match c.get(i) {
                    Ok(AnyValue::String(s)) => serde_json::Value::from(s),
                    Ok(AnyValue::Float64(v)) if v.is_finite() => serde_json::Value::from(v),
                    Ok(AnyValue::UInt64(v)) => serde_json::Value::from(v),
                    Ok(AnyValue::Int64(v)) => serde_json::Value::from(v),
                    _ => serde_json::Value::Null,
                };
                (c.name().to_string(), v)
            });
            serde_json::Value::Object(fields.collect())
        })
        .collect();
    serde_json::to_string_pretty(&objects).map(|s| s + "\n").map_err(|e| Error::runtime(e.to_string()))
}

/// `lossbench runs [PATH…] [--where K=V]… [--format md|csv|json]`.
pub fn command(paths: &[PathBuf], wheres: &[String], format: Format) -> Result<()> {
    let wheres = wheres.iter().map(|w| w.parse()).collect::<Result<Vec<Where>>>()?;
    let paths = if paths.is_empty() { vec![PathBuf::from("results")] } else { paths.to_vec() };
    let rows = collect(&paths, &wheres);
    if rows.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::input(format!("no runs under {} match", shown.join(", "))));
    }
    let mut df = runs_frame(&rows)?;
    let text = match format {
        Format::Md => markdown(&df),
        Format::Csv => {
            let mut buf = Vec::new();
            CsvWriter::new(&mut buf).finish(&mut df).map_err(|e| Error::runtime(format!("writing CSV: {e}")))?;
            String::from_utf8_lossy(&buf).into_owned()
        }
        Format::Json => json(&df)?,
    };
    print!("{text}");
    Ok(())
}
