//! Normalized focal loss: focal loss divided by its sum over all labels.
//!
//! ```text
//! ℓ = scale·(−sg[(1 − p_y)^γ]·log p_y) / Σ_k (−sg[(1 − p_k)^γ]·log p_k)
//! ```
//! Every `(1 − p)^γ` weight is detached, as in the reference (`logpt.data.exp()`); the
//! normaliser's `log p_k` keeps its gradient. Symmetric: Σ_k ℓ(z, k) = scale. Default γ = 0.5
//! (APL's configurations; the class default is 0).
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Ma et al. 2020 (NFL); Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedFocalLoss [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "nfl",
    family: Family::Classification,
    summary: "normalized focal loss: focal loss divided by its sum over all labels",
    formula: "ℓ = scale·(−sg[(1 − p_y)^γ]·log p_y) / Σ_k (−sg[(1 − p_k)^γ]·log p_k)",
    reference: "Ma et al. 2020 (NFL); Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedFocalLoss [code]",
    params: &[
        ParamDoc { name: "gamma", meaning: "focusing parameter γ", range: "0 ≤ gamma ≤ 10", default: "0.5" },
        ParamDoc { name: "scale", meaning: "multiplier α", range: "0 ≤ scale ≤ 1e+06", default: "1" },
    ],
    props: &[Prop::NonNegative, Prop::Symmetric, Prop::DetachedFactors],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub gamma: f64,
    pub scale: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { gamma: 0.5, scale: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("gamma", self.gamma, 0.0, 10.0)?;
        check_range("scale", self.scale, 0.0, 1000000.0)?;
        Ok(())
    }
}

pub struct Nfl {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Nfl { params }), canonical))
}

impl Loss for Nfl {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "nfl")?;
        let p = &self.params;
        Ok((terms::nfl(z, y, p.gamma)? * p.scale)?)
    }
}
