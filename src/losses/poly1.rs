//! Poly-1: cross-entropy plus one extra polynomial coefficient.
//!
//! ```text
//! ℓ(z, y) = −log p_y + ε·(1 − p_y),   p = softmax(z)
//! ```
//! ε = 0 recovers cross-entropy; the paper finds the best ε task-dependent (ε = 2 on ImageNet)
//! and requires ε ≥ −1. `1 − p_y` is computed as `Σ_{k≠y} p_k` for precision near p_y = 1.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Leng et al., *PolyLoss: A Polynomial Expansion Perspective of Classification
//! Loss Functions*, ICLR 2022, arXiv:2204.12511 (S026). Checked against the paper's appendix
//! snippet `poly1_cross_entropy` and abhuse/polyloss-pytorch `Poly1CrossEntropyLoss` (ε = 1.0);
//! PyPI `polyloss` defaults to ε = 2.0 [ref].

use super::{classification_inputs, log_p_y, log_softmax, one_minus_p_y, Loss, LossInfo};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "poly1",
    family: Family::Classification,
    summary: "Poly-1: cross-entropy + ε·(1 − p_y)",
    formula: "ℓ = −log p_y + ε·(1 − p_y),  p = softmax(z)",
    reference:
        "Leng et al., PolyLoss, ICLR 2022, arXiv:2204.12511 (S026); paper appendix poly1_cross_entropy, abhuse/polyloss-pytorch [ref]",
    params: &[ParamDoc {
        name: "epsilon",
        meaning: "coefficient ε of the first polynomial term (0 = cross-entropy)",
        range: "−1 ≤ ε ≤ 100",
        default: "1.0",
    }],
    props: &[],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub epsilon: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { epsilon: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("epsilon", self.epsilon, -1.0, 100.0)
    }
}

pub struct Poly1 {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Poly1 { params }), canonical))
}

impl Loss for Poly1 {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "poly1")?;
        let log_p = log_softmax(z)?;
        let ce = log_p_y(&log_p, y)?.neg()?;
        let q = one_minus_p_y(&log_p.exp()?, y)?;
        Ok((ce + (q * self.params.epsilon)?)?)
    }
}
