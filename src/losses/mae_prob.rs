//! MAE on probabilities (APL's reduced form): 1 − p_y.
//!
//! ```text
//! ℓ = scale·(1 − p_y),  p = softmax(z)
//! ```
//! APL's `MeanAbsoluteError` returns this "reduced" form; the L1 distance to the one-hot target,
//! `‖p − e_y‖₁ = 2 − 2p_y`, is twice it. Bounded, symmetric (Σ_k ℓ(z, k) = scale·(C − 1)).
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Ghosh, Kumar & Sastry, Robust Loss Functions under Label Noise for Deep Neural Networks, AAAI 2017; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::MeanAbsoluteError [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "mae_prob",
    family: Family::Classification,
    summary: "MAE on probabilities (APL's reduced form): 1 − p_y",
    formula: "ℓ = scale·(1 − p_y),  p = softmax(z)",
    reference: "Ghosh, Kumar & Sastry, Robust Loss Functions under Label Noise for Deep Neural Networks, AAAI 2017; Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::MeanAbsoluteError [code]",
    params: &[
        ParamDoc { name: "scale", meaning: "multiplier", range: "0 ≤ scale ≤ 1e+06", default: "1" },
    ],
    props: &[Prop::NonNegative, Prop::Symmetric],
    build,
};

/// The loss's parameters, shared with its family in [`super::terms`].
pub type Params = super::terms::ScaleParams;

pub struct MaeProb {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(MaeProb { params }), canonical))
}

impl Loss for MaeProb {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "mae_prob")?;
        let p = &self.params;
        Ok((terms::mae(z, y)? * p.scale)?)
    }
}
