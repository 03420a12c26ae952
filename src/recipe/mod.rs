//! Recipes: the YAML schema, loading, and resolution into a [`Plan`] of runs.
//!
//! This is the only module that touches `serde_yaml`. Parsing happens in two stages:
//!
//! 1. the recipe's structure is parsed with `deny_unknown_fields`, so a misspelt key fails with
//!    the file, line and column serde_yaml reports;
//! 2. every component (`{name: focal, label: g1, gamma: 1.0}`) is looked up in its registry and
//!    its parameters parsed by that component's own `Params` (defaults, range checks). These
//!    errors carry the component's path (`losses[2] (focal)`) and, where the offending token can
//!    be found in the file, its line and column.
//!
//! Resolution also loads each task's dataset once, so a malformed data file, a model that does
//! not fit the data, or a loss or metric that fits no task is reported before any training.

use crate::data::transforms::{Transforms, TRANSFORM_KEYS};
use crate::data::{Source, DATASETS};
use crate::error::{Error, Result};
use crate::losses::{Loss, LossInfo, LOSSES};
use crate::memory::{RunEstimate, Sizes};
use crate::metrics::{Metric, METRICS};
use crate::models::{ModelSpec, MODELS};
use crate::optim::schedule::Schedule;
use crate::optim::{OptimizerSpec, OPTIMIZERS};
use crate::registry::lookup;
use crate::regularizers::{Resolved, REGULARIZERS};
use crate::task::{Family, TaskKind};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod expand;
pub mod grid;
mod overrides;

/// A component as written: a bare name or a mapping with `name`, optional `label` and params.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub label: Option<String>,
    /// The remaining keys, as JSON (an object).
    pub params: serde_json::Value,
    /// `(parameter, value)` of each grid axis, when the entry is one point of a grid written
    /// in the recipe ([`grid`]): they end its label.
    pub grid: Vec<(String, String)>,
    /// Its index in the list as written, once grids have expanded the list.
    pub origin: Option<usize>,
}

impl Component {
    pub fn new(name: impl Into<String>, label: Option<String>, params: serde_json::Value) -> Component {
        Component { name: name.into(), label, params, grid: Vec::new(), origin: None }
    }

    /// A bare name, with default parameters.
    pub fn named(name: impl Into<String>) -> Component {
        Component::new(name, None, serde_json::json!({}))
    }

    /// `section[i] (name)` in messages, `i` as written, with a grid point's values.
    fn place(&self, section: &str, i: usize) -> String {
        let i = self.origin.unwrap_or(i);
        match self.grid.is_empty() {
            true => format!("{section}[{i}] ({})", self.name),
            false => {
                let parts: Vec<String> = self.grid.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{section}[{i}] ({}, {})", self.name, parts.join(", "))
            }
        }
    }

    /// `section[i]`, `i` as written.
    fn index(&self, section: &str, i: usize) -> String {
        format!("{section}[{}]", self.origin.unwrap_or(i))
    }
}

impl<'de> Deserialize<'de> for Component {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = serde_yaml::Value::deserialize(d)?;
        match value {
            serde_yaml::Value::String(name) => Ok(Component::named(name)),
            serde_yaml::Value::Mapping(map) => {
                let mut params = serde_json::Map::new();
                let (mut name, mut label) = (None, None);
                for (k, v) in map {
                    let key = k.as_str().ok_or_else(|| D::Error::custom("keys must be strings"))?.to_string();
                    match key.as_str() {
                        "name" => name = Some(v.as_str().ok_or_else(|| D::Error::custom("`name` must be a string"))?.to_string()),
                        "label" => label = Some(scalar_to_string(&v).ok_or_else(|| D::Error::custom("`label` must be a string"))?),
                        _ => {
                            if let Some(bad) = non_finite(&v) {
                                return Err(D::Error::custom(format!(
                                    "`{key}`: {bad} is not a finite number (NaN and infinities are not allowed)"
                                )));
                            }
                            let json = serde_json::to_value(&v).map_err(|e| D::Error::custom(format!("`{key}`: {e}")))?;
                            params.insert(key, json);
                        }
                    }
                }
                let name = name.ok_or_else(|| D::Error::custom("missing field `name` (which registry entry to use)"))?;
                Ok(Component::new(name, label, serde_json::Value::Object(params)))
            }
            other => {
                Err(D::Error::custom(format!("expected a name or a mapping with `name:` and parameters, found {}", yaml_kind(&other))))
            }
        }
    }
}

/// The first NaN or infinity in a YAML value, as written (`.nan`, `.inf`): JSON, which
/// parameters are parsed from, has no such numbers, and would turn them into `null`.
fn non_finite(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::Number(n) => n.as_f64().filter(|x| !x.is_finite()).map(|x| {
            if x.is_nan() {
                ".nan".to_string()
            } else if x > 0.0 {
                ".inf".to_string()
            } else {
                "-.inf".to_string()
            }
        }),
        serde_yaml::Value::Sequence(items) => items.iter().find_map(non_finite),
        serde_yaml::Value::Mapping(map) => map.values().find_map(non_finite),
        serde_yaml::Value::Tagged(t) => non_finite(&t.value),
        _ => None,
    }
}

fn scalar_to_string(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn yaml_kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "nothing",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// Numeric precision of the model, data and loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    #[default]
    F32,
    F64,
}

impl Precision {
    pub fn dtype(self) -> candle_core::DType {
        match self {
            Precision::F32 => candle_core::DType::F32,
            Precision::F64 => candle_core::DType::F64,
        }
    }
}

/// The `train:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    pub epochs: usize,
    pub batch_size: usize,
    #[serde(deserialize_with = "schedule_from_yaml")]
    pub schedule: Schedule,
    /// Linear warm-up, in optimizer steps.
    pub warmup: usize,
    /// Clip gradients to this global L2 norm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    /// Evaluate every N epochs (and always after the first and the last).
    pub eval_every: usize,
    pub dtype: Precision,
    /// Save each run's final weights as `weights.safetensors` (for `lossbench landscape`).
    /// Left out of the config when false, so runs without it keep their hash.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub save_weights: bool,
    /// Measure the final weights' sharpness and record it as train-split metrics
    /// (`sharpness_rho`, `hessian_top_eig`). Left out of the config when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<SharpnessSpec>,
    /// Epochs at which curves first reach levels, recorded as metrics (`train::milestones`).
    /// Left out of the config when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<crate::train::milestones::Milestone>,
}

/// `train.sharpness`: ρ-sharpness `max_{‖ε‖≤ρ} L(θ+ε) − L(θ)` by `steps` projected ascent
/// steps, and the top Hessian eigenvalue by `power_iters` power iterations, both of the task
/// loss in f64 on the train split's first 1 000 rows (as `lossbench landscape`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SharpnessSpec {
    pub rho: f64,
    pub steps: usize,
    pub power_iters: usize,
}

impl Default for SharpnessSpec {
    fn default() -> Self {
        SharpnessSpec { rho: 0.05, steps: 5, power_iters: 20 }
    }
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: 20,
            batch_size: 64,
            schedule: Schedule::Constant,
            warmup: 0,
            grad_clip: None,
            eval_every: 1,
            dtype: Precision::F32,
            save_weights: false,
            sharpness: None,
            milestones: Vec::new(),
        }
    }
}

/// Most epochs a run may have.
pub const MAX_EPOCHS: usize = 10_000_000;

/// `schedule: cosine` and `schedule: {name: cosine, min_factor: 0.1}` both work.
fn schedule_from_yaml<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Schedule, D::Error> {
    use serde::de::Error as _;
    let value = serde_yaml::Value::deserialize(d)?;
    let value = match value {
        serde_yaml::Value::String(s) => {
            let mut m = serde_yaml::Mapping::new();
            m.insert("name".into(), s.into());
            serde_yaml::Value::Mapping(m)
        }
        other => other,
    };
    Schedule::deserialize(value).map_err(|e| D::Error::custom(format!("schedule: {e}")))
}

impl TrainSettings {
    fn validate(&self) -> Result<()> {
        let in_range = |name: &str, v: usize, lo: usize, hi: usize| -> Result<()> {
            if v < lo || v > hi {
                return Err(Error::input(format!("train.{name} = {v} is out of range; allowed: {lo}..={hi}")));
            }
            Ok(())
        };
        in_range("epochs", self.epochs, 1, MAX_EPOCHS)?;
        in_range("batch_size", self.batch_size, 1, 1 << 24)?;
        in_range("eval_every", self.eval_every, 1, 10_000_000)?;
        if let Some(c) = self.grad_clip {
            crate::registry::check_range("train.grad_clip", c, 1e-12, 1e12)?;
        }
        if let Some(s) = &self.sharpness {
            crate::registry::check_range("train.sharpness.rho", s.rho, 1e-9, 100.0)?;
            in_range("sharpness.steps", s.steps, 1, 100)?;
            in_range("sharpness.power_iters", s.power_iters, 1, 1000)?;
        }
        self.schedule.validate()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    name: String,
    dataset: Component,
    #[serde(default)]
    model: Option<Component>,
    #[serde(default)]
    metrics: Option<Vec<Component>>,
    /// Regularizers for every run of this task.
    #[serde(default)]
    regularizers: Option<Vec<Component>>,
    /// Its index in `tasks:` as written, once grids have expanded the list.
    #[serde(skip)]
    origin: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a recipe: a mapping with `tasks:` and `losses:` (and optionally name, description, seeds, train, optimizers, regularizers)"
)]
struct RawRecipe {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// A list, a count or ranges ([`seeds_from_yaml`]).
    #[serde(default)]
    seeds: Option<serde_yaml::Value>,
    /// Parsed into [`TrainSettings`] after its grid is expanded.
    #[serde(default)]
    train: Option<serde_yaml::Value>,
    tasks: Vec<RawTask>,
    losses: Vec<Component>,
    #[serde(default)]
    optimizers: Option<Vec<Component>>,
    /// Regularizers for every run.
    #[serde(default)]
    regularizers: Option<Vec<Component>>,
    /// A claim file's decision rule (`lossbench claims`); checked here, unused by training.
    #[serde(default)]
    claim: Option<serde_yaml::Value>,
}

