//! Metric learning (catalog §2.2 F7, §7.7): a row and its class; the model embeds each row and
//! the loss sees the L2-normalised embeddings (`embeddings`) with the class ids (`labels`); a
//! training batch holds `per_class` rows of each of `batch / per_class` classes drawn for the
//! step (a P×K sampler, as pytorch-metric-learning's `MPerClassSampler`); evaluation retrieves
//! among the rows of a split, whose classes the train split need not contain (`digits_dml`
//! tests on classes the model never saw).

use super::inputs::{self, Named, Object};
use super::{rows, Epoch, EvalContext, EvalInputs, HostLabels, InputNames, Split, TaskFamily};
use crate::data::transforms::Prepared;
use crate::data::{rows_by_class, Table};
use crate::error::{Error, Result};
use crate::metrics::{HostTarget, Outputs, Reference};
use crate::rng::{Purpose, Stream};
use crate::run::MetricRow;
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Device, Tensor, D};
use std::sync::Mutex;

pub struct MetricLearning {
    /// Rows of each class in a training batch (K of P×K).
    pub per_class: usize,
    /// The normalised train-split embeddings and their classes at the latest evaluation
    /// (splits are evaluated train first), the reference of `utilization` and `linear_probe`
    /// on the other splits.
    train_embeddings: Mutex<(Vec<f64>, Vec<u32>)>,
}

/// Row norms `[n, 1]`, at least 1e-12. The squared norm is clamped before the square root, so
/// a zero row gets a zero gradient, not NaN.
pub fn row_norms(x: &Tensor) -> Result<Tensor> {
    Ok(x.sqr()?.sum_keepdim(D::Minus1)?.clamp(1e-24, f64::INFINITY)?.sqrt()?)
}

/// Rows divided by their L2 norm (at least 1e-12), as `torch.nn.functional.normalize`.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    Ok(x.broadcast_div(&row_norms(x)?)?)
}

/// Row-wise L2 normalisation on host, `[n, width]` row-major.
pub fn l2_normalize_host(values: &mut [f64], width: usize) {
    for row in values.chunks_mut(width.max(1)) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= norm);
    }
}

/// `k` of `rows` drawn without replacement (with replacement when there are fewer than `k`).
fn draw(rows: &[usize], k: usize, rng: &mut Stream) -> Vec<usize> {
    if rows.len() >= k {
        rng.choose(rows, k)
    } else {
        (0..k).map(|_| rows[rng.below(rows.len() as u64) as usize]).collect()
    }
}

impl MetricLearning {
    pub fn new(per_class: usize) -> Self {
        MetricLearning { per_class, train_embeddings: Mutex::new((Vec::new(), Vec::new())) }
    }

    /// P of P×K: the classes of a batch of `batch` rows, at most the train split's classes.
    fn classes_per_batch(&self, batch: usize, classes: usize) -> usize {
        (batch / self.per_class.max(1)).clamp(1, classes.max(1))
    }
}

impl TaskFamily for MetricLearning {
    fn family(&self) -> Family {
        Family::MetricLearning
    }

    fn input_names(&self) -> InputNames {
        InputNames {
            floats: &["embeddings"],
            ints: &["labels"],
            doc: "embeddings [N, D] (L2-normalised before the loss, as in training; the episode losses and AdaFace's norms read them unnormalised), labels [N] (integers)",
        }
    }

