//! ApproxNDCG (Qin, Liu & Li, *A General Approximation Framework for Direct Optimization of
//! Information Retrieval Measures*, Inf. Retr. 2010), as allRank writes it.
//!
//! ```text
//! π̂_qi = 1 + Σ_{j real, j ≠ i} max(σ(α·(s_qj − s_qi)), 1e-10)     approximate rank
//! ℓ_q = −Σ_{i real} (2^{r_qi} − 1) / max(IDCG_q, 1e-10) / log2(1 + π̂_qi)
//! ```
//! IDCG is over the whole list (no truncation); a list with no relevant item has loss 0 and
//! counts in the batch mean, as in allRank.
//!
//! # Shapes
//! - scores `[Q, L]`, relevance `[Q, L]` (−1 = padding) → `[Q]`
//!
//! Reference: allegro/allRank `allrank/models/losses/approxNDCG.py::approxNDCGLoss` (α = 1,
//! eps 1e-10) [code]. allRank sorts the list by score first; the sum does not depend on the
//! order, so we leave the list as it is.

use super::ranking::{gains, ideal_dcg, inputs, pairwise_diff, real_pairs};
use super::{Loss, LossInfo};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "approx_ndcg",
    family: Family::Ranking,
    summary: "ApproxNDCG: minus NDCG with each rank replaced by a sum of sigmoids of score differences",
    formula: "π̂_i = 1 + Σ_{j≠i} σ(α(s_j − s_i));  ℓ_q = −Σ_i (2^{r_i} − 1)/IDCG_q / log2(1 + π̂_i)",
    reference: "Qin, Liu & Li, Inf. Retr. 2010; allegro/allRank losses/approxNDCG.py [code]",
    params: &[ParamDoc { name: "alpha", meaning: "sharpness α of the sigmoid", range: "0 < α ≤ 1000", default: "1.0" }],
    props: &[],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub alpha: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { alpha: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("alpha", self.alpha, 1e-9, 1000.0)
    }
}

pub struct ApproxNdcg {
    params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(ApproxNdcg { params }), canonical))
}

impl Loss for ApproxNdcg {
    fn step_bytes(&self, batch: usize, items: usize, dtype_bytes: f64) -> f64 {
        super::ranking::pair_bytes(batch, items, dtype_bytes, 12.0)
    }

    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (s, r) = inputs(pred, target, "approx_ndcg")?;
        let l = r.dim(1)?;
        // σ(α(s_j − s_i)) at (i, j).
        let beaten = candle_nn::ops::sigmoid(&(pairwise_diff(s, s)?.neg()? * self.params.alpha)?)?.clamp(1e-10, f64::INFINITY)?;
        let rank = ((beaten * real_pairs(r)?)?.sum(D::Minus1)? + 1.0)?;
        let discount = ((rank + 1.0)?.log()? / std::f64::consts::LN_2)?;
        let idcg = ideal_dcg(r, l, true)?.clamp(1e-10, f64::INFINITY)?;
        let ndcg = (gains(r, true)? / discount)?.sum(D::Minus1)?;
        Ok((ndcg / idcg)?.neg()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::ranking::batch;

    #[test]
    fn far_apart_scores_give_the_exact_ndcg() {
        // Scores 100 apart: the approximate ranks are the true ranks (2, 1, 3 for items 0, 1, 2).
        let (pred, target) = batch(&[&[100.0, 200.0, 0.0, 7.0]], &[&[2.0, 1.0, 0.0, -1.0]]);
        let per = ApproxNdcg { params: Params::default() }.forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap();
        let dcg = 1.0 / 2f64.log2() + 3.0 / 3f64.log2();
        let idcg = 3.0 / 2f64.log2() + 1.0 / 3f64.log2();
        assert!((per[0] + dcg / idcg).abs() < 1e-9, "{per:?} vs {}", -dcg / idcg);
    }
}
