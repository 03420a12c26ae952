//! Comparison tables from any set of run folders, in steps, one file each:
//!
//! 1. [`gather`]: find run folders, keep the completed runs whose `run.json` vouches for their
//!    `metrics.csv`, count each run once;
//! 2. [`group`]: the task (column) and method (row) of each run — never merging two
//!    configurations under one label;
//! 3. here: the value of one metric on one split per run, at the final evaluation or at the
//!    epoch best on a validation metric, aggregated over seeds (mean ± sample std, n);
//! 4. [`ranks`] (per-task ranks; average ranks, Friedman and Nemenyi over the complete block)
//!    and [`paired`] (per-seed differences against a baseline of the same task and settings);
//! 5. [`render`]: Markdown, LaTeX, CSV, JSON, Parquet.
//!
//! Diverged and failed runs are never dropped silently: they are counted per cell and the cell
//! is marked; their values do not enter the mean.

pub mod gather;
pub mod group;
pub mod keys;
pub mod paired;
pub mod ranks;
pub mod render;

pub use gather::{gather, Gathered, LoadedRun, Point, RowFilter, Where};
pub use render::{dataframe, render, rows, write_tables, Row};

use crate::error::{Error, Result};
use crate::run::Status;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How a run's value is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    Final,
    /// The epoch with the best value of this metric on the validation split.
    Best(String),
    /// The value recorded at this epoch (0: before training).
    Epoch(usize),
}

/// As written on the command line: `final`, `best:accuracy`, `epoch:5`.
impl std::fmt::Display for Select {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Select::Final => write!(f, "final"),
            Select::Best(m) => write!(f, "best:{m}"),
            Select::Epoch(e) => write!(f, "epoch:{e}"),
        }
    }
}

impl std::str::FromStr for Select {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "final" {
            return Ok(Select::Final);
        }
        if let Some(n) = s.strip_prefix("epoch:") {
            return n
                .parse()
                .map(Select::Epoch)
                .map_err(|_| Error::input(format!("selection `{s}`: the epoch must be a whole number (epoch:1)")));
        }
        match s.strip_prefix("best:") {
            Some(m) if !m.is_empty() => Ok(Select::Best(m.to_string())),
            _ => Err(Error::input(format!("unknown selection `{s}`; allowed: final, best:METRIC (e.g. best:accuracy), epoch:N"))),
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

impl CompareOptions {
    /// The rows of each run a comparison with these options reads.
    pub fn row_filter(&self) -> RowFilter {
        let select_by = match &self.select {
            Select::Best(by) => Some(by.clone()),
            Select::Final | Select::Epoch(_) => None,
        };
        RowFilter { split: self.split.clone(), metric: self.metric.clone(), select_by, extra_splits: Vec::new() }
    }
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
    /// How its configuration relates to others' (for pairing with a baseline).
    #[serde(skip)]
    pub keys: keys::Keys,
    pub task: String,
    pub method: String,
    pub loss: String,
    pub optimizer: String,
    /// (seed, value) of completed, non-diverged runs.
    pub values: Vec<(u64, f64)>,
    pub diverged: usize,
    pub failed: usize,
    pub mean: Option<f64>,
    /// Sample standard deviation; `None` with fewer than two values (no spread).
    pub std: Option<f64>,
    pub rank: Option<f64>,
    /// Paired comparison against the baseline.
    pub paired: Option<Paired>,
}

/// The cells of a table by (task, method).
pub type Cells = BTreeMap<(String, String), Cell>;

/// One table: one metric over the tasks that use it.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub metric: String,
    pub split: String,
    pub higher_is_better: bool,
    /// The selection in words (`final epoch`), for table titles.
    pub select: String,
    /// … and as written (`final`, `best:accuracy`), for file names and columns.
    pub selection: String,
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
    /// Notes printed under the table (what the rank tests left out, unpaired cells).
    pub notes: Vec<String>,
}

impl Section {
    pub fn cell(&self, task: &str, method: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.task == task && c.method == method)
    }
}

