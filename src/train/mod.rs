//! Training: one run ([`train_run`]) and a sweep over a plan ([`sweep`]).
//!
//! A run loads its dataset for its seed, applies the transforms, builds the model from the
//! `Init` stream, and trains for `epochs` passes over seeded shuffled mini-batches. It
//! evaluates every split before training (epoch 0), every `eval_every` epochs and after the
//! last. A non-finite training loss marks the run `diverged` at that epoch; the sweep goes on.
//! Randomness comes only from [`crate::rng`], so the same recipe and seed give bit-identical
//! metrics on CPU, and every loss compared under one seed sees the same initial weights, batch
//! order, dropout masks and corrupted labels.

pub mod milestones;
mod step;

use crate::data::transforms::{self, Prepared};
use crate::data::Labels;
use crate::error::{Error, Result};
use crate::families::{self, EvalContext};
use crate::losses::{Loss, Prop, RunContext};
use crate::models::{Init, Model};

use crate::recipe::{RunSpec, TrainSettings};

use crate::rng::{Purpose, Stream};
use crate::run::{DataSummary, MetricRow, RunRecord, Status, Timings};
use candle_core::{DType, Device, Tensor};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use step::{Regularizers, Step, StepBatch, StepParts};

/// The loss of a run: the resolved one, or — for losses that need per-class counts and were
/// not given them — one rebuilt with the counts of this run's train split.
pub(crate) fn run_loss(spec: &RunSpec, prepared: &Prepared, dtype: DType, device: &Device) -> Result<Arc<dyn Loss>> {
    let loss = with_class_counts(spec, prepared)?;
    let classes = prepared.kind.classes();
    let run = RunContext {
        seed: spec.seed,
        n_train: prepared.train.len(),
        outputs: prepared.kind.output_dim(),
        classes,
        dtype,
        device: device.clone(),
    };
    Ok(loss.for_run(&run).unwrap_or(loss))
}

fn with_class_counts(spec: &RunSpec, prepared: &Prepared) -> Result<Arc<dyn Loss>> {
    if !spec.loss.info.props.contains(&Prop::NeedsClassCounts) || spec.loss.params.get("class_counts").is_some() {
        return Ok(spec.loss.loss.clone());
    }
    let Some(counts) = transforms::train_class_counts(prepared) else {
        return Err(Error::input(format!("loss `{}` needs class counts, which only classification data has", spec.loss.info.name)));
    };
    // A class absent from the train split counts as 1, so margins and log-priors stay finite.
    let counts: Vec<usize> = counts.into_iter().map(|n| n.max(1)).collect();
    let mut params = spec.loss.params.clone();
    if let Some(map) = params.as_object_mut() {
        map.insert("class_counts".into(), serde_json::json!(counts));
    }
    Ok((spec.loss.info.build)(&params)?.0)
}

