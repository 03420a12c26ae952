//! What the metric-learning losses share: the batch's embeddings and labels, Euclidean
//! distances between L2-normalised embeddings, the positive/negative pair masks, and the
//! reduction of pytorch-metric-learning's `AvgNonZeroReducer` attributed to anchors.

use super::host_labels;
use crate::error::{Error, Result};
use crate::task::{Prediction, Target};
use candle_core::{DType, Tensor};

/// Normalised embeddings `[n, D]` and class ids `[n]` of a metric-learning batch.
pub(crate) fn embedding_inputs<'a>(pred: &'a Prediction, target: &'a Target, loss: &str) -> Result<(&'a Tensor, &'a Tensor)> {
    match target {
        Target::Classes(y) if pred.out.rank() == 2 && y.rank() == 1 && pred.out.dim(0)? == y.dim(0)? => Ok((&pred.out, y)),
        Target::Classes(y) => {
            Err(Error::input(format!("loss `{loss}` needs embeddings [N, D] and labels [N]; got {:?} and {:?}", pred.out.dims(), y.dims())))
        }
        Target::Values(_) => Err(Error::input(format!("loss `{loss}` needs class labels, got real-valued targets"))),
    }
}

/// Euclidean distances `[n, n]` between the rows of `e`, from `‖a‖² + ‖b‖² − 2a·b` (as
/// `torch.cdist` computes them for larger inputs). Squared distances are clamped at 1e-12
/// before the square root, so coincident rows (the diagonal) get a zero gradient, not NaN.
pub(crate) fn distances(e: &Tensor) -> Result<Tensor> {
    let sq = e.sqr()?.sum_keepdim(1)?;
    let gram = e.matmul(&e.t()?)?;
    let d2 = (sq.broadcast_add(&sq.t()?)? - (gram * 2.0)?)?;
    Ok(d2.clamp(1e-12, f64::INFINITY)?.sqrt()?)
}

/// Masks `[n, n]` in `dtype`: positive pairs (same class, i ≠ j) and negative pairs.
pub(crate) fn pair_masks(y: &Tensor, dtype: DType) -> Result<(Tensor, Tensor)> {
    let labels = host_labels(y)?;
    let n = labels.len();
    let mut pos = vec![0f64; n * n];
    let mut neg = vec![0f64; n * n];
    for (i, a) in labels.iter().enumerate() {
        for (j, b) in labels.iter().enumerate() {
            if a == b && i != j {
                pos[i * n + j] = 1.0;
            } else if a != b {
                neg[i * n + j] = 1.0;
            }
        }
    }
    let dev = y.device();
    Ok((Tensor::from_vec(pos, (n, n), dev)?.to_dtype(dtype)?, Tensor::from_vec(neg, (n, n), dev)?.to_dtype(dtype)?))
}

/// `AvgNonZeroReducer` of term losses `[n, …]` whose first axis is the anchor: the sum over
/// the terms above zero divided by their count (0 when none is), as per-anchor values
/// `n · Σ_{terms of i} ℓ / count`, whose mean is the reduced loss.
pub(crate) fn avg_non_zero_per_anchor(terms: &Tensor) -> Result<Tensor> {
    let n = terms.dim(0)?;
    let count = terms.gt(0.0)?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    let flat = terms.flatten_from(1)?.sum(1)?;
    if count == 0.0 {
        return Ok((flat * 0.0)?);
    }
    Ok((flat * (n as f64 / count))?)
}
