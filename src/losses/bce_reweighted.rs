//! Label-wise reweighted BCE: each label's positives and negatives weighted by their counts in
//! the batch, so rare labels weigh as much as frequent ones.
//!
//! ```text
//! L = (1/K)·Σ_k [ (1/n_k⁺)·Σ_{i: y_ik=1} softplus(−z_ik) + (1/n_k⁻)·Σ_{i: y_ik=0} softplus(z_ik) ]
//! per example:  ℓ_i = (N/K)·Σ_k [ y_ik·softplus(−z_ik)/n_k⁺ + (1 − y_ik)·softplus(z_ik)/n_k⁻ ]
//! ```
//! so that the trainer's mean over the batch equals L. A side with no examples in the batch
//! (n_k⁺ = 0 or n_k⁻ = 0) contributes nothing. The counts are batch statistics (data constants,
//! no gradient); the reference weights use counts of the whole training set (it trains full
//! batch), which this matches when the batch is the whole set.
//!
//! # Shapes
//! - logits `[n, k]`, targets `[n, k]` in {0, 1} → `[n]` (depends on the whole batch)
//!
//! Reference: Wu, Li & Zhu, *Towards Understanding Generalization of Macro-AUC in Multi-label
//! Learning*, ICML 2023 (S030), the "reweighted univariate loss" (its u2 weights
//! `1/P_j`, `1/N_j` per label column); GuoqiangWoodrowWu/Macro-AUC-Theory [code, read; recon for
//! the batch form].

use super::bce::entry_losses;
use super::{multilabel_inputs, Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "bce_reweighted",
    family: Family::MultiLabel,
    summary: "label-wise reweighted BCE: positives and negatives of each label weighted 1/n⁺, 1/n⁻ (S030)",
    formula: "L = (1/K)·Σ_k [(1/n_k⁺)·Σ_pos softplus(−z_ik) + (1/n_k⁻)·Σ_neg softplus(z_ik)]",
    reference: "Wu, Li & Zhu, Generalization of Macro-AUC in Multi-label Learning, ICML 2023 (S030) [recon: batch counts]",
    params: &[],
    props: &[Prop::NonNegative],
    build,
};

pub struct BceReweighted;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(BceReweighted), canonical))
}

impl Loss for BceReweighted {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = multilabel_inputs(pred, target, "bce_reweighted")?;
        let (n, k) = (z.dim(0)?, z.dim(1)?);
        let y = y.detach();
        let n_pos = y.sum_keepdim(0)?;
        let n_neg = (n as f64 - &n_pos)?;
        // 1/count where the count is positive, else 0 (the side is absent from the batch).
        let inv = |c: &Tensor| -> Result<Tensor> { Ok(c.gt(0.0)?.where_cond(&c.maximum(1.0)?.recip()?, &c.zeros_like()?)?) };
        let weights = (y.broadcast_mul(&inv(&n_pos)?)? + (1.0 - &y)?.broadcast_mul(&inv(&n_neg)?)?)?;
        Ok(((entry_losses(z, &y)? * weights)?.sum(D::Minus1)? * (n as f64 / k as f64))?)
    }
}