/// USEFUL's first phase: this run itself, shortened to `epochs` epochs (same initial weights,
/// data order, loss and optimizer; constant base learning rate, no warm-up, clipping or
/// regularizers), then every class's slow-learnable rows duplicated in the training set.
/// Returns the number of rows added.
fn upsample_slow(
    spec: &RunSpec,
    prepared: &mut Prepared,
    epochs: usize,
    device: &Device,
    device_name: &str,
    dtype: DType,
) -> Result<usize> {
    let Labels::Classes(labels) = &prepared.train.y else {
        return Err(Error::input("regularizer `useful` needs class labels"));
    };
    let labels = labels.clone();
    let settings = TrainSettings {
        epochs,
        schedule: crate::optim::schedule::Schedule::Constant,
        warmup: 0,
        grad_clip: None,
        save_weights: true,
        ..spec.train.clone()
    };
    let first = RunSpec {
        task: spec.task.clone(),
        loss: spec.loss.clone(),
        optimizer: spec.optimizer.clone(),
        regularizers: Vec::new(),
        seed: spec.seed,
        train: settings,
        rel_dir: spec.rel_dir.clone(),
        common: spec.common.clone(),
        hash: spec.hash.clone(),
    };
    let weights = train_run(&first, device, device_name, &|_| {})?
        .weights
        .ok_or_else(|| Error::runtime("useful: the first phase kept no weights"))?;
    let init = Init { seed: spec.seed, dtype, device: device.clone() };
    let model = spec.task.model.instantiate(prepared.input, prepared.kind.output_dim(), &init)?;
    let loss_fn = run_loss(spec, prepared, dtype, device)?;
    set_vars(&trainable(model.as_ref(), loss_fn.as_ref()), &weights)?;
    let family = families::for_task(prepared.kind);
    let train = family.split("train", &prepared.train, prepared, dtype, device)?;
    let (out, embedding) = model.forward_with_embedding(&train.x, None)?;
    let width = out.dim(1)?;
    let per = loss_fn.monitor(&family.prediction(out.clone(), embedding, None)?, &train.target)?;
    let outputs = out.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let losses = per.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    let slow = crate::regularizers::useful::slow_rows(&outputs, width, &labels, &losses);
    let table = &mut prepared.train;
    let d = table.d;
    let mut x = table.x.clone();
    let mut y = labels.clone();
    for &i in &slow {
        x.extend_from_slice(&table.x[i * d..(i + 1) * d]);
        y.push(labels[i]);
        if prepared.noisy.contains(&i) {
            prepared.noisy.push(y.len() - 1);
        }
        if let Some(clean) = prepared.clean_train.as_mut() {
            let c = clean[i];
            clean.push(c);
        }
        if let Some(groups) = prepared.groups.as_mut() {
            let g = groups.train[i];
            groups.train.push(g);
        }
        if let Some(labelled) = prepared.labelled.as_mut() {
            let l = labelled[i];
            labelled.push(l);
        }
    }
    table.x = x;
    table.y = Labels::Classes(y);
    Ok(slow.len())
}

/// The run's trainable variables: the model's, then the loss's own parameters.
pub(crate) fn trainable(model: &dyn Model, loss: &dyn Loss) -> Vec<candle_core::Var> {
    let mut vars = model.vars();
    vars.extend(loss.vars());
    vars
}

/// Set `vars` to `weights` (as saved: the model's, then the loss's), checking count and shapes.
pub(crate) fn set_vars(vars: &[candle_core::Var], weights: &[Tensor]) -> Result<()> {
    if vars.len() != weights.len() {
        return Err(Error::input(format!("{} weight tensors for a run with {} trainable tensors", weights.len(), vars.len())));
    }
    for (v, w) in vars.iter().zip(weights) {
        if v.as_tensor().dims() != w.dims() {
            return Err(Error::input(format!("weight shape {:?} does not fit the run's {:?}", w.dims(), v.as_tensor().dims())));
        }
        v.set(&w.to_dtype(v.dtype())?)?;
    }
    Ok(())
}

/// The result of one run: its record and its metric rows.
pub struct RunResult {
    pub record: RunRecord,
    pub rows: Vec<MetricRow>,
    /// The final weights (the model's in `Model::vars` order, then the loss's own parameters),
    /// when `train.save_weights` is on.
    pub weights: Option<Vec<Tensor>>,
}

/// The run's data for its seed, transformed, with USEFUL's duplicated rows when the run has
/// that regularizer (then also the number of rows added).
fn prepare_data(spec: &RunSpec, device: &Device, device_name: &str) -> Result<(Prepared, Option<usize>)> {
    let raw = spec.task.source.load(spec.seed)?;
    let mut prepared = transforms::prepare(raw, &spec.task.transforms, spec.seed)?;
    // USEFUL: a first short training phase decides which rows to duplicate.
    let useful_added = match spec.regularizers.iter().find(|r| r.info.name == "useful") {
        Some(r) => {
            let epochs = crate::regularizers::useful::separation_epochs(&r.config, spec.train.epochs);
            Some(upsample_slow(spec, &mut prepared, epochs, device, device_name, spec.train.dtype.dtype())?)
        }
        None => None,
    };
    Ok((prepared, useful_added))
}

