//! Step 1 of a comparison: find run folders, read back the completed ones, and count each run
//! once.
//!
//! A folder counts only when its `run.json` vouches for its `metrics.csv` ([`run::verify`]);
//! any other folder is skipped and named, so a truncated or foreign file never passes for a
//! result. One run reached twice — the same folder through two paths or a link, or a copy of a
//! folder — is counted once: runs are the same when their configurations (apart from the recipe
//! name) and seeds are, since those determine every number.

use super::keys::{self, Keys};
use crate::error::{Error, Result};
use crate::run::{self, Status, RUN_FILE};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One metric value of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub epoch: usize,
    pub split: &'static str,
    pub metric: Arc<str>,
    pub value: f64,
}

/// A completed run as a comparison needs it: what it is, how it is grouped, and the metric
/// values that were asked for (not its whole `metrics.csv`, so a large sweep stays small).
#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub dir: PathBuf,
    pub recipe: String,
    pub task: String,
    pub loss: String,
    pub optimizer: String,
    pub seed: u64,
    pub status: Status,
    pub keys: Keys,
    /// The labels of the task's metrics with their direction (higher is better); the first is
    /// compared by default.
    pub metrics: Vec<(String, bool)>,
    pub rows: Vec<Point>,
}

impl LoadedRun {
    /// The task's first metric (compared when no `--metric` is given).
    pub fn first_metric(&self) -> Option<&str> {
        self.metrics.first().map(|(m, _)| m.as_str())
    }

    /// Whether a higher value of the metric recorded as `label` is better.
    pub fn higher_is_better(&self, label: &str) -> bool {
        self.metrics.iter().find(|(m, _)| m == label).map_or_else(|| crate::metrics::higher_is_better(label), |(_, h)| *h)
    }
}

/// Which rows of each `metrics.csv` to keep: those of `split` for `metric` (each run's first
/// metric when `None`), and the validation rows of `select_by`.
#[derive(Debug, Clone)]
pub struct RowFilter {
    pub split: String,
    pub metric: Option<String>,
    pub select_by: Option<String>,
    /// Further splits whose rows of the metric are kept (a claim's contrast on another split).
    pub extra_splits: Vec<String>,
}

/// `--where KEY=VALUE`: keep runs whose config has VALUE at the dotted path KEY.
#[derive(Debug, Clone, PartialEq)]
pub struct Where {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for Where {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok(Where { key: k.trim().to_string(), value: v.trim().to_string() }),
            _ => Err(Error::input(format!(
                "--where `{}`: expected KEY=VALUE with KEY a config path such as optimizer.lr, loss.gamma or task.dataset.n",
                crate::error::truncate(s, 80)
            ))),
        }
    }
}

impl Where {
    /// Whether `config` has the wanted value at the key's path; a component (`loss`,
    /// `optimizer`, `task`) is selected by its label or its name (`loss=focal`).
    pub fn selects(&self, config: &serde_json::Value) -> bool {
        let component = self.key.split('.').try_fold(config, |v, k| v.get(k)).filter(|v| v.is_object());
        if let Some(c) = component {
            return ["label", "name"].iter().any(|k| c.get(*k).and_then(|v| v.as_str()) == Some(self.value.as_str()));
        }
        keys::value_at(config, &self.key).is_some_and(|v| keys::matches(&v, &self.value))
    }
}

/// What a search of result folders found.
#[derive(Debug, Default)]
pub struct Gathered {
    pub runs: Vec<LoadedRun>,
    /// Folders with a `run.json` that are not completed runs, and why.
    pub skipped: Vec<(PathBuf, String)>,
    /// (counted, left out): one run reached twice.
    pub duplicates: Vec<(PathBuf, PathBuf)>,
    /// Every metric name the runs recorded (for messages and suggestions).
    pub metric_names: BTreeSet<String>,
}

impl Gathered {
    /// Runs read elsewhere (tests), with their metric names.
    pub fn from_runs(runs: Vec<LoadedRun>) -> Self {
        let metric_names = runs.iter().flat_map(|r| r.rows.iter().map(|p| p.metric.to_string())).collect();
        Gathered { runs, metric_names, ..Default::default() }
    }