    fn default_metrics(&self) -> &'static [&'static str] {
        &["recall_at_k", "map_at_r", "nmi"]
    }

    /// Rows with class ids, as classification holds them.
    fn split(&self, name: &'static str, table: &Table, prepared: &Prepared, dtype: DType, device: &Device) -> Result<Split> {
        super::classification::Classification.split(name, table, prepared, dtype, device)
    }

    fn steps_per_epoch(&self, n: usize, batch: usize) -> usize {
        (n / batch.max(1)).max(1)
    }

    /// Each step draws P distinct classes of the train split and K rows of each (without
    /// replacement within a class when it has K rows), from the epoch's `Shuffle` stream; an
    /// epoch has ⌊n / batch⌋ steps (at least one), like `MPerClassSampler`'s length.
    fn epoch(&self, train: &Split, seed: u64, epoch: usize, batch: usize) -> Result<Epoch> {
        let HostLabels::Classes(labels) = &train.host else {
            return Err(Error::runtime("metric-learning train split without class ids"));
        };
        let by_class = rows_by_class(labels);
        let p = self.classes_per_batch(batch, by_class.len());
        let mut rng = Stream::new(seed, Purpose::Shuffle, epoch as u64);
        let mut order = Vec::new();
        let mut batches = Vec::new();
        for _ in 0..self.steps_per_epoch(train.len, batch) {
            let start = order.len();
            for c in draw(&(0..by_class.len()).collect::<Vec<_>>(), p, &mut rng) {
                order.extend(draw(&by_class[c], self.per_class, &mut rng));
            }
            batches.push(start..order.len());
        }
        let index = Tensor::from_vec(order.iter().map(|&i| i as u32).collect::<Vec<u32>>(), order.len(), train.x.device())?;
        Ok(Epoch { x: train.x.index_select(&index, 0)?, target: train.target.index_select(&index)?, order, batches })
    }

    /// Regularizers that work per row of a batch of independent rows: mixing rows and their
    /// targets, replacing or reweighting per-row losses, retraining on duplicated rows.
    fn rejects(&self, r: &crate::regularizers::RegularizerInfo) -> Option<&'static str> {
        use crate::regularizers::Kind;
        match (r.name, r.kind) {
            ("mixup", _) => Some("it mixes rows and their targets, while a metric-learning loss compares the rows of a batch"),
            (_, Kind::Forward | Kind::Reweight | Kind::Procedure) => {
                Some("it replaces, reweights or resamples per-row losses, and a metric-learning loss is a function of the whole batch")
            }
            _ => None,
        }
    }

    fn prediction(&self, out: Tensor, _embedding: Option<Tensor>, ids: Option<Vec<usize>>) -> Result<Prediction> {
        Ok(Prediction { out: l2_normalize(&out)?, ids, embedding: Some(out) })
    }

    fn eval_inputs(&self, loss: &str, obj: &Object, dtype: DType) -> Result<EvalInputs> {
        let names = self.input_names();
        let named = Named::new(loss, obj, names.floats, names.ints)?;
        let (e, shape) = named.floats("embeddings")?;
        if shape.len() != 2 {
            return Err(Error::input(format!("input `embeddings` must be [N, D]; got shape {shape:?}")));
        }
        let y = inputs::class_ids(&named, "labels", shape[0], u32::MAX as usize, "class ids")?;
        let var = inputs::var(e, &shape, dtype)?;
        let pred = self.prediction(var.as_tensor().clone(), None, None)?;
        Ok(EvalInputs { pred, target: Target::Classes(y), grads_of: vec![("embeddings", var, shape)] })
    }

    /// The loss over batches of the split's rows taken class by class in turn (so each batch
    /// holds several classes), then the task's metrics on the normalised embeddings of all rows.
    fn evaluate(&self, ctx: &EvalContext, split: &Split, epoch: usize, rows: &mut Vec<MetricRow>) -> Result<()> {
        let HostLabels::Classes(labels) = &split.host else {
            return Err(Error::runtime("metric-learning split without class ids"));
        };
        let interleaved = interleave(&rows_by_class(labels));
        let index = Tensor::from_vec(interleaved.iter().map(|&i| i as u32).collect::<Vec<u32>>(), split.len, split.x.device())?;
        let mixed_labels: Vec<u32> = interleaved.iter().map(|&i| labels[i]).collect();
        let mixed = Split {
            name: split.name,
            x: split.x.index_select(&index, 0)?,
            target: split.target.index_select(&index)?,
            host: HostLabels::Classes(mixed_labels.clone()),
            len: split.len,
        };
        let (raw, width) = rows::forward_split(ctx, self, &mixed, epoch, rows)?;
        let mut outputs = raw.clone();
        l2_normalize_host(&mut outputs, width);
        let mut train = self.train_embeddings.lock().map_err(|_| Error::runtime("poisoned train-embedding lock"))?;
        if split.name == "train" {
            // The train split is its own reference; keep its embeddings for the other splits.
            let host = Outputs { raw: Some(&raw), ..Outputs::new(&outputs, width, HostTarget::Classes(&mixed_labels)) };
            rows::metric_rows(ctx, split, epoch, &host, rows);
            *train = (outputs, mixed_labels);
            return Ok(());
        }
        // Empty (no train evaluation yet) makes `utilization` NaN rather than self-referential.
        let reference = Some(Reference { out: &train.0, classes: &train.1 });
        let host = Outputs { reference, raw: Some(&raw), ..Outputs::new(&outputs, width, HostTarget::Classes(&mixed_labels)) };
        rows::metric_rows(ctx, split, epoch, &host, rows);
        Ok(())
    }
}

