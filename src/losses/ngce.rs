//! Normalized generalized cross-entropy (1 − p_y^q)/(C − Σ_k p_k^q).
//!
//! ```text
//! ℓ = scale·(1 − p_y^q)/(C − Σ_k p_k^q),  p = clamp(softmax(z), 1e-7, 1)
//! ```
//! Symmetric: Σ_k ℓ(z, k) = scale.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Ma et al. 2020 (NGCE); Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedGeneralizedCrossEntropy [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "ngce",
    family: Family::Classification,
    summary: "normalized generalized cross-entropy (1 − p_y^q)/(C − Σ_k p_k^q)",
    formula: "ℓ = scale·(1 − p_y^q)/(C − Σ_k p_k^q),  p = clamp(softmax(z), 1e-7, 1)",
    reference: "Ma et al. 2020 (NGCE); Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedGeneralizedCrossEntropy [code]",
    params: &[
        ParamDoc { name: "q", meaning: "exponent q", range: "0.001 ≤ q ≤ 1", default: "0.7" },
        ParamDoc { name: "scale", meaning: "multiplier α", range: "0 ≤ scale ≤ 1e+06", default: "1" },
    ],
    props: &[Prop::NonNegative, Prop::Symmetric],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub q: f64,
    pub scale: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { q: 0.7, scale: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("q", self.q, 0.001, 1.0)?;
        check_range("scale", self.scale, 0.0, 1000000.0)?;
        Ok(())
    }
}

pub struct Ngce {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Ngce { params }), canonical))
}

impl Loss for Ngce {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "ngce")?;
        let p = &self.params;
        Ok((terms::ngce(z, y, p.q)? * p.scale)?)
    }
}
