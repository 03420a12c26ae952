//! Single-label classification: a row and its class id; the model gives logits `[n, C]`; the
//! loss takes `logits` and `labels`; evaluation reads the logits of every row, plus the derived
//! metrics when the train labels were corrupted or long-tailed (`metrics::derived`).

use super::inputs::{self, Named, Object};
use super::{rows, EvalContext, EvalInputs, HostLabels, InputNames, Split, TaskFamily};
use crate::data::transforms::Prepared;
use crate::data::{Labels, Table};
use crate::error::{Error, Result};
use crate::metrics::{HostTarget, Outputs};
use crate::run::MetricRow;
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Device};

pub struct Classification;

impl TaskFamily for Classification {
    fn family(&self) -> Family {
        Family::Classification
    }

    fn input_names(&self) -> InputNames {
        InputNames { floats: &["logits"], ints: &["labels"], doc: "logits [N, C], labels [N] (integers)" }
    }

    fn default_metrics(&self) -> &'static [&'static str] {
        &["accuracy", "nll", "ece"]
    }

    fn split(&self, name: &'static str, table: &Table, _prepared: &Prepared, dtype: DType, device: &Device) -> Result<Split> {
        let Labels::Classes(y) = &table.y else {
            return Err(Error::runtime(format!("{name} split of a classification task without class ids")));
        };
        let n = table.len();
        let target = rows::target(&table.y, n, dtype, device)?;
        Ok(Split { name, x: rows::inputs(table, dtype, device)?, target, host: HostLabels::Classes(y.clone()), len: n })
    }

    fn eval_inputs(&self, loss: &str, obj: &Object, dtype: DType) -> Result<EvalInputs> {
        let names = self.input_names();
        let named = Named::new(loss, obj, names.floats, names.ints)?;
        let (z, shape) = named.floats("logits")?;
        if shape.len() != 2 || shape[1] < 2 {
            return Err(Error::input(format!("input `logits` must be [N, C] with C ≥ 2 classes; got shape {shape:?}")));
        }
        let y = inputs::class_ids(&named, "labels", shape[0], shape[1], "C from logits")?;
        let var = inputs::var(z, &shape, dtype)?;
        let pred = Prediction::new(var.as_tensor().clone());
        Ok(EvalInputs { pred, target: Target::Classes(y), grads_of: vec![("logits", var, shape)] })
    }

    fn evaluate(&self, ctx: &EvalContext, split: &Split, epoch: usize, rows: &mut Vec<MetricRow>) -> Result<()> {
        let (outputs, width) = rows::forward_split(ctx, self, split, epoch, rows)?;
        let HostLabels::Classes(labels) = &split.host else {
            return Err(Error::runtime("classification split without class ids"));
        };
        let groups = ctx.prepared.groups.as_ref().and_then(|g| g.of(split.name));
        let host = Outputs { groups, ..Outputs::new(&outputs, width, HostTarget::Classes(labels)) };
        rows::metric_rows(ctx, split, epoch, &host, rows);
        for (name, value) in crate::metrics::derived::classification(split.name, &outputs, width, labels, ctx.prepared) {
            rows.push(MetricRow { epoch, split: split.name, metric: name.to_string(), value });
        }
        Ok(())
    }
}
