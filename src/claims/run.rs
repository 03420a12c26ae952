//! `lossbench claims run`: train each selected claim (resuming), with `--sensitivity` also at
//! the neighbours of its protocol, decide it, and write `claims.{md,csv,json}`.

use super::decide::{self, Row};
use super::{selected, ClaimFile, Outcome, Point, MIN_SEEDS};
use crate::compare;
use crate::error::{Error, Result};
use crate::recipe::Plan;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `lossbench claims run`, as parsed from the command line.
pub struct RunCommand {
    pub dir: PathBuf,
    /// Claim ids to run (all when empty).
    pub only: Vec<String>,
    /// 1 epoch, 2 seeds: checks that every claim runs (its verdicts mean nothing).
    pub smoke: bool,
    pub out: PathBuf,
    pub jobs: usize,
    pub quiet: bool,
    /// Start no run after this much wall time; claims left unfinished say so, and a rerun resumes.
    pub budget: Option<Duration>,
    /// Also run each claim at the neighbours of its protocol (`sensitivity:`).
    pub sensitivity: bool,
    /// Include the claims marked `long` when `only` names none.
    pub long: bool,
}

/// Wall seconds of one claim's runs (its protocol's and its neighbours', as each run.json
/// records them), and how many of its runs this invocation trained.
#[derive(Debug, Clone, Default)]
pub struct Wall {
    pub claim: String,
    pub protocol: f64,
    pub neighbours: f64,
    pub runs: usize,
    pub trained: usize,
}

/// What training one plan gave: the rows decided, the runs' recorded wall seconds, and the
/// runs planned and trained now.
struct Trained {
    rows: Vec<Row>,
    wall: f64,
    runs: usize,
    trained: usize,
}

