//! Poly-1 focal loss, softmax form.
//!
//! ```text
//! ℓ(z, y) = −(1 − p_y)^γ·log p_y + ε·(1 − p_y)^{γ+1},   p = softmax(z)
//! ```
//! This is the Poly-1 expansion of the multi-class (softmax) focal loss: the leading term of
//! focal loss's polynomial series in `(1 − p_y)` is `(1 − p_y)^{γ+1}`. ε = 0 gives `focal`.
//!
//! Convention: the paper's `poly1_focal_loss` snippet and abhuse/polyloss-pytorch use the
//! **sigmoid** (per-class binary) focal loss with α = 0.25, averaged over all N·C entries. That
//! form belongs to multi-label/detection heads; lossbench's classification tasks use softmax,
//! so this entry is the softmax variant (our choice, stated here and in `losses show`).
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Leng et al., *PolyLoss*, ICLR 2022, arXiv:2204.12511 (S026) [paper-text; softmax
//! variant is ours].

use super::{classification_inputs, log_p_y, log_softmax, one_minus_p_y, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "poly1_focal",
    family: Family::Classification,
    summary: "Poly-1 focal (softmax form): focal + ε·(1 − p_y)^(γ+1)",
    formula: "ℓ = −(1 − p_y)^γ·log p_y + ε·(1 − p_y)^(γ+1),  p = softmax(z)",
    reference: "Leng et al., PolyLoss, ICLR 2022, arXiv:2204.12511 (S026); the paper's snippet is the sigmoid form — this is the softmax variant [our choice]",
    params: &[
        ParamDoc { name: "epsilon", meaning: "coefficient ε of (1 − p_y)^(γ+1) (0 = focal)", range: "−1 ≤ ε ≤ 100", default: "1.0" },
        ParamDoc { name: "gamma", meaning: "focusing parameter γ", range: "0 ≤ γ ≤ 10", default: "2.0" },
    ],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub epsilon: f64,
    pub gamma: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { epsilon: 1.0, gamma: 2.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("epsilon", self.epsilon, -1.0, 100.0)?;
        check_range("gamma", self.gamma, 0.0, 10.0)
    }
}

pub struct Poly1Focal {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Poly1Focal { params }), canonical))
}

impl Loss for Poly1Focal {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "poly1_focal")?;
        let log_p = log_softmax(z)?;
        let nll = log_p_y(&log_p, y)?.neg()?;
        // Clamped below as in `focal`, so the power's derivative stays finite when 1 − p_y underflows.
        let q = one_minus_p_y(&log_p.exp()?, y)?.clamp(1e-30, 1.0)?;
        let g = self.params.gamma;
        let focal = if g == 0.0 { nll } else { (q.powf(g)? * nll)? };
        Ok((focal + (q.powf(g + 1.0)? * self.params.epsilon)?)?)
    }
}
