//! Symmetric cross-entropy α·CE + β·RCE.
//!
//! ```text
//! ℓ = α·(−log p_y) + β·RCE
//! ```
//! Defaults α = 0.1, β = 1.0: APL's CIFAR-10 configuration (the class itself has no defaults).
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Wang et al., Symmetric Cross Entropy for Robust Learning with Noisy Labels, ICCV 2019, arXiv:1908.06112; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::SCELoss [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "sce",
    family: Family::Classification,
    summary: "symmetric cross-entropy α·CE + β·RCE",
    formula: "ℓ = α·(−log p_y) + β·RCE",
    reference: "Wang et al., Symmetric Cross Entropy for Robust Learning with Noisy Labels, ICCV 2019, arXiv:1908.06112; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::SCELoss [code]",
    params: &[
        ParamDoc { name: "alpha", meaning: "weight α of cross-entropy", range: "0 ≤ alpha ≤ 1e+06", default: "0.1" },
        ParamDoc { name: "beta", meaning: "weight β of reverse cross-entropy", range: "0 ≤ beta ≤ 1e+06", default: "1" },
    ],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub alpha: f64,
    pub beta: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { alpha: 0.1, beta: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("alpha", self.alpha, 0.0, 1000000.0)?;
        check_range("beta", self.beta, 0.0, 1000000.0)?;
        Ok(())
    }
}

pub struct Sce {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Sce { params }), canonical))
}

impl Loss for Sce {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "sce")?;
        let p = &self.params;
        Ok(((terms::ce(z, y)? * p.alpha)? + (terms::rce(z, y)? * p.beta)?)?)
    }
}
