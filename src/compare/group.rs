//! Step 2 of a comparison: which table column (task) and row (method) each run belongs to.
//!
//! A method is the loss label (with the optimizer label when the runs have several
//! optimizers). Runs are never merged across configurations: when one task name covers two
//! datasets, or one method label two configurations (a recipe edited and retrained into the
//! same folder, two recipes that share labels), each gets its own column or row, named by what
//! differs (`focal [optimizer.lr=0.01]`), and a warning says how to select one.

use super::gather::LoadedRun;
use super::keys;
use std::collections::BTreeMap;

/// A run with the column and row it is shown in.
pub struct Labelled<'a> {
    pub run: &'a LoadedRun,
    pub task: String,
    pub method: String,
}

/// The method name of a run before any configuration suffix.
pub fn base_method(run: &LoadedRun, several_optimizers: bool) -> String {
    method_name(&run.loss, &run.optimizer, several_optimizers)
}

/// A method's name: the loss label, with the optimizer's (`focal / sam`) when the runs have
/// several optimizers.
pub fn method_name(loss: &str, optimizer: &str, several_optimizers: bool) -> String {
    if several_optimizers {
        format!("{loss} / {optimizer}")
    } else {
        loss.to_string()
    }
}

/// Most differing paths named in a suffix.
const SUFFIX_PATHS: usize = 3;
/// Longest value shown in a suffix.
const SUFFIX_VALUE: usize = 24;

/// The flattened config of one run of each variant (read back from its `run.json`).
fn example_configs(variants: &[(&String, Vec<&LoadedRun>)]) -> Vec<BTreeMap<String, String>> {
    variants.iter().map(|(_, runs)| crate::run::read_record(&runs[0].dir).map(|r| keys::flatten(&r.config)).unwrap_or_default()).collect()
}

/// `[p=v, q=w]` names for variants that differ at `paths` (made unique if values were cut).
fn suffixes(diffs: &[(String, Vec<String>)], strip: &str, n: usize) -> Vec<String> {
    let mut out: Vec<String> = (0..n)
        .map(|i| {
            let mut parts: Vec<String> = diffs
                .iter()
                .take(SUFFIX_PATHS)
                .map(|(p, v)| format!("{}={}", p.strip_prefix(strip).unwrap_or(p), crate::error::truncate(&v[i], SUFFIX_VALUE)))
                .collect();
            if diffs.len() > SUFFIX_PATHS {
                parts.push(format!("+{} more", diffs.len() - SUFFIX_PATHS));
            }
            if parts.is_empty() {
                parts.push(format!("configuration {}", i + 1));
            }
            format!("[{}]", parts.join(", "))
        })
        .collect();
    for i in 0..n {
        if out[..i].contains(&out[i]) {
            out[i] = format!("{} #{}", out[i], i + 1);
        }
    }
    out
}

/// A warning naming the variants of one label, what differs, and how to select one.
fn variant_warning(what: &str, diffs: &[(String, Vec<String>)], counts: &[usize], names: &[String]) -> String {
    let differ: Vec<String> = diffs
        .iter()
        .take(SUFFIX_PATHS)
        .map(|(p, values)| {
            let each: Vec<String> =
                values.iter().zip(counts).map(|(v, n)| format!("{} in {n} runs", crate::error::truncate(v, 40))).collect();
            format!("{p} ({})", each.join(", "))
        })
        .collect();
    let select =
        diffs.first().map(|(p, v)| format!("select one with `--where {p}={}`, or ", crate::error::truncate(&v[0], 40))).unwrap_or_default();
    format!(
        "{what}: runs of {} different configurations, differing in {}; kept apart as {}; {select}compare the folders of one configuration",
        counts.len(),
        if differ.is_empty() { "settings not in their configs".to_string() } else { differ.join("; ") },
        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    )
}

/// Runs of one label split by a key, in first-seen order.
fn variants<'a>(runs: &[&'a LoadedRun], key: impl Fn(&LoadedRun) -> &String) -> Vec<(&'a String, Vec<&'a LoadedRun>)> {
    let mut out: Vec<(&String, Vec<&LoadedRun>)> = Vec::new();
    for r in runs {
        match out.iter_mut().find(|(k, _)| *k == key(r)) {
            Some((_, list)) => list.push(r),
            None => out.push((key(r), vec![*r])),
        }
    }
    out
}

/// Names for the variants of one label: the label itself when there is one variant.
fn variant_names(label: &str, what: &str, found: &[(&String, Vec<&LoadedRun>)], strip: &str, warnings: &mut Vec<String>) -> Vec<String> {
    if found.len() < 2 {
        return vec![label.to_string()];
    }
    let mut diffs = keys::differing(&example_configs(found));
    if !strip.is_empty() {
        diffs.retain(|(p, _)| p.starts_with(strip));
    }
    let shown = if strip.is_empty() { "" } else { "task." };
    let names: Vec<String> = suffixes(&diffs, shown, found.len()).into_iter().map(|s| format!("{label} {s}")).collect();
    let counts: Vec<usize> = found.iter().map(|(_, runs)| runs.len()).collect();
    warnings.push(variant_warning(what, &diffs, &counts, &names));
    names
}

/// The column and row of every run, and the warnings about labels that cover several
/// configurations.
pub fn label(runs: &[LoadedRun]) -> (Vec<Labelled<'_>>, Vec<String>) {
    let mut warnings = Vec::new();
    let several = runs.iter().map(|r| &r.optimizer).collect::<std::collections::BTreeSet<_>>().len() > 1;
    let mut task_names: Vec<&String> = Vec::new();
    for r in runs {
        if !task_names.contains(&&r.task) {
            task_names.push(&r.task);
        }
    }
    let mut out = Vec::with_capacity(runs.len());
    for name in task_names {
        let of_task: Vec<&LoadedRun> = runs.iter().filter(|r| &r.task == name).collect();
        let datasets = variants(&of_task, |r| &r.keys.task);
        let columns = variant_names(name, &format!("task `{name}`"), &datasets, "task.dataset.", &mut warnings);
        for ((_, column_runs), column) in datasets.iter().zip(columns) {
            let mut bases: Vec<String> = Vec::new();
            for r in column_runs {
                let b = base_method(r, several);
                if !bases.contains(&b) {
                    bases.push(b);
                }
            }
            for base in bases {
                let of_method: Vec<&LoadedRun> = column_runs.iter().copied().filter(|r| base_method(r, several) == base).collect();
                let configs = variants(&of_method, |r| &r.keys.config);
                let names = variant_names(&base, &format!("task `{column}`, method `{base}`"), &configs, "", &mut warnings);
                for ((_, method_runs), method) in configs.iter().zip(names) {
                    out.extend(method_runs.iter().map(|run| Labelled { run, task: column.clone(), method: method.clone() }));
                }
            }
        }
    }
    (out, warnings)
}
