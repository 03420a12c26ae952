//! A claim decided from its finished runs: each contrast on each task, paired by seed,
//! Holm-adjusted within the claim and read against what the paper expects.

use super::{ClaimFile, Contrast, Expect, Outcome, MIN_SEEDS};
use crate::compare::{self, Paired};
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// One row of the claims table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub claim: String,
    /// `protocol`, or the label of the sensitivity neighbour it was run at.
    pub point: String,
    pub paper: String,
    pub statement: String,
    pub paper_numbers: String,
    pub metric: String,
    pub task: String,
    pub method: String,
    pub baseline: String,
    /// What the paper expects of this contrast.
    pub expect: Expect,
    pub method_mean: Option<f64>,
    pub method_std: Option<f64>,
    pub baseline_mean: Option<f64>,
    pub baseline_std: Option<f64>,
    pub paired: Option<Paired>,
    pub outcome: Outcome,
    /// Seeds paired.
    pub seeds: usize,
    /// Runs that diverged, failed or gave a non-finite metric, left out of the pairing.
    pub method_excluded: usize,
    pub baseline_excluded: usize,
    /// The direction of the compared value (a grid's `|r|` is better lower).
    #[serde(skip)]
    pub higher_is_better: bool,
}

impl Row {
    /// A row with no figures yet (`outcome` inconclusive until decided).
    pub(super) fn new(file: &ClaimFile, point: &str, task: &str, contrast: &Contrast) -> Row {
        let c = &file.claim;
        Row {
            claim: c.id.clone(),
            point: point.to_string(),
            paper: format!("{} ({}, {})", c.paper.title, c.paper.seed, c.paper.venue),
            statement: c.statement.clone(),
            paper_numbers: c.paper_numbers.clone().unwrap_or_default(),
            metric: c.metric.clone(),
            task: task.to_string(),
            method: label(&contrast.method, contrast, c, true),
            baseline: label(&contrast.baseline, contrast, c, false),
            expect: contrast.expected(c),
            method_mean: None,
            method_std: None,
            baseline_mean: None,
            baseline_std: None,
            paired: None,
            outcome: Outcome::Inconclusive,
            seeds: 0,
            method_excluded: 0,
            baseline_excluded: 0,
            higher_is_better: true,
        }
    }
}

/// A side of a contrast as the table names it: the method, with the split and selection it
/// is read at when the contrast has its own (`gd (test/epoch:1)`, `ce (linear: test/final)`).
fn label(name: &str, contrast: &Contrast, claim: &super::Claim, method: bool) -> String {
    if !contrast.reads_its_own() {
        return name.to_string();
    }
    let (split, method_select, baseline_select) = contrast.reading(claim);
    match (&contrast.baseline_task, method) {
        (Some(task), false) => format!("{name} ({task}: {split}/{baseline_select})"),
        _ => format!("{name} ({split}/{})", if method { method_select } else { baseline_select }),
    }
}

/// One row per contrast, without figures: the claim at `point` did not finish in the budget.
pub fn unfinished(file: &ClaimFile, point: &str) -> Vec<Row> {
    let rows = file.claim.contrasts.iter().map(|k| Row::new(file, point, "", k));
    let grids = file.claim.grids.iter().map(|k| Row::new(file, point, "", &Contrast::named(&k.method, &k.baseline)));
    rows.chain(grids).map(|r| Row { outcome: Outcome::Unfinished, ..r }).collect()
}

