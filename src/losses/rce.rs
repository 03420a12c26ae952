//! Reverse cross-entropy −Σ_k p_k log e_yk with the one-hot clamped at 1e-4.
//!
//! ```text
//! ℓ = scale·(−Σ_k clamp(p_k, 1e-7, 1)·log clamp(e_yk, 1e-4, 1)) = scale·9.2103·Σ_{k≠y} p_k
//! ```
//! Equal to `−log(1e-4)·(1 − p_y)` up to the 1e-7 floor on `p`; symmetric.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Wang et al., Symmetric Cross Entropy for Robust Learning with Noisy Labels, ICCV 2019, arXiv:1908.06112; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::ReverseCrossEntropy [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "rce",
    family: Family::Classification,
    summary: "reverse cross-entropy −Σ_k p_k log e_yk with the one-hot clamped at 1e-4",
    formula: "ℓ = scale·(−Σ_k clamp(p_k, 1e-7, 1)·log clamp(e_yk, 1e-4, 1)) = scale·9.2103·Σ_{k≠y} p_k",
    reference: "Wang et al., Symmetric Cross Entropy for Robust Learning with Noisy Labels, ICCV 2019, arXiv:1908.06112; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::ReverseCrossEntropy [code]",
    params: &[
        ParamDoc { name: "scale", meaning: "multiplier", range: "0 ≤ scale ≤ 1e+06", default: "1" },
    ],
    props: &[Prop::NonNegative, Prop::Symmetric],
    build,
};

/// The loss's parameters, shared with its family in [`super::terms`].
pub type Params = super::terms::ScaleParams;

pub struct Rce {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Rce { params }), canonical))
}

impl Loss for Rce {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "rce")?;
        let p = &self.params;
        Ok((terms::rce(z, y)? * p.scale)?)
    }
}
