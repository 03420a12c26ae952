//! Run records and files: `run.json` and `metrics.csv` in one folder per run, written
//! atomically (temporary file in the same folder, then rename).
//!
//! `metrics.csv` is tidy (`epoch,split,metric,value`) and holds no timings, so the same recipe
//! and seed give a byte-identical file. `run.json` is written last and vouches for the files
//! beside it: it records the SHA-256 and row count of `metrics.csv` (and of the weights, when
//! kept). A folder is a completed run only when its `run.json` reads, its status is `finished`
//! or `diverged`, and `metrics.csv` matches the recorded digest ([`verify`]); anything else (no
//! file, a leftover temporary file, a truncated or foreign `metrics.csv`, a `failed` status) is
//! run again.
//!
//! A run folder is written only by the process holding its lock ([`RunLock`], an advisory lock
//! on `.lock`), so concurrent `train` processes on one results folder share a sweep's work
//! instead of training a run twice or mixing two runs' files.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

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
    /// Train rows that keep their label, with the semi-supervised `labelled` transform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labelled_train: Option<usize>,
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
    /// Digest of the `metrics.csv` written with this record (filled in by [`write_run`]). A
    /// record without it (an older layout) vouches for nothing, so its run is redone.
    #[serde(default)]
    pub metrics: Option<FileDigest>,
    /// Digest of `weights.safetensors`, when the run kept its weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<FileDigest>,
}

/// The SHA-256 (hex) and size of a file a record vouches for; `rows` counts a CSV's data rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub sha256: String,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
}

impl FileDigest {
    pub fn of(bytes: &[u8], rows: Option<usize>) -> Self {
        FileDigest { sha256: sha256_hex(bytes), bytes: bytes.len() as u64, rows }
    }
}

/// SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
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

/// Write `bytes` to `path` atomically: a temporary file beside it, fsync, rename. The temporary
/// file never outlives a failed write (a full disk, a vanished folder), and temporaries of the
/// same file left by a killed lossbench process on this machine are removed first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace_with(path, |tmp| write_and_sync(tmp, bytes))
}

/// Write `path` through `write` on a temporary file beside it, then rename it into place; the
/// temporary is removed when anything fails, and stale ones of the same file are removed first.
fn replace_with<T>(path: &Path, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    remove_stale_temps(dir, &name);
    let tmp = temp_path(dir, &name);
    let written = write(&tmp).and_then(|value| {
        std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("cannot rename {} to {}", tmp.display(), path.display()), e))?;
        Ok(value)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_and_sync(tmp: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(tmp).map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    f.write_all(bytes).map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    f.sync_all().map_err(|e| Error::io(format!("cannot sync {}", tmp.display()), e))
}

/// Marker between a file's name and the writer's process id in temporary file names.
const TEMP_MARK: &str = ".tmp-";

/// `.<name>.tmp-<pid>-<n>`: unique within the process, and telling which process wrote it.
fn temp_path(dir: &Path, name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!(".{name}{TEMP_MARK}{}-{unique}", std::process::id()))
}

