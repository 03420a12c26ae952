//! Regression: a row and its real-valued targets `[k]`, standardised for training when the
//! task says so; the model gives `[n, k]`; the loss takes `pred` and `target`; metrics are
//! computed in the original units (the standardisation undone on both sides).

use super::inputs::{self, Named, Object};
use super::{rows, EvalContext, EvalInputs, HostLabels, InputNames, Split, TaskFamily};
use crate::data::transforms::Prepared;
use crate::data::{Labels, Table};
use crate::error::{Error, Result};
use crate::metrics::{HostTarget, Outputs};
use crate::run::MetricRow;
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Device};

pub struct Regression;

/// `values` (row-major, `width` columns) in original units.
fn unscale(values: &mut [f64], width: usize, prepared: &Prepared) {
    if let Some((mean, std)) = &prepared.target_scale {
        for (i, v) in values.iter_mut().enumerate() {
            *v = *v * std[i % width] as f64 + mean[i % width] as f64;
        }
    }
}

impl TaskFamily for Regression {
    fn family(&self) -> Family {
        Family::Regression
    }

    fn input_names(&self) -> InputNames {
        InputNames { floats: &["pred", "target"], ints: &[], doc: "pred, target [N] or [N, D]" }
    }

    fn default_metrics(&self) -> &'static [&'static str] {
        &["mse", "mae", "r2"]
    }

    fn split(&self, name: &'static str, table: &Table, prepared: &Prepared, dtype: DType, device: &Device) -> Result<Split> {
        let Labels::Values { data, k } = &table.y else {
            return Err(Error::runtime(format!("{name} split of a regression task without values")));
        };
        let n = table.len();
        let mut original: Vec<f64> = data.iter().map(|v| *v as f64).collect();
        unscale(&mut original, *k, prepared);
        let target = rows::target(&table.y, n, dtype, device)?;
        Ok(Split { name, x: rows::inputs(table, dtype, device)?, target, host: HostLabels::Values(original), len: n })
    }

    fn eval_inputs(&self, loss: &str, obj: &Object, dtype: DType) -> Result<EvalInputs> {
        let names = self.input_names();
        let named = Named::new(loss, obj, names.floats, names.ints)?;
        let (p, p_shape) = named.floats("pred")?;
        let (t, t_shape) = named.floats("target")?;
        if p_shape != t_shape {
            return Err(Error::input(format!("`pred` {p_shape:?} and `target` {t_shape:?} must have the same shape")));
        }
        let var = inputs::var(p, &p_shape, dtype)?;
        let target = Target::Values(inputs::tensor(t, &t_shape, dtype)?);
        Ok(EvalInputs { pred: Prediction::new(var.as_tensor().clone()), target, grads_of: vec![("pred", var, p_shape)] })
    }

    fn evaluate(&self, ctx: &EvalContext, split: &Split, epoch: usize, rows: &mut Vec<MetricRow>) -> Result<()> {
        let (mut outputs, width) = rows::forward_split(ctx, self, split, epoch, rows)?;
        unscale(&mut outputs, width, ctx.prepared);
        let HostLabels::Values(values) = &split.host else {
            return Err(Error::runtime("regression split without values"));
        };
        let host = Outputs::new(&outputs, width, HostTarget::Values(values));
        rows::metric_rows(ctx, split, epoch, &host, rows);
        Ok(())
    }
}
