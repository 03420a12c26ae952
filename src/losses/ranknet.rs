//! RankNet: logistic loss on every ordered pair of a list's items (Burges et al., *Learning to
//! Rank using Gradient Descent*, ICML 2005), as allRank writes it.
//!
//! ```text
//! pairs P = {(q, i, j): r_qi > r_qj, both real}
//! ℓ = (1/|P|) · Σ_{(q,i,j)∈P} w_qij · softplus(−(s_qi − s_qj))
//! w = 1 (none) | |r_i − r_j| (diff) | |r_i² − r_j²| (diff_pow)
//! ```
//! The mean is over the batch's pairs, not per list (allRank's `BCEWithLogitsLoss(weight=w)` on
//! the selected pairs: the weights multiply, the count divides). A batch without a pair has
//! loss 0 (allRank's mean over no pairs is NaN).
//!
//! # Shapes
//! - scores `[Q, L]`, relevance `[Q, L]` (−1 = padding) → `[Q]` (batch mean = ℓ)
//!
//! Reference: allegro/allRank `allrank/models/losses/rankNet.py::rankNet` (weight_by_diff,
//! weight_by_diff_powed) [code]. `diff_pow` is allRank's |r_i² − r_j²|, not (r_i − r_j)².

use super::ranking::{batch_normalised, count, inputs, ordered_pairs, pairwise_diff, sum_pairs};
use super::{softplus, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "ranknet",
    family: Family::Ranking,
    summary: "RankNet: logistic loss on each pair of items with different relevance, mean over the batch's pairs",
    formula: "ℓ = (1/|P|)·Σ_{r_i > r_j} w_ij·softplus(−(s_i − s_j)),  w = 1 | |r_i − r_j| | |r_i² − r_j²|",
    reference: "Burges et al., ICML 2005; allegro/allRank losses/rankNet.py [code]",
    params: &[ParamDoc {
        name: "weight",
        meaning: "pair weight: none, |r_i − r_j| (diff), or |r_i² − r_j²| (diff_pow, allRank's weight_by_diff_powed)",
        range: "none | diff | diff_pow",
        default: "none",
    }],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Weight {
    #[default]
    None,
    Diff,
    DiffPow,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: Weight,
}

impl Validate for Params {}

pub struct RankNet {
    params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(RankNet { params }), canonical))
}

impl Loss for RankNet {
    fn step_bytes(&self, batch: usize, items: usize, dtype_bytes: f64) -> f64 {
        super::ranking::pair_bytes(batch, items, dtype_bytes, 12.0)
    }

    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (s, r) = inputs(pred, target, "ranknet")?;
        let pairs = ordered_pairs(r)?;
        let weighted = match self.params.weight {
            Weight::None => pairs.clone(),
            Weight::Diff => (pairwise_diff(r, r)?.abs()? * &pairs)?,
            Weight::DiffPow => (pairwise_diff(&r.sqr()?, &r.sqr()?)?.abs()? * &pairs)?,
        };
        let terms = (softplus(&pairwise_diff(s, s)?.neg()?)? * weighted)?;
        batch_normalised(&sum_pairs(&terms)?, count(&pairs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::ranking::batch;

    #[test]
    fn one_pair_by_hand_and_padding_ignored() {
        // List 1: items 0 > 1 (pair), item 2 padding. List 2: no pair (equal grades).
        let (pred, target) = batch(&[&[2.0, 0.5, 9.0], &[1.0, -1.0, 0.0]], &[&[2.0, 1.0, -1.0], &[1.0, 1.0, 1.0]]);
        let loss = RankNet { params: Params::default() };
        let per = loss.forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap();
        let expected = (1.0 + (-1.5f64).exp()).ln();
        assert!((per.iter().sum::<f64>() / 2.0 - expected).abs() < 1e-12, "{per:?}");
        let pow = RankNet { params: Params { weight: Weight::DiffPow } };
        let per = pow.forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap();
        assert!((per.iter().sum::<f64>() / 2.0 - 3.0 * expected).abs() < 1e-12, "weight |4 − 1| = 3: {per:?}");
    }
}
