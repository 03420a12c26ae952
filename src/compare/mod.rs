//! Comparison tables from any set of run folders.
//!
//! For each run the value of one metric on one split is taken at the final evaluation (or at the
//! epoch that is best on a validation metric); runs are grouped by task and method (loss label,
//! plus the optimizer label when a comparison has several optimizers); seeds are aggregated as
//! mean ± sample std and n; methods are ranked per task (1 = best, ties share the mean rank) and
//! by their average rank over tasks; with a baseline, per-seed paired differences are shown
//! (runs with the same seed share initial weights, data order and label noise).
//!
//! Diverged and failed runs are never dropped silently: they are counted per cell and the cell
//! is marked; their values do not enter the mean.

use crate::error::{Error, Result};
use crate::metrics::higher_is_better;
use crate::run::{self, RunRecord, Status, METRICS_FILE, RUN_FILE};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A run folder's record and metric rows.
pub struct LoadedRun {
    pub dir: PathBuf,
    pub record: RunRecord,
    /// (epoch, split, metric, value)
    pub rows: Vec<(usize, String, String, f64)>,
}

/// How a run's value is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    Final,
    /// The epoch with the best value of this metric on the validation split.
    Best(String),
}

impl std::str::FromStr for Select {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "final" {
            return Ok(Select::Final);
        }
        match s.strip_prefix("best:") {
            Some(m) if !m.is_empty() => Ok(Select::Best(m.to_string())),
            _ => Err(Error::input(format!("unknown selection `{s}`; allowed: final, best:METRIC (e.g. best:accuracy)"))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
    Latex,
}

#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Metric to compare; default: each task's first metric.
    pub metric: Option<String>,
    pub split: String,
    pub select: Select,
    pub baseline: Option<String>,
    /// Region of practical equivalence for the paired verdict: a difference whose confidence
    /// interval lies inside `[−rope, rope]` is a tie.
    pub rope: f64,
    /// Significance level of the Holm-adjusted Wilcoxon test and of Friedman / Nemenyi.
    pub alpha: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { metric: None, split: "test".into(), select: Select::Final, baseline: None, rope: 0.0, alpha: 0.05 }
    }
}

/// Bootstrap resamples of the paired-difference confidence interval, and its seed.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;
pub const BOOTSTRAP_SEED: u64 = 0;

/// The decision of a paired comparison against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Holm-adjusted p < α and the whole confidence interval is better than the baseline by
    /// more than the rope.
    Win,
    /// The confidence interval lies inside `[−rope, rope]`.
    Tie,
    /// Holm-adjusted p < α and the whole interval is worse by more than the rope.
    Loss,
    /// Neither: the data do not decide (too few seeds, or a mixed interval).
    Undecided,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Win => "win",
            Verdict::Tie => "tie",
            Verdict::Loss => "loss",
            Verdict::Undecided => "undecided",
        }
    }
}

/// A cell's paired comparison against the baseline over the seeds both have.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    /// Mean and standard deviation of the per-seed differences (method − baseline).
    pub mean: f64,
    pub std: f64,
    pub n: usize,
    /// 95 % percentile-bootstrap interval of the mean difference.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided Wilcoxon signed-rank p-value (`None` when every difference is zero).
    pub p_value: Option<f64>,
    /// Holm-adjusted over every comparison of the table.
    pub p_holm: Option<f64>,
    pub verdict: Verdict,
}

/// One (task, method) cell.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub task: String,
    pub method: String,
    pub loss: String,
    pub optimizer: String,
    /// (seed, value) of completed, non-diverged runs.
    pub values: Vec<(u64, f64)>,
    pub diverged: usize,
    pub failed: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub rank: Option<f64>,
    /// Paired comparison against the baseline.
    pub paired: Option<Paired>,
}

/// One table: one metric over the tasks that use it.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub metric: String,
    pub split: String,
    pub higher_is_better: bool,
    pub select: String,
    pub tasks: Vec<String>,
    pub methods: Vec<String>,
    pub cells: Vec<Cell>,
    pub avg_rank: BTreeMap<String, f64>,
    pub baseline: Option<String>,
    /// Friedman's test over the tasks where every method has a mean (needs ≥ 2 tasks, ≥ 3 methods).
    pub friedman: Option<crate::stats::Friedman>,
    /// The methods of the Friedman test, in its treatment order.
    pub friedman_methods: Vec<String>,
    /// Nemenyi's critical difference of average ranks at `alpha`.
    pub cd: Option<f64>,
    pub alpha: f64,
    pub rope: f64,
}

impl Section {
    pub fn cell(&self, task: &str, method: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.task == task && c.method == method)
    }
}

fn parse_metrics_csv(path: &Path) -> Result<Vec<(usize, String, String, f64)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let bad = || Error::input(format!("{}:{}: expected `epoch,split,metric,value`", path.display(), i + 1));
        if f.len() != 4 {
            return Err(bad());
        }
        let epoch = f[0].parse().map_err(|_| bad())?;
        let value = f[3].parse::<f64>().map_err(|_| bad())?;
        rows.push((epoch, f[1].to_string(), f[2].to_string(), value));
    }
    Ok(rows)
}

fn collect_dirs(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.join(RUN_FILE).is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
    let mut subdirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for d in subdirs {
        collect_dirs(&d, out)?;
    }
    Ok(())
}

