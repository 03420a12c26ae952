//! Active–passive loss α·NFL + β·MAE.
//!
//! ```text
//! ℓ = α·nfl + β·mae_prob
//! ```
//! An Active–Passive Loss: a normalized (active) term plus a passive, bounded term, both
//! robust under symmetric noise. Defaults α = β = 1 (APL's CIFAR-10 configuration; MNIST uses
//! α = 1, β = 10 and CIFAR-100 α = 10, β = 0.1 for NCE+RCE). Symmetric.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NFLandMAE [code].

use super::{classification_inputs, terms, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, ParamDoc};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "nfl_mae",
    family: Family::Classification,
    summary: "active–passive loss α·NFL + β·MAE",
    formula: "ℓ = α·nfl + β·mae_prob",
    reference: "Ma et al., Normalized Loss Functions for Deep Learning with Noisy Labels, ICML 2020, arXiv:2006.13554; HanxunH/Active-Passive-Losses loss.py::NFLandMAE [code]",
    params: &[
        ParamDoc { name: "alpha", meaning: "weight α of the active term", range: "0 ≤ alpha ≤ 1e+06", default: "1" },
        ParamDoc { name: "beta", meaning: "weight β of the passive term", range: "0 ≤ beta ≤ 1e+06", default: "1" },
        ParamDoc { name: "gamma", meaning: "focusing parameter γ of NFL", range: "0 ≤ gamma ≤ 10", default: "0.5" },
    ],
    props: &[Prop::NonNegative, Prop::Symmetric, Prop::DetachedFactors],
    build,
};

/// The loss's parameters, shared with its family in [`super::terms`].
pub type Params = super::terms::NflPairParams;

pub struct NflMae {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(NflMae { params }), canonical))
}

impl Loss for NflMae {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "nfl_mae")?;
        let p = &self.params;
        Ok(((terms::nfl(z, y, p.gamma)? * p.alpha)? + (terms::mae(z, y)? * p.beta)?)?)
    }
}
