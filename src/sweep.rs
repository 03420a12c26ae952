//! A sweep: every run of a plan that is not already finished, `jobs` at a time.
//!
//! Each run is checked, trained and written under its folder's [`RunLock`], so several `train`
//! processes on one results folder (two terminals, several cluster jobs) share the work: a run
//! another process holds is put aside and revisited at the end, when its lock is free — by
//! then it is usually finished, and it is trained here only if that process died first. Under
//! the lock, leftovers of a killed writer are removed and the run is checked again, so a run is
//! never trained twice and a folder never mixes the files of two runs.

use crate::error::{Error, Result};
use crate::recipe::{Plan, RunSpec};
use crate::run::{self, RunLock, RunRecord, Status};
use crate::train::{self, RunResult};
use candle_core::Device;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// How to run a sweep.
pub struct SweepOptions {
    pub out: PathBuf,
    pub device: Device,
    pub device_name: String,
    pub jobs: usize,
    pub force: bool,
    /// Show progress bars (stderr is a terminal and `--quiet` was not given).
    pub progress: bool,
    /// Print each failed run's message on stderr (not `--quiet`).
    pub report_failures: bool,
    /// Start no run after this instant (`claims run --budget`); runs under way finish.
    pub deadline: Option<std::time::Instant>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepSummary {
    pub total: usize,
    /// Finished before this sweep started, or meanwhile by another process.
    pub skipped: usize,
    pub finished: usize,
    pub diverged: usize,
    pub failed: usize,
}

/// Longest failure message kept in a `run.json`.
const MAX_MESSAGE: usize = 4000;

fn failed_record(spec: &RunSpec, device_name: &str, message: String) -> RunRecord {
    train::base_record(spec, device_name, Status::Failed { message: crate::error::truncate(&message, MAX_MESSAGE) })
}

/// What became of one run of the sweep.
enum Attempt {
    Trained(Status),
    /// Finished (meanwhile) by another process.
    Done,
    /// Another process holds the run's lock; try again at the end.
    Busy,
}

/// The state the workers share.
struct Shared<'a> {
    opts: &'a SweepOptions,
    summary: Mutex<SweepSummary>,
    first_error: Mutex<Option<Error>>,
    deferred: Mutex<Vec<usize>>,
    multi: MultiProgress,
    overall: ProgressBar,
}

impl Shared<'_> {
    fn record_error(&self, e: Error) {
        if let Ok(mut slot) = self.first_error.lock() {
            slot.get_or_insert(e);
        }
    }

    fn failed(&self) -> bool {
        self.first_error.lock().map(|e| e.is_some()).unwrap_or(true)
    }

    /// Whether a new run may start: no error so far and the deadline, if any, not passed.
    fn may_start(&self) -> bool {
        !self.failed() && self.opts.deadline.is_none_or(|d| std::time::Instant::now() < d)
    }

    fn count(&self, attempt: &Attempt) {
        if let Ok(mut s) = self.summary.lock() {
            match attempt {
                Attempt::Trained(Status::Finished) => s.finished += 1,
                Attempt::Trained(Status::Diverged { .. }) => s.diverged += 1,
                Attempt::Trained(Status::Failed { .. }) => s.failed += 1,
                Attempt::Done => s.skipped += 1,
                Attempt::Busy => {}
            }
        }
    }
}

/// Train one run (errors and panics become a failed record).
fn train_caught(
    spec: &RunSpec,
    opts: &SweepOptions,
    bar: &ProgressBar,
) -> (RunRecord, Vec<run::MetricRow>, Option<Vec<candle_core::Tensor>>) {
    let outcome = crate::error::catch_quietly(|| train::train_run(spec, &opts.device, &opts.device_name, &|e| bar.set_position(e as u64)));
    match outcome {
        Ok(Ok(RunResult { record, rows, weights })) => (record, rows, weights),
        Ok(Err(e)) => (failed_record(spec, &opts.device_name, e.to_string()), Vec::new(), None),
        Err(message) => (failed_record(spec, &opts.device_name, format!("internal error: {message}")), Vec::new(), None),
    }
}