/// `seeds: [0, 1, 2]`, `seeds: 10` (seeds 0 to 9) or `seeds: "0-9"` (as `--seeds`).
fn seeds_from_yaml(value: &serde_yaml::Value) -> Result<Vec<u64>> {
    let bad = || Error::input(format!("expected a list of seeds, a count (`10`) or ranges (`\"0-9\"`), found {}", yaml_kind(value)));
    match value {
        serde_yaml::Value::Number(n) => match n.as_u64() {
            Some(k) if (1..=MAX_RUNS as u64).contains(&k) => Ok((0..k).collect()),
            _ => Err(Error::input(format!("{n} is not a count of seeds; allowed: 1..={MAX_RUNS}"))),
        },
        serde_yaml::Value::String(s) => parse_seeds(s, "seeds"),
        serde_yaml::Value::Sequence(items) => items
            .iter()
            .map(|v| v.as_u64().ok_or_else(|| Error::input(format!("{} is not a seed (a whole number ≥ 0)", yaml_kind(v)))))
            .collect(),
        _ => Err(bad()),
    }
}

/// Parse `0,1,2` and `0-4` (inclusive) into seeds; `what` (`--seeds`) names them in errors.
pub fn parse_seeds(s: &str, what: &str) -> Result<Vec<u64>> {
    let mut seeds = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || Error::input(format!("{what}: `{part}` is not a seed or a range like 0-4"));
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
                if b < a || b - a > 100_000 {
                    return Err(bad());
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(part.parse().map_err(|_| bad())?),
        }
        if seeds.len() > MAX_RUNS {
            return Err(Error::input(format!("{what}: more than {MAX_RUNS} seeds (the most runs a recipe may plan)")));
        }
    }
    if seeds.is_empty() {
        return Err(Error::input(format!("{what}: no seeds given")));
    }
    Ok(seeds)
}

/// Values from the command line that override the recipe before resolution.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--set PATH=VALUE`, applied to the recipe's YAML before anything else ([`overrides`]).
    pub set: Vec<String>,
    pub seeds: Option<Vec<u64>>,
    pub epochs: Option<usize>,
    /// Device name recorded in run configs (part of the config hash).
    pub device: String,
    /// `train --save-weights`: as `train.save_weights: true`.
    pub save_weights: bool,
    /// Runs trained at once (`train --jobs`), for the memory check; 0 counts as 1.
    pub jobs: usize,
}

pub struct ResolvedMetric {
    pub name: String,
    pub higher_is_better: bool,
    pub metric: Arc<dyn Metric>,
}

pub struct ResolvedTask {
    pub name: String,
    pub kind: TaskKind,
    /// Whether the model's output layer is the harmonic distance head.
    pub harmonic_head: bool,
    /// Whether the inputs are token ids (no input-space perturbation or mixing makes sense).
    pub token_inputs: bool,
    pub source: Arc<dyn Source>,
    pub transforms: Transforms,
    pub model: Arc<dyn ModelSpec>,
    pub metrics: Vec<ResolvedMetric>,
    /// Regularizers of every run of this task.
    pub regularizers: Vec<Arc<Resolved>>,
    /// The task's canonical config (dataset, transforms, model, metrics), for run records.
    pub config: serde_json::Value,
    /// What one run of the task is estimated to need.
    pub memory: RunEstimate,
    /// The task's data as its source holds it, once per process.
    pub shared_bytes: f64,
    /// The training settings of its runs (the `train:` section, or one point of its grid).
    pub train: TrainSettings,
    /// Its splits' sizes, inputs and outputs, in words (for `check`).
    pub data_summary: String,
    /// Rows of its train split (for the plan's cost).
    pub train_rows: usize,
}

pub struct ResolvedLoss {
    pub label: String,
    pub info: &'static LossInfo,
    pub loss: Arc<dyn Loss>,
    /// Canonical parameters (defaults filled in), without `name`, `label` and `regularizers`.
    pub params: serde_json::Value,
    /// Regularizers given in the loss entry.
    pub regularizers: Vec<Arc<Resolved>>,
    pub config: serde_json::Value,
}

pub struct ResolvedOptimizer {
    pub label: String,
    pub spec: Arc<dyn OptimizerSpec>,
    pub config: serde_json::Value,
}

/// What every run of a plan shares: its recipe's name and the device recorded in its config.
pub struct PlanCommon {
    pub recipe: String,
    pub device: String,
}

/// One run of the grid. Its config is rebuilt on demand from the shared parts ([`RunSpec::config`]),
/// so a plan of a million runs holds no million JSON documents.
pub struct RunSpec {
    pub task: Arc<ResolvedTask>,
    pub loss: Arc<ResolvedLoss>,
    pub optimizer: Arc<ResolvedOptimizer>,
    /// The run's regularizers: the recipe's, then the task's, then the loss entry's.
    pub regularizers: Vec<Arc<Resolved>>,
    pub seed: u64,
    pub train: TrainSettings,
    /// `<task>/<loss label>/<optimizer label>/seed-<n>`, relative to the results folder.
    pub rel_dir: PathBuf,
    pub common: Arc<PlanCommon>,
    /// SHA-256 of the canonical config JSON (hex, first 16 digits).
    pub hash: String,
}

impl RunSpec {
    pub fn recipe(&self) -> &str {
        &self.common.recipe
    }

    /// Everything that determines the run's numbers: the resolved task (dataset with the digest
    /// of its data, transforms, model, metrics), loss, optimizer, regularizers, training
    /// settings, seed, device and lossbench version.
    pub fn config(&self) -> serde_json::Value {
        run_config(&self.common, &self.task, &self.loss, &self.optimizer, &self.train, &self.regularizers, self.seed)
    }
}

fn run_config(
    common: &PlanCommon,
    task: &ResolvedTask,
    loss: &ResolvedLoss,
    optimizer: &ResolvedOptimizer,
    train: &TrainSettings,
    regularizers: &[Arc<Resolved>],
    seed: u64,
) -> serde_json::Value {
    let mut config = serde_json::json!({
        "recipe": common.recipe,
        "task": task.config,
        "loss": loss.config,
        "optimizer": optimizer.config,
        "train": train,
        "seed": seed,
        "device": common.device,
        "format": crate::run::FORMAT_VERSION,
        // A new lossbench version may compute differently: its runs are new runs.
        "lossbench": env!("CARGO_PKG_VERSION"),
    });
    // Runs without regularizers keep the config (and hash) they had before regularizers existed.
    if !regularizers.is_empty() {
        if let Some(map) = config.as_object_mut() {
            map.insert("regularizers".into(), regularizers.iter().map(|r| r.config.clone()).collect());
        }
    }
    config
}

/// (task, loss label, reason) of a pair left out because the loss does not fit the task.
pub type Skipped = (String, String, String);

pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    pub source_path: PathBuf,
    pub tasks: Vec<Arc<ResolvedTask>>,
    pub losses: Vec<Arc<ResolvedLoss>>,
    pub optimizers: Vec<Arc<ResolvedOptimizer>>,
    pub seeds: Vec<u64>,
    pub train: TrainSettings,
    pub runs: Vec<RunSpec>,
    /// Pairs left out because the loss does not fit the task.
    pub skipped: Vec<Skipped>,
    /// The recipe's grids, one line per entry that has one (`optimizers[0] (adamw): lr (3) ×
    /// weight_decay (3) → 9 entries`).
    pub grid: Vec<String>,
}

/// Most runs one recipe may plan: a plan of this size resolves in well under a gigabyte
/// (a run spec is a few hundred bytes; configs are rebuilt on demand).
pub const MAX_RUNS: usize = 1_000_000;

/// Error-message context: the file, and a way to find a token's line and column in it.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    /// Whether `text` is the file as written (not rewritten by `--set`), so lines and columns
    /// found in it are the file's.
    locate: bool,
}

impl Ctx<'_> {
    /// `file:line:col: path: msg` when `token` occurs in the file, else `file: path: msg`.
    fn err(&self, path: &str, token: Option<&str>, e: Error) -> Error {
        let place = match token.filter(|_| self.locate).and_then(|t| find_token(self.text, t)) {
            Some((line, col)) => format!("{}:{line}:{col}: {path}", self.file),
            None => format!("{}: {path}", self.file),
        };
        e.at(place)
    }
}

/// First occurrence of `token` as a whole word (not inside a longer identifier), 1-based.
fn find_token(text: &str, token: &str) -> Option<(usize, usize)> {
    if token.is_empty() {
        return None;
    }
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    for (i, line) in text.lines().enumerate() {
        let code = line.split('#').next().unwrap_or("");
        let mut start = 0;
        while let Some(pos) = code[start..].find(token) {
            let at = start + pos;
            let before = code[..at].chars().next_back();
            let after = code[at + token.len()..].chars().next();
            if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
                return Some((i + 1, code[..at].chars().count() + 1));
            }
            start = at + token.len();
        }
    }
    None
}

