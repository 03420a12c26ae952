//! The contract between data, models, losses and metrics.
//!
//! A dataset fixes the [`TaskKind`]; a model maps inputs to a [`Prediction`]; a loss maps a
//! prediction and a [`Target`] to per-example values; a metric maps host copies of both to a
//! number. Resolve checks that the loss and metrics fit the dataset's kind before any run.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a dataset asks a model to predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TaskKind {
    /// Single-label classification into `classes` classes; the model outputs `[n, classes]` logits.
    Classification { classes: usize },
    /// Real-valued targets with `outputs` columns; the model outputs `[n, outputs]`.
    Regression { outputs: usize },
    /// Multi-label classification: `labels` independent 0/1 targets per example; the model
    /// outputs `[n, labels]` logits.
    MultiLabel { labels: usize },
    /// Metric learning: rows with class ids in `0..classes`; the model embeds each row in `dim`
    /// dimensions (L2-normalised for the loss); training batches hold `per_class` rows of each
    /// of `batch / per_class` classes; evaluation retrieves among held-out classes.
    MetricLearning { classes: usize, dim: usize, per_class: usize },
    /// Learning to rank: a row is a list of `items` items (a query's documents) of `features`
    /// features each, with graded relevance per item (−1 marks padding); the model scores each
    /// item, `[n, items]`.
    Ranking { items: usize, features: usize },
    /// Recommendation from implicit feedback: a row is a (user, item) positive of `users` users
    /// and `items` items; training lists hold the positive and `negatives` sampled items, and
    /// evaluation ranks every item for each user. A ranking-family task (same losses, metrics).
    Recommendation { users: usize, items: usize, negatives: usize },
}

/// The family of a task kind, used to match losses and metrics to tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Classification,
    Regression,
    MultiLabel,
    MetricLearning,
    Ranking,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Classification => "classification",
            Family::Regression => "regression",
            Family::MultiLabel => "multi-label",
            Family::MetricLearning => "metric-learning",
            Family::Ranking => "ranking",
        })
    }
}

impl TaskKind {
    pub fn family(&self) -> Family {
        match self {
            TaskKind::Classification { .. } => Family::Classification,
            TaskKind::Regression { .. } => Family::Regression,
            TaskKind::MultiLabel { .. } => Family::MultiLabel,
            TaskKind::MetricLearning { .. } => Family::MetricLearning,
            TaskKind::Ranking { .. } | TaskKind::Recommendation { .. } => Family::Ranking,
        }
    }
    /// Classes of the task, when its targets are class ids.
    pub fn classes(&self) -> Option<usize> {
        match *self {
            TaskKind::Classification { classes } | TaskKind::MetricLearning { classes, .. } => Some(classes),
            TaskKind::Regression { .. } | TaskKind::MultiLabel { .. } | TaskKind::Ranking { .. } | TaskKind::Recommendation { .. } => None,
        }
    }

    /// Width of the model's output layer.
    pub fn output_dim(&self) -> usize {
        match *self {
            TaskKind::Classification { classes } => classes,
            TaskKind::Regression { outputs } => outputs,
            TaskKind::MultiLabel { labels } => labels,
            TaskKind::MetricLearning { dim, .. } => dim,
            TaskKind::Ranking { items, .. } => items,
            TaskKind::Recommendation { negatives, .. } => negatives + 1,
        }
    }
}

/// Targets of a batch, on the device.
#[derive(Debug, Clone)]
pub enum Target {
    /// Class ids, `u32` `[n]`.
    Classes(Tensor),
    /// Real values `[n, k]` in the model dtype (regression targets, or 0/1 multi-label targets).
    Values(Tensor),
}

impl Target {
    pub fn tensor(&self) -> &Tensor {
        match self {
            Target::Classes(t) | Target::Values(t) => t,
        }
    }

    /// The same kind of target with `f` applied to its tensor.
    pub fn map(&self, f: impl FnOnce(&Tensor) -> candle_core::Result<Tensor>) -> candle_core::Result<Target> {
        Ok(match self {
            Target::Classes(t) => Target::Classes(f(t)?),
            Target::Values(t) => Target::Values(f(t)?),
        })
    }

    /// Rows `start..start + len`.
    pub fn narrow(&self, start: usize, len: usize) -> candle_core::Result<Target> {
        self.map(|t| t.narrow(0, start, len))
    }

    /// The rows at `index` (`u32 [m]`), in that order.
    pub fn index_select(&self, index: &Tensor) -> candle_core::Result<Target> {
        self.map(|t| t.index_select(index, 0))
    }
}

/// What a model produced for a batch.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Logits `[n, c]` (classification) or predicted values `[n, k]` (regression).
    pub out: Tensor,
    /// During training: the train-split row of each example (for losses with per-example
    /// state, such as `aldr_kl`). `None` at evaluation and in `losses eval`.
    pub ids: Option<Vec<usize>>,
    /// The model's penultimate representation `[n, d]`, for losses that use embeddings
    /// (`hybrid_multilabel`'s contrastive term). In metric learning, where `out` holds the
    /// L2-normalised embeddings, the unnormalised ones (whose norms AdaFace reads).
    pub embedding: Option<Tensor>,
}

impl Prediction {
    pub fn new(out: Tensor) -> Self {
        Prediction { out, ids: None, embedding: None }
    }
}
