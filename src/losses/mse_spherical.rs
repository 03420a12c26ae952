//! Squared error between logits and the one-hot target — the spherical family's MSE baseline.
//!
//! ```text
//! ℓ(z, y) = Σ_k (z_k − e_yk)²
//! ```
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: de Brébisson & Vincent, arXiv:1604.08859 (S025), the MSE member of the spherical
//! family it compares against [paper-text].

use super::{classification_inputs, one_hot, Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "mse_spherical",
    family: Family::Classification,
    summary: "squared error between logits and the one-hot target (spherical-family baseline)",
    formula: "ℓ = Σ_k (z_k − e_yk)²",
    reference: "de Brébisson & Vincent, arXiv:1604.08859 (S025) [paper-text]",
    params: &[],
    props: &[Prop::Convex, Prop::NonNegative],
    build,
};

pub struct MseSpherical;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(MseSpherical), canonical))
}

impl Loss for MseSpherical {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "mse_spherical")?;
        let e = one_hot(y, z.dim(1)?, z.dtype())?;
        Ok((z - e)?.sqr()?.sum(D::Minus1)?)
    }
}