/// The first unknown key named in a serde message (`unknown field `gama``), to locate it.
fn unknown_field(msg: &str) -> Option<&str> {
    let rest = msg.split("unknown field `").nth(1)?;
    rest.split('`').next()
}

fn safe_label(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "._=+-".contains(c) { c } else { '_' }).collect()
}

/// Names and labels become folder names: they must start with a letter or digit and use
/// letters, digits, `_`, `-`, `+`, `.` and `=` only (so `..`, `.` or an empty label cannot escape
/// or merge result folders).
pub(crate) fn valid_folder_name(s: &str) -> bool {
    s.len() <= MAX_NAME_BYTES && valid_folder_chars(s)
}

/// Longest name or label: folder names are limited to 255 bytes, and plot files join a task's
/// and a metric's names.
pub const MAX_NAME_BYTES: usize = 100;

/// Why `s` cannot name a folder.
fn folder_name_problem(s: &str) -> String {
    if s.len() > MAX_NAME_BYTES {
        format!(
            "`{}` is {} bytes long; names and labels may have at most {MAX_NAME_BYTES} (they name result folders and files)",
            crate::error::truncate(s, 40),
            s.len()
        )
    } else {
        format!(
            "`{s}` must start with a letter or digit and use letters, digits, `_`, `-`, `+`, `.` and `=` only (it names result folders)"
        )
    }
}

fn valid_folder_chars(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "._=+-".contains(c))
}

/// Labels for a list of components: the given `label`, else the name when unique, else
/// `name-key=value-…` from the parameters the recipe set. A grid point's label ends with its
/// axes' values (`adamw-lr=0.001-weight_decay=0.01`).
fn labels(items: &[Component]) -> Vec<String> {
    items
        .iter()
        .map(|c| {
            let parts = if c.grid.is_empty() { String::new() } else { format!("-{}", grid::label_parts(&c.grid)) };
            if let Some(l) = &c.label {
                return safe_label(&format!("{l}{parts}"));
            }
            let same_name = items.iter().filter(|o| o.name == c.name).count();
            let mut map = c.params.as_object().cloned().unwrap_or_default();
            // A loss entry's regularizers show in its label: `cross_entropy+flooding`.
            let regs: String = match map.remove("regularizers") {
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .filter_map(|r| {
                        r.as_str().or_else(|| r.get("label").and_then(|l| l.as_str())).or_else(|| r.get("name").and_then(|n| n.as_str()))
                    })
                    .map(|n| format!("+{n}"))
                    .collect(),
                _ => String::new(),
            };
            match map {
                _ if !c.grid.is_empty() => safe_label(&format!("{}{regs}{parts}", c.name)),
                map if same_name > 1 && !map.is_empty() => {
                    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", v.to_string().trim_matches('"'))).collect();
                    safe_label(&format!("{}-{}{regs}", c.name, parts.join("-")))
                }
                _ => safe_label(&format!("{}{regs}", c.name)),
            }
        })
        .collect()
}

fn check_unique_labels(ctx: &Ctx, section: &str, labels: &[String], items: &[Component]) -> Result<()> {
    for (i, l) in labels.iter().enumerate() {
        if !valid_folder_name(l) {
            return Err(ctx.err(&items[i].index(section, i), None, Error::input(format!("label {}", folder_name_problem(l)))));
        }
    }
    // Case-insensitively: on macOS and Windows `Focal` and `focal` are one folder.
    for (i, a) in labels.iter().enumerate() {
        if let Some(j) = labels[..i].iter().position(|b| b.eq_ignore_ascii_case(a)) {
            let (first, second) = (items[j].index(section, j), items[i].index(section, i));
            let fix = if first == second { "give the grid's points distinct values" } else { "give one of them a distinct `label:`" };
            return Err(ctx.err(&second, None, Error::input(format!("{first} and {second} both get the label `{a}`; {fix}"))));
        }
    }
    Ok(())
}

fn with_name_and_label(name: &str, label: &str, params: &serde_json::Value) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("name".into(), name.into());
    obj.insert("label".into(), label.into());
    if let Some(map) = params.as_object() {
        for (k, v) in map {
            obj.insert(k.clone(), v.clone());
        }
    }
    serde_json::Value::Object(obj)
}

/// Parse and resolve a recipe file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Plan> {
    let text = crate::files::read_text(path, crate::files::MAX_RECIPE_BYTES)
        .map_err(|e| Error::input(format!("cannot read recipe {}: {e}", path.display())))?;
    resolve(&text, path, overrides)
}

/// Parse and resolve recipe text; `path` names it in messages and anchors relative data paths.
pub fn resolve(text: &str, path: &Path, overrides: &Overrides) -> Result<Plan> {
    let rewritten = overrides::apply(text, &overrides.set).map_err(|e| e.at(path.display()))?;
    let file = match &rewritten {
        Some(_) => format!("{} (with --set {})", path.display(), overrides.set.join(" --set ")),
        None => path.display().to_string(),
    };
    let ctx = Ctx { file: &file, text: rewritten.as_deref().unwrap_or(text), locate: rewritten.is_none() };
    let mut raw = parse_raw(&ctx)?;
    if let Some(block) = &raw.claim {
        crate::claims::Claim::from_block(block).map_err(|e| ctx.err("claim", Some("claim"), e))?;
    }
    let name = recipe_name(&raw, path, &file)?;
    let mut notes = Vec::new();
    let trains = resolve_train(&ctx, &raw, overrides, &mut notes)?;
    let train = trains[0].0.clone();
    let seeds = resolve_seeds(&ctx, &raw, overrides)?;
    if raw.tasks.is_empty() {
        return Err(ctx.err("tasks", Some("tasks"), Error::input("no tasks; add at least one under `tasks:`")));
    }
    if raw.losses.is_empty() {
        return Err(ctx.err("losses", Some("losses"), Error::input("no losses; add at least one under `losses:`")));
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    expand_grids(&mut raw, &base, &mut notes).map_err(|e| e.at(&file))?;
    let recipe_regs = resolve_regularizers(&ctx, "regularizers", raw.regularizers.as_deref().unwrap_or_default())?;
    let tasks = resolve_tasks(&ctx, &raw, &base, seeds[0], &trains)?;
    let losses = resolve_losses(&ctx, &raw, &tasks)?;
    let optimizers = resolve_optimizers(&ctx, &raw)?;
    let total = check_plan_size(&file, &tasks, &losses, optimizers.len(), seeds.len())?;
    check_plan_memory(&tasks, total, overrides.jobs).map_err(|e| e.at(&file))?;
    let common = Arc::new(PlanCommon { recipe: name.clone(), device: overrides.device.clone() });
    let parts =
        GridParts { common: &common, tasks: &tasks, losses: &losses, optimizers: &optimizers, recipe_regs: &recipe_regs, seeds: &seeds };
    let (runs, skipped) = grid(&ctx, &parts)?;
    let description = raw.description;
    Ok(Plan { name, description, source_path: path.to_path_buf(), tasks, losses, optimizers, seeds, train, runs, skipped, grid: notes })
}

/// The recipe's lists with every grid entry expanded in place. A grid in a recipe-wide
/// regularizer varies every task: those regularizers move to the front of each task's (the
/// order a run applies them in is unchanged).
fn expand_grids(raw: &mut RawRecipe, base: &Path, notes: &mut Vec<String>) -> Result<()> {
    raw.losses = expand::losses(&raw.losses, notes)?;
    if let Some(items) = &raw.optimizers {
        raw.optimizers = Some(expand::optimizers(items, notes)?);
    }
    let recipe_regs = raw.regularizers.clone().unwrap_or_default();
    if expand::regularizers("regularizers", &recipe_regs, &mut Vec::new())?.len() > 1 {
        for t in &mut raw.tasks {
            t.regularizers = Some([recipe_regs.clone(), t.regularizers.take().unwrap_or_default()].concat());
        }
        raw.regularizers = None;
    }
    let mut tasks = Vec::new();
    for (i, t) in raw.tasks.iter().enumerate() {
        let place = format!("tasks[{i}] ({})", crate::error::truncate(&t.name, 60));
        tasks.extend(expand::task(&place, t, base, notes)?.into_iter().map(|t| (i, t)));
    }
    raw.tasks = tasks.into_iter().map(|(i, t)| RawTask { origin: Some(i), ..t }).collect();
    Ok(())
}

/// The recipe's structure, with serde_yaml's line and column on errors.
fn parse_raw(ctx: &Ctx) -> Result<RawRecipe> {
    if ctx.text.trim().is_empty() {
        return Err(Error::input(format!("{}: the recipe is empty; it needs at least `tasks:` and `losses:`", ctx.file)));
    }
    parse_yaml(ctx)
}

/// The recipe's text as `T`, with serde_yaml's line and column on errors.
fn parse_yaml<T: serde::de::DeserializeOwned>(ctx: &Ctx) -> Result<T> {
    let file = ctx.file;
    serde_yaml::from_str(ctx.text).map_err(|e| {
        let line_col = e.location().filter(|_| ctx.locate).map_or(String::new(), |loc| format!(":{}:{}", loc.line(), loc.column()));
        let msg = strip_location(&e.to_string());
        Error::input(format!("{file}{line_col}: {msg}"))
    })
}

/// `name:`, or the file name: it names the results folder.
fn recipe_name(raw: &RawRecipe, path: &Path, file: &str) -> Result<String> {
    let name =
        raw.name.clone().unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "recipe".into()));
    let name = safe_label(&name);
    if !valid_folder_name(&name) {
        return Err(Error::input(format!("{file}: recipe name {}; set `name:`", folder_name_problem(&name))));
    }
    Ok(name)
}