/// `--budget`: `90s`, `20m`, `2h`, `1h30m` (a number with a unit, possibly several).
pub fn parse_budget(text: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("`{text}`: allowed: a duration such as 90s, 20m, 2h or 1h30m");
    let (mut total, mut number) = (0.0_f64, String::new());
    for ch in text.trim().chars() {
        let unit = match ch {
            '0'..='9' | '.' => {
                number.push(ch);
                continue;
            }
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            _ => return Err(bad()),
        };
        total += number.parse::<f64>().map_err(|_| bad())? * unit;
        number.clear();
    }
    if !(number.is_empty() && total > 0.0 && total < 1e9) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// The method names a comparison gives the plan's runs: the loss label, with the optimizer's
/// (`cross_entropy / sam`) when the plan has several optimizers.
fn method_names(plan: &Plan) -> BTreeSet<String> {
    let several = plan.optimizers.len() > 1;
    plan.runs.iter().map(|r| compare::group::method_name(&r.loss.label, &r.optimizer.label, several)).collect()
}

/// The claim's contrasts name methods of its plan, and it has enough seeds to decide.
fn check_plan(file: &ClaimFile, plan: &Plan, smoke: bool) -> Result<()> {
    let names = method_names(plan);
    let named = file.claim.contrasts.iter().flat_map(|k| [&k.method, &k.baseline]);
    if let Some(x) = named.into_iter().find(|m| !names.contains(*m)) {
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        return Err(Error::input(format!(
            "{}: claim.contrasts names `{x}`, not a method of the recipe ({}; with several optimizers a method is `loss / optimizer`)",
            file.path.display(),
            known.join(", ")
        )));
    }
    let tasks: Vec<&str> = plan.tasks.iter().map(|t| t.name.as_str()).collect();
    let named_tasks = file.claim.contrasts.iter().flat_map(|k| [&k.task, &k.baseline_task]).flatten();
    if let Some(t) = named_tasks.into_iter().find(|t| !tasks.contains(&t.as_str())) {
        return Err(Error::input(format!(
            "{}: claim.contrasts names task `{t}`, not a task of the recipe ({})",
            file.path.display(),
            tasks.join(", ")
        )));
    }
    let optimizers: super::grid::Optimizers = plan.optimizers.iter().map(|o| (o.label.clone(), o.config.clone())).collect();
    for k in &file.claim.grids {
        for arm in [&k.method, &k.baseline] {
            super::grid::arm(&optimizers, arm, &k.axes, &file.path.display().to_string())?;
        }
    }
    let seeds: BTreeSet<u64> = plan.runs.iter().map(|r| r.seed).collect();
    if smoke {
        return Ok(());
    }
    if seeds.len() < MIN_SEEDS {
        return Err(Error::input(format!(
            "{}: a claim decides with at least {MIN_SEEDS} seeds; the recipe has {}",
            file.path.display(),
            seeds.len()
        )));
    }
    let rows = file.claim.contrasts.iter().map(|k| k.rows(plan.tasks.len())).sum::<usize>() + file.claim.grids.len() * plan.tasks.len();
    check_decidable(file, seeds.len(), rows)
}

/// A claimed gain needs a Holm-adjusted p below α: with `n` seeds the smallest two-sided
/// Wilcoxon p is 2/2ⁿ (every seed one way), and Holm multiplies the smallest of `rows` p-values
/// by `rows`. A rule that cannot reach α whatever the runs show is an error, not a verdict.
fn check_decidable(file: &ClaimFile, n: usize, rows: usize) -> Result<()> {
    let claim = &file.claim;
    let smallest = rows as f64 * 2.0 / 2f64.powi(n.min(60) as i32);
    let claims_a_gain = claim.expectations().contains(&super::Expect::Better);
    if claims_a_gain && smallest >= claim.alpha {
        let needed = (1..=60).find(|&k| rows as f64 * 2.0 / 2f64.powi(k) < claim.alpha).unwrap_or(60);
        return Err(Error::input(format!(
            "{}: with {n} seeds and {rows} contrast × task rows the smallest Holm-adjusted p is {smallest:.4}, not below α = {}: the rule can never reproduce the claim; give at least {needed} seeds",
            file.path.display(),
            claim.alpha
        )));
    }
    Ok(())
}

/// `config` with every `lr` in it (a base optimizer's included) multiplied by `factor`, and
/// how many it scaled.
fn scale_lr(config: &serde_json::Value, factor: f64) -> (serde_json::Value, usize) {
    match config {
        serde_json::Value::Object(map) => {
            let mut count = 0;
            let scaled = map.iter().map(|(k, v)| {
                let v = match (k.as_str(), v.as_f64()) {
                    ("lr", Some(lr)) => {
                        count += 1;
                        serde_json::json!(lr * factor)
                    }
                    _ => {
                        let (v, n) = scale_lr(v, factor);
                        count += n;
                        v
                    }
                };
                (k.clone(), v)
            });
            let scaled = serde_json::Value::Object(scaled.collect());
            (scaled, count)
        }
        other => (other.clone(), 0),
    }
}

/// The recipe text of the neighbour `point` of the protocol `text` (resolved as `plan`): the
/// optimizers written out in full with their learning rates scaled, and/or the epochs scaled.
fn neighbour_text(text: &str, plan: &Plan, point: &Point) -> Result<String> {
    let yaml_err = |e: serde_yaml::Error| Error::runtime(format!("sensitivity `{}`: {e}", point.label));
    let mut doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(yaml_err)?;
    if let Some(f) = point.lr {
        let mut optimizers = Vec::new();
        for o in &plan.optimizers {
            let (scaled, n) = scale_lr(&o.config, f);
            if n == 0 {
                return Err(Error::input(format!(
                    "claim.sensitivity `{}`: optimizer `{}` has no learning rate `lr` to scale",
                    point.label, o.label
                )));
            }
            optimizers.push(scaled);
        }
        doc["optimizers"] = serde_yaml::to_value(optimizers).map_err(yaml_err)?;
    }
    if let Some(f) = point.epochs {
        let epochs = ((plan.train.epochs as f64) * f).round().max(1.0) as u64;
        if !doc["train"].is_mapping() {
            doc["train"] = serde_yaml::Value::Mapping(Default::default());
        }
        doc["train"]["epochs"] = epochs.into();
        if doc["train"]["eval_every"].as_u64().is_some_and(|e| e > epochs) {
            doc["train"]["eval_every"] = epochs.into();
        }
    }
    serde_yaml::to_string(&doc).map_err(yaml_err)
}

/// Train `plan` into `out` (starting no run after `deadline`) and decide the claim at `point`.
/// Runs left undone by the deadline give unfinished rows.
fn train_and_decide(file: &ClaimFile, plan: &Plan, point: &str, out: &Path, c: &RunCommand, deadline: Option<Instant>) -> Result<Trained> {
    let opts = crate::sweep::SweepOptions {
        out: out.to_path_buf(),
        device: candle_core::Device::Cpu,
        device_name: "cpu".into(),
        jobs: c.jobs,
        force: false,
        progress: crate::train::progress_wanted(c.quiet),
        report_failures: !c.quiet,
        deadline,
    };
    let summary = crate::sweep::sweep(plan, &opts)?;
    let trained = summary.finished + summary.diverged + summary.failed;
    let planned: Vec<(PathBuf, &str)> = plan.runs.iter().map(|r| (out.join(&r.rel_dir), r.hash.as_str())).collect();
    let wall: f64 = planned.iter().filter_map(|(d, _)| crate::run::read_record(d).ok()).map(|r| r.timings.wall_s).sum();
    let claim = &file.claim;
    let mut filter = claim.reading(&claim.split, &claim.select)?.row_filter();
    filter.extra_splits = claim.contrasts.iter().filter_map(|k| k.split.clone()).collect();
    let (gathered, missing) = compare::gather::gather_plan(&planned, &filter);
    if let Some((dir, why)) = missing.first() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Trained { rows: decide::unfinished(file, point), wall, runs: planned.len(), trained });
        }
        return Err(Error::runtime(format!("{}: {} runs did not finish, e.g. {}: {why}", claim.id, missing.len(), dir.display())));
    }
    Ok(Trained { rows: decide::decide(file, point, &gathered, plan)?, wall, runs: planned.len(), trained })
}

