//! One-vs-the-rest logistic loss: a binary logistic loss per class against the one-hot target.
//!
//! ```text
//! ℓ(z, y) = softplus(−z_y) + Σ_{k≠y} softplus(z_k)
//! ```
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Kanai et al., *Switching One-Versus-the-Rest Loss to Increase the Margin of Logits
//! for Adversarially Robust Deep Neural Networks*, arXiv:2207.10283 (S085) — the OVR loss it
//! builds on [paper-text; no authors' code found]. Equivalently `BCEWithLogits(z, one_hot(y))`
//! summed over classes.

use super::{classification_inputs, one_hot, softplus, Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "one_vs_rest",
    family: Family::Classification,
    summary: "one-vs-the-rest: a logistic loss per class against the one-hot target, summed",
    formula: "ℓ = softplus(−z_y) + Σ_{k≠y} softplus(z_k)",
    reference: "Kanai et al., arXiv:2207.10283 (S085) [paper-text]; = Σ_k BCEWithLogits(z_k, e_yk)",
    params: &[],
    props: &[Prop::Convex, Prop::NonNegative],
    build,
};

pub struct OneVsRest;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(OneVsRest), canonical))
}

impl Loss for OneVsRest {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "one_vs_rest")?;
        let e = one_hot(y, z.dim(1)?, z.dtype())?;
        // t = ±1 per class; softplus(−t·z) is the logistic loss.
        let t = ((e * 2.0)? - 1.0)?;
        Ok(softplus(&(t * z)?.neg()?)?.sum(D::Minus1)?)
    }
}