/// Rows taken one from each class in turn.
fn interleave(by_class: &[Vec<usize>]) -> Vec<usize> {
    let longest = by_class.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest).flat_map(|i| by_class.iter().filter_map(move |rows| rows.get(i).copied())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(labels: Vec<u32>) -> Split {
        let n = labels.len();
        let x = Tensor::from_vec((0..n).map(|i| i as f32).collect::<Vec<_>>(), (n, 1), &Device::Cpu).unwrap();
        let target = Target::Classes(Tensor::from_vec(labels.clone(), n, &Device::Cpu).unwrap());
        Split { name: "train", x, target, host: HostLabels::Classes(labels), len: n }
    }

    #[test]
    fn batches_hold_p_classes_of_k_rows_each() {
        // 5 classes of 6 rows, one class of 2 rows (drawn with replacement when picked).
        let labels: Vec<u32> = (0..32).map(|i| if i < 30 { (i % 5) as u32 } else { 7 }).collect();
        let family = MetricLearning::new(4);
        let epoch = family.epoch(&split(labels.clone()), 3, 1, 12).unwrap();
        assert_eq!(epoch.batches.len(), 32 / 12);
        for b in 0..epoch.batches.len() {
            let (x, y, rows) = epoch.batch(b).unwrap();
            assert_eq!(rows.len(), 12);
            let ids = y.tensor().to_vec1::<u32>().unwrap();
            let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (k, (&row, &c)) in rows.iter().zip(&ids).enumerate() {
                assert_eq!(labels[row], c, "targets follow the rows");
                assert_eq!(xs[k], row as f32, "inputs follow the rows");
            }
            let mut classes: Vec<u32> = ids.chunks(4).map(|g| g[0]).collect();
            assert!(ids.chunks(4).all(|g| g.iter().all(|c| *c == g[0])), "K rows of one class together: {ids:?}");
            classes.sort();
            classes.dedup();
            assert_eq!(classes.len(), 3, "P distinct classes: {ids:?}");
            for g in rows.chunks(4).filter(|g| labels[g[0]] != 7) {
                let mut distinct = g.to_vec();
                distinct.sort();
                distinct.dedup();
                assert_eq!(distinct.len(), 4, "no row twice when the class has K rows");
            }
        }
        // Same seed and epoch, same batches; another epoch, others.
        let again = family.epoch(&split(labels.clone()), 3, 1, 12).unwrap();
        assert_eq!(again.order, epoch.order);
        assert_ne!(family.epoch(&split(labels), 3, 2, 12).unwrap().order, epoch.order);
    }

    #[test]
    fn the_loss_sees_unit_embeddings_and_the_raw_ones() {
        let out = Tensor::new(&[[3.0f64, 4.0], [0.0, 0.0]], &Device::Cpu).unwrap();
        let pred = MetricLearning::new(2).prediction(out.clone(), None, None).unwrap();
        assert_eq!(pred.out.to_vec2::<f64>().unwrap(), vec![vec![0.6, 0.8], vec![0.0, 0.0]]);
        assert_eq!(pred.embedding.unwrap().to_vec2::<f64>().unwrap(), out.to_vec2::<f64>().unwrap());
    }

    #[test]
    fn evaluation_batches_take_the_classes_in_turn() {
        assert_eq!(interleave(&[vec![0, 1, 2], vec![3], vec![4, 5]]), vec![0, 3, 4, 1, 5, 2]);
    }
}
