//! Normalized MAE (1 − p_y)/(2(C − 1)), as APL's code.
//!
//! ```text
//! ℓ = scale·(1 − p_y)/(2(C − 1))
//! ```
//! The reference applies 1/(2(C − 1)) to the reduced MAE `1 − p_y`. Symmetric.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Ma et al. 2020; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedMeanAbsoluteError [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "nmae",
    family: Family::Classification,
    summary: "normalized MAE (1 − p_y)/(2(C − 1)), as APL's code",
    formula: "ℓ = scale·(1 − p_y)/(2(C − 1))",
    reference: "Ma et al. 2020; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedMeanAbsoluteError [code]",
    params: &[
        ParamDoc { name: "scale", meaning: "multiplier", range: "0 ≤ scale ≤ 1e+06", default: "1" },
    ],
    props: &[Prop::NonNegative, Prop::Symmetric],
    build,
};

/// The loss's parameters, shared with its family in [`super::terms`].
pub type Params = super::terms::ScaleParams;

pub struct Nmae {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Nmae { params }), canonical))
}

impl Loss for Nmae {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "nmae")?;
        let p = &self.params;
        Ok(((terms::mae(z, y)? / (2.0 * (z.dim(1)? as f64 - 1.0)))? * p.scale)?)
    }
}
