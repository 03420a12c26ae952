//! Task families as plug-ins (DESIGN.md § "The next shape").
//!
//! A family owns what differs between shapes of an example: how a split sits on the device,
//! how the train split is batched for an epoch, what the loss is given from the model's forward
//! pass (the named inputs `losses eval` also takes), and how a split is evaluated into metric
//! rows. The training loop ([`crate::train`]) asks the run's family for each of these and knows
//! no family itself.
//!
//! Classification, regression, multi-label and ranking share row batching and the row-wise forward
//! pass of an evaluation ([`rows`]); they differ in their targets, inputs and metrics.

pub mod classification;
pub mod inputs;
pub mod metric_learning;
pub mod multi_label;
pub mod ranking;
pub mod recommendation;
pub mod regression;
pub mod rows;

use crate::data::transforms::Prepared;
use crate::data::Table;
use crate::error::Result;
use crate::losses::Loss;
use crate::models::Model;
use crate::recipe::RunSpec;
use crate::run::MetricRow;
use crate::task::{Family, Prediction, Target, TaskKind};
use candle_core::{DType, Device, Tensor, Var};
use std::ops::Range;

/// A split of a run's data on the device, with the host copy of its targets the family's
/// metrics read.
pub struct Split {
    pub name: &'static str,
    /// Inputs `[n, d]` in the run's dtype.
    pub x: Tensor,
    pub target: Target,
    pub host: HostLabels,
    pub len: usize,
}

/// A split's targets on host, in original units (regression standardisation undone).
pub enum HostLabels {
    Classes(Vec<u32>),
    Values(Vec<f64>),
    /// (user, item) pairs of a recommendation split.
    Interactions(Vec<(u32, u32)>),
}

/// One epoch of the train split: its rows gathered once in the order the batches take them,
/// and the batches as ranges of that order.
pub struct Epoch {
    /// Train-split row of each position.
    pub order: Vec<usize>,
    pub x: Tensor,
    pub target: Target,
    pub batches: Vec<Range<usize>>,
}

impl Epoch {
    /// Batch `b`: its inputs, targets and train rows.
    pub fn batch(&self, b: usize) -> Result<(Tensor, Target, &[usize])> {
        let r = self.batches[b].clone();
        Ok((self.x.narrow(0, r.start, r.len())?, self.target.narrow(r.start, r.len())?, &self.order[r]))
    }
}

/// What evaluating a split needs from the run.
pub struct EvalContext<'a> {
    pub spec: &'a RunSpec,
    /// Rows per forward pass.
    pub chunk: usize,
    pub loss_fn: &'a dyn Loss,
    pub model: &'a dyn Model,
    pub prepared: &'a Prepared,
}

/// Named loss inputs built from `losses eval` JSON: what the loss is given, and the float
/// inputs whose gradients are reported, with their names and shapes.
pub struct EvalInputs {
    pub pred: Prediction,
    pub target: Target,
    pub grads_of: Vec<(&'static str, Var, Vec<usize>)>,
}

/// The input names a family's losses take.
pub struct InputNames {
    pub floats: &'static [&'static str],
    pub ints: &'static [&'static str],
    /// Names with shapes, as `losses show` prints them.
    pub doc: &'static str,
}

/// One task family.
pub trait TaskFamily: Sync {
    fn family(&self) -> Family;

    /// The input names of its losses in `losses eval` (and `losses show`).
    fn input_names(&self) -> InputNames;

    /// The metrics of a task that lists none.
    fn default_metrics(&self) -> &'static [&'static str];

    /// A split on the device.
    fn split(&self, name: &'static str, table: &Table, prepared: &Prepared, dtype: DType, device: &Device) -> Result<Split>;

    /// Optimizer steps in an epoch over `n` train rows at `batch` rows per step.
    fn steps_per_epoch(&self, n: usize, batch: usize) -> usize {
        n.div_ceil(batch.max(1))
    }

    /// The train split's batches for `epoch` (1-based) of a run with `seed`.
    fn epoch(&self, train: &Split, seed: u64, epoch: usize, batch: usize) -> Result<Epoch> {
        rows::shuffled_epoch(train, seed, epoch, batch)
    }

    /// What the loss is given from the model's forward pass on a batch: its outputs, the
    /// penultimate representation and, in training, the batch's train rows.
    fn prediction(&self, out: Tensor, embedding: Option<Tensor>, ids: Option<Vec<usize>>) -> Result<Prediction> {
        Ok(Prediction { out, ids, embedding })
    }

    /// The named inputs of a `losses eval` JSON object.
    fn eval_inputs(&self, loss: &str, inputs: &serde_json::Map<String, serde_json::Value>, dtype: DType) -> Result<EvalInputs>;

    /// Why a regularizer that applies to every family does not fit this one (`None`: it fits).
    fn rejects(&self, _regularizer: &crate::regularizers::RegularizerInfo) -> Option<&'static str> {
        None
    }

    /// Append the metric rows of `split` at `epoch`.
    fn evaluate(&self, ctx: &EvalContext, split: &Split, epoch: usize, rows: &mut Vec<MetricRow>) -> Result<()>;
}

/// Every family, in [`Family`] order (with their default settings).
pub const FAMILIES: &[Family] = &[Family::Classification, Family::Regression, Family::MultiLabel, Family::MetricLearning, Family::Ranking];

/// The plug-in of `family`, with default settings (for `losses eval` and listings).
pub fn of(family: Family) -> Box<dyn TaskFamily> {
    match family {
        Family::Classification => Box::new(classification::Classification),
        Family::Regression => Box::new(regression::Regression),
        Family::MultiLabel => Box::new(multi_label::MultiLabel),
        Family::MetricLearning => Box::new(metric_learning::MetricLearning::new(4)),
        Family::Ranking => Box::new(ranking::Ranking),
    }
}

/// The plug-in of a task of `kind`, with the task's settings.
pub fn for_task(kind: TaskKind) -> Box<dyn TaskFamily> {
    match kind {
        TaskKind::MetricLearning { per_class, .. } => Box::new(metric_learning::MetricLearning::new(per_class)),
        TaskKind::Recommendation { users, items, negatives } => Box::new(recommendation::Recommendation::new(users, items, negatives)),
        other => of(other.family()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_its_plug_in() {
        for f in FAMILIES {
            assert_eq!(of(*f).family(), *f);
        }
    }
}
