//! The objective of one optimizer step: the batch (mixed when a regularizer mixes inputs), the
//! model's forward pass on it or on a micro-batch of it, the per-example task loss, reweighting,
//! loss transforms and penalties, a gradient-kind regularizer around the evaluation, gradient
//! clipping, and the weights and gradients observing regularizers see. The training loop hands
//! a [`Step`] to the optimizer, which evaluates it as often as its method needs (SAM-type
//! procedures evaluate twice, micro-batched ones once per part).

use crate::data::transforms::Prepared;
use crate::error::{Error, Result};
use crate::losses::{Loss, ModelAccess};
use crate::models::Model;
use crate::optim::{clip_grad_norm, Evaluation, Objective, Optimizer};
use crate::recipe::RunSpec;
use crate::regularizers::{Active, Batch, Kind, Mix, Start as RegStart, TaskLoss};
use crate::rng::{Purpose, Stream};
use crate::run::MetricRow;
use crate::task::{Prediction, Target};
use candle_core::{DType, Tensor, Var};

/// The objective of one optimizer step, over the whole batch or its micro-batches.
pub(super) struct StepObjective<F: FnMut(Option<(usize, usize)>) -> Result<Evaluation>> {
    eval: F,
    rows: usize,
}

impl<F: FnMut(Option<(usize, usize)>) -> Result<Evaluation>> Objective for StepObjective<F> {
    fn eval(&mut self) -> Result<Evaluation> {
        (self.eval)(None)
    }
    fn eval_part(&mut self, i: usize, k: usize) -> Result<Evaluation> {
        if k == 0 || k > self.rows || i >= k {
            return Err(Error::input(format!("micro-batch {i} of {k} does not exist in a batch of {} rows", self.rows)));
        }
        (self.eval)(Some((i, k)))
    }
    fn rows(&self) -> usize {
        self.rows
    }
}

/// Stream axis of regularizer `i` at optimizer step `step`.
fn reg_axis(step: usize, i: usize) -> u64 {
    ((step as u64) << 8) | i as u64
}

/// Running mean of a regularizer's logged value over an epoch's steps: (sum, count).
pub(super) type Log = (f64, usize);

/// A run's regularizers, started: the gradient-kind one (at most one) apart from the rest.
pub(super) struct Regularizers {
    pub(super) others: Vec<(String, Box<dyn Active>, Log)>,
    pub(super) gradient: Option<(String, Box<dyn Active>, Log)>,
}

impl Regularizers {
    pub(super) fn start(spec: &RunSpec, model: &dyn crate::models::Model, prepared: &Prepared) -> Result<Self> {
        let mut others = Vec::new();
        let mut gradient = None;
        let class_counts = crate::data::transforms::train_class_counts(prepared);
        let (n_train, groups) = (prepared.train.len(), prepared.groups.as_ref());
        for r in &spec.regularizers {
            let start = RegStart { model, seed: spec.seed, class_counts: class_counts.clone(), epochs: spec.train.epochs, n_train, groups };
            let active = r.spec.start(&start)?;
            let entry = (r.label.clone(), active, (0.0, 0));
            if r.info.kind == Kind::Gradient {
                gradient = Some(entry);
            } else {
                others.push(entry);
            }
        }
        Ok(Regularizers { others, gradient })
    }

    /// The step's mixed batch, if a regularizer mixes inputs.
    pub(super) fn mix(&mut self, x: &Tensor, seed: u64, step: usize) -> Result<Option<Mix>> {
        for (i, (_, r, _)) in self.others.iter_mut().enumerate() {
            let mut rng = Stream::new(seed, Purpose::Regularizer, reg_axis(step, i) | 0x80);
            if let Some(m) = r.mix(x, &mut rng)? {
                return Ok(Some(m));
            }
        }
        Ok(None)
    }

    /// Append `reg_<label>` train rows (mean over the epoch's steps) at `epoch`.
    pub(super) fn log(&self, epoch: usize, rows: &mut Vec<MetricRow>) {
        for (label, _, (sum, count)) in self.others.iter().chain(self.gradient.as_ref()) {
            if *count > 0 {
                rows.push(MetricRow { epoch, split: "train", metric: format!("reg_{label}"), value: sum / *count as f64 });
            }
        }
    }

    pub(super) fn reset_logs(&mut self) {
        for (_, _, log) in self.others.iter_mut().chain(self.gradient.as_mut()) {
            *log = (0.0, 0);
        }
    }
}

/// Per-example task losses: a forward-kind regularizer's (multi_sample_dropout) or the loss's.
#[allow(clippy::too_many_arguments)]
fn task_loss(
    regs: &mut [(String, Box<dyn Active>, Log)],
    model: &dyn crate::models::Model,
    x: &Tensor,
    pred: &Prediction,
    target: &Target,
    base: TaskLoss,
    seed: u64,
    step: usize,
    part_key: u64,
) -> Result<Tensor> {
    for (i, (_, r, _)) in regs.iter_mut().enumerate() {
        let mut rng = Stream::new(seed, Purpose::Regularizer, reg_axis(step, i) | 0x40 | part_key);
        if let Some(per) = r.task_loss(model, x, pred, target, base, &mut rng)? {
            return Ok(per);
        }
    }
    base(pred, target)
}

