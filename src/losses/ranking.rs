//! What the ranking losses share (catalog §4.7): their inputs — scores `s [Q, L]` and relevance
//! `r [Q, L]`, −1 on padding items — the masks of real items and of item pairs, gains, and the
//! batch normalisations of the reference code.
//!
//! A loss returns one value per list whose batch mean is the reference's batch value: losses
//! that average over the batch's pairs or positives (allRank's RankNet, the recommendation
//! losses) give list `q` its sum times `Q / total`, and NeuralNDCG, which averages over lists
//! that have a relevant item, gives those lists `−NDCG_q · Q / count`.

use super::{Error, Prediction, Result, Target};
use candle_core::{DType, Tensor, D};

/// Scores and relevance of a ranking batch, both `[Q, L]`.
pub(crate) fn inputs<'a>(pred: &'a Prediction, target: &'a Target, loss: &str) -> Result<(&'a Tensor, &'a Tensor)> {
    match target {
        Target::Values(r) if r.rank() == 2 && pred.out.dims() == r.dims() => Ok((&pred.out, r)),
        Target::Values(r) => Err(Error::input(format!(
            "loss `{loss}` expects scores [Q, L] and relevance [Q, L]; got {:?} and {:?}",
            pred.out.dims(),
            r.dims()
        ))),
        Target::Classes(_) => Err(Error::input(format!("loss `{loss}` needs graded relevance per item, got class labels"))),
    }
}

/// 1 on real items, 0 on padding (relevance −1), `[Q, L]` in the relevance dtype.
pub(crate) fn real(r: &Tensor) -> Result<Tensor> {
    Ok(r.ge(0.0)?.to_dtype(r.dtype())?)
}

/// `v` where `keep` is non-zero, −1e30 elsewhere (exactly 0 after a softmax or an exp).
pub(crate) fn shut_where_zero(v: &Tensor, keep: &Tensor) -> Result<Tensor> {
    let shut = keep.ones_like()?.affine(-1e30, 0.0)?;
    Ok(keep.ne(0.0)?.where_cond(v, &shut)?)
}

/// Relevance with padding set to 0.
pub(crate) fn relevance_or_zero(r: &Tensor) -> Result<Tensor> {
    Ok(r.relu()?)
}

/// `2^r − 1` (powered relevance) or `r`, 0 on padding.
pub(crate) fn gains(r: &Tensor, powered: bool) -> Result<Tensor> {
    let r0 = relevance_or_zero(r)?;
    Ok(if powered { ((r0 * std::f64::consts::LN_2)?.exp()? - 1.0)? } else { r0 })
}

/// `[Q, L, L]` with entry (i, j) = `a_i − b_j`.
pub(crate) fn pairwise_diff(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(a.unsqueeze(2)?.broadcast_sub(&b.unsqueeze(1)?)?)
}

/// `[Q, L, L]`: 1 where items i and j are both real, i ≠ j.
pub(crate) fn real_pairs(r: &Tensor) -> Result<Tensor> {
    let m = real(r)?;
    let both = m.unsqueeze(2)?.broadcast_mul(&m.unsqueeze(1)?)?;
    let l = r.dim(1)?;
    let eye = Tensor::eye(l, r.dtype(), r.device())?.unsqueeze(0)?;
    Ok(both.broadcast_mul(&(1.0 - eye)?)?)
}

/// Discounts `1 / log2(i + 2)` for positions `i = 0..l`, zero from position `k` on.
pub(crate) fn discounts(l: usize, k: usize, like: &Tensor) -> Result<Tensor> {
    let d: Vec<f64> = (0..l).map(|i| if i < k { 1.0 / ((i + 2) as f64).log2() } else { 0.0 }).collect();
    Ok(Tensor::from_vec(d, l, like.device())?.to_dtype(like.dtype())?)
}

/// IDCG@k of every list `[Q]` (no gradient): its real items' gains sorted in decreasing order,
/// discounted by position; padding counts as gain 0 (allRank's `dcg(y_true, y_true, ats=[k])`).
pub(crate) fn ideal_dcg(r: &Tensor, k: usize, powered: bool) -> Result<Tensor> {
    let host = r.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let values: Vec<f64> = host
        .iter()
        .map(|list| {
            let mut g: Vec<f64> = list
                .iter()
                .map(|&v| {
                    if v < 0.0 {
                        0.0
                    } else if powered {
                        v.exp2() - 1.0
                    } else {
                        v
                    }
                })
                .collect();
            g.sort_by(|a, b| b.total_cmp(a));
            g.iter().take(k).enumerate().map(|(i, g)| g / ((i + 2) as f64).log2()).sum()
        })
        .collect();
    Ok(Tensor::from_vec(values, host.len(), r.device())?.to_dtype(r.dtype())?)
}

/// Per-list values `sums · Q / total`, whose mean is `Σ sums / total` (0 when `total` is 0).
pub(crate) fn batch_normalised(sums: &Tensor, total: f64) -> Result<Tensor> {
    let q = sums.dim(0)? as f64;
    Ok(if total > 0.0 { (sums * (q / total))? } else { sums.zeros_like()? })
}

/// Sum of a host-side count tensor.
pub(crate) fn count(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?)
}

/// Sum over the last two dimensions of `[Q, L, L]`.
pub(crate) fn sum_pairs(t: &Tensor) -> Result<Tensor> {
    Ok(t.sum(D::Minus1)?.sum(D::Minus1)?)
}

/// Item `i` of list `q` beats item `j`: both real and `r_i > r_j`, `[Q, L, L]`.
pub(crate) fn ordered_pairs(r: &Tensor) -> Result<Tensor> {
    let diff = pairwise_diff(r, r)?;
    Ok((diff.gt(0.0)?.to_dtype(r.dtype())? * real_pairs(r)?)?)
}

/// Relevance tensors for tests: rows of grades, −1 as padding.
#[cfg(test)]
pub(crate) fn batch(scores: &[&[f64]], relevance: &[&[f64]]) -> (Prediction, Target) {
    let dev = candle_core::Device::Cpu;
    let l = scores[0].len();
    let s = Tensor::from_vec(scores.concat(), (scores.len(), l), &dev).unwrap();
    let r = Tensor::from_vec(relevance.concat(), (relevance.len(), l), &dev).unwrap();
    (Prediction::new(s), Target::Values(r))
}

/// `[Q, L, L]` with entry (i, j) = `|s_i − s_j|`, subgradient 0 at ties (as PyTorch's abs).
pub(crate) fn abs_pairwise(s: &Tensor) -> Result<Tensor> {
    super::abs0(&pairwise_diff(s, s)?)
}

/// Bytes of a ranking loss's `[Q, L, L]` pair terms in autograd: about `copies` values per pair
/// (differences, masks, activations and their gradients).
pub(crate) fn pair_bytes(batch: usize, items: usize, dtype_bytes: f64, copies: f64) -> f64 {
    batch as f64 * (items as f64).powi(2) * dtype_bytes * copies
}