/// A claim file read and resolved: its recipe text and its plan, checked.
struct Prepared<'a> {
    file: &'a ClaimFile,
    plan: Plan,
    /// With `--sensitivity`, each neighbour of the protocol and its plan.
    neighbours: Vec<(&'a Point, Plan)>,
}

/// The overrides of `claims run` (`--smoke`: 2 seeds, 1 epoch).
fn overrides(c: &RunCommand) -> crate::recipe::Overrides {
    crate::recipe::Overrides {
        seeds: c.smoke.then(|| vec![0, 1]),
        epochs: c.smoke.then_some(1),
        device: "cpu".into(),
        save_weights: false,
        jobs: c.jobs,
        set: Vec::new(),
    }
}

/// Read, resolve and check one claim file, and with `--sensitivity` its neighbours (so that a
/// bad file stops the registry before any training).
fn prepare<'a>(file: &'a ClaimFile, c: &RunCommand) -> Result<Prepared<'a>> {
    let text = crate::files::read_text(&file.path, crate::files::MAX_RECIPE_BYTES)
        .map_err(|e| Error::input(format!("cannot read claim file {}: {e}", file.path.display())))?;
    let plan = crate::recipe::resolve(&text, &file.path, &overrides(c))?;
    check_plan(file, &plan, c.smoke)?;
    let mut neighbours = Vec::new();
    for point in file.claim.sensitivity.iter().filter(|_| c.sensitivity) {
        let text = neighbour_text(&text, &plan, point).map_err(|e| Error::input(format!("{}: {e}", file.path.display())))?;
        neighbours.push((point, crate::recipe::resolve(&text, &file.path, &overrides(c))?));
    }
    Ok(Prepared { file, plan, neighbours })
}

