//! Datasets: shipped real data, the user's own files, and seeded generators.
//!
//! A dataset entry ([`DatasetInfo`]) parses its parameters and returns a [`Source`]; the source
//! loads a [`RawData`] (all rows, or rows with a fixed train/test split) for a given seed, and
//! [`transforms::prepare`] turns it into train/val/test [`Table`]s (split, long-tail
//! sub-sampling, label noise, standardisation — in that order, all on the train split only
//! except the split itself).

pub mod blobs;
pub mod by_class;
pub mod csv;
pub mod ltr_file;
pub mod ltr_synth;
pub mod modular_arith;
pub mod multilabel_synth;
pub mod poly_target;
pub mod recsys_synth;
pub mod shipped;
pub mod spirals;
pub mod spurious_synth;
pub mod transforms;
pub mod two_moons;
pub mod user_file;
pub mod xor_cluster;

use crate::error::Result;
use crate::registry::{Named, ParamDoc};
use crate::task::TaskKind;
use serde::Serialize;

/// Rows of examples, row-major features.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `[n, d]` row-major.
    pub x: Vec<f32>,
    pub d: usize,
    pub y: Labels,
}

/// Targets of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// Class ids in `0..classes`.
    Classes(Vec<u32>),
    /// `[n, k]` row-major real targets.
    Values { data: Vec<f32>, k: usize },
}

impl Table {
    pub fn len(&self) -> usize {
        match &self.y {
            Labels::Classes(y) => y.len(),
            Labels::Values { data, k } => data.len() / (*k).max(1),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Table {
        let mut x = Vec::with_capacity(indices.len() * self.d);
        for &i in indices {
            x.extend_from_slice(&self.x[i * self.d..(i + 1) * self.d]);
        }
        let y = match &self.y {
            Labels::Classes(y) => Labels::Classes(indices.iter().map(|&i| y[i]).collect()),
            Labels::Values { data, k } => {
                let mut out = Vec::with_capacity(indices.len() * k);
                for &i in indices {
                    out.extend_from_slice(&data[i * k..(i + 1) * k]);
                }
                Labels::Values { data: out, k: *k }
            }
        };
        Table { x, d: self.d, y }
    }
    pub fn classes(&self) -> Option<&[u32]> {
        match &self.y {
            Labels::Classes(y) => Some(y),
            Labels::Values { .. } => None,
        }
    }
}

/// How a model reads a row of `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum InputKind {
    /// Real-valued features.
    Dense { features: usize },
    /// Integer token ids in `0..vocab` stored as floats, `len` tokens per row.
    Tokens { vocab: usize, len: usize },
    /// A list of `items` items of `features` real-valued features each, item after item
    /// (`items × features` values per row; padding items are zeros).
    Items { items: usize, features: usize },
    /// A user id and item ids (`[user, item_1, …]`, stored as floats) of `users` users and
    /// `items` items.
    Interactions { users: usize, items: usize },
}

/// The group of every row, ids in `0..names.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    pub ids: Vec<u32>,
    pub names: Vec<String>,
}

/// What a source loads.
#[derive(Debug, Clone)]
pub struct RawData {
    pub kind: TaskKind,
    pub input: InputKind,
    pub rows: Table,
    /// Indices of train and test rows when the dataset defines its own split
    /// (e.g. modular arithmetic's train fraction); `None` lets the split transform decide.
    pub fixed_split: Option<(Vec<usize>, Vec<usize>)>,
    /// Validation rows of a fixed split (empty: the split has none).
    pub fixed_val: Vec<usize>,
    /// The group of every row (subpopulations such as `spurious_synth`'s class × attribute),
    /// for `group_dro` and the worst-group metric.
    pub groups: Option<Groups>,
    /// Whether standardising the inputs makes sense by default (false for one-hot/tokens).
    pub standardize_by_default: bool,
    /// Rows whose labels the generator itself corrupted (recorded in the run).
    pub noisy: Vec<usize>,
    /// The uncorrupted class ids of all rows, when the generator corrupted some.
    pub clean_labels: Option<Vec<u32>>,
}

impl RawData {
    /// Rows of real-valued features with nothing of their own to add (no fixed split, no
    /// corruption by the generator), standardised by default: what most generators and files
    /// give. Others start from this and set what differs.
    pub fn dense(kind: TaskKind, rows: Table) -> RawData {
        RawData {
            kind,
            input: InputKind::Dense { features: rows.d },
            rows,
            fixed_split: None,
            fixed_val: Vec::new(),
            groups: None,
            standardize_by_default: true,
            noisy: Vec::new(),
            clean_labels: None,
        }
    }
}

