//! StableMax cross-entropy: softmax's exponential replaced by a function that grows linearly.
//!
//! ```text
//! s(x) = x + 1 for x ≥ 0,   s(x) = 1/(1 − x) for x < 0
//! StableMax(z)_i = s(z_i) / Σ_j s(z_j),   ℓ(z, y) = −log s(z_y) + log Σ_j s(z_j)
//! ```
//! `s` is C¹ at 0 and needs no exponential, so large logits cannot drive probabilities to
//! exactly 1 (S135's "softmax collapse"). Not shift-invariant. The authors compute the loss in
//! float64 whatever the model dtype (`logits.to(torch.float64)`); `float64: true` (default)
//! does the same and returns the per-example losses in the model dtype.
//! The negative branch is evaluated at `min(x, 0)`, so that where it is not taken its
//! derivative stays finite (`1/(1 − x)` has a pole at x = 1) and contributes an exact zero.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Prieto, Barsbey, Mediano & Birdal, *Grokking at the Edge of Numerical
//! Stability*, ICLR 2025, arXiv:2501.04697 (S135); `utils.py::s, log_stablemax,
//! stablemax_cross_entropy` (EIFY fork of the authors' repo, commit db479be) [code, checked].

use super::{classification_inputs, log_p_y, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "stablemax_ce",
    family: Family::Classification,
    summary: "StableMax cross-entropy: s(x) = x + 1 (x ≥ 0), 1/(1 − x) (x < 0) in place of exp",
    formula: "ℓ = −log s(z_y) + log Σ_j s(z_j),  s(x) = x + 1 if x ≥ 0 else 1/(1 − x)",
    reference: "Prieto et al., Grokking at the Edge of Numerical Stability, ICLR 2025, arXiv:2501.04697 (S135); utils.py stablemax_cross_entropy [code]",
    params: &[ParamDoc { name: "float64", meaning: "compute the loss in float64 (the authors' choice)", range: "true | false", default: "true" }],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub float64: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { float64: true }
    }
}

impl Validate for Params {}

pub struct StablemaxCe {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(StablemaxCe { params }), canonical))
}

/// `s(x)`, elementwise.
pub fn s(x: &Tensor) -> Result<Tensor> {
    let zero = x.zeros_like()?;
    let positive = (x + 1.0)?;
    let negative = (1.0 - x.minimum(&zero)?)?.recip()?;
    Ok(x.ge(&zero)?.where_cond(&positive, &negative)?)
}

impl Loss for StablemaxCe {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "stablemax_ce")?;
        let dtype = z.dtype();
        let z = if self.params.float64 { z.to_dtype(DType::F64)? } else { z.clone() };
        let sz = s(&z)?;
        let log_total = sz.sum(D::Minus1)?.log()?;
        let loss = (log_total - log_p_y(&sz.log()?, y)?)?;
        Ok(loss.to_dtype(dtype)?)
    }
}
