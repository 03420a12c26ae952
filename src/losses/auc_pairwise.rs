//! Pairwise macro-AUC surrogate: for each label, a surrogate of 1 − AUC over (positive,
//! negative) pairs of examples in the batch.
//!
//! ```text
//! L = (1/K)·Σ_k (1/(n_k⁺·n_k⁻))·Σ_{i: y_ik=1} Σ_{j: y_jk=0} φ(z_ik − z_jk)
//! φ(u) = softplus(−u) (logistic, default)  or  max(0, 1 − u)² (squared hinge)
//! per example:  ℓ_i = (N/K)·Σ_k y_ik·Σ_{j: y_jk=0} φ(z_ik − z_jk)/(n_k⁺·n_k⁻)
//! ```
//! Each pair's loss is attributed to its positive example, so the trainer's mean equals L. A
//! label without both classes in the batch contributes nothing. The loss of one example depends
//! on the whole batch.
//!
//! # Shapes
//! - logits `[n, k]`, targets `[n, k]` in {0, 1} → `[n]`
//!
//! Reference: Wu, Li & Zhu, *Towards Understanding Generalization of Macro-AUC in Multi-label
//! Learning*, ICML 2023 (S030), the pairwise loss; GuoqiangWoodrowWu/Macro-AUC-Theory [code,
//! read; recon for the batch form].

use super::{multilabel_inputs, softplus, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "auc_pairwise",
    family: Family::MultiLabel,
    summary: "pairwise macro-AUC surrogate: φ(z_ik − z_jk) over positive/negative pairs per label (S030)",
    formula: "L = (1/K)·Σ_k (1/(n_k⁺ n_k⁻))·Σ_{i∈pos_k, j∈neg_k} φ(z_ik − z_jk)",
    reference: "Wu, Li & Zhu, Generalization of Macro-AUC in Multi-label Learning, ICML 2023 (S030) [recon: batch form]",
    params: &[ParamDoc { name: "surrogate", meaning: "pair loss φ", range: "logistic | squared_hinge", default: "logistic" }],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Surrogate {
    #[default]
    Logistic,
    SquaredHinge,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub surrogate: Surrogate,
}

impl Validate for Params {}

pub struct AucPairwise {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(AucPairwise { params }), canonical))
}

impl Loss for AucPairwise {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = multilabel_inputs(pred, target, "auc_pairwise")?;
        let (n, k) = (z.dim(0)?, z.dim(1)?);
        let y = y.detach();
        // diff[i, j, k] = z_ik − z_jk; pair weight = y_ik·(1 − y_jk)/(n_k⁺ n_k⁻).
        let diff = z.unsqueeze(1)?.broadcast_sub(&z.unsqueeze(0)?)?;
        let phi = match self.params.surrogate {
            Surrogate::Logistic => softplus(&diff.neg()?)?,
            Surrogate::SquaredHinge => (1.0 - diff)?.relu()?.sqr()?,
        };
        let n_pos = y.sum_keepdim(0)?;
        let pairs = (&n_pos * (n as f64 - &n_pos)?)?;
        let inv_pairs = pairs.gt(0.0)?.where_cond(&pairs.maximum(1.0)?.recip()?, &pairs.zeros_like()?)?;
        let pair_mask = y.unsqueeze(1)?.broadcast_mul(&(1.0 - &y)?.unsqueeze(0)?)?;
        let per_label = (phi * pair_mask)?.sum(1)?; // [n, k]: Σ_j over negatives, for positives i
        Ok((per_label.broadcast_mul(&inv_pairs)?.sum(D::Minus1)? * (n as f64 / k as f64))?)
    }
}