/// The value of `metric` on `split` chosen by `select` for one run.
pub(crate) fn pick(run: &LoadedRun, metric: &str, split: &str, select: &Select) -> Result<Option<f64>> {
    let epoch = match select {
        Select::Final => run.rows.iter().filter(|r| r.split == split && &*r.metric == metric).map(|r| r.epoch).max(),
        Select::Epoch(e) => Some(*e),
        Select::Best(by) => {
            let higher = run.higher_is_better(by);
            let candidates: Vec<(usize, f64)> =
                run.rows.iter().filter(|r| r.split == "val" && &*r.metric == by).map(|r| (r.epoch, r.value)).collect();
            if candidates.is_empty() && run.rows.iter().any(|r| &*r.metric == metric) && run.status.is_complete() {
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
    Ok(epoch.and_then(|e| run.rows.iter().find(|r| r.epoch == e && r.split == split && &*r.metric == metric).map(|r| r.value)))
}

pub(crate) use crate::stats::mean_std;

/// The tables of a comparison and what the user should be warned about (beyond what
/// [`Gathered::warnings`] says about the folders read).
pub struct Comparison {
    pub sections: Vec<Section>,
    pub warnings: Vec<String>,
}

/// An error unless every metric the options name was recorded by some run.
fn check_named_metrics(gathered: &Gathered, opts: &CompareOptions) -> Result<()> {
    let requested = opts.metric.iter().map(|m| ("--metric ", m.as_str()));
    let selection = match &opts.select {
        Select::Best(by) => Some(("--select best:", by.as_str())),
        Select::Final | Select::Epoch(_) => None,
    };
    for (flag, m) in requested.chain(selection) {
        if !gathered.metric_names.contains(m) {
            let names = &gathered.metric_names;
            let hint =
                crate::registry::suggest(m, names.iter().map(String::as_str)).map(|c| format!("did you mean `{c}`? ")).unwrap_or_default();
            return Err(Error::input(format!(
                "{flag}{m}: no run has metric `{m}`; {hint}(recorded: {})",
                names.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

/// Which metric each task column is compared on, in column order: the requested one (for the
/// columns whose runs recorded it) or the column's first metric.
fn column_metrics(labelled: &[group::Labelled], opts: &CompareOptions) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in labelled {
        if out.iter().any(|(t, _)| t == &l.task) {
            continue;
        }
        let of_column = || labelled.iter().filter(|o| o.task == l.task);
        let metric = match &opts.metric {
            Some(m) => of_column().any(|o| o.run.rows.iter().any(|p| &*p.metric == m)).then(|| m.clone()),
            None => of_column().find_map(|o| o.run.first_metric().map(str::to_string)),
        };
        if let Some(m) = metric {
            out.push((l.task.clone(), m));
        }
    }
    out
}

/// The seeds of each (task, method) cell of one table, aggregated.
fn cells_of(labelled: &[group::Labelled], tasks: &[String], metric: &str, opts: &CompareOptions) -> Result<(Cells, Vec<String>)> {
    let mut cells: Cells = BTreeMap::new();
    let mut methods: Vec<String> = Vec::new();
    for l in labelled.iter().filter(|l| tasks.contains(&l.task)) {
        let r = l.run;
        if !methods.contains(&l.method) {
            methods.push(l.method.clone());
        }
        let cell = cells.entry((l.task.clone(), l.method.clone())).or_insert_with(|| Cell {
            keys: r.keys.clone(),
            task: l.task.clone(),
            method: l.method.clone(),
            loss: r.loss.clone(),
            optimizer: r.optimizer.clone(),
            values: Vec::new(),
            diverged: 0,
            failed: 0,
            mean: None,
            std: None,
            rank: None,
            paired: None,
        });
        match &r.status {
            Status::Failed { .. } => cell.failed += 1,
            Status::Diverged { .. } => cell.diverged += 1,
            Status::Finished => match pick(r, metric, &opts.split, &opts.select)? {
                Some(v) if v.is_finite() => cell.values.push((r.seed, v)),
                // A finished run whose metric is not finite (NaN outputs at evaluation) counts
                // with the diverged ones, never in a mean or a paired test.
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
    Ok((cells, methods))
}

/// One table: `metric` over the task columns compared on it.
fn section(labelled: &[group::Labelled], metric: &str, tasks: Vec<String>, opts: &CompareOptions) -> Result<Section> {
    let higher = labelled
        .iter()
        .find(|l| tasks.contains(&l.task))
        .map_or_else(|| crate::metrics::higher_is_better(metric), |l| l.run.higher_is_better(metric));
    let (mut cells, methods) = cells_of(labelled, &tasks, metric, opts)?;
    ranks::rank_cells(&mut cells, &tasks, higher);
    let summary = ranks::summarise(&cells, &tasks, &methods, higher, opts.alpha);
    let mut notes: Vec<String> = summary.note.into_iter().collect();
    if let Some(b) = &opts.baseline {
        notes.extend(paired::pair(&mut cells, b, higher, opts)?);
    }
    Ok(Section {
        metric: metric.to_string(),
        split: opts.split.clone(),
        higher_is_better: higher,
        select: match &opts.select {
            Select::Final => "final epoch".into(),
            Select::Best(m) => format!("epoch with best val {m}"),
            Select::Epoch(e) => format!("epoch {e}"),
        },
        selection: opts.select.to_string(),
        tasks,
        methods,
        cells: cells.into_values().collect(),
        avg_rank: summary.avg_rank,
        baseline: opts.baseline.clone(),
        friedman: summary.friedman,
        friedman_methods: summary.friedman_methods,
        cd: summary.cd,
        alpha: opts.alpha,
        rope: opts.rope,
        notes,
    })
}

/// Build the comparison of the gathered runs: one table per compared metric.
pub fn compare(gathered: &Gathered, opts: &CompareOptions) -> Result<Comparison> {
    if gathered.runs.is_empty() {
        return Err(Error::input(
            "no finished runs found (no folder with a run.json that vouches for its metrics.csv); train a recipe first",
        ));
    }
    check_named_metrics(gathered, opts)?;
    let (labelled, warnings) = group::label(&gathered.runs);
    let column_metric = column_metrics(&labelled, opts);
    let mut metric_order: Vec<&String> = Vec::new();
    for (_, m) in &column_metric {
        if !metric_order.contains(&m) {
            metric_order.push(m);
        }
    }
    let mut sections = Vec::new();
    for metric in metric_order {
        let tasks: Vec<String> = column_metric.iter().filter(|(_, m)| m == metric).map(|(t, _)| t.clone()).collect();
        sections.push(section(&labelled, metric, tasks, opts)?);
    }
    Ok(Comparison { sections, warnings })
}

/// `lossbench compare`, as parsed from the command line.
pub struct CompareCommand {
    pub paths: Vec<PathBuf>,
    pub options: CompareOptions,
    /// `--where KEY=VALUE` filters on the runs' configs.
    pub wheres: Vec<String>,
    pub format: Format,
    /// Write the rendered table to this file instead of stdout.
    pub out: Option<PathBuf>,
    pub no_files: bool,
    pub image: crate::plot::ImageFormat,
}

/// Print each warning on stderr.
pub fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Run `lossbench compare`: print the tables first, then write the files (a read-only or full
/// results folder costs the files, with a warning, never the tables).
pub fn command(c: CompareCommand) -> Result<()> {
    let opts = &c.options;
    if !(opts.rope.is_finite() && opts.rope >= 0.0) {
        return Err(Error::input(format!("--rope {}: allowed: a finite value ≥ 0", opts.rope)));
    }
    if opts.alpha != 0.05 && opts.alpha != 0.10 {
        return Err(Error::input(format!("--alpha {}: allowed: 0.05 or 0.10 (the tabulated Nemenyi levels)", opts.alpha)));
    }
    if !["train", "val", "test"].contains(&opts.split.as_str()) {
        return Err(Error::input(format!("--split `{}`: allowed: train, val, test", opts.split)));
    }
    let wheres = c.wheres.iter().map(|w| w.parse()).collect::<Result<Vec<Where>>>()?;
    let paths = if c.paths.is_empty() { vec![PathBuf::from("results")] } else { c.paths.clone() };
    let gathered = gather(&paths, &opts.row_filter(), &wheres)?;
    warn_all(&gathered.warnings());
    let comparison = compare(&gathered, opts)?;
    warn_all(&comparison.warnings);
    let text = render(&comparison.sections, c.format)?;
    match &c.out {
        Some(file) => {
            crate::run::write_atomic(file, text.as_bytes()).map_err(|e| Error::runtime(format!("writing {}: {e}", file.display())))?
        }
        None => print!("{text}"),
    }
    if !c.no_files && paths[0].is_dir() {
        let written = write_tables(&comparison.sections, &paths[0])
            .and_then(|_| crate::runs::write_tables(&crate::runs::collect(&paths, &wheres), &paths[0]))
            .and_then(|_| crate::plot::comparison_plots(&comparison.sections, &paths[0].join("plots"), c.image));
        if let Err(e) = written {
            warn_all(&[format!("the tables were not saved in {}: {e}", paths[0].display())]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_with_clear_errors() {
        assert_eq!("final".parse::<Select>().unwrap(), Select::Final);
        assert_eq!("best:nll".parse::<Select>().unwrap(), Select::Best("nll".into()));
        assert_eq!("epoch:12".parse::<Select>().unwrap(), Select::Epoch(12));
        assert!("epoch:x".parse::<Select>().unwrap_err().to_string().contains("whole number"));
        assert!("last".parse::<Select>().unwrap_err().to_string().contains("epoch:N"));
    }

    fn fake(task: &str, loss: &str, seed: u64, acc: f64, status: Status) -> LoadedRun {
        fake_with(task, loss, "adamw", seed, acc, status, serde_json::json!({}))
    }

    /// A run whose config is a small recipe-like document (so keys tell configurations apart).
    fn fake_with(task: &str, loss: &str, optimizer: &str, seed: u64, acc: f64, status: Status, extra: serde_json::Value) -> LoadedRun {
        let mut config = serde_json::json!({
            "recipe": "r",
            "seed": seed,
            "task": {"name": task, "dataset": {"name": "blobs"}, "metrics": [{"name": "accuracy", "label": "accuracy"}]},
            "loss": {"name": loss, "label": loss},
            "optimizer": {"name": optimizer, "label": optimizer},
        });
        if let (Some(map), Some(more)) = (config.as_object_mut(), extra.as_object()) {
            for (k, v) in more {
                map.insert(k.clone(), v.clone());
            }
        }
        let point = |epoch, split, value| Point { epoch, split, metric: std::sync::Arc::from("accuracy"), value };
        LoadedRun {
            dir: PathBuf::from("x"),
            recipe: "r".into(),
            task: task.into(),
            loss: loss.into(),
            optimizer: optimizer.into(),
            seed,
            status,
            keys: keys::Keys::of(&config),
            metrics: keys::metric_directions(&config),
            rows: vec![point(0, "test", 0.1), point(1, "test", acc), point(1, "val", acc)],
        }
    }

    fn sections(runs: Vec<LoadedRun>, opts: &CompareOptions) -> Result<Vec<Section>> {
        compare(&Gathered::from_runs(runs), opts).map(|c| c.sections)
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
        let s = &sections(runs.clone(), &opts).unwrap()[0];
        let p = s.cell("a", "good").unwrap().paired.clone().unwrap();
        assert!((p.p_value.unwrap() - 0.03125).abs() < 1e-12 && p.p_holm == p.p_value, "{p:?}");
        assert_eq!(p.verdict, Verdict::Win);
        let s = &sections(runs.clone(), &CompareOptions { baseline: Some("good".into()), ..Default::default() }).unwrap()[0];
        assert_eq!(s.cell("a", "ce").unwrap().paired.as_ref().unwrap().verdict, Verdict::Loss);
        let s = &sections(runs.clone(), &CompareOptions { baseline: Some("ce".into()), rope: 0.05, ..Default::default() }).unwrap()[0];
        assert_eq!(s.cell("a", "good").unwrap().paired.as_ref().unwrap().verdict, Verdict::Tie);
        let few: Vec<LoadedRun> = runs.into_iter().filter(|r| r.seed < 3).collect();
        let s = &sections(few, &opts).unwrap()[0];
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
        let s = &sections(runs.clone(), &CompareOptions { baseline: Some("ce".into()), ..Default::default() }).unwrap()[0];
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
        let s = &sections(runs.clone(), &CompareOptions::default()).unwrap()[0];
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
        let s = &sections(runs.clone(), &opts).unwrap()[0];
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
        let e = sections(runs.clone(), &CompareOptions { baseline: Some("cee".into()), ..Default::default() }).err().unwrap().to_string();
        assert!(e.contains("did you mean `ce`?"), "{e}");
    }

    /// A method run on one task of three does not get an average rank as if complete: ranks and
    /// Friedman use the complete block, the note names what was left out; one seed shows no
    /// spread.
    #[test]
    fn rank_tests_use_the_complete_block() {
        let mut runs = Vec::new();
        for task in ["a", "b", "c"] {
            for (i, loss) in ["x", "y", "z"].iter().enumerate() {
                runs.push(fake(task, loss, 0, 0.5 + 0.1 * i as f64, Status::Finished));
                runs.push(fake(task, loss, 1, 0.51 + 0.1 * i as f64, Status::Finished));
            }
        }
        runs.push(fake("a", "w", 0, 0.99, Status::Finished));
        runs.push(fake("b", "y", 2, 0.0, Status::Failed { message: "boom".into() }));
        let s = &sections(runs, &CompareOptions::default()).unwrap()[0];
        let f = s.friedman.as_ref().expect("Friedman over the complete block");
        assert_eq!((f.blocks, f.treatments), (3, 3));
        assert_eq!(s.friedman_methods, ["x", "y", "z"]);
        assert!(!s.avg_rank.contains_key("w"), "{:?}", s.avg_rank);
        assert_eq!(s.avg_rank["z"], 1.0);
        assert_eq!(s.cell("a", "w").unwrap().rank, Some(1.0));
        let md = render(std::slice::from_ref(s), Format::Md).unwrap();
        assert!(md.contains("complete block of 3 tasks × 3 methods; left out for missing cells: methods `w`"), "{md}");
        assert!(md.contains("| w | **0.9900** (n=1) | — | — | — |"), "{md}");
        assert!(!md.contains("± 0.0000"), "{md}");
    }
}