/// The `train:` section's points (one without a grid), each with its label parts and the
/// command line's `--epochs` and `--save-weights`, checked.
fn resolve_train(ctx: &Ctx, raw: &RawRecipe, overrides: &Overrides, notes: &mut Vec<String>) -> Result<Vec<(TrainSettings, grid::Parts)>> {
    if let Some(epochs) = overrides.epochs {
        if !(1..=MAX_EPOCHS).contains(&epochs) {
            return Err(Error::input(format!("--epochs {epochs}: allowed: 1..={MAX_EPOCHS}")));
        }
    }
    let section = match &raw.train {
        Some(v) => {
            if let Some(bad) = non_finite(v) {
                return Err(ctx.err("train", Some("train"), Error::input(format!("{bad} is not a finite number"))));
            }
            serde_json::to_value(v).map_err(|e| ctx.err("train", Some("train"), Error::input(e.to_string())))?
        }
        None => serde_json::json!({}),
    };
    let points = expand::train(&section, notes).map_err(|e| e.at(ctx.file))?;
    let mut out = Vec::with_capacity(points.len());
    for p in points {
        let mut train = match p.parts.is_empty() {
            // As written; only a section that does not parse is read again from the text, for
            // serde_yaml's line and column in the message.
            true => match serde_json::from_value::<TrainSettings>(p.params) {
                Ok(train) => train,
                Err(_) => train_as_written(ctx)?,
            },
            false => serde_json::from_value::<TrainSettings>(p.params).map_err(|e| {
                let place = format!("train ({})", grid::label_parts(&p.parts));
                ctx.err(&place, Some("train"), crate::registry::serde_input_error(e))
            })?,
        };
        if let Some(epochs) = overrides.epochs {
            train.epochs = epochs;
        }
        if overrides.save_weights {
            train.save_weights = true;
        }
        train.validate().map_err(|e| ctx.err("train", Some("train"), e))?;
        out.push((train, p.parts));
    }
    Ok(out)
}

/// The `train:` section parsed from the recipe's text.
fn train_as_written(ctx: &Ctx) -> Result<TrainSettings> {
    #[derive(Deserialize)]
    struct TrainOnly {
        #[serde(default)]
        train: TrainSettings,
    }
    parse_yaml::<TrainOnly>(ctx).map(|t| t.train)
}

/// `--seeds`, else `seeds:`, else `[0]`: non-empty and distinct.
fn resolve_seeds(ctx: &Ctx, raw: &RawRecipe, overrides: &Overrides) -> Result<Vec<u64>> {
    let written = raw.seeds.as_ref().map(seeds_from_yaml).transpose().map_err(|e| ctx.err("seeds", Some("seeds"), e))?;
    let seeds = overrides.seeds.clone().or(written).unwrap_or_else(|| vec![0]);
    if seeds.is_empty() {
        return Err(ctx.err("seeds", Some("seeds"), Error::input("the list of seeds is empty")));
    }
    let mut distinct = std::collections::HashSet::with_capacity(seeds.len());
    if let Some(dup) = seeds.iter().find(|s| !distinct.insert(**s)) {
        return Err(ctx.err(
            "seeds",
            Some("seeds"),
            Error::input(format!("seed {dup} is listed twice; each seed is one run per configuration")),
        ));
    }
    Ok(seeds)
}

/// Every task, with names that can be folders and are distinct (also case-insensitively).
/// Each task once per point of the `train:` grid (named with its parts: `digits-epochs=10`).
fn resolve_tasks(
    ctx: &Ctx,
    raw: &RawRecipe,
    base: &Path,
    first_seed: u64,
    trains: &[(TrainSettings, grid::Parts)],
) -> Result<Vec<Arc<ResolvedTask>>> {
    let mut tasks: Vec<Arc<ResolvedTask>> = Vec::new();
    let points = raw.tasks.iter().enumerate().flat_map(|(i, t)| trains.iter().map(move |(train, parts)| (i, t, train, parts)));
    for (i, t, train, parts) in points {
        let t = &RawTask { name: expand::with_parts(&t.name, parts), ..t.clone() };
        let path = format!("tasks[{}] ({})", t.origin.unwrap_or(i), crate::error::truncate(&t.name, 60));
        if !valid_folder_name(&t.name) {
            return Err(ctx.err(&path, Some(&t.name), Error::input(format!("task name {}", folder_name_problem(&t.name)))));
        }
        if let Some(o) = tasks.iter().find(|o| o.name.eq_ignore_ascii_case(&t.name)) {
            let same = if o.name == t.name {
                String::new()
            } else {
                format!(" (`{}` and `{}` are one folder on case-insensitive file systems)", o.name, t.name)
            };
            return Err(ctx.err(&path, Some(&t.name), Error::input(format!("two tasks are named `{}`{same}", t.name))));
        }
        tasks.push(Arc::new(resolve_task(ctx, &path, t, base, first_seed, train)?));
    }
    Ok(tasks)
}

/// Every loss entry, with its own regularizers; a loss that fits no task is an error.
fn resolve_losses(ctx: &Ctx, raw: &RawRecipe, tasks: &[Arc<ResolvedTask>]) -> Result<Vec<Arc<ResolvedLoss>>> {
    let loss_labels = labels(&raw.losses);
    check_unique_labels(ctx, "losses", &loss_labels, &raw.losses)?;
    let mut losses = Vec::new();
    for (i, (c, label)) in raw.losses.iter().zip(&loss_labels).enumerate() {
        let path = c.place("losses", i);
        let info = lookup("loss", "losses", LOSSES, &c.name).map_err(|e| ctx.err(&c.index("losses", i), Some(&c.name), e))?;
        let mut own = c.params.clone();
        let reg_items = match own.as_object_mut().and_then(|m| m.remove("regularizers")) {
            Some(v) => components_from_json(&v).map_err(|e| ctx.err(&format!("{path}.regularizers"), Some("regularizers"), e))?,
            None => Vec::new(),
        };
        let loss_regs = resolve_regularizers(ctx, &format!("{path}.regularizers"), &reg_items)?;
        let (loss, canonical) = (info.build)(&own).map_err(|e| {
            let token = unknown_field(&e.to_string()).map(str::to_string);
            ctx.err(&path, token.as_deref().or(Some(&c.name)), e)
        })?;
        if tasks.iter().all(|t| misfit(info, loss.as_ref(), t).is_some()) {
            let reason = misfit(info, loss.as_ref(), &tasks[0]).unwrap_or_default();
            let rest = if tasks.len() > 1 { " (and no other task fits either)" } else { "" };
            return Err(ctx.err(&path, Some(&c.name), Error::input(format!("{reason}{rest}"))));
        }
        let mut config = with_name_and_label(info.name, label, &canonical);
        if !loss_regs.is_empty() {
            if let Some(map) = config.as_object_mut() {
                map.insert("regularizers".into(), loss_regs.iter().map(|r| r.config.clone()).collect());
            }
        }
        losses.push(Arc::new(ResolvedLoss { label: label.clone(), info, loss, params: canonical, regularizers: loss_regs, config }));
    }
    Ok(losses)
}

/// Every optimizer entry (default: adamw with its defaults).
fn resolve_optimizers(ctx: &Ctx, raw: &RawRecipe) -> Result<Vec<Arc<ResolvedOptimizer>>> {
    let raw_opts = raw.optimizers.clone().unwrap_or_else(|| vec![Component::named("adamw")]);
    if raw_opts.is_empty() {
        return Err(ctx.err(
            "optimizers",
            Some("optimizers"),
            Error::input("the list of optimizers is empty; remove the key to use adamw"),
        ));
    }
    let opt_labels = labels(&raw_opts);
    check_unique_labels(ctx, "optimizers", &opt_labels, &raw_opts)?;
    let mut optimizers = Vec::new();
    for (i, (c, label)) in raw_opts.iter().zip(&opt_labels).enumerate() {
        let path = c.place("optimizers", i);
        let info =
            lookup("optimizer", "optimizers", OPTIMIZERS, &c.name).map_err(|e| ctx.err(&c.index("optimizers", i), Some(&c.name), e))?;
        let (spec, canonical) = (info.build)(&c.params).map_err(|e| {
            let token = unknown_field(&e.to_string()).map(str::to_string);
            ctx.err(&path, token.as_deref().or(Some(&c.name)), e)
        })?;
        optimizers.push(Arc::new(ResolvedOptimizer {
            label: label.clone(),
            spec,
            config: with_name_and_label(info.name, label, &canonical),
        }));
    }
    Ok(optimizers)
}

/// The number of runs of the grid, checked against [`MAX_RUNS`].
fn check_plan_size(file: &str, tasks: &[Arc<ResolvedTask>], losses: &[Arc<ResolvedLoss>], optimizers: usize, seeds: usize) -> Result<f64> {
    let pairs = tasks.iter().map(|t| losses.iter().filter(|l| misfit(l.info, l.loss.as_ref(), t).is_none()).count()).sum::<usize>();
    let total = pairs as f64 * optimizers as f64 * seeds as f64;
    if total > MAX_RUNS as f64 {
        return Err(Error::input(format!(
            "{file}: the plan has {total} runs ({pairs} task×loss pairs × {optimizers} optimizers × {seeds} seeds); lossbench's limit is {MAX_RUNS} per recipe (split the sweep into several recipes or fewer seeds)"
        )));
    }
    Ok(total)
}