    /// The warnings a user should see on stderr: skipped folders and runs counted once.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .skipped
            .iter()
            .map(|(dir, why)| format!("skipped {}: not a finished run: {why} (`train` redoes it)", dir.display()))
            .collect();
        if let Some((kept, dropped)) = self.duplicates.first() {
            let more = match self.duplicates.len() {
                1 => String::new(),
                n => format!(" ({n} runs in all)"),
            };
            out.push(format!(
                "{} is the same run as {} (same configuration and seed); counted once{more}",
                dropped.display(),
                kept.display()
            ));
        }
        out
    }
}

/// Every folder holding a `run.json` under `path`, as [`collect_dirs`] finds them.
pub fn run_dirs(path: &Path) -> Vec<PathBuf> {
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    collect_dirs(path, &mut HashSet::new(), &mut out, &mut skipped);
    out
}

/// Every folder holding a `run.json` under `path` (any depth, following links, each real folder
/// once so a link cycle ends). Unreadable subfolders are skipped and named.
fn collect_dirs(path: &Path, seen: &mut HashSet<PathBuf>, out: &mut Vec<PathBuf>, skipped: &mut Vec<(PathBuf, String)>) {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(real) {
        return;
    }
    if path.join(RUN_FILE).is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => {
            skipped.push((path.to_path_buf(), format!("the folder cannot be read ({e})")));
            return;
        }
    };
    let mut subdirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for d in subdirs {
        collect_dirs(&d, seen, out, skipped);
    }
}

/// Parse a verified `metrics.csv`, keeping the rows `keep` wants; every metric name goes into
/// `names` (interned, so runs share one copy of each).
fn parse_rows(
    text: &str,
    keep: impl Fn(&str, &str) -> bool,
    names: &mut HashMap<String, Arc<str>>,
) -> std::result::Result<Vec<Point>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let bad = || format!("{}:{}: expected `epoch,split,metric,value`", run::METRICS_FILE, i + 1);
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 4 {
            return Err(bad());
        }
        let split = match f[1] {
            "train" => "train",
            "val" => "val",
            "test" => "test",
            _ => return Err(bad()),
        };
        let metric = match names.get(f[2]) {
            Some(m) => m.clone(),
            None => {
                let m: Arc<str> = Arc::from(f[2]);
                names.insert(f[2].to_string(), m.clone());
                m
            }
        };
        if keep(split, f[2]) {
            let epoch = f[0].parse().map_err(|_| bad())?;
            let value = f[3].parse::<f64>().map_err(|_| bad())?;
            rows.push(Point { epoch, split, metric, value });
        }
    }
    Ok(rows)
}

/// Read one verified folder: `None` when `--where` leaves it out; an error (why it is not a
/// finished run) also when it holds another config than `expected_hash`.
fn load(
    dir: &Path,
    filter: &RowFilter,
    wheres: &[Where],
    expected_hash: Option<&str>,
    names: &mut HashMap<String, Arc<str>>,
) -> std::result::Result<Option<LoadedRun>, String> {
    let verified = run::verify(dir).map_err(|e| e.to_string())?;
    let record = verified.record;
    if let Some(hash) = expected_hash.filter(|h| *h != record.config_hash) {
        return Err(format!("it holds a run of another configuration (config hash {}, planned {hash})", record.config_hash));
    }
    if !wheres.iter().all(|w| w.selects(&record.config)) {
        return Ok(None);
    }
    let metrics = keys::metric_directions(&record.config);
    let compared = filter.metric.clone().or_else(|| metrics.first().map(|(m, _)| m.clone()));
    let keep = |split: &str, metric: &str| {
        let on_split = split == filter.split || filter.extra_splits.iter().any(|s| s == split);
        (on_split && compared.as_deref() == Some(metric)) || (split == "val" && filter.select_by.as_deref() == Some(metric))
    };
    let rows = parse_rows(&verified.metrics_csv, keep, names)?;
    Ok(Some(LoadedRun {
        dir: dir.to_path_buf(),
        keys: Keys::of(&record.config),
        recipe: record.recipe,
        task: record.task,
        loss: record.loss,
        optimizer: record.optimizer,
        seed: record.seed,
        status: record.status,
        metrics,
        rows,
    }))
}

