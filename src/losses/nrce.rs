//! Normalized reverse cross-entropy ((C − 1)/4)·RCE, as APL's code writes it.
//!
//! ```text
//! ℓ = scale·((C − 1)/4)·RCE
//! ```
//! The reference writes the normaliser `1 / 4 * (num_classes - 1)`, which Python evaluates as
//! (C − 1)/4; the catalog follows the code, so does lossbench. (The paper's normalisation would
//! divide RCE by −log(1e-4)·(C − 1) instead.) None of APL's combined losses uses NRCE.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Ma et al. 2020; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedReverseCrossEntropy [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "nrce",
    family: Family::Classification,
    summary: "normalized reverse cross-entropy ((C − 1)/4)·RCE, as APL's code writes it",
    formula: "ℓ = scale·((C − 1)/4)·RCE",
    reference: "Ma et al. 2020; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NormalizedReverseCrossEntropy [code]",
    params: &[
        ParamDoc { name: "scale", meaning: "multiplier", range: "0 ≤ scale ≤ 1e+06", default: "1" },
    ],
    props: &[Prop::NonNegative, Prop::Symmetric],
    build,
};

/// The loss's parameters, shared with its family in [`super::terms`].
pub type Params = super::terms::ScaleParams;

pub struct Nrce {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Nrce { params }), canonical))
}

impl Loss for Nrce {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "nrce")?;
        let p = &self.params;
        Ok(((terms::rce(z, y)? * ((z.dim(1)? as f64 - 1.0) / 4.0))? * p.scale)?)
    }
}