/// Every run folder under `paths` (any depth). Folders whose `run.json` cannot be read (an
/// interrupted write by another tool, a hand edit) are returned separately, so the caller can
/// say so instead of failing the whole comparison.
pub fn gather(paths: &[PathBuf]) -> Result<Vec<LoadedRun>> {
    let (runs, unreadable) = gather_lenient(paths)?;
    if let Some(dir) = unreadable.first() {
        return Err(Error::input(format!("{}: unreadable {RUN_FILE}", dir.display())));
    }
    Ok(runs)
}

/// Like [`gather`], but returns the folders with an unreadable `run.json` instead of failing.
pub fn gather_lenient(paths: &[PathBuf]) -> Result<(Vec<LoadedRun>, Vec<PathBuf>)> {
    let mut dirs = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(Error::input(format!("{} does not exist", p.display())));
        }
        collect_dirs(p, &mut dirs)?;
    }
    // The same folder reached twice (overlapping paths) is one run, not two.
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|d| seen.insert(std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())));
    let mut runs = Vec::new();
    let mut unreadable = Vec::new();
    for dir in dirs {
        let Some(record) = run::read_record(&dir) else {
            unreadable.push(dir);
            continue;
        };
        let metrics = dir.join(METRICS_FILE);
        let rows = if metrics.is_file() { parse_metrics_csv(&metrics)? } else { Vec::new() };
        runs.push(LoadedRun { dir, record, rows });
    }
    Ok((runs, unreadable))
}

pub(crate) fn first_metric(record: &RunRecord) -> Option<String> {
    record.config["task"]["metrics"][0]["label"].as_str().map(str::to_string)
}

/// Whether a higher value of the metric recorded under `label` is better in `record`'s runs:
/// the label is mapped to its registry name through the run's config (labels such as `acc` or
/// `top_k-k=5` are not registry names).
pub(crate) fn direction(record: &RunRecord, label: &str) -> bool {
    let name = record.config["task"]["metrics"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["label"].as_str() == Some(label)))
        .and_then(|m| m["name"].as_str())
        .unwrap_or(label);
    higher_is_better(name)
}

/// The value of `metric` on `split` chosen by `select` for one run.
fn pick(run: &LoadedRun, metric: &str, split: &str, select: &Select) -> Result<Option<f64>> {
    let epoch = match select {
        Select::Final => run.rows.iter().filter(|r| r.1 == split && r.2 == metric).map(|r| r.0).max(),
        Select::Best(by) => {
            let higher = direction(&run.record, by);
            let candidates: Vec<(usize, f64)> = run.rows.iter().filter(|r| r.1 == "val" && &r.2 == by).map(|r| (r.0, r.3)).collect();
            if candidates.is_empty() && run.rows.iter().any(|r| &r.2 == by) {
                return Err(Error::input(format!(
                    "{}: --select best:{by} needs `{by}` on a validation split, and this run has none",
                    run.dir.display()
                )));
            }
            candidates
                .into_iter()
                .filter(|(_, v)| v.is_finite())
                .fold(None, |best: Option<(usize, f64)>, (e, v)| match best {
                    Some((_, b)) if (higher && v <= b) || (!higher && v >= b) => best,
                    _ => Some((e, v)),
                })
                .map(|(e, _)| e)
        }
    };
    Ok(epoch.and_then(|e| run.rows.iter().find(|r| r.0 == e && r.1 == split && r.2 == metric).map(|r| r.3)))
}

