//! Generalized cross-entropy (1 − p_y^q)/q.
//!
//! ```text
//! ℓ = (1 − p_y^q)/q,  p = clamp(softmax(z), 1e-7, 1)
//! ```
//! q → 0 recovers cross-entropy, q = 1 gives `mae_prob`. `p` is clamped to [1e-7, 1] as in the
//! reference (which has no `scale`).
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Zhang & Sabuncu, Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy Labels, NeurIPS 2018, arXiv:1805.07836; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::GeneralizedCrossEntropy [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "gce",
    family: Family::Classification,
    summary: "generalized cross-entropy (1 − p_y^q)/q",
    formula: "ℓ = (1 − p_y^q)/q,  p = clamp(softmax(z), 1e-7, 1)",
    reference: "Zhang & Sabuncu, Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy Labels, NeurIPS 2018, arXiv:1805.07836; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::GeneralizedCrossEntropy [code]",
    params: &[
        ParamDoc { name: "q", meaning: "exponent q (→ 0: cross-entropy, 1: MAE)", range: "0.001 ≤ q ≤ 1", default: "0.7" },
    ],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub q: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { q: 0.7 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("q", self.q, 0.001, 1.0)?;
        Ok(())
    }
}

pub struct Gce {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Gce { params }), canonical))
}

impl Loss for Gce {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "gce")?;
        let p = &self.params;
        terms::gce(z, y, p.q)
    }
}