/// The run's regularizers, started; USEFUL logs the rows it added.
fn start_regularizers(spec: &RunSpec, model: &dyn Model, prepared: &Prepared, useful_added: Option<usize>) -> Result<Regularizers> {
    let mut regs = Regularizers::start(spec, model, prepared)?;
    if let Some(added) = useful_added {
        for (label, r, _) in regs.others.iter_mut() {
            if spec.regularizers.iter().any(|s| &s.label == label && s.info.name == "useful") {
                r.set_logged(added as f64);
            }
        }
    }
    Ok(regs)
}

/// The record of a run that trained: its config, status, timings, data and the last evaluated
/// value of each metric per split.
fn run_record(
    spec: &RunSpec,
    device_name: &str,
    prepared: &Prepared,
    rows: &[MetricRow],
    status: Status,
    epochs_completed: usize,
    timings: Timings,
) -> RunRecord {
    let mut final_metrics: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    if let Some(last) = rows.last().map(|r| r.epoch) {
        for r in rows.iter().filter(|r| r.epoch == last) {
            final_metrics.entry(r.split.to_string()).or_default().insert(r.metric.clone(), r.value);
        }
    }
    RunRecord {
        epochs_completed,
        timings,
        data: DataSummary {
            n_train: prepared.train.len(),
            n_val: prepared.val.len(),
            n_test: prepared.test.len(),
            train_class_counts: transforms::train_class_counts(prepared),
            noisy_train_indices: prepared.noisy.clone(),
            labelled_train: prepared.labelled.as_ref().map(|l| l.iter().filter(|k| **k).count()),
        },
        final_metrics,
        ..base_record(spec, device_name, status)
    }
}

/// The record of a run with `status` and nothing measured yet: what identifies it.
pub(crate) fn base_record(spec: &RunSpec, device_name: &str, status: Status) -> RunRecord {
    RunRecord {
        lossbench_version: env!("CARGO_PKG_VERSION").to_string(),
        recipe: spec.recipe().to_string(),
        task: spec.task.name.clone(),
        loss: spec.loss.label.clone(),
        optimizer: spec.optimizer.label.clone(),
        seed: spec.seed,
        config_hash: spec.hash.clone(),
        config: spec.config(),
        device: device_name.to_string(),
        status,
        epochs_completed: 0,
        timings: Timings::default(),
        data: DataSummary::default(),
        final_metrics: BTreeMap::new(),
        metrics: None,
        weights: None,
    }
}

/// What the epoch loop works with.
struct Loop<'a> {
    spec: &'a RunSpec,
    family: &'a dyn families::TaskFamily,
    train: &'a families::Split,
    model: &'a dyn Model,
    loss_fn: &'a dyn Loss,
    /// Everything the optimizer trains: the model's variables, then the loss's.
    vars: &'a [candle_core::Var],
    model_vars: &'a [candle_core::Var],
    optimizer: &'a mut dyn crate::optim::Optimizer,
    regs: &'a mut Regularizers,
    /// Which train rows keep their label (semi-supervised `labelled`); `None`: all.
    labelled: Option<&'a [bool]>,
    /// Whether a regularizer wants each step's weights and gradients (a copy per step).
    observing: bool,
    batch: usize,
    total_steps: usize,
}