/// Check, train and write one run under its lock (waiting for it when `wait`).
fn attempt(spec: &RunSpec, shared: &Shared, bar: &ProgressBar, wait: bool) -> Result<Attempt> {
    let opts = shared.opts;
    let dir = opts.out.join(&spec.rel_dir);
    let lock = if wait {
        RunLock::acquire(&dir)?
    } else {
        match RunLock::try_acquire(&dir)? {
            Some(lock) => lock,
            None => return Ok(Attempt::Busy),
        }
    };
    run::remove_temps(&dir, &lock);
    if !opts.force && run::is_done(&dir, &spec.hash) {
        return Ok(Attempt::Done);
    }
    bar.set_length(spec.train.epochs as u64);
    bar.set_position(0);
    bar.set_message(spec.rel_dir.display().to_string());
    let (record, rows, weights) = train_caught(spec, opts, bar);
    run::write_run(&dir, &record, &rows, weights.as_deref(), &lock)?;
    if let Status::Failed { message } = &record.status {
        if opts.report_failures {
            shared.multi.suspend(|| eprintln!("run {} failed: {message}", spec.rel_dir.display()));
        }
    }
    Ok(Attempt::Trained(record.status))
}

/// Work through `queue` (indices into `todo`) with `jobs` workers; busy runs go to `deferred`
/// unless `wait`.
fn work(todo: &[&RunSpec], queue: &[usize], shared: &Shared, jobs: usize, wait: bool) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            // Deep models recurse deeply in autograd; give workers room beyond the 2 MiB default.
            let spawned = std::thread::Builder::new().stack_size(WORKER_STACK).spawn_scoped(scope, || {
                let bar = shared.multi.add(ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>8} {msg} [{bar:20}] epoch {pos}/{len}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                while shared.may_start() {
                    let Some(&i) = queue.get(next.fetch_add(1, Ordering::SeqCst)) else { break };
                    match attempt(todo[i], shared, &bar, wait) {
                        Ok(Attempt::Busy) => {
                            if let Ok(mut d) = shared.deferred.lock() {
                                d.push(i);
                            }
                        }
                        Ok(done) => {
                            shared.count(&done);
                            shared.overall.inc(1);
                        }
                        Err(e) => shared.record_error(e),
                    }
                }
                bar.finish_and_clear();
            });
            if let Err(e) = spawned {
                shared.record_error(Error::runtime(format!("cannot start a worker thread: {e}")));
            }
        }
    });
}

/// Stack of each sweep worker thread.
const WORKER_STACK: usize = 64 << 20;

/// What `train` would do with `plan` in `out` (`check --out`): the runs finished there, those it
/// would train (how many of them replace a run of another configuration in the same folder),
/// and the run folders under `out` that are not runs of the plan.
pub fn status(plan: &Plan, out: &Path) -> String {
    let (mut done, mut replaced) = (0, 0);
    for r in &plan.runs {
        let dir = out.join(&r.rel_dir);
        if run::is_done(&dir, &r.hash) {
            done += 1;
        } else if dir.join(run::RUN_FILE).is_file() {
            replaced += 1;
        }
    }
    let planned: std::collections::HashSet<PathBuf> = plan.runs.iter().map(|r| out.join(&r.rel_dir)).collect();
    let strays: Vec<PathBuf> = crate::compare::gather::run_dirs(out).into_iter().filter(|d| !planned.contains(d)).collect();
    let mut text = format!(
        "  in {}: {done} runs finished, {} to train ({replaced} of them replacing a run of another configuration or an unfinished one)\n",
        out.display(),
        plan.runs.len() - done
    );
    if !strays.is_empty() {
        let shown: Vec<String> = strays.iter().take(5).map(|d| d.strip_prefix(out).unwrap_or(d).display().to_string()).collect();
        let more = if strays.len() > 5 { format!(", and {} more", strays.len() - 5) } else { String::new() };
        text.push_str(&format!("  {} run folders there are not runs of this recipe: {}{more}\n", strays.len(), shown.join(", ")));
    }
    text
}