fn mean_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = if values.len() > 1 { (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    (Some(mean), Some(std))
}

/// Build the comparison sections.
pub fn compare(runs: &[LoadedRun], opts: &CompareOptions) -> Result<Vec<Section>> {
    if runs.is_empty() {
        return Err(Error::input("no runs found (no folder with a run.json); train a recipe first"));
    }
    let optimizers: BTreeSet<&str> = runs.iter().map(|r| r.record.optimizer.as_str()).collect();
    let method_of = |r: &RunRecord| {
        if optimizers.len() > 1 {
            format!("{} / {}", r.loss, r.optimizer)
        } else {
            r.loss.clone()
        }
    };

    // Which metric each task is compared on.
    let mut task_metric: BTreeMap<String, String> = BTreeMap::new();
    let mut task_order: Vec<String> = Vec::new();
    for r in runs {
        if !task_order.contains(&r.record.task) {
            task_order.push(r.record.task.clone());
        }
        let metric = match &opts.metric {
            // An explicit metric applies to the tasks whose runs recorded it.
            Some(m) => r.rows.iter().any(|row| &row.2 == m).then(|| m.clone()),
            None => first_metric(&r.record),
        };
        if let Some(m) = metric {
            task_metric.entry(r.record.task.clone()).or_insert(m);
        }
    }
    let requested = opts.metric.iter().map(|m| ("--metric", m.as_str()));
    let selection = match &opts.select {
        Select::Best(by) => Some(("--select best:", by.as_str())),
        Select::Final => None,
    };
    for (flag, m) in requested.chain(selection) {
        let known = runs.iter().any(|r| r.rows.iter().any(|row| row.2 == m));
        if !known {
            let names: BTreeSet<&str> = runs.iter().flat_map(|r| r.rows.iter().map(|row| row.2.as_str())).collect();
            let hint = crate::registry::suggest(m, names.iter().copied()).map(|c| format!("did you mean `{c}`? ")).unwrap_or_default();
            return Err(Error::input(format!(
                "{flag}{}{m}: no run has metric `{m}`; {hint}(recorded: {})",
                if flag.ends_with(':') { "" } else { " " },
                names.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let mut metric_order: Vec<String> = Vec::new();
    for t in &task_order {
        if let Some(m) = task_metric.get(t) {
            if !metric_order.contains(m) {
                metric_order.push(m.clone());
            }
        }
    }

    let mut sections = Vec::new();
    for metric in metric_order {
        let tasks: Vec<String> = task_order.iter().filter(|t| task_metric.get(*t) == Some(&metric)).cloned().collect();
        let higher = runs
            .iter()
            .find(|r| tasks.contains(&r.record.task))
            .map_or_else(|| higher_is_better(&metric), |r| direction(&r.record, &metric));
        let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
        let mut methods: Vec<String> = Vec::new();
        for r in runs.iter().filter(|r| tasks.contains(&r.record.task)) {
            let method = method_of(&r.record);
            if !methods.contains(&method) {
                methods.push(method.clone());
            }
            let cell = cells.entry((r.record.task.clone(), method.clone())).or_insert_with(|| Cell {
                task: r.record.task.clone(),
                method: method.clone(),
                loss: r.record.loss.clone(),
                optimizer: r.record.optimizer.clone(),
                values: Vec::new(),
                diverged: 0,
                failed: 0,
                mean: None,
                std: None,
                rank: None,
                paired: None,
            });
            match &r.record.status {
                Status::Failed { .. } => cell.failed += 1,
                Status::Diverged { .. } => cell.diverged += 1,
                Status::Finished => match pick(r, &metric, &opts.split, &opts.select)? {
                    Some(v) if v.is_finite() => cell.values.push((r.record.seed, v)),
                    // A finished run whose metric is not finite (NaN outputs at evaluation)
                    // counts with the diverged ones, never in a mean or a paired test.
                    Some(_) => cell.diverged += 1,
                    None => {}
                },
            }
        }
        for cell in cells.values_mut() {
            cell.values.sort_by_key(|(s, _)| *s);
            let vals: Vec<f64> = cell.values.iter().map(|v| v.1).collect();
            (cell.mean, cell.std) = mean_std(&vals);
        }
        // Ranks per task.
        for task in &tasks {
            let mut scored: Vec<(String, f64)> = cells
                .values()
                .filter(|c| &c.task == task)
                .filter_map(|c| c.mean.filter(|m| m.is_finite()).map(|m| (c.method.clone(), m)))
                .collect();
            scored.sort_by(|a, b| if higher { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) });
            let mut i = 0;
            while i < scored.len() {
                let mut j = i;
                while j + 1 < scored.len() && scored[j + 1].1 == scored[i].1 {
                    j += 1;
                }
                let rank = (i + j) as f64 / 2.0 + 1.0;
                for (method, _) in &scored[i..=j] {
                    if let Some(c) = cells.get_mut(&(task.clone(), method.clone())) {
                        c.rank = Some(rank);
                    }
                }
                i = j + 1;
            }
        }
        let mut avg_rank = BTreeMap::new();
        for m in &methods {
            let ranks: Vec<f64> = cells.values().filter(|c| &c.method == m).filter_map(|c| c.rank).collect();
            if !ranks.is_empty() {
                avg_rank.insert(m.clone(), ranks.iter().sum::<f64>() / ranks.len() as f64);
            }
        }
        // Paired differences against the baseline.
        let baseline = match &opts.baseline {
            Some(b) => {
                let found = methods.iter().find(|m| *m == b).or_else(|| methods.iter().find(|m| m.split(" / ").next() == Some(b.as_str())));
                match found {
                    Some(m) => Some(m.clone()),
                    None => {
                        let hint = crate::registry::suggest(b, methods.iter().map(String::as_str))
                            .map(|c| format!("did you mean `{c}`? "))
                            .unwrap_or_default();
                        return Err(Error::input(format!(
                            "baseline `{b}` is not among the compared methods; {hint}(methods: {})",
                            methods.join(", ")
                        )));
                    }
                }
            }
            None => None,
        };
        if let Some(base) = &baseline {
            for task in &tasks {
                let Some(base_vals) = cells.get(&(task.clone(), base.clone())).map(|c| c.values.clone()) else {
                    continue;
                };
                for cell in cells.values_mut().filter(|c| &c.task == task && &c.method != base) {
                    let diffs: Vec<f64> =
                        cell.values.iter().filter_map(|(s, v)| base_vals.iter().find(|(bs, _)| bs == s).map(|(_, bv)| v - bv)).collect();
                    if let (Some(m), Some(s)) = mean_std(&diffs) {
                        let (ci_low, ci_high) =
                            crate::stats::bootstrap_ci(&diffs, 0.95, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).unwrap_or((f64::NAN, f64::NAN));
                        cell.paired = Some(Paired {
                            mean: m,
                            std: s,
                            n: diffs.len(),
                            ci_low,
                            ci_high,
                            p_value: crate::stats::wilcoxon(&diffs).map(|w| w.p_value),
                            p_holm: None,
                            verdict: Verdict::Undecided,
                        });
                    }
                }
            }
            // Holm over the family of comparisons in this table, then the verdicts.
            let keys: Vec<(String, String)> =
                cells.iter().filter(|(_, c)| c.paired.as_ref().is_some_and(|p| p.p_value.is_some())).map(|(k, _)| k.clone()).collect();
            let ps: Vec<f64> = keys.iter().filter_map(|k| cells[k].paired.as_ref().and_then(|p| p.p_value)).collect();
            for (k, adj) in keys.iter().zip(crate::stats::holm(&ps)) {
                if let Some(p) = cells.get_mut(k).and_then(|c| c.paired.as_mut()) {
                    p.p_holm = Some(adj);
                }
            }
            for cell in cells.values_mut() {
                if let Some(p) = cell.paired.as_mut() {
                    p.verdict = verdict(p, higher, opts.rope, opts.alpha);
                }
            }
        }
        // Friedman / Nemenyi over the tasks where every method has a finite mean.
        let complete: Vec<&String> = tasks
            .iter()
            .filter(|t| methods.iter().all(|m| cells.get(&((*t).clone(), m.clone())).is_some_and(|c| c.mean.is_some_and(f64::is_finite))))
            .collect();
        let (friedman, cd) = if complete.len() >= 2 && methods.len() >= 3 {
            // Rank 1 = best: negate higher-is-better values so that ascending ranks are best first.
            let table: Vec<Vec<f64>> = complete
                .iter()
                .map(|t| {
                    methods
                        .iter()
                        .map(|m| {
                            let v = cells[&((*t).clone(), m.clone())].mean.unwrap_or(f64::NAN);
                            if higher {
                                -v
                            } else {
                                v
                            }
                        })
                        .collect()
                })
                .collect();
            let f = crate::stats::friedman(&table).ok();
            let cd = crate::stats::nemenyi_cd(methods.len(), complete.len(), opts.alpha).ok();
            (f, cd)
        } else {
            (None, None)
        };
        let friedman_methods = methods.clone();
        sections.push(Section {
            metric: metric.clone(),
            split: opts.split.clone(),
            higher_is_better: higher,
            select: match &opts.select {
                Select::Final => "final epoch".into(),
                Select::Best(m) => format!("epoch with best val {m}"),
            },
            tasks,
            methods,
            cells: cells.into_values().collect(),
            avg_rank,
            baseline,
            friedman,
            friedman_methods,
            cd,
            alpha: opts.alpha,
            rope: opts.rope,
        });
    }
    Ok(sections)
}

/// The verdict of a paired comparison (see [`Verdict`]).
fn verdict(p: &Paired, higher_is_better: bool, rope: f64, alpha: f64) -> Verdict {
    let (lo, hi) = if higher_is_better { (p.ci_low, p.ci_high) } else { (-p.ci_high, -p.ci_low) };
    if lo >= -rope && hi <= rope {
        return Verdict::Tie;
    }
    let significant = p.p_holm.is_some_and(|q| q < alpha);
    if significant && lo > rope {
        Verdict::Win
    } else if significant && hi < -rope {
        Verdict::Loss
    } else {
        Verdict::Undecided
    }
}

/// Decimals for values of this magnitude: 4 below 100, 2 below 1000, else 1.
fn decimals(v: f64) -> usize {
    match v.abs() {
        a if a >= 1000.0 => 1,
        a if a >= 100.0 => 2,
        _ => 4,
    }
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.*}", decimals(v))
    } else {
        format!("{v}")
    }
}

/// `mean ± std`, both with the mean's number of decimals.
fn pair(mean: f64, std: f64, latex: bool) -> String {
    let d = if mean.is_finite() { decimals(mean) } else { 4 };
    if latex {
        format!("${mean:.d$} \\pm {std:.d$}$")
    } else {
        format!("{mean:.d$} ± {std:.d$}")
    }
}

fn signed(v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

/// Whether `method` has the best mean in `task` (ties all count), for bold.
fn is_best(section: &Section, task: &str, method: &str) -> bool {
    let means = section.cells.iter().filter(|c| c.task == task).filter_map(|c| c.mean.filter(|m| m.is_finite()));
    let best = if section.higher_is_better { means.fold(f64::NEG_INFINITY, f64::max) } else { means.fold(f64::INFINITY, f64::min) };
    section.cell(task, method).and_then(|c| c.mean).is_some_and(|m| m == best)
}

fn cell_text(c: &Cell, n_max: usize, bold: bool, latex: bool) -> String {
    let mut s = match (c.mean, c.std) {
        (Some(m), Some(sd)) => pair(m, sd, latex),
        _ => "—".into(),
    };
    if bold && c.mean.is_some() {
        s = if latex { s.replacen('$', "$\\mathbf{", 1).trim_end_matches('$').to_string() + "}$" } else { format!("**{s}**") };
    }
    if c.values.len() != n_max && c.mean.is_some() {
        s.push_str(&format!(" (n={})", c.values.len()));
    }
    if c.diverged > 0 {
        s.push_str(&format!(" †{}", c.diverged));
    }
    if c.failed > 0 {
        s.push_str(&format!(" ✗{}", c.failed));
    }
    s
}

fn header_text(section: &Section) -> String {
    format!(
        "{} {} ({}; mean ± std over seeds; {} is better)",
        section.split,
        section.metric,
        section.select,
        if section.higher_is_better { "higher" } else { "lower" }
    )
}

fn render_md(sections: &[Section]) -> String {
    let mut out = String::new();
    for s in sections {
        let n_max = s.cells.iter().map(|c| c.values.len()).max().unwrap_or(0);
        out.push_str(&format!("### {}\n\n", header_text(s)));
        out.push_str(&format!("| method | {} | avg rank |\n", s.tasks.join(" | ")));
        out.push_str(&format!("|---|{}---|\n", "---|".repeat(s.tasks.len())));
        let mut methods = s.methods.clone();
        methods.sort_by(|a, b| s.avg_rank.get(a).unwrap_or(&f64::MAX).total_cmp(s.avg_rank.get(b).unwrap_or(&f64::MAX)));
        for m in &methods {
            let cells: Vec<String> = s
                .tasks
                .iter()
                .map(|t| match s.cell(t, m) {
                    Some(c) => cell_text(c, n_max, is_best(s, t, m), false),
                    None => "—".into(),
                })
                .collect();
            let rank = s.avg_rank.get(m).map(|r| format!("{r:.2}")).unwrap_or_else(|| "—".into());
            out.push_str(&format!("| {m} | {} | {rank} |\n", cells.join(" | ")));
        }
        let diverged: usize = s.cells.iter().map(|c| c.diverged).sum();
        let failed: usize = s.cells.iter().map(|c| c.failed).sum();
        out.push_str(&format!("\nn = {n_max} seeds per cell unless marked; bold = best mean in its task."));
        if diverged > 0 {
            out.push_str(&format!(" †k = k seeds diverged (excluded from the mean; {diverged} in all)."));
        }
        if failed > 0 {
            out.push_str(&format!(" ✗k = k runs failed ({failed} in all; see their run.json)."));
        }
        out.push('\n');
        if let Some(text) = friedman_text(s) {
            out.push_str(&format!("\n{text}\n"));
        }
        if let Some(base) = &s.baseline {
            out.push_str(&format!(
                "\nPaired against `{base}` (same seeds): mean ± std of the per-seed differences, 95 % bootstrap interval, \
                 two-sided Wilcoxon signed-rank p, Holm-adjusted over the {} comparisons of this table; verdict at α = {} with rope ±{}:\n\n",
                paired_count(s),
                s.alpha,
                s.rope
            ));
            out.push_str("| method | task | Δ mean ± std | 95 % CI | p | p (Holm) | verdict | n |\n|---|---|---|---|---|---|---|---|\n");
            for (m, t, p) in paired_rows(s, &methods) {
                out.push_str(&format!(
                    "| {m} | {t} | {} ± {} | [{}, {}] | {} | {} | {} | {} |\n",
                    signed(p.mean),
                    num(p.std),
                    signed(p.ci_low),
                    signed(p.ci_high),
                    p_text(p.p_value),
                    p_text(p.p_holm),
                    p.verdict.as_str(),
                    p.n
                ));
            }
        }
        out.push('\n');
    }
    out
}

fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
        None => "—".into(),
    }
}

fn paired_count(s: &Section) -> usize {
    s.cells.iter().filter(|c| c.paired.as_ref().is_some_and(|p| p.p_value.is_some())).count()
}

/// (method, task, paired) in table order.
fn paired_rows<'a>(s: &'a Section, methods: &'a [String]) -> Vec<(&'a str, &'a str, &'a Paired)> {
    let mut out = Vec::new();
    for m in methods {
        for t in &s.tasks {
            if let Some(p) = s.cell(t, m).and_then(|c| c.paired.as_ref()) {
                out.push((m.as_str(), t.as_str(), p));
            }
        }
    }
    out
}

/// "Friedman …; Nemenyi CD …", when the table has a Friedman test.
fn friedman_text(s: &Section) -> Option<String> {
    let f = s.friedman.as_ref()?;
    let mut text = format!(
        "Friedman test over {} tasks × {} methods: χ² = {:.3}, p = {}",
        f.blocks,
        f.treatments,
        f.statistic,
        p_text(Some(f.p_value))
    );
    if let Some(cd) = s.cd {
        text.push_str(&format!(
            "; Nemenyi critical difference (α = {}) = {cd:.3} — average ranks further apart differ significantly",
            s.alpha
        ));
    }
    text.push('.');
    Some(text)
}

fn latex_escape(s: &str) -> String {
    s.replace('\\', "\\textbackslash{}").replace('_', "\\_").replace('&', "\\&").replace('%', "\\%").replace('#', "\\#")
}

fn render_latex(sections: &[Section]) -> String {
    let mut out = String::new();
    for s in sections {
        let n_max = s.cells.iter().map(|c| c.values.len()).max().unwrap_or(0);
        out.push_str("\\begin{table}[t]\n\\centering\n");
        out.push_str(&format!("\\caption{{{}}}\n", latex_escape(&header_text(s)).replace('±', "$\\pm$")));
        out.push_str(&format!("\\begin{{tabular}}{{l{}r}}\n\\toprule\n", "c".repeat(s.tasks.len())));
        let head: Vec<String> = s.tasks.iter().map(|t| latex_escape(t)).collect();
        out.push_str(&format!("method & {} & avg rank \\\\\n\\midrule\n", head.join(" & ")));
        for m in &s.methods {
            let cells: Vec<String> = s
                .tasks
                .iter()
                .map(|t| match s.cell(t, m) {
                    Some(c) => latex_escape_cell(&cell_text(c, n_max, is_best(s, t, m), true)),
                    None => "--".into(),
                })
                .collect();
            let rank = s.avg_rank.get(m).map(|r| format!("{r:.2}")).unwrap_or_else(|| "--".into());
            out.push_str(&format!("{} & {} & {rank} \\\\\n", latex_escape(m), cells.join(" & ")));
        }
        out.push_str("\\bottomrule\n\\end{tabular}\n");
        if let Some(text) = friedman_text(s) {
            out.push_str(&format!(
                "\\par\\smallskip\\footnotesize {}\n",
                latex_escape(&text).replace('χ', "$\\chi$").replace('²', "$^2$").replace('α', "$\\alpha$")
            ));
        }
        out.push_str("\\end{table}\n\n");
        if let Some(base) = &s.baseline {
            out.push_str("\\begin{table}[t]\n\\centering\n");
            out.push_str(&format!(
                "\\caption{{Paired against {} (same seeds): mean $\\pm$ std of differences, 95\\% bootstrap CI, Wilcoxon $p$, Holm-adjusted $p$, verdict ($\\alpha = {}$, rope $\\pm{}$)}}\n",
                latex_escape(base),
                s.alpha,
                s.rope
            ));
            out.push_str("\\begin{tabular}{llrrrrlr}\n\\toprule\nmethod & task & $\\Delta$ & 95\\% CI & $p$ & $p_{\\text{Holm}}$ & verdict & $n$ \\\\\n\\midrule\n");
            for (m, t, p) in paired_rows(s, &s.methods) {
                out.push_str(&format!(
                    "{} & {} & ${} \\pm {}$ & $[{}, {}]$ & {} & {} & {} & {} \\\\\n",
                    latex_escape(m),
                    latex_escape(t),
                    signed(p.mean),
                    num(p.std),
                    signed(p.ci_low),
                    signed(p.ci_high),
                    p_text(p.p_value).replace('—', "--"),
                    p_text(p.p_holm).replace('—', "--"),
                    p.verdict.as_str(),
                    p.n
                ));
            }
            out.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n");
        }
    }
    out
}

/// Cells already contain LaTeX math; only the markers need translating.
fn latex_escape_cell(s: &str) -> String {
    s.replace('†', "$^\\dagger$").replace('✗', "$\\times$")
}

/// One row per cell, for CSV, JSON and Parquet.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub split: String,
    pub task: String,
    pub method: String,
    pub loss: String,
    pub optimizer: String,
    pub n: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub diverged: usize,
    pub failed: usize,
    pub rank: Option<f64>,
    pub avg_rank: Option<f64>,
    pub diff_mean: Option<f64>,
    pub diff_std: Option<f64>,
    pub diff_n: Option<usize>,
    pub diff_ci_low: Option<f64>,
    pub diff_ci_high: Option<f64>,
    pub p_wilcoxon: Option<f64>,
    pub p_holm: Option<f64>,
    pub verdict: Option<String>,
    /// Of the table (repeated on each row): Friedman's p and Nemenyi's critical difference.
    pub friedman_p: Option<f64>,
    pub nemenyi_cd: Option<f64>,
}

