//! Multi-label sparsemax loss: the sparsemax loss with the target distribution uniform over the
//! positive labels.
//!
//! ```text
//! q = y / Σ_k y_k;   S, τ as in `sparsemax_loss`
//! ℓ(z, y) = −q·z + ½·Σ_{j∈S} (z_j² − τ²) + ½·‖q‖²,     ∇_z ℓ = sparsemax(z) − q
//! ```
//! Rows without any positive label have no target distribution; they contribute 0 (the
//! reference requires a distribution). As in `sparsemax_loss`, the value is evaluated in the
//! factored form and the gradient `sparsemax(z) − q` attached analytically. Predicted labels:
//! the support of sparsemax(z); lossbench's threshold metrics use `z > 0`.
//!
//! # Shapes
//! - logits `[n, k]`, targets `[n, k]` in {0, 1} → `[n]`
//!
//! Reference: Martins & Astudillo, *From Softmax to Sparsemax*, ICML 2016, arXiv:1602.02068,
//! §3 multi-label (S034); TensorFlow contrib `sparsemax_loss` (labels as a distribution) [ref].

use super::sparsemax_loss::support_mask;
use super::{multilabel_inputs, Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "sparsemax_multilabel",
    family: Family::MultiLabel,
    summary: "multi-label sparsemax loss with q uniform over the positive labels",
    formula: "ℓ = −q·z + ½·Σ_{j∈S}(z_j² − τ²) + ½‖q‖²,  q = y/Σy",
    reference: "Martins & Astudillo, ICML 2016, arXiv:1602.02068 (S034); TensorFlow contrib sparsemax_loss [ref]",
    params: &[],
    props: &[Prop::Convex, Prop::NonNegative],
    build,
};

pub struct SparsemaxMultilabel;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(SparsemaxMultilabel), canonical))
}

impl Loss for SparsemaxMultilabel {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = multilabel_inputs(pred, target, "sparsemax_multilabel")?;
        let zd = z.detach();
        let y = y.detach();
        let positives = y.sum_keepdim(D::Minus1)?;
        let has = positives.gt(0.0)?.to_dtype(z.dtype())?; // [n, 1]
        let q = y.broadcast_div(&positives.maximum(1.0)?)?;
        let mask = support_mask(&zd)?;
        let size = mask.sum_keepdim(D::Minus1)?;
        let tau = ((&zd * &mask)?.sum_keepdim(D::Minus1)? - 1.0)?.broadcast_div(&size)?;
        let quad = ((zd.broadcast_sub(&tau)? * zd.broadcast_add(&tau)?)? * &mask)?.sum(D::Minus1)?;
        let value = (((quad * 0.5)? - (&q * &zd)?.sum(D::Minus1)?)? + (q.sqr()?.sum(D::Minus1)? * 0.5)?)?;
        let g = (zd.broadcast_sub(&tau)?.relu()? - &q)?.broadcast_mul(&has)?.detach();
        let zg = (z * g)?.sum(D::Minus1)?;
        Ok(((value * has.squeeze(1)?)? + (&zg - zg.detach())?)?)
    }
}