/// A step's batch: its inputs (mixed, when a regularizer mixes them), targets, the mixing
/// partner's targets, and the train rows it holds.
pub(super) struct StepBatch<'a> {
    x: Tensor,
    y: Target,
    mix: Option<(Mix, Target)>,
    rows: &'a [usize],
}

impl<'a> StepBatch<'a> {
    /// Mixing (mixup) is drawn once per step: every evaluation of the step sees one batch.
    pub(super) fn new(regs: &mut Regularizers, x: Tensor, y: Target, rows: &'a [usize], seed: u64, step: usize) -> Result<Self> {
        let mix = match regs.mix(&x, seed, step)? {
            Some(m) => {
                let y2 = y.index_select(&m.perm)?;
                Some((m, y2))
            }
            None => None,
        };
        let x = mix.as_ref().map(|(m, _)| m.x.clone()).unwrap_or(x);
        Ok(StepBatch { x, y, mix, rows })
    }
}

/// What a [`Step`] is built from.
pub(super) struct StepParts<'a> {
    pub model: &'a dyn Model,
    pub family: &'a dyn crate::families::TaskFamily,
    pub loss_fn: &'a dyn Loss,
    /// Everything the optimizer trains: the model's variables, then the loss's.
    pub vars: &'a [Var],
    /// The model's variables (what observing regularizers see).
    pub model_vars: &'a [Var],
    pub others: &'a mut [(String, Box<dyn Active>, Log)],
    pub gradient: &'a mut Option<(String, Box<dyn Active>, Log)>,
    pub dropout: &'a mut Stream,
    pub seed: u64,
    pub step: usize,
    /// 1-based.
    pub epoch: usize,
    pub grad_clip: Option<f64>,
    /// Whether a regularizer observes the step's weights and gradients.
    pub observing: bool,
    /// Which train rows keep their label (semi-supervised `labelled`); `None`: all.
    pub labelled: Option<&'a [bool]>,
    pub batch: StepBatch<'a>,
}

/// Weights and gradients, in `Model::vars` order.
type Observed = (Vec<Tensor>, Vec<Tensor>);

/// One optimizer step's objective and what it records while the optimizer evaluates it.
pub(super) struct Step<'a> {
    p: StepParts<'a>,
    evaluations: usize,
    gradient_logged: bool,
    observed: Option<Observed>,
    /// Procedures that only evaluate micro-batches: their first evaluation of each part,
    /// size-weighted, stands for the batch gradient.
    part_sum: Option<Observed>,
    parts_seen: Vec<usize>,
}

/// The weights that make the batch mean of the task loss the mean over its labelled rows:
/// `n / n_labelled` on a labelled row, 0 on an unlabelled one (all 0 when none is labelled).
fn labelled_mask(labelled: &[bool], rows: &[usize], like: &Tensor) -> Result<Tensor> {
    let marks: Vec<bool> = rows.iter().map(|&r| labelled.get(r).copied().unwrap_or(false)).collect();
    let k = marks.iter().filter(|m| **m).count();
    let scale = if k == 0 { 0.0 } else { rows.len() as f64 / k as f64 };
    let w: Vec<f64> = marks.iter().map(|&m| if m { scale } else { 0.0 }).collect();
    Ok(Tensor::from_vec(w, rows.len(), like.device())?.to_dtype(like.dtype())?)
}

/// `t`, or rows `lo..hi` of it.
fn cut(t: &Tensor, lo: usize, hi: usize, whole: bool) -> Result<Tensor> {
    Ok(if whole { t.clone() } else { t.narrow(0, lo, hi - lo)? })
}

fn cut_target(t: &Target, lo: usize, hi: usize, whole: bool) -> Result<Target> {
    Ok(if whole { t.clone() } else { t.narrow(lo, hi - lo)? })
}

fn copy_weights(vars: &[Var]) -> Result<Vec<Tensor>> {
    Ok(vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<Vec<_>>>()?)
}

impl<'a> Step<'a> {
    pub(super) fn new(p: StepParts<'a>) -> Self {
        Step { p, evaluations: 0, gradient_logged: false, observed: None, part_sum: None, parts_seen: Vec::new() }
    }

    /// Let the optimizer take the step; the loss it reports and what observers see.
    pub(super) fn run(mut self, optimizer: &mut dyn Optimizer, lr: f64) -> Result<(f64, Option<Observed>)> {
        let rows = self.p.batch.rows.len();
        let loss = optimizer.step(&mut StepObjective { eval: |part| self.full(part), rows }, lr)?;
        Ok((loss, self.observed.take().or(self.part_sum.take())))
    }