pub fn rows(sections: &[Section]) -> Vec<Row> {
    let mut out = Vec::new();
    for s in sections {
        for c in &s.cells {
            out.push(Row {
                metric: s.metric.clone(),
                split: s.split.clone(),
                task: c.task.clone(),
                method: c.method.clone(),
                loss: c.loss.clone(),
                optimizer: c.optimizer.clone(),
                n: c.values.len(),
                mean: c.mean,
                std: c.std,
                diverged: c.diverged,
                failed: c.failed,
                rank: c.rank,
                avg_rank: s.avg_rank.get(&c.method).copied(),
                diff_mean: c.paired.as_ref().map(|p| p.mean),
                diff_std: c.paired.as_ref().map(|p| p.std),
                diff_n: c.paired.as_ref().map(|p| p.n),
                diff_ci_low: c.paired.as_ref().map(|p| p.ci_low),
                diff_ci_high: c.paired.as_ref().map(|p| p.ci_high),
                p_wilcoxon: c.paired.as_ref().and_then(|p| p.p_value),
                p_holm: c.paired.as_ref().and_then(|p| p.p_holm),
                verdict: c.paired.as_ref().map(|p| p.verdict.as_str().to_string()),
                friedman_p: s.friedman.as_ref().map(|f| f.p_value),
                nemenyi_cd: s.cd,
            });
        }
    }
    out
}

