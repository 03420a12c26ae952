//! Contrastive loss over all pairs of a batch, exactly pytorch-metric-learning's
//! `ContrastiveLoss` with its defaults.
//!
//! ```text
//! d_ij = ‖ê_i − ê_j‖₂ on L2-normalised embeddings (LpDistance, p = 2)
//! positive pairs (y_i = y_j, i ≠ j):  ℓ⁺_ij = relu(d_ij − m_pos)
//! negative pairs (y_i ≠ y_j):         ℓ⁻_ij = relu(m_neg − d_ij)
//! L = mean of the ℓ⁺ > 0 + mean of the ℓ⁻ > 0          (AvgNonZeroReducer each, summed)
//! per anchor i:  n·(Σ_j ℓ⁺_ij / #(ℓ⁺ > 0) + Σ_j ℓ⁻_ij / #(ℓ⁻ > 0)), whose mean is L
//! ```
//! No squares by default (Hadsell et al.'s squared hinges are `squared: true`). Ordered pairs:
//! (i, j) and (j, i) both count, as in PML's `get_all_pairs_indices`. A reduction with no
//! non-zero term contributes 0.
//!
//! # Shapes
//! - embeddings `[n, D]` (normalised by the family), labels `[n]` → `[n]` per anchor
//!
//! Reference: Hadsell, Chopra & LeCun, *Dimensionality Reduction by Learning an Invariant
//! Mapping*, CVPR 2006; pytorch-metric-learning `losses/contrastive_loss.py`,
//! `reducers/avg_non_zero_reducer.py` [code, read: v2.9.0].

use super::pairs::{avg_non_zero_per_anchor, distances, embedding_inputs, pair_masks};
use super::{Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "contrastive",
    family: Family::MetricLearning,
    summary: "all-pairs contrastive loss, pytorch-metric-learning's ContrastiveLoss defaults (no squares, mean over non-zero terms)",
    formula: "L = avg_{ℓ>0} relu(d_ij − m_pos) over positive pairs + avg_{ℓ>0} relu(m_neg − d_ij) over negative pairs, d Euclidean on normalised embeddings",
    reference: "Hadsell, Chopra & LeCun, CVPR 2006; pytorch-metric-learning ContrastiveLoss (pos_margin 0, neg_margin 1, AvgNonZeroReducer) [code]",
    params: &[
        ParamDoc { name: "pos_margin", meaning: "distance below which a positive pair costs nothing", range: "0–2", default: "0" },
        ParamDoc { name: "neg_margin", meaning: "distance above which a negative pair costs nothing", range: "0–2", default: "1" },
        ParamDoc { name: "squared", meaning: "square each hinge (Hadsell et al.'s form)", range: "true | false", default: "false" },
    ],
    props: &[Prop::NonNegative, Prop::Piecewise],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub pos_margin: f64,
    pub neg_margin: f64,
    pub squared: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { pos_margin: 0.0, neg_margin: 1.0, squared: false }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("pos_margin", self.pos_margin, 0.0, 2.0)?;
        check_range("neg_margin", self.neg_margin, 0.0, 2.0)
    }
}

pub struct Contrastive {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Contrastive { params }), canonical))
}

impl Loss for Contrastive {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (e, y) = embedding_inputs(pred, target, "contrastive")?;
        let d = distances(e)?;
        let (pos, neg) = pair_masks(y, e.dtype())?;
        let mut pos_terms = ((d.clone() - self.params.pos_margin)?.relu()? * pos)?;
        let mut neg_terms = ((self.params.neg_margin - d)?.relu()? * neg)?;
        if self.params.squared {
            pos_terms = pos_terms.sqr()?;
            neg_terms = neg_terms.sqr()?;
        }
        Ok((avg_non_zero_per_anchor(&pos_terms)? + avg_non_zero_per_anchor(&neg_terms)?)?)
    }
}
