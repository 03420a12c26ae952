//! Sampled softmax loss for recommendation (the softmax loss SL of S129, InfoNCE-style): each
//! positive item against the list's negatives.
//!
//! ```text
//! per positive i of list q (r_qi > 0; negatives N_q: r_qj = 0):
//!   ℓ_qi = −s_qi/τ + log Σ_{j ∈ {i} ∪ N_q} exp(s_qj/τ)      (include_positive: true)
//!   ℓ_qi =          log Σ_{j ∈ N_q} exp((s_qj − s_qi)/τ)     (include_positive: false)
//! ℓ = mean of ℓ_qi over the batch's positives
//! ```
//! With `recsys_synth` a list is a user's positive item followed by its sampled negatives, and
//! the scores are the model's cosine (or dot) similarities. `include_positive: false` is the
//! authors' benchmark code (IR-Benchmark `optim_Softmax.py` takes the logsumexp over the
//! sampled negatives only); the default keeps the positive in the normaliser, as the catalog
//! and the paper's Eq. (2) over all items write it. Padding items and items of grade > 0 other
//! than `i` are in neither sum. A batch without a positive has loss 0.
//!
//! # Shapes
//! - scores `[Q, L]`, relevance `[Q, L]` (> 0 positive, 0 negative, −1 padding) → `[Q]`
//!
//! Reference: Wu et al. (S129), Tiny-Snow/IR-Benchmark `src/itemrec/optimizer/optim_Softmax.py`
//! [code]; catalog §4.7.

use super::ranking::{batch_normalised, count, inputs, real};
use super::{Loss, LossInfo};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "softmax_rec",
    family: Family::Ranking,
    summary: "sampled softmax loss for recommendation: each positive against the list's negatives at temperature τ",
    formula: "ℓ_i = −s_i/τ + log Σ_{j∈{i}∪N} exp(s_j/τ), mean over positives (r > 0); negatives N: r = 0",
    reference: "S129 softmax loss (SL); Tiny-Snow/IR-Benchmark optim_Softmax.py [code]",
    params: &[
        ParamDoc { name: "tau", meaning: "temperature τ of the scores", range: "0 < τ ≤ 1000", default: "1.0" },
        ParamDoc {
            name: "include_positive",
            meaning: "the positive is in the normaliser (false: negatives only, as IR-Benchmark's code)",
            range: "true | false",
            default: "true",
        },
    ],
    props: &[],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub tau: f64,
    pub include_positive: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { tau: 1.0, include_positive: true }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("tau", self.tau, 1e-6, 1000.0)
    }
}

pub struct SoftmaxRec {
    params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(SoftmaxRec { params }), canonical))
}

/// 1 on positive items (r > 0), and 1 on negative items (r = 0), `[Q, L]`.
pub(crate) fn positives_and_negatives(r: &Tensor) -> Result<(Tensor, Tensor)> {
    let pos = r.gt(0.0)?.to_dtype(r.dtype())?;
    let neg = (real(r)? - &pos)?;
    Ok((pos, neg))
}

/// `log Σ_j w_j exp(v_j)` over the last dimension for 0/1 weights `w` (at least one 1 per row
/// where the result is used); rows without one give a finite value that the caller masks.
pub(crate) fn masked_logsumexp(v: &Tensor, w: &Tensor) -> Result<Tensor> {
    let masked = super::ranking::shut_where_zero(v, w)?;
    let m = masked.max_keepdim(D::Minus1)?.detach();
    let sum = (masked.broadcast_sub(&m)?.exp()? * w)?.sum_keepdim(D::Minus1)?;
    Ok((sum.clamp(1e-30, f64::INFINITY)?.log()? + m)?.squeeze(D::Minus1)?)
}

impl Loss for SoftmaxRec {
    fn step_bytes(&self, batch: usize, items: usize, dtype_bytes: f64) -> f64 {
        super::ranking::pair_bytes(batch, items, dtype_bytes, 12.0)
    }

    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (s, r) = inputs(pred, target, "softmax_rec")?;
        let (pos, neg) = positives_and_negatives(r)?;
        let f = (s / self.params.tau)?;
        // d[q, i, j] = f_j − f_i; each positive i sums over the negatives (and itself: d = 0).
        let d = f.unsqueeze(1)?.broadcast_sub(&f.unsqueeze(2)?)?;
        let l = r.dim(1)?;
        let mut over = neg.unsqueeze(1)?.broadcast_as((r.dim(0)?, l, l))?.contiguous()?;
        if self.params.include_positive {
            let eye = Tensor::eye(l, r.dtype(), r.device())?.unsqueeze(0)?;
            over = over.broadcast_add(&eye)?;
        }
        let per_positive = (masked_logsumexp(&d, &over)? * &pos)?;
        batch_normalised(&per_positive.sum(D::Minus1)?, count(&pos)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::ranking::batch;

    #[test]
    fn one_positive_is_cross_entropy_over_the_list() {
        // Positive first, two negatives, one padding item.
        let (pred, target) = batch(&[&[0.5, 0.2, -0.4, 3.0]], &[&[1.0, 0.0, 0.0, -1.0]]);
        let per = SoftmaxRec { params: Params { tau: 0.5, include_positive: true } }.forward(&pred, &target).unwrap();
        let z = [1.0f64, 0.4, -0.8];
        let lse = z.iter().map(|v| v.exp()).sum::<f64>().ln();
        assert!((per.to_vec1::<f64>().unwrap()[0] - (lse - 1.0)).abs() < 1e-12);
        let without = SoftmaxRec { params: Params { tau: 0.5, include_positive: false } }.forward(&pred, &target).unwrap();
        let lse_neg = ((0.4f64 - 1.0).exp() + (-0.8f64 - 1.0).exp()).ln();
        assert!((without.to_vec1::<f64>().unwrap()[0] - lse_neg).abs() < 1e-12);
    }
}