/// The runs of a plan, read from their folders: those holding a completed run of exactly the
/// planned config (`(folder, config hash)`), and the folders that do not, with why. A folder
/// that does not read is read again under its lock, in case another process was rewriting it.
pub fn gather_plan(planned: &[(PathBuf, &str)], filter: &RowFilter) -> (Gathered, Vec<(PathBuf, String)>) {
    let mut gathered = Gathered::default();
    let mut missing = Vec::new();
    let mut names = HashMap::new();
    for (dir, hash) in planned {
        let mut loaded = load(dir, filter, &[], Some(hash), &mut names);
        if loaded.is_err() && dir.is_dir() {
            if let Ok(_lock) = run::RunLock::acquire(dir) {
                loaded = load(dir, filter, &[], Some(hash), &mut names);
            }
        }
        match loaded {
            Ok(Some(run)) => gathered.runs.push(run),
            Ok(None) => {}
            Err(why) => missing.push((dir.clone(), why)),
        }
    }
    gathered.metric_names = names.into_keys().collect();
    (gathered, missing)
}

/// The error when `--where` left out every run: a key no run has (with a suggestion), or
/// values none has.
fn nothing_selected(wheres: &[Where], first_left_out: &Path, left_out: usize) -> Error {
    let known = run::read_record(first_left_out).map(|r| keys::flatten(&r.config)).unwrap_or_default();
    for w in wheres {
        if !known.contains_key(&w.key) && known.keys().all(|k| !k.starts_with(&format!("{}.", w.key))) {
            let hint = crate::registry::suggest(&w.key, known.keys().map(String::as_str))
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            return Error::input(format!(
                "--where {}: runs have no config key `{}`; {hint}(keys look like optimizer.lr, loss.gamma, train.epochs)",
                w.key, w.key
            ));
        }
    }
    let given: Vec<String> = wheres.iter().map(|w| format!("{}={}", w.key, w.value)).collect();
    Error::input(format!("--where {}: none of the {left_out} finished runs matches", given.join(" --where ")))
}

/// Every completed run under `paths` (any depth), each counted once, with the rows `filter`
/// asks for and only those `wheres` select.
pub fn gather(paths: &[PathBuf], filter: &RowFilter, wheres: &[Where]) -> Result<Gathered> {
    let mut dirs = Vec::new();
    let mut gathered = Gathered::default();
    for p in paths {
        if !p.exists() {
            return Err(Error::input(format!("{} does not exist", p.display())));
        }
        collect_dirs(p, &mut HashSet::new(), &mut dirs, &mut gathered.skipped);
    }
    // One folder reached through two of the paths (overlapping, or named twice).
    let mut real_dirs: HashMap<PathBuf, PathBuf> = HashMap::new();
    dirs.retain(|d| {
        let real = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
        match real_dirs.get(&real) {
            Some(first) => {
                gathered.duplicates.push((first.clone(), d.clone()));
                false
            }
            None => {
                real_dirs.insert(real, d.clone());
                true
            }
        }
    });
    let mut names = HashMap::new();
    // (configuration, seed) → index in `runs`.
    let mut counted: HashMap<(String, u64), usize> = HashMap::new();
    let mut left_out: (usize, Option<PathBuf>) = (0, None);
    for dir in dirs {
        let run = match load(&dir, filter, wheres, None, &mut names) {
            Ok(Some(run)) => run,
            Ok(None) => {
                left_out.0 += 1;
                left_out.1.get_or_insert(dir);
                continue;
            }
            Err(why) => {
                gathered.skipped.push((dir, why));
                continue;
            }
        };
        let key = (run.keys.config.clone(), run.seed);
        match counted.get(&key) {
            // A copy that completed beats one that failed.
            Some(&i) if !gathered.runs[i].status.is_complete() && run.status.is_complete() => {
                gathered.duplicates.push((dir, gathered.runs[i].dir.clone()));
                gathered.runs[i] = run;
            }
            Some(&i) => gathered.duplicates.push((gathered.runs[i].dir.clone(), dir)),
            None => {
                counted.insert(key, gathered.runs.len());
                gathered.runs.push(run);
            }
        }
    }
    if let (true, Some(first)) = (gathered.runs.is_empty(), &left_out.1) {
        return Err(nothing_selected(wheres, first, left_out.0));
    }
    gathered.metric_names = names.into_keys().collect();
    Ok(gathered)
}