/// The rows as a polars DataFrame (for CSV and Parquet output).
pub fn dataframe(sections: &[Section]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let rows = rows(sections);
    let text = |f: fn(&Row) -> &String| -> Vec<String> { rows.iter().map(|r| f(r).clone()).collect() };
    let opt = |f: fn(&Row) -> Option<f64>| -> Vec<Option<f64>> { rows.iter().map(f).collect() };
    let count = |f: fn(&Row) -> usize| -> Vec<u64> { rows.iter().map(|r| f(r) as u64).collect() };
    let columns = vec![
        Column::new("metric".into(), text(|r| &r.metric)),
        Column::new("split".into(), text(|r| &r.split)),
        Column::new("task".into(), text(|r| &r.task)),
        Column::new("method".into(), text(|r| &r.method)),
        Column::new("loss".into(), text(|r| &r.loss)),
        Column::new("optimizer".into(), text(|r| &r.optimizer)),
        Column::new("n".into(), count(|r| r.n)),
        Column::new("mean".into(), opt(|r| r.mean)),
        Column::new("std".into(), opt(|r| r.std)),
        Column::new("diverged".into(), count(|r| r.diverged)),
        Column::new("failed".into(), count(|r| r.failed)),
        Column::new("rank".into(), opt(|r| r.rank)),
        Column::new("avg_rank".into(), opt(|r| r.avg_rank)),
        Column::new("diff_mean".into(), opt(|r| r.diff_mean)),
        Column::new("diff_std".into(), opt(|r| r.diff_std)),
        Column::new("diff_n".into(), rows.iter().map(|r| r.diff_n.map(|n| n as u64)).collect::<Vec<Option<u64>>>()),
        Column::new("diff_ci_low".into(), opt(|r| r.diff_ci_low)),
        Column::new("diff_ci_high".into(), opt(|r| r.diff_ci_high)),
        Column::new("p_wilcoxon".into(), opt(|r| r.p_wilcoxon)),
        Column::new("p_holm".into(), opt(|r| r.p_holm)),
        Column::new("verdict".into(), rows.iter().map(|r| r.verdict.clone()).collect::<Vec<Option<String>>>()),
        Column::new("friedman_p".into(), opt(|r| r.friedman_p)),
        Column::new("nemenyi_cd".into(), opt(|r| r.nemenyi_cd)),
    ];
    DataFrame::new(rows.len(), columns).map_err(|e| Error::runtime(format!("building the table: {e}")))
}

