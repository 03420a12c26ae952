//! Learning to rank (catalog §2.2 F8, §4.7): a row is a list — a query's documents, or a user's
//! items — with one graded relevance per item and −1 on padding items; the model scores every
//! item (`[n, L]`); the loss takes `scores` and `relevance` `[Q, L]`; the metrics rank each list
//! by its scores. A batch holds whole lists (shuffled each epoch like rows).

use super::inputs::{self, Named, Object};
use super::{rows, EvalContext, EvalInputs, HostLabels, InputNames, Split, TaskFamily};
use crate::data::transforms::Prepared;
use crate::data::Table;
use crate::error::{Error, Result};
use crate::metrics::{HostTarget, Outputs};
use crate::run::MetricRow;
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Device};

pub struct Ranking;

impl TaskFamily for Ranking {
    fn family(&self) -> Family {
        Family::Ranking
    }

    fn input_names(&self) -> InputNames {
        InputNames {
            floats: &["scores", "relevance"],
            ints: &[],
            doc: "scores [Q, L], relevance [Q, L] (graded relevance ≥ 0 per item, −1 on padding items)",
        }
    }

    fn default_metrics(&self) -> &'static [&'static str] {
        &["ndcg_at_k", "mrr"]
    }

    fn split(&self, name: &'static str, table: &Table, _prepared: &Prepared, dtype: DType, device: &Device) -> Result<Split> {
        rows::values_split(name, table, "ranking task without relevance", dtype, device)
    }

    /// Regularizers that treat a row as one example with one label: mixing, reweighting,
    /// replacing or resampling per-row losses (a list's loss couples its items, and pairwise
    /// losses normalise over the batch's pairs).
    fn rejects(&self, r: &crate::regularizers::RegularizerInfo) -> Option<&'static str> {
        use crate::regularizers::Kind;
        match (r.name, r.kind) {
            ("mixup", _) => Some("it mixes rows and their targets, while a ranking row is a list whose relevance cannot be mixed"),
            (_, Kind::Forward | Kind::Reweight | Kind::Procedure) => {
                Some("it replaces, reweights or resamples per-row losses, and a ranking loss couples the items of a list")
            }
            _ => None,
        }
    }

    fn eval_inputs(&self, loss: &str, obj: &Object, dtype: DType) -> Result<EvalInputs> {
        let names = self.input_names();
        let named = Named::new(loss, obj, names.floats, names.ints)?;
        let (s, s_shape) = named.floats("scores")?;
        let (r, r_shape) = named.floats("relevance")?;
        if s_shape.len() != 2 || s_shape != r_shape {
            return Err(Error::input(format!("`scores` {s_shape:?} and `relevance` {r_shape:?} must both be [Q, L]")));
        }
        if r.iter().any(|v| !(*v >= 0.0 || *v == -1.0)) {
            return Err(Error::input("input `relevance` must hold grades ≥ 0, or −1 on padding items"));
        }
        let var = inputs::var(s, &s_shape, dtype)?;
        let target = Target::Values(inputs::tensor(r, &r_shape, dtype)?);
        Ok(EvalInputs { pred: Prediction::new(var.as_tensor().clone()), target, grads_of: vec![("scores", var, s_shape)] })
    }

    fn evaluate(&self, ctx: &EvalContext, split: &Split, epoch: usize, rows: &mut Vec<MetricRow>) -> Result<()> {
        let (outputs, width) = rows::forward_split(ctx, self, split, epoch, rows)?;
        let HostLabels::Values(relevance) = &split.host else {
            return Err(Error::runtime("ranking split without relevance"));
        };
        let host = Outputs::new(&outputs, width, HostTarget::Values(relevance));
        rows::metric_rows(ctx, split, epoch, &host, rows);
        Ok(())
    }
}
