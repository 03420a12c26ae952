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

use super::csv::{self, Parsed, TargetMode};
use super::{DatasetInfo, RawData, Source, Table};
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
        check_pin(self.sha256.as_deref())
    }
}

/// A pinned `sha256` parameter: 64 hex digits.
pub(crate) fn check_pin(pin: Option<&str>) -> Result<()> {
    match pin {
        Some(pin) if pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()) => {
            Err(Error::input(format!("parameter `sha256` = `{}`: expected 64 hex digits", crate::error::truncate(pin, 80))))
        }
        _ => Ok(()),
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
        Ok(RawData::dense(self.kind, self.rows.clone()))
    }
}

/// `path`, relative to the recipe's folder `base` unless absolute.
pub(crate) fn resolve_path(path: &Path, base: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn finish(parsed: Parsed, origin: &str, params: &Params) -> Result<Arc<dyn Source>> {
    let mode = match params.task {
        FileTask::Classification => TargetMode::Classes(params.classes),
        FileTask::Regression => TargetMode::Values,
    };
    let (rows, kind) = csv::to_table(parsed, origin, mode)?;
    Ok(Arc::new(FileSource { rows, kind }))
}

/// The file's bytes, checked against a pinned digest, and the canonical parameters with the
/// file's digest in them.
pub(crate) fn read_file(pinned: Option<&str>, canonical: serde_json::Value, path: &Path) -> Result<(Vec<u8>, serde_json::Value)> {
    let origin = path.display();
    // The file's bytes and the table parsed from them are held together for a moment.
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    crate::memory::check(&format!("reading {origin}"), size as f64 * 2.0)?;
    let bytes = crate::files::read_bounded(path, crate::files::MAX_DATA_BYTES)
        .map_err(|e| Error::input(format!("cannot read dataset file {origin}: {e}")))?;
    let digest = crate::run::sha256_hex(&bytes);
    if let Some(pinned) = pinned {
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
    let path = resolve_path(&params.path, base);
    let origin = path.display().to_string();
    let (bytes, canonical) = read_file(params.sha256.as_deref(), canonical, &path)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::input(format!("{origin}: not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())))?;
    let parsed = csv::read(&text, &origin, &params.target)?;
    drop(text);
    Ok((finish(parsed, &origin, &params)?, canonical))
}

/// Column types read from Parquet: integers, floats and booleans as numbers, strings as text.
fn readable(dtype: &polars::prelude::ArrowDataType) -> bool {
    use polars::prelude::ArrowDataType as A;
    matches!(
        dtype,
        A::Boolean
            | A::Int8
            | A::Int16
            | A::Int32
            | A::Int64
            | A::UInt8
            | A::UInt16
            | A::UInt32
            | A::UInt64
            | A::Float16
            | A::Float32
            | A::Float64
            | A::Utf8
            | A::LargeUtf8
            | A::Utf8View
    )
}

/// Check a Parquet file's schema and size before reading it: every column of a readable type,
/// the table within the cell limit and the memory budget.
fn check_parquet(bytes: &[u8], origin: &str) -> Result<()> {
    use polars::prelude::*;
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let not_parquet =
        |e: PolarsError| Error::input(format!("{origin}: not a readable Parquet file: {}", crate::error::truncate(&e.to_string(), 200)));
    let schema = crate::error::catch_quietly(|| reader.schema())
        .map_err(|_| Error::input(format!("{origin}: not a readable Parquet file (corrupt metadata)")))?
        .map_err(not_parquet)?;
    for (name, field) in schema.iter() {
        if !readable(field.dtype()) {
            return Err(Error::input(format!(
                "{origin}: column `{}` has type {:?}, which lossbench does not read; allowed: integers, floats, booleans (features) and strings (labels)",
                crate::error::truncate(name, 40),
                field.dtype()
            )));
        }
    }
    let rows = crate::error::catch_quietly(|| reader.num_rows())
        .map_err(|_| Error::input(format!("{origin}: not a readable Parquet file (corrupt metadata)")))?
        .map_err(not_parquet)?;
    let columns = schema.len();
    super::check_size(rows as f64, columns.saturating_sub(1) as f64).map_err(|e| e.at(origin))?;
    // Decoded columns (f64), their row-major copy (f32) and the target cells.
    crate::memory::check(&format!("reading {origin} ({rows} rows × {columns} columns)"), rows as f64 * (columns as f64 * 12.0 + 40.0))
}

/// Read a Parquet file into the same form as a CSV, so that both share one set of checks.
/// Row numbers in messages count data rows from 1 (there is no header line).
fn read_parquet(bytes: Vec<u8>, origin: &str, target: &str) -> Result<Parsed> {
    use polars::prelude::*;
    check_parquet(&bytes, origin)?;
    // A corrupt file can make the Parquet reader panic rather than return an error.
    let read = crate::error::catch_quietly(|| ParquetReader::new(std::io::Cursor::new(bytes)).finish());
    let df = match read {
        Ok(Ok(df)) => df,
        Ok(Err(e)) => {
            return Err(Error::input(format!("{origin}: not a readable Parquet file: {}", crate::error::truncate(&e.to_string(), 200))))
        }
        Err(_) => return Err(Error::input(format!("{origin}: not a readable Parquet file (corrupt data)"))),
    };
    if df.height() == 0 {
        return Err(Error::input(format!("{origin}: the file has no data rows")));
    }
    let header: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let Some(t_col) = header.iter().position(|h| h == target) else {
        let hint = crate::registry::suggest(target, header.iter().map(String::as_str))
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        return Err(Error::input(format!("{origin}: no column named `{target}`; {hint}(columns: {})", header.join(", "))));
    };
    let d = header.len() - 1;
    if d == 0 {
        return Err(Error::input(format!("{origin}: the file has only the target column; no features")));
    }
    let n = df.height();
    let mut x = vec![0f32; n * d];
    let mut target_cells = csv::TargetCells::default();
    for (c, col) in df.columns().iter().enumerate() {
        let series = col.as_materialized_series();
        if c == t_col {
            target_cells = target_column(series, origin)?;
            continue;
        }
        let j = if c < t_col { c } else { c - 1 };
        let cast =
            series.cast(&DataType::Float64).map_err(|e| Error::input(format!("{origin}: column `{}` is not numeric: {e}", header[c])))?;
        let values = cast.f64().map_err(|e| Error::input(format!("{origin}: {e}")))?;
        let text = if series.dtype() == &DataType::String { series.str().ok() } else { None };
        for (r, v) in values.iter().enumerate() {
            let place = || format!("{origin} row {}: column {} (`{}`)", r + 1, c + 1, header[c]);
            let Some(v) = v else {
                // A text cell that does not parse casts to null, like an empty one.
                return Err(match text.and_then(|t| t.get(r)).filter(|t| !t.is_empty()) {
                    Some(t) => Error::input(format!("{}: `{}` is not a number", place(), crate::error::truncate(t, 40))),
                    None => Error::input(format!("{}: empty cell; every feature must be a number", place())),
                });
            };
            x[r * d + j] = csv::check_value(v, || format!("{v}"), place)?;
        }
    }
    Ok(Parsed { header, target_column: t_col, x, target: target_cells })
}

/// The target column's cells as text (numbers written as they read back).
fn target_column(series: &polars::prelude::Series, origin: &str) -> Result<csv::TargetCells> {
    use polars::prelude::*;
    let mut cells = csv::TargetCells::default();
    let row = format!("{origin} row");
    if series.dtype() == &DataType::String {
        let s = series.str().map_err(|e| Error::input(format!("{origin}: {e}")))?;
        // Label text is stored compactly in the file (a dictionary); copied out, it must fit.
        let (budget, _) = crate::memory::limit();
        for (r, v) in s.iter().enumerate() {
            cells.push(&row, r + 1, v.unwrap_or(""))?;
            if cells.bytes() as f64 > budget / 4.0 {
                return Err(Error::input(format!(
                    "{origin}: the label column holds more than {} of text once read (a quarter of the memory limit); use shorter labels",
                    crate::files::human_bytes(budget / 4.0)
                )));
            }
        }
    } else {
        let cast = series
            .cast(&DataType::Float64)
            .map_err(|e| Error::input(format!("{origin}: column `{}` is not numeric: {e}", series.name())))?;
        let f = cast.f64().map_err(|e| Error::input(format!("{origin}: {e}")))?;
        for (r, v) in f.iter().enumerate() {
            cells.push(&row, r + 1, &v.map(|x| format!("{x}")).unwrap_or_default())?;
        }
    }
    Ok(cells)
}

fn build_parquet(value: &serde_json::Value, base: &Path) -> crate::registry::Built<dyn Source> {
    let (params, canonical) = parse_params::<Params>(value)?;
    let path = resolve_path(&params.path, base);
    let origin = format!("{} row", path.display());
    let (bytes, canonical) = read_file(params.sha256.as_deref(), canonical, &path)?;
    let parsed = read_parquet(bytes, &path.display().to_string(), &params.target)?;
    Ok((finish(parsed, &origin, &params)?, canonical))
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
