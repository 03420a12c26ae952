//! Z-loss of the spherical family: a sigmoid-shaped loss of the standardised target logit.
//!
//! ```text
//! μ = mean_k z_k,  σ = sqrt(mean_k (z_k − μ)²),  ẑ = (z − μ)/σ
//! ℓ(z, y) = (1/a)·softplus(a·(b − ẑ_y))
//! ```
//! Shift- and scale-invariant in `z`. Only the target's standardised logit enters, so the loss
//! depends on the other logits only through μ and σ (the property that lets the spherical
//! family skip the full softmax). σ is computed as `sqrt(var + 1e-12)` so that tied logits
//! (σ = 0) give a finite value and gradient.
//!
//! Naming: not PaLM's "z-loss" regulariser `(log Σ exp z)²`.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: de Brébisson & Vincent, *The Z-loss: a shift and scale invariant classification
//! loss belonging to the Spherical Family*, arXiv:1604.08859 (S025) [paper-text]. Defaults
//! a = 1, b = 5 are ours (the paper tunes them).

use super::{classification_inputs, log_p_y, softplus, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "z_loss_spherical",
    family: Family::Classification,
    summary: "Z-loss (spherical family): softplus of the standardised target logit",
    formula: "ℓ = softplus(a·(b − ẑ_y))/a,  ẑ = (z − mean z)/std z",
    reference: "de Brébisson & Vincent, The Z-loss, arXiv:1604.08859 (S025) [paper-text]",
    params: &[
        ParamDoc { name: "a", meaning: "sharpness a", range: "0 < a ≤ 100", default: "1.0" },
        ParamDoc { name: "b", meaning: "location b (standardised margin aimed for)", range: "−100 ≤ b ≤ 100", default: "5.0" },
    ],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub a: f64,
    pub b: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { a: 1.0, b: 5.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("a", self.a, 1e-9, 100.0)?;
        check_range("b", self.b, -100.0, 100.0)
    }
}

pub struct ZLossSpherical {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(ZLossSpherical { params }), canonical))
}

impl Loss for ZLossSpherical {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "z_loss_spherical")?;
        let mu = z.mean_keepdim(D::Minus1)?;
        let centred = z.broadcast_sub(&mu)?;
        let sigma = (centred.sqr()?.mean_keepdim(D::Minus1)? + 1e-12)?.sqrt()?;
        let standardised = centred.broadcast_div(&sigma)?;
        let zy = log_p_y(&standardised, y)?;
        let (a, b) = (self.params.a, self.params.b);
        Ok((softplus(&((b - zy)? * a)?)? / a)?)
    }
}