    /// The per-example loss with its penalties, reduced, and its gradients: one evaluation on
    /// the whole batch (`None`) or on micro-batch i of k.
    fn objective(&mut self, part: Option<(usize, usize)>) -> Result<Evaluation> {
        let p = &mut self.p;
        let n = p.batch.rows.len();
        let (lo, hi) = match part {
            Some((i, k)) => crate::optim::part_range(i, k, n),
            None => (0, n),
        };
        let whole = (lo, hi) == (0, n);
        // Regularizer streams differ between micro-batches (keyed by the first row), and repeat
        // for repeated evaluations of the same rows (SAM-type optimizers).
        let part_key = if whole { 0 } else { (lo as u64 + 1) << 40 };
        let (seed, step, epoch, model) = (p.seed, p.step, p.epoch, p.model);
        let x_part = cut(&p.batch.x, lo, hi, whole)?;
        let y_part = cut_target(&p.batch.y, lo, hi, whole)?;
        let (out, embedding) = model.forward_with_embedding(&x_part, Some(&mut *p.dropout))?;
        let pred = p.family.prediction(out, embedding, Some(p.batch.rows[lo..hi].to_vec()))?;
        let access = ModelAccess { model, x: &x_part };
        let loss_fn = p.loss_fn;
        let base = |pr: &Prediction, t: &Target| loss_fn.forward_with_model(pr, t, &access);
        let others = &mut *p.others;
        let mut per = task_loss(others, model, &x_part, &pred, &y_part, &base, seed, step, part_key)?;
        if let Some((m, y2)) = &p.batch.mix {
            let per2 = task_loss(others, model, &x_part, &pred, &cut_target(y2, lo, hi, whole)?, &base, seed, step, part_key)?;
            per = ((per * m.lambda)? + (per2 * (1.0 - m.lambda))?)?;
        }
        if let Some(labelled) = p.labelled {
            per = (&per * labelled_mask(labelled, &p.batch.rows[lo..hi], &per)?)?;
        }
        for (_, r, _) in others.iter_mut() {
            if let Some(w) = r.weights(&per, &y_part, &p.batch.rows[lo..hi], step, epoch - 1)? {
                per = (per * w)?;
            }
        }
        let mut loss = per.mean_all()?;
        for (_, r, _) in others.iter_mut() {
            loss = r.transform_loss(loss)?;
        }
        for (i, (_, r, _)) in others.iter_mut().enumerate() {
            let mut rng = Stream::new(seed, Purpose::Regularizer, reg_axis(step, i) | part_key);
            let mut batch = Batch { model, x: &x_part, pred: &pred, target: &y_part, step, epoch: epoch - 1, rng: &mut rng };
            if let Some(pen) = r.penalty(&mut batch)? {
                loss = (loss + (pen * r.weight())?)?;
            }
        }
        if self.evaluations == 0 {
            for (_, r, log) in others.iter_mut() {
                if let Some(v) = r.logged() {
                    log.0 += v;
                    log.1 += 1;
                }
            }
        }
        self.evaluations += 1;
        let value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        Ok(Evaluation { loss: value, grads: loss.backward()? })
    }

    /// One evaluation as the optimizer sees it: through the gradient-kind regularizer if there
    /// is one, clipped, and recorded for observers.
    fn full(&mut self, part: Option<(usize, usize)>) -> Result<Evaluation> {
        let mut e = match self.p.gradient.take() {
            Some(mut g) => {
                let vars = self.p.vars;
                let got = g.1.gradient(&mut || self.objective(part), vars);
                // Logged once per step, like the other regularizers' values.
                if matches!(got, Ok(Some(_))) && !self.gradient_logged {
                    if let Some(v) = g.1.logged() {
                        g.2 .0 += v;
                        g.2 .1 += 1;
                    }
                    self.gradient_logged = true;
                }
                *self.p.gradient = Some(g);
                got?.ok_or_else(|| Error::runtime("gradient regularizer without a gradient"))?
            }
            None => self.objective(part)?,
        };
        if let Some(max_norm) = self.p.grad_clip {
            clip_grad_norm(self.p.vars, &mut e.grads, max_norm)?;
        }
        if self.p.observing && self.observed.is_none() {
            self.observe(part, &e)?;
        }
        Ok(e)
    }

    /// Keep the weights and gradients of the whole-batch evaluation, or the size-weighted sum of
    /// each micro-batch's first evaluation.
    fn observe(&mut self, part: Option<(usize, usize)>, e: &Evaluation) -> Result<()> {
        let vars = self.p.model_vars;
        match part {
            None => self.observed = Some((copy_weights(vars)?, crate::optim::grads_of(vars, &e.grads)?)),
            Some((i, k)) if !self.parts_seen.contains(&i) => {
                self.parts_seen.push(i);
                let n_rows = self.p.batch.rows.len();
                let (lo, hi) = crate::optim::part_range(i, k, n_rows);
                let share = (hi - lo) as f64 / n_rows as f64;
                let g = crate::optim::grads_of(vars, &e.grads)?;
                self.part_sum = Some(match self.part_sum.take() {
                    None => (copy_weights(vars)?, g.iter().map(|t| t * share).collect::<candle_core::Result<Vec<_>>>()?),
                    Some((w, sum)) => (w, sum.iter().zip(&g).map(|(a, b)| a + (b * share)?).collect::<candle_core::Result<Vec<_>>>()?),
                });
            }
            Some(_) => {}
        }
        Ok(())
    }
}
