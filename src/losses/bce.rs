//! Binary cross-entropy with logits, averaged over labels — the univariate multi-label baseline.
//!
//! ```text
//! ℓ(z, y) = (1/K)·Σ_k [ y_k·softplus(−z_k) + (1 − y_k)·softplus(z_k) ]
//! ```
//! # Shapes
//! - logits `[n, k]`, targets `[n, k]` in {0, 1} → `[n]`
//!
//! Reference: `torch.nn.functional.binary_cross_entropy_with_logits` (mean over labels) [ref];
//! the "univariate loss" of S030 (Wu, Li & Zhu, *Towards Understanding Generalization of
//! Macro-AUC in Multi-label Learning*, ICML 2023).

use super::{multilabel_inputs, softplus, Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "bce",
    family: Family::MultiLabel,
    summary: "binary cross-entropy with logits, mean over labels",
    formula: "ℓ = (1/K)·Σ_k [y_k·softplus(−z_k) + (1 − y_k)·softplus(z_k)]",
    reference: "torch.nn.functional.binary_cross_entropy_with_logits [ref]; univariate loss of S030",
    params: &[],
    props: &[Prop::Convex, Prop::NonNegative],
    build,
};

pub struct Bce;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(Bce), canonical))
}

/// Per-entry logistic losses `[n, k]`: softplus(−z) for positives, softplus(z) for negatives.
pub fn entry_losses(z: &Tensor, y: &Tensor) -> Result<Tensor> {
    let sign = ((y * 2.0)? - 1.0)?;
    softplus(&(sign * z)?.neg()?)
}

impl Loss for Bce {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = multilabel_inputs(pred, target, "bce")?;
        Ok(entry_losses(z, y)?.mean(D::Minus1)?)
    }
}
