//! The user's own data: a CSV or Parquet file with one target column.
//!
//! ```yaml
//! dataset: { name: csv, path: data/my.csv, target: label }                  # classification
//! dataset: { name: parquet, path: my.parquet, target: y, task: regression }
//! ```
//! Relative paths are resolved against the recipe's folder. The file is read and checked when
//! the recipe is resolved (`lossbench check` reports malformed files before any training).
//!
//! The SHA-256 of the file's bytes joins the dataset's config (`sha256`), so it is part of every
//! run's identity: a file edited in place gives new runs, never the old results. A recipe may
//! pin it (`sha256: …`); a file that no longer matches is then an error.

use super::csv::{self, RawCsv, TargetMode};
use super::{DatasetInfo, InputKind, RawData, Source, Table};
use crate::error::{Error, Result};
use crate::registry::{parse_params, ParamDoc, Validate};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FileTask {
    #[default]
    Classification,
    Regression,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// File path, relative to the recipe's folder.
    path: PathBuf,
    /// Name of the target column.
    target: String,
    #[serde(default)]
    task: FileTask,
    /// Number of classes; labels must lie in `0..classes`. Default: largest label + 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classes: Option<usize>,
    /// Expected SHA-256 of the file (hex); filled in from the file when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        if let Some(k) = self.classes {
            if !(2..=super::MAX_CLASSES).contains(&k) {
                return Err(Error::input(format!(
                    "parameter `classes` = {k} is out of range; allowed: 2 ≤ classes ≤ {}",
                    super::MAX_CLASSES
                )));
            }
        }
        if let Some(pin) = &self.sha256 {
            if pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::input(format!("parameter `sha256` = `{}`: expected 64 hex digits", crate::error::truncate(pin, 80))));
            }
        }
        Ok(())
    }
}

static PARAMS: &[ParamDoc] = &[
    ParamDoc { name: "path", meaning: "file path, relative to the recipe's folder", range: "existing file", default: "(required)" },
    ParamDoc { name: "target", meaning: "name of the target column", range: "a column of the file", default: "(required)" },
    ParamDoc { name: "task", meaning: "what the target is", range: "classification | regression", default: "classification" },
    ParamDoc { name: "classes", meaning: "number of classes (labels must be 0..classes-1)", range: "≥ 2", default: "largest label + 1" },
    ParamDoc {
        name: "sha256",
        meaning: "expected SHA-256 of the file; recorded in every run's config either way",
        range: "64 hex digits",
        default: "the file's",
    },
];

struct FileSource {
    rows: Table,
    kind: TaskKind,
}

impl Source for FileSource {
    fn kind(&self) -> TaskKind {
        self.kind
    }
    fn load(&self, _seed: u64) -> Result<RawData> {
        Ok(RawData {
            kind: self.kind,
            input: InputKind::Dense { features: self.rows.d },
            rows: self.rows.clone(),
            fixed_split: None,
            standardize_by_default: true,
            noisy: Vec::new(),
            clean_labels: None,
        })
    }
}

fn resolve_path(params: &Params, base: &Path) -> PathBuf {
    if params.path.is_absolute() {
        params.path.clone()
    } else {
        base.join(&params.path)
    }
}

fn finish(raw: RawCsv, origin: &str, params: &Params) -> Result<Arc<dyn Source>> {
    let mode = match params.task {
        FileTask::Classification => TargetMode::Classes(params.classes),
        FileTask::Regression => TargetMode::Values,
    };
    let (rows, kind) = csv::to_table(&raw, origin, &params.target, mode)?;
    Ok(Arc::new(FileSource { rows, kind }))
}

