//! Normalized cross-entropy (−log p_y)/(−Σ_k log p_k).
//!
//! ```text
//! ℓ = scale·log p_y / Σ_k log p_k
//! ```
//! The normaliser is not detached (as in the reference). Symmetric: Σ_k ℓ(z, k) = scale.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Ma et al. 2020 (NCE); Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedCrossEntropy [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "nce",
    family: Family::Classification,
    summary: "normalized cross-entropy (−log p_y)/(−Σ_k log p_k)",
    formula: "ℓ = scale·log p_y / Σ_k log p_k",
    reference: "Ma et al. 2020 (NCE); Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedCrossEntropy [code]",
    params: &[
        ParamDoc { name: "scale", meaning: "multiplier α", range: "0 ≤ scale ≤ 1e+06", default: "1" },
    ],
    props: &[Prop::NonNegative, Prop::Symmetric],
    build,
};

/// The loss's parameters, shared with its family in [`super::terms`].
pub type Params = super::terms::ScaleParams;

pub struct Nce {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Nce { params }), canonical))
}

impl Loss for Nce {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "nce")?;
        let p = &self.params;
        Ok((terms::nce(z, y)? * p.scale)?)
    }
}
