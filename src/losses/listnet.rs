//! ListNet, top-one probabilities (Cao et al., *Learning to Rank: From Pairwise Approach to
//! Listwise Approach*, ICML 2007), as allRank writes it.
//!
//! ```text
//! ℓ_q = −Σ_i softmax(r_q)_i · log(softmax(s_q)_i + 1e-10)      softmax over the real items
//! ```
//! The relevance itself (not its gain) goes into the target softmax, as in allRank; padding
//! items get probability 0 on both sides. A list with no relevant item has a uniform target.
//!
//! # Shapes
//! - scores `[Q, L]`, relevance `[Q, L]` (−1 = padding) → `[Q]`
//!
//! Reference: allegro/allRank `allrank/models/losses/listNet.py::listNet` (eps 1e-10) [code].

use super::ranking::{inputs, real};
use super::{Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "listnet",
    family: Family::Ranking,
    summary: "ListNet: cross-entropy between the softmax of the relevance and the softmax of the scores, per list",
    formula: "ℓ_q = −Σ_i softmax(r_q)_i · log(softmax(s_q)_i + 1e-10), over real items",
    reference: "Cao et al., ICML 2007; allegro/allRank losses/listNet.py [code]",
    params: &[],
    props: &[Prop::NonNegative],
    build,
};

pub struct ListNet;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(ListNet), canonical))
}

/// Softmax over the real items of each list (padding gets exactly 0).
pub(crate) fn masked_softmax(v: &Tensor, real: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::softmax(&super::ranking::shut_where_zero(v, real)?, D::Minus1)?)
}

impl Loss for ListNet {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (s, r) = inputs(pred, target, "listnet")?;
        let m = real(r)?;
        let truth = masked_softmax(r, &m)?.detach();
        let log_p = (masked_softmax(s, &m)? + 1e-10)?.log()?;
        Ok((truth * log_p)?.sum(D::Minus1)?.neg()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::ranking::batch;

    #[test]
    fn by_hand() {
        let (pred, target) = batch(&[&[1.0, 0.0, 5.0]], &[&[1.0, 0.0, -1.0]]);
        let per = ListNet.forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap();
        let e = std::f64::consts::E;
        let (t, p) = ([e / (e + 1.0), 1.0 / (e + 1.0)], [e / (e + 1.0), 1.0 / (e + 1.0)]);
        let expected = -(t[0] * (p[0] + 1e-10f64).ln() + t[1] * (p[1] + 1e-10f64).ln());
        assert!((per[0] - expected).abs() < 1e-12, "{per:?} vs {expected}");
    }
}