/// The claim's rows (at `point`) from the comparison of its finished runs: each contrast on
/// each task, Holm-adjusted over the claim's contrasts.
pub fn decide(file: &ClaimFile, point: &str, gathered: &compare::gather::Gathered, plan: &crate::recipe::Plan) -> Result<Vec<Row>> {
    let c = &file.claim;
    let mut rows = Vec::new();
    // One comparison (and its bootstrap) per (baseline, split, selection), shared by the
    // contrasts that read it; a contrast with its own reading compares with no baseline.
    let mut comparisons: BTreeMap<Reading, compare::Comparison> = BTreeMap::new();
    for contrast in &c.contrasts {
        let (split, method_select, baseline_select) = contrast.reading(c);
        let baseline = if contrast.reads_its_own() { "" } else { contrast.baseline.as_str() };
        let keys = [(baseline, split, method_select), (baseline, split, baseline_select)]
            .map(|(b, s, x)| (b.to_string(), s.to_string(), x.to_string()));
        for key in &keys {
            if !comparisons.contains_key(key) {
                comparisons.insert(key.clone(), compare::compare(gathered, &options(c, key)?)?);
            }
        }
        let section = |key: &Reading| {
            comparisons[key]
                .sections
                .iter()
                .find(|s| s.metric == c.metric)
                .ok_or_else(|| Error::input(format!("{}: no runs record metric `{}` on split `{}`", c.id, c.metric, key.1)))
        };
        let (on_method, on_baseline) = (section(&keys[0])?, section(&keys[1])?);
        let higher = on_method.higher_is_better;
        if let Some(t) = contrast.task.as_ref().filter(|t| !on_method.tasks.contains(t)) {
            return Err(Error::input(format!(
                "{}: contrast task `{t}` is not a task of the recipe ({})",
                c.id,
                on_method.tasks.join(", ")
            )));
        }
        for task in on_method.tasks.iter().filter(|t| contrast.task.as_ref().is_none_or(|only| only == *t)) {
            let Some(method) = on_method.cell(task, &contrast.method) else {
                return Err(Error::input(format!("{}: no runs of method `{}` on task `{task}`", c.id, contrast.method)));
            };
            let base_task = contrast.baseline_task.as_deref().unwrap_or(task);
            let row = row(file, point, task, contrast, method, on_baseline.cell(base_task, &contrast.baseline));
            rows.push(Row { higher_is_better: higher, ..row });
        }
    }
    let optimizers = plan.optimizers.iter().map(|o| (o.label.clone(), o.config.clone())).collect();
    let tasks: Vec<String> = plan.tasks.iter().map(|t| t.name.clone()).collect();
    rows.extend(super::grid::rows(file, point, gathered, &optimizers, &tasks)?);
    holm_and_verdicts(&mut rows, c.rope, c.alpha);
    Ok(rows)
}

/// What a comparison reads: (baseline, or "" for none; split; selection).
type Reading = (String, String, String);

fn options(c: &super::Claim, (baseline, split, select): &Reading) -> Result<compare::CompareOptions> {
    let baseline = (!baseline.is_empty()).then(|| baseline.clone());
    Ok(compare::CompareOptions { baseline, ..c.reading(split, select)? })
}

/// A contrast's row on `task` from its method's and baseline's cells. A contrast names its
/// pair, so it pairs by seed even where `compare` would not (a method and a baseline that
/// differ in both the loss and the optimizer, or one method at two epochs).
fn row(file: &ClaimFile, point: &str, task: &str, contrast: &Contrast, method: &compare::Cell, base: Option<&compare::Cell>) -> Row {
    let paired = method.paired.clone().or_else(|| base.and_then(|b| compare::paired::paired(&method.values, &b.values)));
    Row {
        method_mean: method.mean,
        method_std: method.std,
        baseline_mean: base.and_then(|b| b.mean),
        baseline_std: base.and_then(|b| b.std),
        seeds: paired.as_ref().map_or(0, |p| p.n),
        paired,
        method_excluded: method.diverged + method.failed,
        baseline_excluded: base.map_or(0, |b| b.diverged + b.failed),
        ..Row::new(file, point, task, contrast)
    }
}

/// Holm over the rows' p-values, then each row's verdict and outcome by the claim's rule.
fn holm_and_verdicts(rows: &mut [Row], rope: f64, alpha: f64) {
    let ps: Vec<(usize, f64)> =
        rows.iter().enumerate().filter_map(|(i, r)| r.paired.as_ref().and_then(|p| p.p_value).map(|p| (i, p))).collect();
    let adjusted = crate::stats::holm(&ps.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    for ((i, _), adj) in ps.iter().zip(adjusted) {
        if let Some(p) = rows[*i].paired.as_mut() {
            p.p_holm = Some(adj);
        }
    }
    for row in rows {
        if let Some(p) = row.paired.as_mut() {
            p.verdict = compare::paired::verdict(p, row.higher_is_better, rope, alpha);
            row.outcome = if row.seeds < MIN_SEEDS { Outcome::Inconclusive } else { Outcome::of(p.verdict, row.expect) };
        }
    }
}