/// One claim: its protocol into `out/<id>`, then with `--sensitivity` each neighbour into
/// `out/sensitivity/<id>/<label>`.
fn run_claim(p: &Prepared, c: &RunCommand, deadline: Option<Instant>) -> Result<(Vec<Row>, Wall)> {
    let (file, id) = (p.file, &p.file.claim.id);
    let t = train_and_decide(file, &p.plan, "protocol", &c.out.join(id), c, deadline)?;
    let mut rows = t.rows;
    let mut wall = Wall { claim: id.clone(), protocol: t.wall, neighbours: 0.0, runs: t.runs, trained: t.trained };
    for (point, neighbour) in &p.neighbours {
        let out = c.out.join("sensitivity").join(id).join(&point.label);
        let t = train_and_decide(file, neighbour, &point.label, &out, c, deadline)?;
        rows.extend(t.rows);
        wall.neighbours += t.wall;
        wall.runs += t.runs;
        wall.trained += t.trained;
    }
    Ok((rows, wall))
}

/// Run `lossbench claims run`: every selected claim, then `claims.{md,csv,json}` in `out`.
pub fn run_command(c: RunCommand) -> Result<()> {
    if c.jobs == 0 {
        return Err(Error::input("--jobs must be at least 1"));
    }
    let started = Instant::now();
    let deadline = c.budget.map(|b| started + b);
    let files = selected(&c.dir, &c.only, c.long)?;
    let prepared = files.iter().map(|f| prepare(f, &c)).collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::new();
    let mut walls = Vec::new();
    for p in &prepared {
        let (r, wall) = run_claim(p, &c, deadline)?;
        rows.extend(r);
        walls.push(wall);
    }
    let md = super::render::render_md(&files, &rows, &walls, c.smoke, started.elapsed().as_secs_f64());
    crate::run::write_atomic(&c.out.join("claims.md"), md.as_bytes())?;
    crate::run::write_atomic(&c.out.join("claims.csv"), super::render::render_csv(&rows).as_bytes())?;
    let json = serde_json::to_string_pretty(&rows).map_err(|e| Error::runtime(e.to_string()))?;
    crate::run::write_atomic(&c.out.join("claims.json"), json.as_bytes())?;
    print!("{md}");
    let unfinished: BTreeSet<&str> = rows.iter().filter(|r| r.outcome == Outcome::Unfinished).map(|r| r.claim.as_str()).collect();
    if !unfinished.is_empty() && !c.quiet {
        let ids: Vec<&str> = unfinished.into_iter().collect();
        eprintln!("budget spent: {} unfinished; run the same command again to resume", ids.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_durations_with_units() {
        assert_eq!(parse_budget("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_budget("20m").unwrap(), Duration::from_secs(1200));
        assert_eq!(parse_budget("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_budget("0.5h").unwrap(), Duration::from_secs(1800));
        for bad in ["", "20", "m", "-5m", "0s", "3 d", "1e9h"] {
            assert!(parse_budget(bad).unwrap_err().contains("allowed"), "{bad}");
        }
    }

    #[test]
    fn learning_rates_are_scaled_at_every_depth() {
        let config = serde_json::json!({"name": "sam", "rho": 0.05, "base": {"name": "sgd", "lr": 0.1, "momentum": 0.9}});
        let (scaled, n) = scale_lr(&config, 0.5);
        assert_eq!((scaled["base"]["lr"].clone(), n), (serde_json::json!(0.05), 1));
        assert_eq!(scale_lr(&serde_json::json!({"name": "x", "rho": 0.1}), 2.0).1, 0);
        assert_eq!((scaled["rho"].clone(), scaled["base"]["momentum"].clone()), (serde_json::json!(0.05), serde_json::json!(0.9)));
    }
}