/// The registry `build` of a generator whose parsed, range-checked parameters are its source.
pub fn build_generator<P>(value: &serde_json::Value, _base: &std::path::Path) -> crate::registry::Built<dyn Source>
where
    P: serde::de::DeserializeOwned + Serialize + crate::registry::Validate + Source + 'static,
{
    let (params, canonical) = crate::registry::parse_params::<P>(value)?;
    Ok((std::sync::Arc::new(params), canonical))
}

/// A parsed dataset, ready to load rows for a seed.
pub trait Source: Send + Sync {
    /// The task kind, known without loading (used by resolve to match losses and metrics).
    fn kind(&self) -> TaskKind;
    /// Load all rows; generators draw from the `Data` stream of `seed`.
    fn load(&self, seed: u64) -> Result<RawData>;
}

/// A registry entry for a dataset or generator.
pub struct DatasetInfo {
    pub name: &'static str,
    pub summary: &'static str,
    /// `classification` or `regression`, for listings.
    pub family: &'static str,
    pub reference: &'static str,
    pub params: &'static [ParamDoc],
    /// Parse parameters (with the recipe's folder to resolve relative paths) into a source and
    /// the canonical parameter JSON.
    pub build: fn(&serde_json::Value, &std::path::Path) -> crate::registry::Built<dyn Source>,
}

impl Named for DatasetInfo {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Every dataset and generator, sorted by name.
pub static DATASETS: &[&DatasetInfo] = &[
    &blobs::INFO,
    &by_class::BLOBS_MANY,
    &shipped::BREAST_CANCER,
    &user_file::CSV,
    &shipped::DIABETES,
    &shipped::DIGITS,
    &by_class::DIGITS_DML,
    &shipped::IRIS,
    &ltr_file::LETOR,
    &ltr_file::LTR_CSV,
    &ltr_synth::INFO,
    &modular_arith::INFO,
    &multilabel_synth::INFO,
    &user_file::PARQUET,
    &poly_target::INFO,
    &recsys_synth::INFO,
    &spirals::INFO,
    &spurious_synth::INFO,
    &two_moons::INFO,
    &shipped::WINE,
    &xor_cluster::INFO,
];

/// Largest dataset lossbench generates or loads, in feature cells (rows × features): 2^28,
/// 1 GiB of f32. Beyond it a generator's parameters are an input error rather than an
/// allocation failure.
pub const MAX_CELLS: f64 = (1u64 << 28) as f64;

/// Reject a generated dataset of `rows` × `features` cells above [`MAX_CELLS`].
pub fn check_size(rows: f64, features: f64) -> crate::error::Result<()> {
    if rows * features > MAX_CELLS {
        return Err(crate::error::Error::input(format!(
            "the dataset would have {rows} rows × {features} features = {:.3e} cells; lossbench's limit is {:.3e} (2^28)",
            rows * features,
            MAX_CELLS
        )));
    }
    Ok(())
}

/// Largest number of classes (or labels) a task may have.
pub const MAX_CLASSES: usize = 100_000;

/// The rows of each class present, classes in increasing id order, rows in order.
pub fn rows_by_class(labels: &[u32]) -> Vec<Vec<usize>> {
    let mut map: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &c) in labels.iter().enumerate() {
        map.entry(c).or_default().push(i);
    }
    map.into_values().collect()
}

/// Count examples per class (`classes` bins).
pub fn class_counts(labels: &[u32], classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for &y in labels {
        if (y as usize) < classes {
            counts[y as usize] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_sorted_unique() {
        crate::registry::check_sorted_unique(DATASETS).unwrap();
    }

    #[test]
    fn every_dataset_loads_with_defaults_and_matches_its_kind() {
        let here = std::path::Path::new(".");
        for info in DATASETS {
            if matches!(info.name, "csv" | "parquet" | "letor" | "ltr_csv") {
                continue;
            }
            let (source, _) = (info.build)(&serde_json::Value::Null, here).unwrap();
            let raw = source.load(0).unwrap();
            assert_eq!(raw.kind, source.kind(), "{}", info.name);
            assert!(raw.rows.len() > 10, "{}", info.name);
            assert_eq!(raw.rows.x.len(), raw.rows.len() * raw.rows.d, "{}", info.name);
            if let (TaskKind::Classification { classes }, Labels::Classes(y)) = (raw.kind, &raw.rows.y) {
                assert!(y.iter().all(|&c| (c as usize) < classes), "{}", info.name);
            }
            assert!(raw.rows.x.iter().all(|v| v.is_finite()), "{}", info.name);
        }
    }
}