/// What the grid is made of.
struct GridParts<'a> {
    common: &'a Arc<PlanCommon>,
    tasks: &'a [Arc<ResolvedTask>],
    losses: &'a [Arc<ResolvedLoss>],
    optimizers: &'a [Arc<ResolvedOptimizer>],
    recipe_regs: &'a [Arc<Resolved>],
    seeds: &'a [u64],
}

/// The regularizers of the runs of `task` with `loss` (the recipe's, the task's, the loss
/// entry's), checked together.
fn run_regularizers(ctx: &Ctx, recipe_regs: &[Arc<Resolved>], task: &ResolvedTask, loss: &ResolvedLoss) -> Result<Vec<Arc<Resolved>>> {
    let regularizers: Vec<Arc<Resolved>> = recipe_regs.iter().chain(&task.regularizers).chain(&loss.regularizers).cloned().collect();
    let refs: Vec<&Resolved> = regularizers.iter().map(|r| r.as_ref()).collect();
    let place = format!("regularizers of task `{}` with loss `{}`", task.name, loss.label);
    if task.token_inputs {
        if let Some(r) = refs.iter().find(|r| ["mixup", "vat"].contains(&r.info.name)) {
            return Err(ctx.err(
                &place,
                Some(&r.label),
                Error::input(format!(
                    "regularizer `{}` perturbs or mixes the inputs, but task `{}` has token-id inputs",
                    r.info.name, task.name
                )),
            ));
        }
    }
    crate::regularizers::check_combination(&refs, task.kind.family()).map_err(|e| ctx.err(&place, Some("regularizers"), e))?;
    Ok(regularizers)
}

/// Every compatible task × loss × optimizer × seed, and the (task, loss, reason) pairs left out.
fn grid(ctx: &Ctx, p: &GridParts) -> Result<(Vec<RunSpec>, Vec<Skipped>)> {
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for task in p.tasks {
        for loss in p.losses {
            if let Some(reason) = misfit(loss.info, loss.loss.as_ref(), task) {
                skipped.push((task.name.clone(), loss.label.clone(), reason));
                continue;
            }
            let regularizers = run_regularizers(ctx, p.recipe_regs, task, loss)?;
            check_loss_memory(loss, task, &task.train).map_err(|e| ctx.err("train.batch_size", Some("batch_size"), e))?;
            for opt in p.optimizers {
                let mut config = run_config(p.common, task, loss, opt, &task.train, &regularizers, 0);
                for &seed in p.seeds {
                    config["seed"] = seed.into();
                    runs.push(RunSpec {
                        task: task.clone(),
                        loss: loss.clone(),
                        optimizer: opt.clone(),
                        regularizers: regularizers.clone(),
                        seed,
                        train: task.train.clone(),
                        rel_dir: PathBuf::from(&task.name).join(&loss.label).join(&opt.label).join(format!("seed-{seed}")),
                        common: p.common.clone(),
                        hash: config_hash(&config),
                    });
                }
            }
        }
    }
    Ok((runs, skipped))
}

/// The plan of exactly one run, rebuilt from the resolved config in its `run.json` (for
/// analyses of a finished run, such as `lossbench landscape`). Relative data paths of user
/// datasets are taken from the current folder.
pub fn plan_from_run_config(config: &serde_json::Value) -> Result<Plan> {
    let field = |key: &str| config.get(key).cloned().ok_or_else(|| Error::input(format!("run.json: config has no `{key}`")));
    let task = field("task")?;
    let mut loss = field("loss")?;
    if let Some(map) = loss.as_object_mut() {
        // The run's merged list (recipe, task, loss entry) goes to the top level below.
        map.remove("regularizers");
    }
    let mut recipe = serde_json::json!({
        "name": config.get("recipe").and_then(|r| r.as_str()).filter(|r| !r.is_empty()).unwrap_or("run"),
        "seeds": [field("seed")?],
        "train": field("train")?,
        "tasks": [{
            "name": task.get("name").cloned().unwrap_or_default(),
            "dataset": task.get("dataset").cloned().unwrap_or_default(),
            "model": task.get("model").cloned().unwrap_or_default(),
            "metrics": task.get("metrics").cloned().unwrap_or_default(),
        }],
        "losses": [loss],
        "optimizers": [field("optimizer")?],
    });
    if let Some(regs) = config.get("regularizers") {
        recipe["regularizers"] = regs.clone();
    }
    let text = serde_yaml::to_string(&recipe).map_err(|e| Error::runtime(e.to_string()))?;
    let plan = resolve(&text, Path::new("run.json"), &Overrides { device: "cpu".into(), ..Default::default() })?;
    if plan.runs.len() != 1 {
        return Err(Error::input("run.json: its config does not describe exactly one run"));
    }
    Ok(plan)
}

/// serde_yaml appends " at line L column C" to messages; the position is already in front.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// A task's dataset, resolved: its source, transforms, canonical config (name, parameters,
/// data digest, transforms) and the rows of the first seed.
struct TaskData {
    source: Arc<dyn Source>,
    transforms: Transforms,
    config: serde_json::Map<String, serde_json::Value>,
    raw: crate::data::RawData,
    /// The rows of each split after the transforms, and the inputs and outputs, in words.
    summary: String,
    /// Rows of the train split.
    train_rows: usize,
}

/// The dataset of task `t`: its own parameters and the transform keys told apart, both parsed,
/// and the rows loaded and transformed once, so that e.g. a split leaving no training rows is an
/// input error now rather than a failed run later.
fn resolve_dataset(ctx: &Ctx, path: &str, t: &RawTask, base: &Path, first_seed: u64) -> Result<TaskData> {
    let ds = &t.dataset;
    let info = lookup("dataset", "datasets", DATASETS, &ds.name).map_err(|e| ctx.err(&format!("{path}.dataset"), Some(&ds.name), e))?;
    let ds_path = format!("{path}.dataset ({})", ds.name);
    let (own, transform_keys) = split_transform_keys(&ds.params);
    let (source, ds_canonical) = (info.build)(&own, base).map_err(|e| {
        let e = match e {
            Error::Input(msg) if msg.contains("unknown field") => {
                Error::Input(format!("{msg}; or a transform: {}", TRANSFORM_KEYS.join(", ")))
            }
            other => other,
        };
        let token = unknown_field(&e.to_string()).map(str::to_string);
        ctx.err(&ds_path, token.as_deref(), e)
    })?;
    let transforms: Transforms = serde_json::from_value(transform_keys).map_err(|e| {
        let e = crate::registry::serde_input_error(e);
        let token = unknown_field(&e.to_string()).map(str::to_string);
        ctx.err(&ds_path, token.as_deref(), e)
    })?;
    transforms.validate(source.kind()).map_err(|e| ctx.err(&ds_path, None, e))?;
    let raw = source.load(first_seed).map_err(|e| ctx.err(&ds_path, None, e))?;
    let prepared = crate::data::transforms::prepare(raw.clone(), &transforms, first_seed).map_err(|e| ctx.err(&ds_path, None, e))?;
    let (summary, train_rows) = (data_summary(&prepared), prepared.train.len());
    let mut config = ds_canonical.as_object().cloned().unwrap_or_default();
    config.insert("name".into(), info.name.into());
    if let serde_json::Value::Object(tj) = serde_json::to_value(&transforms).map_err(|e| Error::runtime(e.to_string()))? {
        config.extend(tj);
    }
    Ok(TaskData { source, transforms, config, raw, summary, train_rows })
}

/// `1257 / 270 / 270 rows (train / val / test), 64 features, 10 classes`.
fn data_summary(p: &crate::data::transforms::Prepared) -> String {
    let inputs = match p.input {
        crate::data::InputKind::Dense { features } => format!("{features} features"),
        crate::data::InputKind::Tokens { vocab, len } => format!("{len} tokens of {vocab}"),
        crate::data::InputKind::Items { items, features } => format!("lists of {items} items × {features} features"),
        crate::data::InputKind::Interactions { users, items } => format!("{users} users × {items} items"),
    };
    let outputs = match p.kind {
        TaskKind::Classification { classes } => format!("{classes} classes"),
        TaskKind::Regression { outputs } => format!("{outputs} regression targets"),
        TaskKind::MultiLabel { labels } => format!("{labels} labels"),
        TaskKind::MetricLearning { dim, .. } => format!("{dim}-dimensional embeddings"),
        TaskKind::Ranking { .. } => "graded relevance".to_string(),
        TaskKind::Recommendation { negatives, .. } => format!("training lists of a positive and {negatives} sampled negatives"),
    };
    let rows = match p.input {
        crate::data::InputKind::Items { .. } => "lists",
        crate::data::InputKind::Interactions { .. } => "positives",
        _ => "rows",
    };
    format!("{} / {} / {} {rows} (train / val / test), {inputs}, {outputs}", p.train.len(), p.val.len(), p.test.len())
}

