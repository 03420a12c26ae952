//! What the row-shaped families (classification, regression, multi-label) share: an epoch of
//! seeded shuffled rows, a split's targets on the device, and the row-wise forward pass of an
//! evaluation with its `loss` row.

use super::{Epoch, EvalContext, Split};
use crate::data::Labels;
use crate::error::Result;
use crate::rng::{Purpose, Stream};
use crate::run::MetricRow;
use crate::task::Target;
use candle_core::{DType, Device, Tensor};

/// The split's inputs `[n, d]` in `dtype` on `device`.
pub fn inputs(table: &crate::data::Table, dtype: DType, device: &Device) -> Result<Tensor> {
    Ok(Tensor::from_vec(table.x.clone(), (table.len(), table.d), device)?.to_dtype(dtype)?)
}

/// The split's targets on the device: class ids `u32 [n]`, or values `[n, k]` in `dtype`.
pub fn target(labels: &Labels, n: usize, dtype: DType, device: &Device) -> Result<Target> {
    Ok(match labels {
        Labels::Classes(y) => Target::Classes(Tensor::from_vec(y.clone(), n, device)?),
        Labels::Values { data, k } => Target::Values(Tensor::from_vec(data.clone(), (n, *k), device)?.to_dtype(dtype)?),
    })
}

/// A split whose targets are real values (multi-label 0/1 targets, ranking relevance): the
/// inputs, the targets on the device and their host copy; `what` names the targets in the
/// error for a split without them.
pub fn values_split(name: &'static str, table: &crate::data::Table, what: &str, dtype: DType, device: &Device) -> Result<Split> {
    let Labels::Values { data, .. } = &table.y else {
        return Err(crate::error::Error::runtime(format!("{name} split of a {what}")));
    };
    let n = table.len();
    let host = super::HostLabels::Values(data.iter().map(|v| *v as f64).collect());
    Ok(Split { name, x: inputs(table, dtype, device)?, target: target(&table.y, n, dtype, device)?, host, len: n })
}

/// Epoch `epoch`'s seeded permutation of the train rows, gathered once, cut into consecutive
/// batches of `batch` rows (the last one shorter).
pub fn shuffled_epoch(train: &Split, seed: u64, epoch: usize, batch: usize) -> Result<Epoch> {
    let n = train.len;
    let order = Stream::new(seed, Purpose::Shuffle, epoch as u64).permutation(n);
    let all: Vec<u32> = order.iter().map(|&i| i as u32).collect();
    let all = Tensor::from_vec(all, n, train.x.device())?;
    let x = train.x.index_select(&all, 0)?;
    let target = train.target.index_select(&all)?;
    let batch = batch.max(1);
    let batches = (0..n.div_ceil(batch)).map(|b| b * batch..((b + 1) * batch).min(n)).collect();
    Ok(Epoch { order, x, target, batches })
}

/// The model's outputs on every row of `split` (row-major `[n, width]`, f64) and their width;
/// appends the split's mean `loss` row, the loss given what `family` makes of the outputs.
///
/// The loss is evaluated over slices of the training batch size: per-example losses do not
/// care, and losses that couple the examples of a batch (auc_pairwise, sovr, …) see batches
/// like those they were trained on, at the cost of training (not O(split²)).
pub fn forward_split(
    ctx: &EvalContext,
    family: &dyn super::TaskFamily,
    split: &Split,
    epoch: usize,
    rows: &mut Vec<MetricRow>,
) -> Result<(Vec<f64>, usize)> {
    let mut outputs: Vec<f64> = Vec::new();
    let mut loss_sum = 0f64;
    let mut width = 1;
    let mut start = 0;
    while start < split.len {
        let len = ctx.chunk.min(split.len - start);
        let x = split.x.narrow(0, start, len)?;
        let target = split.target.narrow(start, len)?;
        let (out, embedding) = ctx.model.forward_with_embedding(&x, None)?;
        width = out.dim(1)?;
        let mut offset = 0;
        while offset < len {
            let size = ctx.spec.train.batch_size.min(len - offset);
            let embedding = embedding.as_ref().map(|e| e.narrow(0, offset, size)).transpose()?;
            let slice = family.prediction(out.narrow(0, offset, size)?, embedding, None)?;
            let per = ctx.loss_fn.monitor(&slice, &target.narrow(offset, size)?)?;
            loss_sum += per.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
            offset += size;
        }
        outputs.extend(out.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?);
        start += len;
    }
    rows.push(MetricRow { epoch, split: split.name, metric: "loss".into(), value: loss_sum / split.len as f64 });
    Ok((outputs, width))
}

/// Append a row for each of the task's metrics on `host`.
pub fn metric_rows(ctx: &EvalContext, split: &Split, epoch: usize, host: &crate::metrics::Outputs, rows: &mut Vec<MetricRow>) {
    for m in &ctx.spec.task.metrics {
        rows.push(MetricRow { epoch, split: split.name, metric: m.name.clone(), value: m.metric.compute(host) });
    }
}