/// The writer's process id of a temporary file name of ours, if `file` is one.
fn temp_writer(file: &str) -> Option<u32> {
    let rest = file.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(TEMP_MARK)?;
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` is alive on this machine (a temporary file of a live writer is left alone).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 sends nothing; it only checks that the process exists.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Remove temporaries of `name` in `dir` whose writer is no longer running (killed mid-write).
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}{TEMP_MARK}");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().to_string();
        if file.starts_with(&prefix) && temp_writer(&file).is_some_and(|pid| !alive(pid)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Remove every temporary file of ours in a run folder. Only the holder of the folder's
/// [`RunLock`] writes there, so under the lock any temporary is a leftover (of a killed process,
/// on any machine sharing the folder).
pub fn remove_temps(dir: &Path, _lock: &RunLock) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if temp_writer(&e.file_name().to_string_lossy()).is_some() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Name of the lock file in a run folder.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive advisory lock on a run folder (`flock` on `.lock`), held while the run is
/// checked, trained and written. The OS releases it when the process ends, however it ends, so
/// a killed process never leaves a folder locked.
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    fn open(dir: &Path) -> Result<std::fs::File> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let path = dir.join(LOCK_FILE);
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))
    }

    /// The lock, or `None` when another process holds it.
    pub fn try_acquire(dir: &Path) -> Result<Option<RunLock>> {
        let file = Self::open(dir)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(format!("cannot lock {}", dir.join(LOCK_FILE).display()), e)),
        }
    }

    /// The lock, waiting for another holder to finish.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        let file = Self::open(dir)?;
        file.lock().map_err(|e| Error::io(format!("cannot lock {}", dir.join(LOCK_FILE).display()), e))?;
        Ok(RunLock { _file: file })
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
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

/// Write a finished (or diverged/failed) run: the weights (if kept) and `metrics.csv` first,
/// then `run.json` with their digests. Call with the folder's [`RunLock`] held.
pub fn write_run(
    dir: &Path,
    record: &RunRecord,
    rows: &[MetricRow],
    weights: Option<&[candle_core::Tensor]>,
    _lock: &RunLock,
) -> Result<()> {
    let mut record = record.clone();
    let weights_path = dir.join(WEIGHTS_FILE);
    record.weights = match weights {
        Some(w) => Some(write_weights(&weights_path, w)?),
        None => {
            // Weights of an earlier run of another config must not pass for this run's.
            match std::fs::remove_file(&weights_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(format!("cannot remove {}", weights_path.display()), e));
                }
                _ => None,
            }
        }
    };
    let csv = metrics_csv(rows);
    write_atomic(&dir.join(METRICS_FILE), csv.as_bytes())?;
    record.metrics = Some(FileDigest::of(csv.as_bytes(), Some(rows.len())));
    // Pretty for people, unless the record lists so many noisy rows that one per line would
    // make it large.
    let json = if record.data.noisy_train_indices.len() > COMPACT_ABOVE {
        serde_json::to_string(&record)
    } else {
        serde_json::to_string_pretty(&record)
    }
    .map_err(|e| Error::runtime(e.to_string()))?;
    write_atomic(&dir.join(RUN_FILE), format!("{json}\n").as_bytes())
}

/// File of a run's final weights (with `train.save_weights`).
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Name of the `i`-th model variable in the weights file.
pub fn weight_name(i: usize) -> String {
    format!("param.{i:04}")
}

/// Write the final weights (in `Model::vars` order) as safetensors, atomically; their digest.
fn write_weights(path: &Path, weights: &[candle_core::Tensor]) -> Result<FileDigest> {
    let map: std::collections::HashMap<String, candle_core::Tensor> =
        weights.iter().enumerate().map(|(i, t)| (weight_name(i), t.clone())).collect();
    replace_with(path, |tmp| {
        candle_core::safetensors::save(&map, tmp).map_err(|e| Error::runtime(format!("writing {}: {e}", tmp.display())))?;
        let bytes = std::fs::read(tmp).map_err(|e| Error::io(format!("cannot read {}", tmp.display()), e))?;
        Ok(FileDigest::of(&bytes, None))
    })
}

/// Read a run's weights file (tensors in `Model::vars` order), checked against the digest its
/// `run.json` recorded.
pub fn read_weights(dir: &Path, record: &RunRecord) -> Result<Vec<candle_core::Tensor>> {
    let path = dir.join(WEIGHTS_FILE);
    let keep = "train with `--save-weights` (or `train: {save_weights: true}`) to keep the final weights";
    let Some(expected) = &record.weights else {
        return Err(Error::input(format!("{}: the run kept no weights; {keep}", dir.display())));
    };
    let bytes = check_weights(dir, expected).map_err(|why| {
        Error::input(format!(
            "{}: {why}; train the recipe again (with `--save-weights` if it was given) to restore the weights",
            dir.display()
        ))
    })?;
    let map = candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu)
        .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
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

/// Noisy train rows above which `run.json` is written compact.
const COMPACT_ABOVE: usize = 10_000;
/// Largest `run.json` read back: a record is a few kilobytes, plus the indices of noisy train
/// rows (up to 2^28, about 11 bytes each); it must also fit the memory budget.
const MAX_RECORD_BYTES: u64 = 4 << 30;
/// Largest `metrics.csv` read back.
pub const MAX_METRICS_BYTES: u64 = 1 << 30;

/// Why a folder does not hold a completed run.
#[derive(Debug, Clone, PartialEq)]
pub enum Unfinished {
    /// No `run.json` (never written, or the run is in progress).
    NoRecord,
    /// `run.json` exists but cannot be read or parsed.
    Unreadable(String),
    /// `metrics.csv` is missing, unreadable, or not the file `run.json` vouches for.
    Metrics(String),
}

impl std::fmt::Display for Unfinished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfinished::NoRecord => write!(f, "no {RUN_FILE}"),
            Unfinished::Unreadable(why) => write!(f, "its {RUN_FILE} cannot be read ({why})"),
            Unfinished::Metrics(why) => write!(f, "{why}"),
        }
    }
}

/// A run folder as read back: its record and its `metrics.csv` text.
pub struct Verified {
    pub record: RunRecord,
    pub metrics_csv: String,
}

/// The record in `dir`, whatever its status, if `run.json` reads.
pub fn read_record(dir: &Path) -> std::result::Result<RunRecord, Unfinished> {
    let path = dir.join(RUN_FILE);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    // Parsed, a record takes a few times its text.
    crate::memory::check(&format!("reading {}", path.display()), size as f64 * 4.0).map_err(|e| Unfinished::Unreadable(e.to_string()))?;
    let bytes = match crate::files::read_bounded(&path, MAX_RECORD_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unfinished::NoRecord),
        Err(e) => return Err(Unfinished::Unreadable(e.to_string())),
    };
    serde_json::from_slice(&bytes).map_err(|e| Unfinished::Unreadable(e.to_string()))
}

/// The completed run in `dir` with its `metrics.csv`, or why there is none. A failed run is
/// returned (compare counts it); a record whose `metrics.csv` is missing, truncated or foreign is
/// not, whatever its status says.
pub fn verify(dir: &Path) -> std::result::Result<Verified, Unfinished> {
    let record = read_record(dir)?;
    let Some(expected) = &record.metrics else {
        return Err(Unfinished::Metrics(format!("its {RUN_FILE} records no digest of {METRICS_FILE} (written by an older lossbench)")));
    };
    let bytes = crate::files::read_bounded(&dir.join(METRICS_FILE), MAX_METRICS_BYTES)
        .map_err(|e| Unfinished::Metrics(format!("{METRICS_FILE} cannot be read ({e})")))?;
    let rows = bytes.iter().filter(|&&b| b == b'\n').count().saturating_sub(1);
    if FileDigest::of(&bytes, Some(rows)) != *expected {
        return Err(Unfinished::Metrics(format!(
            "{METRICS_FILE} does not match the digest and row count in its {RUN_FILE} (truncated, edited or from another run)"
        )));
    }
    if let Some(weights) = &record.weights {
        check_weights(dir, weights).map_err(Unfinished::Metrics)?;
    }
    let metrics_csv = String::from_utf8(bytes).map_err(|_| Unfinished::Metrics(format!("{METRICS_FILE} is not UTF-8")))?;
    Ok(Verified { record, metrics_csv })
}

/// That the weights file is the one `expected` describes (its size first, then its digest).
fn check_weights(dir: &Path, expected: &FileDigest) -> std::result::Result<Vec<u8>, String> {
    let path = dir.join(WEIGHTS_FILE);
    let mismatch = || format!("{WEIGHTS_FILE} does not match the digest in its {RUN_FILE} (changed, or from another run)");
    let size = std::fs::metadata(&path).map_err(|e| format!("{WEIGHTS_FILE} cannot be read ({e})"))?.len();
    if size != expected.bytes {
        return Err(mismatch());
    }
    let bytes =
        crate::files::read_bounded(&path, crate::files::MAX_WEIGHTS_BYTES).map_err(|e| format!("{WEIGHTS_FILE} cannot be read ({e})"))?;
    if FileDigest::of(&bytes, None) != *expected {
        return Err(mismatch());
    }
    Ok(bytes)
}

/// Whether `dir` holds a completed (finished or diverged) run of exactly this config.
pub fn is_done(dir: &Path, hash: &str) -> bool {
    verify(dir).is_ok_and(|v| v.record.config_hash == hash && v.record.status.is_complete())
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
            metrics: None,
            weights: None,
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