/// A dataset entry's parameters: the dataset's own, and the transform keys.
fn split_transform_keys(params: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    let (mut own, mut transform_keys) = (serde_json::Map::new(), serde_json::Map::new());
    for (k, v) in params.as_object().into_iter().flatten() {
        match TRANSFORM_KEYS.contains(&k.as_str()) {
            true => transform_keys.insert(k.clone(), v.clone()),
            false => own.insert(k.clone(), v.clone()),
        };
    }
    (serde_json::Value::Object(own), serde_json::Value::Object(transform_keys))
}

/// The model of task `t` (default: `mlp`; `item_mlp` for lists of items, `dot_embed` for
/// user–item interactions), checked against
/// the data's inputs, and its canonical config.
fn resolve_model(
    ctx: &Ctx,
    path: &str,
    t: &RawTask,
    data: &TaskData,
) -> Result<(Arc<dyn ModelSpec>, serde_json::Map<String, serde_json::Value>)> {
    let default = match data.raw.input {
        crate::data::InputKind::Items { .. } => "item_mlp",
        crate::data::InputKind::Interactions { .. } => "dot_embed",
        _ => "mlp",
    };
    let model_c = t.model.clone().unwrap_or(Component::named(default));
    let minfo = lookup("model", "models", MODELS, &model_c.name).map_err(|e| ctx.err(&format!("{path}.model"), Some(&model_c.name), e))?;
    let m_path = format!("{path}.model ({})", model_c.name);
    let (model, m_canonical) = (minfo.build)(&model_c.params).map_err(|e| {
        let token = unknown_field(&e.to_string()).map(str::to_string);
        ctx.err(&m_path, token.as_deref(), e)
    })?;
    model.check(data.raw.input).map_err(|e| ctx.err(&m_path, Some(&model_c.name), e))?;
    let mut model_json = m_canonical.as_object().cloned().unwrap_or_default();
    model_json.insert("name".into(), minfo.name.into());
    Ok((model, model_json))
}

/// The metrics of task `t` (default: its family's), each of its family, with distinct labels.
fn resolve_metrics(
    ctx: &Ctx,
    path: &str,
    t: &RawTask,
    kind: TaskKind,
    grouped: bool,
) -> Result<(Vec<ResolvedMetric>, Vec<serde_json::Value>)> {
    let metric_cs: Vec<Component> = t
        .metrics
        .clone()
        .unwrap_or_else(|| crate::families::of(kind.family()).default_metrics().iter().map(|n| Component::named(*n)).collect());
    if metric_cs.is_empty() {
        return Err(ctx.err(
            &format!("{path}.metrics"),
            None,
            Error::input("the list of metrics is empty; remove the key for the defaults"),
        ));
    }
    // A metric's grid makes several metrics of the same runs (`ndcg_at_k` with `k: [1, 5]`).
    let metric_cs = expand::metrics(&format!("{path}.metrics"), &metric_cs, &mut Vec::new()).map_err(|e| e.at(ctx.file))?;
    let metric_labels = labels(&metric_cs);
    check_unique_labels(ctx, &format!("{path}.metrics"), &metric_labels, &metric_cs)?;
    let mut metrics = Vec::new();
    let mut metric_configs = Vec::new();
    for (j, (c, label)) in metric_cs.iter().zip(&metric_labels).enumerate() {
        let mpath = c.index(&format!("{path}.metrics"), j);
        let info = lookup("metric", "metrics", METRICS, &c.name).map_err(|e| ctx.err(&mpath, Some(&c.name), e))?;
        if info.family != kind.family() {
            return Err(ctx.err(
                &mpath,
                Some(&c.name),
                Error::input(format!("metric `{}` is for {} tasks, but task `{}` is {}", c.name, info.family, t.name, kind.family())),
            ));
        }
        let (metric, canonical) = (info.build)(&c.params).map_err(|e| ctx.err(&format!("{mpath} ({})", c.name), Some(&c.name), e))?;
        if metric.needs_groups() && !grouped {
            return Err(ctx.err(
                &mpath,
                Some(&c.name),
                Error::input(format!(
                    "metric `{}` reads the rows' groups, and dataset `{}` has none; datasets with groups: spurious_synth",
                    c.name, t.dataset.name
                )),
            ));
        }
        if label == "loss" {
            return Err(ctx.err(&mpath, Some(&c.name), Error::input("`loss` is reserved for the training loss; pick another label")));
        }
        metrics.push(ResolvedMetric { name: label.clone(), higher_is_better: info.higher_is_better, metric });
        metric_configs.push(with_name_and_label(info.name, label, &canonical));
    }
    if let Some(dup) = metrics.iter().enumerate().find_map(|(i, m)| metrics[..i].iter().find(|o| o.name == m.name)) {
        return Err(ctx.err(
            &format!("{path}.metrics"),
            None,
            Error::input(format!("metric `{}` listed twice; give one a `label:`", dup.name)),
        ));
    }
    Ok((metrics, metric_configs))
}

fn resolve_task(ctx: &Ctx, path: &str, t: &RawTask, base: &Path, first_seed: u64, train: &TrainSettings) -> Result<ResolvedTask> {
    let data = resolve_dataset(ctx, path, t, base, first_seed)?;
    let kind = data.source.kind();
    let (model, model_json) = resolve_model(ctx, path, t, &data)?;
    let memory = estimate(&data.raw, &data.transforms, model.as_ref(), train)
        .map_err(|e| ctx.err(&format!("{path}.model"), Some(model_json["name"].as_str().unwrap_or("")), e))?;
    crate::memory::check(&format!("a run of task `{}`: {}; it", t.name, memory.describe()), memory.total())
        .map_err(|e| ctx.err(path, Some(&t.name), e))?;
    let (metrics, metric_configs) = resolve_metrics(ctx, path, t, kind, data.raw.groups.is_some())?;
    let directions: Vec<(String, bool)> = metrics.iter().map(|m| (m.name.clone(), m.higher_is_better)).collect();
    for (i, m) in train.milestones.iter().enumerate() {
        m.check(i, &directions).map_err(|e| ctx.err(&format!("{path}.metrics"), Some(&t.name), e))?;
    }
    let config = serde_json::json!({
        "name": t.name,
        "kind": kind,
        "dataset": data.config,
        "model": model_json,
        "metrics": metric_configs,
    });
    let regularizers = resolve_regularizers(ctx, &format!("{path}.regularizers"), t.regularizers.as_deref().unwrap_or_default())?;
    Ok(ResolvedTask {
        name: t.name.clone(),
        kind,
        harmonic_head: model_json.get("head").and_then(|h| h.as_str()) == Some("harmonic"),
        token_inputs: matches!(data.raw.input, crate::data::InputKind::Tokens { .. }),
        source: data.source,
        transforms: data.transforms,
        model,
        metrics,
        regularizers,
        config,
        memory,
        shared_bytes: data.raw.rows.x.len() as f64 * 4.0,
        train: train.clone(),
        data_summary: data.summary,
        train_rows: data.train_rows,
    })
}

/// What one run of a task needs: its data, its model at the task's output width, a training
/// batch and an evaluation chunk.
fn estimate(raw: &crate::data::RawData, transforms: &Transforms, model: &dyn ModelSpec, train: &TrainSettings) -> Result<RunEstimate> {
    let outputs = raw.kind.output_dim();
    let size = model.size(raw.input, outputs)?;
    let dtype_bytes = train.dtype.dtype().size_in_bytes() as f64;
    let extra = match (&transforms.label_noise, raw.kind) {
        (Some(n), TaskKind::Classification { classes }) if n.kind == crate::data::transforms::NoiseKind::ClassDependent => {
            (classes as f64).powi(2) * 8.0
        }
        // Every item scored for every user at evaluation: scores and relevance in f64, and the
        // model's f32 copy of the scores.
        (_, TaskKind::Recommendation { users, items, .. }) => users as f64 * items as f64 * 20.0,
        _ => 0.0,
    };
    Ok(RunEstimate::of(&Sizes {
        rows: raw.rows.len(),
        features: raw.rows.d,
        outputs,
        weights: size.weights,
        activations_per_row: size.activations_per_row,
        batch: train.batch_size,
        eval_chunk: crate::memory::eval_chunk(size.activations_per_row, dtype_bytes),
        dtype_bytes,
        extra,
    }))
}

/// Bytes a planned run occupies before it trains (its spec and folder name).
const BYTES_PER_PLANNED_RUN: f64 = 512.0;

/// An error unless the plan fits the memory budget with `jobs` runs at once: each task's data
/// held once, `jobs` copies of the most demanding run, and the plan itself.
fn check_plan_memory(tasks: &[Arc<ResolvedTask>], runs: f64, jobs: usize) -> Result<()> {
    let shared: f64 = tasks.iter().map(|t| t.shared_bytes).sum();
    let Some(worst) = tasks.iter().max_by(|a, b| a.memory.total().total_cmp(&b.memory.total())) else { return Ok(()) };
    // More jobs than runs never run at once.
    let jobs = (jobs.max(1) as f64).min(runs.max(1.0));
    let total = shared + jobs * worst.memory.total() + runs * BYTES_PER_PLANNED_RUN;
    let what = format!(
        "the plan ({runs} runs; {jobs} at a time of task `{}`, each {}; the tasks' data {})",
        worst.name,
        worst.memory.describe(),
        crate::files::human_bytes(shared)
    );
    crate::memory::check(&what, total).map_err(|e| if jobs > 1.0 { Error::Input(format!("{e} or lower --jobs")) } else { e })
}

