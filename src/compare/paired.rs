//! Step 4b of a comparison: each method paired with its baseline, like with like.
//!
//! `--baseline` names a method, a loss label or an optimizer label. A cell is paired with the
//! baseline cell of the same task whose configuration differs from its own in one component
//! only — the loss (with its entry's regularizers) or the optimizer — so with two optimizers
//! `focal / sgd` is paired with `cross_entropy / sgd`, never with `cross_entropy / adamw`.
//! Differences are per seed (runs with the same seed share initial weights, data order and
//! label noise); Holm's correction runs over every comparison of the table.

use super::{Cell, Cells, CompareOptions, Paired, Verdict, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};
use crate::error::{Error, Result};

/// How the baseline was named.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Named {
    Method,
    Loss,
    Optimizer,
}

fn is_baseline(c: &Cell, b: &str, named: Named) -> bool {
    match named {
        Named::Method => c.method == b,
        Named::Loss => c.loss == b,
        Named::Optimizer => c.optimizer == b,
    }
}

/// Which of method, loss or optimizer label `b` names; an error when none or both kinds of
/// label do.
fn resolve(cells: &Cells, b: &str) -> Result<Named> {
    let any = |named| cells.values().any(|c| is_baseline(c, b, named));
    if any(Named::Method) {
        return Ok(Named::Method);
    }
    match (any(Named::Loss), any(Named::Optimizer)) {
        (true, true) => Err(Error::input(format!(
            "baseline `{b}` is ambiguous: it is a loss label and an optimizer label; name a method instead (methods: {})",
            method_list(cells)
        ))),
        (true, false) => Ok(Named::Loss),
        (false, true) => Ok(Named::Optimizer),
        (false, false) => {
            let names: Vec<&str> = cells.values().flat_map(|c| [c.method.as_str(), c.loss.as_str(), c.optimizer.as_str()]).collect();
            let hint = crate::registry::suggest(b, names.iter().copied()).map(|c| format!("did you mean `{c}`? ")).unwrap_or_default();
            Err(Error::input(format!("baseline `{b}` is not among the compared methods; {hint}(methods: {})", method_list(cells))))
        }
    }
}

fn method_list(cells: &Cells) -> String {
    let mut methods: Vec<&str> = cells.values().map(|c| c.method.as_str()).collect();
    methods.sort_unstable();
    methods.dedup();
    methods.join(", ")
}

/// The baseline cell `c` is compared with: same task, differing in the loss or the optimizer
/// only. `Ok(None)` when there is none; an error when several fit.
fn partner<'a>(cells: &'a Cells, c: &Cell, b: &str, named: Named) -> Result<Option<&'a Cell>> {
    let fits: Vec<&Cell> = cells
        .values()
        .filter(|p| p.task == c.task && p.method != c.method && is_baseline(p, b, named))
        .filter(|p| match named {
            Named::Loss => p.keys.without_loss == c.keys.without_loss,
            Named::Optimizer => p.keys.without_optimizer == c.keys.without_optimizer,
            Named::Method => p.keys.without_loss == c.keys.without_loss || p.keys.without_optimizer == c.keys.without_optimizer,
        })
        .collect();
    match fits.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(Error::input(format!(
            "baseline `{b}` is ambiguous for `{}` in task `{}`: it could be {}; name one of them with --baseline",
            c.method,
            c.task,
            many.iter().map(|p| format!("`{}`", p.method)).collect::<Vec<_>>().join(" or ")
        ))),
    }
}

/// The paired comparison of `values` against `base` over the seeds both have.
pub(crate) fn paired(values: &[(u64, f64)], base: &[(u64, f64)]) -> Option<Paired> {
    let diffs: Vec<f64> = values.iter().filter_map(|(s, v)| base.iter().find(|(bs, _)| bs == s).map(|(_, bv)| v - bv)).collect();
    let (Some(mean), std) = super::mean_std(&diffs) else { return None };
    let (ci_low, ci_high) = crate::stats::bootstrap_ci(&diffs, 0.95, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).unwrap_or((f64::NAN, f64::NAN));
    Some(Paired {
        mean,
        std: std.unwrap_or(f64::NAN),
        n: diffs.len(),
        ci_low,
        ci_high,
        p_value: crate::stats::wilcoxon(&diffs).map(|w| w.p_value),
        p_holm: None,
        verdict: Verdict::Undecided,
    })
}

/// Pair every cell with its baseline, then Holm and the verdicts. Returns a note naming the
/// cells that have no baseline to pair with.
pub fn pair(cells: &mut Cells, b: &str, higher: bool, opts: &CompareOptions) -> Result<Option<String>> {
    let named = resolve(cells, b)?;
    let mut found: Vec<((String, String), Paired)> = Vec::new();
    let mut unpaired: Vec<String> = Vec::new();
    for (key, c) in cells.iter() {
        if is_baseline(c, b, named) {
            continue;
        }
        match partner(cells, c, b, named)? {
            Some(p) => found.extend(paired(&c.values, &p.values).map(|pr| (key.clone(), pr))),
            None => unpaired.push(format!("`{}` ({})", c.method, c.task)),
        }
    }
    for (key, pr) in found {
        if let Some(c) = cells.get_mut(&key) {
            c.paired = Some(pr);
        }
    }
    holm_and_verdicts(cells, higher, opts);
    Ok((!unpaired.is_empty()).then(|| {
        format!("Not paired (no `{b}` run of the same task differing only in the loss or the optimizer): {}.", unpaired.join(", "))
    }))
}

/// Holm over the family of comparisons in this table, then each verdict.
fn holm_and_verdicts(cells: &mut Cells, higher: bool, opts: &CompareOptions) {
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

/// The verdict of a paired comparison (see [`Verdict`]).
pub(crate) fn verdict(p: &Paired, higher_is_better: bool, rope: f64, alpha: f64) -> Verdict {
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
