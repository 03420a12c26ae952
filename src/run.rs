//! Run records and files: `run.json` and `metrics.csv` in one folder per run, written
//! atomically (temporary file in the same folder, then rename).
//!
//! `metrics.csv` is tidy (`epoch,split,metric,value`) and holds no timings, so the same recipe
//! and seed give a byte-identical file. `run.json` is written last: a folder with a readable
//! `run.json` whose status is `finished` or `diverged` is a completed run; anything else
//! (no file, a leftover temporary file, a `failed` status) is run again.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Version of the results layout; part of every config hash.
pub const FORMAT_VERSION: u32 = 1;

pub const RUN_FILE: &str = "run.json";
pub const METRICS_FILE: &str = "metrics.csv";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Status {
    Finished,
    /// The training loss became NaN or infinite during `epoch`; metrics stop there.
    Diverged {
        epoch: usize,
    },
    Failed {
        message: String,
    },
}

impl Status {
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Finished | Status::Diverged { .. })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub wall_s: f64,
    pub train_s: f64,
    pub eval_s: f64,
    pub started_unix: u64,
}

/// What the run trained on (after transforms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    pub n_train: usize,
    pub n_val: usize,
    pub n_test: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_class_counts: Option<Vec<usize>>,
    /// Train rows (0-based, in train-split order) whose label was corrupted.
    pub noisy_train_indices: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub lossbench_version: String,
    pub recipe: String,
    pub task: String,
    pub loss: String,
    pub optimizer: String,
    pub seed: u64,
    pub config_hash: String,
    pub config: serde_json::Value,
    pub device: String,
    pub status: Status,
    pub epochs_completed: usize,
    pub timings: Timings,
    pub data: DataSummary,
    /// Last evaluated value of each metric per split: `{split: {metric: value}}`. JSON has no
    /// NaN or infinity: non-finite values are written as `null` and read back as NaN (the exact
    /// values are in `metrics.csv`).
    #[serde(with = "non_finite_as_null")]
    pub final_metrics: std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
}

mod non_finite_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    type Metrics = BTreeMap<String, BTreeMap<String, f64>>;

    pub fn serialize<S: Serializer>(m: &Metrics, s: S) -> Result<S::Ok, S::Error> {
        let out: BTreeMap<&String, BTreeMap<&String, Option<f64>>> =
            m.iter().map(|(k, v)| (k, v.iter().map(|(n, x)| (n, x.is_finite().then_some(*x))).collect())).collect();
        out.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Metrics, D::Error> {
        let raw: BTreeMap<String, BTreeMap<String, Option<f64>>> = BTreeMap::deserialize(d)?;
        Ok(raw.into_iter().map(|(k, v)| (k, v.into_iter().map(|(n, x)| (n, x.unwrap_or(f64::NAN))).collect())).collect())
    }
}

/// One tidy row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub epoch: usize,
    pub split: &'static str,
    pub metric: String,
    pub value: f64,
}

/// Write `bytes` to `path` atomically: a temporary file beside it, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{unique}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
        f.write_all(bytes).map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
        f.sync_all().map_err(|e| Error::io(format!("cannot sync {}", tmp.display()), e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("cannot rename {} to {}", tmp.display(), path.display()), e))
}

/// Format a metric value so that it round-trips exactly (shortest representation).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{v}")
    }
}

pub fn metrics_csv(rows: &[MetricRow]) -> String {
    let mut out = String::from("epoch,split,metric,value\n");
    for r in rows {
        out.push_str(&format!("{},{},{},{}\n", r.epoch, r.split, r.metric, format_value(r.value)));
    }
    out
}

/// Write a finished (or diverged/failed) run: `metrics.csv` first, then `run.json`.
pub fn write_run(dir: &Path, record: &RunRecord, rows: &[MetricRow]) -> Result<()> {
    write_atomic(&dir.join(METRICS_FILE), metrics_csv(rows).as_bytes())?;
    let json = serde_json::to_string_pretty(record).map_err(|e| Error::runtime(e.to_string()))?;
    write_atomic(&dir.join(RUN_FILE), format!("{json}\n").as_bytes())
}

/// File of a run's final weights (with `train.save_weights`).
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Name of the `i`-th model variable in the weights file.
pub fn weight_name(i: usize) -> String {
    format!("param.{i:04}")
}

/// Write the final weights (in `Model::vars` order) as safetensors, atomically.
pub fn write_weights(dir: &Path, weights: &[candle_core::Tensor]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::runtime(format!("creating {}: {e}", dir.display())))?;
    let map: std::collections::HashMap<String, candle_core::Tensor> =
        weights.iter().enumerate().map(|(i, t)| (weight_name(i), t.clone())).collect();
    let tmp = dir.join(format!(".{WEIGHTS_FILE}.tmp{}", std::process::id()));
    candle_core::safetensors::save(&map, &tmp).map_err(|e| Error::runtime(format!("writing {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, dir.join(WEIGHTS_FILE)).map_err(|e| Error::runtime(format!("writing {}: {e}", dir.display())))
}

/// Read a run's weights file: tensors in `Model::vars` order.
pub fn read_weights(dir: &Path) -> Result<Vec<candle_core::Tensor>> {
    let path = dir.join(WEIGHTS_FILE);
    if !path.is_file() {
        return Err(Error::input(format!(
            "{} has no {WEIGHTS_FILE}; train with `--save-weights` (or `train: {{save_weights: true}}`) to keep the final weights",
            dir.display()
        )));
    }
    let map =
        candle_core::safetensors::load(&path, &candle_core::Device::Cpu).map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    let mut out = Vec::with_capacity(map.len());
    for i in 0..map.len() {
        out.push(
            map.get(&weight_name(i))
                .cloned()
                .ok_or_else(|| Error::input(format!("{}: missing tensor {}", path.display(), weight_name(i))))?,
        );
    }
    Ok(out)
}

/// The completed run in `dir`, if there is one (a missing or unreadable `run.json` is none).
pub fn read_record(dir: &Path) -> Option<RunRecord> {
    let text = std::fs::read_to_string(dir.join(RUN_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/run.json");
        write_atomic(&path, b"{}").unwrap();
        write_atomic(&path, b"{\"x\":1}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"x\":1}");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn non_finite_final_metrics_survive_a_json_round_trip() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("test".to_string(), [("loss".to_string(), f64::NAN), ("accuracy".to_string(), 0.5)].into_iter().collect());
        let record = RunRecord {
            lossbench_version: "0".into(),
            recipe: "r".into(),
            task: "t".into(),
            loss: "l".into(),
            optimizer: "o".into(),
            seed: 0,
            config_hash: "h".into(),
            config: serde_json::json!({}),
            device: "cpu".into(),
            status: Status::Diverged { epoch: 2 },
            epochs_completed: 1,
            timings: Timings::default(),
            data: DataSummary::default(),
            final_metrics: m,
        };
        let text = serde_json::to_string(&record).unwrap();
        assert!(text.contains("\"loss\":null"), "{text}");
        let back: RunRecord = serde_json::from_str(&text).unwrap();
        assert!(back.final_metrics["test"]["loss"].is_nan());
        assert_eq!(back.final_metrics["test"]["accuracy"], 0.5);
    }

    #[test]
    fn values_round_trip() {
        for v in [0.1, 1.0 / 3.0, 1e-300, 123456.789] {
            assert_eq!(format_value(v).parse::<f64>().unwrap(), v);
        }
        assert_eq!(format_value(f64::NAN), "NaN");
    }
}