/// Look up and parse a list of regularizer components written at `path`.
fn resolve_regularizers(ctx: &Ctx, path: &str, items: &[Component]) -> Result<Vec<Arc<Resolved>>> {
    let labels = labels(items);
    check_unique_labels(ctx, path, &labels, items)?;
    let mut out = Vec::new();
    for (i, (c, label)) in items.iter().zip(&labels).enumerate() {
        let item_path = format!("{path}[{i}]");
        let info = lookup("regularizer", "regularizers", REGULARIZERS, &c.name).map_err(|e| ctx.err(&item_path, Some(&c.name), e))?;
        let (spec, canonical) = (info.build)(&c.params).map_err(|e| {
            let token = unknown_field(&e.to_string()).map(str::to_string);
            ctx.err(&format!("{item_path} ({})", c.name), token.as_deref().or(Some(&c.name)), e)
        })?;
        out.push(Arc::new(Resolved { label: label.clone(), info, spec, config: with_name_and_label(info.name, label, &canonical) }));
    }
    Ok(out)
}

/// Components written inside another component's parameters (a loss entry's
/// `regularizers:`), which arrive as JSON: names or mappings with `name`, optional `label`.
fn components_from_json(value: &serde_json::Value) -> Result<Vec<Component>> {
    let serde_json::Value::Array(items) = value else {
        return Err(Error::input("`regularizers` must be a list of names or `{name: …, …}` mappings"));
    };
    items
        .iter()
        .map(|item| match item {
            serde_json::Value::String(name) => Ok(Component::named(name.clone())),
            serde_json::Value::Object(map) => {
                let mut params = map.clone();
                let name = match params.remove("name") {
                    Some(serde_json::Value::String(n)) => n,
                    _ => return Err(Error::input("each regularizer needs `name:` (a string)")),
                };
                let label = match params.remove("label") {
                    None => None,
                    Some(serde_json::Value::String(l)) => Some(l),
                    Some(other) => Some(other.to_string()),
                };
                Ok(Component::new(name, label, serde_json::Value::Object(params)))
            }
            other => Err(Error::input(format!("a regularizer is a name or a mapping with `name:`, not `{other}`"))),
        })
        .collect()
}

/// A loss whose terms grow with the cube of the batch (all triplets), or that holds more than
/// per-row values (a ranking list's item pairs), must fit the memory budget beside the rest of
/// the task's run.
fn check_loss_memory(loss: &ResolvedLoss, task: &ResolvedTask, train: &TrainSettings) -> Result<()> {
    let dtype_bytes = train.dtype.dtype().size_in_bytes() as f64;
    let step = loss.loss.step_bytes(train.batch_size, task.kind.output_dim(), dtype_bytes);
    if step > 0.0 {
        let what = format!(
            "loss `{}` at batch_size {} on lists of {} items (task `{}`), beside the rest of the run,",
            loss.label,
            train.batch_size,
            task.kind.output_dim(),
            task.name
        );
        return crate::memory::check(&what, step + task.memory.total());
    }
    if !loss.info.props.contains(&crate::losses::Prop::CubicInBatch) {
        return Ok(());
    }
    // The terms, their mask and the gradients of both: about six values per triplet.
    let terms = (train.batch_size as f64).powi(3);
    let bytes = terms * train.dtype.dtype().size_in_bytes() as f64 * 6.0;
    let what = format!(
        "loss `{}` at batch_size {} holds {terms:.3e} triplet terms; with a run of task `{}` it",
        loss.label, train.batch_size, task.name
    );
    crate::memory::check(&what, bytes + task.memory.total())
}

/// Why `loss` (built as `built`) cannot be trained on `task`, if it cannot.
fn misfit(loss: &LossInfo, built: &dyn Loss, task: &ResolvedTask) -> Option<String> {
    if loss.family != task.kind.family() {
        return Some(format!("loss `{}` needs a {} task, but task `{}` is {}", loss.name, loss.family, task.name, task.kind.family()));
    }
    if loss.props.contains(&crate::losses::Prop::Binary) && task.kind != (TaskKind::Classification { classes: 2 }) {
        return Some(format!("loss `{}` is binary only, but task `{}` has {} classes", loss.name, task.name, task.kind.output_dim()));
    }
    if loss.props.contains(&crate::losses::Prop::NeedsHarmonicHead) && !task.harmonic_head {
        return Some(format!(
            "loss `{}` needs a model with `head: harmonic`, but task `{}`'s model has a linear head",
            loss.name, task.name
        ));
    }
    built.misfit(&task.name, &task.kind)
}

/// SHA-256 of the canonical (key-sorted) JSON of a config, first 16 hex digits.
pub fn config_hash(config: &serde_json::Value) -> String {
    let text = serde_json::to_string(config).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Plan {
    /// A human-readable summary of the grid (for `lossbench check` and the start of `train`).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let kinds: BTreeMap<&str, Family> = self.tasks.iter().map(|t| (t.name.as_str(), t.kind.family())).collect();
        out.push_str(&format!("recipe `{}` ({})\n", self.name, self.source_path.display()));
        if let Some(d) = &self.description {
            out.push_str(&format!("  {}\n", d.trim()));
        }
        out.push_str(&format!("  tasks ({}):", self.tasks.len()));
        for t in &self.tasks {
            out.push_str(&format!(" {} [{}]", t.name, kinds[t.name.as_str()]));
        }
        out.push('\n');
        out.push_str(&self.task_lines());
        out.push_str(&format!(
            "  losses ({}): {}\n",
            self.losses.len(),
            self.losses.iter().map(|l| l.label.as_str()).collect::<Vec<_>>().join(", ")
        ));
        out.push_str(&format!(
            "  optimizers ({}): {}\n",
            self.optimizers.len(),
            self.optimizers.iter().map(|o| o.label.as_str()).collect::<Vec<_>>().join(", ")
        ));
        out.push_str(&self.optimizer_lines());
        // Regularizers by where they apply (the run's list is recipe + task + loss entry).
        let mut regs: Vec<String> = Vec::new();
        for t in &self.tasks {
            if !t.regularizers.is_empty() {
                regs.push(format!("{}: {}", t.name, t.regularizers.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join(" + ")));
            }
        }
        for l in &self.losses {
            if !l.regularizers.is_empty() {
                regs.push(format!("{}: {}", l.label, l.regularizers.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join(" + ")));
            }
        }
        if let Some(run) = self.runs.first() {
            let everywhere: Vec<&str> = run
                .regularizers
                .iter()
                .filter(|r| {
                    !run.task.regularizers.iter().any(|t| Arc::ptr_eq(t, r)) && !run.loss.regularizers.iter().any(|l| Arc::ptr_eq(l, r))
                })
                .map(|r| r.label.as_str())
                .collect();
            if !everywhere.is_empty() {
                regs.insert(0, format!("every run: {}", everywhere.join(" + ")));
            }
        }
        if !regs.is_empty() {
            out.push_str(&format!("  regularizers: {}\n", regs.join("; ")));
        }
        for note in &self.grid {
            out.push_str(&format!("  grid {note}\n"));
        }
        out.push_str(&format!(
            "  seeds ({}): {}\n",
            self.seeds.len(),
            self.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ));
        out.push_str(&format!(
            "  train: {}, batch {}, schedule {}, dtype {}\n",
            counted(self.train.epochs, "epoch"),
            self.train.batch_size,
            as_written(&self.train.schedule),
            as_written(&self.train.dtype)
        ));
        if let Some(worst) = self.tasks.iter().max_by(|a, b| a.memory.total().total_cmp(&b.memory.total())) {
            let (limit, why) = crate::memory::limit();
            out.push_str(&format!(
                "  memory: about {} per run at most (task `{}`); limit {} ({why})\n",
                crate::files::human_bytes(worst.memory.total()),
                worst.name,
                crate::files::human_bytes(limit)
            ));
        }
        out.push_str(&self.cost());
        for (task, loss, reason) in &self.skipped {
            out.push_str(&format!("  skipped {task} × {loss}: {reason}\n"));
        }
        out.push_str(&format!(
            "  runs: {} = {} × {} × {}\n",
            self.runs.len(),
            counted(self.tasks.len() * self.losses.len() - self.skipped.len(), "task×loss pair"),
            counted(self.optimizers.len(), "optimizer"),
            counted(self.seeds.len(), "seed")
        ));
        out
    }
}

impl Plan {
    /// Per task its data after the transforms, its model and its metrics as resolved (defaults
    /// included).
    fn task_lines(&self) -> String {
        let mut out = String::new();
        for t in &self.tasks {
            let metrics: Vec<&str> = t.metrics.iter().map(|m| m.name.as_str()).collect();
            let model = as_written(&t.config["model"]);
            out.push_str(&format!("    {}: {}; model {model}; metrics {}\n", t.name, t.data_summary, metrics.join(", ")));
        }
        out
    }

    /// The optimizers' resolved parameters (defaults included), when there are few of them.
    fn optimizer_lines(&self) -> String {
        let mut out = String::new();
        if self.optimizers.len() <= 4 {
            for o in &self.optimizers {
                let mut config = o.config.clone();
                config.as_object_mut().map(|m| m.remove("label"));
                out.push_str(&format!("    {}: {}\n", o.label, as_written(&config)));
            }
        }
        out
    }

    /// About how many optimizer steps the plan takes: a pass over each run's train split per
    /// epoch, in batches.
    fn cost(&self) -> String {
        let steps: u64 = self.runs.iter().map(|r| (r.task.train_rows.div_ceil(r.train.batch_size.max(1)) * r.train.epochs) as u64).sum();
        format!("  cost: about {steps} optimizer steps in all ({} runs)\n", self.runs.len())
    }
}

