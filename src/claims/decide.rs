//! A claim decided from its finished runs: each contrast on each task, paired by seed,
//! Holm-adjusted within the claim and read against what the paper expects.

use super::{ClaimFile, Expect, Outcome, MIN_SEEDS};
use crate::compare::{self, Paired};
use crate::error::{Error, Result};
use serde::Serialize;

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
}

impl Row {
    /// A row with no figures yet (`outcome` inconclusive until decided).
    fn new(file: &ClaimFile, point: &str, task: &str, method: &str, baseline: &str) -> Row {
        let c = &file.claim;
        Row {
            claim: c.id.clone(),
            point: point.to_string(),
            paper: format!("{} ({}, {})", c.paper.title, c.paper.seed, c.paper.venue),
            statement: c.statement.clone(),
            paper_numbers: c.paper_numbers.clone().unwrap_or_default(),
            metric: c.metric.clone(),
            task: task.to_string(),
            method: method.to_string(),
            baseline: baseline.to_string(),
            method_mean: None,
            method_std: None,
            baseline_mean: None,
            baseline_std: None,
            paired: None,
            outcome: Outcome::Inconclusive,
            seeds: 0,
            method_excluded: 0,
            baseline_excluded: 0,
        }
    }
}

/// One row per contrast, without figures: the claim at `point` did not finish in the budget.
pub fn unfinished(file: &ClaimFile, point: &str) -> Vec<Row> {
    let rows = file.claim.contrasts.iter().map(|k| Row::new(file, point, "", &k.method, &k.baseline));
    rows.map(|r| Row { outcome: Outcome::Unfinished, ..r }).collect()
}

/// The claim's rows (at `point`) from the comparison of its finished runs: each contrast on
/// each task, Holm-adjusted over the claim's contrasts.
pub fn decide(file: &ClaimFile, point: &str, gathered: &compare::gather::Gathered) -> Result<Vec<Row>> {
    let c = &file.claim;
    let mut rows = Vec::new();
    let mut higher = true;
    // One comparison (and its bootstrap) per baseline, shared by the contrasts against it.
    let mut by_baseline: std::collections::BTreeMap<&str, compare::Comparison> = std::collections::BTreeMap::new();
    for contrast in &c.contrasts {
        if !by_baseline.contains_key(contrast.baseline.as_str()) {
            by_baseline.insert(&contrast.baseline, compare::compare(gathered, &c.options(&contrast.baseline)?)?);
        }
        let section = by_baseline[contrast.baseline.as_str()]
            .sections
            .iter()
            .find(|s| s.metric == c.metric)
            .ok_or_else(|| Error::input(format!("{}: no runs record metric `{}` on split `{}`", c.id, c.metric, c.split)))?;
        higher = section.higher_is_better;
        for task in &section.tasks {
            let cell = |m: &str| section.cells.iter().find(|x| &x.task == task && x.method == m);
            let (Some(method), base) = (cell(&contrast.method), cell(&contrast.baseline)) else {
                return Err(Error::input(format!("{}: no runs of method `{}` on task `{task}`", c.id, contrast.method)));
            };
            rows.push(Row {
                method_mean: method.mean,
                method_std: method.std,
                baseline_mean: base.and_then(|b| b.mean),
                baseline_std: base.and_then(|b| b.std),
                paired: method.paired.clone(),
                seeds: method.paired.as_ref().map_or(0, |p| p.n),
                method_excluded: method.diverged + method.failed,
                baseline_excluded: base.map_or(0, |b| b.diverged + b.failed),
                ..Row::new(file, point, task, &contrast.method, &contrast.baseline)
            });
        }
    }
    holm_and_verdicts(&mut rows, higher, c.rope, c.alpha, c.expect);
    Ok(rows)
}

/// Holm over the rows' p-values, then each row's verdict and outcome by the claim's rule.
fn holm_and_verdicts(rows: &mut [Row], higher: bool, rope: f64, alpha: f64, expect: Expect) {
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
            p.verdict = compare::paired::verdict(p, higher, rope, alpha);
            row.outcome = if row.seeds < MIN_SEEDS { Outcome::Inconclusive } else { Outcome::of(p.verdict, expect) };
        }
    }
}
