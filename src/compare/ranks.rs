//! Step 4a of a comparison: ranks and the rank statistics of a table.
//!
//! Each cell is ranked within its task among the methods with a mean there (1 = best, ties
//! share the mean rank). Average ranks, Friedman's test and Nemenyi's critical difference need
//! every method in every task, so they are computed over the complete block: methods and tasks
//! with missing cells (a diverged or failed cell, a method run on some tasks only) are left out,
//! the line with the larger share of missing cells first, and the table says which.

use super::Cells;
use std::collections::BTreeMap;

/// Average ranks and the rank tests of one table.
#[derive(Default)]
pub struct RankSummary {
    pub avg_rank: BTreeMap<String, f64>,
    pub friedman: Option<crate::stats::Friedman>,
    /// The methods of the Friedman test, in its treatment order.
    pub friedman_methods: Vec<String>,
    pub cd: Option<f64>,
    /// What was left out of the complete block, for a note under the table.
    pub note: Option<String>,
}

/// Ranks (1 = best, ties share the mean rank) of `(name, value)` pairs.
fn ranks(mut scored: Vec<(String, f64)>, higher: bool) -> Vec<(String, f64)> {
    scored.sort_by(|a, b| if higher { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) });
    let mut out = Vec::with_capacity(scored.len());
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j + 1 < scored.len() && scored[j + 1].1 == scored[i].1 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        out.extend(scored[i..=j].iter().map(|(m, _)| (m.clone(), rank)));
        i = j + 1;
    }
    out
}

fn mean_of(cells: &Cells, task: &str, method: &str) -> Option<f64> {
    cells.get(&(task.to_string(), method.to_string())).and_then(|c| c.mean).filter(|m| m.is_finite())
}

/// Set each cell's rank within its task.
pub fn rank_cells(cells: &mut Cells, tasks: &[String], higher: bool) {
    for task in tasks {
        let scored: Vec<(String, f64)> = cells
            .values()
            .filter(|c| &c.task == task)
            .filter_map(|c| c.mean.filter(|m| m.is_finite()).map(|m| (c.method.clone(), m)))
            .collect();
        for (method, rank) in ranks(scored, higher) {
            if let Some(c) = cells.get_mut(&(task.clone(), method)) {
                c.rank = Some(rank);
            }
        }
    }
}

/// The largest block of tasks × methods with a mean in every cell, found by leaving out the
/// method or task with the largest share of missing cells (a method on ties) until none is.
pub fn complete_block(cells: &Cells, tasks: &[String], methods: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut ts, mut ms) = (tasks.to_vec(), methods.to_vec());
    loop {
        let missing_m: Vec<usize> = ms.iter().map(|m| ts.iter().filter(|t| mean_of(cells, t, m).is_none()).count()).collect();
        let missing_t: Vec<usize> = ts.iter().map(|t| ms.iter().filter(|m| mean_of(cells, t, m).is_none()).count()).collect();
        let worst = |counts: &[usize], of: usize| {
            counts.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0))).map(|(i, n)| (i, *n as f64 / of.max(1) as f64))
        };
        let (Some((i, fm)), Some((j, ft))) = (worst(&missing_m, ts.len()), worst(&missing_t, ms.len())) else { break };
        if fm == 0.0 && ft == 0.0 {
            break;
        } else if fm >= ft {
            ms.remove(i);
        } else {
            ts.remove(j);
        }
    }
    (ts, ms)
}

/// Average ranks, Friedman and Nemenyi over the complete block of the table.
pub fn summarise(cells: &Cells, tasks: &[String], methods: &[String], higher: bool, alpha: f64) -> RankSummary {
    let (block_tasks, block_methods) = complete_block(cells, tasks, methods);
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for t in &block_tasks {
        let scored = block_methods.iter().filter_map(|m| mean_of(cells, t, m).map(|v| (m.clone(), v))).collect();
        for (m, r) in ranks(scored, higher) {
            *sums.entry(m).or_default() += r;
        }
    }
    let avg_rank = sums.into_iter().map(|(m, s)| (m, s / block_tasks.len() as f64)).collect();
    let mut summary = RankSummary { avg_rank, note: block_note(tasks, methods, &block_tasks, &block_methods), ..Default::default() };
    if block_tasks.len() >= 2 && block_methods.len() >= 3 {
        // Rank 1 = best: negate higher-is-better values so that ascending ranks are best first.
        let table: Vec<Vec<f64>> = block_tasks
            .iter()
            .map(|t| block_methods.iter().map(|m| mean_of(cells, t, m).map_or(f64::NAN, |v| if higher { -v } else { v })).collect())
            .collect();
        summary.friedman = crate::stats::friedman(&table).ok();
        summary.cd = crate::stats::nemenyi_cd(block_methods.len(), block_tasks.len(), alpha).ok();
        summary.friedman_methods = block_methods;
    }
    summary
}

/// "Average ranks … over the complete block …; left out: …" when anything was left out.
fn block_note(tasks: &[String], methods: &[String], block_tasks: &[String], block_methods: &[String]) -> Option<String> {
    let out_m: Vec<&String> = methods.iter().filter(|m| !block_methods.contains(m)).collect();
    let out_t: Vec<&String> = tasks.iter().filter(|t| !block_tasks.contains(t)).collect();
    if out_m.is_empty() && out_t.is_empty() {
        return None;
    }
    let list = |v: &[&String]| v.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
    let mut left = Vec::new();
    if !out_m.is_empty() {
        left.push(format!("methods {}", list(&out_m)));
    }
    if !out_t.is_empty() {
        left.push(format!("tasks {}", list(&out_t)));
    }
    Some(format!(
        "Average ranks and rank tests use the complete block of {} tasks × {} methods; left out for missing cells: {}.",
        block_tasks.len(),
        block_methods.len(),
        left.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_the_mean_rank() {
        let r = ranks(vec![("a".into(), 0.5), ("b".into(), 0.9), ("c".into(), 0.5)], true);
        assert_eq!(r, vec![("b".to_string(), 1.0), ("a".to_string(), 2.5), ("c".to_string(), 2.5)]);
    }
}