/// `1 seed`, `3 seeds`.
fn counted(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A setting as a recipe writes it: `f32`, `constant`, `cosine (min_factor 0)`.
fn as_written(value: &impl Serialize) -> String {
    match serde_json::to_value(value).unwrap_or_default() {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(mut map) => {
            let name = map.remove("name").and_then(|n| n.as_str().map(str::to_string)).unwrap_or_default();
            let params: Vec<String> =
                map.iter().map(|(k, v)| format!("{k} {}", v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect();
            if params.is_empty() {
                name
            } else {
                format!("{name} ({})", params.join(", "))
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_str(text: &str) -> Result<Plan> {
        resolve(text, Path::new("r.yaml"), &Overrides { device: "cpu".into(), ..Default::default() })
    }

    const BASE: &str = "tasks:\n  - name: moons\n    dataset: {name: two_moons, n: 100}\n    model: {name: mlp, hidden: [8]}\nlosses:\n  - cross_entropy\n  - {name: focal, gamma: 1.0}\nseeds: [0, 1]\n";

    #[test]
    fn grid_is_tasks_losses_optimizers_seeds() {
        let plan = resolve_str(BASE).unwrap();
        assert_eq!(plan.runs.len(), 4);
        assert_eq!(plan.optimizers[0].label, "adamw");
        assert_eq!(plan.runs[0].rel_dir, PathBuf::from("moons/cross_entropy/adamw/seed-0"));
        // Same config, same hash; different seed, different hash.
        assert_eq!(plan.runs[0].hash, resolve_str(BASE).unwrap().runs[0].hash);
        assert_ne!(plan.runs[0].hash, plan.runs[1].hash);
    }

    #[test]
    fn duplicate_names_get_labels_from_their_params() {
        let text = BASE.replace("  - cross_entropy\n", "  - cross_entropy\n  - {name: cross_entropy, smoothing: 0.1}\n");
        let plan = resolve_str(&text).unwrap();
        let labels: Vec<&str> = plan.losses.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["cross_entropy", "cross_entropy-smoothing=0.1", "focal"]);
    }

    #[test]
    fn harmonic_loss_pairs_only_with_harmonic_heads() {
        let text = "tasks:\n  - name: lin\n    dataset: {name: two_moons, n: 100}\n  - name: har\n    dataset: {name: two_moons, n: 100}\n    model: {name: mlp, hidden: [8], head: harmonic}\nlosses: [cross_entropy, harmonic]\n";
        let plan = resolve_str(text).unwrap();
        assert_eq!(plan.runs.len(), 3);
        assert_eq!(plan.skipped.len(), 1);
        assert!(plan.skipped[0].2.contains("needs a model with `head: harmonic`"), "{:?}", plan.skipped);
        let only_linear = "tasks:\n  - name: lin\n    dataset: {name: two_moons, n: 100}\nlosses: [harmonic]\n";
        let e = resolve_str(only_linear).err().unwrap().to_string();
        assert!(e.contains("needs a model with `head: harmonic`, but task `lin`"), "{e}");
    }

    #[test]
    fn errors_name_the_place_and_the_fix() {
        let e = resolve_str(&BASE.replace("gamma", "gama")).err().unwrap().to_string();
        assert!(e.starts_with("r.yaml:7:") && e.contains("losses[1] (focal)") && e.contains("unknown field `gama`"), "{e}");
        let e = resolve_str(&BASE.replace("name: focal", "name: fcoal")).err().unwrap().to_string();
        assert!(e.contains("r.yaml:7:") && e.contains("did you mean `focal`?"), "{e}");
        let e = resolve_str(&BASE.replace("seeds:", "sedes:")).err().unwrap().to_string();
        assert!(e.contains("r.yaml:8:") && e.contains("unknown field `sedes`"), "{e}");
        let e = resolve_str(&BASE.replace("gamma: 1.0", "gamma: -3")).err().unwrap().to_string();
        assert!(e.contains("gamma") && e.contains("out of range"), "{e}");
        let e = resolve_str(&BASE.replace("  - cross_entropy\n", "  - mse\n")).err().unwrap().to_string();
        assert!(e.contains("loss `mse` needs a regression task, but task `moons` is classification"), "{e}");
        let e = resolve_str(&BASE.replace("n: 100}", "n: 100, label_noise: {kind: symetric, rate: 0.2}}")).err().unwrap().to_string();
        assert!(e.contains("symetric"), "{e}");
    }

    #[test]
    fn grids_expand_into_labelled_entries() {
        let text = BASE
            .replace("gamma: 1.0", "gamma: [1, 2]")
            .replace("seeds: [0, 1]", "seeds: 2\noptimizers:\n  - {name: adamw, weight_decay: [0, 0.01], lr: [0.001, 0.01]}\n  - sgd");
        let plan = resolve_str(&text).unwrap();
        let losses: Vec<&str> = plan.losses.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(losses, ["cross_entropy", "focal-gamma=1", "focal-gamma=2"]);
        let opts: Vec<&str> = plan.optimizers.iter().map(|o| o.label.as_str()).collect();
        // Axes in the order of their names, whatever the recipe's order; the first slowest.
        assert_eq!(
            opts,
            [
                "adamw-lr=0.001-weight_decay=0",
                "adamw-lr=0.001-weight_decay=0.01",
                "adamw-lr=0.01-weight_decay=0",
                "adamw-lr=0.01-weight_decay=0.01",
                "sgd"
            ]
        );
        assert_eq!(plan.optimizers[3].config["lr"], 0.01);
        assert_eq!(plan.optimizers[3].config["weight_decay"], 0.01);
        assert_eq!(plan.runs.len(), 3 * 5 * 2);
        assert_eq!(plan.grid.len(), 2, "{:?}", plan.grid);
        assert!(plan.describe().contains("grid optimizers[0] (adamw): lr (2) × weight_decay (2) → 4 entries"), "{}", plan.describe());
    }

    #[test]
    fn a_list_the_parameter_takes_is_a_value_and_a_list_of_lists_an_axis() {
        let plan = resolve_str(BASE).unwrap();
        assert_eq!(plan.tasks.len(), 1);
        let text = BASE.replace("hidden: [8]", "hidden: [[8], [4, 4]], dropout: [0.0, 0.5]");
        let plan = resolve_str(&text).unwrap();
        let names: Vec<&str> = plan.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "moons-model.dropout=0.0-model.hidden=8",
                "moons-model.dropout=0.0-model.hidden=4_4",
                "moons-model.dropout=0.5-model.hidden=8",
                "moons-model.dropout=0.5-model.hidden=4_4"
            ]
        );
        assert_eq!(plan.tasks[1].config["model"]["hidden"], serde_json::json!([4, 4]));
    }

    #[test]
    fn train_transform_and_regularizer_grids_vary_the_tasks() {
        let text = BASE.replace("n: 100}", "n: 100, label_noise: {kind: symmetric, rate: [0.1, 0.3]}}").replace(
            "seeds: [0, 1]\n",
            "seeds: \"0-2\"\ntrain: {epochs: [1, 2], batch_size: 16}\nregularizers: [{name: flooding, level: [0.05, 0.1]}]\n",
        );
        let plan = resolve_str(&text).unwrap();
        assert_eq!(plan.seeds, [0, 1, 2]);
        assert_eq!(plan.tasks.len(), 2 * 2 * 2);
        assert_eq!(plan.tasks[0].name, "moons-label_noise.rate=0.1-flooding.level=0.05-epochs=1");
        assert_eq!(plan.tasks[1].train.epochs, 2);
        let run = plan.runs.iter().find(|r| r.task.name.ends_with("flooding.level=0.1-epochs=2")).unwrap();
        assert_eq!((run.train.epochs, run.regularizers[0].config["level"].as_f64()), (2, Some(0.1)));
        assert_eq!(run.config()["train"]["epochs"], 2);
    }

    #[test]
    fn grid_errors_name_the_entry_as_written_and_its_point() {
        let text = BASE.replace("  - cross_entropy\n", "  - {name: focal, gamma: [2, 3]}\n").replace("gamma: 1.0", "gamma: [1, -3]");
        let e = resolve_str(&text).err().unwrap().to_string();
        assert!(e.contains("losses[1] (focal, gamma=-3)") && e.contains("out of range"), "{e}");
        let text = BASE.replace("gamma: 1.0", "gamma: [1, 1]");
        let e = resolve_str(&text).err().unwrap().to_string();
        assert!(e.contains("losses[1] and losses[1] both get the label `focal-gamma=1`; give the grid's points distinct values"), "{e}");
        for bad in ["seeds: 0", "seeds: \"3-1\"", "seeds: [a]"] {
            let e = resolve_str(&BASE.replace("seeds: [0, 1]", bad)).err().unwrap().to_string();
            assert!(e.starts_with("r.yaml:8:") && e.contains("seeds"), "{bad}: {e}");
        }
        let e = resolve_str(&format!("{BASE}train: {{epochs: [1, 0]}}\n")).err().unwrap().to_string();
        assert!(e.contains("train.epochs = 0 is out of range"), "{e}");
        let e = resolve_str(&format!("{BASE}train: {{epoch: 3}}\n")).err().unwrap().to_string();
        assert!(e.starts_with("r.yaml:9:") && e.contains("unknown field `epoch`"), "{e}");
    }
}