impl Loop<'_> {
    /// The run's epochs: the family's batches, one optimizer step each, the regularizers' epoch
    /// ends, and `evaluate` every `eval_every` epochs (and after the first and the last). A
    /// non-finite training loss stops the run as diverged. Returns the status and the epochs
    /// completed.
    fn run(
        &mut self,
        evaluate: &mut dyn FnMut(usize, &mut Vec<MetricRow>) -> Result<()>,
        rows: &mut Vec<MetricRow>,
        on_epoch: &dyn Fn(usize),
    ) -> Result<(Status, usize)> {
        let settings = &self.spec.train;
        let mut step = 0;
        for epoch in 1..=settings.epochs {
            let mut dropout = Stream::new(self.spec.seed, Purpose::Dropout, epoch as u64);
            let batches = self.family.epoch(self.train, self.spec.seed, epoch, self.batch)?;
            for b in 0..batches.batches.len() {
                let loss = self.step(&batches, b, step, epoch, &mut dropout)?;
                step += 1;
                if !loss.is_finite() {
                    return Ok((Status::Diverged { epoch }, epoch - 1));
                }
            }
            for (_, r, _) in self.regs.others.iter_mut() {
                r.end_epoch(epoch, self.model_vars)?;
            }
            if epoch % settings.eval_every == 0 || epoch == settings.epochs || epoch == 1 {
                evaluate(epoch, rows)?;
                self.regs.log(epoch, rows);
            }
            self.regs.reset_logs();
            on_epoch(epoch);
        }
        Ok((Status::Finished, settings.epochs))
    }

    /// Optimizer step `step` on batch `b` of `batches`; the loss the optimizer reports.
    fn step(&mut self, batches: &families::Epoch, b: usize, step: usize, epoch: usize, dropout: &mut Stream) -> Result<f64> {
        let (settings, seed) = (&self.spec.train, self.spec.seed);
        let (xb, yb, rows) = batches.batch(b)?;
        let lr = self.spec.optimizer.spec.lr() * settings.schedule.factor(step, epoch - 1, self.total_steps, settings.warmup);
        let batch = StepBatch::new(self.regs, xb, yb, rows, seed, step)?;
        let (loss, observed) = {
            let Regularizers { others, gradient } = &mut *self.regs;
            let state = Step::new(StepParts {
                model: self.model,
                family: self.family,
                loss_fn: self.loss_fn,
                vars: self.vars,
                model_vars: self.model_vars,
                others,
                gradient,
                dropout,
                seed,
                step,
                epoch,
                grad_clip: settings.grad_clip,
                observing: self.observing,
                labelled: self.labelled,
                batch,
            });
            state.run(&mut *self.optimizer, lr)?
        };
        for (_, r, _) in self.regs.others.iter_mut() {
            if let Some((weights, grads)) = &observed {
                r.observe(weights, grads)?;
            }
            r.after_step(self.model_vars)?;
        }
        Ok(loss)
    }
}

