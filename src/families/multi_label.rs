//! Multi-label classification: a row and its 0/1 targets `[k]`; the model gives logits
//! `[n, k]`; the loss takes `logits` and `targets` (and, optionally, the model's `embeddings`
//! for losses with a representation term); metrics read the logits of every row.

use super::inputs::{self, Named, Object};
use super::{rows, EvalContext, EvalInputs, HostLabels, InputNames, Split, TaskFamily};
use crate::data::transforms::Prepared;
use crate::data::Table;
use crate::error::{Error, Result};
use crate::metrics::{HostTarget, Outputs};
use crate::run::MetricRow;
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Device};

pub struct MultiLabel;

impl TaskFamily for MultiLabel {
    fn family(&self) -> Family {
        Family::MultiLabel
    }

    fn input_names(&self) -> InputNames {
        InputNames {
            floats: &["logits", "targets", "embeddings"],
            ints: &[],
            doc: "logits [N, K], targets [N, K] (0/1), embeddings [N, D] (optional)",
        }
    }

    fn default_metrics(&self) -> &'static [&'static str] {
        &["macro_auc", "micro_f1", "hamming_loss"]
    }

    fn split(&self, name: &'static str, table: &Table, _prepared: &Prepared, dtype: DType, device: &Device) -> Result<Split> {
        rows::values_split(name, table, "multi-label task without 0/1 targets", dtype, device)
    }

    fn eval_inputs(&self, loss: &str, obj: &Object, dtype: DType) -> Result<EvalInputs> {
        let names = self.input_names();
        let named = Named::new(loss, obj, names.floats, names.ints)?;
        let (z, z_shape) = named.floats("logits")?;
        let (t, t_shape) = named.floats("targets")?;
        if z_shape.len() != 2 || z_shape != t_shape {
            return Err(Error::input(format!("`logits` {z_shape:?} and `targets` {t_shape:?} must both be [N, K]")));
        }
        if t.iter().any(|v| *v != 0.0 && *v != 1.0) {
            return Err(Error::input("input `targets` must hold 0 or 1"));
        }
        let var = inputs::var(z, &z_shape, dtype)?;
        let mut pred = Prediction::new(var.as_tensor().clone());
        let mut grads_of = vec![("logits", var, z_shape.clone())];
        // Optional: the model's embeddings, for losses with a representation term.
        if obj.contains_key("embeddings") {
            let (e, e_shape) = named.floats("embeddings")?;
            if e_shape.len() != 2 || e_shape[0] != z_shape[0] {
                return Err(Error::input(format!("input `embeddings` must be [N, D] with N = {}; got {e_shape:?}", z_shape[0])));
            }
            let e = inputs::var(e, &e_shape, dtype)?;
            pred.embedding = Some(e.as_tensor().clone());
            grads_of.push(("embeddings", e, e_shape));
        }
        let target = Target::Values(inputs::tensor(t, &t_shape, dtype)?);
        Ok(EvalInputs { pred, target, grads_of })
    }

    fn evaluate(&self, ctx: &EvalContext, split: &Split, epoch: usize, rows: &mut Vec<MetricRow>) -> Result<()> {
        let (outputs, width) = rows::forward_split(ctx, self, split, epoch, rows)?;
        let HostLabels::Values(values) = &split.host else {
            return Err(Error::runtime("multi-label split without 0/1 targets"));
        };
        let host = Outputs::new(&outputs, width, HostTarget::Values(values));
        rows::metric_rows(ctx, split, epoch, &host, rows);
        Ok(())
    }
}
