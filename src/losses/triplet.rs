//! Triplet margin loss over all valid triplets of a batch, exactly pytorch-metric-learning's
//! `TripletMarginLoss` with its defaults.
//!
//! ```text
//! d = Euclidean distance on L2-normalised embeddings (LpDistance, p = 2)
//! every (a, p, n) with y_a = y_p, a ≠ p, y_n ≠ y_a:   ℓ_apn = relu(d_ap − d_an + m)
//! L = mean of the ℓ_apn > 0                                (AvgNonZeroReducer; 0 if none)
//! per anchor a:  n · Σ_{p,n} ℓ_apn / #(ℓ > 0), whose mean is L
//! ```
//!
//! # Shapes
//! - embeddings `[n, D]` (normalised by the family), labels `[n]` → `[n]` per anchor; the
//!   triplets take `n³` values of memory.
//!
//! Reference: Weinberger & Saul, *Distance Metric Learning for Large Margin Nearest Neighbor
//! Classification*, JMLR 2009; Schroff et al., *FaceNet*, CVPR 2015; pytorch-metric-learning
//! `losses/triplet_margin_loss.py` (margin 0.05, triplets_per_anchor "all") [code, read: v2.9.0].

use super::pairs::{avg_non_zero_per_anchor, distances, embedding_inputs, pair_masks};
use super::{Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "triplet",
    family: Family::MetricLearning,
    summary: "triplet margin loss over all valid triplets, pytorch-metric-learning's TripletMarginLoss defaults",
    formula: "L = avg_{ℓ>0} relu(d(a,p) − d(a,n) + m) over all (a, p, n) with y_a = y_p ≠ y_n, a ≠ p",
    reference: "Weinberger & Saul, JMLR 2009; Schroff et al., CVPR 2015; pytorch-metric-learning TripletMarginLoss (margin 0.05, all triplets, AvgNonZeroReducer) [code]",
    params: &[ParamDoc { name: "margin", meaning: "required gap d(a,n) − d(a,p)", range: "0–4", default: "0.05" }],
    props: &[Prop::NonNegative, Prop::Piecewise, Prop::CubicInBatch],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub margin: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { margin: 0.05 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("margin", self.margin, 0.0, 4.0)
    }
}

pub struct Triplet {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Triplet { params }), canonical))
}

impl Loss for Triplet {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (e, y) = embedding_inputs(pred, target, "triplet")?;
        let n = e.dim(0)?;
        let d = distances(e)?;
        let (pos, neg) = pair_masks(y, e.dtype())?;
        // [a, p, n] = d_ap − d_an + m, kept where (a, p) is positive and (a, n) negative.
        let violation = (d.unsqueeze(2)?.broadcast_sub(&d.unsqueeze(1)?)? + self.params.margin)?;
        let valid = pos.unsqueeze(2)?.broadcast_mul(&neg.unsqueeze(1)?)?;
        let terms = (violation.relu()? * valid)?;
        debug_assert_eq!(terms.dims(), &[n, n, n]);
        avg_non_zero_per_anchor(&terms)
    }
}
