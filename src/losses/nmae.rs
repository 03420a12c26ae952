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
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub scale: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { scale: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("scale", self.scale, 0.0, 1000000.0)?;
        Ok(())
    }
}

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
