//! Bayesian personalised ranking (Rendle et al., *BPR: Bayesian Personalized Ranking from
//! Implicit Feedback*, UAI 2009): the logistic loss of a positive's score margin over a
//! negative's, mean over the batch's (positive, negative) pairs.
//!
//! ```text
//! ℓ = mean over pairs (i, j) of a list, r_i > 0 = r_j:  softplus(s_j − s_i)
//! ```
//! IR-Benchmark samples one negative per positive; with several negatives in a list every pair
//! counts once. A batch without a pair has loss 0.
//!
//! # Shapes
//! - scores `[Q, L]`, relevance `[Q, L]` (> 0 positive, 0 negative, −1 padding) → `[Q]`
//!
//! Reference: Rendle et al. 2009; Tiny-Snow/IR-Benchmark `src/itemrec/optimizer/optim_BPR.py`
//! (`F.softplus(neg − pos).mean()`) [code].

use super::ranking::{batch_normalised, count, inputs, pairwise_diff, sum_pairs};
use super::softmax_rec::positives_and_negatives;
use super::{softplus, Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "bpr",
    family: Family::Ranking,
    summary: "BPR: softplus of each negative's score minus each positive's, mean over the batch's pairs",
    formula: "ℓ = mean_{r_i > 0 = r_j} softplus(s_j − s_i)",
    reference: "Rendle et al., UAI 2009; Tiny-Snow/IR-Benchmark optim_BPR.py [code]",
    params: &[],
    props: &[Prop::NonNegative, Prop::Convex],
    build,
};

pub struct Bpr;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(Bpr), canonical))
}

impl Loss for Bpr {
    fn step_bytes(&self, batch: usize, items: usize, dtype_bytes: f64) -> f64 {
        super::ranking::pair_bytes(batch, items, dtype_bytes, 10.0)
    }

    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (s, r) = inputs(pred, target, "bpr")?;
        let (pos, neg) = positives_and_negatives(r)?;
        let pairs = pos.unsqueeze(2)?.broadcast_mul(&neg.unsqueeze(1)?)?;
        let terms = (softplus(&pairwise_diff(s, s)?.neg()?)? * &pairs)?;
        batch_normalised(&sum_pairs(&terms)?, count(&pairs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::ranking::batch;

    #[test]
    fn mean_over_pairs() {
        let (pred, target) = batch(&[&[1.0, 0.0, 2.0], &[0.0, 0.0, 0.0]], &[&[1.0, 0.0, 0.0], &[0.0, 0.0, -1.0]]);
        let per = Bpr.forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap();
        let sp = |x: f64| (1.0 + x.exp()).ln();
        let expected = (sp(-1.0) + sp(1.0)) / 2.0;
        assert!(((per[0] + per[1]) / 2.0 - expected).abs() < 1e-12, "{per:?}");
    }
}