/// Train one run. Errors (bad data, tensor failures) are returned; divergence is a result.
pub fn train_run(spec: &RunSpec, device: &Device, device_name: &str, on_epoch: &dyn Fn(usize)) -> Result<RunResult> {
    let started = Instant::now();
    let started_unix = crate::run::now_unix();
    let (seed, dtype) = (spec.seed, spec.train.dtype.dtype());
    let (prepared, useful_added) = prepare_data(spec, device, device_name)?;
    let family = families::for_task(prepared.kind);
    let splits = [
        family.split("train", &prepared.train, &prepared, dtype, device)?,
        family.split("val", &prepared.val, &prepared, dtype, device)?,
        family.split("test", &prepared.test, &prepared, dtype, device)?,
    ];
    let loss_fn = run_loss(spec, &prepared, dtype, device)?;
    let init = Init { seed, dtype, device: device.clone() };
    let model = spec.task.model.instantiate(prepared.input, prepared.kind.output_dim(), &init)?;
    let model_vars = model.vars();
    // The optimizer trains the loss's own parameters too; regularizers see the model's.
    let vars = trainable(model.as_ref(), loss_fn.as_ref());
    if SINGLE_JOB.load(Ordering::SeqCst) && user_threads().is_none() {
        let threads = matmul_threads(step_flops(model.as_ref(), spec.train.batch_size.min(prepared.train.len())), cores());
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let batch = spec.train.batch_size.min(splits[0].len);
    let total_steps = family.steps_per_epoch(splits[0].len, batch) * spec.train.epochs;
    let ctx = crate::optim::Context { seed, n_train: prepared.train.len(), total_steps };
    let mut optimizer = spec.optimizer.spec.instantiate(vars.clone(), &ctx)?;
    let mut regs = start_regularizers(spec, model.as_ref(), &prepared, useful_added)?;
    let observing = regs.others.iter().any(|(_, r, _)| r.observes());

    let mut rows = Vec::new();
    let mut eval_s = 0.0;
    let size = spec.task.model.size(prepared.input, prepared.kind.output_dim())?;
    let chunk = crate::memory::eval_chunk(size.activations_per_row, dtype.size_in_bytes() as f64);
    let eval_ctx = EvalContext { spec, chunk, loss_fn: loss_fn.as_ref(), model: model.as_ref(), prepared: &prepared };
    let mut evaluate = |epoch: usize, rows: &mut Vec<MetricRow>| -> Result<()> {
        let t = Instant::now();
        for split in splits.iter().filter(|s| s.len > 0) {
            family.evaluate(&eval_ctx, split, epoch, rows)?;
        }
        eval_s += t.elapsed().as_secs_f64();
        Ok(())
    };
    evaluate(0, &mut rows)?;
    let mut run = Loop {
        spec,
        family: family.as_ref(),
        train: &splits[0],
        model: model.as_ref(),
        loss_fn: loss_fn.as_ref(),
        vars: &vars,
        model_vars: &model_vars,
        optimizer: optimizer.as_mut(),
        regs: &mut regs,
        labelled: prepared.labelled.as_deref(),
        observing,
        batch,
        total_steps,
    };
    let (status, epochs_completed) = run.run(&mut evaluate, &mut rows, on_epoch)?;
    if status == Status::Finished {
        eval_s += end_of_run(spec, &prepared, &vars, epochs_completed, &mut rows)?;
    }
    let wall_s = started.elapsed().as_secs_f64();
    let timings = Timings { wall_s, train_s: wall_s - eval_s, eval_s, started_unix };
    let record = run_record(spec, device_name, &prepared, &rows, status, epochs_completed, timings);
    let weights = if spec.train.save_weights {
        Some(vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<Vec<_>>>()?)
    } else {
        None
    };
    Ok(RunResult { record, rows, weights })
}

/// What a finished run of `epochs` epochs records after its last one: the final weights'
/// sharpness (`train.sharpness`) and its milestones (`train.milestones`). Returns the seconds
/// it took.
fn end_of_run(spec: &RunSpec, prepared: &Prepared, vars: &[candle_core::Var], epochs: usize, rows: &mut Vec<MetricRow>) -> Result<f64> {
    let t = Instant::now();
    if let Some(sharpness) = &spec.train.sharpness {
        let weights: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        let (rho, top) = crate::landscape::LoadedModel::new(spec, prepared, &weights)?.end_of_run_sharpness(sharpness)?;
        for (metric, value) in [("sharpness_rho", rho), ("hessian_top_eig", top)] {
            rows.push(MetricRow { epoch: epochs, split: "train", metric: metric.into(), value });
        }
    }
    if !spec.train.milestones.is_empty() {
        let directions: Vec<(String, bool)> = spec.task.metrics.iter().map(|m| (m.name.clone(), m.higher_is_better)).collect();
        let reached = milestones::rows(&spec.train.milestones, rows, &directions, epochs);
        rows.extend(reached);
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Keep freed tensor buffers in the heap instead of returning them to the kernel: every tensor
/// op allocates its result, and glibc's defaults serve large blocks with mmap/munmap, so each
/// step paid page faults for fresh pages (a quarter of a digits step in `perf`). Raising the
/// mmap and trim thresholds (glibc only) made `lossbench bench` steps 1.0–1.5× faster; see
/// `benches/README.md`.
///
/// Also bounds how long Candle's element-wise worker threads spin waiting for work
/// (`CANDLE_BARRIER_POOL_SPIN_LIMIT`, unless set): with the default they kept a core busy while
/// the matrix products wanted it, and two threads were slower than one (`perf`: 36 % of a
/// 2-thread mnist step spinning).
pub fn tune_allocator() {
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        // Edition 2021: safe; called at start-up before any thread exists.
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "100");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called once at start-up, before threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Steps cheaper than this (FLOPs, `6·batch·Σ in·out`) use one thread for matrix products:
/// a second thread made them slower here (digits 64-256-256-10, batch 128, 65 MFLOP: 0.40
/// ms/step with 1 thread, 0.46 with 2), while a 1 GFLOP step (784-512-512-10, batch 256) ran
/// 4.4–4.6 → 3.5–4.2 ms with 2. See `benches/README.md`.
pub const SMALL_STEP_FLOPS: f64 = 2e8;

/// Matrix-product threads for a step of `flops`, given at most `max`.
pub fn matmul_threads(flops: f64, max: usize) -> usize {
    if flops < SMALL_STEP_FLOPS {
        1
    } else {
        max.max(1)
    }
}

/// FLOPs of one training step of `model` at `batch` rows (`6·batch·Σ in·out` over its linear
/// layers; forward 2, backward 4).
pub fn step_flops(model: &dyn crate::models::Model, batch: usize) -> f64 {
    let macs: usize = model.linear_layers().iter().map(|(w, _)| w.elem_count()).sum();
    6.0 * (batch * macs) as f64
}

/// Whether the sweep runs one job at a time (then a run may pick its own thread count).
static SINGLE_JOB: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tell runs whether they are the sweep's only job (set by the sweep, reset when it ends).
pub fn set_single_job(single: bool) {
    SINGLE_JOB.store(single, Ordering::SeqCst);
}

/// Cores of this machine.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// `RAYON_NUM_THREADS` as the user set it when lossbench started (captured on the first call,
/// which `cli::run` makes before anything changes the variable).
pub fn user_threads() -> Option<usize> {
    static USER: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *USER.get_or_init(|| std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0))
}

/// Threads each run's matrix products use: `RAYON_NUM_THREADS` when the user set it, else the
/// cores shared out among the concurrent runs (`max(1, cores / jobs)`), so `--jobs N` does not
/// oversubscribe the machine. Candle reads the variable at every matmul.
pub fn set_threads_per_run(jobs: usize) {
    if user_threads().is_none() {
        let threads = (cores() / jobs.max(1)).max(1);
        // Edition 2021: set_var is safe; called before the sweep's worker threads start.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
}

/// Whether progress bars should be drawn: stderr is a terminal and not `--quiet`.
pub fn progress_wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::{log_p_y, log_softmax};
    use crate::recipe::{resolve, Overrides, ResolvedLoss};
    use crate::task::{Prediction, Target};
    use candle_core::Var;

    /// Cross-entropy of temperature-scaled logits `s·z`, with a trainable scale `s` created per
    /// run at 0.5 (a loss with a parameter of its own).
    struct Scaled {
        s: Option<Var>,
    }

    impl Loss for Scaled {
        fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
            let z = match &self.s {
                Some(s) => pred.out.broadcast_mul(s.as_tensor())?,
                None => pred.out.clone(),
            };
            Ok(log_p_y(&log_softmax(&z)?, target.tensor())?.neg()?)
        }
        fn for_run(&self, run: &RunContext) -> Option<Arc<dyn Loss>> {
            let s = Tensor::new(&[0.5f64], &run.device).and_then(|t| t.to_dtype(run.dtype)).and_then(|t| Var::from_tensor(&t));
            Some(Arc::new(Scaled { s: s.ok() }))
        }
        fn vars(&self) -> Vec<Var> {
            self.s.iter().cloned().collect()
        }
    }

    #[test]
    fn a_loss_parameter_is_trained_and_saved_after_the_model_weights() {
        let recipe = "train: {epochs: 3, batch_size: 32, save_weights: true}\ntasks:\n  - name: t\n    dataset: {name: blobs, n: 200, classes: 3, dim: 4}\n    model: {name: mlp, hidden: [8]}\nlosses: [cross_entropy]\noptimizers: [{name: sgd, lr: 0.5}]\n";
        let plan = resolve(recipe, std::path::Path::new("inline.yaml"), &Overrides { device: "cpu".into(), ..Default::default() }).unwrap();
        let mut plan = plan;
        let mut spec = plan.runs.remove(0);
        let base = spec.loss.clone();
        spec.loss = Arc::new(ResolvedLoss {
            label: base.label.clone(),
            info: base.info,
            loss: Arc::new(Scaled { s: None }),
            params: base.params.clone(),
            regularizers: base.regularizers.clone(),
            config: base.config.clone(),
        });
        let result = train_run(&spec, &Device::Cpu, "cpu", &|_| {}).unwrap();
        let weights = result.weights.unwrap();
        let model_tensors = 4; // two linear layers, weight and bias each
        assert_eq!(weights.len(), model_tensors + 1);
        let s = weights[model_tensors].flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(s.len(), 1);
        assert!((s[0] - 0.5).abs() > 1e-4, "the optimizer moved the loss's scale: {}", s[0]);
    }
}