/// Run every run of the plan that is not already complete, `jobs` at a time.
pub fn sweep(plan: &Plan, opts: &SweepOptions) -> Result<SweepSummary> {
    let todo: Vec<&RunSpec> = plan.runs.iter().filter(|r| opts.force || !run::is_done(&opts.out.join(&r.rel_dir), &r.hash)).collect();
    let multi = MultiProgress::with_draw_target(if opts.progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    let overall = multi.add(ProgressBar::new(todo.len() as u64));
    overall.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    overall.set_prefix(plan.name.clone());
    let shared = Shared {
        opts,
        summary: Mutex::new(SweepSummary { total: plan.runs.len(), skipped: plan.runs.len() - todo.len(), ..Default::default() }),
        first_error: Mutex::new(None),
        deferred: Mutex::new(Vec::new()),
        multi,
        overall,
    };
    let jobs = opts.jobs.clamp(1, todo.len().max(1));
    train::set_threads_per_run(jobs);
    // With one job the single worker may pick its run's thread count (`train_run`); nothing
    // else runs matrix products meanwhile. Reset when the sweep ends.
    train::set_single_job(jobs == 1);
    let queue: Vec<usize> = (0..todo.len()).collect();
    work(&todo, &queue, &shared, jobs, false);
    // Runs another process held: by now mostly finished there; wait for each lock and check.
    let mut deferred = shared.deferred.lock().map(|d| d.clone()).unwrap_or_default();
    deferred.sort_unstable();
    work(&todo, &deferred, &shared, jobs, true);
    shared.overall.finish_and_clear();
    train::set_single_job(false);
    if let Some(e) = shared.first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    shared.summary.into_inner().map_err(|_| Error::runtime("poisoned summary lock"))
}

/// `lossbench train`, as parsed from the command line.
pub struct TrainCommand {
    pub recipe: PathBuf,
    pub out: Option<PathBuf>,
    pub device: String,
    pub overrides: crate::recipe::Overrides,
    pub jobs: usize,
    pub force: bool,
    pub quiet: bool,
    pub format: crate::compare::Format,
    pub image: crate::plot::ImageFormat,
}

/// Run `lossbench train`: resolve, sweep, then print the comparison of exactly this plan's runs
/// (first), and save its tables and plots (a full or read-only folder costs the files, with a
/// warning, never the printed table).
pub fn train_command(mut c: TrainCommand) -> Result<()> {
    let choice: crate::device::DeviceChoice = c.device.parse()?;
    let (device, resolved) = choice.create()?;
    if c.jobs == 0 {
        return Err(Error::input("--jobs must be at least 1"));
    }
    c.overrides.device = resolved.to_string();
    let plan = crate::recipe::load(&c.recipe, &c.overrides)?;
    let out = c.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&plan.name));
    if !c.quiet {
        eprint!("{}", plan.describe());
        eprintln!("  results: {}", out.display());
    }
    let opts = SweepOptions {
        out: out.clone(),
        device,
        device_name: resolved.to_string(),
        jobs: c.jobs,
        force: c.force,
        progress: train::progress_wanted(c.quiet),
        report_failures: !c.quiet,
        deadline: None,
    };
    let started = std::time::Instant::now();
    let summary = sweep(&plan, &opts)?;
    if !c.quiet {
        eprintln!(
            "{} runs: {} trained ({} finished, {} diverged, {} failed), {} already done; {:.1}s",
            summary.total,
            summary.finished + summary.diverged + summary.failed,
            summary.finished,
            summary.diverged,
            summary.failed,
            summary.skipped,
            started.elapsed().as_secs_f64()
        );
    }
    report(&plan, &out, &c)?;
    if summary.failed > 0 {
        return Err(Error::runtime(format!("{} runs failed; their run.json files under {} say why", summary.failed, out.display())));
    }
    Ok(())
}

/// Print the comparison of the plan's runs, then write its tables and plots into `out`.
fn report(plan: &Plan, out: &std::path::Path, c: &TrainCommand) -> Result<()> {
    let planned: Vec<(PathBuf, &str)> = plan.runs.iter().map(|r| (out.join(&r.rel_dir), r.hash.as_str())).collect();
    let options = crate::compare::CompareOptions::default();
    let (gathered, missing) = crate::compare::gather::gather_plan(&planned, &options.row_filter());
    if let Some((first, why)) = missing.first() {
        return Err(Error::runtime(format!(
            "{} of the {} runs are not finished in {} after the sweep (was the folder removed or changed meanwhile?); e.g. {}: {why}",
            missing.len(),
            planned.len(),
            out.display(),
            first.display()
        )));
    }
    if !c.quiet {
        crate::compare::warn_all(&gathered.warnings());
    }
    let comparison = crate::compare::compare(&gathered, &options)?;
    if !c.quiet {
        crate::compare::warn_all(&comparison.warnings);
    }
    print!("{}", crate::compare::render(&comparison.sections, c.format)?);
    let plots = out.join("plots");
    let dirs: Vec<PathBuf> = planned.iter().map(|(d, _)| d.clone()).collect();
    let written = crate::compare::write_tables(&comparison.sections, out).and_then(|_| {
        crate::runs::write_tables(&crate::runs::of_dirs(&dirs, &[]), out)?;
        let mut drawn = crate::plot::curves::learning_curves(&gathered.runs, None, "test", &plots, c.image).unwrap_or_default();
        drawn.extend(crate::plot::comparison_plots(&comparison.sections, &plots, c.image)?);
        Ok(drawn)
    });
    match written {
        Ok(drawn) if !c.quiet && !drawn.is_empty() => eprintln!("plots: {} files in {}", drawn.len(), plots.display()),
        Ok(_) => {}
        Err(e) => crate::compare::warn_all(&[format!("the tables and plots were not saved in {}: {e}", out.display())]),
    }
    Ok(())
}