fn csv_bytes(sections: &[Section]) -> Result<Vec<u8>> {
    use polars::prelude::*;
    let mut df = dataframe(sections)?;
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).finish(&mut df).map_err(|e| Error::runtime(format!("writing CSV: {e}")))?;
    Ok(buf)
}

/// Render in one format (for stdout or `--out`).
pub fn render(sections: &[Section], format: Format) -> Result<String> {
    Ok(match format {
        Format::Md => render_md(sections),
        Format::Latex => render_latex(sections),
        Format::Json => serde_json::to_string_pretty(&rows(sections)).map_err(|e| Error::runtime(e.to_string()))? + "\n",
        Format::Csv => String::from_utf8(csv_bytes(sections)?).map_err(|e| Error::runtime(e.to_string()))?,
    })
}

/// Write the tables in every format into `dir`: `comparison.md`, `.csv`, `.parquet`, `.tex`
/// and `.json`.
pub fn write_tables(sections: &[Section], dir: &Path) -> Result<Vec<PathBuf>> {
    use polars::prelude::*;
    let md = dir.join("comparison.md");
    run::write_atomic(&md, render_md(sections).as_bytes())?;
    let csv = dir.join("comparison.csv");
    run::write_atomic(&csv, &csv_bytes(sections)?)?;
    let parquet = dir.join("comparison.parquet");
    let mut df = dataframe(sections)?;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df).map_err(|e| Error::runtime(format!("writing Parquet: {e}")))?;
    run::write_atomic(&parquet, &buf)?;
    let tex = dir.join("comparison.tex");
    run::write_atomic(&tex, render_latex(sections).as_bytes())?;
    let json = dir.join("comparison.json");
    run::write_atomic(&json, render(sections, Format::Json)?.as_bytes())?;
    Ok(vec![md, csv, parquet, tex, json])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(task: &str, loss: &str, seed: u64, acc: f64, status: Status) -> LoadedRun {
        let record = RunRecord {
            lossbench_version: "0".into(),
            recipe: "r".into(),
            task: task.into(),
            loss: loss.into(),
            optimizer: "adamw".into(),
            seed,
            config_hash: "h".into(),
            config: serde_json::json!({"task": {"metrics": [{"label": "accuracy"}]}}),
            device: "cpu".into(),
            status,
            epochs_completed: 1,
            timings: Default::default(),
            data: Default::default(),
            final_metrics: Default::default(),
        };
        let rows = vec![
            (0, "test".into(), "accuracy".into(), 0.1),
            (1, "test".into(), "accuracy".into(), acc),
            (1, "val".into(), "accuracy".into(), acc),
        ];
        LoadedRun { dir: PathBuf::from("x"), record, rows }
    }

    /// Six seeds all better by 0.02: Wilcoxon exact p = 2/64, Holm over one comparison → win;
    /// all worse → loss; a rope wider than the interval → tie; three seeds can only be
    /// undecided (the smallest two-sided p is 0.25).
    #[test]
    fn verdicts_follow_holm_and_the_rope() {
        let mut runs = Vec::new();
        for seed in 0..6 {
            let base = 0.8 + 0.01 * seed as f64;
            runs.push(fake("a", "ce", seed, base, Status::Finished));
            runs.push(fake("a", "good", seed, base + 0.02 + 0.001 * seed as f64, Status::Finished));
        }
        let opts = CompareOptions { baseline: Some("ce".into()), ..Default::default() };
        let s = &compare(&runs, &opts).unwrap()[0];
        let p = s.cell("a", "good").unwrap().paired.clone().unwrap();
        assert!((p.p_value.unwrap() - 0.03125).abs() < 1e-12 && p.p_holm == p.p_value, "{p:?}");
        assert_eq!(p.verdict, Verdict::Win);
        let s = &compare(&runs, &CompareOptions { baseline: Some("good".into()), ..Default::default() }).unwrap()[0];
        assert_eq!(s.cell("a", "ce").unwrap().paired.as_ref().unwrap().verdict, Verdict::Loss);
        let s = &compare(&runs, &CompareOptions { baseline: Some("ce".into()), rope: 0.05, ..Default::default() }).unwrap()[0];
        assert_eq!(s.cell("a", "good").unwrap().paired.as_ref().unwrap().verdict, Verdict::Tie);
        let few: Vec<LoadedRun> = runs.into_iter().filter(|r| r.record.seed < 3).collect();
        let s = &compare(&few, &opts).unwrap()[0];
        assert_eq!(s.cell("a", "good").unwrap().paired.as_ref().unwrap().verdict, Verdict::Undecided);
        let md = render(std::slice::from_ref(s), Format::Md).unwrap();
        assert!(md.contains("| good | a | +0.0210 ± 0.0010 |") && md.contains("undecided"), "{md}");
        let tex = render(std::slice::from_ref(s), Format::Latex).unwrap();
        assert!(tex.contains("\\toprule") && tex.contains("undecided") && tex.contains("$\\pm"), "{tex}");
    }

    /// A finished run whose metric is NaN is counted with the diverged runs, never averaged or
    /// paired.
    #[test]
    fn non_finite_metrics_count_as_diverged() {
        let runs = vec![
            fake("a", "ce", 0, 0.9, Status::Finished),
            fake("a", "ce", 1, 0.8, Status::Finished),
            fake("a", "x", 0, f64::NAN, Status::Finished),
            fake("a", "x", 1, 0.85, Status::Finished),
        ];
        let s = &compare(&runs, &CompareOptions { baseline: Some("ce".into()), ..Default::default() }).unwrap()[0];
        let x = s.cell("a", "x").unwrap();
        assert_eq!((x.values.len(), x.diverged), (1, 1));
        assert_eq!(x.paired.as_ref().unwrap().n, 1);
        assert!(x.mean.unwrap().is_finite());
    }

    /// Friedman and the critical difference appear with ≥ 2 tasks and ≥ 3 methods.
    #[test]
    fn friedman_and_cd_over_tasks() {
        let mut runs = Vec::new();
        for task in ["a", "b", "c"] {
            for (i, loss) in ["x", "y", "z"].iter().enumerate() {
                runs.push(fake(task, loss, 0, 0.5 + 0.1 * i as f64, Status::Finished));
            }
        }
        let s = &compare(&runs, &CompareOptions::default()).unwrap()[0];
        let f = s.friedman.as_ref().unwrap();
        // z best everywhere (rank 1), x worst: χ² = 12/(3·3·4)·(9² + 6² + 3²)·… = 6, p = e^{−3}.
        assert_eq!(f.mean_ranks, vec![3.0, 2.0, 1.0]);
        assert!((f.statistic - 6.0).abs() < 1e-12 && (f.p_value - (-3.0f64).exp()).abs() < 1e-12, "{f:?}");
        assert!((s.cd.unwrap() - 2.343701 * (12.0f64 / 18.0).sqrt()).abs() < 1e-5);
        let md = render(std::slice::from_ref(s), Format::Md).unwrap();
        assert!(md.contains("Friedman test over 3 tasks × 3 methods: χ² = 6.000"), "{md}");
    }

    #[test]
    fn aggregates_ranks_and_pairs() {
        let runs = vec![
            fake("a", "ce", 0, 0.90, Status::Finished),
            fake("a", "ce", 1, 0.92, Status::Finished),
            fake("a", "focal", 0, 0.93, Status::Finished),
            fake("a", "focal", 1, 0.95, Status::Finished),
            fake("a", "focal", 2, 0.0, Status::Diverged { epoch: 1 }),
            fake("b", "ce", 0, 0.5, Status::Finished),
            fake("b", "focal", 0, 0.4, Status::Finished),
        ];
        let opts = CompareOptions { baseline: Some("ce".into()), ..Default::default() };
        let s = &compare(&runs, &opts).unwrap()[0];
        let focal_a = s.cell("a", "focal").unwrap();
        assert!((focal_a.mean.unwrap() - 0.94).abs() < 1e-12);
        assert!((focal_a.std.unwrap() - 0.02f64.hypot(0.0) / 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(focal_a.diverged, 1);
        assert_eq!(focal_a.rank, Some(1.0));
        let p = focal_a.paired.as_ref().unwrap();
        assert!((p.mean - 0.03).abs() < 1e-12 && p.std.abs() < 1e-12 && p.n == 2);
        // Two equal positive differences: the interval is the point, Wilcoxon p = 0.5 (exact).
        assert!((p.ci_low - 0.03).abs() < 1e-12 && (p.ci_high - 0.03).abs() < 1e-12);
        assert_eq!((p.p_value, p.verdict), (Some(0.5), Verdict::Undecided));
        assert_eq!(s.avg_rank["ce"], 1.5);
        assert_eq!(s.avg_rank["focal"], 1.5);
        let md = render(std::slice::from_ref(s), Format::Md).unwrap();
        assert!(md.contains("**0.9400 ± 0.0141** †1"), "{md}");
        let e = compare(&runs, &CompareOptions { baseline: Some("cee".into()), ..Default::default() }).err().unwrap().to_string();
        assert!(e.contains("did you mean `ce`?"), "{e}");
    }
}