/// The file's bytes, checked against a pinned digest, and the canonical parameters with the
/// file's digest in them.
fn read_file(params: &Params, canonical: serde_json::Value, path: &Path) -> Result<(Vec<u8>, serde_json::Value)> {
    let origin = path.display();
    let bytes = crate::files::read_bounded(path, crate::files::MAX_DATA_BYTES)
        .map_err(|e| Error::input(format!("cannot read dataset file {origin}: {e}")))?;
    let digest = crate::run::sha256_hex(&bytes);
    if let Some(pinned) = &params.sha256 {
        if !pinned.eq_ignore_ascii_case(&digest) {
            return Err(Error::input(format!(
                "{origin}: the file's SHA-256 is {digest}, but the recipe pins `sha256: {pinned}` (the file changed)"
            )));
        }
    }
    let mut canonical = canonical;
    if let Some(map) = canonical.as_object_mut() {
        map.insert("sha256".into(), digest.into());
    }
    Ok((bytes, canonical))
}

fn build_csv(value: &serde_json::Value, base: &Path) -> crate::registry::Built<dyn Source> {
    let (params, canonical) = parse_params::<Params>(value)?;
    let path = resolve_path(&params, base);
    let origin = path.display().to_string();
    let (bytes, canonical) = read_file(&params, canonical, &path)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::input(format!("{origin}: not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())))?;
    let raw = csv::read(&text, &origin)?;
    Ok((finish(raw, &origin, &params)?, canonical))
}

/// Read a Parquet file into the same string-cell form as a CSV, so that both share one set of
/// checks. Row numbers in messages count data rows from 1 (there is no header line).
fn read_parquet(bytes: Vec<u8>, origin: &str) -> Result<RawCsv> {
    use polars::prelude::*;
    // A corrupt file can make the Parquet reader panic rather than return an error.
    let read = crate::error::catch_quietly(|| ParquetReader::new(std::io::Cursor::new(bytes)).finish());
    let df = match read {
        Ok(Ok(df)) => df,
        Ok(Err(e)) => return Err(Error::input(format!("{origin}: not a readable Parquet file: {e}"))),
        Err(_) => return Err(Error::input(format!("{origin}: not a readable Parquet file (corrupt data)"))),
    };
    if df.height() == 0 {
        return Err(Error::input(format!("{origin}: the file has no data rows")));
    }
    let header: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let mut columns: Vec<Vec<String>> = Vec::with_capacity(header.len());
    for col in df.columns() {
        let series = col.as_materialized_series();
        let cells: Vec<String> = if series.dtype() == &DataType::String {
            let s = series.str().map_err(|e| Error::input(format!("{origin}: {e}")))?;
            s.iter().map(|v| v.unwrap_or("").to_string()).collect()
        } else {
            let cast = series
                .cast(&DataType::Float64)
                .map_err(|e| Error::input(format!("{origin}: column `{}` is not numeric: {e}", series.name())))?;
            let f = cast.f64().map_err(|e| Error::input(format!("{origin}: {e}")))?;
            f.iter().map(|v| v.map(|x| format!("{x}")).unwrap_or_default()).collect()
        };
        columns.push(cells);
    }
    let rows = (0..df.height()).map(|r| (r + 1, columns.iter().map(|c| c[r].clone()).collect())).collect();
    Ok(RawCsv { header, rows })
}

fn build_parquet(value: &serde_json::Value, base: &Path) -> crate::registry::Built<dyn Source> {
    let (params, canonical) = parse_params::<Params>(value)?;
    let path = resolve_path(&params, base);
    let origin = format!("{} row", path.display());
    let (bytes, canonical) = read_file(&params, canonical, &path)?;
    let raw = read_parquet(bytes, &path.display().to_string())?;
    Ok((finish(raw, &origin, &params)?, canonical))
}

pub static CSV: DatasetInfo = DatasetInfo {
    name: "csv",
    summary: "your own CSV file: header row, numeric features, one target column",
    family: "classification or regression",
    reference: "—",
    params: PARAMS,
    build: build_csv,
};

pub static PARQUET: DatasetInfo = DatasetInfo {
    name: "parquet",
    summary: "your own Parquet file: numeric feature columns, one target column",
    family: "classification or regression",
    reference: "—",
    params: PARAMS,
    build: build_parquet,
};
