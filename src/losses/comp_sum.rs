//! Comp-sum losses: a one-parameter family through sum-exponential, cross-entropy, GCE and MAE.
//!
//! ```text
//! u = Σ_{k≠y} exp(z_k − z_y) = 1/p_y − 1
//! ℓ_τ = Φ^τ(u),  Φ^1(u) = log(1 + u),  Φ^τ(u) = ((1 + u)^{1−τ} − 1)/(1 − τ)  (τ ≠ 1)
//!     = (exp((1 − τ)·CE) − 1)/(1 − τ),   CE = −log p_y
//! ```
//! τ = 0: sum-exponential `u`; τ = 1: cross-entropy; τ = 1 + q ∈ (1, 2): GCE with q (without
//! GCE's probability clamp); τ = 2: `1 − p_y` (`mae_prob`). For τ < 1 the exponent is clamped at
//! 80 so that the value stays finite in f32.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Mao, Mohri & Zhong, *Cross-Entropy Loss Functions: Theoretical Analysis and
//! Applications*, ICML 2023, arXiv:2304.07288 (S005) [recon: no authors' code exists; the Φ^τ
//! definition is the one consistent with the special cases the abstract names, checked by tests].

use super::{classification_inputs, expm1, log_p_y, log_softmax, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "comp_sum",
    family: Family::Classification,
    summary: "comp-sum family Φ^τ(Σ_{k≠y} e^{z_k − z_y}): τ = 0 sum-exp, 1 CE, (1,2) GCE, 2 MAE",
    formula: "ℓ = ((1 + u)^(1−τ) − 1)/(1 − τ) (τ ≠ 1), log(1 + u) (τ = 1),  u = Σ_{k≠y} exp(z_k − z_y)",
    reference: "Mao, Mohri & Zhong, Cross-Entropy Loss Functions: Theoretical Analysis and Applications, ICML 2023, arXiv:2304.07288 (S005) [recon]",
    params: &[ParamDoc { name: "tau", meaning: "family parameter τ", range: "0 ≤ τ ≤ 10", default: "1.0" }],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub tau: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { tau: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("tau", self.tau, 0.0, 10.0)
    }
}

pub struct CompSum {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(CompSum { params }), canonical))
}

impl Loss for CompSum {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "comp_sum")?;
        let ce = log_p_y(&log_softmax(z)?, y)?.neg()?;
        let one_minus_tau = 1.0 - self.params.tau;
        if one_minus_tau.abs() < 1e-12 {
            return Ok(ce);
        }
        let exponent = (ce * one_minus_tau)?;
        let exponent = if one_minus_tau > 0.0 { exponent.minimum(80.0)? } else { exponent };
        Ok((expm1(&exponent)? / one_minus_tau)?)
    }
}
